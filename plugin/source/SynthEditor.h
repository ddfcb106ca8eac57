#pragma once
// Timbrel Synth's editor: the model chooser and card, the voice controls in groups (envelope,
// glide, vibrato, voices, expression, the descriptor shifts, output), the timbre section (A, B,
// morph and the map), an on-screen keyboard that plays the synth and shows the keys held, a
// voice meter and a status line. It reads the processor only through describeModel() and the
// atomics voiceActivity() reads; the audio thread never waits on it.

#include "EditorParts.h"
#include "SynthProcessor.h"

#include <juce_audio_utils/juce_audio_utils.h>

#include <bitset>
#include <memory>
#include <vector>

namespace timbrel
{
/** The keyboard: it plays into the processor's keyboard state, and also shows the keys the
    host's MIDI holds; keys beyond the model's pitch range (played clamped) are shaded. */
class SynthKeyboard final : public juce::MidiKeyboardComponent
{
public:
    explicit SynthKeyboard (juce::MidiKeyboardState& state);
    void setHeldKeys (const std::bitset<128>& keys);
    void setPlayableRange (int lowest, int highest);
    /** Whether a key is drawn down: held on this keyboard or by the host's notes. */
    bool isShownDown (int note) const;

private:
    void drawWhiteNote (int note, juce::Graphics&, juce::Rectangle<float> area, bool isDown, bool isOver,
                        juce::Colour lineColour, juce::Colour textColour) override;
    void drawBlackNote (int note, juce::Graphics&, juce::Rectangle<float> area, bool isDown, bool isOver,
                        juce::Colour noteFillColour) override;
    void shadeUnplayable (int note, juce::Graphics&, juce::Rectangle<float> area) const;

    juce::MidiKeyboardState& keyboardState;
    std::bitset<128> held;
    int playableLow = 0, playableHigh = 127;
};

/** Voices sounding out of the polyphony: one cell per voice, and the count in words. */
class VoiceMeter final : public juce::Component
{
public:
    VoiceMeter();
    void show (int sounding, int polyphony);
    void resized() override;
    void paint (juce::Graphics&) override;

private:
    int sounding = 0, polyphony = 0;
    juce::Label count;
};

/** The timbre: two of the model's named timbres (Timbre A and B) and the morph between them,
    on the map; a model without named timbres shows the section off and says why. */
class SynthTimbrePanel final : public juce::Component
{
public:
    explicit SynthTimbrePanel (juce::AudioProcessorValueTreeState& state);
    void setModel (const SynthProcessor::ModelView& view);
    /** A frame: the pickers and the map follow the parameters (the host may move them). */
    void refresh();
    void resized() override;
    void paint (juce::Graphics&) override;
    const TimbreMap& timbreMap() const { return map; }

private:
    int chosen (int slot) const; // 0-based timbre index of A (0) or B (1)

    juce::AudioProcessorValueTreeState& state;
    juce::StringArray names;
    std::vector<juce::Point<float>> points;
    juce::Label title, morphLabel, message;
    std::array<juce::Label, 2> slotLabels;
    std::array<juce::ComboBox, 2> pickers;
    juce::Slider morph;
    TimbreMap map;
    std::unique_ptr<juce::AudioProcessorValueTreeState::SliderAttachment> morphAttachment;
};

class SynthEditor final : public juce::AudioProcessorEditor, private juce::Timer
{
public:
    explicit SynthEditor (SynthProcessor&);
    ~SynthEditor() override;

    void paint (juce::Graphics&) override;
    void resized() override;

    /** One frame of the voices, keys and status (the timer's work; public for the snapshot tool). */
    void refresh();
    const SynthKeyboard& keyboard() const { return keys; }
    const SynthTimbrePanel& timbrePanel() const { return timbre; }

private:
    void timerCallback() override { refresh(); }
    void updateModelView();
    Knob& knob (ControlGroup& group, const juce::String& parameterId, const juce::String& caption);

    SynthProcessor& processor;
    TimbrelLook look;
    juce::TooltipWindow tooltips { this, 600 };
    SynthProcessor::ModelView view;
    int shownGeneration = -1;

    juce::Label title, cardSummary, status;
    DescriptionLabel cardDescription;
    ModelChooser modelChooser;
    ControlGroup envelope { "Envelope" }, glide { "Glide" }, vibrato { "Vibrato" }, voices { "Voices" },
        expression { "Expression" }, shifts { "Shift" }, output { "Output" };
    std::vector<std::unique_ptr<Knob>> knobs;
    juce::ToggleButton monoButton { "Mono" };
    std::unique_ptr<juce::AudioProcessorValueTreeState::ButtonAttachment> monoAttachment;
    VoiceMeter voiceMeter;
    SynthTimbrePanel timbre;
    SynthKeyboard keys;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR (SynthEditor)
};
} // namespace timbrel
