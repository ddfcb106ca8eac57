#include "TimbrePanel.h"

#include "PluginEditor.h" // TimbrelLook's colours

namespace timbrel
{
namespace
{
constexpr int kCapturedItem = 1000; // the picker item that shows a captured snapshot
} // namespace

void TimbreMap::setTimbres (const juce::StringArray& n, const std::vector<juce::Point<float>>& p)
{
    names = n;
    points = p;
    float left = 0.0f, right = 0.0f, bottom = 0.0f, top = 0.0f;
    for (size_t i = 0; i < points.size(); ++i)
    {
        left = i == 0 ? points[i].x : std::min (left, points[i].x);
        right = i == 0 ? points[i].x : std::max (right, points[i].x);
        bottom = i == 0 ? points[i].y : std::min (bottom, points[i].y);
        top = i == 0 ? points[i].y : std::max (top, points[i].y);
    }
    // Square, with a margin around the timbres so morphs beyond them (-0.5, 1.5) stay on the map.
    const float size = 2.0f * std::max ({ right - left, top - bottom, 1e-3f });
    extent = juce::Rectangle<float> (size, size).withCentre ({ 0.5f * (left + right), 0.5f * (bottom + top) });
    repaint();
}

void TimbreMap::setCurrent (juce::Point<float> point, bool valid)
{
    if (valid == currentValid && point == current)
        return;
    current = point;
    currentValid = valid;
    repaint();
}

juce::Point<float> TimbreMap::toScreen (juce::Point<float> p) const
{
    const auto area = getLocalBounds().toFloat().reduced (8.0f);
    const float x = juce::jlimit (0.0f, 1.0f, (p.x - extent.getX()) / extent.getWidth());
    const float y = juce::jlimit (0.0f, 1.0f, (p.y - extent.getY()) / extent.getHeight());
    return { area.getX() + x * area.getWidth(), area.getBottom() - y * area.getHeight() };
}

void TimbreMap::paint (juce::Graphics& g)
{
    g.setColour (TimbrelLook::panel);
    g.fillRoundedRectangle (getLocalBounds().toFloat(), 4.0f);
    g.setFont (10.0f);
    g.setColour (TimbrelLook::dim);
    g.drawText ("axis 1", getLocalBounds().reduced (4).removeFromBottom (12), juce::Justification::centredRight);
    g.drawText ("axis 2", getLocalBounds().reduced (4).removeFromTop (12), juce::Justification::centredLeft);
    for (size_t i = 0; i < points.size(); ++i)
    {
        const auto at = toScreen (points[i]);
        g.setColour (TimbrelLook::inputCurve);
        g.fillEllipse (juce::Rectangle<float> (5.0f, 5.0f).withCentre (at));
        g.setColour (TimbrelLook::text.withAlpha (0.8f));
        g.drawText (names[static_cast<int> (i)], juce::Rectangle<float> (at.x + 4.0f, at.y - 6.0f, 90.0f, 12.0f),
                    juce::Justification::centredLeft);
    }
    if (currentValid)
    {
        g.setColour (TimbrelLook::targetCurve);
        g.drawEllipse (juce::Rectangle<float> (11.0f, 11.0f).withCentre (toScreen (current)), 2.0f);
    }
}

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
    for (size_t s = 0; s < slots.size(); ++s)
    {
        auto& picker = slots[s].picker;
        const auto snapshot = processor.getSnapshot (static_cast<int> (s));
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
