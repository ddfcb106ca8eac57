#include "timbrel/EngineSwitcher.h"

#include <algorithm>
#include <cmath>
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
    retryRetirement();
    if (auto* next = pending.exchange (nullptr))
        installNow (next);
    else if (incoming != nullptr)
        installNow (std::exchange (incoming, nullptr));
    return current;
}

void EngineSwitcher::installNow (StreamingEngine* next) noexcept
{
    retire (std::exchange (incoming, nullptr));
    retire (std::exchange (current, next));
}

void EngineSwitcher::retryRetirement() noexcept
{
    if (waitingToRetire != nullptr)
        retire (std::exchange (waitingToRetire, nullptr));
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
    retryRetirement();
    const bool reset = resetRequested.exchange (false, std::memory_order_acq_rel);
    if (auto* next = pending.exchange (nullptr))
    {
        if (current == nullptr || ! current->hasModel() || offline || reset)
            installNow (next);
        else
        {
            retire (std::exchange (incoming, next));
            warmRemaining = next->latencySamples();
            fadePosition = 0;
            fadeLength = fadeLengthAt (next->config().sampleRate);
        }
    }

    if (reset)
    {
        if (incoming != nullptr)
            installNow (std::exchange (incoming, nullptr));
        if (current != nullptr && current->hasModel())
            current->requestReset(); // handled inside its process() below
    }

    for (int done = 0; done < numSamples;)
    {
        const float* chunkIn[2];
        float* chunkOut[2];
        const float* chunkSide[2] = { nullptr, nullptr };
        for (int ch = 0; ch < numChannels; ++ch)
        {
            chunkIn[ch] = in[ch] + done;
            chunkOut[ch] = out[ch] + done;
        }
        for (int ch = 0; sidechain != nullptr && ch < std::min (2, sidechainChannels); ++ch)
            chunkSide[ch] = sidechain[ch] + done;
        const float* const* side = sidechain != nullptr ? chunkSide : nullptr;

        if (incoming == nullptr || numChannels != channels)
        {
            // No switch under way (or it just completed, or there is no scratch for this
            // layout): the rest of the block is the current engine's.
            runEngine (current, chunkIn, chunkOut, numChannels, side, sidechainChannels, numSamples - done, controls);
            return;
        }

        // Both engines run on a copy of the input (the current one may write in place); the new
        // one is heard once its own latency has filled with real output.
        const int n = std::min (maxBlock, numSamples - done);
        for (int ch = 0; ch < numChannels; ++ch)
        {
            std::memcpy (inCopyPtrs[static_cast<size_t> (ch)], chunkIn[ch], sizeof (float) * static_cast<size_t> (n));
            chunkIn[ch] = inCopyPtrs[static_cast<size_t> (ch)];
        }
        runEngine (current, chunkIn, chunkOut, numChannels, side, sidechainChannels, n, controls);
        runEngine (incoming, chunkIn, incomingOutPtrs.data(), numChannels, side, sidechainChannels, n, controls);

        for (int i = 0; i < n; ++i)
        {
            if (warmRemaining > 0)
            {
                --warmRemaining;
                continue;
            }
            const float g = static_cast<float> (std::min (fadePosition++, fadeLength)) / static_cast<float> (fadeLength);
            for (int ch = 0; ch < numChannels; ++ch)
                chunkOut[ch][i] = (1.0f - g) * chunkOut[ch][i] + g * incomingOutPtrs[static_cast<size_t> (ch)][i];
        }
        done += n;
        if (fadePosition >= fadeLength)
            installNow (std::exchange (incoming, nullptr));
    }
}

int EngineSwitcher::fadeLengthAt (double sampleRate)
{
    return std::max (1, static_cast<int> (std::lround (kFadeSeconds * sampleRate)));
}
} // namespace timbrel
