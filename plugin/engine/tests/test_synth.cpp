// Timbrel Synth's engine with a shipped model: notes in, the model's sound out, at the notes'
// pitches and times (known answers), every voice decoded in one call.
#include "TestModels.h"
#include "timbrel/SynthEngine.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <numeric>
#include <thread>

using namespace timbrel;

namespace
{
constexpr double kRate = 44100.0;
constexpr double kPi = 3.14159265358979323846;

/** A prepared engine, offline (the callback waits for a Threaded worker, so nothing underruns). */
std::unique_ptr<SynthEngine> synth (const std::string& name, VoiceSettings voices = {}, double rate = kRate, int block = 512,
                                    bool threaded = true)
{
    auto loaded = Model::load (test::shippedModel (name));
    INFO (loaded.error);
    REQUIRE (loaded);
    auto engine = std::make_unique<SynthEngine> (std::move (loaded.model));
    SynthConfig config;
    config.sampleRate = rate;
    config.maxBlockSize = block;
    config.voices = voices;
    config.threaded = threaded;
    const auto error = engine->prepare (config);
    INFO (error);
    REQUIRE (error.empty());
    engine->setNonRealtime (true);
    return engine;
}

SynthEvent note (int offset, int number, float velocity = 0.8f, int channel = 1)
{
    SynthEvent e;
    e.sampleOffset = offset;
    e.kind = velocity > 0.0f ? SynthEvent::Kind::noteOn : SynthEvent::Kind::noteOff;
    e.channel = channel;
    e.number = number;
    e.value = velocity;
    return e;
}

/** Renders `length` samples in blocks of `block`, the events (absolute sample times) placed in
    their blocks. `lockstep`: after each block, wait until the worker has decoded every hop it was
    given (a host in lockstep: no underrun on any machine). */
std::vector<float> render (SynthEngine& engine, std::vector<SynthEvent> events, int length, int block = 512,
                           const SynthControls& controls = {}, bool lockstep = false)
{
    std::vector<float> out (static_cast<size_t> (length));
    std::vector<SynthEvent> inBlock;
    for (int start = 0; start < length; start += block)
    {
        const int n = std::min (block, length - start);
        inBlock.clear();
        for (auto e : events)
            if (e.sampleOffset >= start && e.sampleOffset < start + n)
            {
                e.sampleOffset -= start;
                inBlock.push_back (e);
            }
        float* channels[1] = { out.data() + start };
        engine.process (channels, 1, n, inBlock.data(), static_cast<int> (inBlock.size()), controls);
        while (lockstep && ! engine.workerIdle())
            std::this_thread::sleep_for (std::chrono::microseconds (50));
    }
    return out;
}

/** Energy at `hz` over x[from, to) (Goertzel with a Hann window). */
double energyAt (const std::vector<float>& x, int from, int to, double hz)
{
    const double w = 2.0 * kPi * hz / kRate, c = 2.0 * std::cos (w);
    double s1 = 0.0, s2 = 0.0;
    const int n = to - from;
    for (int i = 0; i < n; ++i)
    {
        const double window = 0.5 - 0.5 * std::cos (2.0 * kPi * i / n);
        const double s0 = x[static_cast<size_t> (from + i)] * window + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return s1 * s1 + s2 * s2 - c * s1 * s2;
}

double noteHz (double midi) { return 440.0 * std::pow (2.0, (midi - 69.0) / 12.0); }

double rms (const std::vector<float>& x, int from, int to)
{
    double sum = 0.0;
    for (int i = from; i < to; ++i)
        sum += static_cast<double> (x[static_cast<size_t> (i)]) * x[static_cast<size_t> (i)];
    return std::sqrt (sum / std::max (1, to - from));
}

/** Each played note's fundamental stands 20 dB above every unplayed semitone between the lowest
    note and its octave (where no harmonic of a played note falls). */
void checkChord (const std::vector<int>& notes)
{
    auto engine = synth ("violin");
    std::vector<SynthEvent> events;
    for (int n : notes)
        events.push_back (note (0, n));
    const auto out = render (*engine, events, static_cast<int> (1.5 * kRate));
    CHECK (engine->soundingVoices() == static_cast<int> (notes.size()));
    const int from = static_cast<int> (0.4 * kRate), to = static_cast<int> (1.5 * kRate);
    double quietestPlayed = 1e30, loudestUnplayed = 0.0;
    for (int semitone = notes.front(); semitone < notes.front() + 12; ++semitone)
    {
        const double e = energyAt (out, from, to, noteHz (semitone));
        if (std::find (notes.begin(), notes.end(), semitone) != notes.end())
            quietestPlayed = std::min (quietestPlayed, e);
        else
            loudestUnplayed = std::max (loudestUnplayed, e);
    }
    INFO ("quietest played note / loudest unplayed semitone: " << 10.0 * std::log10 (quietestPlayed / loudestUnplayed) << " dB");
    CHECK (quietestPlayed > 100.0 * loudestUnplayed);
}
} // namespace

TEST_CASE ("a held note sounds at its pitch, as the model's own analysis of the output reads it")
{
    for (const int midi : { 57, 69, 81 })
    {
        auto engine = synth ("violin");
        const auto out = render (*engine, { note (0, midi) }, static_cast<int> (1.0 * kRate));
        REQUIRE (std::all_of (out.begin(), out.end(), [] (float v) { return std::isfinite (v); }));
        CHECK (rms (out, static_cast<int> (0.3 * kRate), static_cast<int> (kRate)) > 1e-3);
        // The model's analysis (a separate copy of it) on the last half second, at 44.1 kHz.
        auto reader = Model::load (test::shippedModel ("violin"));
        REQUIRE (reader);
        const int hop = reader.model->info().hopLength, hops = static_cast<int> (0.5 * kRate) / hop;
        std::vector<float> descriptors (static_cast<size_t> (reader.model->info().numDescriptors()));
        REQUIRE (reader.model->analyzeOutput (out.data() + out.size() - static_cast<size_t> (hops * hop), hops, descriptors.data()));
        const int pitch = *reader.model->info().descriptorIndex ("pitch");
        INFO ("note " << midi << " read as " << descriptors[static_cast<size_t> (pitch)]);
        CHECK (std::abs (descriptors[static_cast<size_t> (pitch)] - static_cast<float> (midi)) < 0.5f); // 50 cents
    }
}

TEST_CASE ("each note of a held chord is present at its pitch and no other note is")
{
    checkChord ({ 67, 71, 74 });
    checkChord ({ 60, 62, 65, 67, 69, 71 });
}

TEST_CASE ("a note's onset lands within one hop of its time after the reported latency")
{
    auto engine = synth ("violin");
    const int at = 10000, hop = engine->info().hopLength;
    const auto out = render (*engine, { note (at, 69, 1.0f) }, at + static_cast<int> (0.5 * kRate), 256);
    const int landed = at + engine->latencySamples();
    for (int i = 0; i < landed; ++i)
        REQUIRE (out[static_cast<size_t> (i)] == 0.0f); // silence before the note
    // Sound within one hop of its time (the attack then rises over 20 ms).
    CHECK (rms (out, landed, landed + hop) > 1e-5);
    CHECK (rms (out, landed + hop, landed + 2 * hop) > 1e-4);
}

TEST_CASE ("the same performance renders the same samples whatever the host's block size")
{
    const std::vector<SynthEvent> events { note (100, 64), note (7000, 67, 0.5f), note (20000, 64, 0.0f), note (30000, 67, 0.0f) };
    auto a = synth ("violin");
    auto b = synth ("violin");
    const int length = static_cast<int> (1.2 * kRate);
    CHECK (render (*a, events, length, 512) == render (*b, events, length, 97));
}

TEST_CASE ("a released note's tail runs until it is silent, then the voice is free and the output exact silence")
{
    VoiceSettings voices;
    voices.releaseSeconds = 0.2f;
    auto engine = synth ("violin", voices);
    const auto out = render (*engine, { note (0, 69), note (static_cast<int> (0.5 * kRate), 69, 0.0f) }, static_cast<int> (1.2 * kRate));
    CHECK (rms (out, static_cast<int> (0.52 * kRate), static_cast<int> (0.6 * kRate)) > 1e-4); // the tail
    CHECK (engine->soundingVoices() == 0);
    for (size_t i = static_cast<size_t> (0.9 * kRate); i < out.size(); ++i)
        REQUIRE (out[i] == 0.0f);
    // No click at the start or the release: no step between samples larger than the signal's own.
    float steepest = 0.0f, loudest = 0.0f;
    for (size_t i = 1; i < out.size(); ++i)
    {
        steepest = std::max (steepest, std::abs (out[i] - out[i - 1]));
        loudest = std::max (loudest, std::abs (out[i]));
    }
    CHECK (steepest < loudest);
}

TEST_CASE ("a hundred notes at once steal voices and stay finite; notes out of range are clamped and counted")
{
    VoiceSettings voices;
    voices.polyphony = 16;
    auto engine = synth ("violin", voices);
    std::vector<SynthEvent> events;
    for (int n = 0; n < 100; ++n)
        events.push_back (note (n % 512, n + 10, 1.0f, 1 + n % 16));
    const auto out = render (*engine, events, static_cast<int> (0.5 * kRate));
    CHECK (std::all_of (out.begin(), out.end(), [] (float v) { return std::isfinite (v); }));
    CHECK (engine->soundingVoices() == 16);
    CHECK (engine->steals() >= 84);
    CHECK (engine->clampedNotes() > 0); // MIDI 10..47 and 98..109 lie outside the violin's pitch range
    CHECK (engine->failedHops() == 0);
    for (const auto& frame : engine->lastFrames())
        CHECK (std::isfinite (frame.pitch));
}

TEST_CASE ("at 48 kHz the synth plays resampled, a note's onset within one hop of its time after the latency")
{
    auto engine = synth ("violin", {}, 48000.0);
    const int at = 10000, hop = static_cast<int> (std::ceil (engine->info().hopLength * 48000.0 / kRate));
    const auto out = render (*engine, { note (at, 69, 1.0f) }, 48000, 333);
    CHECK (std::all_of (out.begin(), out.end(), [] (float v) { return std::isfinite (v); }));
    const int landed = at + engine->latencySamples();
    // The resampler's sinc filter rings a little ahead of the onset: far below the note.
    CHECK (rms (out, 0, landed - 64) < 1e-6);
    CHECK (rms (out, landed + hop, landed + 2 * hop) > 1e-4);
    CHECK (rms (out, 20000, 48000) > 1e-3);
}

TEST_CASE ("a model without pitch or loudness, or an nn~ module, is refused in words")
{
    for (const char* name : { "/timbrel-test.ts", "/nn-delay.ts" })
    {
        auto loaded = Model::load (test::modelsFolder() + name);
        REQUIRE (loaded);
        SynthEngine engine (std::move (loaded.model));
        const auto error = engine.prepare ({});
        CHECK_FALSE (error.empty());
        CHECK_FALSE (engine.isActive());
        std::vector<float> out (256, 1.0f);
        float* channels[1] = { out.data() };
        engine.process (channels, 1, 256, nullptr, 0, {});
        CHECK (std::all_of (out.begin(), out.end(), [] (float v) { return v == 0.0f; }));
    }
}

TEST_CASE ("events at a block's first and last sample apply at their times, the same as in any other blocking")
{
    // A note-on at the last sample of one block and its note-off at the first sample of a later
    // one, rendered in blocks that put them there, and in one block: the same samples.
    const int block = 512, on = block - 1, off = 40 * block;
    auto edges = synth ("violin");
    auto whole = synth ("violin");
    const std::vector<SynthEvent> events { note (on, 64), note (off, 64, 0.0f) };
    const int length = off + static_cast<int> (0.6 * kRate);
    const auto inBlocks = render (*edges, events, length, block);
    const auto inOne = render (*whole, events, length, length);
    CHECK (inBlocks == inOne);
    CHECK (rms (inBlocks, on + block, on + 20 * block) > 1e-3);
    CHECK (edges->soundingVoices() == 0); // released at `off`, its tail over by the end
}

TEST_CASE ("the sustain pedal holds a released note and all-notes-off releases every voice")
{
    auto engine = synth ("violin");
    SynthEvent pedalDown;
    pedalDown.kind = SynthEvent::Kind::controller;
    pedalDown.number = 64;
    pedalDown.value = 1.0f;
    SynthEvent allOff = pedalDown;
    allOff.number = 123;
    allOff.sampleOffset = static_cast<int> (1.0 * kRate);
    const auto out = render (*engine, { pedalDown, note (0, 60), note (0, 67), note (4410, 60, 0.0f), note (4410, 67, 0.0f), allOff },
                             static_cast<int> (1.0 * kRate) - 1);
    CHECK (engine->soundingVoices() == 2); // released keys, held by the pedal
    CHECK (rms (out, static_cast<int> (0.8 * kRate), static_cast<int> (0.99 * kRate)) > 1e-3);
    const auto after = render (*engine, { allOff }, static_cast<int> (1.5 * kRate));
    CHECK (engine->soundingVoices() == 0);
    // Released at 1.0 s: silent (the voices free) once the 0.3 s release and the latency are over.
    const int over = static_cast<int> (1.3 * kRate) + engine->latencySamples();
    CHECK (rms (after, over, static_cast<int> (1.5 * kRate)) == 0.0);
}

TEST_CASE ("Threaded plays what Inline plays, later by the worker's hop and block, in real time as offline")
{
    VoiceSettings voices;
    voices.polyphony = 4;
    const std::vector<SynthEvent> events { note (100, 60), note (3000, 64), note (9000, 67), note (30000, 60, 0.0f),
                                           note (30000, 64, 0.0f), note (30000, 67, 0.0f), note (40000, 72) };
    const int length = 60000;
    auto inlined = synth ("violin", voices, kRate, 512, false);
    auto threaded = synth ("violin", voices, kRate, 512, true);
    const int extra = threaded->latencySamples() - inlined->latencySamples();
    REQUIRE (extra > 0);
    const auto a = render (*inlined, events, length);
    const auto b = render (*threaded, events, length);
    REQUIRE (rms (a, 1000, 30000) > 1e-3);
    std::vector<float> shifted (b.begin() + extra, b.end());
    const std::vector<float> head (a.begin(), a.end() - extra);
    CHECK (shifted == head); // the same computation, on another thread: bit for bit
    CHECK (rms (b, 0, extra) == 0.0); // the lead-in is silence

    // Real time, a block at a time, each block waiting for the worker afterwards (a host in
    // lockstep: no underrun on any machine) and with a reset from the audio thread: the same
    // as offline, and the reset starts afresh.
    auto live = synth ("violin", voices, kRate, 512, true);
    live->setNonRealtime (false);
    const auto out = render (*live, events, length, 512, {}, true);
    CHECK (live->underruns() == 0);
    CHECK (out == b);

    live->requestReset();
    live->setNonRealtime (true);
    const auto again = render (*live, events, length);
    auto fresh = synth ("violin", voices, kRate, 512, true);
    CHECK (again == render (*fresh, events, length));
}
