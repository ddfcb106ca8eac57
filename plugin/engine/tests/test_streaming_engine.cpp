#include "TestModels.h"
#include "timbrel/StreamingEngine.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using namespace timbrel;

namespace
{
std::unique_ptr<StreamingEngine> makeEngine (const std::string& path = test::testModelPath())
{
    auto result = Model::load (path);
    INFO (result.error);
    REQUIRE (result);
    return std::make_unique<StreamingEngine> (std::move (result.model));
}

std::vector<std::vector<float>> testSignal (int channels, int length)
{
    std::vector<std::vector<float>> x (static_cast<size_t> (channels), std::vector<float> (static_cast<size_t> (length)));
    for (int ch = 0; ch < channels; ++ch)
        for (int n = 0; n < length; ++n)
            x[ch][n] = 0.3f * std::sin (0.01f * n * (1 + ch)) + 0.1f * std::sin (0.37f * n);
    return x;
}

std::vector<std::vector<float>> render (StreamingEngine& engine, std::vector<std::vector<float>> x,
                                        const std::vector<int>& blocks, const EngineControls& controls = {})
{
    const int total = static_cast<int> (x[0].size());
    size_t which = 0;
    for (int done = 0; done < total;)
    {
        const int n = std::min (blocks[which++ % blocks.size()], total - done);
        float* ptrs[2] = { x[0].data() + done, x.size() > 1 ? x[1].data() + done : nullptr };
        engine.process (ptrs, ptrs, static_cast<int> (x.size()), n, controls);
        done += n;
    }
    return x;
}
} // namespace

TEST_CASE ("latency is one hop plus the model's own delay")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (44100.0, 512, 2).empty());
    CHECK (engine->latencySamples() == 256 + 31);
}

TEST_CASE ("odd and changing host block sizes give the same output as hop-sized blocks")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (44100.0, 8192, 2).empty());
    const auto x = testSignal (2, 30000);
    const auto reference = render (*engine, x, { 256 });
    engine->reset();
    const auto odd = render (*engine, x, { 1, 7, 8192, 255, 300, 64, 4097 });
    REQUIRE (reference == odd);

    // And it is not a pass-through: the model filters the signal.
    float difference = 0.0f;
    for (int n = 1000; n < 30000; ++n)
        difference = std::max (difference, std::abs (reference[0][n] - x[0][n - 287]));
    CHECK (difference > 0.01f);
}

TEST_CASE ("blocks larger than prepared are split, not overrun")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (44100.0, 64, 1).empty());
    const auto x = testSignal (1, 20000);
    const auto small = render (*engine, x, { 64 });
    engine->reset();
    const auto large = render (*engine, x, { 5000 });
    REQUIRE (small == large);
}

TEST_CASE ("mix 0 gives the input delayed by exactly the reported latency")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (44100.0, 512, 1).empty());
    EngineControls dry;
    dry.mix = 0.0f;
    render (*engine, testSignal (1, 512), { 512 }, dry); // settle the mix ramp
    engine->reset();
    const auto x = testSignal (1, 10000);
    const auto out = render (*engine, x, { 100 }, dry);
    const int latency = engine->latencySamples();
    for (int n = latency; n < 10000; ++n)
        REQUIRE (out[0][n] == x[0][n - latency]);
}

TEST_CASE ("a loudness shift of +6 dB doubles the output amplitude")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (44100.0, 512, 1).empty());
    const auto x = testSignal (1, 20000);
    const auto plain = render (*engine, x, { 512 });
    engine->reset();
    EngineControls louder;
    louder.shifts[0] = 6.0f; // loudness
    const auto shifted = render (*engine, x, { 512 }, louder);
    double plainEnergy = 0, shiftedEnergy = 0;
    for (int n = 5000; n < 20000; ++n)
    {
        plainEnergy += plain[0][n] * plain[0][n];
        shiftedEnergy += shifted[0][n] * shifted[0][n];
    }
    CHECK (10.0 * std::log10 (shiftedEnergy / plainEnergy) == Approx (6.0).margin (0.05));
}

TEST_CASE ("NaN and Inf input leave the output finite")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (44100.0, 512, 2).empty());
    auto x = testSignal (2, 8000);
    x[0][1000] = std::numeric_limits<float>::quiet_NaN();
    x[1][2000] = std::numeric_limits<float>::infinity();
    for (auto mix : { 1.0f, 0.5f })
    {
        EngineControls controls;
        controls.mix = mix;
        const auto out = render (*engine, x, { 333 }, controls);
        for (const auto& channel : out)
            for (float v : channel)
                REQUIRE (std::isfinite (v));
    }
}

TEST_CASE ("a model at another sample rate is reported and passes audio dry at the reported latency")
{
    auto engine = makeEngine (test::modelsFolder() + "/timbrel-test-22k.ts");
    const auto error = engine->prepare (44100.0, 512, 1);
    CHECK (error.find ("22050 Hz") != std::string::npos);
    CHECK (error.find ("44100 Hz") != std::string::npos);
    CHECK_FALSE (engine->isActive());
    const auto x = testSignal (1, 2000);
    const auto out = render (*engine, x, { 100 });
    const int latency = engine->latencySamples();
    for (int n = 0; n < 2000; ++n)
        REQUIRE (out[0][n] == (n < latency ? 0.0f : x[0][n - latency]));
    CHECK (engine->prepare (22050.0, 512, 1).empty());
    CHECK (engine->isActive());
}
