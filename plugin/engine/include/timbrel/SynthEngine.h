#pragma once
// Timbrel Synth's engine: a model played from notes. Each hop, the voices (Voices.h) give every
// voice's pitch and loudness; the spectral descriptors come from the model's natural() for the
// timbre being played (or a fixed value) with the faders' shifts on top; all voices are decoded
// in one model call (the batch dimension, each row its own streaming state), summed with a
// per-voice gain ramp (silence below the model's loudness range, a free voice's fade), and
// resampled to the host's rate. Hops are made as the host's blocks need them, in the callback
// (like the effect's Inline mode), so offline and real-time renders are the same sample for
// sample. Torch-free header.

#include "timbrel/Model.h"
#include "timbrel/Resampler.h"
#include "timbrel/Voices.h"

#include <array>
#include <memory>
#include <string>
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
    void apply (const SynthEvent& event) noexcept;
    void renderHop (const SynthControls& controls) noexcept;
    /** One model call on the row buffers (latentRows, descriptorRows, shiftRows -> decoded). */
    bool decodeBatch() noexcept;
    int measureResamplerLag();

    std::unique_ptr<Model> model;
    SynthConfig config;
    VoiceBank voices;
    Resampler resampler;
    bool active = false;
    int hop = 1, batch = 1, latents = 0, descriptors = 0, latency = 0, failures = 0, clamped = 0;
    int pitchIndex = -1, loudnessIndex = -1;
    std::array<int, 3> spectralIndex { -1, -1, -1 };
    std::array<float, 3> spectralMiddle {};
    float pitchMin = 0.0f, pitchMax = 127.0f, loudnessMin = -120.0f, loudnessMax = 0.0f;
    std::string noNaturalReason;
    std::array<VoiceFrame, VoiceBank::kMaxVoices> frames {};
    std::vector<float> latentRows, descriptorRows, shiftRows, decoded, mixed, gains, previousGains, defaultLatent;
    std::vector<float> descriptorMiddles; // each descriptor's mid-range: what a row holds before the performance fills it
    std::unique_ptr<bool[]> fromNatural;
    std::vector<float> fifo; // host-rate output made but not yet played
    int fifoCount = 0;
    bool lastHopSilent = true;
};
} // namespace timbrel
