#include "TestModels.h"
#include "timbrel/StreamingEngine.h"

#include <array>
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <thread>
#include <utility>

using namespace timbrel;

namespace
{
using Signal = std::vector<std::vector<float>>;

std::unique_ptr<StreamingEngine> makeEngine (const std::string& path = test::testModelPath())
{
    auto result = Model::load (path);
    INFO (result.error);
    REQUIRE (result);
    return std::make_unique<StreamingEngine> (std::move (result.model));
}

std::string identityPath() { return test::modelsFolder() + "/timbrel-identity.ts"; }

EngineConfig config (double rate, int block, int channels, ProcessingMode mode = ProcessingMode::inlined, int sidechain = 0)
{
    EngineConfig c;
    c.sampleRate = rate;
    c.maxBlockSize = block;
    c.numChannels = channels;
    c.mode = mode;
    c.sidechainChannels = sidechain;
    return c;
}

Signal testSignal (int channels, int length, float freqScale = 1.0f)
{
    Signal x (static_cast<size_t> (channels), std::vector<float> (static_cast<size_t> (length)));
    for (int ch = 0; ch < channels; ++ch)
        for (int n = 0; n < length; ++n)
            x[ch][n] = 0.3f * std::sin (0.01f * freqScale * n * (1 + ch)) + 0.1f * std::sin (0.37f * freqScale * n);
    return x;
}

struct RenderOptions
{
    std::vector<int> blocks { 256 };
    EngineControls controls {};
    const Signal* sidechain = nullptr;
};

// Each channel of a sidechain signal from sample `done`, or nulls without one.
std::array<const float*, 2> sidechainAt (const Signal* sidechain, int done)
{
    std::array<const float*, 2> side { nullptr, nullptr };
    if (sidechain != nullptr)
        for (size_t ch = 0; ch < sidechain->size(); ++ch)
            side[ch] = (*sidechain)[ch].data() + done;
    return side;
}

int channelsOf (const Signal* sidechain) { return sidechain != nullptr ? static_cast<int> (sidechain->size()) : 0; }

Signal render (StreamingEngine& engine, Signal x, const RenderOptions& o = {})
{
    const int total = static_cast<int> (x[0].size());
    size_t which = 0;
    for (int done = 0; done < total;)
    {
        const int n = std::min (o.blocks[which++ % o.blocks.size()], total - done);
        float* ptrs[2] = { x[0].data() + done, x.size() > 1 ? x[1].data() + done : nullptr };
        const auto side = sidechainAt (o.sidechain, done);
        engine.process (ptrs, ptrs, static_cast<int> (x.size()), o.sidechain != nullptr ? side.data() : nullptr,
                        channelsOf (o.sidechain), n, o.controls);
        done += n;
    }
    return x;
}

// Real-time processing through the worker (no pacing), block by block. Blocks that start in
// [holdFrom, holdTo) find the worker held (it takes nothing, as if the machine starved it); after
// every other block the test waits until the worker is idle. So underruns happen exactly where
// the test asks and nowhere else, however busy this machine is. afterBlock(start) runs after each.
Signal renderHoldingWorker (StreamingEngine& engine, Signal x, int block, int holdFrom = 0, int holdTo = 0,
                            const std::function<void (int)>& afterBlock = {}, const Signal* sidechain = nullptr,
                            const EngineControls& controls = {})
{
    const int total = static_cast<int> (x[0].size());
    for (int done = 0; done < total; done += block)
    {
        const bool held = done >= holdFrom && done < holdTo;
        engine.holdWorker (held);
        float* ptrs[2] = { x[0].data() + done, x.size() > 1 ? x[1].data() + done : nullptr };
        const auto side = sidechainAt (sidechain, done);
        engine.process (ptrs, ptrs, static_cast<int> (x.size()), sidechain != nullptr ? side.data() : nullptr,
                        channelsOf (sidechain), std::min (block, total - done), controls);
        while (! held && ! engine.workerIdle())
            std::this_thread::yield();
        if (afterBlock)
            afterBlock (done);
    }
    engine.holdWorker (false);
    return x;
}

double rmsDb (const std::vector<float>& x, int from, int to)
{
    double sum = 0.0;
    for (int n = from; n < to; ++n)
        sum += static_cast<double> (x[n]) * x[n];
    return 10.0 * std::log10 (sum / (to - from) + 1e-20);
}
} // namespace

TEST_CASE ("latency: one hop plus the model's delay inline; Threaded adds a hop or a block")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (config (44100.0, 512, 2)).empty());
    CHECK (engine->latencySamples() == 256 + 31);
    REQUIRE (engine->prepare (config (44100.0, 64, 2, ProcessingMode::threaded)).empty());
    CHECK (engine->latencySamples() == 256 + 256 + 31);
    REQUIRE (engine->prepare (config (44100.0, 1024, 2, ProcessingMode::threaded)).empty());
    CHECK (engine->latencySamples() == 256 + 1024 + 31);
    // A margin gives the worker more hops of time, each a hop of latency; Inline ignores it.
    auto withMargin = config (44100.0, 64, 2, ProcessingMode::threaded);
    withMargin.workerMarginHops = 4;
    REQUIRE (engine->prepare (withMargin).empty());
    CHECK (engine->latencySamples() == 256 + 256 + 3 * 256 + 31);
    withMargin.mode = ProcessingMode::inlined;
    REQUIRE (engine->prepare (withMargin).empty());
    CHECK (engine->latencySamples() == 256 + 31);
    // The user's figure for the model's own delay replaces the declared one.
    withMargin.modelLatencyOverride = 100;
    REQUIRE (engine->prepare (withMargin).empty());
    CHECK (engine->latencySamples() == 256 + 100);
}

TEST_CASE ("odd and changing host block sizes give the same output as hop-sized blocks")
{
    for (auto mode : { ProcessingMode::inlined, ProcessingMode::threaded })
    {
        auto engine = makeEngine();
        REQUIRE (engine->prepare (config (44100.0, 8192, 2, mode)).empty());
        engine->setNonRealtime (true);
        const auto x = testSignal (2, 30000);
        const auto reference = render (*engine, x, { { 256 } });
        engine->reset();
        // Blocks of many hops go to the model in one call each: the same output to the
        // contract's streaming tolerance (float rounding of larger matrix products).
        const auto odd = render (*engine, x, { { 1, 7, 8192, 255, 300, 64, 4097 } });
        float largest = 0.0f;
        for (size_t ch = 0; ch < reference.size(); ++ch)
            for (size_t n = 0; n < reference[ch].size(); ++n)
                largest = std::max (largest, std::abs (reference[ch][n] - odd[ch][n]));
        CHECK (largest <= 1e-5f);
        CHECK (engine->underruns() == 0);
        // The same blocks again give the same output bit for bit.
        engine->reset();
        REQUIRE (render (*engine, x, { { 1, 7, 8192, 255, 300, 64, 4097 } }) == odd);

        // And it is not a pass-through: the model filters the signal.
        const int latency = engine->latencySamples();
        float difference = 0.0f;
        for (int n = latency + 1000; n < 30000; ++n)
            difference = std::max (difference, std::abs (reference[0][n] - x[0][n - latency]));
        CHECK (difference > 0.01f);
    }
}

TEST_CASE ("blocks larger than prepared are split, not overrun")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (config (44100.0, 64, 1)).empty());
    const auto x = testSignal (1, 20000);
    const auto small = render (*engine, x, { { 64 } });
    engine->reset();
    const auto large = render (*engine, x, { { 5000 } });
    REQUIRE (small == large);
}

TEST_CASE ("the identity model comes out as a pure delay of the reported latency")
{
    for (auto mode : { ProcessingMode::inlined, ProcessingMode::threaded })
    {
        auto engine = makeEngine (identityPath());
        REQUIRE (engine->prepare (config (44100.0, 100, 2, mode)).empty());
        engine->setNonRealtime (true);
        const auto x = testSignal (2, 10000);
        const auto out = render (*engine, x, { { 100, 37 } });
        const int latency = engine->latencySamples();
        CHECK (latency == (mode == ProcessingMode::inlined ? 128 : 256));
        for (int ch = 0; ch < 2; ++ch)
            for (int n = 0; n < 10000; ++n)
                REQUIRE (out[ch][n] == (n < latency ? 0.0f : x[ch][n - latency]));
    }
}

TEST_CASE ("an nn~ module comes out as a pure delay of the reported latency, its measured delay included")
{
    for (auto mode : { ProcessingMode::inlined, ProcessingMode::threaded })
    {
        auto engine = makeEngine (test::modelsFolder() + "/nn-delay.ts");
        REQUIRE (engine->prepare (config (44100.0, 100, 2, mode)).empty());
        engine->setNonRealtime (true);
        const auto x = testSignal (2, 10000);
        const auto out = render (*engine, x, { { 100, 37 } });
        const int latency = engine->latencySamples();
        CHECK (latency == 512 + 700 + (mode == ProcessingMode::inlined ? 0 : 512));
        for (int ch = 0; ch < 2; ++ch)
            for (int n = 0; n < 10000; ++n)
                REQUIRE (out[ch][n] == Approx (n < latency ? 0.0f : x[ch][n - latency]).margin (1e-6));
    }
}

TEST_CASE ("at 48 kHz the model runs resampled, with a constant latency")
{
    auto engine = makeEngine (identityPath());
    REQUIRE (engine->prepare (config (48000.0, 512, 1)).empty());
    REQUIRE (engine->isActive());
    engine->setNonRealtime (true);
    const int latency = engine->latencySamples();
    INFO ("latency " << latency);
    CHECK (latency >= 140);  // a 128-sample hop at 44.1 kHz is 139.3 samples at 48 kHz
    CHECK (latency <= 256);

    const auto x = testSignal (1, 48000, 0.5f); // band-limited well below 20 kHz
    for (const auto& blocks : { std::vector<int> { 512 }, std::vector<int> { 1, 31, 480, 7 } })
    {
        engine->reset();
        const auto out = render (*engine, x, { blocks });
        CHECK (engine->underruns() == 0);
        float worst = 0.0f;
        for (int n = latency + 2000; n < 48000; ++n)
            worst = std::max (worst, std::abs (out[0][n] - x[0][n - latency]));
        CHECK (worst < 1e-3f);
    }
}

TEST_CASE ("mix 0 gives the input delayed by exactly the reported latency")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (config (44100.0, 512, 1)).empty());
    RenderOptions dry;
    dry.controls.mix = 0.0f;
    dry.blocks = { 512 };
    render (*engine, testSignal (1, 512), dry); // settle the mix ramp
    engine->reset();
    const auto x = testSignal (1, 10000);
    dry.blocks = { 100 };
    const auto out = render (*engine, x, dry);
    const int latency = engine->latencySamples();
    for (int n = latency; n < 10000; ++n)
        REQUIRE (out[0][n] == x[0][n - latency]);
}

TEST_CASE ("a loudness shift of +6 dB doubles the output amplitude")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (config (44100.0, 512, 1)).empty());
    const auto x = testSignal (1, 20000);
    const auto plain = render (*engine, x, { { 512 } });
    engine->reset();
    RenderOptions louder;
    louder.blocks = { 512 };
    louder.controls.faders[0].shift = 6.0f; // loudness
    const auto shifted = render (*engine, x, louder);
    CHECK (rmsDb (shifted[0], 5000, 20000) - rmsDb (plain[0], 5000, 20000) == Approx (6.0).margin (0.05));
}

TEST_CASE ("fader moves glide over several hops instead of jumping")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (config (44100.0, 256, 1)).empty());
    const int hop = 256;
    auto x = testSignal (1, 40 * hop);
    // First half at 0 dB shift, then the fader jumps to +12 dB.
    Signal out = x;
    RenderOptions o;
    o.blocks = { hop };
    for (int done = 0; done < 40 * hop; done += hop)
    {
        o.controls.faders[0].shift = done < 20 * hop ? 0.0f : 12.0f;
        float* p[1] = { out[0].data() + done };
        engine->process (p, p, 1, nullptr, 0, hop, o.controls);
    }
    engine->reset();
    const auto plain = render (*engine, x, { { hop } });
    std::vector<double> gains;
    for (int h = 20; h < 35; ++h)
        gains.push_back (rmsDb (out[0], h * hop, (h + 1) * hop) - rmsDb (plain[0], h * hop, (h + 1) * hop));
    int intermediate = 0;
    for (double g : gains)
        intermediate += (g > 1.0 && g < 11.0) ? 1 : 0;
    CHECK (intermediate >= 5);          // about 50 ms on the way up (8.6 hops of 256), not one step
    CHECK (gains.back() == Approx (12.0).margin (0.1));
}

TEST_CASE ("a fixed loudness and a sidechain loudness drive the output level")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (config (44100.0, 512, 1, ProcessingMode::inlined, 1)).empty());
    const auto x = testSignal (1, 30000);
    auto quiet = x, loud = x;
    for (auto& v : quiet[0]) v *= 0.25f;
    for (auto& v : loud[0]) v *= 1.0f;

    RenderOptions o;
    o.blocks = { 512 };
    o.controls.faders[0].source = DescriptorSource::sidechain;
    o.sidechain = &quiet;
    const auto followQuiet = render (*engine, x, o);
    engine->reset();
    o.sidechain = &loud;
    const auto followLoud = render (*engine, x, o);
    CHECK (rmsDb (followLoud[0], 5000, 30000) - rmsDb (followQuiet[0], 5000, 30000) == Approx (12.04).margin (0.2));

    engine->reset();
    o.sidechain = nullptr;
    o.controls.faders[0].source = DescriptorSource::fixed;
    o.controls.faders[0].fixed = -30.0f;
    const auto fixedA = render (*engine, x, o);
    engine->reset();
    o.controls.faders[0].fixed = -20.0f;
    const auto fixedB = render (*engine, x, o);
    CHECK (rmsDb (fixedB[0], 5000, 30000) - rmsDb (fixedA[0], 5000, 30000) == Approx (10.0).margin (0.2));
}

TEST_CASE ("latent controls scale and offset the latent dimensions")
{
    for (int block : { 128, 1024 }) // one hop per model call, and eight
    {
        INFO ("block " << block);
        auto engine = makeEngine (identityPath()); // latent = the hop's samples
        REQUIRE (engine->prepare (config (44100.0, block, 1)).empty());
        RenderOptions o;
        o.blocks = { block };
        o.controls.latentOffset[0] = 0.5f;
        o.controls.latentScale[1] = 2.0f;
        const auto x = testSignal (1, 128 * 24);
        const auto out = render (*engine, x, o);
        for (int h = 2; h < 23; ++h)
        {
            const int at = h * 128 + 128; // one hop of latency
            CHECK (out[0][at] == Approx (x[0][h * 128] + 0.5f));
            CHECK (out[0][at + 1] == Approx (2.0f * x[0][h * 128 + 1]));
            CHECK (out[0][at + 2] == x[0][h * 128 + 2]);
        }
    }
}

TEST_CASE ("a block of many hops glides faders hop by hop, as hop-sized blocks do")
{
    // Fader, source and latent moves at hop 16; rendered in blocks of one hop (one model call
    // each) and of eight (one call for eight hops, each with its own ramped controls).
    const int hop = 256, hops = 40;
    const auto x = testSignal (1, hops * hop);
    const auto side = testSignal (1, hops * hop, 0.3f);
    auto renderInBlocksOf = [&] (int blockHops) {
        auto engine = makeEngine();
        REQUIRE (engine->prepare (config (44100.0, 8 * hop, 1, ProcessingMode::inlined, 1)).empty());
        Signal out = x;
        const int block = blockHops * hop;
        for (int done = 0; done < hops * hop; done += block)
        {
            EngineControls controls;
            if (done >= 16 * hop)
            {
                controls.faders[0].shift = 12.0f;                        // loudness
                controls.faders[2].source = DescriptorSource::sidechain; // centroid
                controls.latentOffset[0] = 0.3f;
            }
            float* p[1] = { out[0].data() + done };
            const float* s[1] = { side[0].data() + done };
            engine->process (p, p, 1, s, 1, block, controls);
        }
        return out;
    };
    const auto hopByHop = renderInBlocksOf (1);
    const auto eightAtOnce = renderInBlocksOf (8);
    float largest = 0.0f, moved = 0.0f;
    for (int n = 0; n < hops * hop; ++n)
    {
        largest = std::max (largest, std::abs (hopByHop[0][n] - eightAtOnce[0][n]));
        moved = std::max (moved, std::abs (hopByHop[0][n] - x[0][n]));
    }
    CHECK (largest <= 1e-5f);
    CHECK (moved > 0.05f); // the model did something to compare
}

TEST_CASE ("linked stereo runs the mid through one stream and sends it to both channels")
{
    auto engine = makeEngine();
    auto c = config (44100.0, 512, 2);
    c.stereo = StereoMode::linked;
    REQUIRE (engine->prepare (c).empty());
    const auto x = testSignal (2, 20000);
    const auto out = render (*engine, x, { { 512 } });
    REQUIRE (out[0] == out[1]);

    Signal mid (1, std::vector<float> (20000));
    for (int n = 0; n < 20000; ++n)
        mid[0][n] = 0.5f * (x[0][n] + x[1][n]);
    auto mono = makeEngine();
    REQUIRE (mono->prepare (config (44100.0, 512, 1)).empty());
    const auto expected = render (*mono, mid, { { 512 } });
    REQUIRE (out[0] == expected[0]);
}

TEST_CASE ("Threaded real time without underruns equals offline, bit for bit")
{
    for (int margin : { 1, 2 })
    {
        auto engine = makeEngine();
        auto c = config (44100.0, 128, 2, ProcessingMode::threaded);
        c.workerMarginHops = margin;
        REQUIRE (engine->prepare (c).empty());
        const auto x = testSignal (2, 22050);
        engine->setNonRealtime (true);
        const auto offline = render (*engine, x, { { 128 } });
        engine->reset();
        engine->setNonRealtime (false);
        const auto realtime = renderHoldingWorker (*engine, x, 128); // never held: no underrun possible
        INFO ("margin " << margin << " hops");
        REQUIRE (engine->underruns() == 0);
        REQUIRE (realtime == offline);
    }
}

TEST_CASE ("an underrun plays dry, then the wet signal comes back in place")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (config (44100.0, 32, 1, ProcessingMode::threaded)).empty());
    const int length = 44100, block = 32;
    const auto x = testSignal (1, length);
    engine->setNonRealtime (true);
    const auto offline = render (*engine, x, { { block } });
    const auto dry = x[0];
    engine->reset();
    engine->setNonRealtime (false);

    // The worker keeps up, except for a stretch where it is held: those blocks underrun.
    const int holdFrom = 8000, holdTo = 12000;
    const auto realtime = renderHoldingWorker (*engine, x, block, holdFrom, holdTo);

    CHECK (engine->underruns() > 0);
    for (float v : realtime[0])
        REQUIRE (std::isfinite (v));
    // Up to the hold, and once the worker has caught up and the wet signal has faded back in,
    // the output is exactly the offline one; while held it is dry (delayed by the latency).
    const int latency = engine->latencySamples();
    for (int n = 0; n < holdFrom; ++n)
        REQUIRE (realtime[0][static_cast<size_t> (n)] == offline[0][static_cast<size_t> (n)]);
    const int firstLate = holdFrom + block + latency; // by then the held blocks' output is due
    for (int n = firstLate + 2 * block; n < holdTo; ++n)
        REQUIRE (realtime[0][static_cast<size_t> (n)] == dry[static_cast<size_t> (n - latency)]);
    for (int n = holdTo + 2 * block + 64; n < length; ++n) // 64: the underrun fade back in
        REQUIRE (realtime[0][static_cast<size_t> (n)] == offline[0][static_cast<size_t> (n)]);
}

TEST_CASE ("a worker more than the input ring behind is restarted, and the wet signal comes back")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (config (44100.0, 256, 1, ProcessingMode::threaded)).empty());
    const int length = 44100 * 4, block = 256;
    const auto x = testSignal (1, length);
    engine->setNonRealtime (false);
    // Held for 2.5 s of input: more than the 2 s input ring, so the engine stalls.
    const int holdTo = 44100 * 5 / 2 / block * block;
    // Released at holdTo and idle after that block: the engine restarts in the next one.
    const int restartBlock = holdTo + block;
    int underrunsAfterRestart = -1;
    const auto realtime = renderHoldingWorker (*engine, x, block, 0, holdTo, [&] (int done) {
        if (done == restartBlock)
            underrunsAfterRestart = engine->underruns();
    });
    for (float v : realtime[0])
        REQUIRE (std::isfinite (v));

    // From the restart on, the engine is a fresh stream of the input from that block: compare
    // with a new engine rendering x from there (offline), once the lead-in and fade are over.
    auto fresh = makeEngine();
    REQUIRE (fresh->prepare (config (44100.0, 256, 1, ProcessingMode::threaded)).empty());
    fresh->setNonRealtime (true);
    REQUIRE (underrunsAfterRestart >= 0);
    Signal tail (1, std::vector<float> (x[0].begin() + restartBlock, x[0].end()));
    const auto expected = render (*fresh, tail, { { block } });
    const int latency = engine->latencySamples();
    INFO ("restarted at sample " << restartBlock << ", latency " << latency);
    for (int n = latency + 64 + 2 * block; n < length - restartBlock; ++n) // 64: the fade back in
        REQUIRE (realtime[0][static_cast<size_t> (restartBlock + n)] == expected[0][static_cast<size_t> (n)]);
    CHECK (engine->underruns() == underrunsAfterRestart); // none once restarted
}

TEST_CASE ("NaN, Inf and subnormal input leave the output finite")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (config (44100.0, 512, 2)).empty());
    auto x = testSignal (2, 8000);
    x[0][1000] = std::numeric_limits<float>::quiet_NaN();
    x[1][2000] = std::numeric_limits<float>::infinity();
    for (int n = 3000; n < 3500; ++n)
        x[0][n] = 1e-42f;
    for (auto mix : { 1.0f, 0.5f })
    {
        RenderOptions o;
        o.blocks = { 333 };
        o.controls.mix = mix;
        const auto out = render (*engine, x, o);
        for (const auto& channel : out)
            for (float v : channel)
                REQUIRE (std::isfinite (v));
    }
}

TEST_CASE ("a hop the model fails on plays dry, keeps the model's words, and the model recovers")
{
    // Valid at load; hops louder than 0.9 raise (or give NaN) at run time.
    for (const auto& [file, words] : { std::pair<std::string, std::string> { "timbrel-test-raises.ts", "test failure: a hop above 0.9" },
                                       std::pair<std::string, std::string> { "timbrel-test-nan.ts", "the model returned NaN or Inf" } })
    {
        INFO (file);
        auto engine = makeEngine (test::modelsFolder() + "/" + file);
        REQUIRE (engine->prepare (config (44100.0, 512, 1)).empty());
        CHECK (engine->lastFailure().empty());
        Signal x (1, std::vector<float> (44100));
        for (int n = 0; n < 44100; ++n)
            x[0][static_cast<size_t> (n)] = (n >= 15000 && n < 25000 ? 0.95f : 0.3f) * std::sin (0.0285f * n);
        const auto out = render (*engine, x);
        CHECK (engine->failedHops() > 0);
        CHECK (engine->lastFailure().find (words) != std::string::npos);
        for (float v : out[0])
            REQUIRE (std::isfinite (v));
        // After the loud part the model plays again: no more failures on quiet input.
        const int failed = engine->failedHops();
        Signal quiet (1, std::vector<float> (20000));
        for (int n = 0; n < 20000; ++n)
            quiet[0][static_cast<size_t> (n)] = 0.3f * std::sin (0.0285f * n);
        render (*engine, quiet);
        CHECK (engine->failedHops() == failed);
    }
}

TEST_CASE ("every common host rate runs the model with a constant latency")
{
    for (double rate : { 22050.0, 48000.0, 88200.0, 96000.0, 192000.0 })
    {
        auto engine = makeEngine (identityPath());
        REQUIRE (engine->prepare (config (rate, 256, 1)).empty());
        engine->setNonRealtime (true);
        const int latency = engine->latencySamples();
        const int length = static_cast<int> (rate);
        Signal x (1, std::vector<float> (static_cast<size_t> (length)));
        for (int n = 0; n < length; ++n)
            x[0][n] = 0.4f * static_cast<float> (std::sin (2.0 * M_PI * 1000.0 * n / rate) + 0.5 * std::sin (2.0 * M_PI * 5000.0 * n / rate));
        const auto out = render (*engine, x, { { 256, 3, 1000 } });
        CHECK (engine->underruns() == 0);
        float worst = 0.0f;
        for (int n = latency + length / 10; n < length; ++n)
            worst = std::max (worst, std::abs (out[0][n] - x[0][n - latency]));
        INFO ("host rate " << rate << ", latency " << latency << " samples, worst error " << worst);
        CHECK (worst < 1e-3f);
    }
}

TEST_CASE ("resampling rejects what the model's rate cannot carry by at least 90 dB")
{
    // A 23 kHz tone at a 48 kHz host lies above the model's 22.05 kHz Nyquist: it must not come
    // back aliased (at 21.1 kHz) or at all. A 10 kHz tone passes at unity.
    auto level = [] (double frequency) {
        auto engine = makeEngine (identityPath());
        REQUIRE (engine->prepare (config (48000.0, 512, 1)).empty());
        engine->setNonRealtime (true);
        const int length = 48000;
        Signal x (1, std::vector<float> (static_cast<size_t> (length)));
        for (int n = 0; n < length; ++n)
            x[0][n] = 0.5f * static_cast<float> (std::sin (2.0 * M_PI * frequency * n / 48000.0));
        const auto out = render (*engine, x, { { 512 } });
        return rmsDb (out[0], 8000, length) - rmsDb (x[0], 8000, length);
    };
    const double passed = level (10000.0), rejected = level (23000.0);
    INFO ("10 kHz " << passed << " dB, 23 kHz " << rejected << " dB");
    CHECK (std::abs (passed) < 0.1);
    CHECK (rejected < -90.0);
}

TEST_CASE ("a mono sidechain drives both channels of a stereo input in Threaded mode")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (config (44100.0, 128, 2, ProcessingMode::threaded, 1)).empty());
    const auto x = testSignal (2, 20000);
    Signal quiet (1, std::vector<float> (20000));
    for (int n = 0; n < 20000; ++n)
        quiet[0][n] = 0.1f * x[0][n];
    RenderOptions o;
    o.blocks = { 128 };
    o.sidechain = &quiet;
    o.controls.faders[0].source = DescriptorSource::sidechain;
    engine->setNonRealtime (true);
    const auto offline = render (*engine, x, o);
    engine->reset();
    engine->setNonRealtime (false);
    // Through the worker, waiting for it after each block: a busy machine cannot cause an underrun.
    const auto realtime = renderHoldingWorker (*engine, x, 128, 0, 0, {}, &quiet, o.controls);
    REQUIRE (engine->underruns() == 0);
    REQUIRE (realtime == offline);
    const auto plain = render (*engine, x, RenderOptions {});
    CHECK (rmsDb (plain[0], 5000, 20000) - rmsDb (offline[0], 5000, 20000) > 10.0);
}

TEST_CASE ("meters show the input's descriptors, the targets after the faders, and what the output measures")
{
    auto engine = makeEngine();
    REQUIRE (engine->prepare (config (44100.0, 256, 1)).empty());
    auto* meters = engine->meters();
    REQUIRE (meters != nullptr);
    REQUIRE (meters->numDescriptors() == 2); // the test model: loudness, centroid
    meters->wantOutputTap (true);
    RenderOptions louder;
    louder.controls.faders[0].shift = 6.0f;
    const auto x = testSignal (1, 40 * 256);
    render (*engine, x, louder);

    CHECK (meters->hopCount() == 40);
    CHECK (meters->targetValue (0) == Approx (meters->inputValue (0) + 6.0f).margin (1e-3));
    CHECK (meters->targetValue (1) == Approx (meters->inputValue (1)).margin (1e-3)); // centroid untouched
    CHECK (meters->modelLoad() > 0.0f);

    // The tap keeps whole hops of the output; a separate copy of the analysis measures them.
    const int hops = meters->tappedHops();
    REQUIRE (hops == 40);
    std::vector<float> tapped (static_cast<size_t> (hops * meters->hopLength()));
    REQUIRE (meters->readTappedHops (tapped.data(), hops));
    CHECK (meters->tappedHops() == 0);
    float measured[2] = {};
    REQUIRE (engine->analyzeOutput (tapped.data(), hops, measured));
    CHECK (measured[0] == Approx (meters->targetValue (0)).margin (0.5));

    meters->wantOutputTap (false);
    render (*engine, x, louder);
    CHECK (meters->tappedHops() == 0);
}

TEST_CASE ("a requested reset starts a fresh stream at the next block in every mode, and never waits")
{
    const int length = 44100, block = 256, resetAt = 80 * block;
    const auto x = testSignal (1, length);
    struct Case
    {
        const char* name;
        ProcessingMode mode;
        bool offline;
    };
    for (const auto& c : { Case { "inline, real time", ProcessingMode::inlined, false }, Case { "threaded, offline", ProcessingMode::threaded, true },
                           Case { "threaded, real time, worker idle", ProcessingMode::threaded, false } })
    {
        INFO (c.name);
        auto engine = makeEngine();
        REQUIRE (engine->prepare (config (44100.0, block, 1, c.mode)).empty());
        engine->setNonRealtime (c.offline);
        const auto out = renderHoldingWorker (*engine, x, block, 0, 0, [&] (int done) {
            if (done + block == resetAt)
                engine->requestReset(); // as a host's reset() from its audio thread, between blocks
        });

        auto fresh = makeEngine();
        REQUIRE (fresh->prepare (config (44100.0, block, 1, c.mode)).empty());
        fresh->setNonRealtime (c.offline);
        const auto expected = renderHoldingWorker (*fresh, Signal (1, std::vector<float> (x[0].begin() + resetAt, x[0].end())), block);
        for (int n = resetAt; n < length; ++n)
            REQUIRE (out[0][static_cast<size_t> (n)] == expected[0][static_cast<size_t> (n - resetAt)]);
        CHECK (engine->underruns() == 0);
    }
}

TEST_CASE ("a reset while the worker is busy plays silence instead of waiting, then restarts once it is idle")
{
    auto engine = makeEngine();
    const int block = 256, length = 172 * block;
    REQUIRE (engine->prepare (config (44100.0, block, 1, ProcessingMode::threaded)).empty());
    engine->setNonRealtime (false);
    const int latency = engine->latencySamples();
    const int heldFrom = 40 * block, resetAt = heldFrom + block, releaseAt = resetAt + 2 * block;
    REQUIRE (releaseAt - resetAt < latency);
    auto x = testSignal (1, length);
    const auto input = x;
    int underrunsAtReset = -1;
    for (int done = 0; done < length; done += block)
    {
        if (done == heldFrom)
            engine->holdWorker (true); // busy: the blocks pushed from here wait
        if (done == resetAt)
        {
            underrunsAtReset = engine->underruns();
            engine->requestReset();
        }
        if (done == releaseAt)
        {
            engine->holdWorker (false);
            while (! engine->workerIdle())
                std::this_thread::yield();
        }
        float* p[1] = { x[0].data() + done };
        engine->process (p, p, 1, nullptr, 0, block, {}); // returns although the worker is held
        if (done < heldFrom || done >= releaseAt)
            while (! engine->workerIdle())
                std::this_thread::yield();
    }
    // From the reset until the restart: the freshly cleared dry delay, silence.
    for (int n = resetAt; n < releaseAt; ++n)
        REQUIRE (x[0][static_cast<size_t> (n)] == 0.0f);
    // From the restart (the first block with the worker idle) the stream is a fresh one.
    auto fresh = makeEngine();
    REQUIRE (fresh->prepare (config (44100.0, block, 1, ProcessingMode::threaded)).empty());
    fresh->setNonRealtime (true);
    const auto expected = render (*fresh, Signal (1, std::vector<float> (input[0].begin() + releaseAt, input[0].end())), { { block } });
    for (int n = releaseAt + latency; n < length; ++n) // past the lead-in, which plays the old dry
        REQUIRE (x[0][static_cast<size_t> (n)] == expected[0][static_cast<size_t> (n - releaseAt)]);
    CHECK (engine->underruns() == underrunsAtReset); // a reset is not an underrun
}

TEST_CASE ("the placeholder engine describes an empty model instead of dereferencing none")
{
    StreamingEngine placeholder (nullptr);
    CHECK_FALSE (placeholder.hasModel());
    CHECK (placeholder.info().numDescriptors() == 0);
    CHECK (placeholder.info().modelName.empty());
    placeholder.requestReset();
    float a[4] = { 1, 2, 3, 4 };
    float* p[1] = { a };
    placeholder.process (p, p, 1, nullptr, 0, 4, {});
    CHECK (a[3] == 4.0f);
}
