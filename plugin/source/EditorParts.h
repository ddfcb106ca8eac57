#pragma once
// What the effect's editor (PluginEditor.h) and Timbrel Synth's (SynthEditor.h) share: the look,
// value formatting, a labelled knob, the model chooser, the model card's description, a titled
// group of controls and the map of a model's named timbres. No processor types here: each
// editor wires these to its own processor.

#include <juce_audio_processors/juce_audio_processors.h>

#include <functional>
#include <memory>
#include <vector>

namespace timbrel
{
/** A value with its unit, as the faders and plots show it ("+5.00 st", "1200 Hz"). */
juce::String formatValue (double value, const juce::String& unit, bool sign = false);
/** A sample rate in kHz ("44.1 kHz", "48 kHz"). */
juce::String formatRate (double hz);

/** One consistent look: dark panels, one accent per meter curve. */
class TimbrelLook final : public juce::LookAndFeel_V4
{
public:
    TimbrelLook();

    static const juce::Colour background, panel, text, dim, inputCurve, targetCurve, outputCurve, warning;

    void drawRotarySlider (juce::Graphics&, int x, int y, int width, int height, float position, float startAngle,
                           float endAngle, juce::Slider&) override;
};

/** A labelled knob bound to a parameter. */
class Knob final : public juce::Component
{
public:
    Knob (juce::AudioProcessorValueTreeState& state, const juce::String& parameterId, const juce::String& label);
    void setCaption (const juce::String& text) { caption.setText (text, juce::dontSendNotification); }
    juce::Slider& getSlider() { return slider; }
    void resized() override;

private:
    juce::Slider slider;
    juce::Label caption;
    std::unique_ptr<juce::AudioProcessorValueTreeState::SliderAttachment> attachment;
};

/** A titled panel laid out as one row of children (knobs, toggles, meters), each `itemWidth` wide. */
class ControlGroup final : public juce::Component
{
public:
    explicit ControlGroup (const juce::String& title, int itemWidth = 64);
    /** Adds and shows a child (`width` 0: the group's item width); the group does not own it. */
    void add (juce::Component& item, int width = 0);
    /** The width the title and the items need. */
    int preferredWidth() const;
    void resized() override;
    void paint (juce::Graphics&) override;

private:
    juce::Label title;
    int itemWidth;
    std::vector<std::pair<juce::Component*, int>> items;
};

/** The model picker: the models in the model folders by name, the one playing selected, and
    Open... for a file anywhere. `onChoose` gets what the processor's loader takes (a name or a path). */
class ModelChooser final : public juce::Component
{
public:
    ModelChooser();
    std::function<void (const juce::String& reference)> onChoose;
    /** Refills the list from the model folders and selects `playing` (a name or a path). */
    void show (const juce::String& playing);
    void resized() override;

private:
    juce::ComboBox picker;
    juce::StringArray references; // one per picker item
    juce::String playing;
    juce::TextButton openButton { "Open..." };
    std::unique_ptr<juce::FileChooser> chooser;
};

/** The model card's description: wrapped over the lines the label has room for, ended with an
    ellipsis where it does not fit, the whole text in the tooltip. */
class DescriptionLabel final : public juce::Label
{
public:
    DescriptionLabel();
    void setDescription (const juce::String& text);
    /** Whether the whole text fits in the label's current bounds. */
    bool fitsWhole() const;
};

/** The named timbres as dots on the model's first two principal axes, scaled to their extent,
    and the point being played. Names are placed where they collide with no other name and cover
    no other dot, the selected ones and the one under the mouse first; a dot left unnamed names
    itself when the mouse is over it (the tooltip). */
class TimbreMap final : public juce::Component, public juce::TooltipClient
{
public:
    void setTimbres (const juce::StringArray& names, const std::vector<juce::Point<float>>& points);
    /** `valid` false hides the current point (no axes, or nothing played yet). */
    void setCurrent (juce::Point<float> point, bool valid);
    /** The timbres the editor has selected (indexes into the names; -1 for none): named first. */
    void setSelected (std::vector<int> indexes);

    struct PlacedName
    {
        int index = -1;
        juce::Rectangle<float> bounds; // in the map's coordinates
    };
    /** The names drawn and where (for the snapshot tool and its tests). */
    const std::vector<PlacedName>& placedNames() const { return placed; }
    /** Where each timbre's dot is drawn, in the map's coordinates. */
    juce::Point<float> dotPosition (int index) const { return toScreen (points[static_cast<size_t> (index)]); }
    int numTimbres() const { return static_cast<int> (std::min (points.size(), static_cast<size_t> (names.size()))); }
    const juce::StringArray& getTimbreNames() const { return names; }

    void paint (juce::Graphics&) override;
    void resized() override { placeNames(); }
    void mouseMove (const juce::MouseEvent&) override;
    void mouseExit (const juce::MouseEvent&) override;
    juce::String getTooltip() override;

private:
    juce::Point<float> toScreen (juce::Point<float> p) const;
    juce::Rectangle<float> dotArea() const;
    int timbreAt (juce::Point<float> position) const;
    void placeNames();

    juce::StringArray names;
    std::vector<juce::Point<float>> points;
    std::vector<int> selected;
    std::vector<PlacedName> placed;
    int hovered = -1;
    juce::Point<float> current;
    bool currentValid = false;
    juce::Rectangle<float> extent { -1.0f, -1.0f, 2.0f, 2.0f };
};
} // namespace timbrel
