#pragma once
// What the faders ask of the model, hop by hop: each descriptor's source (the input's own
// analysis, the sidechain's, or a fixed value), its shift, and the latent offsets and scales.
// Plain C++, no torch: the engine smooths these per latent frame and the model applies them.

#include "timbrel/ModelInfo.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <vector>

namespace timbrel
{
enum class DescriptorSource
{
    input = 0,
    sidechain = 1,
    fixed = 2
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
};

/** How one model descriptor's target is formed for one hop: a weighted blend of the sources
    (weights sum to 1; they ramp when the source changes), then the shift. */
struct DescriptorMix
{
    float fromInput = 1.0f, fromSidechain = 0.0f, fromFixed = 0.0f;
    float fixedValue = 0.0f;
    float shift = 0.0f;
    ShiftKind kind = ShiftKind::add;
};

/** targets[b*D+i] from the measured descriptors ([batch x D], channel-major). `sidechain` may be
    null (then the input stands in). A weight of exactly 1 copies its source bit for bit, so
    an untouched fader leaves the model's own analysis unchanged. Frequencies (octave-shifted
    descriptors) blend in log2. */
void combineDescriptors (const float* input, const float* sidechain, const DescriptorMix* mixes, int numDescriptors,
                         int batch, float* targets);

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

    /** One hop. `sidechainConnected` false makes the sidechain source follow the input. */
    void advance (const EngineControls& controls, bool sidechainConnected);

    const DescriptorMix* mixes() const { return descriptorMixes.data(); }
    const float* latentOffset() const { return offsets.data(); }
    const float* latentScale() const { return scales.data(); }
    /** Share of the latent taken from the prior (0: the input's encoding), ramped like the
        faders so switching to generation crossfades the latents; and the prior's temperature. */
    float generateWeight() const { return generateRamp.value(); }
    float temperature() const { return temperatureRamp.value(); }

private:
    struct SlotRamps
    {
        LinearRamp input, sidechain, fixedWeight, fixedValue, shift;
    };

    std::array<int, kNumFaderSlots> slotToModel {};
    std::array<SlotRamps, kNumFaderSlots> ramps {};
    std::array<LinearRamp, kNumLatentControls> offsetRamps {}, scaleRamps {};
    LinearRamp generateRamp, temperatureRamp;
    std::vector<DescriptorMix> descriptorMixes;
    std::vector<float> offsets, scales; // latent_size long; dims beyond kNumLatentControls stay 0 / 1
    int steps = 1;
    bool jumpNext = true;
};
} // namespace timbrel
