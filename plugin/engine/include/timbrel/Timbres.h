#pragma once
// The timbre section's shared state (docs/model-format.md, "Timbres"): the two snapshot slots A
// and B the plugin morphs between, and the recent history of the input's latent that Capture
// takes a snapshot from. Plain C++, no torch, no allocation after construction: the message
// thread writes the slots and reads the history, the thread that plays reads the slots and
// writes the history, each value an atomic.

#include "timbrel/ModelInfo.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace timbrel
{
/** Latent sizes the timbre section handles; a model with a larger latent plays with the
    section disabled (its status says why). */
inline constexpr int kMaxTimbreLatent = 256;

/** Whether the timbre section plays for this model: a Timbrel model with named timbres and a
    latent the slots can hold. The one rule the smoother, the stream and the processor share. */
inline bool hasTimbreSection (const ModelInfo& info)
{
    return info.kind == ModelKind::timbrel && ! info.timbreNames.empty() && info.latentSize <= kMaxTimbreLatent;
}

/** A latent's coordinates on the model's first two principal axes (the timbre map): {0, 0}
    for a model without axes. `latent` holds latentSize values. */
std::array<float, 2> principalCoordinates (const ModelInfo& info, const float* latent) noexcept;

/** Snapshots A (slot 0) and B (slot 1). A reader in the middle of a write sees old and new
    values mixed for at most one block, which the per-hop ramps smooth like any fader move. */
class TimbreSlots
{
public:
    static constexpr int kNumSlots = 2;

    /** Copies `latentSize` values (at most kMaxTimbreLatent) into `slot`. */
    void set (int slot, const float* latent, int latentSize) noexcept;
    float value (int slot, int i) const noexcept
    {
        return values[static_cast<size_t> (slot)][static_cast<size_t> (i)].load (std::memory_order_relaxed);
    }

private:
    std::array<std::array<std::atomic<float>, kMaxTimbreLatent>, kNumSlots> values {};
};

/** The last kHops hops of channel 0's input latent with its loudness and flatness (dB): what
    Capture averages. Written hop by hop by the thread that plays, read by one other thread. */
class LatentHistory
{
public:
    static constexpr int kHops = 1024; // 11.9 s at 44.1 kHz and hop 512: more than any capture asks

    /** Not concurrently with either side. */
    void prepare (int latentSize) noexcept;
    int latentSize() const noexcept { return latents; }

    // ---- writer ----
    void publish (const float* latent, float loudnessDb, float flatnessDb) noexcept;

    // ---- reader ----
    struct Hop
    {
        std::vector<float> latent;
        float loudness = 0.0f, flatness = 0.0f;
    };
    /** The most recent hops, oldest first, at most `numHops`: those the writer may have
        overwritten while they were read are left out. Allocates: not on the audio thread. */
    std::vector<Hop> recent (int numHops) const;

private:
    int latents = 0;
    std::array<std::atomic<float>, static_cast<size_t> (kHops) * (kMaxTimbreLatent + 2)> data {};
    std::atomic<uint64_t> written { 0 };
};

/** What Capture takes from the input's recent latent: the mean z over its sounding hops (within
    30 dB of the loudest and above -60 dB), refused for silence (under `minSoundingSeconds` of
    sounding input) and for noise (median flatness above kNoiseFlatnessDb). */
struct CaptureResult
{
    std::vector<float> latent; // empty when refused
    std::string error;         // why it was refused, in words a user can act on
    float soundingSeconds = 0.0f;
};

inline constexpr float kNoiseFlatnessDb = -15.0f; // white noise reads -2.5 dB; 16 instruments read -39 to -64 (median)

CaptureResult captureTimbre (const std::vector<LatentHistory::Hop>& hops, double hopSeconds,
                             float minSoundingSeconds = 0.5f);
} // namespace timbrel
