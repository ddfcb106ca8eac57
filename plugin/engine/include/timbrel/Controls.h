#pragma once
// What the faders ask of the model, hop by hop: each descriptor's source (the input's own
// analysis, the sidechain's, a fixed value, or the model's natural value for the timbre), its
// shift, the timbre (the input's latent or the snapshots A and B, morphed), and the latent
// offsets and scales.
// Plain C++, no torch: the engine smooths these per latent frame and the model applies them.

#include "timbrel/ModelInfo.h"
#include "timbrel/Timbres.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

namespace timbrel
{
enum class DescriptorSource
{
    input = 0,
    sidechain = 1,
    fixed = 2,
    natural = 3 // the model's natural(): what the timbre being played has at this pitch and loudness
};

/** Where the decoded latent comes from. */
enum class TimbreSource
{
    input = 0,   // the input's own encoding (timbre transfer keeps what z heard)
    snapshot = 1 // snapshot A morphed towards B (TimbreSlots), with Variation around it
};

/** One fader slot. Slots 0..4 are the descriptor vocabulary; the spares drive a model's
    descriptors outside the vocabulary, in the model's order. IDs never change. */
struct FaderSlot
{
    std::string id;          // parameter ID prefix: "loudness" -> loudness_source, loudness_shift, loudness_fixed
    std::string displayName; // "Loudness"
    std::string unit;        // unit of the descriptor value (and of the fixed value)
    std::string shiftUnit;
    ShiftKind shiftKind;
    float shiftRange;
    float fixedMin, fixedMax, fixedDefault;
};

inline constexpr int kNumSpareSlots = 2;
inline constexpr int kNumFaderSlots = kVocabularySize + kNumSpareSlots;
inline constexpr int kNumLatentControls = 8;

const std::array<FaderSlot, kNumFaderSlots>& faderSlots();

/** Model descriptor index driven by each slot, or -1 when the model lacks it (the fader is inactive). */
std::array<int, kNumFaderSlots> mapSlotsToModel (const ModelInfo& info);

struct FaderControl
{
    DescriptorSource source = DescriptorSource::input;
    float shift = 0.0f;
    float fixed = 0.0f;
};

/** Control values for one host block, read once at its start. */
struct EngineControls
{
    EngineControls()
    {
        latentScale.fill (1.0f);
        for (int s = 0; s < kNumFaderSlots; ++s)
            faders[static_cast<size_t> (s)].fixed = faderSlots()[static_cast<size_t> (s)].fixedDefault;
    }

    std::array<FaderControl, kNumFaderSlots> faders {};
    std::array<float, kNumLatentControls> latentOffset {};
    std::array<float, kNumLatentControls> latentScale {};
    float mix = 1.0f; // 0 = dry only, 1 = model only
    // nn~ modules with a prior: latents from the prior instead of the input's encoding.
    bool generate = false;
    float temperature = 1.0f;
    // The timbre section (models with named timbres): null slots keep the input's latent.
    TimbreSource timbreSource = TimbreSource::input;
    const TimbreSlots* timbres = nullptr;
    float morph = 0.0f;     // 0 = A, 1 = B; -0.5 and 1.5 extrapolate beyond them
    float variation = 0.0f; // spread of the smoothed random walk around the snapshot, in z units
};

/** How one model descriptor's target is formed for one hop: a weighted blend of the sources
    (weights sum to 1; they ramp when the source changes), then the shift. */
struct DescriptorMix
{
    float fromInput = 1.0f, fromSidechain = 0.0f, fromFixed = 0.0f, fromNatural = 0.0f;
    float fixedValue = 0.0f;
    float shift = 0.0f;
    ShiftKind kind = ShiftKind::add;
};

/** targets[b*D+i] from the measured descriptors ([batch x D], channel-major). `sidechain` and
    `natural` may be null (then the input stands in). A weight of exactly 1 copies its source
    bit for bit, so an untouched fader leaves the model's own analysis unchanged. Frequencies
    (octave-shifted descriptors) blend in log2. */
void combineDescriptors (const float* input, const float* sidechain, const float* natural, const DescriptorMix* mixes,
                         int numDescriptors, int batch, float* targets);

/** Whether any descriptor of these mixes takes part of its value from natural(). */
bool anyNatural (const DescriptorMix* mixes, int count);

/** A value that moves linearly to its target over a fixed number of steps and lands on it exactly. */
class LinearRamp
{
public:
    void jump (float value)
    {
        current = target = value;
        remaining = 0;
    }

    void setTarget (float value, int steps)
    {
        if (value == target)
            return;
        target = value;
        remaining = std::max (1, steps);
        step = (target - current) / static_cast<float> (remaining);
    }

    float next()
    {
        if (remaining > 0 && --remaining == 0)
            current = target;
        else if (remaining > 0)
            current += step;
        return current;
    }

    float value() const { return current; }

private:
    float current = 0.0f, target = 0.0f, step = 0.0f;
    int remaining = 0;
};

/** Turns block controls into per-hop DescriptorMix values and latent offsets/scales, smoothed
    over `rampHops` latent frames so fader moves and source switches do not make transients. */
class HopControlSmoother
{
public:
    void prepare (const ModelInfo& info, int rampHops);

    /** The next advance() lands on its targets at once (a new render starts without ramps). */
    void jumpToTargets() { jumpNext = true; }

    /** One hop. `sidechainConnected` false makes the sidechain source follow the input; a model
        without natural() makes the natural source follow it too. */
    void advance (const EngineControls& controls, bool sidechainConnected);

    const DescriptorMix* mixes() const { return descriptorMixes.data(); }
    const float* latentOffset() const { return offsets.data(); }
    const float* latentScale() const { return scales.data(); }
    /** Share of the latent taken from the prior (0: the input's encoding), ramped like the
        faders so switching to generation crossfades the latents; and the prior's temperature. */
    float generateWeight() const { return generateRamp.value(); }
    float temperature() const { return temperatureRamp.value(); }
    /** The timbre: the share of the latent taken from the snapshot (0: the input's encoding,
        ramped), and the snapshot's latent this hop (A morphed towards B, each value ramped, plus
        Variation's smoothed random walk). Zero weight when the model has no timbre section. */
    float timbreWeight() const { return timbreRamp.value(); }
    const float* timbreLatent() const { return snapshot.data(); }

private:
    void advanceTimbre (const EngineControls& controls, int rampSteps);

    struct SlotRamps
    {
        LinearRamp input, sidechain, fixedWeight, fixedValue, shift, natural;
    };

    std::array<int, kNumFaderSlots> slotToModel {};
    std::array<SlotRamps, kNumFaderSlots> ramps {};
    std::array<LinearRamp, kNumLatentControls> offsetRamps {}, scaleRamps {};
    LinearRamp generateRamp, temperatureRamp, timbreRamp, morphRamp, variationRamp;
    std::vector<LinearRamp> slotRamps[TimbreSlots::kNumSlots]; // each snapshot's values, ramped when a slot changes
    std::vector<float> snapshot, walk;                          // latent_size long
    uint64_t walkState = 0;
    float walkDecay = 0.0f;
    bool hasNatural = false, hasTimbres = false;
    std::vector<DescriptorMix> descriptorMixes;
    std::vector<float> offsets, scales; // latent_size long; dims beyond kNumLatentControls stay 0 / 1
    int steps = 1;
    bool jumpNext = true;
};
} // namespace timbrel
