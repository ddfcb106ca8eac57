// Timbrel Synth's voices: the performance -> each voice's pitch, loudness and brightness, hop by hop.
#include "timbrel/Voices.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace timbrel;

namespace
{
constexpr float kPeak = -20.0f;
constexpr float kHop = 0.01f; // 10 ms hops

struct Bank
{
    explicit Bank (VoiceSettings settings = {}) { voices.prepare (settings, kPeak, kHop); }

    /** Advances `hops` hops and returns the last frames. */
    const std::array<VoiceFrame, VoiceBank::kMaxVoices>& run (int hops)
    {
        for (int h = 0; h < hops; ++h)
            voices.advance (frames);
        return frames;
    }

    VoiceBank voices;
    std::array<VoiceFrame, VoiceBank::kMaxVoices> frames {};
};
} // namespace

TEST_CASE ("a note rises to its velocity's peak, decays to the sustain level, and releases to silence")
{
    VoiceSettings settings;
    settings.attackSeconds = 0.05f;
    settings.decaySeconds = 0.1f;
    settings.sustainDb = -6.0f;
    settings.releaseSeconds = 0.2f;
    Bank bank (settings);
    bank.voices.noteOn (1, 60, 1.0f);
    CHECK (bank.run (1)[0].sounding);
    CHECK (bank.frames[0].loudness < kPeak - 6.0f); // still in the attack
    bank.run (4);                                    // 50 ms: the attack's end
    CHECK (bank.frames[0].loudness == Approx (kPeak).margin (0.01));
    bank.run (20); // decayed
    CHECK (bank.frames[0].loudness == Approx (kPeak - 6.0f).margin (0.01));
    CHECK (bank.frames[0].pitch == 60.0f);
    bank.voices.noteOff (1, 60);
    bank.run (10); // half the release: 30 dB of 60 further down
    CHECK (bank.frames[0].loudness == Approx (kPeak - 6.0f - 30.0f).margin (0.5));
    bank.run (11);
    CHECK_FALSE (bank.frames[0].sounding);
    CHECK (bank.voices.soundingVoices() == 0);
}

TEST_CASE ("velocity sets the level: half velocity plays half the velocity range lower")
{
    VoiceSettings settings;
    settings.attackSeconds = 0.0f;
    settings.velocityRangeDb = 24.0f;
    Bank bank (settings);
    bank.voices.noteOn (1, 60, 1.0f);
    bank.voices.noteOn (1, 62, 0.5f);
    const auto& frames = bank.run (1);
    CHECK (frames[0].loudness - frames[1].loudness == Approx (12.0f).margin (1e-3));
}

TEST_CASE ("more notes than voices steal the oldest, and a note-off without its note-on changes nothing")
{
    VoiceSettings settings;
    settings.polyphony = 4;
    Bank bank (settings);
    bank.voices.noteOff (1, 50); // nothing to release
    CHECK (bank.voices.soundingVoices() == 0);
    for (int note = 60; note < 66; ++note)
        bank.voices.noteOn (1, note, 0.8f);
    CHECK (bank.voices.steals() == 2);
    const auto& frames = bank.run (2); // the stolen voices faded for a hop, then took their notes
    CHECK (bank.voices.soundingVoices() == 4);
    std::vector<float> pitches;
    for (int v = 0; v < 4; ++v)
        pitches.push_back (frames[static_cast<size_t> (v)].pitch);
    std::sort (pitches.begin(), pitches.end());
    CHECK (pitches == std::vector<float> { 62.0f, 63.0f, 64.0f, 65.0f });
    for (int v = 4; v < VoiceBank::kMaxVoices; ++v)
        CHECK_FALSE (frames[static_cast<size_t> (v)].sounding);

    for (int note = 0; note < 100; ++note) // a hundred notes at once
        bank.voices.noteOn (1 + note % 16, 20 + note, 1.0f);
    bank.run (3);
    CHECK (bank.voices.soundingVoices() == 4);
    bank.voices.allNotesOff();
    bank.run (200);
    CHECK (bank.voices.soundingVoices() == 0);
}

TEST_CASE ("the sustain pedal holds released notes until it is lifted")
{
    VoiceSettings settings;
    settings.attackSeconds = 0.0f;
    settings.decaySeconds = 0.0f;
    Bank bank (settings);
    bank.voices.sustainPedal (1, true);
    bank.voices.noteOn (1, 60, 1.0f);
    bank.run (2);
    bank.voices.noteOff (1, 60);
    const float held = bank.run (50)[0].loudness;
    CHECK (held == Approx (kPeak + settings.sustainDb));
    bank.voices.sustainPedal (1, false);
    CHECK (bank.run (5)[0].loudness < held - 5.0f);
}

TEST_CASE ("pitch bend moves the voices of its channel by the bend range; the master channel moves all (MPE)")
{
    VoiceSettings settings;
    settings.bendRange = 48.0f;
    settings.masterChannel = 1;
    Bank bank (settings);
    bank.voices.noteOn (2, 60, 1.0f); // MPE: each note on a member channel
    bank.voices.noteOn (3, 64, 1.0f);
    bank.voices.pitchBend (2, 0.25f);
    const auto& frames = bank.run (1);
    CHECK (frames[0].pitch == Approx (72.0f));
    CHECK (frames[1].pitch == Approx (64.0f));
    bank.voices.pitchBend (1, -1.0f / 48.0f); // the zone's master channel: a semitone down for all
    bank.run (1);
    CHECK (frames[0].pitch == Approx (71.0f));
    CHECK (frames[1].pitch == Approx (63.0f));
    bank.voices.slide (3, 1.0f);
    bank.voices.polyPressure (3, 64, 1.0f);
    const float before = frames[1].loudness;
    bank.run (1);
    CHECK (frames[1].brightness == Approx (settings.slideRangeOctaves));
    CHECK (frames[0].brightness == 0.0f);
    CHECK (frames[1].loudness > before + settings.pressureRangeDb - 1.0f);
}

TEST_CASE ("mono legato glides to a new note while one is held and back when it is released")
{
    VoiceSettings settings;
    settings.mono = true;
    settings.glideSeconds = 0.1f; // 10 hops
    Bank bank (settings);
    CHECK (bank.voices.polyphony() == 1);
    bank.voices.noteOn (1, 60, 1.0f);
    bank.run (5);
    bank.voices.noteOn (1, 70, 1.0f);
    CHECK (bank.run (5)[0].pitch == Approx (65.0f).margin (1e-3)); // half way
    CHECK (bank.run (5)[0].pitch == Approx (70.0f));
    bank.voices.noteOff (1, 70);
    bank.run (10);
    CHECK (bank.frames[0].pitch == Approx (60.0f));
    CHECK (bank.frames[0].sounding);
    bank.voices.noteOff (1, 60);
    bank.run (100);
    CHECK_FALSE (bank.frames[0].sounding);
}

TEST_CASE ("vibrato starts after its delay at its depth")
{
    VoiceSettings settings;
    settings.vibratoDepth = 0.5f;
    settings.vibratoRate = 5.0f;
    settings.vibratoDelay = 0.2f;
    Bank bank (settings);
    bank.voices.noteOn (1, 60, 1.0f);
    float early = 0.0f, late = 0.0f;
    for (int h = 0; h < 20; ++h)
        early = std::max (early, std::abs (bank.run (1)[0].pitch - 60.0f));
    for (int h = 0; h < 60; ++h)
        late = std::max (late, std::abs (bank.run (1)[0].pitch - 60.0f));
    CHECK (early == 0.0f);
    CHECK (late == Approx (0.5f).margin (0.02));
}
