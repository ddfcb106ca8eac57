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

void combineDescriptors (const float* input, const float* sidechain, const DescriptorMix* mixes, int numDescriptors,
                         int batch, float* targets)
{
    for (int b = 0; b < batch; ++b)
        for (int i = 0; i < numDescriptors; ++i)
        {
            const auto& m = mixes[i];
            const size_t at = static_cast<size_t> (b * numDescriptors + i);
            const float fromIn = input[at];
            const float fromSide = sidechain != nullptr ? sidechain[at] : fromIn;
            float base;
            if (m.fromInput == 1.0f)
                base = fromIn;
            else if (m.fromSidechain == 1.0f)
                base = fromSide;
            else if (m.fromFixed == 1.0f)
                base = m.fixedValue;
            else if (m.kind == ShiftKind::octaves && fromIn > 0.0f && fromSide > 0.0f && m.fixedValue > 0.0f)
                base = std::exp2 (m.fromInput * std::log2 (fromIn) + m.fromSidechain * std::log2 (fromSide)
                                  + m.fromFixed * std::log2 (m.fixedValue));
            else
                base = m.fromInput * fromIn + m.fromSidechain * fromSide + m.fromFixed * m.fixedValue;
            targets[at] = applyShift (m.kind, base, m.shift);
        }
}

void HopControlSmoother::prepare (const ModelInfo& info, int rampHops)
{
    slotToModel = mapSlotsToModel (info);
    steps = std::max (1, rampHops);
    descriptorMixes.assign (static_cast<size_t> (info.numDescriptors()), DescriptorMix {});
    offsets.assign (static_cast<size_t> (info.latentSize), 0.0f);
    scales.assign (static_cast<size_t> (info.latentSize), 1.0f);
    for (int s = 0; s < kNumFaderSlots; ++s)
        if (const int index = slotToModel[static_cast<size_t> (s)]; index >= 0)
            descriptorMixes[static_cast<size_t> (index)].kind = faderSlots()[static_cast<size_t> (s)].shiftKind;
    jumpNext = true;
}

void HopControlSmoother::advance (const EngineControls& controls, bool sidechainConnected)
{
    const int n = jumpNext ? 0 : steps;
    auto drive = [&] (LinearRamp& ramp, float target) {
        if (n == 0)
            ramp.jump (target);
        else
            ramp.setTarget (target, n);
        return n == 0 ? ramp.value() : ramp.next();
    };

    for (int s = 0; s < kNumFaderSlots; ++s)
    {
        const int index = slotToModel[static_cast<size_t> (s)];
        if (index < 0)
            continue;
        const auto& control = controls.faders[static_cast<size_t> (s)];
        auto source = control.source;
        if (source == DescriptorSource::sidechain && ! sidechainConnected)
            source = DescriptorSource::input;
        auto& r = ramps[static_cast<size_t> (s)];
        auto& mix = descriptorMixes[static_cast<size_t> (index)];
        mix.fromInput = drive (r.input, source == DescriptorSource::input ? 1.0f : 0.0f);
        mix.fromSidechain = drive (r.sidechain, source == DescriptorSource::sidechain ? 1.0f : 0.0f);
        mix.fromFixed = drive (r.fixedWeight, source == DescriptorSource::fixed ? 1.0f : 0.0f);
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
    jumpNext = false;
}
} // namespace timbrel
