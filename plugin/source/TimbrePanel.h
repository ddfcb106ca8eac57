#pragma once
// The timbre section of the editor: where the latent comes from (the input, or snapshot A
// morphed towards B), the two snapshot pickers with Capture, Morph and Variation, and a map of
// the model's named timbres on its first two principal axes with the point being played.
// A model without named timbres shows the section disabled and says why.

#include "PluginProcessor.h"

#include <juce_audio_processors/juce_audio_processors.h>

#include <array>
#include <memory>
#include <vector>

namespace timbrel
{
/** The named timbres as dots on the first two principal axes, and the current point. */
class TimbreMap final : public juce::Component
{
public:
    void setTimbres (const juce::StringArray& names, const std::vector<juce::Point<float>>& points);
    /** `valid` false hides the current point (no axes, or nothing played yet). */
    void setCurrent (juce::Point<float> point, bool valid);
    void paint (juce::Graphics&) override;

private:
    juce::Point<float> toScreen (juce::Point<float> p) const;

    juce::StringArray names;
    std::vector<juce::Point<float>> points;
    juce::Point<float> current;
    bool currentValid = false;
    juce::Rectangle<float> extent { -1.0f, -1.0f, 2.0f, 2.0f };
};

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
