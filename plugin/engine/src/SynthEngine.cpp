#include "timbrel/SynthEngine.h"

#include <algorithm>
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
SynthEngine::~SynthEngine() = default;

std::string SynthEngine::prepare (const SynthConfig& newConfig)
{
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

    fromNatural = std::make_unique<bool[]> (static_cast<size_t> (std::max (1, descriptors)));
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
    const auto rows = static_cast<size_t> (batch);
    latentRows.assign (rows * static_cast<size_t> (latents), 0.0f);
    descriptorRows.assign (rows * static_cast<size_t> (descriptors), 0.0f);
    shiftRows.assign (rows * static_cast<size_t> (descriptors), 0.0f);
    decoded.assign (rows * static_cast<size_t> (hop), 0.0f);
    mixed.assign (static_cast<size_t> (hop), 0.0f);
    gains.assign (rows, 0.0f);
    previousGains.assign (rows, 0.0f);

    if (auto error = resampler.prepare (info.sampleRate, config.sampleRate, 1, hop); ! error.empty())
        return error;
    const int perHop = resampler.maxOutputFor (hop) + 1;
    fifo.assign (static_cast<size_t> (perHop * 2 + config.maxBlockSize + 1), 0.0f);

    // The model's delay at the host rate, plus the resampler's lag (measured once).
    const double ratio = config.sampleRate / info.sampleRate;
    latency = static_cast<int> (std::lround (info.latencySamples * ratio)) + measureResamplerLag();

    // Warm-up at the voice count: the JIT's first calls are slow and the tensor pool fills.
    for (int call = 0; call < 8; ++call)
    {
        for (int v = 0; v < batch; ++v)
        {
            std::copy (defaultLatent.begin(), defaultLatent.end(), latentRows.begin() + v * latents);
            std::copy (descriptorMiddles.begin(), descriptorMiddles.end(), descriptorRows.begin() + v * descriptors);
        }
        for (int d = 0; d < descriptors; ++d)
            fromNatural[static_cast<size_t> (d)] = info.hasNatural && call % 2 == 0 && d != pitchIndex && d != loudnessIndex;
        if (! decodeBatch())
            return "the model failed while warming up for " + std::to_string (batch) + " voices: " + model->lastFailure();
    }
    reset();
    active = true;
    return {};
}

bool SynthEngine::decodeBatch() noexcept
{
    Model::DecodeRequest request;
    request.batch = batch;
    request.latents = latentRows.data();
    request.descriptors = descriptorRows.data();
    request.shifts = shiftRows.data();
    request.fromNatural = fromNatural.get();
    request.output = decoded.data();
    return model->decodeHops (request);
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
    voices.reset();
    frames = {};
    if (model != nullptr)
        model->reset();
    resampler.reset();
    std::fill (previousGains.begin(), previousGains.end(), 0.0f);
    fifoCount = 0;
    lastHopSilent = true;
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

void SynthEngine::renderHop (const SynthControls& controls) noexcept
{
    voices.advance (frames);
    bool anySounding = false;
    for (int v = 0; v < batch; ++v)
        anySounding = anySounding || frames[static_cast<size_t> (v)].sounding;

    std::fill (mixed.begin(), mixed.end(), 0.0f);
    if (anySounding || ! lastHopSilent)
    {
        const float* latent = controls.latent != nullptr ? controls.latent : defaultLatent.data();
        for (int d = 0; d < descriptors; ++d)
            fromNatural[static_cast<size_t> (d)] = false;
        for (size_t s = 0; s < spectralIndex.size(); ++s)
            if (spectralIndex[s] >= 0)
                fromNatural[static_cast<size_t> (spectralIndex[s])] = controls.spectralNatural[s] && noNaturalReason.empty();
        for (int v = 0; v < batch; ++v)
        {
            const auto& frame = frames[static_cast<size_t> (v)];
            std::copy_n (latent, latents, latentRows.begin() + v * latents);
            float* row = descriptorRows.data() + v * descriptors;
            float* shift = shiftRows.data() + v * descriptors;
            std::copy (descriptorMiddles.begin(), descriptorMiddles.end(), row);
            std::fill_n (shift, descriptors, 0.0f);
            // Outside the model's range a note is clamped into it (the editor says so); below its
            // loudness range a voice is made quieter by gain instead, so a release fades to silence.
            row[pitchIndex] = std::clamp (frame.pitch + controls.pitchShift, pitchMin, pitchMax);
            const float loudness = frame.loudness + controls.loudnessShift;
            row[loudnessIndex] = std::clamp (loudness, loudnessMin, loudnessMax);
            gains[static_cast<size_t> (v)] = frame.sounding ? dbToGain (std::min (0.0f, loudness - loudnessMin)) : 0.0f;
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
        if (decodeBatch())
        {
            const float outputGain = dbToGain (controls.outputGainDb);
            for (int v = 0; v < batch; ++v)
            {
                const float from = previousGains[static_cast<size_t> (v)], to = gains[static_cast<size_t> (v)];
                if (from == 0.0f && to == 0.0f)
                    continue;
                const float* y = decoded.data() + v * hop;
                for (int i = 0; i < hop; ++i)
                {
                    const float g = from + (to - from) * static_cast<float> (i + 1) / static_cast<float> (hop);
                    const float sample = std::isfinite (y[i]) ? y[i] : 0.0f;
                    mixed[static_cast<size_t> (i)] += g * outputGain * sample;
                }
            }
        }
        else
            ++failures;
        std::copy (gains.begin(), gains.end(), previousGains.begin());
    }
    lastHopSilent = ! anySounding;

    const float* in[1] = { mixed.data() };
    float* out[1] = { fifo.data() + fifoCount };
    fifoCount += resampler.process (in, hop, out, static_cast<int> (fifo.size()) - fifoCount);
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
    int done = 0, next = 0;
    while (done < numSamples)
    {
        // Events due by now shape the next hop made.
        while (next < numEvents && events[next].sampleOffset <= done)
            apply (events[next++]);
        if (fifoCount == 0)
            renderHop (controls);
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
} // namespace timbrel
