#pragma once
// The editor: a model picker with the model card's summary, one row per descriptor fader
// (source, shift, fixed value and a live plot of input, target and output), the timbre
// section (TimbrePanel.h), the global controls, the latent knobs and a status line. It reads the processor only through its
// message-thread view (describeModel, pollMeters); the audio thread never waits on it.

#include "PluginProcessor.h"
#include "EditorParts.h"
#include "TimbrePanel.h"

#include <juce_audio_processors/juce_audio_processors.h>

#include <array>
#include <memory>
#include <vector>

namespace timbrel
{
/** Scrolling plot of one descriptor: the input's value, the target after the fader and what
    the output measures, over the last few seconds, on the model's range for it. */
class DescriptorPlot final : public juce::Component
{
public:
    static constexpr int kPoints = 180; // six seconds at 30 frames per second

    /** The model's range for the descriptor. Frequencies (Hz) are drawn on a log scale, which
        keeps the margin around the range above 0 Hz. */
    void setRange (float min, float max, const juce::String& unit);
    void push (float input, float target, float output, bool outputValid);
    void clear();
    void paint (juce::Graphics&) override;
    /** The axis labels drawn at the top and the bottom (for the snapshot tool). */
    juce::String topLabel() const { return formatValue (fromAxis (high), unit); }
    juce::String bottomLabel() const { return formatValue (fromAxis (low), unit); }

private:
    float toAxis (float value) const;
    float fromAxis (float position) const;

    struct Point
    {
        float input = 0.0f, target = 0.0f, output = 0.0f;
        bool outputValid = false;
    };
    std::array<Point, kPoints> history {};
    int next = 0, count = 0;
    float low = 0.0f, high = 1.0f; // on the axis: the value, or log2 of a frequency
    bool logFrequency = false;
    juce::String unit;
};

/** The controls of one fader slot and its plot. */
class FaderRow final : public juce::Component
{
public:
    FaderRow (juce::AudioProcessorValueTreeState& state, const FaderSlot& slot);

    /** `inactiveText` says why a slot the model lacks does nothing. */
    void setModelSlot (const TimbrelProcessor::SlotView& view, const juce::String& inactiveText);
    bool isActive() const { return active; }
    DescriptorPlot& plot() { return descriptorPlot; }
    void resized() override;
    void paint (juce::Graphics&) override;

private:
    const FaderSlot& slot;
    bool active = true;
    juce::Label title, detail;
    juce::ComboBox source;
    juce::Slider shift, fixed;
    juce::Label shiftLabel, fixedLabel;
    DescriptorPlot descriptorPlot;
    std::unique_ptr<juce::AudioProcessorValueTreeState::ComboBoxAttachment> sourceAttachment;
    std::unique_ptr<juce::AudioProcessorValueTreeState::SliderAttachment> shiftAttachment, fixedAttachment;
};

class TimbrelEditor final : public juce::AudioProcessorEditor, private juce::Timer
{
public:
    explicit TimbrelEditor (TimbrelProcessor&);
    ~TimbrelEditor() override;

    void paint (juce::Graphics&) override;
    void resized() override;

    /** One frame of the meters and status (the timer's work; public for the snapshot tool). */
    void refresh();

private:
    void timerCallback() override { refresh(); }
    void updateModelView();

    TimbrelProcessor& processor;
    TimbrelLook look;
    TimbrelProcessor::ModelView view;
    int shownGeneration = -1;
    uint32_t lastHops = 0;

    juce::TooltipWindow tooltips { this, 600 };
    juce::Label title, cardSummary, status, legend;
    DescriptionLabel cardDescription;
    // The model's own delay: the declared or measured figure, or the user's (nn~ modules declare none).
    juce::Label delayLabel;
    juce::TextEditor delayEditor;
    void applyDelayText();
    ModelChooser modelChooser;

    std::vector<std::unique_ptr<FaderRow>> rows;
    std::vector<std::unique_ptr<Knob>> globalKnobs, latentKnobs;
    juce::ComboBox modeBox, stereoBox, marginBox;
    juce::Label modeLabel, stereoLabel, marginLabel, latentLabel;
    juce::ToggleButton bypassButton { "Bypass" };
    juce::ToggleButton generateButton { "Generate" }; // nn~ modules with a prior
    std::unique_ptr<Knob> temperatureKnob;
    std::unique_ptr<TimbrePanel> timbrePanel;
    std::unique_ptr<juce::AudioProcessorValueTreeState::ComboBoxAttachment> modeAttachment, stereoAttachment, marginAttachment;
    std::unique_ptr<juce::AudioProcessorValueTreeState::ButtonAttachment> bypassAttachment, generateAttachment;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR (TimbrelEditor)
};
} // namespace timbrel
