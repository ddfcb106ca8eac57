#include "timbrel/ModelInfo.h"

#include <algorithm>
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
    return validateTimbres (info);
}

std::optional<std::string> validateTimbres (const ModelInfo& info)
{
    const auto latent = static_cast<size_t> (std::max (info.latentSize, 0));
    auto finite = [] (const std::vector<float>& values) {
        return std::all_of (values.begin(), values.end(), [] (float v) { return std::isfinite (v); });
    };
    if (! info.timbreNames.empty() || ! info.timbreLatents.empty())
    {
        std::set<std::string> seen;
        for (const auto& name : info.timbreNames)
        {
            if (name.empty())
                return std::string ("timbre_names must list at least one non-empty name");
            if (! seen.insert (name).second)
                return "timbre_names lists a name twice ('" + name + "')";
        }
        if (info.timbreNames.empty())
            return std::string ("timbre_names must list at least one non-empty name");
        if (info.timbreLatents.size() != info.timbreNames.size() * latent)
            return "attribute 'timbre_latents' holds " + std::to_string (info.timbreLatents.size()) + " values, expected "
                   + std::to_string (info.timbreNames.size() * latent);
        if (! finite (info.timbreLatents))
            return std::string ("attribute 'timbre_latents' holds NaN or Inf");
    }
    if (! info.latentMean.empty() || ! info.latentComponents.empty())
    {
        if (info.latentMean.size() != latent || info.latentComponents.size() != latent * latent)
            return std::string ("attributes 'latent_mean' and 'latent_components' must be [latent_size] and [latent_size, latent_size]");
        if (! finite (info.latentMean))
            return std::string ("attribute 'latent_mean' holds NaN or Inf");
        if (! finite (info.latentComponents))
            return std::string ("attribute 'latent_components' holds NaN or Inf");
        // Orthonormal rows within the contract's 1e-3 (timbrel.format.contract.AXES_TOLERANCE).
        for (size_t i = 0; i < latent; ++i)
            for (size_t j = 0; j <= i; ++j)
            {
                double dot = 0.0;
                for (size_t k = 0; k < latent; ++k)
                    dot += static_cast<double> (info.latentComponents[i * latent + k]) * info.latentComponents[j * latent + k];
                if (std::abs (dot - (i == j ? 1.0 : 0.0)) > 1e-3)
                    return std::string ("latent_components' rows must be orthonormal (unit-length principal axes)");
            }
    }
    return std::nullopt;
}
} // namespace timbrel
