#include "timbrel/Timbres.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace timbrel
{
std::array<float, 2> principalCoordinates (const ModelInfo& info, const float* latent) noexcept
{
    const auto size = static_cast<size_t> (std::max (0, info.latentSize));
    if (info.latentMean.size() < size || info.latentComponents.size() < size * std::min<size_t> (size, 2))
        return { 0.0f, 0.0f };
    float x = 0.0f, y = 0.0f;
    for (size_t i = 0; i < size; ++i)
    {
        const float centred = latent[i] - info.latentMean[i];
        x += centred * info.latentComponents[i];
        y += centred * (size > 1 ? info.latentComponents[size + i] : 0.0f);
    }
    return { x, y };
}

void TimbreSlots::set (int slot, const float* latent, int latentSize) noexcept
{
    if (slot < 0 || slot >= kNumSlots)
        return;
    auto& row = values[static_cast<size_t> (slot)];
    const int n = std::clamp (latentSize, 0, kMaxTimbreLatent);
    for (int i = 0; i < n; ++i)
        row[static_cast<size_t> (i)].store (latent[i], std::memory_order_relaxed);
}

void LatentHistory::prepare (int latentSize) noexcept
{
    latents = std::clamp (latentSize, 0, kMaxTimbreLatent);
    written.store (0, std::memory_order_relaxed);
}

void LatentHistory::publish (const float* latent, float loudnessDb, float flatnessDb) noexcept
{
    const uint64_t n = written.load (std::memory_order_relaxed);
    const size_t stride = static_cast<size_t> (kMaxTimbreLatent + 2);
    const size_t base = static_cast<size_t> (n % kHops) * stride;
    for (int i = 0; i < latents; ++i)
        data[base + static_cast<size_t> (i)].store (latent[i], std::memory_order_relaxed);
    data[base + kMaxTimbreLatent].store (loudnessDb, std::memory_order_relaxed);
    data[base + kMaxTimbreLatent + 1].store (flatnessDb, std::memory_order_relaxed);
    written.store (n + 1, std::memory_order_release);
}

std::vector<LatentHistory::Hop> LatentHistory::recent (int numHops) const
{
    const uint64_t end = written.load (std::memory_order_acquire);
    const uint64_t count = std::min<uint64_t> ({ end, static_cast<uint64_t> (std::max (0, numHops)), kHops });
    const size_t stride = static_cast<size_t> (kMaxTimbreLatent + 2);
    std::vector<Hop> hops (static_cast<size_t> (count));
    for (uint64_t k = 0; k < count; ++k)
    {
        const size_t base = static_cast<size_t> ((end - count + k) % kHops) * stride;
        auto& hop = hops[static_cast<size_t> (k)];
        hop.latent.resize (static_cast<size_t> (latents));
        for (int i = 0; i < latents; ++i)
            hop.latent[static_cast<size_t> (i)] = data[base + static_cast<size_t> (i)].load (std::memory_order_relaxed);
        hop.loudness = data[base + kMaxTimbreLatent].load (std::memory_order_relaxed);
        hop.flatness = data[base + kMaxTimbreLatent + 1].load (std::memory_order_relaxed);
    }
    // Hops the writer reached while we read may hold newer values: drop them (the oldest).
    const uint64_t after = written.load (std::memory_order_acquire);
    const uint64_t overwritten = std::min<uint64_t> (count, after - end);
    hops.erase (hops.begin(), hops.begin() + static_cast<std::ptrdiff_t> (overwritten));
    return hops;
}

CaptureResult captureTimbre (const std::vector<LatentHistory::Hop>& hops, double hopSeconds, float minSoundingSeconds)
{
    CaptureResult result;
    float loudest = -INFINITY;
    for (const auto& hop : hops)
        if (std::isfinite (hop.loudness))
            loudest = std::max (loudest, hop.loudness);
    // Frames within 30 dB of the loudest carry the timbre (as the model's named timbres were
    // measured); -60 dB keeps a quiet room's hiss from counting as sound.
    const float gate = std::max (loudest - 30.0f, -60.0f);
    std::vector<const LatentHistory::Hop*> sounding;
    for (const auto& hop : hops)
        if (std::isnan (hop.loudness) || hop.loudness > gate) // NaN: a model without loudness
            if (std::all_of (hop.latent.begin(), hop.latent.end(), [] (float v) { return std::isfinite (v); }))
                sounding.push_back (&hop);
    result.soundingSeconds = static_cast<float> (static_cast<double> (sounding.size()) * hopSeconds);
    char text[200];
    if (result.soundingSeconds < minSoundingSeconds)
    {
        std::snprintf (text, sizeof (text),
                       "Capture needs %.1f s of sounding input; the last seconds held %.1f s: the snapshot is unchanged",
                       static_cast<double> (minSoundingSeconds), static_cast<double> (result.soundingSeconds));
        result.error = text;
        return result;
    }
    std::vector<float> flatness;
    for (const auto* hop : sounding)
        if (std::isfinite (hop->flatness))
            flatness.push_back (hop->flatness);
    if (! flatness.empty())
    {
        auto middle = flatness.begin() + static_cast<std::ptrdiff_t> (flatness.size() / 2);
        std::nth_element (flatness.begin(), middle, flatness.end());
        if (*middle > kNoiseFlatnessDb)
        {
            std::snprintf (text, sizeof (text),
                           "Capture heard noise, not an instrument (flatness %.1f dB): the snapshot is unchanged",
                           static_cast<double> (*middle));
            result.error = text;
            return result;
        }
    }
    result.latent.assign (sounding.front()->latent.size(), 0.0f);
    for (const auto* hop : sounding)
        for (size_t i = 0; i < result.latent.size(); ++i)
            result.latent[i] += hop->latent[i];
    for (auto& v : result.latent)
        v /= static_cast<float> (sounding.size());
    return result;
}
} // namespace timbrel
