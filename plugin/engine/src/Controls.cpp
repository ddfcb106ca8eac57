#include "timbrel/Controls.h"

#include <cmath>

namespace timbrel
{
const std::array<FaderSlot, kNumFaderSlots>& faderSlots()
{
    static const std::array<FaderSlot, kNumFaderSlots> slots = [] {
        // Fixed-value ranges are physical and model-independent so automation stays meaningful
        // across model swaps; each model's useful range is in its metadata (descriptor_min/max).
        struct Range
        {
            float lo, hi, init;
        };
        const Range ranges[kVocabularySize] = {
            { -80.0f, 0.0f, -20.0f },     // loudness, dB
            { 0.0f, 127.0f, 60.0f },      // pitch, MIDI semitones
            { 20.0f, 20000.0f, 1500.0f }, // centroid, Hz
            { 20.0f, 20000.0f, 1500.0f }, // bandwidth, Hz
            { -80.0f, 0.0f, -30.0f },     // flatness, dB
        };
        std::array<FaderSlot, kNumFaderSlots> s {};
        for (int i = 0; i < kVocabularySize; ++i)
        {
            const auto& v = kDescriptorVocabulary[static_cast<size_t> (i)];
            std::string display = v.name;
            display[0] = static_cast<char> (std::toupper (display[0]));
            s[static_cast<size_t> (i)] = { v.name, display, v.unit, v.shiftUnit, v.shiftKind, v.shiftRange,
                                           ranges[i].lo, ranges[i].hi, ranges[i].init };
        }
        for (int k = 0; k < kNumSpareSlots; ++k)
            s[static_cast<size_t> (kVocabularySize + k)] = { "extra_" + std::to_string (k + 1), "Extra " + std::to_string (k + 1),
                                                             "", "", ShiftKind::add, 24.0f, -100.0f, 100.0f, 0.0f };
        return s;
    }();
    return slots;
}

std::array<int, kNumFaderSlots> mapSlotsToModel (const ModelInfo& info)
{
    std::array<int, kNumFaderSlots> map {};
    map.fill (-1);
    for (int v = 0; v < kVocabularySize; ++v)
        map[static_cast<size_t> (v)] = info.descriptorIndex (kDescriptorVocabulary[static_cast<size_t> (v)].name).value_or (-1);
    int spare = kVocabularySize;
    for (int i = 0; i < info.numDescriptors() && spare < kNumFaderSlots; ++i)
        if (findVocabularyEntry (info.descriptorNames[static_cast<size_t> (i)]) == nullptr)
            map[static_cast<size_t> (spare++)] = i;
    return map;
}

void combineDescriptors (const float* input, const float* sidechain, const float* natural, const DescriptorMix* mixes,
                         int numDescriptors, int batch, float* targets)
{
    for (int b = 0; b < batch; ++b)
        for (int i = 0; i < numDescriptors; ++i)
        {
            const auto& m = mixes[i];
            const size_t at = static_cast<size_t> (b * numDescriptors + i);
            const float fromIn = input[at];
            const float fromSide = sidechain != nullptr ? sidechain[at] : fromIn;
            const float fromNat = natural != nullptr ? natural[at] : fromIn;
            float base;
            if (m.fromInput == 1.0f)
                base = fromIn;
            else if (m.fromSidechain == 1.0f)
                base = fromSide;
            else if (m.fromFixed == 1.0f)
                base = m.fixedValue;
            else if (m.fromNatural == 1.0f)
                base = fromNat;
            else if (m.kind == ShiftKind::octaves && fromIn > 0.0f && fromSide > 0.0f && m.fixedValue > 0.0f && fromNat > 0.0f)
                base = std::exp2 (m.fromInput * std::log2 (fromIn) + m.fromSidechain * std::log2 (fromSide)
                                  + m.fromFixed * std::log2 (m.fixedValue) + m.fromNatural * std::log2 (fromNat));
            else
                base = m.fromInput * fromIn + m.fromSidechain * fromSide + m.fromFixed * m.fixedValue + m.fromNatural * fromNat;
            targets[at] = applyShift (m.kind, base, m.shift);
        }
}

bool anyNatural (const DescriptorMix* mixes, int count)
{
    for (int i = 0; i < count; ++i)
        if (mixes[i].fromNatural != 0.0f)
            return true;
    return false;
}

namespace
{
// Variation's random walk: each latent value follows a first-order low-pass of white noise with
// unit variance, so a spread of s keeps z within about s of the snapshot and moves it over
// about this long. Seeded at every reset: offline renders repeat.
constexpr double kVariationSeconds = 0.5;
constexpr uint64_t kVariationSeed = 0x7469'6d62'7265'6cULL;

double uniform01 (uint64_t& state)
{
    // splitmix64: tiny state, no allocation, the same sequence on every platform.
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (static_cast<double> (z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/** One hop of a ramp: `n` 0 lands on the target at once, otherwise it glides over n hops. */
float driveRamp (LinearRamp& ramp, float target, int n)
{
    if (n == 0)
    {
        ramp.jump (target);
        return ramp.value();
    }
    ramp.setTarget (target, n);
    return ramp.next();
}

float gaussian (uint64_t& state)
{
    const double u = uniform01 (state), v = uniform01 (state);
    return static_cast<float> (std::sqrt (-2.0 * std::log (u)) * std::cos (2.0 * M_PI * v));
}
} // namespace

void HopControlSmoother::prepare (const ModelInfo& info, int rampHops)
{
    slotToModel = mapSlotsToModel (info);
    steps = std::max (1, rampHops);
    descriptorMixes.assign (static_cast<size_t> (info.numDescriptors()), DescriptorMix {});
    offsets.assign (static_cast<size_t> (info.latentSize), 0.0f);
    scales.assign (static_cast<size_t> (info.latentSize), 1.0f);
    hasNatural = info.hasNatural;
    hasTimbres = hasTimbreSection (info);
    const auto latents = static_cast<size_t> (hasTimbres ? info.latentSize : 0);
    for (auto& ramps : slotRamps)
        ramps.assign (latents, LinearRamp {});
    snapshot.assign (latents, 0.0f);
    walk.assign (latents, 0.0f);
    walkDecay = info.sampleRate > 0 ? static_cast<float> (std::exp (-info.hopLength / (kVariationSeconds * info.sampleRate))) : 0.0f;
    for (int s = 0; s < kNumFaderSlots; ++s)
        if (const int index = slotToModel[static_cast<size_t> (s)]; index >= 0)
            descriptorMixes[static_cast<size_t> (index)].kind = faderSlots()[static_cast<size_t> (s)].shiftKind;
    jumpNext = true;
}

void HopControlSmoother::advance (const EngineControls& controls, bool sidechainConnected)
{
    const int n = jumpNext ? 0 : steps;
    auto drive = [n] (LinearRamp& ramp, float target) { return driveRamp (ramp, target, n); };

    for (int s = 0; s < kNumFaderSlots; ++s)
    {
        const int index = slotToModel[static_cast<size_t> (s)];
        if (index < 0)
            continue;
        const auto& control = controls.faders[static_cast<size_t> (s)];
        auto source = control.source;
        if ((source == DescriptorSource::sidechain && ! sidechainConnected) || (source == DescriptorSource::natural && ! hasNatural))
            source = DescriptorSource::input;
        auto& r = ramps[static_cast<size_t> (s)];
        auto& mix = descriptorMixes[static_cast<size_t> (index)];
        mix.fromInput = drive (r.input, source == DescriptorSource::input ? 1.0f : 0.0f);
        mix.fromSidechain = drive (r.sidechain, source == DescriptorSource::sidechain ? 1.0f : 0.0f);
        mix.fromFixed = drive (r.fixedWeight, source == DescriptorSource::fixed ? 1.0f : 0.0f);
        mix.fromNatural = drive (r.natural, source == DescriptorSource::natural ? 1.0f : 0.0f);
        mix.fixedValue = drive (r.fixedValue, control.fixed);
        mix.shift = drive (r.shift, control.shift);
    }
    const size_t latents = std::min (offsets.size(), static_cast<size_t> (kNumLatentControls));
    for (size_t i = 0; i < latents; ++i)
    {
        offsets[i] = drive (offsetRamps[i], controls.latentOffset[i]);
        scales[i] = drive (scaleRamps[i], controls.latentScale[i]);
    }
    drive (generateRamp, controls.generate ? 1.0f : 0.0f);
    drive (temperatureRamp, controls.temperature);
    advanceTimbre (controls, n);
    jumpNext = false;
}

void HopControlSmoother::advanceTimbre (const EngineControls& controls, int n)
{
    auto drive = [n] (LinearRamp& ramp, float target) { return driveRamp (ramp, target, n); };
    const bool active = hasTimbres && controls.timbres != nullptr;
    drive (timbreRamp, active && controls.timbreSource == TimbreSource::snapshot ? 1.0f : 0.0f);
    if (! active)
        return;
    const float morph = drive (morphRamp, controls.morph);
    const float spread = drive (variationRamp, std::max (0.0f, controls.variation));
    if (jumpNext)
    {
        walkState = kVariationSeed;
        std::fill (walk.begin(), walk.end(), 0.0f);
    }
    const float innovation = std::sqrt (std::max (0.0f, 1.0f - walkDecay * walkDecay));
    for (size_t i = 0; i < snapshot.size(); ++i)
    {
        const float a = drive (slotRamps[0][i], controls.timbres->value (0, static_cast<int> (i)));
        const float b = drive (slotRamps[1][i], controls.timbres->value (1, static_cast<int> (i)));
        // The walk advances whatever the spread, so turning Variation up does not restart it.
        walk[i] = walkDecay * walk[i] + innovation * gaussian (walkState);
        snapshot[i] = a + morph * (b - a) + spread * walk[i];
    }
}
} // namespace timbrel
