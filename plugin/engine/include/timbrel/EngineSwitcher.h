#pragma once
// Hands engines from the loader to the audio thread without locks: a new engine is published
// into an atomic slot, the audio thread picks it up, runs it beside the old one until it has
// filled its latency, crossfades, and hands the old one back through retirement slots that a
// non-audio thread empties. Offline (and right after prepare/reset) the switch is immediate.

#include "timbrel/StreamingEngine.h"

#include <array>
#include <atomic>
#include <memory>
#include <vector>

namespace timbrel
{
class EngineSwitcher
{
public:
    ~EngineSwitcher();

    /** Scratch for crossfades. Audio stopped. */
    void prepare (int numChannels, int maxBlockSize);

    // ---- any one non-audio thread at a time (loader, message thread) ----
    /** The next engine to play (null: pass audio through). Replaces one not yet picked up. */
    void publish (std::unique_ptr<StreamingEngine> engine);
    /** Deletes engines the audio thread has retired. */
    void collectGarbage();
    /** The engine most recently published, or null. Valid until the next publish + collectGarbage. */
    StreamingEngine* latest() const { return latestPublished; }

    // ---- audio stopped (prepareToPlay, reset) ----
    /** Installs a pending engine at once and ends any crossfade. Returns the engine now playing. */
    StreamingEngine* settle();
    StreamingEngine* playing() const { return current; }

    // ---- any thread, lock-free (a host may reset from its audio thread) ----
    /** The next process() call starts a new render: a pending engine is installed at once, a
        crossfade ends, and the playing engine restarts its stream (StreamingEngine::requestReset). */
    void requestReset() noexcept { resetRequested.store (true, std::memory_order_release); }

    // ---- audio thread ----
    void process (const float* const* in, float* const* out, int numChannels, const float* const* sidechain,
                  int sidechainChannels, int numSamples, const EngineControls& controls, bool offline) noexcept;

    bool isSwitching() const { return incoming != nullptr; }

    /** Samples of the model-switch crossfade at a host rate. */
    static int fadeLengthAt (double sampleRate);

private:
    void retire (StreamingEngine* engine) noexcept;
    /** Plays `next` from now on; the current and any incoming engine are retired. */
    void installNow (StreamingEngine* next) noexcept;
    void retryRetirement() noexcept;
    void runEngine (StreamingEngine* engine, const float* const* in, float* const* out, int numChannels,
                    const float* const* sidechain, int sidechainChannels, int n, const EngineControls& controls) noexcept;

    // A model switch crossfades over this long at any host rate (2048 samples at 44.1 kHz).
    static constexpr double kFadeSeconds = 2048.0 / 44100.0;
    static constexpr int kRetireSlots = 8;

    std::atomic<StreamingEngine*> pending { nullptr };
    std::atomic<bool> resetRequested { false };
    std::array<std::atomic<StreamingEngine*>, kRetireSlots> retired {};
    StreamingEngine* latestPublished = nullptr;

    StreamingEngine* current = nullptr;  // audio thread
    StreamingEngine* incoming = nullptr; // audio thread: warming up or fading in
    StreamingEngine* waitingToRetire = nullptr;
    bool offlineBlock = false;
    int warmRemaining = 0, fadePosition = 0, fadeLength = 1, channels = 0, maxBlock = 0;
    std::vector<float> inCopy, incomingOut;
    std::vector<float*> inCopyPtrs, incomingOutPtrs;
};
} // namespace timbrel
