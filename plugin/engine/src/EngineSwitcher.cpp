#include "timbrel/EngineSwitcher.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace timbrel
{
EngineSwitcher::~EngineSwitcher()
{
    delete pending.exchange (nullptr);
    for (auto& slot : retired)
        delete slot.exchange (nullptr);
    delete waitingToRetire;
    delete incoming;
    delete current;
}

void EngineSwitcher::prepare (int numChannels, int maxBlockSize)
{
    channels = numChannels;
    maxBlock = std::max (1, maxBlockSize);
    const size_t size = static_cast<size_t> (channels * maxBlock);
    inCopy.assign (size, 0.0f);
    incomingOut.assign (size, 0.0f);
    inCopyPtrs.resize (static_cast<size_t> (channels));
    incomingOutPtrs.resize (static_cast<size_t> (channels));
    for (int ch = 0; ch < channels; ++ch)
    {
        inCopyPtrs[static_cast<size_t> (ch)] = inCopy.data() + static_cast<size_t> (ch * maxBlock);
        incomingOutPtrs[static_cast<size_t> (ch)] = incomingOut.data() + static_cast<size_t> (ch * maxBlock);
    }
}

void EngineSwitcher::publish (std::unique_ptr<StreamingEngine> engine)
{
    latestPublished = engine.get();
    // A null engine is published as a marker so "play nothing" also replaces the current one.
    delete pending.exchange (engine != nullptr ? engine.release() : new StreamingEngine (nullptr));
}

void EngineSwitcher::collectGarbage()
{
    for (auto& slot : retired)
        delete slot.exchange (nullptr);
}

StreamingEngine* EngineSwitcher::settle()
{
    if (auto* next = pending.exchange (nullptr))
    {
        retire (incoming);
        incoming = nullptr;
        retire (current);
        current = next;
    }
    else if (incoming != nullptr)
    {
        retire (current);
        current = incoming;
        incoming = nullptr;
    }
    if (waitingToRetire != nullptr)
    {
        auto* engine = std::exchange (waitingToRetire, nullptr);
        retire (engine);
    }
    return current;
}

void EngineSwitcher::retire (StreamingEngine* engine) noexcept
{
    if (engine == nullptr)
        return;
    for (auto& slot : retired)
    {
        StreamingEngine* expected = nullptr;
        if (slot.compare_exchange_strong (expected, engine))
            return;
    }
    // Every slot is full (nobody collected for a while): keep it and try again next block.
    waitingToRetire = engine;
}

void EngineSwitcher::runEngine (StreamingEngine* engine, const float* const* in, float* const* out, int numChannels,
                                const float* const* sidechain, int sidechainChannels, int n,
                                const EngineControls& controls) noexcept
{
    if (engine != nullptr && engine->hasModel())
    {
        engine->setNonRealtime (offlineBlock);
        engine->process (in, out, numChannels, sidechain, sidechainChannels, n, controls);
    }
    else
        for (int ch = 0; ch < numChannels; ++ch)
            if (in[ch] != out[ch])
                std::memcpy (out[ch], in[ch], sizeof (float) * static_cast<size_t> (n));
}

void EngineSwitcher::process (const float* const* in, float* const* out, int numChannels, const float* const* sidechain,
                              int sidechainChannels, int numSamples, const EngineControls& controls, bool offline) noexcept
{
    offlineBlock = offline;
    if (waitingToRetire != nullptr)
    {
        auto* engine = std::exchange (waitingToRetire, nullptr);
        retire (engine);
    }
    if (auto* next = pending.exchange (nullptr))
    {
        if (current == nullptr || ! current->hasModel() || offline)
        {
            retire (incoming);
            incoming = nullptr;
            retire (current);
            current = next;
        }
        else
        {
            retire (incoming);
            incoming = next;
            warmRemaining = next->latencySamples();
            fadePosition = 0;
        }
    }

    if (incoming == nullptr || numChannels != channels)
    {
        runEngine (current, in, out, numChannels, sidechain, sidechainChannels, numSamples, controls);
        return;
    }

    // Both engines run; the new one is heard once its own latency has filled with real output.
    for (int done = 0; done < numSamples;)
    {
        const int n = std::min (maxBlock, numSamples - done);
        const float* chunkIn[2];
        float* chunkOut[2];
        const float* chunkSide[2] = { nullptr, nullptr };
        for (int ch = 0; ch < numChannels; ++ch)
        {
            std::memcpy (inCopyPtrs[static_cast<size_t> (ch)], in[ch] + done, sizeof (float) * static_cast<size_t> (n));
            chunkIn[ch] = inCopyPtrs[static_cast<size_t> (ch)];
            chunkOut[ch] = out[ch] + done;
        }
        for (int ch = 0; sidechain != nullptr && ch < std::min (2, sidechainChannels); ++ch)
            chunkSide[ch] = sidechain[ch] + done;
        const float* const* side = sidechain != nullptr ? chunkSide : nullptr;
        runEngine (current, chunkIn, chunkOut, numChannels, side, sidechainChannels, n, controls);
        runEngine (incoming, chunkIn, incomingOutPtrs.data(), numChannels, side, sidechainChannels, n, controls);

        for (int i = 0; i < n; ++i)
        {
            if (warmRemaining > 0)
            {
                --warmRemaining;
                continue;
            }
            const float g = static_cast<float> (std::min (fadePosition++, kFadeSamples)) / kFadeSamples;
            for (int ch = 0; ch < numChannels; ++ch)
                chunkOut[ch][i] = (1.0f - g) * chunkOut[ch][i] + g * incomingOutPtrs[static_cast<size_t> (ch)][i];
        }
        done += n;
        if (fadePosition >= kFadeSamples)
        {
            retire (current);
            current = incoming;
            incoming = nullptr;
            // The rest of the block belongs to the new engine alone.
            if (done < numSamples)
            {
                const float* restIn[2];
                float* restOut[2];
                for (int ch = 0; ch < numChannels; ++ch)
                {
                    restIn[ch] = in[ch] + done;
                    restOut[ch] = out[ch] + done;
                }
                const float* restSide[2] = { nullptr, nullptr };
                for (int ch = 0; sidechain != nullptr && ch < std::min (2, sidechainChannels); ++ch)
                    restSide[ch] = sidechain[ch] + done;
                runEngine (current, restIn, restOut, numChannels, sidechain != nullptr ? restSide : nullptr,
                           sidechainChannels, numSamples - done, controls);
            }
            return;
        }
    }
}
} // namespace timbrel
