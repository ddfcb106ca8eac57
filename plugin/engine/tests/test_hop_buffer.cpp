#include "timbrel/HopBuffer.h"

#include <catch2/catch.hpp>

#include <random>

using timbrel::DelayLine;
using timbrel::HopBuffer;

namespace
{
// A hop transform whose output depends on which hop it is, so misaligned hops show up.
struct CountingHop
{
    int hop, channels, count = 0;
    void operator() (const float* in, float* out)
    {
        for (int i = 0; i < hop * channels; ++i)
            out[i] = 2.0f * in[i] + static_cast<float> (count);
        ++count;
    }
};

float inputSample (int ch, int n) { return static_cast<float> ((n * 7 + ch * 13) % 101) - 50.0f; }

// Runs `total` samples through a HopBuffer in blocks drawn from `blockSizes` (cycled), in place.
std::vector<std::vector<float>> runBlocks (int hop, int channels, int total, const std::vector<int>& blockSizes)
{
    HopBuffer buffer;
    buffer.prepare (channels, hop);
    CountingHop transform { hop, channels };
    std::vector<std::vector<float>> signal (static_cast<size_t> (channels), std::vector<float> (static_cast<size_t> (total)));
    for (int ch = 0; ch < channels; ++ch)
        for (int n = 0; n < total; ++n)
            signal[ch][n] = inputSample (ch, n);

    size_t which = 0;
    for (int done = 0; done < total;)
    {
        const int n = std::min (blockSizes[which++ % blockSizes.size()], total - done);
        float* ptrs[2] = { signal[0].data() + done, channels > 1 ? signal[1].data() + done : nullptr };
        buffer.process (ptrs, ptrs, n, transform);
        done += n;
    }
    return signal;
}
} // namespace

TEST_CASE ("hop buffer output is the hop transform delayed by exactly one hop, for any block sizes")
{
    const int total = 20000;
    const std::vector<std::vector<int>> schedules {
        { 1 }, { 7 }, { 256 }, { 255 }, { 257 }, { 8192 }, { 1, 8192, 3, 500, 64, 4097 },
    };
    for (int hop : { 1, 64, 256, 441 })
        for (int channels : { 1, 2 })
            for (const auto& schedule : schedules)
            {
                CAPTURE (hop, channels, schedule);
                const auto out = runBlocks (hop, channels, total, schedule);
                for (int ch = 0; ch < channels; ++ch)
                    for (int n = 0; n < total; ++n)
                    {
                        const float expected = n < hop ? 0.0f : 2.0f * inputSample (ch, n - hop) + static_cast<float> ((n - hop) / hop);
                        if (out[ch][n] != expected)
                        {
                            CAPTURE (ch, n, out[ch][n], expected);
                            FAIL ("misaligned sample");
                        }
                    }
            }
}

TEST_CASE ("hop buffer with random block sizes matches hop-sized blocks")
{
    std::mt19937 rng (1234);
    std::uniform_int_distribution<int> size (1, 8192);
    std::vector<int> randomSizes (200);
    for (auto& s : randomSizes)
        s = size (rng);
    const auto reference = runBlocks (256, 2, 100000, { 256 });
    const auto random = runBlocks (256, 2, 100000, randomSizes);
    REQUIRE (reference == random);
}

TEST_CASE ("hop buffer reset clears pending audio")
{
    HopBuffer buffer;
    buffer.prepare (1, 4);
    CountingHop transform { 4, 1 };
    std::vector<float> block { 1, 2, 3, 4, 5, 6 };
    float* p[1] = { block.data() };
    buffer.process (p, p, 6, transform);
    buffer.reset();
    std::vector<float> zeros (4, 0.0f);
    float* z[1] = { zeros.data() };
    buffer.process (z, z, 4, transform);
    REQUIRE (zeros == std::vector<float> (4, 0.0f));
}

TEST_CASE ("delay line delays every channel by the set amount across blocks")
{
    for (int delay : { 0, 1, 256, 1000 })
    {
        DelayLine line;
        line.prepare (2, delay);
        const int total = 5000;
        std::vector<float> a (total), b (total), outA (total), outB (total);
        for (int n = 0; n < total; ++n)
        {
            a[n] = static_cast<float> (n + 1);
            b[n] = -static_cast<float> (n + 1);
        }
        for (int done = 0, blockSize = 1; done < total; done += blockSize, blockSize = blockSize * 3 % 997 + 1)
        {
            const int n = std::min (blockSize, total - done);
            const float* in[2] = { a.data() + done, b.data() + done };
            float* out[2] = { outA.data() + done, outB.data() + done };
            line.process (in, out, n);
        }
        for (int n = 0; n < total; ++n)
        {
            const float expected = n < delay ? 0.0f : static_cast<float> (n - delay + 1);
            REQUIRE (outA[n] == expected);
            REQUIRE (outB[n] == -expected);
        }
    }
}
