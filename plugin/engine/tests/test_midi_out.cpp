// The effect's tracked pitch as MIDI out: the note logic on known sequences, then a shipped
// model's analysis of tones with known pitches and times, through the streaming engine in both
// modes, placed where their audio plays (the engine's latency).
#include "TestModels.h"
#include "timbrel/NoteTracker.h"
#include "timbrel/StreamingEngine.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using namespace timbrel;

namespace
{
struct Message
{
    long long at;
    uint8_t status, data1, data2;
    int kind() const { return status & 0xF0; }
    int bend() const { return data1 | (data2 << 7); }
};

std::vector<Message> feed (NoteTracker& tracker, const std::vector<std::pair<float, float>>& hops, int hopSize = 512)
{
    std::vector<Message> messages;
    MidiOutBlock block;
    for (size_t i = 0; i < hops.size(); ++i)
    {
        block.clear();
        tracker.hop (hops[i].first, hops[i].second, 0, block);
        for (int e = 0; e < block.count; ++e)
        {
            const auto& event = block.events[static_cast<size_t> (e)];
            messages.push_back ({ static_cast<long long> (i) * hopSize, event.bytes[0], event.bytes[1], event.bytes[2] });
        }
    }
    return messages;
}

int count (const std::vector<Message>& messages, int kind)
{
    int n = 0;
    for (const auto& m : messages)
        n += m.kind() == kind ? 1 : 0;
    return n;
}
} // namespace

TEST_CASE ("note tracker: a note from voicing, bends for the fine pitch, a new note past the change threshold", "[midi-out]")
{
    NoteTracker tracker;
    tracker.setSettings ({ -50.0f, 6.0f, 2.0f, 3, 512.0f / 44100.0f });
    REQUIRE (tracker.confirmHops (false) == 2);
    REQUIRE (tracker.confirmHops (true) == 7); // 80 ms of 11.6 ms hops
    std::vector<std::pair<float, float>> hops;
    for (int i = 0; i < 10; ++i)
        hops.emplace_back (60.0f, -80.0f); // silence
    for (int i = 0; i < 40; ++i) // A held C4, 20 cents sharp, 30-cent vibrato, six hops slipped three octaves
        hops.emplace_back (i >= 20 && i < 26 ? 34.0f : 60.2f + 0.3f * std::sin (0.5f * static_cast<float> (i)), -20.0f);
    for (int i = 0; i < 20; ++i)
        hops.emplace_back (67.0f, -20.0f); // a leap to G4
    for (int i = 0; i < 10; ++i)
        hops.emplace_back (68.0f, -20.0f); // a step within the bend range: a new note once confirmed
    for (int i = 0; i < 10; ++i)
        hops.emplace_back (68.3f, -53.0f); // in the hysteresis: still sounding
    for (int i = 0; i < 10; ++i)
        hops.emplace_back (68.0f, -70.0f); // released
    const auto messages = feed (tracker, hops);

    REQUIRE (count (messages, 0x90) == 3);
    REQUIRE (count (messages, 0x80) == 3);
    std::vector<Message> ons, offs;
    for (const auto& m : messages)
    {
        CHECK ((m.status & 0x0F) == 2); // channel 3
        if (m.kind() == 0x90)
            ons.push_back (m);
        if (m.kind() == 0x80)
            offs.push_back (m);
    }
    CHECK (ons[0].data1 == 60);
    CHECK (ons[0].at == (10 + tracker.confirmHops (false) - 1) * 512); // once the pitch has held
    CHECK (ons[0].data2 > 1); // -20 dB is 30 dB over the gate
    CHECK (ons[1].data1 == 67);
    CHECK (ons[1].at == (50 + tracker.confirmHops (false) - 1) * 512);
    CHECK (offs[0].data1 == 60);
    CHECK (offs[0].at == ons[1].at);
    // The semitone step bends until it has held kConfirmHops hops, then is a note of its own.
    CHECK (ons[2].data1 == 68);
    CHECK (ons[2].at == (70 + tracker.confirmHops (false) - 1) * 512);
    CHECK (offs[1].data1 == 67);
    CHECK (offs[2].data1 == 68);
    CHECK (offs[2].at == 90 * 512);
    CHECK (tracker.sounding() == -1);

    // Every bend before the note-on and while C4 sounds carries the fine pitch: 60.2 +- 0.3 in a
    // range of 2 semitones is 8192 + (-0.1 .. 0.5) / 2 * 8192.
    for (const auto& m : messages)
        if (m.kind() == 0xE0 && m.at < ons[1].at)
        {
            CHECK (m.bend() >= 8192 - 0.1 / 2.0 * 8192 - 2);
            CHECK (m.bend() <= 8192 + 0.5 / 2.0 * 8192 + 2);
        }
    // The 30-cent bend in the hysteresis is centred again when the note ends.
    const Message* lastBend = nullptr;
    for (const auto& m : messages)
        if (m.kind() == 0xE0)
            lastBend = &m;
    REQUIRE (lastBend != nullptr);
    CHECK (lastBend->at == 90 * 512);
    CHECK (lastBend->bend() == 8192);
}

TEST_CASE ("note tracker: non-finite analysis is silence, and stop ends the note once", "[midi-out]")
{
    NoteTracker tracker;
    MidiOutBlock block;
    tracker.hop (NAN, -10.0f, 0, block);
    tracker.hop (69.0f, INFINITY, 0, block);
    CHECK (block.count == 0);
    for (int i = 0; i < tracker.confirmHops (false); ++i)
        tracker.hop (69.0f, -10.0f, 5, block);
    REQUIRE (tracker.sounding() == 69);
    tracker.hop (NAN, -10.0f, 6, block);
    CHECK (tracker.sounding() == -1);
    const int before = block.count;
    tracker.stop (7, block);
    CHECK (block.count == before);
    // Louder input, higher velocity.
    NoteTracker soft, loud;
    MidiOutBlock a, b;
    for (int i = 0; i < tracker.confirmHops (false); ++i)
    {
        soft.hop (60.0f, -40.0f, 0, a);
        loud.hop (60.0f, -5.0f, 0, b);
    }
    CHECK (a.events[1].bytes[2] < b.events[1].bytes[2]);
}

namespace
{
constexpr double kRate = 44100.0;

/** A bowed-string-like tone (ten harmonics falling 6 dB per octave) per (start, end, MIDI note). */
std::vector<float> tones (const std::vector<std::tuple<double, double, int>>& notes, double seconds)
{
    std::vector<float> audio (static_cast<size_t> (seconds * kRate), 0.0f);
    for (const auto& [start, end, note] : notes)
    {
        const double f0 = 440.0 * std::pow (2.0, (note - 69) / 12.0);
        for (auto i = static_cast<size_t> (start * kRate); i < static_cast<size_t> (end * kRate) && i < audio.size(); ++i)
        {
            const double t = static_cast<double> (i) / kRate;
            double v = 0.0;
            for (int h = 1; h <= 10; ++h)
                v += std::sin (2.0 * M_PI * f0 * h * t) / h;
            audio[i] += static_cast<float> (0.2 * v);
        }
    }
    return audio;
}

std::vector<Message> trackThroughEngine (ProcessingMode mode, const std::vector<float>& input, int block, int& latency, int& hop)
{
    auto loaded = Model::load (test::shippedModel ("violin"));
    INFO (loaded.error);
    REQUIRE (loaded);
    StreamingEngine engine (std::move (loaded.model));
    EngineConfig config;
    config.sampleRate = kRate;
    config.maxBlockSize = block;
    config.numChannels = 1;
    config.mode = mode;
    REQUIRE (engine.prepare (config).empty());
    engine.setNonRealtime (true);
    latency = engine.latencySamples();
    hop = static_cast<int> (engine.info().hopLength);
    NoteTracker tracker;
    tracker.setSettings ({ -50.0f, 6.0f, 2.0f, 1, static_cast<float> (hop) / static_cast<float> (engine.info().sampleRate) });
    MidiOutBlock events;
    std::vector<Message> messages;
    std::vector<float> out (static_cast<size_t> (block));
    for (size_t start = 0; start < input.size(); start += static_cast<size_t> (block))
    {
        const int n = static_cast<int> (std::min<size_t> (static_cast<size_t> (block), input.size() - start));
        const float* in[1] = { input.data() + start };
        float* o[1] = { out.data() };
        engine.process (in, o, 1, nullptr, 0, n, EngineControls {});
        events.clear();
        const auto& hops = engine.trackedHops();
        for (int i = 0; i < hops.count; ++i)
        {
            const auto& h = hops.hops[static_cast<size_t> (i)];
            REQUIRE (h.offset >= 0);
            REQUIRE (h.offset < n);
            tracker.hop (h.pitch, h.loudness, h.offset, events);
        }
        for (int e = 0; e < events.count; ++e)
        {
            const auto& event = events.events[static_cast<size_t> (e)];
            messages.push_back ({ static_cast<long long> (start) + event.offset, event.bytes[0], event.bytes[1], event.bytes[2] });
        }
    }
    return messages;
}
} // namespace

TEST_CASE ("MIDI out from a shipped model's analysis: the played notes, where their audio plays", "[midi-out][shipped]")
{
    // A4 from 0.5 to 1.5 s, E4 from 2.0 to 3.0 s, silence around them.
    const std::vector<std::tuple<double, double, int>> notes { { 0.5, 1.5, 69 }, { 2.0, 3.0, 64 } };
    const auto input = tones (notes, 3.6);
    for (auto mode : { ProcessingMode::inlined, ProcessingMode::threaded })
        for (int block : { 128, 512, 2048 })
        {
            DYNAMIC_SECTION ((mode == ProcessingMode::inlined ? "Inline" : "Threaded") << ", block " << block)
            {
                int latency = 0, hop = 0;
                const auto messages = trackThroughEngine (mode, input, block, latency, hop);
                std::vector<Message> ons, offs;
                for (const auto& m : messages)
                {
                    if (m.kind() == 0x90)
                        ons.push_back (m);
                    if (m.kind() == 0x80)
                        offs.push_back (m);
                }
                INFO ("latency " << latency << ", hop " << hop << ", " << ons.size() << " notes");
                REQUIRE (ons.size() == notes.size());
                REQUIRE (offs.size() == notes.size());
                for (size_t k = 0; k < notes.size(); ++k)
                {
                    const auto [start, end, note] = notes[k];
                    CHECK (ons[k].data1 == note);
                    CHECK (offs[k].data1 == note);
                    // The note starts within a hop and the confirmation of its audio in the
                    // output, and ends within the analysis window after it.
                    const double onAt = static_cast<double> (ons[k].at - latency) / kRate;
                    const double offAt = static_cast<double> (offs[k].at - latency) / kRate;
                    INFO ("note " << note << ": on at " << onAt << " s, off at " << offAt << " s");
                    CHECK (onAt >= start - 1.0 * hop / kRate);
                    CHECK (onAt <= start + NoteTracker::kConfirmSeconds + 2.0 * hop / kRate);
                    CHECK (offAt >= end - 1.0 * hop / kRate);
                    CHECK (offAt <= end + 4096.0 / kRate + 2.0 * hop / kRate);
                }
            }
        }
}
