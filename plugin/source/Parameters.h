#pragma once
// Parameter IDs are part of saved sessions and automation: never rename one. Every ID is its
// display name lowercased with spaces as underscores ("Loudness Shift" -> loudness_shift), which
// is how the Python hosts find them (tests/test_render.py checks it).

#include <timbrel/Controls.h>
#include <timbrel/StreamingEngine.h>

#include <juce_audio_processors/juce_audio_processors.h>

namespace timbrel::params
{
inline constexpr int kFirstVersion = 1;
inline constexpr int kVersion = 2; // processing/stereo modes, sources, fixed values, latents
inline constexpr int kMarginVersion = 3; // the Threaded margin
inline constexpr int kPriorVersion = 4;  // generation from an nn~ module's prior
inline constexpr int kTimbreVersion = 5; // the timbre section: snapshots, morph, variation; the Natural source
inline constexpr int kMidiOutVersion = 6; // the tracked pitch as MIDI out
inline const juce::String mix { "mix" };
inline const juce::String outputGain { "output_gain" };
inline const juce::String bypass { "bypass" };
inline const juce::String processingMode { "processing_mode" };
inline const juce::String stereoMode { "stereo_mode" };
inline const juce::String threadedMargin { "threaded_margin" };
inline const juce::String generate { "generate" };       // nn~ modules with a prior: latents from the prior
inline const juce::String temperature { "temperature" }; // the prior's temperature
inline const juce::String timbreSource { "timbre_source" }; // Input: the input's latent; Snapshot: A morphed to B
inline const juce::String morph { "morph" };                // A (0) to B (1), extrapolating to -0.5 and 1.5
inline const juce::String variation { "variation" };        // spread of the random walk around the snapshot
inline const juce::String midiOut { "midi_out" };               // the input's tracked pitch as MIDI notes and bends
inline const juce::String midiBendRange { "midi_bend_range" };  // semitones at full bend: set the receiving synth the same
inline const juce::String midiGate { "midi_gate" };             // a note sounds while the input is louder than this
inline const juce::StringArray timbreSourceChoices { "Input", "Snapshot" };
inline const juce::StringArray processingModeChoices { "Threaded", "Inline" };
// Hops of time the Threaded worker gets per hop; choice i means kWorkerMarginHopChoices[i].
inline const juce::StringArray threadedMarginChoices = [] {
    juce::StringArray names;
    for (int hops : kWorkerMarginHopChoices)
        names.add (juce::String (hops) + (hops == 1 ? " Hop" : " Hops"));
    return names;
}();
inline const juce::StringArray stereoModeChoices { "Dual Mono", "Linked" };
// Natural came last (version 5) so that saved choices keep their index. A model without
// natural() plays Natural as Input.
inline const juce::StringArray sourceChoices { "Input", "Sidechain", "Fixed", "Natural" };

/** The source a fader starts on: Natural for the spectral shape (a model with natural() then
    plays the snapshot's own brightness, not the input's), the input for the rest. */
inline DescriptorSource defaultSource (const FaderSlot& slot)
{
    for (const char* spectral : { "centroid", "bandwidth", "flatness" })
        if (slot.id == spectral)
            return DescriptorSource::natural;
    return DescriptorSource::input;
}

inline juce::String sourceId (const FaderSlot& slot) { return juce::String (slot.id) + "_source"; }
inline juce::String shiftId (const FaderSlot& slot) { return juce::String (slot.id) + "_shift"; }
inline juce::String fixedId (const FaderSlot& slot) { return juce::String (slot.id) + "_fixed"; }
inline juce::String latentOffsetId (int i) { return "latent_" + juce::String (i + 1) + "_offset"; }
inline juce::String latentScaleId (int i) { return "latent_" + juce::String (i + 1) + "_scale"; }

/** The display name whose lowercase-underscore form is `id`. */
inline juce::String displayName (const juce::String& id)
{
    auto words = juce::StringArray::fromTokens (id, "_", "");
    for (auto& w : words)
        w = w.substring (0, 1).toUpperCase() + w.substring (1);
    return words.joinIntoString (" ");
}

inline juce::AudioProcessorValueTreeState::ParameterLayout createLayout()
{
    using Float = juce::AudioParameterFloat;
    using Attributes = juce::AudioParameterFloatAttributes;
    juce::AudioProcessorValueTreeState::ParameterLayout layout;
    auto addFloat = [&] (const juce::String& id, int version, juce::NormalisableRange<float> range, float init, const juce::String& unit) {
        layout.add (std::make_unique<Float> (juce::ParameterID { id, version }, displayName (id), range, init,
                                             Attributes().withLabel (unit)));
    };
    auto addChoice = [&] (const juce::String& id, const juce::StringArray& choices, int init, int version = kVersion) {
        layout.add (std::make_unique<juce::AudioParameterChoice> (juce::ParameterID { id, version }, displayName (id), choices, init));
    };

    addFloat (mix, kFirstVersion, { 0.0f, 100.0f }, 100.0f, "%");
    addFloat (outputGain, kFirstVersion, { -24.0f, 24.0f }, 0.0f, "dB");
    layout.add (std::make_unique<juce::AudioParameterBool> (juce::ParameterID { bypass, kFirstVersion }, "Bypass", false));
    addChoice (processingMode, processingModeChoices, static_cast<int> (ProcessingMode::threaded));
    addChoice (stereoMode, stereoModeChoices, static_cast<int> (StereoMode::dualMono));
    addChoice (threadedMargin, threadedMarginChoices, 0, kMarginVersion);

    for (int s = 0; s < kNumFaderSlots; ++s)
    {
        const auto& slot = faderSlots()[static_cast<size_t> (s)];
        const int version = s < kVocabularySize ? kFirstVersion : kVersion;
        addChoice (sourceId (slot), sourceChoices, static_cast<int> (defaultSource (slot)));
        addFloat (shiftId (slot), version, { -slot.shiftRange, slot.shiftRange }, 0.0f, slot.shiftUnit);
        juce::NormalisableRange<float> fixedRange (slot.fixedMin, slot.fixedMax);
        if (slot.unit == "Hz")
            fixedRange.setSkewForCentre (std::sqrt (slot.fixedMin * slot.fixedMax)); // frequencies feel logarithmic
        addFloat (fixedId (slot), kVersion, fixedRange, slot.fixedDefault, slot.unit);
    }
    for (int i = 0; i < kNumLatentControls; ++i)
    {
        addFloat (latentOffsetId (i), kVersion, { -4.0f, 4.0f }, 0.0f, "");
        addFloat (latentScaleId (i), kVersion, { 0.0f, 4.0f }, 1.0f, "x");
    }
    layout.add (std::make_unique<juce::AudioParameterBool> (juce::ParameterID { generate, kPriorVersion }, displayName (generate), false));
    addFloat (temperature, kPriorVersion, { 0.0f, 2.0f }, 1.0f, "");
    addChoice (timbreSource, timbreSourceChoices, static_cast<int> (TimbreSource::input), kTimbreVersion);
    addFloat (morph, kTimbreVersion, { -0.5f, 1.5f }, 0.0f, "");
    addFloat (variation, kTimbreVersion, { 0.0f, 2.0f }, 0.0f, "");
    layout.add (std::make_unique<juce::AudioParameterBool> (juce::ParameterID { midiOut, kMidiOutVersion }, displayName (midiOut), true));
    addFloat (midiBendRange, kMidiOutVersion, { 1.0f, 48.0f, 1.0f }, 2.0f, "st");
    addFloat (midiGate, kMidiOutVersion, { -90.0f, 0.0f }, -50.0f, "dB");
    return layout;
}
} // namespace timbrel::params
