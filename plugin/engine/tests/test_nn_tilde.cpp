// nn~-convention modules (docs/model-format.md, "Other models"), played by the Model class:
// the modules come from tools/timbrel_tools/nn_tilde_corpus.py.

#include "TestModels.h"
#include "timbrel/Model.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using namespace timbrel;

namespace
{
std::unique_ptr<Model> loadModule (const std::string& name)
{
    auto result = Model::load (test::modelsFolder() + "/" + name);
    INFO (result.error);
    REQUIRE (result);
    return std::move (result.model);
}

// A deterministic, non-periodic test signal per channel.
std::vector<float> signal (int channels, int length)
{
    std::vector<float> x (static_cast<size_t> (channels * length));
    for (int c = 0; c < channels; ++c)
        for (int i = 0; i < length; ++i)
            x[static_cast<size_t> (c * length + i)] = 0.3f * std::sin (0.013f * i * (c + 1) + 0.0001f * i * i / 100.0f);
    return x;
}

// Plays `x` (channel-major, `channels` x `hops` hops) in calls of `framesPerCall` hops.
std::vector<float> play (Model& model, const std::vector<float>& x, int channels, int hops, int framesPerCall,
                         const float* latentOffset = nullptr, const float* latentScale = nullptr)
{
    const int hop = model.info().hopLength, length = hops * hop;
    std::vector<float> y (x.size()), in, out;
    for (int at = 0; at < hops; at += framesPerCall)
    {
        const int frames = std::min (framesPerCall, hops - at);
        in.assign (static_cast<size_t> (channels * frames * hop), 0.0f);
        out.assign (in.size(), 0.0f);
        for (int c = 0; c < channels; ++c)
            std::copy_n (x.begin() + c * length + at * hop, frames * hop, in.begin() + c * frames * hop);
        Model::HopRequest request;
        request.batch = channels;
        request.frames = frames;
        request.input = in.data();
        request.output = out.data();
        request.latentOffset = latentOffset;
        request.latentScale = latentScale;
        REQUIRE (model.processHops (request));
        for (int c = 0; c < channels; ++c)
            std::copy_n (out.begin() + c * frames * hop, frames * hop, y.begin() + c * length + at * hop);
    }
    return y;
}

void requireDelayed (const std::vector<float>& y, const std::vector<float>& x, int channel, int sourceChannel, int length, int delay)
{
    for (int i = 0; i < length; ++i)
    {
        const float expected = i >= delay ? x[static_cast<size_t> (sourceChannel * length + i - delay)] : 0.0f;
        INFO ("sample " << i);
        REQUIRE (y[static_cast<size_t> (channel * length + i)] == Approx (expected).margin (1e-6));
    }
}
} // namespace

TEST_CASE ("an nn~ module with encode and decode loads with its ratio as the hop and its delay measured")
{
    auto model = loadModule ("nn-delay.ts");
    const auto& info = model->info();
    CHECK (info.kind == ModelKind::nnTilde);
    CHECK (info.playPath == "encode/decode");
    CHECK (info.sampleRate == 44100);
    CHECK (info.hopLength == 512);
    CHECK (info.latentSize == 4);
    CHECK (info.numDescriptors() == 0);
    CHECK (info.modelName == "nn-delay");
    CHECK (info.latencyMeasured);
    CHECK (info.latencySamples == 700); // the module's CachedDelay: the probe reads it exactly
    CHECK (info.modelCard.find ("\"kind\": \"nn~ module\"") != std::string::npos);
}

TEST_CASE ("an nn~ module plays its own delay, in any number of hops per call, mono or as a batch of channels")
{
    auto model = loadModule ("nn-delay.ts");
    const int hops = 12, length = hops * model->info().hopLength;
    for (int channels : { 1, 2 })
        for (int framesPerCall : { 1, 3, 4 })
        {
            model->reset();
            const auto x = signal (channels, length);
            const auto y = play (*model, x, channels, hops, framesPerCall);
            for (int c = 0; c < channels; ++c)
                requireDelayed (y, x, c, c, length, 700);
        }
}

TEST_CASE ("reset restores an nn~ module's streaming buffers to their state at load")
{
    auto model = loadModule ("nn-delay.ts");
    const int hops = 4, length = hops * model->info().hopLength;
    const auto x = signal (1, length);
    const auto first = play (*model, x, 1, hops, 2);
    const auto carriedOver = play (*model, x, 1, hops, 2);
    CHECK (carriedOver != first); // the delay's buffer holds the end of the first pass
    model->reset();
    CHECK (play (*model, x, 1, hops, 2) == first);
}

TEST_CASE ("the latent controls act on an nn~ module's encode output before decode")
{
    auto model = loadModule ("nn-delay.ts");
    const int hops = 4, length = hops * model->info().hopLength, latents = model->info().latentSize;
    std::vector<float> scale (static_cast<size_t> (hops * latents), 1.0f), offset (scale.size(), 0.0f);
    for (int f = 0; f < hops; ++f)
        scale[static_cast<size_t> (f * latents)] = 0.5f; // latent 0 is the module's gain
    const auto x = signal (1, length);
    const auto plain = play (*model, x, 1, hops, hops);
    model->reset();
    const auto halved = play (*model, x, 1, hops, hops, offset.data(), scale.data());
    for (size_t i = 0; i < plain.size(); ++i)
        REQUIRE (halved[i] == Approx (0.5f * plain[i]).margin (1e-7));
}

TEST_CASE ("a forward-only nn~ module gets the smallest hop its forward accepts")
{
    auto model = loadModule ("nn-forward-only.ts");
    CHECK (model->info().playPath == "forward");
    CHECK (model->info().hopLength == 1024);
    CHECK (model->info().latentSize == 0);
    CHECK (model->info().latencySamples == 300);
    const int hops = 5, length = hops * 1024;
    const auto x = signal (1, length);
    requireDelayed (play (*model, x, 1, hops, 2), x, 0, 0, length, 300);
}

TEST_CASE ("a stereo nn~ module takes a stereo track's channels together, and a mono track in both")
{
    auto model = loadModule ("nn-stereo-swap.ts");
    CHECK (model->info().modelChannels == 2);
    CHECK (model->info().latencySamples == 700);
    const int hop = model->info().hopLength, hops = 6, length = hops * hop;
    const auto stereo = signal (2, length);
    const auto swapped = play (*model, stereo, 2, hops, 3);
    requireDelayed (swapped, stereo, 0, 1, length, 700);
    requireDelayed (swapped, stereo, 1, 0, length, 700);

    model->reset();
    const auto mono = signal (1, length);
    requireDelayed (play (*model, mono, 1, hops, 3), mono, 0, 0, length, 700);

    model->reset();
    Model::HopRequest request;
    std::vector<float> in (static_cast<size_t> (3 * hop)), out (in.size());
    request.batch = 3;
    request.input = in.data();
    request.output = out.data();
    CHECK_FALSE (model->processHops (request));
    CHECK (model->lastFailure().find ("cannot play 3 channels") != std::string::npos);
}

TEST_CASE ("an nn~ module's prior generates the latent, blended with the input's encoding by the generate weight")
{
    auto model = loadModule ("nn-prior.ts");
    REQUIRE (model->info().hasPrior);
    CHECK (model->info().modelCard.find ("played (Generate)") != std::string::npos);
    const int hop = model->info().hopLength, hops = 4, length = hops * hop;
    const auto x = signal (2, length);
    std::vector<float> in (x), out (x.size());
    auto render = [&] (float weight, float temperature) {
        model->reset();
        std::vector<float> weights (hops, weight), temperatures (hops, temperature);
        Model::HopRequest request;
        request.batch = 2;
        request.frames = hops;
        request.input = in.data();
        request.output = out.data();
        request.generateWeight = weights.data();
        request.temperature = temperatures.data();
        REQUIRE (model->processHops (request));
        return out;
    };
    // The prior's latent: gain 0 and an offset of the temperature (nn_tilde_corpus.NnPriorModule).
    for (float v : render (1.0f, 0.5f))
        REQUIRE (v == Approx (0.5f));
    const auto encoded = render (0.0f, 0.5f);
    requireDelayed (encoded, x, 0, 0, length, 700);
    requireDelayed (encoded, x, 1, 1, length, 700);
    const auto half = render (0.5f, 0.5f);
    for (size_t i = 0; i < half.size(); ++i)
        REQUIRE (half[i] == Approx (0.5f * encoded[i] + 0.25f).margin (1e-6));
}

TEST_CASE ("a module without a prior ignores the generate controls")
{
    auto model = loadModule ("nn-delay.ts");
    CHECK_FALSE (model->info().hasPrior);
}

TEST_CASE ("a module that keeps no state between calls is said not to stream")
{
    auto stateless = loadModule ("nn-stateless.ts");
    CHECK_FALSE (stateless->info().streams);
    CHECK (stateless->info().modelCard.find ("\"streaming\": false") != std::string::npos);
    CHECK (stateless->info().modelCard.find ("Not a streaming export") != std::string::npos);
    CHECK (stateless->info().latencySamples == 0);
    CHECK (loadModule ("nn-delay.ts")->info().streams);
}
