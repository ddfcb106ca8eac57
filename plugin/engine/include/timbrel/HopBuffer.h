#pragma once
// Block accumulation between host blocks of any size and the model's fixed hop, and the
// delay line that keeps the dry signal aligned with the wet one. Plain C++, no allocation
// after prepare().

#include <algorithm>
#include <cstring>
#include <vector>

namespace timbrel
{
/** Collects host samples into hops and plays back the processed hop one hop later, so its
    latency is exactly one hop whatever the host block sizes. */
class HopBuffer
{
public:
    void prepare (int numChannels, int hopLength)
    {
        channels = numChannels;
        hop = hopLength;
        inFrames.assign (static_cast<size_t> (channels * hop), 0.0f);
        outFrames.assign (inFrames.size(), 0.0f);
        position = 0;
    }

    void reset()
    {
        std::fill (inFrames.begin(), inFrames.end(), 0.0f);
        std::fill (outFrames.begin(), outFrames.end(), 0.0f);
        position = 0;
    }

    int latencySamples() const { return hop; }

    /** `onHop (const float* in, float* out)` gets channel-major [channels x hop] frames.
        `in` and `out` may point to the same host buffers. */
    template <typename OnHop>
    void process (const float* const* in, float* const* out, int numSamples, OnHop&& onHop)
    {
        int done = 0;
        while (done < numSamples)
        {
            const int n = std::min (hop - position, numSamples - done);
            for (int ch = 0; ch < channels; ++ch)
            {
                // Input first: with in-place host buffers `out` overwrites `in`.
                std::memcpy (frame (inFrames, ch) + position, in[ch] + done, sizeof (float) * static_cast<size_t> (n));
                std::memcpy (out[ch] + done, frame (outFrames, ch) + position, sizeof (float) * static_cast<size_t> (n));
            }
            position += n;
            done += n;
            if (position == hop)
            {
                onHop (inFrames.data(), outFrames.data());
                position = 0;
            }
        }
    }

private:
    float* frame (std::vector<float>& frames, int ch) { return frames.data() + static_cast<size_t> (ch * hop); }

    int channels = 0, hop = 1, position = 0;
    std::vector<float> inFrames, outFrames;
};

/** Fixed multichannel delay (the latency-compensated dry path). */
class DelayLine
{
public:
    void prepare (int numChannels, int delaySamples)
    {
        delay = delaySamples;
        size = delay + 1;
        buffers.assign (static_cast<size_t> (numChannels), std::vector<float> (static_cast<size_t> (size), 0.0f));
        writeIndex = 0;
    }

    void reset()
    {
        for (auto& b : buffers)
            std::fill (b.begin(), b.end(), 0.0f);
        writeIndex = 0;
    }

    /** out[ch][i] = in[ch][i - delay]; `in` and `out` must not alias. */
    void process (const float* const* in, float* const* out, int numSamples)
    {
        int index = writeIndex;
        for (size_t ch = 0; ch < buffers.size(); ++ch)
        {
            auto* line = buffers[ch].data();
            index = writeIndex;
            for (int i = 0; i < numSamples; ++i)
            {
                line[index] = in[ch][i];
                int read = index - delay;
                if (read < 0)
                    read += size;
                out[ch][i] = line[read];
                if (++index == size)
                    index = 0;
            }
        }
        writeIndex = index;
    }

private:
    std::vector<std::vector<float>> buffers;
    int delay = 0, size = 1, writeIndex = 0;
};
} // namespace timbrel
