#include "TimbrePanel.h"

namespace timbrel
{
namespace
{
constexpr int kCapturedItem = 1000; // the picker item that shows a captured snapshot
} // namespace

TimbrePanel::TimbrePanel (TimbrelProcessor& p, juce::AudioProcessorValueTreeState& state) : processor (p)
{
    title.setText ("Timbre", juce::dontSendNotification);
    title.setFont (juce::Font (15.0f, juce::Font::bold));
    sourceLabel.setText ("Source", juce::dontSendNotification);
    morphLabel.setText ("Morph A to B", juce::dontSendNotification);
    variationLabel.setText ("Variation", juce::dontSendNotification);
    message.setFont (11.0f);
    message.setColour (juce::Label::textColourId, TimbrelLook::warning);
    message.setJustificationType (juce::Justification::topLeft);
    for (auto* label : { &sourceLabel, &morphLabel, &variationLabel })
    {
        label->setFont (11.0f);
        label->setColour (juce::Label::textColourId, TimbrelLook::dim);
    }
    source.addItemList (params::timbreSourceChoices, 1);
    source.setTooltip ("Input: the timbre the input has (timbre transfer keeps it). Snapshot: A morphed towards B.");
    for (size_t s = 0; s < slots.size(); ++s)
    {
        auto& slot = slots[s];
        slot.label.setText (s == 0 ? "A" : "B", juce::dontSendNotification);
        slot.label.setFont (juce::Font (13.0f, juce::Font::bold));
        slot.picker.setTextWhenNothingSelected ("choose a timbre");
        slot.picker.onChange = [this, s] { pick (static_cast<int> (s)); };
        slot.capture.setTooltip ("Take the timbre of the last three seconds of sounding input");
        slot.capture.onClick = [this, s] { processor.captureSnapshot (static_cast<int> (s)); refresh(); };
        for (auto* c : std::initializer_list<juce::Component*> { &slot.label, &slot.picker, &slot.capture })
            addAndMakeVisible (c);
    }
    morph.setSliderStyle (juce::Slider::LinearHorizontal);
    morph.setTextBoxStyle (juce::Slider::TextBoxRight, false, 48, 18);
    variation.setSliderStyle (juce::Slider::LinearHorizontal);
    variation.setTextBoxStyle (juce::Slider::TextBoxRight, false, 48, 18);
    morph.setTooltip ("0 plays A, 1 plays B; beyond either end extrapolates away from the other");
    variation.setTooltip ("Wanders around the snapshot by this much (in latent units), slowly");
    for (auto* c : std::initializer_list<juce::Component*> { &title, &sourceLabel, &source, &morphLabel, &morph, &variationLabel,
                                                           &variation, &map, &message })
        addAndMakeVisible (c);
    sourceAttachment = std::make_unique<juce::AudioProcessorValueTreeState::ComboBoxAttachment> (state, params::timbreSource, source);
    morphAttachment = std::make_unique<juce::AudioProcessorValueTreeState::SliderAttachment> (state, params::morph, morph);
    variationAttachment = std::make_unique<juce::AudioProcessorValueTreeState::SliderAttachment> (state, params::variation, variation);
}

void TimbrePanel::setModel (const TimbrelProcessor::ModelView& view)
{
    enabled = view.hasTimbres;
    names = view.timbreNames;
    for (auto& slot : slots)
    {
        slot.picker.clear (juce::dontSendNotification);
        slot.picker.addItemList (names, 1);
    }
    map.setTimbres (names, view.timbreMap);
    for (auto* c : getChildren())
        if (c != &title && c != &message)
            c->setEnabled (enabled);
    setAlpha (enabled || ! view.hasModel ? 1.0f : 0.8f);
    refresh();
}

void TimbrePanel::pick (int slot)
{
    const int index = slots[static_cast<size_t> (slot)].picker.getSelectedItemIndex();
    if (index >= 0 && index < names.size())
        processor.setSnapshotTimbre (slot, names[index]);
}

void TimbrePanel::refresh()
{
    std::vector<int> chosen; // the named timbres A and B hold, named first on the map
    for (size_t s = 0; s < slots.size(); ++s)
    {
        auto& picker = slots[s].picker;
        const auto snapshot = processor.getSnapshot (static_cast<int> (s));
        chosen.push_back (snapshot.captured ? -1 : names.indexOf (snapshot.name));
        if (snapshot.captured)
        {
            if (picker.indexOfItemId (kCapturedItem) < 0)
                picker.addItem ("Captured", kCapturedItem);
            picker.setSelectedId (kCapturedItem, juce::dontSendNotification);
        }
        else
        {
            if (picker.indexOfItemId (kCapturedItem) >= 0)
            {
                picker.clear (juce::dontSendNotification);
                picker.addItemList (names, 1);
            }
            picker.setSelectedItemIndex (names.indexOf (snapshot.name), juce::dontSendNotification);
        }
    }
    map.setSelected (chosen);
    juce::Point<float> point;
    const bool valid = enabled && processor.currentMapPoint (point);
    map.setCurrent (point, valid);
    const auto text = enabled ? processor.getTimbreMessage() : juce::String ("This model has no named timbres: the timbre section is off");
    if (message.getText() != text)
        message.setText (text, juce::dontSendNotification);
}

void TimbrePanel::resized()
{
    auto area = getLocalBounds().reduced (8, 4);
    title.setBounds (area.removeFromTop (22));
    auto row = area.removeFromTop (26);
    sourceLabel.setBounds (row.removeFromLeft (56));
    source.setBounds (row.reduced (0, 1));
    area.removeFromTop (4);
    for (auto& slot : slots)
    {
        auto line = area.removeFromTop (28);
        slot.label.setBounds (line.removeFromLeft (20));
        slot.capture.setBounds (line.removeFromRight (70).reduced (0, 2));
        line.removeFromRight (4);
        slot.picker.setBounds (line.reduced (0, 2));
    }
    morphLabel.setBounds (area.removeFromTop (14));
    morph.setBounds (area.removeFromTop (24));
    variationLabel.setBounds (area.removeFromTop (14));
    variation.setBounds (area.removeFromTop (24));
    area.removeFromTop (6);
    message.setBounds (area.removeFromBottom (std::min (44, area.getHeight() / 4)));
    map.setBounds (area);
}

void TimbrePanel::paint (juce::Graphics& g)
{
    g.setColour (TimbrelLook::panel.brighter (0.04f));
    g.fillRoundedRectangle (getLocalBounds().toFloat().reduced (2.0f), 6.0f);
}
} // namespace timbrel
