#pragma once
// The effect's tracked pitch as MIDI out: the model's analysis of the input, hop by hop (pitch
// in semitones, loudness in dB), turned into one monophonic MIDI line that another synth can
// follow. A note starts when the input rises above a loudness gate and stops when it falls
// below it (less a hysteresis); the note is the nearest semitone, and pitch bend carries the
// rest (vibrato, slides, tuning). A pitch more than kNoteChangeSemitones from the sounding note
// whose nearest semitone holds (confirmHops) is a new note (legato: note-off and note-on
// together); a note starts only once its pitch has held as long.
// Plain C++, no allocation: it runs on the audio thread.

#include <array>
#include <cstdint>

namespace timbrel
{
/** One MIDI message at a sample offset within the block being processed. */
struct MidiOutEvent
{
    int offset = 0;
    std::array<uint8_t, 3> bytes {};
    int size = 3;
};

/** The events of one block, at most kCapacity (a hop makes at most four). */
struct MidiOutBlock
{
    static constexpr int kCapacity = 512;
    std::array<MidiOutEvent, kCapacity> events {};
    int count = 0;
    int dropped = 0; // more than kCapacity in one block (hops far shorter than the block)

    void clear() noexcept { count = dropped = 0; }
    void add (int offset, uint8_t status, uint8_t data1, uint8_t data2, int size = 3) noexcept;
};

struct NoteTrackerSettings
{
    float gateDb = -50.0f;      // a note sounds while the input's loudness is above this
    float hysteresisDb = 6.0f;  // ... and stops below gateDb minus this
    float bendRange = 2.0f;     // semitones at full pitch bend: set the receiving synth the same
    int channel = 1;            // 1..16
    float hopSeconds = 512.0f / 44100.0f; // the analysis' hop: confirmation times count in hops
};

class NoteTracker
{
public:
    static constexpr float kNoteChangeSemitones = 0.65f;
    // A pitch holds this long (and at least kMinConfirmHops hops) before it is a note; a leap of
    // more than an octave from the sounding note must hold kLeapConfirmSeconds: the analysis
    // can slip by octaves for a few hops where two notes overlap.
    static constexpr float kConfirmSeconds = 0.02f;
    static constexpr float kLeapConfirmSeconds = 0.08f;
    static constexpr int kMinConfirmHops = 2;
    static constexpr float kLeapSemitones = 12.0f;
    /** Hops a pitch must hold: kConfirmSeconds, or kLeapConfirmSeconds for a leap. */
    int confirmHops (bool leap) const noexcept;
    static constexpr float kBendStepCents = 1.0f; // a bend is sent when the pitch moved this much

    void setSettings (const NoteTrackerSettings& s) noexcept;
    /** One hop of analysis, its events at `offset` in the block. Non-finite values are silence. */
    void hop (float pitch, float loudnessDb, int offset, MidiOutBlock& out) noexcept;
    /** Ends the sounding note (a model switch, bypass, a reset) and centres the bend. */
    void stop (int offset, MidiOutBlock& out) noexcept;
    /** The note sounding, -1 if none. */
    int sounding() const noexcept { return note; }

private:
    void start (float pitch, float loudnessDb, int offset, MidiOutBlock& out) noexcept;
    void bend (float pitch, int offset, MidiOutBlock& out, bool force) noexcept;
    uint8_t status (uint8_t kind) const noexcept;
    /** Counts the hops `pitch`'s nearest note has held; true once it has held long enough. */
    bool confirm (float pitch) noexcept;

    NoteTrackerSettings settings;
    int note = -1;
    int candidate = -1;    // the nearest note of the pitch while it is away from `note` (or before one)
    int candidateHops = 0; // hops it has held
    int lastBend = 8192;
};
} // namespace timbrel
