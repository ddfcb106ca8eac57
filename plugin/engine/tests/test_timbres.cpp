// The timbre section (docs/model-format.md, "Timbres"): snapshots morphed and varied per hop,
// the input's latent kept for Capture, natural() as a fader source, knobs along principal axes.

#include "../src/LatentControls.h"
#include "TestModels.h"
#include "timbrel/Model.h"
#include "timbrel/Timbres.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>
#include <vector>

using namespace timbrel;

namespace
{
LatentHistory::Hop hop (std::vector<float> latent, float loudness, float flatness)
{
    LatentHistory::Hop h;
    h.latent = std::move (latent);
    h.loudness = loudness;
    h.flatness = flatness;
    return h;
}

ModelInfo timbreInfo (int latents)
{
    ModelInfo info;
    info.sampleRate = 44100;
    info.hopLength = 512;
    info.latentSize = latents;
    info.timbreNames = { "a", "b" };
    info.timbreLatents.assign (static_cast<size_t> (2 * latents), 0.0f);
    return info;
}
} // namespace

TEST_CASE ("Capture averages the sounding hops and refuses silence and noise")
{
    const double hopSeconds = 512.0 / 44100.0;
    std::vector<LatentHistory::Hop> hops;
    for (int i = 0; i < 200; ++i) // 2.3 s: a note at -20 dB with a -70 dB tail the gate leaves out
        hops.push_back (i < 150 ? hop ({ 1.0f, static_cast<float> (i % 2) }, -20.0f, -25.0f) : hop ({ 9.0f, 9.0f }, -70.0f, -3.0f));
    auto taken = captureTimbre (hops, hopSeconds);
    INFO (taken.error);
    REQUIRE (taken.error.empty());
    CHECK (taken.latent == std::vector<float> { 1.0f, 0.5f });
    CHECK (taken.soundingSeconds == Approx (150 * hopSeconds));

    std::vector<LatentHistory::Hop> silence (200, hop ({ 0.0f, 0.0f }, -INFINITY, NAN));
    auto quiet = captureTimbre (silence, hopSeconds);
    CHECK (quiet.latent.empty());
    CHECK (quiet.error.find ("sounding input") != std::string::npos);

    std::vector<LatentHistory::Hop> noise (200, hop ({ 0.3f, 0.1f }, -20.0f, -2.5f));
    auto hiss = captureTimbre (noise, hopSeconds);
    CHECK (hiss.latent.empty());
    CHECK (hiss.error.find ("noise") != std::string::npos);

    // A model without loudness or flatness: every hop counts, no noise check.
    std::vector<LatentHistory::Hop> unknown (100, hop ({ 2.0f }, NAN, NAN));
    CHECK (captureTimbre (unknown, hopSeconds).latent == std::vector<float> { 2.0f });
}

TEST_CASE ("the latent history keeps the most recent hops, oldest first")
{
    LatentHistory history;
    history.prepare (3);
    for (int i = 0; i < LatentHistory::kHops + 10; ++i)
    {
        const float v[3] = { static_cast<float> (i), 0.0f, 1.0f };
        history.publish (v, -10.0f, static_cast<float> (-i));
    }
    const auto last = history.recent (5);
    REQUIRE (last.size() == 5);
    CHECK (last.front().latent[0] == static_cast<float> (LatentHistory::kHops + 5));
    CHECK (last.back().latent[0] == static_cast<float> (LatentHistory::kHops + 9));
    CHECK (last.back().flatness == static_cast<float> (-(LatentHistory::kHops + 9)));
    CHECK (history.recent (5000).size() == static_cast<size_t> (LatentHistory::kHops));
}

TEST_CASE ("the snapshot morphs from A to B, extrapolates beyond them, and glides between settings")
{
    const auto info = timbreInfo (3);
    TimbreSlots slots;
    const float a[3] = { 0.0f, 1.0f, -1.0f }, b[3] = { 2.0f, 1.0f, 1.0f };
    slots.set (0, a, 3);
    slots.set (1, b, 3);
    HopControlSmoother smoother;
    smoother.prepare (info, 4);
    EngineControls controls;
    controls.timbres = &slots;
    controls.timbreSource = TimbreSource::snapshot;
    controls.morph = 0.5f;
    smoother.advance (controls, false);
    CHECK (smoother.timbreWeight() == 1.0f); // a new render starts on its targets
    CHECK (std::vector<float> (smoother.timbreLatent(), smoother.timbreLatent() + 3) == std::vector<float> { 1.0f, 1.0f, 0.0f });

    controls.morph = 1.5f; // beyond B
    smoother.advance (controls, false);
    CHECK (smoother.timbreLatent()[0] == Approx (1.5f)); // a quarter of the way in four hops
    for (int i = 0; i < 3; ++i)
        smoother.advance (controls, false);
    CHECK (std::vector<float> (smoother.timbreLatent(), smoother.timbreLatent() + 3) == std::vector<float> { 3.0f, 1.0f, 2.0f });
    controls.morph = -0.5f; // beyond A
    for (int i = 0; i < 4; ++i)
        smoother.advance (controls, false);
    CHECK (std::vector<float> (smoother.timbreLatent(), smoother.timbreLatent() + 3) == std::vector<float> { -1.0f, 1.0f, -2.0f });

    controls.timbreSource = TimbreSource::input;
    smoother.advance (controls, false);
    CHECK (smoother.timbreWeight() == Approx (0.75f));

    HopControlSmoother plain; // a model without named timbres ignores the section
    auto unnamed = timbreInfo (3);
    unnamed.timbreNames.clear();
    plain.prepare (unnamed, 4);
    controls.timbreSource = TimbreSource::snapshot;
    plain.advance (controls, false);
    CHECK (plain.timbreWeight() == 0.0f);
}

TEST_CASE ("Variation wanders around the snapshot with the spread asked, the same after every reset")
{
    const auto info = timbreInfo (4);
    TimbreSlots slots;
    const float zero[4] = {};
    slots.set (0, zero, 4);
    slots.set (1, zero, 4);
    EngineControls controls;
    controls.timbres = &slots;
    controls.timbreSource = TimbreSource::snapshot;
    controls.variation = 0.5f;
    auto run = [&] (HopControlSmoother& smoother, int hops) {
        std::vector<float> values;
        for (int h = 0; h < hops; ++h)
        {
            smoother.advance (controls, false);
            values.insert (values.end(), smoother.timbreLatent(), smoother.timbreLatent() + 4);
        }
        return values;
    };
    HopControlSmoother smoother;
    smoother.prepare (info, 4);
    const auto first = run (smoother, 4000);
    double sum = 0.0, squares = 0.0, step = 0.0;
    for (size_t i = 0; i < first.size(); ++i)
    {
        sum += first[i];
        squares += first[i] * first[i];
        if (i >= 4)
            step += std::abs (first[i] - first[i - 4]);
    }
    const double mean = sum / first.size(), spread = std::sqrt (squares / first.size() - mean * mean);
    CHECK (std::abs (mean) < 0.15);
    CHECK (spread == Approx (0.5).epsilon (0.25));
    CHECK (step / (first.size() - 4) < 0.15); // smoothed: a hop moves z by a fraction of the spread

    smoother.jumpToTargets();
    CHECK (run (smoother, 100) == std::vector<float> (first.begin(), first.begin() + 400));
}

TEST_CASE ("the snapshot replaces the input's latent in the model, by the weight asked")
{
    auto result = Model::load (test::modelsFolder() + "/timbrel-timbres.ts"); // z = the filtered hop, decoded rescaled
    INFO (result.error);
    REQUIRE (result);
    auto& model = *result.model;
    const int hop = model.info().hopLength, latents = model.info().latentSize;
    std::vector<float> in (static_cast<size_t> (hop)), out (in.size()), snapshot (static_cast<size_t> (latents)),
        inputLatent (snapshot.size());
    for (int n = 0; n < hop; ++n)
    {
        in[static_cast<size_t> (n)] = 0.3f * std::sin (0.02f * static_cast<float> (n));
        snapshot[static_cast<size_t> (n)] = std::cos (0.11f * static_cast<float> (n));
    }
    float weight = 1.0f;
    Model::HopRequest r;
    r.input = in.data();
    r.output = out.data();
    r.timbreWeight = &weight;
    r.timbreLatent = snapshot.data();
    r.latents = inputLatent.data();
    model.reset();
    REQUIRE (model.processHops (r));
    // decode rescales its latent by a positive gain: the output has the snapshot's shape.
    int agree = 0;
    for (int n = 0; n < hop; ++n)
        agree += (out[static_cast<size_t> (n)] > 0.0f) == (snapshot[static_cast<size_t> (n)] > 0.0f);
    CHECK (agree == hop);
    // The latent reported for Capture is the input's own, before the snapshot.
    CHECK (std::inner_product (inputLatent.begin(), inputLatent.end(), snapshot.begin(), 0.0)
           < 0.5 * std::inner_product (snapshot.begin(), snapshot.end(), snapshot.begin(), 0.0));

    std::vector<float> withoutTimbre (out.size()), zeroWeightOut (out.size());
    r.timbreWeight = nullptr;
    r.output = withoutTimbre.data();
    model.reset();
    REQUIRE (model.processHops (r));
    weight = 0.0f;
    r.timbreWeight = &weight;
    r.output = zeroWeightOut.data();
    model.reset();
    REQUIRE (model.processHops (r));
    CHECK (zeroWeightOut == withoutTimbre);
}

TEST_CASE ("a Natural fader takes the model's natural() value at the loudness asked, and its shift applies on top")
{
    // natural() of this model: centroid = 30 Hz per dB of loudness above -100 dB.
    auto result = Model::load (test::modelsFolder() + "/timbrel-timbres.ts");
    REQUIRE (result);
    auto& model = *result.model;
    const int hop = model.info().hopLength, D = model.info().numDescriptors();
    const int centroid = model.info().descriptorIndex ("centroid").value(), loudness = model.info().descriptorIndex ("loudness").value();
    std::vector<float> in (static_cast<size_t> (hop)), out (in.size()), measured (static_cast<size_t> (D)), targets (measured.size());
    for (int n = 0; n < hop; ++n)
        in[static_cast<size_t> (n)] = 0.3f * std::sin (0.05f * static_cast<float> (n));
    std::vector<DescriptorMix> mixes (static_cast<size_t> (D));
    mixes[static_cast<size_t> (centroid)] = { 0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f, ShiftKind::octaves };
    mixes[static_cast<size_t> (loudness)].shift = 6.0f;
    Model::HopRequest r;
    r.input = in.data();
    r.output = out.data();
    r.mixes = mixes.data();
    r.measured = measured.data();
    r.targets = targets.data();
    model.reset();
    REQUIRE (model.processHops (r));
    const float louder = measured[static_cast<size_t> (loudness)] + 6.0f;
    CHECK (targets[static_cast<size_t> (loudness)] == Approx (louder));
    CHECK (targets[static_cast<size_t> (centroid)] == Approx (30.0f * (louder + 100.0f))); // at the loudness asked

    mixes[static_cast<size_t> (centroid)].shift = -1.0f; // an octave below natural
    model.reset();
    REQUIRE (model.processHops (r));
    CHECK (targets[static_cast<size_t> (centroid)] == Approx (15.0f * (louder + 100.0f)));

    HopControlSmoother smoother; // a model without natural(): the Natural source follows the input
    ModelInfo info = model.info();
    info.hasNatural = false;
    smoother.prepare (info, 4);
    EngineControls controls;
    controls.faders[2].source = DescriptorSource::natural; // the centroid slot
    smoother.advance (controls, false);
    CHECK (smoother.mixes()[centroid].fromInput == 1.0f);
    CHECK (smoother.mixes()[centroid].fromNatural == 0.0f);
}

TEST_CASE ("with principal axes, a latent knob moves z along its axis")
{
    // Axes: a rotation in the plane of dimensions 0 and 1, the mean off the origin.
    const auto components = torch::tensor ({ 0.6f, 0.8f, 0.0f, -0.8f, 0.6f, 0.0f, 0.0f, 0.0f, 1.0f }).reshape ({ 3, 3 });
    const auto mean = torch::tensor ({ 1.0f, 2.0f, 3.0f });
    const auto z = torch::tensor ({ 0.5f, -1.0f, 2.0f }).reshape ({ 1, 3, 1 });
    const float offset[3] = { 2.0f, 0.0f, 0.0f }, scale[3] = { 1.0f, 1.0f, 1.0f };
    const auto moved = withLatentControls (z, 1, 3, offset, scale, mean, components);
    const auto expected = z + 2.0f * components[0].reshape ({ 1, 3, 1 });
    CHECK (torch::allclose (moved, expected, 1e-5, 1e-5));

    const float none[3] = { 0.0f, 0.0f, 0.0f }, flatten[3] = { 0.0f, 1.0f, 1.0f };
    const auto flat = withLatentControls (z, 1, 3, none, flatten, mean, components);
    // Scale 0 on the first knob leaves no part of z - mean along the first axis.
    CHECK (torch::dot (flat.flatten() - mean, components[0]).item<float>() == Approx (0.0f).margin (1e-5));
    CHECK (torch::dot (flat.flatten() - mean, components[1]).item<float>()
           == Approx (torch::dot (z.flatten() - mean, components[1]).item<float>()));
    CHECK (withLatentControls (z, 1, 3, none, scale, mean, components).data_ptr() == z.data_ptr()); // neutral: untouched
}
