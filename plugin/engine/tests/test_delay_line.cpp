#include "timbrel/DelayLine.h"

#include <catch2/catch.hpp>

#include <vector>

using timbrel::DelayLine;

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
