#pragma once
// Timbrel Synth's voices: a performance (notes, bends, pressure, slide, expression, breath,
// sustain pedal) turned into each voice's descriptors hop by hop: pitch in semitones (the note,
// bend, glide and vibrato), loudness in dB (velocity and an ADSR envelope, plus pressure,
// expression and breath) and a brightness shift in octaves (MPE slide). Plain C++, no torch,
// no allocation after prepare(): the synth engine calls it on the audio thread.
//
// Channels carry the controls, as in MIDI: a bend, pressure or slide on a channel moves the
// voices sounding on it. With MPE each note has a channel of its own (a member channel), so the
// same calls make per-note expression; the zone's master channel (`masterChannel`) moves all.

#include <array>
#include <cstdint>
#include <vector>

namespace timbrel
{
struct VoiceSettings
{
    int polyphony = 8;             // voices decoded together (1..kMaxVoices)
    bool mono = false;             // one voice, legato: a new note while one is held glides to it
    float glideSeconds = 0.08f;    // mono legato glide time (0: jump)
    float bendRange = 2.0f;        // semitones at full pitch bend (MPE controllers often send 48)
    float vibratoRate = 5.5f;      // Hz
    float vibratoDepth = 0.0f;     // semitones (peak)
    float vibratoDelay = 0.3f;     // seconds after the note starts before vibrato fades in (over as long again)
    float attackSeconds = 0.02f;
    float decaySeconds = 0.3f;
    float sustainDb = -6.0f;       // level the decay falls to, relative to the note's peak
    float releaseSeconds = 0.3f;   // to kSilenceDb below the peak
    float velocityRangeDb = 24.0f; // velocity 1 plays this much below velocity 127
    float pressureRangeDb = 12.0f; // pressure (aftertouch) 0..1 adds up to this much
    float slideRangeOctaves = 1.0f;// MPE slide (CC74) 0..1 shifts brightness by -range..+range around 64
    int masterChannel = 1;         // bends etc. on this channel move every voice (MPE lower zone; plain MIDI: 1)
};

/** One voice's descriptors for one hop. */
struct VoiceFrame
{
    bool sounding = false;   // false: the voice is free (its row of the batch plays silence)
    float pitch = 60.0f;     // semitones (MIDI note number), fractional
    float loudness = -120.0f; // dB
    float brightness = 0.0f;  // octaves: the spectral descriptors' shift (slide)
};

class VoiceBank
{
public:
    static constexpr int kMaxVoices = 16;
    static constexpr float kSilenceDb = 60.0f; // a released voice is free once this far below its peak

    /** `peakDb`: loudness of a velocity-127 note at full envelope (the model's loudest, say);
        `hopSeconds`: the time one advance() moves. */
    void prepare (const VoiceSettings& settings, float peakDb, float hopSeconds);
    void reset();
    /** The envelope, glide, bend, vibrato and expression ranges, while playing (audio thread):
        everything but polyphony, mono and the master channel, which need prepare(). */
    void setShape (const VoiceSettings& shape);

    void noteOn (int channel, int note, float velocity); // velocity 0..1 (0 is a note-off)
    void noteOff (int channel, int note);
    void allNotesOff();                      // releases every voice (CC123), tails run
    void allSoundOff();                      // voices free at once (CC120, a model switch)
    void pitchBend (int channel, float amount); // -1..1
    void pressure (int channel, float amount);  // 0..1 (channel or MPE aftertouch)
    void polyPressure (int channel, int note, float amount);
    void slide (int channel, float amount);     // 0..1 (CC74), 0.5 neutral
    void expression (int channel, float amount); // 0..1 (CC11), 1 neutral
    void breath (int channel, float amount);     // 0..1 (CC2), 1 neutral
    void sustainPedal (int channel, bool down);

    /** Moves every voice on by one hop; frames[v] for v < polyphony. */
    void advance (std::array<VoiceFrame, kMaxVoices>& frames);

    int polyphony() const { return settings.polyphony; }
    int soundingVoices() const;
    /** Voices a new note took from another note still sounding, since prepare() (for the editor). */
    uint64_t steals() const { return stealCount; }

private:
    enum class Stage { free, attack, decay, sustain, release, stolen };

    struct Voice
    {
        Stage stage = Stage::free;
        int channel = 0, note = -1;
        bool held = false, sustained = false; // key down; released while the pedal was down
        float velocityDb = 0.0f;
        float envelopeDb = -kSilenceDb;      // relative to the peak
        float attackGain = 0.0f;             // linear 0..1 in the attack
        float pitch = 60.0f, glideFrom = 60.0f, glideLeft = 0.0f;
        float age = 0.0f;                    // seconds since the note started
        float polyPressure = 0.0f;
        uint64_t order = 0;                  // when it started (stealing takes the oldest)
        int pendingNote = -1, pendingChannel = 0; // stolen: the note that follows the fade
        float pendingVelocity = 0.0f;
    };

    struct ChannelState
    {
        float bend = 0.0f, pressure = 0.0f, slide = 0.5f, expression = 1.0f, breath = 1.0f;
        bool pedal = false;
    };

    int chooseVoice();
    void start (Voice& voice, int channel, int note, float velocity, bool legato);
    void release (Voice& voice);
    const ChannelState& channelState (int channel) const;
    float channelBend (int channel) const;

    VoiceSettings settings;
    float peak = -20.0f, hop = 0.01f;
    std::array<Voice, kMaxVoices> voices {};
    std::array<ChannelState, 17> channels {}; // 1..16; 0 unused
    uint64_t counter = 0, stealCount = 0;
    float vibratoPhase = 0.0f;
    // Mono: the keys held, newest last (a release returns to the note still held).
    std::array<std::pair<int, int>, 32> monoStack {};
    int monoHeld = 0;
};
} // namespace timbrel
