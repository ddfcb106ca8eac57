#include "timbrel/NoteTracker.h"

#include <algorithm>
#include <cmath>

namespace timbrel
{
void MidiOutBlock::add (int offset, uint8_t status, uint8_t data1, uint8_t data2, int size) noexcept
{
    if (count >= kCapacity)
    {
        ++dropped;
        return;
    }
    events[static_cast<size_t> (count++)] = MidiOutEvent { offset, { status, data1, data2 }, size };
}

void NoteTracker::setSettings (const NoteTrackerSettings& s) noexcept
{
    settings = s;
    settings.channel = std::clamp (s.channel, 1, 16);
    settings.bendRange = std::max (1.0f, s.bendRange); // a note change needs kNoteChangeSemitones of bend
    settings.hysteresisDb = std::max (0.0f, s.hysteresisDb);
    settings.hopSeconds = std::isfinite (s.hopSeconds) && s.hopSeconds > 0.0f ? s.hopSeconds : 512.0f / 44100.0f;
}

int NoteTracker::confirmHops (bool leap) const noexcept
{
    const float seconds = leap ? kLeapConfirmSeconds : kConfirmSeconds;
    return std::max (kMinConfirmHops, static_cast<int> (std::ceil (seconds / settings.hopSeconds - 1e-4f)));
}

uint8_t NoteTracker::status (uint8_t kind) const noexcept
{
    return static_cast<uint8_t> (kind | (settings.channel - 1));
}

void NoteTracker::bend (float pitch, int offset, MidiOutBlock& out, bool force) noexcept
{
    const float semitones = pitch - static_cast<float> (note);
    const int value = std::clamp (static_cast<int> (std::lround (8192.0f + semitones / settings.bendRange * 8192.0f)), 0, 16383);
    const float stepUnits = kBendStepCents / 100.0f / settings.bendRange * 8192.0f;
    if (! force && std::abs (value - lastBend) < std::max (1.0f, stepUnits))
        return;
    lastBend = value;
    out.add (offset, status (0xE0), static_cast<uint8_t> (value & 0x7F), static_cast<uint8_t> (value >> 7));
}

void NoteTracker::start (float pitch, float loudnessDb, int offset, MidiOutBlock& out) noexcept
{
    note = std::clamp (static_cast<int> (std::lround (pitch)), 0, 127);
    candidateHops = 0;
    candidate = -1;
    bend (pitch, offset, out, true); // the bend first, so the note starts in tune
    // Velocity: the gate is 1, 48 dB above it is 127.
    const float span = (loudnessDb - settings.gateDb) / 48.0f;
    const auto velocity = static_cast<uint8_t> (std::clamp (static_cast<int> (std::lround (1.0f + 126.0f * span)), 1, 127));
    out.add (offset, status (0x90), static_cast<uint8_t> (note), velocity);
}

void NoteTracker::stop (int offset, MidiOutBlock& out) noexcept
{
    if (note < 0)
        return;
    out.add (offset, status (0x80), static_cast<uint8_t> (note), 0);
    note = -1;
    candidateHops = 0;
    if (lastBend != 8192)
    {
        lastBend = 8192;
        out.add (offset, status (0xE0), 0, 64);
    }
}

bool NoteTracker::confirm (float pitch) noexcept
{
    const int nearest = std::clamp (static_cast<int> (std::lround (pitch)), 0, 127);
    candidateHops = nearest == candidate ? candidateHops + 1 : 1;
    candidate = nearest;
    const bool leap = note >= 0 && std::abs (nearest - note) > kLeapSemitones;
    return candidateHops >= confirmHops (leap);
}

void NoteTracker::hop (float pitch, float loudnessDb, int offset, MidiOutBlock& out) noexcept
{
    const bool finite = std::isfinite (pitch) && std::isfinite (loudnessDb) && pitch > -1.0f && pitch < 128.5f;
    if (note < 0)
    {
        // A note starts once its pitch has held (confirmHops): an attack's first hops
        // (a bow's scratch, a slide into the note) make no note of their own.
        if (finite && loudnessDb > settings.gateDb)
        {
            if (confirm (pitch))
                start (pitch, loudnessDb, offset, out);
        }
        else
            candidateHops = 0;
        return;
    }
    if (! finite || loudnessDb < settings.gateDb - settings.hysteresisDb)
    {
        stop (offset, out);
        return;
    }
    const float away = std::abs (pitch - static_cast<float> (note));
    if (away <= kNoteChangeSemitones)
    {
        candidateHops = 0;
        bend (pitch, offset, out, false);
        return;
    }
    // Away from the note: a new note once the new pitch has held (one wild hop between two
    // notes, an octave slip, is no note), meanwhile the bend follows within its range.
    if (confirm (pitch))
    {
        stop (offset, out);
        start (pitch, loudnessDb, offset, out);
    }
    else if (away < settings.bendRange)
        bend (pitch, offset, out, false);
}
} // namespace timbrel
