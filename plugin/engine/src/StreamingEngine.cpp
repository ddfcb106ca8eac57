#include "timbrel/StreamingEngine.h"

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>

namespace timbrel
{
namespace
{
constexpr double kUnderrunFadeSeconds = 64.0 / 44100.0; // an underrun fades wet to dry this fast (1.5 ms)
constexpr double kInputRingSeconds = 2.0; // the worker may fall this far behind before the engine restarts it
// One block record per host block: a ring that holds the blocks of kInputRingSeconds at this
// block size keeps the whole tolerance; smaller blocks get proportionally less (0.125 s at a
// block of 1 sample). Records are a few hundred bytes each, so holding 2 s of 1-sample blocks
// would take tens of megabytes per engine for a block size no host uses for long.
constexpr int kSmallestBlockWithFullTolerance = 16;

// NaN, Inf and subnormals never reach the model or the resamplers.
inline float clean (float v) { return (std::isfinite (v) && std::abs (v) >= FLT_MIN) ? v : 0.0f; }
} // namespace

StreamingEngine::StreamingEngine (std::unique_ptr<Model> m) : model (std::move (m)) {}

StreamingEngine::~StreamingEngine() { stopWorker(); }

std::string StreamingEngine::prepare (const EngineConfig& c)
{
    stopWorker();
    engineConfig = c;
    preparedOnce = true;
    active = false;
    buffersReady = false;
    if (c.numChannels < 1 || c.numChannels > 2)
        return "only mono and stereo are supported, got " + std::to_string (c.numChannels) + " channels";
    if (c.sidechainChannels < 0 || c.sidechainChannels > 2)
        return "the sidechain must be mono or stereo, got " + std::to_string (c.sidechainChannels) + " channels";

    batch = (c.numChannels == 2 && c.stereo == StereoMode::dualMono) ? 2 : 1;
    chunkSize = std::max (1, c.maxBlockSize);
    useWorker = c.mode == ProcessingMode::threaded;

    stream = std::make_unique<ModelStream> (*model);
    const auto streamError = stream->prepare ({ c.sampleRate, chunkSize, batch, c.sidechainChannels > 0 });

    // Buffering: output sample n is ready once input n + lag is in; +1 because the block that
    // completes a hop is played back before the hop is computed.
    const int hopHost = streamError.empty() ? stream->hopInHostSamples() : model->info().hopLength;
    int buffering = streamError.empty() ? stream->bufferingLag() + 1 : hopHost;
    if (useWorker) // the worker gets a hop (or a block) of time, and the chosen margin beyond it
        buffering += std::max (hopHost, chunkSize) + (std::clamp (c.workerMarginHops, 1, kMaxWorkerMarginHops) - 1) * hopHost;
    primeSamples = buffering;
    latency = buffering + (streamError.empty() ? stream->modelLatencyInHostSamples (c.modelLatencyOverride) : 0);

    const size_t chunk = static_cast<size_t> (chunkSize);
    dryDelay.prepare (c.numChannels, latency);
    auto assign = [chunk] (std::vector<float>& data, std::vector<float*>& ptrs, int channels) {
        data.assign (static_cast<size_t> (channels) * chunk, 0.0f);
        ptrs.resize (static_cast<size_t> (channels));
        for (size_t ch = 0; ch < ptrs.size(); ++ch)
            ptrs[ch] = data.data() + ch * chunk;
    };
    assign (dryScratch, dryPtrs, c.numChannels);
    assign (batchIn, batchInPtrs, batch);
    assign (batchSide, batchSidePtrs, batch);
    assign (batchOut, batchOutPtrs, batch);
    assign (workerMain, workerMainPtrs, batch);
    assign (workerSide, workerSidePtrs, batch);
    wetWeights.assign (chunk, 1.0f);

    const int inputCapacity = static_cast<int> (kInputRingSeconds * c.sampleRate) + chunkSize;
    inputRing.prepare (batch, useWorker ? inputCapacity : 1);
    sidechainRing.prepare (batch, useWorker && c.sidechainChannels > 0 ? inputCapacity : 1);
    recordRing.prepare (useWorker ? inputCapacity / kSmallestBlockWithFullTolerance + 64 : 1); // +64: restart records
    underrunFade = std::max (1, static_cast<int> (std::lround (kUnderrunFadeSeconds * c.sampleRate)));
    // Threaded: a worker that fell behind (up to the input ring's length) hands its late output
    // back in one go, and takeOutput skips it as underrun debt; the ring must hold all of it, or
    // what does not fit is lost and the output stays misaligned.
    outputRing.prepare (batch, buffering + 4 * (chunkSize + hopHost) + 1024 + (useWorker ? inputCapacity : 0));
    // The analysis of every hop between its input and its output (the latency), and of a worker
    // that fell behind.
    trackRing.prepare ((latency + 4 * chunkSize + (useWorker ? inputCapacity : 0)) / std::max (1, hopHost) + 64);
    stream->setTrack (&trackRing);
    tracked.count = 0;
    buffersReady = true;

    // From here on a failure still plays the dry signal delayed by the reported latency.
    if (! streamError.empty())
        return streamError;
    if (auto error = model->warmUp (batch, 8, stream->maxFramesPerCall()); ! error.empty())
        return error;
    active = true;
    reset();
    if (useWorker)
    {
        running.store (true);
        worker = std::thread ([this] { workerLoop(); });
    }
    return {};
}

void StreamingEngine::stopWorker()
{
    if (worker.joinable())
    {
        running.store (false);
        workAvailable.release();
        worker.join();
    }
}

void StreamingEngine::workerLoop()
{
    Model::configureCurrentThread();
    while (true)
    {
        workAvailable.acquire();
        while (workerHeld.load (std::memory_order_acquire) && running.load())
            std::this_thread::sleep_for (std::chrono::microseconds (100));
        if (! running.load())
            return;
        BlockRecord record;
        while (recordRing.pop (record))
        {
            if (record.restart)
            {
                // After a stall or a reset the stream starts afresh; the callback plays the
                // lead-in dry, so nothing is written for it.
                stream->reset();
                processedBlocks.fetch_add (1, std::memory_order_release);
                continue;
            }
            inputRing.read (workerMainPtrs.data(), record.numSamples);
            const bool side = engineConfig.sidechainChannels > 0;
            if (side)
                sidechainRing.read (workerSidePtrs.data(), record.numSamples);
            stream->pump (workerMainPtrs.data(), side ? workerSidePtrs.data() : nullptr, record.numSamples, record.controls,
                          outputRing);
            processedBlocks.fetch_add (1, std::memory_order_release);
        }
    }
}

void StreamingEngine::waitForWorker() noexcept
{
    // Offline or stopped only: the host is not waiting on a real-time deadline.
    while (worker.joinable() && processedBlocks.load (std::memory_order_acquire) < pushedBlocks.load (std::memory_order_relaxed))
        std::this_thread::sleep_for (std::chrono::microseconds (20));
}

void StreamingEngine::beginRequestedReset() noexcept
{
    previousMix = blockControls.mix; // a new render starts at its mix, no ramp
    if (! active)
    {
        dryDelay.reset();
        return;
    }
    if (! useWorker || nonRealtime.load (std::memory_order_relaxed))
    {
        reset(); // Inline runs the model here anyway; offline may wait for the worker
        return;
    }
    // Real time, Threaded: the worker may be mid-hop. Clear what is ours now, restart its
    // stream once it is idle (processChunk).
    dryDelay.reset();
    debt = 0;
    dryLeadIn = 0;
    stalled.store (false, std::memory_order_relaxed);
    restartPending = true;
}

void StreamingEngine::reset()
{
    if (! buffersReady)
        return;
    waitForWorker();
    if (stream != nullptr && active)
        stream->reset();
    inputRing.clear();
    sidechainRing.clear();
    recordRing.clear();
    outputRing.clear();
    pushedBlocks.store (0);
    processedBlocks.store (0);
    dryDelay.reset();
    debt = 0;
    dryLeadIn = primeSamples; // silence: the dry delay was just cleared
    restartPending = false;
    trackRing.clear();
    trackPosition = 0;
    trackStream = stream != nullptr ? stream->streamNumber() : 0;
    wetGain = 1.0f;
    stalled.store (false);
    resetRequested.store (false);
}

const ModelInfo& StreamingEngine::info() const
{
    static const ModelInfo none {};
    return model != nullptr ? model->info() : none;
}

bool StreamingEngine::restartWorkerStream (float wetGainAfter) noexcept
{
    // Idle first, then drain: once idle, everything the worker wrote for the old stream is in
    // the ring, and nothing more will come.
    if (! workerIdle())
        return false;
    if (! recordRing.push ({ 0, blockControls, true }))
        return false;
    outputRing.read (nullptr, outputRing.availableToRead());
    debt = 0;
    dryLeadIn = primeSamples;
    wetGain = wetGainAfter;
    ++trackStream; // the worker's stream->reset() on the restart record counts the same
    trackPosition = 0;
    pushedBlocks.fetch_add (1, std::memory_order_relaxed);
    workAvailable.release();
    return true;
}

int StreamingEngine::takeOutput (int n) noexcept
{
    // The lead-in after a reset or restart: no model output exists for it yet, play dry.
    const int lead = static_cast<int> (std::min<long> (dryLeadIn, n));
    dryLeadIn -= lead;
    for (size_t b = 0; b < batchOutPtrs.size(); ++b)
        std::fill_n (batchOutPtrs[b], lead, 0.0f);
    std::fill_n (wetWeights.begin(), lead, 0.0f);

    int available = outputRing.availableToRead();
    if (debt > 0)
    {
        // Samples that were replaced by dry during an underrun arrive late: skip them.
        const int skip = static_cast<int> (std::min<long> (debt, available));
        outputRing.read (nullptr, skip);
        debt -= skip;
        available -= skip;
    }
    const int k = lead + std::min (available, n - lead);
    float* afterLead[2] = { nullptr, nullptr };
    for (size_t b = 0; b < batchOutPtrs.size(); ++b)
        afterLead[b] = batchOutPtrs[b] + lead;
    outputRing.read (afterLead, k - lead);

    const float step = 1.0f / static_cast<float> (underrunFade);
    for (int i = lead; i < k; ++i)
        wetWeights[static_cast<size_t> (i)] = wetGain = std::min (1.0f, wetGain + step);
    if (k < n)
    {
        // Underrun: fade the last wet samples we have into the dry signal, then play dry.
        underrunCount.fetch_add (1, std::memory_order_relaxed);
        debt += n - k;
        const int fade = std::min (k, underrunFade);
        for (int j = 0; j < fade; ++j)
            wetWeights[static_cast<size_t> (k - fade + j)] *= static_cast<float> (fade - 1 - j) / static_cast<float> (fade);
        std::fill (wetWeights.begin() + k, wetWeights.begin() + n, 0.0f);
        wetGain = 0.0f;
    }
    return k;
}

void StreamingEngine::collectTrack (int n) noexcept
{
    const long long end = trackPosition + n;
    while (const TrackPoint* point = trackRing.front())
    {
        TrackPoint taken;
        if (point->stream != trackStream) // written before a restart
        {
            trackRing.pop (taken);
            continue;
        }
        const long long plays = point->position + latency;
        if (plays >= end || tracked.count >= TrackedHops::kCapacity)
            break;
        // Late (the worker fell behind): at the start of this chunk, still in order.
        const int at = chunkOffset + static_cast<int> (std::max (0LL, plays - trackPosition));
        tracked.hops[static_cast<size_t> (tracked.count++)] = { at, point->pitch, point->loudness };
        trackRing.pop (taken);
    }
    trackPosition = end;
}

void StreamingEngine::processChunk (const float* const* in, float* const* out, const float* const* sidechain,
                                    int sidechainChannels, int n, float mixFrom, float mixTo) noexcept
{
    const int channels = engineConfig.numChannels;
    dryDelay.process (in, dryPtrs.data(), n);
    if (! active)
    {
        for (int ch = 0; ch < channels; ++ch)
            std::copy (dryPtrs[static_cast<size_t> (ch)], dryPtrs[static_cast<size_t> (ch)] + n, out[ch]);
        return;
    }

    // Host channels -> model batch: dual-mono keeps channels, linked stereo sends the mid.
    auto toBatch = [&] (const float* const* src, int srcChannels, std::vector<float*>& dst) {
        for (int b = 0; b < batch; ++b)
        {
            float* d = dst[static_cast<size_t> (b)];
            if (src == nullptr || srcChannels == 0)
                std::fill (d, d + n, 0.0f);
            else if (batch == 1 && srcChannels == 2)
                for (int i = 0; i < n; ++i)
                    d[i] = clean (0.5f * (clean (src[0][i]) + clean (src[1][i])));
            else
            {
                const float* s = src[std::min (b, srcChannels - 1)];
                for (int i = 0; i < n; ++i)
                    d[i] = clean (s[i]);
            }
        }
    };
    toBatch (in, channels, batchInPtrs);
    const bool withSidechain = engineConfig.sidechainChannels > 0;
    if (withSidechain)
        toBatch (sidechain, sidechainChannels, batchSidePtrs);

    const bool offline = nonRealtime.load (std::memory_order_relaxed);
    if (useWorker && ! offline)
    {
        if (restartPending)
        {
            // A reset: the old stream's output is stale. Until the worker is idle, play the
            // (freshly cleared, so silent) dry delay; then restart from this block at full wet,
            // as a fresh engine would.
            if (! restartWorkerStream (1.0f))
            {
                outputRing.read (nullptr, outputRing.availableToRead());
                for (int ch = 0; ch < channels; ++ch)
                    std::copy_n (dryPtrs[static_cast<size_t> (ch)], n, out[ch]);
                return;
            }
            restartPending = false;
        }
        if (stalled.load (std::memory_order_relaxed) && restartWorkerStream (0.0f))
        {
            // The worker fell more than the input ring behind and has now finished what it was
            // given: its stale output is dropped and the stream restarts from this block. The
            // lead-in plays dry, then wet fades back in.
            stalled.store (false, std::memory_order_relaxed);
        }
        bool pushed = ! stalled.load (std::memory_order_relaxed) && inputRing.availableToWrite() >= n
                      && (! withSidechain || sidechainRing.availableToWrite() >= n);
        if (pushed)
        {
            inputRing.write (batchInPtrs.data(), n);
            if (withSidechain)
                sidechainRing.write (batchSidePtrs.data(), n);
            pushed = recordRing.push ({ n, blockControls });
        }
        if (pushed)
        {
            pushedBlocks.fetch_add (1, std::memory_order_relaxed);
            workAvailable.release();
        }
        else
            stalled.store (true, std::memory_order_relaxed); // hopelessly behind: dry until the worker is idle again
    }
    else
    {
        waitForWorker(); // offline after real-time: let the worker finish what it was given
        stream->pump (batchInPtrs.data(), withSidechain ? batchSidePtrs.data() : nullptr, n, blockControls, outputRing);
    }

    takeOutput (n);
    collectTrack (n);

    for (int ch = 0; ch < channels; ++ch)
    {
        const float* wet = batchOutPtrs[static_cast<size_t> (std::min (ch, batch - 1))];
        const float* dry = dryPtrs[static_cast<size_t> (ch)];
        for (int i = 0; i < n; ++i)
        {
            const float mix = mixFrom + (mixTo - mixFrom) * static_cast<float> (i + 1) / static_cast<float> (n);
            const float w = (mixFrom == 1.0f && mixTo == 1.0f ? 1.0f : mix) * wetWeights[static_cast<size_t> (i)];
            out[ch][i] = w == 1.0f ? wet[i] : w * wet[i] + (1.0f - w) * clean (dry[i]);
        }
    }
}

void StreamingEngine::process (const float* const* in, float* const* out, int numChannels, const float* const* sidechain,
                               int sidechainChannels, int numSamples, const EngineControls& controls) noexcept
{
    if (! buffersReady || numChannels != engineConfig.numChannels)
    {
        for (int ch = 0; ch < numChannels; ++ch)
            if (in[ch] != out[ch])
                std::copy (in[ch], in[ch] + numSamples, out[ch]);
        return;
    }
    blockControls = controls;
    tracked.count = 0;
    if (resetRequested.exchange (false, std::memory_order_acq_rel))
        beginRequestedReset();
    const float startMix = previousMix, endMix = controls.mix;
    const float* chunkIn[2];
    float* chunkOut[2];
    const float* chunkSide[2] = { nullptr, nullptr };

    for (int done = 0; done < numSamples;)
    {
        const int n = std::min (chunkSize, numSamples - done);
        for (int ch = 0; ch < numChannels; ++ch)
        {
            chunkIn[ch] = in[ch] + done;
            chunkOut[ch] = out[ch] + done;
        }
        for (int ch = 0; sidechain != nullptr && ch < std::min (sidechainChannels, 2); ++ch)
            chunkSide[ch] = sidechain[ch] + done;
        // The mix ramps linearly over the whole host block from the previous block's value.
        const float from = startMix + (endMix - startMix) * static_cast<float> (done) / static_cast<float> (numSamples);
        const float to = startMix + (endMix - startMix) * static_cast<float> (done + n) / static_cast<float> (numSamples);
        chunkOffset = done;
        processChunk (chunkIn, chunkOut, sidechain != nullptr ? chunkSide : nullptr, sidechain != nullptr ? sidechainChannels : 0,
                      n, from, to);
        done += n;
    }
    previousMix = endMix;
}
} // namespace timbrel
