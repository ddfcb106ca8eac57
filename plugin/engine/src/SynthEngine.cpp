#include "timbrel/SynthEngine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

namespace timbrel
{
namespace
{
constexpr std::array<const char*, 3> kSpectralNames { "centroid", "bandwidth", "flatness" };

float dbToGain (float db) { return std::pow (10.0f, db / 20.0f); }
} // namespace

SynthEngine::SynthEngine (std::unique_ptr<Model> m) : model (std::move (m)) {}
SynthEngine::~SynthEngine() { stopWorker(); }

void SynthEngine::stopWorker()
{
    if (worker.joinable())
    {
        running.store (false);
        workAvailable.release();
        worker.join();
    }
}

SynthEngine::HopRows SynthEngine::slot (int index) noexcept
{
    const auto i = static_cast<size_t> (index), rows = static_cast<size_t> (batch);
    HopRows r;
    r.latents = latentSlab.data() + i * rows * static_cast<size_t> (latents);
    r.descriptors = descriptorSlab.data() + i * rows * static_cast<size_t> (descriptors);
    r.shifts = shiftSlab.data() + i * rows * static_cast<size_t> (descriptors);
    r.gains = gainSlab.data() + i * rows;
    r.fromNatural = naturalSlab.get() + i * static_cast<size_t> (std::max (1, descriptors));
    r.decode = decodeFlags.data() + i;
    r.outputGain = outputGains.data() + i;
    return r;
}

std::string SynthEngine::prepare (const SynthConfig& newConfig)
{
    stopWorker();
    active = false;
    config = newConfig;
    if (model == nullptr)
        return "no model";
    const auto& info = model->info();
    if (info.kind == ModelKind::nnTilde)
        return "an nn~ module has no descriptors: Timbrel Synth plays Timbrel models";
    const auto pitch = info.descriptorIndex ("pitch"), loudness = info.descriptorIndex ("loudness");
    if (! pitch || ! loudness)
        return "the model has no pitch or loudness descriptor: it cannot be played from notes";
    pitchIndex = *pitch;
    loudnessIndex = *loudness;
    hop = info.hopLength;
    latents = info.latentSize;
    descriptors = info.numDescriptors();
    pitchMin = info.descriptorMin[static_cast<size_t> (pitchIndex)];
    pitchMax = info.descriptorMax[static_cast<size_t> (pitchIndex)];
    loudnessMin = info.descriptorMin[static_cast<size_t> (loudnessIndex)];
    loudnessMax = info.descriptorMax[static_cast<size_t> (loudnessIndex)];

    noNaturalReason = info.hasNatural ? "" : "the model has no natural(): its spectral descriptors play Fixed values";
    for (size_t s = 0; s < kSpectralNames.size(); ++s)
    {
        const auto index = info.descriptorIndex (kSpectralNames[s]);
        spectralIndex[s] = index ? *index : -1;
        if (index)
        {
            const float low = info.descriptorMin[static_cast<size_t> (*index)], high = info.descriptorMax[static_cast<size_t> (*index)];
            const bool octaves = findVocabularyEntry (kSpectralNames[s])->shiftKind == ShiftKind::octaves;
            spectralMiddle[s] = octaves ? std::sqrt (std::max (low, 1.0f) * std::max (high, 1.0f)) : 0.5f * (low + high);
        }
    }

    descriptorMiddles.resize (static_cast<size_t> (descriptors));
    for (size_t d = 0; d < descriptorMiddles.size(); ++d)
        descriptorMiddles[d] = 0.5f * (info.descriptorMin[d] + info.descriptorMax[d]);

    defaultLatent.assign (static_cast<size_t> (latents), 0.0f);
    if (! info.timbreLatents.empty())
        std::copy_n (info.timbreLatents.begin(), latents, defaultLatent.begin());
    else if (! info.latentMean.empty())
        defaultLatent = info.latentMean;

    const float hopSeconds = static_cast<float> (hop) / static_cast<float> (info.sampleRate);
    voices.prepare (config.voices, loudnessMax, hopSeconds);
    batch = voices.polyphony();
    const auto rows = static_cast<size_t> (batch), slots = static_cast<size_t> (kSlots);
    latentSlab.assign (slots * rows * static_cast<size_t> (latents), 0.0f);
    descriptorSlab.assign (slots * rows * static_cast<size_t> (descriptors), 0.0f);
    shiftSlab.assign (slots * rows * static_cast<size_t> (descriptors), 0.0f);
    gainSlab.assign (slots * rows, 0.0f);
    naturalSlab = std::make_unique<bool[]> (slots * static_cast<size_t> (std::max (1, descriptors)));
    decodeFlags.assign (slots, 0);
    outputGains.assign (slots, 1.0f);
    decoded.assign (rows * static_cast<size_t> (hop), 0.0f);
    mixed.assign (static_cast<size_t> (hop), 0.0f);
    previousGains.assign (rows, 0.0f);

    for (auto* r : { &resampler, &counter })
        if (auto error = r->prepare (info.sampleRate, config.sampleRate, 1, hop); ! error.empty())
            return error;
    const int perHop = resampler.maxOutputFor (hop) + 1;
    fifo.assign (static_cast<size_t> (perHop * 2 + config.maxBlockSize + 1), 0.0f);
    counterIn.assign (static_cast<size_t> (hop), 0.0f);
    counterOut.assign (static_cast<size_t> (perHop), 0.0f);
    workerOut.assign (static_cast<size_t> (perHop), 0.0f);

    // The model's delay at the host rate, plus the resampler's lag (measured once); Threaded,
    // the worker gets a hop and a block of time for each hop.
    const double ratio = config.sampleRate / info.sampleRate;
    threadedExtra = config.threaded ? perHop + config.maxBlockSize : 0;
    latency = static_cast<int> (std::lround (info.latencySamples * ratio)) + measureResamplerLag() + threadedExtra;
    // Requests in flight stay below the slots, so the callback never refills a slot the worker reads.
    requests.prepare (kSlots - 2);
    output.prepare (1, threadedExtra + (kSlots + 2) * perHop + config.maxBlockSize);

    // Warm-up at the voice count: the JIT's first calls are slow and the tensor pool fills.
    const auto warm = slot (0);
    for (int call = 0; call < 8; ++call)
    {
        for (int v = 0; v < batch; ++v)
        {
            std::copy (defaultLatent.begin(), defaultLatent.end(), warm.latents + v * latents);
            std::copy (descriptorMiddles.begin(), descriptorMiddles.end(), warm.descriptors + v * descriptors);
        }
        for (int d = 0; d < descriptors; ++d)
            warm.fromNatural[d] = info.hasNatural && call % 2 == 0 && d != pitchIndex && d != loudnessIndex;
        if (! decodeBatch (warm))
            return "the model failed while warming up for " + std::to_string (batch) + " voices: " + model->lastFailure();
    }
    reset();
    active = true;
    if (config.threaded)
    {
        running.store (true);
        worker = std::thread ([this] { workerLoop(); });
    }
    return {};
}

bool SynthEngine::decodeBatch (const HopRows& rows) noexcept
{
    Model::DecodeRequest request;
    request.batch = batch;
    request.latents = rows.latents;
    request.descriptors = rows.descriptors;
    request.shifts = rows.shifts;
    request.fromNatural = rows.fromNatural;
    request.output = decoded.data();
    return model->decodeHops (request);
}

void SynthEngine::workerLoop()
{
    Model::configureCurrentThread();
    while (true)
    {
        workAvailable.acquire();
        if (! running.load())
            return;
        int index = 0;
        while (requests.pop (index))
        {
            if (index == kResetRequest)
            {
                resetStreams();
                decodedHops.fetch_add (1, std::memory_order_release);
                continue;
            }
            const int produced = decodeHop (slot (index), workerOut.data(), static_cast<int> (workerOut.size()));
            const float* from[1] = { workerOut.data() };
            output.write (from, produced); // sized for every hop in flight
            decodedHops.fetch_add (1, std::memory_order_release);
        }
    }
}

void SynthEngine::waitForWorker() noexcept
{
    // Offline or stopped only: nobody waits on a real-time deadline.
    while (worker.joinable() && ! workerIdle())
        std::this_thread::sleep_for (std::chrono::microseconds (20));
}

int SynthEngine::measureResamplerLag()
{
    if (resampler.isPassThrough())
        return 0;
    std::vector<float> in (static_cast<size_t> (hop), 0.0f), out (static_cast<size_t> (resampler.maxOutputFor (hop) + 1));
    in[0] = 1.0f;
    int produced = 0, peakAt = 0;
    float peak = 0.0f;
    for (int call = 0; call < 64; ++call)
    {
        const float* inPtr[1] = { in.data() };
        float* outPtr[1] = { out.data() };
        const int n = resampler.process (inPtr, hop, outPtr, static_cast<int> (out.size()));
        for (int i = 0; i < n; ++i)
            if (std::abs (out[static_cast<size_t> (i)]) > peak)
            {
                peak = std::abs (out[static_cast<size_t> (i)]);
                peakAt = produced + i;
            }
        produced += n;
        in[0] = 0.0f;
    }
    resampler.reset();
    return peakAt;
}

void SynthEngine::reset()
{
    waitForWorker();
    resetStreams();
    resetSchedule();
    resetRequested.store (false);
}

void SynthEngine::resetStreams() noexcept
{
    if (model != nullptr)
        model->reset();
    resampler.reset();
    std::fill (previousGains.begin(), previousGains.end(), 0.0f);
}

void SynthEngine::resetSchedule() noexcept
{
    voices.reset();
    frames = {};
    counter.reset();
    fifoCount = 0;
    lastHopSilent = true;
    requests.clear();
    output.clear();
    pendingSamples = 0;
    leadIn = threadedExtra;
    debt = missing = 0;
}

void SynthEngine::apply (const SynthEvent& e) noexcept
{
    using Kind = SynthEvent::Kind;
    switch (e.kind)
    {
        case Kind::noteOn:
            if (e.value > 0.0f && (static_cast<float> (e.number) < pitchMin || static_cast<float> (e.number) > pitchMax))
                ++clamped;
            voices.noteOn (e.channel, e.number, e.value);
            break;
        case Kind::noteOff: voices.noteOff (e.channel, e.number); break;
        case Kind::pitchBend: voices.pitchBend (e.channel, e.value); break;
        case Kind::channelPressure: voices.pressure (e.channel, e.value); break;
        case Kind::polyPressure: voices.polyPressure (e.channel, e.number, e.value); break;
        case Kind::controller:
            switch (e.number)
            {
                case 2: voices.breath (e.channel, e.value); break;
                case 11: voices.expression (e.channel, e.value); break;
                case 64: voices.sustainPedal (e.channel, e.value >= 0.5f); break;
                case 74: voices.slide (e.channel, e.value); break;
                case 120: voices.allSoundOff(); break;
                case 123: voices.allNotesOff(); break;
                default: break;
            }
            break;
    }
}

void SynthEngine::formHop (const HopRows& rows, const SynthControls& controls) noexcept
{
    voices.advance (frames);
    bool anySounding = false;
    for (int v = 0; v < batch; ++v)
        anySounding = anySounding || frames[static_cast<size_t> (v)].sounding;
    *rows.decode = (anySounding || ! lastHopSilent) ? 1 : 0;
    lastHopSilent = ! anySounding;
    if (*rows.decode == 0)
        return;

    *rows.outputGain = dbToGain (controls.outputGainDb);
    const float* latent = controls.latent != nullptr ? controls.latent : defaultLatent.data();
    for (int d = 0; d < descriptors; ++d)
        rows.fromNatural[d] = false;
    for (size_t s = 0; s < spectralIndex.size(); ++s)
        if (spectralIndex[s] >= 0)
            rows.fromNatural[spectralIndex[s]] = controls.spectralNatural[s] && noNaturalReason.empty();
    for (int v = 0; v < batch; ++v)
    {
        const auto& frame = frames[static_cast<size_t> (v)];
        std::copy_n (latent, latents, rows.latents + v * latents);
        float* row = rows.descriptors + v * descriptors;
        float* shift = rows.shifts + v * descriptors;
        std::copy (descriptorMiddles.begin(), descriptorMiddles.end(), row);
        std::fill_n (shift, descriptors, 0.0f);
        // Outside the model's range a note is clamped into it (the editor says so); below its
        // loudness range a voice is made quieter by gain instead, so a release fades to silence.
        row[pitchIndex] = std::clamp (frame.pitch + controls.pitchShift, pitchMin, pitchMax);
        const float loudness = frame.loudness + controls.loudnessShift;
        row[loudnessIndex] = std::clamp (loudness, loudnessMin, loudnessMax);
        rows.gains[v] = frame.sounding ? dbToGain (std::min (0.0f, loudness - loudnessMin)) : 0.0f;
        for (size_t s = 0; s < spectralIndex.size(); ++s)
        {
            const int index = spectralIndex[s];
            if (index < 0)
                continue;
            // Fixed (or standing in for Natural): the fader's value, or the middle of the range.
            row[index] = controls.spectralFixed[s] != 0.0f ? controls.spectralFixed[s] : spectralMiddle[s];
            shift[index] = controls.spectralShift[s] + (s == 0 ? frame.brightness : 0.0f);
        }
    }
}

int SynthEngine::decodeHop (const HopRows& rows, float* out, int maxOut) noexcept
{
    std::fill (mixed.begin(), mixed.end(), 0.0f);
    if (*rows.decode != 0)
    {
        if (decodeBatch (rows))
        {
            for (int v = 0; v < batch; ++v)
            {
                const float from = previousGains[static_cast<size_t> (v)], to = rows.gains[v];
                if (from == 0.0f && to == 0.0f)
                    continue;
                const float* y = decoded.data() + v * hop;
                for (int i = 0; i < hop; ++i)
                {
                    const float g = from + (to - from) * static_cast<float> (i + 1) / static_cast<float> (hop);
                    const float sample = std::isfinite (y[i]) ? y[i] : 0.0f;
                    mixed[static_cast<size_t> (i)] += g * *rows.outputGain * sample;
                }
            }
        }
        else
            failures.fetch_add (1, std::memory_order_relaxed);
        std::copy_n (rows.gains, batch, previousGains.begin());
    }
    const float* in[1] = { mixed.data() };
    float* to[1] = { out };
    return resampler.process (in, hop, to, maxOut);
}

void SynthEngine::process (float* const* out, int numChannels, int numSamples, const SynthEvent* events, int numEvents,
                           const SynthControls& controls) noexcept
{
    if (! active)
    {
        for (int ch = 0; ch < numChannels; ++ch)
            std::fill_n (out[ch], numSamples, 0.0f);
        return;
    }
    if (config.threaded)
        processThreaded (out, numChannels, numSamples, events, numEvents, controls);
    else
        processInline (out, numChannels, numSamples, events, numEvents, controls);
}

void SynthEngine::processInline (float* const* out, int numChannels, int numSamples, const SynthEvent* events,
                                 int numEvents, const SynthControls& controls) noexcept
{
    if (resetRequested.exchange (false, std::memory_order_acq_rel))
        reset(); // no worker: nothing to wait for
    int done = 0, next = 0;
    while (done < numSamples)
    {
        // Events due by now shape the next hop made.
        while (next < numEvents && events[next].sampleOffset <= done)
            apply (events[next++]);
        if (fifoCount == 0)
        {
            const auto rows = slot (0);
            formHop (rows, controls);
            fifoCount += decodeHop (rows, fifo.data() + fifoCount, static_cast<int> (fifo.size()) - fifoCount);
        }
        int n = std::min ({ numSamples - done, fifoCount });
        if (next < numEvents)
            n = std::min (n, std::max (1, events[next].sampleOffset - done));
        for (int ch = 0; ch < numChannels; ++ch)
            std::copy_n (fifo.data(), n, out[ch] + done);
        std::memmove (fifo.data(), fifo.data() + n, sizeof (float) * static_cast<size_t> (fifoCount - n));
        fifoCount -= n;
        done += n;
    }
    while (next < numEvents)
        apply (events[next++]);
}

void SynthEngine::processThreaded (float* const* out, int numChannels, int numSamples, const SynthEvent* events,
                                   int numEvents, const SynthControls& controls) noexcept
{
    if (resetRequested.load (std::memory_order_acquire))
    {
        // The worker may be mid-hop: silence until it is idle, then the rings and voices start
        // afresh here and the model's streams on the worker, before any new hop.
        if (nonRealtime.load (std::memory_order_relaxed))
            waitForWorker();
        if (! workerIdle())
        {
            for (int ch = 0; ch < numChannels; ++ch)
                std::fill_n (out[ch], numSamples, 0.0f);
            return;
        }
        resetRequested.store (false, std::memory_order_relaxed);
        resetSchedule();
        if (requests.push (kResetRequest))
        {
            requestedHops.fetch_add (1, std::memory_order_release);
            workAvailable.release();
        }
    }
    // The hops are formed on the same schedule as Inline (a hop when the last one's samples have
    // all been played), so events shape the same hops; their audio plays threadedExtra later.
    // A block longer than prepared runs in prepared-size chunks, so the rings never overflow.
    int next = 0;
    for (int chunkStart = 0; chunkStart < numSamples; chunkStart += config.maxBlockSize)
    {
        const int chunkEnd = std::min (numSamples, chunkStart + config.maxBlockSize);
        for (int done = chunkStart; done < chunkEnd;)
        {
            while (next < numEvents && events[next].sampleOffset <= done)
                apply (events[next++]);
            if (pendingSamples == 0)
                requestHop (controls);
            int n = static_cast<int> (std::min<long> (chunkEnd - done, pendingSamples));
            if (next < numEvents)
                n = std::min (n, std::max (1, events[next].sampleOffset - done));
            pendingSamples -= n;
            done += n;
        }
        float* chunk[2] = { out[0] + chunkStart, numChannels > 1 ? out[1] + chunkStart : nullptr };
        readOutput (chunk, std::min (numChannels, 2), chunkEnd - chunkStart);
    }
    while (next < numEvents)
        apply (events[next++]);
}

void SynthEngine::requestHop (const SynthControls& controls) noexcept
{
    formHop (slot (nextSlot), controls);
    const bool queued = requests.push (nextSlot);
    if (queued)
    {
        nextSlot = (nextSlot + 1) % kSlots;
        requestedHops.fetch_add (1, std::memory_order_release);
        workAvailable.release();
    }
    const float* in[1] = { counterIn.data() };
    float* to[1] = { counterOut.data() };
    const int made = counter.process (in, hop, to, static_cast<int> (counterOut.size()));
    pendingSamples += made;
    if (! queued)
        missing += made; // the worker is kSlots hops behind: this hop is lost, it plays as silence
}

void SynthEngine::readOutput (float* const* out, int numChannels, int numSamples) noexcept
{
    if (nonRealtime.load (std::memory_order_relaxed))
        waitForWorker();
    // The lead-in's silence, then the worker's audio; what it has not made yet plays as silence
    // and is skipped when it comes.
    float* mono = out[0];
    const int lead = static_cast<int> (std::min<long> (leadIn, numSamples));
    std::fill_n (mono, lead, 0.0f);
    leadIn -= lead;
    if (debt > 0)
    {
        const int skip = static_cast<int> (std::min<long> (debt, output.availableToRead()));
        output.read (nullptr, skip);
        debt -= skip;
    }
    const int ready = std::min (numSamples - lead, output.availableToRead());
    float* to[1] = { mono + lead };
    output.read (to, ready);
    if (lead + ready < numSamples)
    {
        std::fill (mono + lead + ready, mono + numSamples, 0.0f);
        long shortfall = numSamples - lead - ready;
        const long lost = std::min (shortfall, missing);
        missing -= lost;
        shortfall -= lost;
        if (shortfall > 0)
        {
            debt += shortfall;
            underrunCount.fetch_add (1, std::memory_order_relaxed);
        }
    }
    for (int ch = 1; ch < numChannels; ++ch)
        std::copy_n (mono, numSamples, out[ch]);
}
} // namespace timbrel
