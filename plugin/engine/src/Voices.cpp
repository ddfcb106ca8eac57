#include "timbrel/Voices.h"

#include <algorithm>
#include <cmath>

namespace timbrel
{
namespace
{
constexpr float kTwoPi = 6.28318530717958647692f;

float gainDb (float linear) { return 20.0f * std::log10 (std::max (linear, 1.0e-3f)); }
} // namespace

void VoiceBank::prepare (const VoiceSettings& s, float peakDb, float hopSeconds)
{
    settings = s;
    settings.polyphony = s.mono ? 1 : std::clamp (s.polyphony, 1, kMaxVoices);
    settings.masterChannel = std::clamp (s.masterChannel, 1, 16);
    peak = peakDb;
    hop = std::max (hopSeconds, 1.0e-5f);
    reset();
}

void VoiceBank::reset()
{
    voices = {};
    channels = {};
    counter = 0;
    vibratoPhase = 0.0f;
    monoHeld = 0;
}

void VoiceBank::setShape (const VoiceSettings& shape)
{
    const int polyphony = settings.polyphony, master = settings.masterChannel;
    const bool mono = settings.mono;
    settings = shape;
    settings.polyphony = polyphony;
    settings.masterChannel = master;
    settings.mono = mono;
    if (settings.glideSeconds <= 0.0f)
        for (auto& voice : voices)
            voice.glideLeft = 0.0f;
}

const VoiceBank::ChannelState& VoiceBank::channelState (int channel) const
{
    return channels[static_cast<size_t> (std::clamp (channel, 1, 16))];
}

float VoiceBank::channelBend (int channel) const
{
    float bend = channelState (channel).bend;
    if (channel != settings.masterChannel)
        bend += channelState (settings.masterChannel).bend;
    return bend * settings.bendRange;
}

int VoiceBank::chooseVoice()
{
    // A free voice, else the oldest releasing one, else the oldest: stolen with a one-hop fade.
    int best = -1;
    for (int v = 0; v < settings.polyphony; ++v)
        if (voices[static_cast<size_t> (v)].stage == Stage::free)
            return v;
    for (int pass = 0; pass < 2 && best < 0; ++pass)
        for (int v = 0; v < settings.polyphony; ++v)
        {
            const auto& voice = voices[static_cast<size_t> (v)];
            if ((pass == 1 || voice.stage == Stage::release) && (best < 0 || voice.order < voices[static_cast<size_t> (best)].order))
                best = v;
        }
    return best;
}

void VoiceBank::start (Voice& voice, int channel, int note, float velocity, bool legato)
{
    const bool wasSounding = voice.stage != Stage::free && voice.stage != Stage::stolen;
    voice.channel = channel;
    voice.held = true;
    voice.sustained = false;
    voice.velocityDb = -(1.0f - std::clamp (velocity, 0.0f, 1.0f)) * settings.velocityRangeDb;
    voice.polyPressure = 0.0f;
    if (legato && wasSounding && settings.glideSeconds > 0.0f)
    {
        voice.glideFrom = voice.pitch;
        voice.glideLeft = settings.glideSeconds;
    }
    else
    {
        voice.pitch = voice.glideFrom = static_cast<float> (note);
        voice.glideLeft = 0.0f;
    }
    voice.note = note;
    if (! legato || ! wasSounding)
    {
        // A retriggered voice attacks from where it is, so its level never jumps.
        voice.attackGain = wasSounding ? std::pow (10.0f, voice.envelopeDb / 20.0f) : 0.0f;
        voice.envelopeDb = gainDb (voice.attackGain);
        voice.stage = Stage::attack;
        voice.age = 0.0f;
        voice.order = ++counter;
    }
}

void VoiceBank::release (Voice& voice)
{
    voice.held = false;
    if (voice.stage == Stage::free || voice.stage == Stage::stolen)
        return;
    if (channelState (voice.channel).pedal || channelState (settings.masterChannel).pedal)
        voice.sustained = true;
    else
        voice.stage = Stage::release;
}

void VoiceBank::noteOn (int channel, int note, float velocity)
{
    if (velocity <= 0.0f)
        return noteOff (channel, note);
    note = std::clamp (note, 0, 127);
    if (settings.mono)
    {
        // Newest last; a key already in the stack moves to the top.
        auto* end = monoStack.begin() + monoHeld;
        auto* same = std::find (monoStack.begin(), end, std::make_pair (channel, note));
        if (same != end)
        {
            std::rotate (same, same + 1, end);
            --monoHeld;
        }
        if (monoHeld == static_cast<int> (monoStack.size()))
        {
            std::rotate (monoStack.begin(), monoStack.begin() + 1, monoStack.end());
            --monoHeld;
        }
        monoStack[static_cast<size_t> (monoHeld++)] = { channel, note };
        auto& voice = voices[0];
        start (voice, channel, note, velocity, voice.held); // legato while a key is still down
        return;
    }
    for (int v = 0; v < settings.polyphony; ++v)
    {
        auto& voice = voices[static_cast<size_t> (v)];
        if (voice.stage != Stage::free && voice.stage != Stage::stolen && voice.channel == channel && voice.note == note)
            return start (voice, channel, note, velocity, false); // the same key again: retrigger
    }
    const int chosen = chooseVoice();
    auto& voice = voices[static_cast<size_t> (chosen)];
    if (voice.stage != Stage::free)
    {
        ++stealCount;
        voice.stage = Stage::stolen;
        voice.held = false;
        voice.pendingNote = note;
        voice.pendingChannel = channel;
        voice.pendingVelocity = velocity;
        voice.order = ++counter;
        return;
    }
    start (voice, channel, note, velocity, false);
}

void VoiceBank::noteOff (int channel, int note)
{
    if (settings.mono)
    {
        auto* end = monoStack.begin() + monoHeld;
        auto* found = std::find (monoStack.begin(), end, std::make_pair (channel, note));
        if (found == end)
            return; // a note-off without its note-on
        std::rotate (found, found + 1, end);
        --monoHeld;
        auto& voice = voices[0];
        if (voice.note != note || voice.channel != channel)
            return;
        if (monoHeld > 0) // back to the newest key still down, legato
        {
            const auto [c, n] = monoStack[static_cast<size_t> (monoHeld - 1)];
            start (voice, c, n, 1.0f + voice.velocityDb / std::max (settings.velocityRangeDb, 1.0e-3f), true);
        }
        else
            release (voice);
        return;
    }
    for (int v = 0; v < settings.polyphony; ++v)
    {
        auto& voice = voices[static_cast<size_t> (v)];
        if (voice.stage == Stage::stolen && voice.pendingChannel == channel && voice.pendingNote == note)
            voice.pendingVelocity = -1.0f; // released before it began: the fade ends the voice
        else if (voice.held && voice.channel == channel && voice.note == note)
            release (voice);
    }
}

void VoiceBank::allNotesOff()
{
    monoHeld = 0;
    for (auto& channel : channels)
        channel.pedal = false;
    for (auto& voice : voices)
    {
        if (voice.stage == Stage::stolen)
            voice.pendingVelocity = -1.0f;
        release (voice);
    }
}

void VoiceBank::allSoundOff()
{
    monoHeld = 0;
    for (auto& voice : voices)
        voice = Voice {};
}

void VoiceBank::pitchBend (int channel, float amount) { channels[static_cast<size_t> (std::clamp (channel, 1, 16))].bend = std::clamp (amount, -1.0f, 1.0f); }
void VoiceBank::pressure (int channel, float amount) { channels[static_cast<size_t> (std::clamp (channel, 1, 16))].pressure = std::clamp (amount, 0.0f, 1.0f); }
void VoiceBank::slide (int channel, float amount) { channels[static_cast<size_t> (std::clamp (channel, 1, 16))].slide = std::clamp (amount, 0.0f, 1.0f); }
void VoiceBank::expression (int channel, float amount) { channels[static_cast<size_t> (std::clamp (channel, 1, 16))].expression = std::clamp (amount, 0.0f, 1.0f); }
void VoiceBank::breath (int channel, float amount) { channels[static_cast<size_t> (std::clamp (channel, 1, 16))].breath = std::clamp (amount, 0.0f, 1.0f); }

void VoiceBank::polyPressure (int channel, int note, float amount)
{
    for (auto& voice : voices)
        if (voice.stage != Stage::free && voice.channel == channel && voice.note == note)
            voice.polyPressure = std::clamp (amount, 0.0f, 1.0f);
}

void VoiceBank::sustainPedal (int channel, bool down)
{
    channels[static_cast<size_t> (std::clamp (channel, 1, 16))].pedal = down;
    if (down)
        return;
    for (auto& voice : voices)
        if (voice.sustained && ! channelState (voice.channel).pedal && ! channelState (settings.masterChannel).pedal)
        {
            voice.sustained = false;
            if (voice.stage != Stage::free && voice.stage != Stage::stolen)
                voice.stage = Stage::release;
        }
}

int VoiceBank::soundingVoices() const
{
    int count = 0;
    for (int v = 0; v < settings.polyphony; ++v)
        count += voices[static_cast<size_t> (v)].stage != Stage::free ? 1 : 0;
    return count;
}

void VoiceBank::advance (std::array<VoiceFrame, kMaxVoices>& frames)
{
    vibratoPhase = std::fmod (vibratoPhase + kTwoPi * settings.vibratoRate * hop, kTwoPi);
    const float silence = -kSilenceDb;
    for (int v = 0; v < kMaxVoices; ++v)
    {
        auto& voice = voices[static_cast<size_t> (v)];
        auto& frame = frames[static_cast<size_t> (v)];
        if (v >= settings.polyphony || voice.stage == Stage::free)
        {
            frame.sounding = false;
            frame.loudness = peak + silence;
            frame.pitch = voice.pitch;
            frame.brightness = 0.0f;
            continue;
        }
        switch (voice.stage)
        {
            case Stage::attack:
                voice.attackGain = settings.attackSeconds > 0.0f ? voice.attackGain + hop / settings.attackSeconds : 1.0f;
                voice.envelopeDb = gainDb (std::min (voice.attackGain, 1.0f));
                if (voice.attackGain >= 1.0f)
                {
                    voice.envelopeDb = 0.0f;
                    voice.stage = Stage::decay;
                }
                break;
            case Stage::decay:
            {
                const float slope = settings.decaySeconds > 0.0f ? -settings.sustainDb / settings.decaySeconds : 1.0e9f;
                voice.envelopeDb = std::max (settings.sustainDb, voice.envelopeDb - slope * hop);
                if (voice.envelopeDb <= settings.sustainDb)
                    voice.stage = Stage::sustain;
                break;
            }
            case Stage::sustain:
                voice.envelopeDb = settings.sustainDb;
                break;
            case Stage::release:
                voice.envelopeDb -= (settings.releaseSeconds > 0.0f ? kSilenceDb / settings.releaseSeconds : 1.0e9f) * hop;
                if (voice.envelopeDb <= silence)
                    voice.stage = Stage::free;
                break;
            case Stage::stolen:
                // One hop's fade to silence (the engine ramps each voice's gain across the hop),
                // then the note that took the voice starts.
                voice.envelopeDb = silence;
                voice.stage = Stage::free;
                if (voice.pendingVelocity > 0.0f)
                {
                    start (voice, voice.pendingChannel, voice.pendingNote, voice.pendingVelocity, false);
                    voice.attackGain = 0.0f;
                    voice.envelopeDb = silence;
                }
                voice.pendingNote = -1;
                frame.sounding = voice.stage != Stage::free;
                frame.loudness = peak + silence;
                frame.brightness = 0.0f;
                continue;
            case Stage::free:
                break;
        }

        if (voice.glideLeft > 0.0f)
        {
            voice.glideLeft = std::max (0.0f, voice.glideLeft - hop);
            voice.pitch = static_cast<float> (voice.note)
                          + (voice.glideFrom - static_cast<float> (voice.note)) * voice.glideLeft / settings.glideSeconds;
        }
        else
            voice.pitch = static_cast<float> (voice.note);

        const auto& channel = channelState (voice.channel);
        const auto& master = channelState (settings.masterChannel);
        float vibrato = 0.0f;
        if (settings.vibratoDepth > 0.0f)
        {
            const float delay = settings.vibratoDelay;
            const float fadeIn = delay > 0.0f ? std::clamp ((voice.age - delay) / delay, 0.0f, 1.0f) : 1.0f;
            vibrato = settings.vibratoDepth * fadeIn * std::sin (vibratoPhase);
        }
        const float pressureNow = std::max ({ channel.pressure, master.pressure, voice.polyPressure });
        frame.sounding = voice.stage != Stage::free;
        frame.pitch = voice.pitch + channelBend (voice.channel) + vibrato;
        frame.loudness = peak + voice.velocityDb + voice.envelopeDb + pressureNow * settings.pressureRangeDb
                         + gainDb (channel.expression * master.expression) + gainDb (channel.breath * master.breath);
        frame.brightness = (channel.slide - 0.5f) * 2.0f * settings.slideRangeOctaves;
        voice.age += hop;
    }
}
} // namespace timbrel
