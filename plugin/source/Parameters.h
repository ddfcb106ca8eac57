#pragma once
// Parameter IDs are part of saved sessions and automation: never rename one, add new ones
// with a higher version. Names stay unique after pedalboard's lowercase/underscore mangling.

#include <timbrel/ModelInfo.h>

#include <juce_audio_processors/juce_audio_processors.h>

namespace timbrel::params
{
inline constexpr int kVersion = 1;
inline const juce::String mix { "mix" };
inline const juce::String outputGain { "output_gain" };
inline const juce::String bypass { "bypass" };

/** "loudness_shift", "pitch_shift", ...: one per vocabulary entry. */
inline juce::String shiftId (const VocabularyEntry& entry) { return juce::String (entry.name) + "_shift"; }

inline juce::AudioProcessorValueTreeState::ParameterLayout createLayout()
{
    juce::AudioProcessorValueTreeState::ParameterLayout layout;
    layout.add (std::make_unique<juce::AudioParameterFloat> (
        juce::ParameterID { mix, kVersion }, "Mix", juce::NormalisableRange<float> (0.0f, 100.0f, 0.0f), 100.0f,
        juce::AudioParameterFloatAttributes().withLabel ("%")));
    layout.add (std::make_unique<juce::AudioParameterFloat> (
        juce::ParameterID { outputGain, kVersion }, "Output Gain", juce::NormalisableRange<float> (-24.0f, 24.0f, 0.0f), 0.0f,
        juce::AudioParameterFloatAttributes().withLabel ("dB")));
    layout.add (std::make_unique<juce::AudioParameterBool> (juce::ParameterID { bypass, kVersion }, "Bypass", false));
    for (const auto& entry : kDescriptorVocabulary)
    {
        const auto name = juce::String (entry.name).substring (0, 1).toUpperCase() + juce::String (entry.name).substring (1);
        layout.add (std::make_unique<juce::AudioParameterFloat> (
            juce::ParameterID { shiftId (entry), kVersion }, name + " Shift",
            juce::NormalisableRange<float> (-entry.shiftRange, entry.shiftRange, 0.0f), 0.0f,
            juce::AudioParameterFloatAttributes().withLabel (entry.shiftUnit)));
    }
    return layout;
}
} // namespace timbrel::params
