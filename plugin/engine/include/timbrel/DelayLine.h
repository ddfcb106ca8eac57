#pragma once
// The fixed multichannel delay that keeps the dry signal aligned with the wet one. Plain C++,
// no allocation after prepare().

#include <algorithm>
#include <vector>

namespace timbrel
{
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
