#include "timbrel/ModelInfo.h"

#include <cmath>
#include <set>

namespace timbrel
{
std::optional<int> ModelInfo::descriptorIndex (const std::string& name) const
{
    for (size_t i = 0; i < descriptorNames.size(); ++i)
        if (descriptorNames[i] == name)
            return static_cast<int> (i);
    return std::nullopt;
}

const VocabularyEntry* findVocabularyEntry (const std::string& name)
{
    for (const auto& entry : kDescriptorVocabulary)
        if (name == entry.name)
            return &entry;
    return nullptr;
}

float applyShift (ShiftKind kind, float value, float shift)
{
    if (kind == ShiftKind::octaves)
        return value * static_cast<float> (std::exp2 (static_cast<double> (shift)));
    return value + shift;
}

std::optional<std::string> validateMetadata (const ModelInfo& info)
{
    if (info.formatVersion != kSupportedFormatVersion)
        return "format_version is " + std::to_string (info.formatVersion) + ", this plugin reads version "
               + std::to_string (kSupportedFormatVersion);
    if (info.sampleRate < 8000 || info.sampleRate > 384000)
        return "sample_rate " + std::to_string (info.sampleRate) + " is outside 8000..384000 Hz";
    if (info.hopLength < 1 || info.hopLength > 8192)
        return "hop_length " + std::to_string (info.hopLength) + " is outside 1..8192 samples";
    if (info.latentSize < 1)
        return "latent_size must be at least 1, got " + std::to_string (info.latentSize);
    if (info.latencySamples < 0)
        return "latency_samples must not be negative, got " + std::to_string (info.latencySamples);

    const auto count = info.descriptorNames.size();
    if (info.descriptorUnits.size() != count)
        return "descriptor_units has " + std::to_string (info.descriptorUnits.size()) + " entries but descriptor_names has "
               + std::to_string (count);
    if (info.descriptorMin.size() != count)
        return "descriptor_min has " + std::to_string (info.descriptorMin.size()) + " entries but descriptor_names has "
               + std::to_string (count);
    if (info.descriptorMax.size() != count)
        return "descriptor_max has " + std::to_string (info.descriptorMax.size()) + " entries but descriptor_names has "
               + std::to_string (count);

    std::set<std::string> seen;
    for (size_t i = 0; i < count; ++i)
    {
        const auto& name = info.descriptorNames[i];
        if (name.empty())
            return "descriptor_names[" + std::to_string (i) + "] is empty";
        if (! seen.insert (name).second)
            return "descriptor_names lists '" + name + "' twice";
        if (const auto* entry = findVocabularyEntry (name); entry != nullptr && info.descriptorUnits[i] != entry->unit)
            return "descriptor_units[" + std::to_string (i) + "] for '" + name + "' is '" + info.descriptorUnits[i]
                   + "', the contract requires '" + entry->unit + "'";
        const float lo = info.descriptorMin[i], hi = info.descriptorMax[i];
        if (! std::isfinite (lo) || ! std::isfinite (hi) || ! (lo < hi))
            return "descriptor_min/descriptor_max for '" + name + "' must be finite with min < max";
    }

    if (info.modelName.empty())
        return "model_name is empty";
    if (info.modelCard.empty() || info.modelCard.front() != '{')
        return "model_card must be a JSON object";
    return std::nullopt;
}
} // namespace timbrel
