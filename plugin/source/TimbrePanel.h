#pragma once
// The timbre section of the editor: where the latent comes from (the input, or snapshot A
// morphed towards B), the two snapshot pickers with Capture, Morph and Variation, and a map of
// the model's named timbres on its first two principal axes with the point being played.
// A model without named timbres shows the section disabled and says why.

#include "EditorParts.h"
#include "PluginProcessor.h"

#include <juce_audio_processors/juce_audio_processors.h>

#include <array>
#include <memory>
#include <vector>

namespace timbrel
{
class TimbrePanel final : public juce::Component
{
public:
    TimbrePanel (TimbrelProcessor& processor, juce::AudioProcessorValueTreeState& state);

    /** A new model: its timbres for the pickers and the map, or the section disabled. */
    void setModel (const TimbrelProcessor::ModelView& view);
    /** A frame: the snapshots' names, the map's current point, the section's message. */
    void refresh();
    void resized() override;
    void paint (juce::Graphics&) override;
    const TimbreMap& timbreMap() const { return map; }

private:
    struct SlotControls
    {
        juce::Label label;
        juce::ComboBox picker;
        juce::TextButton capture { "Capture" };
    };
    void pick (int slot);

    TimbrelProcessor& processor;
    bool enabled = false;
    juce::StringArray names;
    juce::Label title, sourceLabel, morphLabel, variationLabel, message;
    juce::ComboBox source;
    std::array<SlotControls, TimbreSlots::kNumSlots> slots;
    juce::Slider morph, variation;
    TimbreMap map;
    std::unique_ptr<juce::AudioProcessorValueTreeState::ComboBoxAttachment> sourceAttachment;
    std::unique_ptr<juce::AudioProcessorValueTreeState::SliderAttachment> morphAttachment, variationAttachment;
};
} // namespace timbrel
