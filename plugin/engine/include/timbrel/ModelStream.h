#pragma once
// The model-domain signal chain: host-rate input -> resampler -> hop accumulation -> model
// (with per-hop smoothed fader targets) -> resampler -> host-rate output ring. It runs on one
// thread at a time: the engine's worker in Threaded mode, the audio thread in Inline mode or
// when the host renders offline. Every hop a host block completes goes to the model in one
// call (Model::processHops): the same hops, the same latency, a fraction of the per-call cost.
// Buffers are sized in prepare(); libtorch allocates inside the model call, which is why
// Threaded mode keeps this off the audio thread.

#include "timbrel/Controls.h"
#include "timbrel/Meters.h"
#include "timbrel/Model.h"
#include "timbrel/Resampler.h"
#include "timbrel/Rings.h"
#include "timbrel/Timbres.h"

#include <atomic>
#include <string>
#include <vector>

namespace timbrel
{
/** One hop of the input's pitch and loudness as the model's analysis read them, for MIDI out:
    `position` is the hop's first input sample in host samples since the stream (re)started,
    `stream` counts the stream's resets, so a reader can drop what an older stream wrote. */
struct TrackPoint
{
    long long position = 0;
    float pitch = 0.0f, loudness = 0.0f;
    unsigned stream = 0;
};

class ModelStream
{
public:
    struct Config
    {
        double hostRate = 44100.0;
        int maxBlockSize = 512; // host samples per pump() call at most
        int batch = 1;          // model channels: 1 (mono or linked stereo) or 2 (dual mono)
        bool sidechain = false; // a sidechain signal comes with every pump()
    };

    explicit ModelStream (Model& m) : model (m) {}

    std::string prepare (const Config& config);
    void reset();

    /** Host samples of buffering lag this chain adds at worst: the output of input sample n
        is available once input sample n + lag has been pumped. */
    int bufferingLag() const { return lag; }
    /** The most hops one pump() can complete, so the most one model call takes. */
    int maxFramesPerCall() const { return maxFrames; }
    /** One model hop in host samples, rounded up. */
    int hopInHostSamples() const;
    /** The model's own delay in host samples (rounded when resampling): its latency_samples,
        or `modelSamplesOverride` (model-rate samples) when that is 0 or more. */
    int modelLatencyInHostSamples (int modelSamplesOverride = -1) const;

    /** Consumes `n` host samples per batch channel (sidechain null unless configured) and
        appends every host sample of output produced so far to `out`. */
    void pump (const float* const* main, const float* const* sidechain, int n, const EngineControls& controls,
               SampleRing& out) noexcept;

    int failedHops() const { return failures.load (std::memory_order_relaxed); }

    /** Per-hop descriptor meters and output tap for the editor (written by whoever pumps). */
    DescriptorMeters& meters() { return hopMeters; }
    /** Channel 0's input latent, hop by hop, with its loudness and flatness: what Capture reads. */
    const LatentHistory& latentHistory() const { return history; }

    /** Where each hop's pitch and loudness (batch channel 0) go, or null; prepare first. Only
        models whose analysis has both descriptors write. Not concurrently with pump(). */
    void setTrack (RecordRing<TrackPoint>* ring) noexcept { track = ring; }
    /** Resets so far (prepare counts as none): the `stream` stamp of the points written now. */
    unsigned streamNumber() const noexcept { return resets; }

private:
    int measureLag() const;
    void runHops (int frames, const EngineControls& controls) noexcept;

    Model& model;
    Config config;
    Resampler inMain, inSide, outResampler;
    HopControlSmoother smoother;
    int hop = 1, fill = 0, lag = 0, maxResampled = 0, maxOutPerHop = 0, maxFrames = 1, capacity = 0;
    // Model-rate input per channel (stride `capacity`): the `fill` samples of the hop in
    // progress, then what the current block adds.
    std::vector<float> pendingMain, pendingSide;
    // One model call: input, sidechain and output channel-major ([batch][frames x hop]); per-hop
    // fader mixes, latent controls and descriptors hop-major.
    std::vector<float> callMain, callSide, callOut, measured, targets, latentOffsets, latentScales;
    std::vector<float> generateWeights, temperatures; // per hop of a call (nn~ modules with a prior)
    std::vector<float> timbreWeights, timbreLatents;  // per hop of a call (models with named timbres)
    std::vector<float> inputLatents;                  // frames x batch x latent: the input's own z
    int loudnessIndex = -1, flatnessIndex = -1, pitchIndex = -1;
    RecordRing<TrackPoint>* track = nullptr;
    long long hopsSinceReset = 0;
    unsigned resets = 0;
    std::vector<DescriptorMix> mixes;
    std::vector<float> resampledOut;
    std::vector<const float*> hopOutPtrs;
    std::vector<float*> mainPtrs, sidePtrs, outPtrs;
    std::atomic<int> failures { 0 };
    DescriptorMeters hopMeters;
    LatentHistory history;
};
} // namespace timbrel
