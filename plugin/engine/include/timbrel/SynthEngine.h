#pragma once
// Timbrel Synth's engine: a model played from notes. Each hop, the voices (Voices.h) give every
// voice's pitch and loudness; the spectral descriptors come from the model's natural() for the
// timbre being played (or a fixed value) with the faders' shifts on top; all voices are decoded
// in one model call (the batch dimension, each row its own streaming state), summed with a
// per-voice gain ramp (silence below the model's loudness range, a free voice's fade), and
// resampled to the host's rate. The callback turns the performance into each hop's rows as the
// host's blocks need them; the model call runs on a worker thread (Threaded, the default: the
// callback never calls libtorch, so it never allocates) with a hop and a block more latency, or
// in the callback (Inline). Offline, the callback waits for the worker, so offline and real-time
// renders are the same sample for sample. Torch-free header.

#include "timbrel/Model.h"
#include "timbrel/Resampler.h"
#include "timbrel/Rings.h"
#include "timbrel/Voices.h"

#include <array>
#include <atomic>
#include <memory>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

namespace timbrel
{
/** One performance event at a sample offset inside the block it comes with. */
struct SynthEvent
{
    enum class Kind { noteOn, noteOff, pitchBend, channelPressure, polyPressure, controller };
    int sampleOffset = 0;
    Kind kind = Kind::noteOn;
    int channel = 1;   // 1..16
    int number = 0;    // note, or controller number
    float value = 0.0f; // velocity 0..1, bend -1..1, pressure 0..1, controller value 0..1
};

/** The descriptor faders, as in the effect: a shift for each, and for the spectral ones a source
    (Natural: the model's value for this timbre at the voice's pitch and loudness; else Fixed). */
struct SynthControls
{
    float pitchShift = 0.0f;    // semitones
    float loudnessShift = 0.0f; // dB
    std::array<float, 3> spectralShift { 0.0f, 0.0f, 0.0f }; // centroid, bandwidth (octaves), flatness (dB)
    std::array<bool, 3> spectralNatural { true, true, true };
    std::array<float, 3> spectralFixed { 0.0f, 0.0f, 0.0f }; // 0: the middle of the model's range
    const float* latent = nullptr; // latent_size values: the timbre; null: the model's first named timbre
    float outputGainDb = 0.0f;
};

struct SynthConfig
{
    double sampleRate = 44100.0;
    int maxBlockSize = 512;
    VoiceSettings voices;
    bool threaded = true; // the model call on a worker thread (a hop and a block more latency)
};

class SynthEngine
{
public:
    explicit SynthEngine (std::unique_ptr<Model> model);
    ~SynthEngine();

    /** Allocates everything and warms the model up at the voice count. Returns a plain-words
        error (a model without pitch or loudness descriptors, an nn~ module, a failed warm-up);
        the engine then plays silence. */
    std::string prepare (const SynthConfig& config);
    bool isActive() const { return active; }
    const ModelInfo& info() const { return model->info(); }
    /** Why the spectral descriptors cannot follow Natural ("" when they can). */
    const std::string& naturalNote() const { return noNaturalReason; }

    /** Host samples from a note's event to its onset in the output: the model's own delay and the
        resampler's lag (a note lands within one hop after it, hops being made on demand). */
    int latencySamples() const { return latency; }

    /** The voices' envelope, glide, bend, vibrato and ranges (audio thread, between blocks);
        polyphony and mono need prepare(). */
    void setVoiceShape (const VoiceSettings& shape) noexcept { voices.setShape (shape); }

    /** Silence, every voice free, streams restarted. Not concurrently with process(). */
    void reset();

    /** Any thread, never waits (a host may reset from its audio thread): the next process()
        starts afresh, as after reset(). Threaded, it plays silence until the worker has
        finished what it was given, and the worker restarts the model's streams. */
    void requestReset() noexcept { resetRequested.store (true, std::memory_order_release); }

    /** Offline (host non-realtime): the callback waits for the worker, so nothing underruns. */
    void setNonRealtime (bool offline) noexcept { nonRealtime.store (offline, std::memory_order_relaxed); }
    /** Threaded: every hop handed to the worker has been decoded (tests, lockstep hosts). */
    bool workerIdle() const noexcept
    {
        return decodedHops.load (std::memory_order_acquire) >= requestedHops.load (std::memory_order_acquire);
    }
    /** Threaded, real time: blocks the worker was late for (they played silence). */
    int underruns() const noexcept { return underrunCount.load (std::memory_order_relaxed); }

    /** Renders `numSamples` into every channel of `out` (the same mono signal), applying each
        event at its sample offset (events sorted by offset). Never allocates from the system
        beyond what the model's own call does; never throws. */
    void process (float* const* out, int numChannels, int numSamples, const SynthEvent* events, int numEvents,
                  const SynthControls& controls) noexcept;

    int soundingVoices() const { return voices.soundingVoices(); }
    int polyphony() const { return voices.polyphony(); }
    uint64_t steals() const { return voices.steals(); }
    int failedHops() const { return failures; }
    /** Notes played beyond the model's pitch range (clamped into it), since prepare(). */
    int clampedNotes() const { return clamped; }
    /** The pitch and loudness each voice was decoded with at the last hop (for meters and tests). */
    const std::array<VoiceFrame, VoiceBank::kMaxVoices>& lastFrames() const { return frames; }

private:
    /** One hop's request, a view of one slot: what the callback makes of the performance, for
        one model call. */
    struct HopRows
    {
        float* latents = nullptr;     // batch x latent
        float* descriptors = nullptr; // batch x descriptors
        float* shifts = nullptr;      // batch x descriptors
        float* gains = nullptr;       // batch: each voice's gain at the end of the hop
        bool* fromNatural = nullptr;  // descriptors
        uint8_t* decode = nullptr;    // 0: a silent hop (no model call)
        float* outputGain = nullptr;
    };

    void apply (const SynthEvent& event) noexcept;
    /** The callback's part of a hop: voices advanced, the slot's rows filled. */
    void formHop (const HopRows& rows, const SynthControls& controls) noexcept;
    /** The model's part: the decode, the voices' gain ramps, the resampler, into `out`. */
    int decodeHop (const HopRows& rows, float* out, int maxOut) noexcept;
    /** One model call on `rows` into `decoded`. */
    bool decodeBatch (const HopRows& rows) noexcept;
    int measureResamplerLag();
    HopRows slot (int index) noexcept;
    /** The model's streams, the resampler and the voices' gain ramps back to silence (the thread
        that runs the model: the worker, or any with the worker idle). */
    void resetStreams() noexcept;
    void processInline (float* const* out, int numChannels, int numSamples, const SynthEvent* events, int numEvents,
                        const SynthControls& controls) noexcept;
    void processThreaded (float* const* out, int numChannels, int numSamples, const SynthEvent* events, int numEvents,
                          const SynthControls& controls) noexcept;
    /** Threaded: forms the next hop and hands it to the worker; counts the samples it makes. */
    void requestHop (const SynthControls& controls) noexcept;
    /** Threaded: `numSamples` of the worker's output (silence for the lead-in and underruns). */
    void readOutput (float* const* out, int numChannels, int numSamples) noexcept;
    void workerLoop();
    void stopWorker();
    void waitForWorker() noexcept;

    std::unique_ptr<Model> model;
    SynthConfig config;
    VoiceBank voices;
    Resampler resampler;
    bool active = false;
    int hop = 1, batch = 1, latents = 0, descriptors = 0, latency = 0, clamped = 0;
    std::atomic<int> failures { 0 };
    int pitchIndex = -1, loudnessIndex = -1;
    std::array<int, 3> spectralIndex { -1, -1, -1 };
    std::array<float, 3> spectralMiddle {};
    float pitchMin = 0.0f, pitchMax = 127.0f, loudnessMin = -120.0f, loudnessMax = 0.0f;
    std::string noNaturalReason;
    std::array<VoiceFrame, VoiceBank::kMaxVoices> frames {};
    // Hop requests: kSlots sets of rows (Inline uses slot 0). The callback fills a slot and
    // hands its index to the worker through `requests`; the worker hands back host-rate audio
    // through `output`.
    static constexpr int kSlots = 64;
    std::vector<float> latentSlab, descriptorSlab, shiftSlab, gainSlab;
    std::unique_ptr<bool[]> naturalSlab;
    std::vector<uint8_t> decodeFlags;
    std::vector<float> outputGains;
    std::vector<float> decoded, mixed, previousGains, defaultLatent;
    std::vector<float> descriptorMiddles; // each descriptor's mid-range: what a row holds before the performance fills it
    std::vector<float> fifo; // Inline: host-rate output made but not yet played
    int fifoCount = 0;
    bool lastHopSilent = true;

    // Threaded.
    Resampler counter;                 // fed silence in step with the real resampler: how many host samples each hop makes
    std::vector<float> counterIn, counterOut, workerOut;
    long pendingSamples = 0;           // host samples the hops requested so far make, not yet played (the Inline fifo's count)
    long leadIn = 0;                   // silence before the first hop's output: the added latency
    long debt = 0;                     // samples played as silence in an underrun, skipped when they arrive
    long missing = 0;                  // samples of hops the worker never got (it fell kSlots behind)
    int nextSlot = 0, threadedExtra = 0;
    RecordRing<int> requests;
    SampleRing output;
    std::thread worker;
    std::counting_semaphore<> workAvailable { 0 };
    std::atomic<bool> running { false }, nonRealtime { false }, resetRequested { false };
    static constexpr int kResetRequest = -1; // a request that restarts the model's streams (the worker)
    /** The callback's side of a reset (the worker idle): voices, schedule, rings. */
    void resetSchedule() noexcept;
    std::atomic<long> requestedHops { 0 }, decodedHops { 0 };
    std::atomic<int> underrunCount { 0 };
};
} // namespace timbrel
