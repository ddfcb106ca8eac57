#include "TestModels.h"
#include "timbrel/Model.h"

#include <catch2/catch.hpp>

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
