#pragma once
// The model in the host's signal path, seen from the audio thread: channel mapping (mono,
// dual-mono, linked stereo, sidechain), a worker thread fed through lock-free rings (Threaded
// mode) or the chain run in the callback (Inline mode), underrun handling, the
// latency-compensated dry path and dry/wet. Torch-free header.

#include "timbrel/DelayLine.h"
#include "timbrel/ModelStream.h"

#include <array>
#include <atomic>
#include <memory>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

namespace timbrel
{
enum class ProcessingMode
{
    threaded = 0, // libtorch on a worker thread; the callback only copies and mixes
    inlined = 1   // libtorch in the callback: one hop less latency, allocates on the audio thread
};

enum class StereoMode
{
    dualMono = 0, // each channel its own stream (batch 2)
    linked = 1    // the mid signal through one stream, sent to both channels
};

// Threaded mode: the hops of time the worker may get to compute each hop (the Threaded Margin
// parameter's choices; timbrel.hosts.plugin.THREADED_MARGIN_HOPS in Python, checked against the
// built plugin by tests/test_plugin_facts.py).
inline constexpr std::array<int, 3> kWorkerMarginHopChoices { 1, 2, 4 };
inline constexpr int kMaxWorkerMarginHops = kWorkerMarginHopChoices.back();

struct EngineConfig
{
    double sampleRate = 44100.0;
    int maxBlockSize = 512;
    int numChannels = 2;        // main bus: 1 or 2
    int sidechainChannels = 0;  // 0 (no sidechain bus), 1 or 2
    ProcessingMode mode = ProcessingMode::threaded;
    StereoMode stereo = StereoMode::dualMono;
    // Threaded only: how many hops of time the worker gets to compute a hop (each adds a hop of
    // latency). 1 is the minimum; more rides out longer stalls of a busy machine.
    int workerMarginHops = 1;
    // The model's own delay in model-rate samples, set by the user (nn~ modules declare none,
    // and the load-time probe may misjudge one); -1: the model's declared or measured delay.
    int modelLatencyOverride = -1;

    bool operator== (const EngineConfig&) const = default;
};

/** One hop of the input's analysis (for MIDI out), at the sample of a process() call where the
    audio of that hop plays in the output. */
struct TrackedHop
{
    int offset = 0;
    float pitch = 0.0f, loudness = 0.0f;
};

struct TrackedHops
{
    static constexpr int kCapacity = 1024; // more waits for the next call
    std::array<TrackedHop, kCapacity> hops {};
    int count = 0;
};

class StreamingEngine
{
public:
    explicit StreamingEngine (std::unique_ptr<Model> model);
    ~StreamingEngine();

    /** Allocates everything, warms the model up and starts the worker (Threaded mode). Returns
        a plain-words error when the model cannot run; the engine then plays the dry signal
        delayed by latencySamples(), so the reported latency holds either way. */
    std::string prepare (const EngineConfig& config);

    const EngineConfig& config() const { return engineConfig; }
    /** False for the placeholder that passes audio through when no model could be loaded. */
    bool hasModel() const { return model != nullptr; }
    /** prepare() has run (successfully or not) at least once. */
    bool wasPrepared() const { return preparedOnce; }
    bool isActive() const { return active; }
    /** The model's description; an empty one for the placeholder (hasModel() false). */
    const ModelInfo& info() const;

    /** Host-visible latency in host samples: buffering (one hop; Threaded adds the larger of a
        hop and a host block, plus workerMarginHops - 1 hops), the resamplers' lag, and the
        model's own delay. */
    int latencySamples() const { return latency; }

    /** Offline (host non-realtime) processing is synchronous: the callback waits for the
        worker, so no underrun is possible and the output equals a real-time render without
        underruns. */
    void setNonRealtime (bool offline) { nonRealtime.store (offline, std::memory_order_relaxed); }

    /** Clears all streaming state. Not concurrently with process(). */
    void reset();

    /** Any thread, lock-free, never waits (a host's reset() or VST3 setProcessing may come from
        its audio thread): the next process() call starts a new stream. Offline and Inline, it
        resets at once, as reset() would, so the output equals a fresh engine's. Threaded in
        real time, the callback never waits for the worker: it plays the delayed dry signal
        (silence right after the reset) until the worker has finished what it was given, then
        restarts the stream from that block, the output matching a fresh engine fed from there. */
    void requestReset() noexcept { resetRequested.store (true, std::memory_order_release); }
    /** Starts the next block at this mix instead of ramping from the last one (a new render). */
    void jumpToMix (float mix) { previousMix = mix; }

    /** Processes `numSamples` (any size; larger than prepared is split). `in` and `out` may
        alias. `sidechain` may be null. Non-finite input never reaches the model. */
    void process (const float* const* in, float* const* out, int numChannels, const float* const* sidechain,
                  int sidechainChannels, int numSamples, const EngineControls& controls) noexcept;

    /** Test support. While held, the worker takes no new blocks, as if the machine starved
        it: tests cause underruns deterministically instead of hoping for a slow moment.
        `workerIdle()` is true once the worker has processed every block pushed so far. */
    void holdWorker (bool hold) noexcept { workerHeld.store (hold, std::memory_order_release); }
    bool workerIdle() const noexcept
    {
        return processedBlocks.load (std::memory_order_acquire) >= pushedBlocks.load (std::memory_order_relaxed);
    }

    /** Hops the model failed to compute (played dry), and blocks the worker was late for. */
    int failedHops() const { return stream != nullptr ? stream->failedHops() : 0; }
    /** The model's words for its last failure ("" if none); not on the audio thread (allocates). */
    std::string lastFailure() const { return model != nullptr ? model->lastFailure() : std::string(); }
    int underruns() const { return underrunCount.load (std::memory_order_relaxed); }

    /** The editor's view (message thread): per-hop meters, null before prepare(), and the
        output measured by a separate copy of the model's analysis (see Model::analyzeOutput). */
    DescriptorMeters* meters() { return stream != nullptr ? &stream->meters() : nullptr; }
    /** The input's recent latent for Capture (message thread), null before prepare(). */
    const LatentHistory* latentHistory() const { return stream != nullptr ? &stream->latentHistory() : nullptr; }
    bool analyzeOutput (const float* audio, int numHops, float* lastDescriptors) noexcept
    {
        return model != nullptr && model->analyzeOutput (audio, numHops, lastDescriptors);
    }

    /** Audio thread, after process(): the hops of input analysis (pitch, loudness) whose audio
        plays in that call's output, in order, each at its sample offset (the engine's latency
        after the input that made it). Empty for a model whose analysis lacks either. */
    const TrackedHops& trackedHops() const { return tracked; }

private:
    struct BlockRecord
    {
        int numSamples = 0;
        EngineControls controls;
        bool restart = false; // the worker resets the stream (the callback plays the lead-in dry)
    };

    void processChunk (const float* const* in, float* const* out, const float* const* sidechain, int sidechainChannels,
                       int n, float mixFrom, float mixTo) noexcept;
    void stopWorker();
    void workerLoop();
    void waitForWorker() noexcept;
    int takeOutput (int n) noexcept;
    /** Audio thread, real time, Threaded: asks the worker to restart the stream once it is idle.
        Returns false while it is still busy (the block then plays dry). */
    bool restartWorkerStream (float wetGainAfter) noexcept;
    void beginRequestedReset() noexcept;
    /** Moves the tracked hops due in the next `n` output samples into `tracked`. */
    void collectTrack (int n) noexcept;

    std::unique_ptr<Model> model;
    std::unique_ptr<ModelStream> stream;
    EngineConfig engineConfig;
    int batch = 1, latency = 0, chunkSize = 1, primeSamples = 0;
    bool active = false, buffersReady = false, useWorker = false, preparedOnce = false;
    float previousMix = 1.0f, wetGain = 1.0f;
    long debt = 0; // output samples replaced by dry after an underrun, skipped when they arrive
    // After a reset or restart, the first primeSamples output samples exist before the model has
    // produced any: they play the (delayed) dry signal without reading the output ring, which
    // gives the worker the same time to produce the first hop as any later one.
    long dryLeadIn = 0;
    bool restartPending = false; // audio thread: a requested reset waits for the worker to go idle

    DelayLine dryDelay;
    std::vector<float> dryScratch, batchIn, batchSide, batchOut, wetWeights;
    std::vector<float*> dryPtrs, batchInPtrs, batchSidePtrs, batchOutPtrs;
    EngineControls blockControls;

    SampleRing inputRing, sidechainRing, outputRing;
    // MIDI out: the stream writes each hop's analysis (the worker, or this thread Inline); this
    // thread places it `latency` samples after its input. Positions count host samples since the
    // stream last (re)started; `trackStream` is that start's number, to drop an older stream's.
    RecordRing<TrackPoint> trackRing;
    TrackedHops tracked;
    long long trackPosition = 0;
    unsigned trackStream = 0;
    int chunkOffset = 0;
    RecordRing<BlockRecord> recordRing;
    int underrunFade = 64; // samples at the host rate (kUnderrunFadeSeconds)
    std::vector<float> workerMain, workerSide;
    std::vector<float*> workerMainPtrs, workerSidePtrs;
    std::thread worker;
    std::counting_semaphore<> workAvailable { 0 };
    std::atomic<bool> running { false }, nonRealtime { false }, stalled { false }, workerHeld { false }, resetRequested { false };
    std::atomic<long> pushedBlocks { 0 }, processedBlocks { 0 };
    std::atomic<int> underrunCount { 0 };
};
} // namespace timbrel
