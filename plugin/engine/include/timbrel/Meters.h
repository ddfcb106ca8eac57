#pragma once
// What the editor draws: per hop, the input's descriptors, the targets after the faders, and
// (through a tap of the model's output) what the output measures. The thread running the
// model writes after each hop; one reader (the message thread) polls. Lock-free and
// allocation-free on the writing side; values are channel 0's (left, or mid when linked).

#include "timbrel/Rings.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

namespace timbrel
{
class DescriptorMeters
{
public:
    static constexpr int kMaxDescriptors = 16;
    static constexpr int kTapHops = 256; // model output kept for analysis between two polls

    /** Not concurrently with the writer. */
    void prepare (int numDescriptors, int hopLength)
    {
        descriptors = std::clamp (numDescriptors, 0, kMaxDescriptors);
        hop = std::max (1, hopLength);
        tap.prepare (1, kTapHops * hop);
        for (int i = 0; i < kMaxDescriptors; ++i)
        {
            input[static_cast<size_t> (i)].store (0.0f, std::memory_order_relaxed);
            target[static_cast<size_t> (i)].store (0.0f, std::memory_order_relaxed);
        }
        hops.store (0, std::memory_order_relaxed);
        load.store (0.0f, std::memory_order_relaxed);
    }

    // ---- writer: the thread that runs the model ----
    /** One hop of channel 0: `measured` and `targets` hold numDescriptors values, `output` one
        hop of model-rate samples (tapped only while a reader wants it). `seconds` is the time
        the hop took to compute, `hopSeconds` its duration in audio. */
    void publish (const float* measured, const float* targets, const float* output, double seconds, double hopSeconds) noexcept
    {
        for (int i = 0; i < descriptors; ++i)
        {
            input[static_cast<size_t> (i)].store (measured[i], std::memory_order_relaxed);
            target[static_cast<size_t> (i)].store (targets[i], std::memory_order_relaxed);
        }
        if (tapWanted.load (std::memory_order_relaxed))
            tap.write (&output, hop); // full: the reader fell behind; it catches up on later hops
        // Model load: compute time over audio time, smoothed over about 20 hops.
        const float now = hopSeconds > 0.0 ? static_cast<float> (seconds / hopSeconds) : 0.0f;
        const float previous = load.load (std::memory_order_relaxed);
        load.store (previous + 0.05f * (now - previous), std::memory_order_relaxed);
        hops.fetch_add (1, std::memory_order_release);
    }

    // ---- reader: one thread ----
    int numDescriptors() const { return descriptors; }
    int hopLength() const { return hop; }
    /** Hops published so far: the reader's clock (new values when it changes). */
    uint32_t hopCount() const { return hops.load (std::memory_order_acquire); }
    float inputValue (int i) const { return input[static_cast<size_t> (i)].load (std::memory_order_relaxed); }
    float targetValue (int i) const { return target[static_cast<size_t> (i)].load (std::memory_order_relaxed); }
    /** Share of real time the model takes to compute a hop (1 = all of it). */
    float modelLoad() const { return load.load (std::memory_order_relaxed); }

    /** Starts or stops tapping the output; a reader that stops drains nothing more. */
    void wantOutputTap (bool wanted) { tapWanted.store (wanted, std::memory_order_relaxed); }
    /** Whole hops of tapped output waiting to be read. */
    int tappedHops() const { return tap.availableToRead() / hop; }
    /** Reads `numHops` whole hops of tapped output into `dst`. */
    bool readTappedHops (float* dst, int numHops) { return tap.read (&dst, numHops * hop); }

private:
    int descriptors = 0, hop = 1;
    std::array<std::atomic<float>, kMaxDescriptors> input {}, target {};
    std::atomic<uint32_t> hops { 0 };
    std::atomic<float> load { 0.0f };
    std::atomic<bool> tapWanted { false };
    SampleRing tap;
};
} // namespace timbrel
