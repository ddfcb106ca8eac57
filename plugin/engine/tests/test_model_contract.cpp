#include "TestModels.h"
#include "timbrel/Model.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

using namespace timbrel;

TEST_CASE ("the test model loads and reports its contract attributes")
{
    auto result = Model::load (test::testModelPath());
    INFO (result.error);
    REQUIRE (result);
    const auto& info = result.model->info();
    CHECK (info.formatVersion == 1);
    CHECK (info.sampleRate == 44100);
    CHECK (info.hopLength == 256);
    CHECK (info.latentSize == 256);
    CHECK (info.latencySamples == 31);
    CHECK (info.descriptorNames == std::vector<std::string> { "loudness", "centroid" });
    CHECK (info.descriptorUnits == std::vector<std::string> { "dB", "Hz" });
    CHECK (info.modelName == "timbrel-test");
    CHECK (info.modelCard.front() == '{');
    CHECK (info.descriptorIndex ("centroid") == 1);
    CHECK_FALSE (info.descriptorIndex ("pitch").has_value());
}

TEST_CASE ("a missing model file is reported by path")
{
    const auto result = Model::load ("/nonexistent/folder/model.ts");
    REQUIRE_FALSE (result);
    CHECK (result.error == "model file not found: /nonexistent/folder/model.ts");
    CHECK_FALSE (Model::load ("").error.empty());
    CHECK (Model::load (test::modelsFolder()).error.find ("not a file") != std::string::npos);
}

TEST_CASE ("every file of the broken-model corpus is rejected with its expected message")
{
    std::ifstream manifest (test::modelsFolder() + "/broken/MANIFEST.tsv");
    REQUIRE (manifest.good());
    std::string line;
    int count = 0;
    while (std::getline (manifest, line))
    {
        const auto tab = line.find ('\t');
        REQUIRE (tab != std::string::npos);
        const auto file = line.substr (0, tab), expected = line.substr (tab + 1);
        const auto result = Model::load (test::modelsFolder() + "/broken/" + file);
        CAPTURE (file, expected, result.error);
        CHECK_FALSE (result);
        CHECK (result.error.find (expected) != std::string::npos);
        ++count;
    }
    CHECK (count >= 14);
}

TEST_CASE ("metadata validation names the offending field")
{
    ModelInfo info;
    info.formatVersion = 1;
    info.sampleRate = 44100;
    info.hopLength = 256;
    info.latentSize = 8;
    info.descriptorNames = { "pitch" };
    info.descriptorUnits = { "semitones" };
    info.descriptorMin = { 30.0f };
    info.descriptorMax = { 100.0f };
    info.modelName = "m";
    info.modelCard = "{}";
    REQUIRE_FALSE (validateMetadata (info).has_value());

    auto broken = info;
    broken.hopLength = 0;
    CHECK (validateMetadata (broken)->find ("hop_length") != std::string::npos);
    broken = info;
    broken.descriptorNames = { "pitch", "pitch" };
    broken.descriptorUnits = { "semitones", "semitones" };
    broken.descriptorMin = { 0, 0 };
    broken.descriptorMax = { 1, 1 };
    CHECK (validateMetadata (broken)->find ("twice") != std::string::npos);
    broken = info;
    broken.descriptorUnits = { "Hz" };
    CHECK (validateMetadata (broken)->find ("requires 'semitones'") != std::string::npos);
    broken = info;
    broken.latencySamples = -1;
    CHECK (validateMetadata (broken)->find ("latency_samples") != std::string::npos);
    broken = info;
    broken.descriptorNames = { "roughness" }; // outside the vocabulary: allowed, any unit
    broken.descriptorUnits = { "asper" };
    CHECK_FALSE (validateMetadata (broken).has_value());
}

TEST_CASE ("descriptor shifts act in the descriptor's unit")
{
    CHECK (applyShift (ShiftKind::add, -20.0f, 6.0f) == -14.0f);
    CHECK (applyShift (ShiftKind::octaves, 1000.0f, 1.0f) == 2000.0f);
    CHECK (applyShift (ShiftKind::octaves, 1000.0f, -2.0f) == 250.0f);
}

TEST_CASE ("several hops in one call equal the same hops one call each, hop-major per-hop values")
{
    auto result = Model::load (test::testModelPath());
    REQUIRE (result);
    auto& model = *result.model;
    const int hop = model.info().hopLength, batch = 2, frames = 4;
    const int D = model.info().numDescriptors(), latents = model.info().latentSize;
    const size_t length = static_cast<size_t> (frames * hop);
    std::vector<float> in (batch * length);
    for (size_t ch = 0; ch < 2; ++ch)
        for (size_t n = 0; n < length; ++n)
            in[ch * length + n] = 0.3f * std::sin (0.013f * (1.0f + ch) * static_cast<float> (n));
    // Per-hop controls that differ from hop to hop: a loudness shift and a latent offset.
    std::vector<DescriptorMix> mixes (static_cast<size_t> (frames * D));
    std::vector<float> offsets (static_cast<size_t> (frames * latents), 0.0f);
    for (int f = 0; f < frames; ++f)
    {
        mixes[static_cast<size_t> (f * D)].shift = -3.0f * static_cast<float> (f);
        offsets[static_cast<size_t> (f * latents)] = 0.1f * static_cast<float> (f);
    }

    std::vector<float> together (in.size()), measuredTogether (static_cast<size_t> (frames * batch * D)),
        targetsTogether (measuredTogether.size());
    Model::HopRequest r;
    r.batch = batch;
    r.frames = frames;
    r.input = in.data();
    r.output = together.data();
    r.mixes = mixes.data();
    r.latentOffset = offsets.data();
    r.measured = measuredTogether.data();
    r.targets = targetsTogether.data();
    model.reset();
    REQUIRE (model.processHops (r));

    model.reset();
    float largest = 0.0f;
    for (int f = 0; f < frames; ++f)
    {
        std::vector<float> hopIn (static_cast<size_t> (batch * hop)), hopOut (hopIn.size()),
            measured (static_cast<size_t> (batch * D)), targets (measured.size());
        for (size_t ch = 0; ch < 2; ++ch)
            std::copy_n (in.data() + ch * length + static_cast<size_t> (f * hop), hop, hopIn.data() + ch * static_cast<size_t> (hop));
        Model::HopRequest one;
        one.batch = batch;
        one.input = hopIn.data();
        one.output = hopOut.data();
        one.mixes = mixes.data() + f * D;
        one.latentOffset = offsets.data() + f * latents;
        one.measured = measured.data();
        one.targets = targets.data();
        REQUIRE (model.processHops (one));
        for (size_t ch = 0; ch < 2; ++ch)
            for (int n = 0; n < hop; ++n)
                largest = std::max (largest, std::abs (hopOut[ch * static_cast<size_t> (hop) + static_cast<size_t> (n)]
                                                       - together[ch * length + static_cast<size_t> (f * hop + n)]));
        for (size_t i = 0; i < measured.size(); ++i)
        {
            const size_t at = static_cast<size_t> (f * batch * D) + i;
            CHECK (measuredTogether[at] == Approx (measured[i]).epsilon (1e-5).margin (1e-5));
            CHECK (targetsTogether[at] == Approx (targets[i]).epsilon (1e-5).margin (1e-5));
        }
    }
    CHECK (largest <= 1e-5f);
    CHECK (targetsTogether[static_cast<size_t> (3 * batch * D)] == Approx (measuredTogether[static_cast<size_t> (3 * batch * D)] - 9.0f));
}

TEST_CASE ("a model's named timbres and latent axes are read, and a model without them has none")
{
    auto result = Model::load (test::modelsFolder() + "/timbrel-timbres.ts");
    INFO (result.error);
    REQUIRE (result);
    const auto& info = result.model->info();
    const auto latent = static_cast<size_t> (info.latentSize);
    CHECK (info.timbreNames == std::vector<std::string> { "bowed", "blown" });
    REQUIRE (info.timbreLatents.size() == 2 * latent);
    CHECK (info.timbreLatents[3] == Approx (0.003f));          // latents[0, 3] = 0 + 3 / 1000
    CHECK (info.timbreLatents[latent + 7] == Approx (1.007f)); // latents[1, 7] = 1 + 7 / 1000
    REQUIRE (info.latentComponents.size() == latent * latent);
    CHECK (info.latentComponents[0] == 1.0f);
    CHECK (info.latentComponents[1] == 0.0f);
    CHECK (info.latentComponents[latent + 1] == 1.0f);
    CHECK (info.latentMean == std::vector<float> (latent, 0.0f));

    auto plain = Model::load (test::testModelPath());
    REQUIRE (plain);
    CHECK (plain.model->info().timbreNames.empty());
    CHECK (plain.model->info().latentComponents.empty());
}

TEST_CASE ("timbres are validated with the metadata")
{
    ModelInfo info;
    info.latentSize = 2;
    info.timbreNames = { "a", "b" };
    info.timbreLatents = { 0.0f, 1.0f, 2.0f, 3.0f };
    CHECK_FALSE (validateTimbres (info).has_value());
    info.timbreLatents[2] = std::nanf ("");
    CHECK (validateTimbres (info).value_or ("").find ("'timbre_latents' holds NaN") != std::string::npos);
    info.timbreLatents[2] = 2.0f;
    info.timbreNames = { "a", "a" };
    CHECK (validateTimbres (info).value_or ("").find ("lists a name twice") != std::string::npos);
    info.timbreNames = { "a", "b" };
    info.latentMean = { 0.0f, 0.0f };
    info.latentComponents = { 0.6f, 0.8f, -0.8f, 0.6f }; // a rotation: orthonormal
    CHECK_FALSE (validateTimbres (info).has_value());
    info.latentComponents = { 0.6f, 0.8f, 0.8f, 0.6f };  // unit rows, not orthogonal
    CHECK (validateTimbres (info).value_or ("").find ("orthonormal") != std::string::npos);
}

TEST_CASE ("a model's natural() is found and probed, and models without it say so")
{
    auto result = Model::load (test::modelsFolder() + "/timbrel-timbres.ts");
    REQUIRE (result);
    CHECK (result.model->info().hasNatural);
    auto plain = Model::load (test::testModelPath());
    REQUIRE (plain);
    CHECK_FALSE (plain.model->info().hasNatural);
}
