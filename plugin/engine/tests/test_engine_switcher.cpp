#include "TestModels.h"
#include "timbrel/EngineSwitcher.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <thread>

using namespace timbrel;

namespace
{
std::unique_ptr<StreamingEngine> preparedEngine (const std::string& path)
{
    auto result = Model::load (path);
    INFO (result.error);
    REQUIRE (result);
    auto engine = std::make_unique<StreamingEngine> (std::move (result.model));
    EngineConfig config;
    config.numChannels = 1;
    config.maxBlockSize = 256;
    config.mode = ProcessingMode::inlined;
    REQUIRE (engine->prepare (config).empty());
    return engine;
}

std::vector<float> sine (int length)
{
    std::vector<float> x (static_cast<size_t> (length));
    for (int n = 0; n < length; ++n)
        x[static_cast<size_t> (n)] = 0.3f * std::sin (0.02f * static_cast<float> (n));
    return x;
}

void run (EngineSwitcher& switcher, std::vector<float>& x, int from, int to, bool offline)
{
    for (int done = from; done < to; done += 256)
    {
        float* p[1] = { x.data() + done };
        switcher.process (p, p, 1, nullptr, 0, std::min (256, to - done), EngineControls {}, offline);
    }
}
} // namespace

TEST_CASE ("a model switch while playing keeps the old model until the new one is primed, then crossfades")
{
    EngineSwitcher switcher;
    switcher.prepare (1, 256);
    switcher.publish (preparedEngine (test::modelsFolder() + "/timbrel-identity.ts"));
    auto* identity = switcher.settle();
    REQUIRE (identity != nullptr);

    const auto input = sine (40 * 256);
    auto out = input;
    run (switcher, out, 0, 10 * 256, false);
    auto next = preparedEngine (test::testModelPath());
    auto* filter = next.get();
    switcher.publish (std::move (next));
    CHECK (switcher.latest() == filter);
    run (switcher, out, 10 * 256, 40 * 256, false);

    CHECK (switcher.playing() == filter);
    CHECK_FALSE (switcher.isSwitching());
    // Until the new engine has filled its latency the old one plays alone: a pure delay.
    const int identityLatency = identity->latencySamples();
    for (int n = 10 * 256; n < 10 * 256 + filter->latencySamples(); ++n)
        REQUIRE (out[static_cast<size_t> (n)] == input[static_cast<size_t> (n - identityLatency)]);
    // No click: the output moves no faster than the sine itself does (0.3 * 0.02 per sample).
    float steepest = 0.0f;
    for (int n = 10 * 256; n < 40 * 256; ++n)
        steepest = std::max (steepest, std::abs (out[static_cast<size_t> (n)] - out[static_cast<size_t> (n - 1)]));
    CHECK (steepest < 0.3f * 0.02f * 1.5f);
    switcher.collectGarbage(); // the retired identity engine is deleted here, not on the audio thread
}

TEST_CASE ("offline, a switch is immediate")
{
    EngineSwitcher switcher;
    switcher.prepare (1, 256);
    switcher.publish (preparedEngine (test::modelsFolder() + "/timbrel-identity.ts"));
    switcher.settle();
    auto out = sine (4 * 256);
    run (switcher, out, 0, 256, true);
    auto next = preparedEngine (test::testModelPath());
    auto* filter = next.get();
    switcher.publish (std::move (next));
    run (switcher, out, 256, 512, true);
    CHECK (switcher.playing() == filter);
    CHECK_FALSE (switcher.isSwitching());
}

TEST_CASE ("publishing no engine passes audio through unchanged")
{
    EngineSwitcher switcher;
    switcher.prepare (1, 256);
    switcher.publish (nullptr);
    auto out = sine (1024);
    const auto input = out;
    run (switcher, out, 0, 1024, false);
    REQUIRE (out == input);
}

TEST_CASE ("the model-switch crossfade lasts the same time at every host rate")
{
    CHECK (EngineSwitcher::fadeLengthAt (44100.0) == 2048);
    CHECK (EngineSwitcher::fadeLengthAt (88200.0) == 4096);
    CHECK (EngineSwitcher::fadeLengthAt (48000.0) == 2229);
    CHECK (EngineSwitcher::fadeLengthAt (1.0) == 1);
}

TEST_CASE ("a reset during a switch installs the new engine at once, from any thread, without waiting")
{
    EngineSwitcher switcher;
    switcher.prepare (1, 256);
    switcher.publish (preparedEngine (test::modelsFolder() + "/timbrel-identity.ts"));
    switcher.settle();
    auto out = sine (8 * 256);
    run (switcher, out, 0, 2 * 256, false);
    auto next = preparedEngine (test::testModelPath());
    auto* filter = next.get();
    switcher.publish (std::move (next));
    run (switcher, out, 2 * 256, 3 * 256, false);
    REQUIRE (switcher.isSwitching()); // warming up beside the identity model
    std::thread host ([&] { switcher.requestReset(); }); // e.g. VST3 setProcessing(false) elsewhere
    host.join();
    run (switcher, out, 3 * 256, 4 * 256, false);
    CHECK (switcher.playing() == filter);
    CHECK_FALSE (switcher.isSwitching());
    switcher.collectGarbage();
}

TEST_CASE ("publishing, resetting and collecting from other threads while the audio thread plays")
{
    // Run under TSan (make test-sanitize): any data race between the loader's publish and
    // collectGarbage, a host's reset and the audio thread's process is reported there.
    EngineSwitcher switcher;
    switcher.prepare (1, 256);
    std::vector<std::unique_ptr<StreamingEngine>> engines;
    for (int i = 0; i < 12; ++i)
        engines.push_back (preparedEngine (i % 2 == 0 ? test::testModelPath() : test::modelsFolder() + "/timbrel-identity.ts"));
    switcher.publish (std::move (engines[0]));
    switcher.settle();

    std::atomic<bool> done { false };
    std::atomic<long> blocks { 0 };
    bool finite = true;
    std::thread audio ([&] {
        auto x = sine (256);
        while (! done.load())
        {
            float* p[1] = { x.data() };
            switcher.process (p, p, 1, nullptr, 0, 256, EngineControls {}, false);
            for (float v : x)
                finite = finite && std::isfinite (v);
            x = sine (256);
            blocks.fetch_add (1);
        }
    });
    std::thread host ([&] {
        while (! done.load())
        {
            switcher.requestReset();
            std::this_thread::sleep_for (std::chrono::milliseconds (3));
        }
    });
    for (size_t i = 1; i < engines.size(); ++i) // the loader (this thread)
    {
        switcher.publish (i % 5 == 0 ? nullptr : std::move (engines[i]));
        const long until = blocks.load() + 20;
        while (blocks.load() < until)
            std::this_thread::yield();
        switcher.collectGarbage();
    }
    done.store (true);
    audio.join();
    host.join();
    switcher.collectGarbage();
    CHECK (finite);
    CHECK (blocks.load() >= 20 * 11);
}
