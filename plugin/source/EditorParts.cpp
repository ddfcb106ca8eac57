#include "EditorParts.h"

#include "ModelLocator.h"

#include <cmath>

namespace timbrel
{
juce::String formatValue (double value, const juce::String& unit, bool sign)
{
    // juce::String (v, 0) would print every digit: whole numbers are formatted as ints.
    auto number = std::abs (value) >= 100.0 ? juce::String (juce::roundToInt (value)) : juce::String (value, std::abs (value) >= 10.0 ? 1 : 2);
    if (sign && value > 0.0)
        number = "+" + number;
    const auto shortUnit = unit == "semitones" ? juce::String ("st") : unit;
    return number + (shortUnit.isEmpty() ? "" : " " + shortUnit);
}

juce::String formatRate (double hz)
{
    return juce::String (hz / 1000.0, std::fmod (hz, 1000.0) == 0.0 ? 0 : 1) + " kHz";
}

// ---------------------------------------------------------------------------------------------

const juce::Colour TimbrelLook::background { 0xff16181d };
const juce::Colour TimbrelLook::panel { 0xff22252c };
const juce::Colour TimbrelLook::text { 0xffe6e8ec };
const juce::Colour TimbrelLook::dim { 0xff8a909c };
const juce::Colour TimbrelLook::inputCurve { 0xff7f8aa3 };
const juce::Colour TimbrelLook::targetCurve { 0xfff2b33d };
const juce::Colour TimbrelLook::outputCurve { 0xff4fd1a1 };
const juce::Colour TimbrelLook::warning { 0xffff7a6b };

TimbrelLook::TimbrelLook()
{
    setColourScheme ({ background, panel, panel.brighter (0.1f), dim, text, targetCurve, juce::Colours::black,
                       targetCurve, text });
    setColour (juce::Slider::trackColourId, targetCurve.withAlpha (0.8f));
    setColour (juce::Slider::thumbColourId, text);
    setColour (juce::Slider::rotarySliderFillColourId, targetCurve);
    setColour (juce::Slider::rotarySliderOutlineColourId, panel.brighter (0.25f));
    setColour (juce::Slider::textBoxOutlineColourId, juce::Colours::transparentBlack);
    setColour (juce::Label::textColourId, text);
    setColour (juce::ComboBox::backgroundColourId, panel.brighter (0.08f));
    setColour (juce::ComboBox::outlineColourId, panel.brighter (0.3f));
    setColour (juce::TextButton::buttonColourId, panel.brighter (0.12f));
    setColour (juce::TooltipWindow::backgroundColourId, panel.brighter (0.2f));
    setColour (juce::TooltipWindow::textColourId, text);
}

void TimbrelLook::drawRotarySlider (juce::Graphics& g, int x, int y, int width, int height, float position,
                                    float startAngle, float endAngle, juce::Slider& slider)
{
    const auto bounds = juce::Rectangle<int> (x, y, width, height).toFloat().reduced (3.0f);
    const float radius = std::min (bounds.getWidth(), bounds.getHeight()) / 2.0f;
    const auto centre = bounds.getCentre();
    const float angle = startAngle + position * (endAngle - startAngle);
    const float thickness = std::max (2.0f, radius * 0.18f);

    juce::Path track;
    track.addCentredArc (centre.x, centre.y, radius - thickness, radius - thickness, 0.0f, startAngle, endAngle, true);
    g.setColour (slider.findColour (juce::Slider::rotarySliderOutlineColourId));
    g.strokePath (track, juce::PathStrokeType (thickness, juce::PathStrokeType::curved, juce::PathStrokeType::rounded));

    juce::Path value;
    value.addCentredArc (centre.x, centre.y, radius - thickness, radius - thickness, 0.0f, startAngle, angle, true);
    g.setColour (slider.findColour (juce::Slider::rotarySliderFillColourId).withMultipliedAlpha (slider.isEnabled() ? 1.0f : 0.4f));
    g.strokePath (value, juce::PathStrokeType (thickness, juce::PathStrokeType::curved, juce::PathStrokeType::rounded));

    const auto tip = centre.getPointOnCircumference (radius - thickness * 2.2f, angle);
    g.setColour (text);
    g.drawLine ({ centre, tip }, 2.0f);
}

// ---------------------------------------------------------------------------------------------

Knob::Knob (juce::AudioProcessorValueTreeState& state, const juce::String& parameterId, const juce::String& label)
{
    slider.setSliderStyle (juce::Slider::RotaryHorizontalVerticalDrag);
    slider.setTextBoxStyle (juce::Slider::NoTextBox, false, 0, 0);
    slider.setPopupDisplayEnabled (true, true, nullptr);
    caption.setText (label, juce::dontSendNotification);
    caption.setJustificationType (juce::Justification::centred);
    caption.setFont (11.0f);
    caption.setColour (juce::Label::textColourId, TimbrelLook::dim);
    addAndMakeVisible (slider);
    addAndMakeVisible (caption);
    attachment = std::make_unique<juce::AudioProcessorValueTreeState::SliderAttachment> (state, parameterId, slider);
    if (auto* parameter = state.getParameter (parameterId))
    {
        slider.setDoubleClickReturnValue (true, parameter->convertFrom0to1 (parameter->getDefaultValue()));
        slider.setTooltip (parameter->getName (64));
    }
}

void Knob::resized()
{
    auto area = getLocalBounds();
    caption.setBounds (area.removeFromBottom (14));
    slider.setBounds (area);
}

// ---------------------------------------------------------------------------------------------

ControlGroup::ControlGroup (const juce::String& text, int width) : itemWidth (width)
{
    title.setText (text, juce::dontSendNotification);
    title.setFont (juce::Font (13.0f, juce::Font::bold));
    addAndMakeVisible (title);
}

void ControlGroup::add (juce::Component& item, int width)
{
    items.emplace_back (&item, width > 0 ? width : itemWidth);
    addAndMakeVisible (item);
}

int ControlGroup::preferredWidth() const
{
    int width = 0;
    for (const auto& item : items)
        width += item.second;
    return 16 + std::max (width, title.getFont().getStringWidth (title.getText()) + 8);
}

void ControlGroup::resized()
{
    auto area = getLocalBounds().reduced (8, 4);
    title.setBounds (area.removeFromTop (18));
    for (auto& [item, width] : items)
        item->setBounds (area.removeFromLeft (width));
}

void ControlGroup::paint (juce::Graphics& g)
{
    g.setColour (TimbrelLook::panel);
    g.fillRoundedRectangle (getLocalBounds().toFloat().reduced (2.0f), 6.0f);
}

// ---------------------------------------------------------------------------------------------

ModelChooser::ModelChooser()
{
    picker.setTextWhenNothingSelected ("choose a model");
    picker.onChange = [this] {
        const auto reference = references[picker.getSelectedItemIndex()];
        if (reference.isNotEmpty() && reference != playing && onChoose)
            onChoose (reference);
    };
    openButton.onClick = [this] {
        chooser = std::make_unique<juce::FileChooser> ("Choose a Timbrel model", ModelLocator::userFolder(), "*.ts");
        chooser->launchAsync (juce::FileBrowserComponent::openMode | juce::FileBrowserComponent::canSelectFiles,
                              [this] (const juce::FileChooser& fc) {
                                  if (const auto file = fc.getResult(); file.existsAsFile() && onChoose)
                                      onChoose (file.getFullPathName());
                              });
    };
    addAndMakeVisible (picker);
    addAndMakeVisible (openButton);
}

void ModelChooser::show (const juce::String& reference)
{
    // Items show names; `references` holds what the loader takes (a name or a path).
    playing = reference;
    picker.clear (juce::dontSendNotification);
    references = ModelLocator::listModels();
    auto labels = references;
    if (playing.isNotEmpty() && ! references.contains (playing))
    {
        references.add (playing); // a file chosen by path
        labels.add (juce::File (playing).getFileNameWithoutExtension() + " (file)");
    }
    picker.addItemList (labels, 1);
    const int index = references.indexOf (playing);
    if (index >= 0)
        picker.setSelectedItemIndex (index, juce::dontSendNotification);
}

void ModelChooser::resized()
{
    auto area = getLocalBounds();
    openButton.setBounds (area.removeFromRight (72).withSizeKeepingCentre (72, 26));
    picker.setBounds (area.reduced (6, 0).withSizeKeepingCentre (area.getWidth() - 12, 26));
}

// ---------------------------------------------------------------------------------------------

DescriptionLabel::DescriptionLabel()
{
    setFont (12.0f);
    setColour (juce::Label::textColourId, TimbrelLook::dim);
    setJustificationType (juce::Justification::topLeft);
    // Wrapped, never squashed: what does not fit ends in an ellipsis (JUCE's fitted text).
    setMinimumHorizontalScale (1.0f);
    setBorderSize ({ 1, 2, 1, 2 });
}

void DescriptionLabel::setDescription (const juce::String& text)
{
    setText (text, juce::dontSendNotification);
    setTooltip (text);
}

bool DescriptionLabel::fitsWhole() const
{
    const auto area = getBorderSize().subtractedFrom (getLocalBounds());
    juce::AttributedString whole (getText());
    whole.setFont (getFont());
    whole.setWordWrap (juce::AttributedString::byWord);
    juce::TextLayout layout;
    layout.createLayout (whole, static_cast<float> (area.getWidth()));
    return layout.getHeight() <= static_cast<float> (area.getHeight()) + 0.5f;
}

// ---------------------------------------------------------------------------------------------

namespace
{
constexpr float kNameFont = 10.0f;
constexpr float kNameHeight = 12.0f;
constexpr float kDotSize = 5.0f;
} // namespace

void TimbreMap::setTimbres (const juce::StringArray& n, const std::vector<juce::Point<float>>& p)
{
    names = n;
    points = p;
    hovered = -1;
    float left = 0.0f, right = 0.0f, bottom = 0.0f, top = 0.0f;
    for (size_t i = 0; i < points.size(); ++i)
    {
        left = i == 0 ? points[i].x : std::min (left, points[i].x);
        right = i == 0 ? points[i].x : std::max (right, points[i].x);
        bottom = i == 0 ? points[i].y : std::min (bottom, points[i].y);
        top = i == 0 ? points[i].y : std::max (top, points[i].y);
    }
    // Each axis scaled to the timbres' own extent (dotArea() keeps the margin), so a cluster
    // fills the map instead of sitting in a corner of a square built around the widest axis.
    const float width = std::max (right - left, 1e-3f), height = std::max (top - bottom, 1e-3f);
    extent = juce::Rectangle<float> (width, height).withCentre ({ 0.5f * (left + right), 0.5f * (bottom + top) });
    placeNames();
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

void TimbreMap::setSelected (std::vector<int> indexes)
{
    if (indexes == selected)
        return;
    selected = std::move (indexes);
    placeNames();
    repaint();
}

juce::Rectangle<float> TimbreMap::dotArea() const
{
    // Room for the axis captions and a name beside a dot at the edge.
    return getLocalBounds().toFloat().reduced (14.0f, 16.0f);
}

juce::Point<float> TimbreMap::toScreen (juce::Point<float> p) const
{
    // A morph beyond A or B (-0.5, 1.5) can leave the timbres' extent: it stays on the map's edge.
    const auto area = dotArea();
    const float x = juce::jlimit (0.0f, 1.0f, (p.x - extent.getX()) / extent.getWidth());
    const float y = juce::jlimit (0.0f, 1.0f, (p.y - extent.getY()) / extent.getHeight());
    return { area.getX() + x * area.getWidth(), area.getBottom() - y * area.getHeight() };
}

int TimbreMap::timbreAt (juce::Point<float> position) const
{
    int nearest = -1;
    float best = 8.0f; // pixels: within reach of the pointer
    for (size_t i = 0; i < points.size(); ++i)
        if (const float d = toScreen (points[i]).getDistanceFrom (position); d < best)
        {
            best = d;
            nearest = static_cast<int> (i);
        }
    return nearest;
}

void TimbreMap::placeNames()
{
    placed.clear();
    if (getWidth() <= 0 || points.empty())
        return;
    const juce::Font font (kNameFont);
    const auto inside = getLocalBounds().toFloat().reduced (2.0f);
    std::vector<juce::Point<float>> dots;
    for (size_t i = 0; i < points.size(); ++i)
        dots.push_back (toScreen (points[i]));

    // The one under the mouse first, then the selected ones, then the rest in the model's order.
    std::vector<int> order;
    auto enqueue = [&] (int index) {
        if (index >= 0 && index < static_cast<int> (points.size()) && index < names.size()
            && std::find (order.begin(), order.end(), index) == order.end())
            order.push_back (index);
    };
    enqueue (hovered);
    for (const int index : selected)
        enqueue (index);
    for (int i = 0; i < static_cast<int> (points.size()); ++i)
        enqueue (i);

    for (const int index : order)
    {
        const auto at = dots[static_cast<size_t> (index)];
        const float width = font.getStringWidthFloat (names[index]) + 2.0f;
        // Right of the dot, left of it, above, below: the first that collides with nothing.
        const std::array<juce::Rectangle<float>, 4> candidates {
            juce::Rectangle<float> (at.x + 5.0f, at.y - kNameHeight / 2.0f, width, kNameHeight),
            juce::Rectangle<float> (at.x - 5.0f - width, at.y - kNameHeight / 2.0f, width, kNameHeight),
            juce::Rectangle<float> (at.x - width / 2.0f, at.y - 4.0f - kNameHeight, width, kNameHeight),
            juce::Rectangle<float> (at.x - width / 2.0f, at.y + 4.0f, width, kNameHeight),
        };
        for (const auto& candidate : candidates)
        {
            bool free = inside.contains (candidate);
            for (const auto& other : placed)
                free = free && ! candidate.intersects (other.bounds);
            for (size_t d = 0; d < dots.size() && free; ++d)
                free = static_cast<int> (d) == index
                       || ! candidate.intersects (juce::Rectangle<float> (kDotSize, kDotSize).withCentre (dots[d]));
            if (free)
            {
                placed.push_back ({ index, candidate });
                break;
            }
        }
    }
}

void TimbreMap::mouseMove (const juce::MouseEvent& event)
{
    if (const int index = timbreAt (event.position); index != hovered)
    {
        hovered = index;
        placeNames();
        repaint();
    }
}

void TimbreMap::mouseExit (const juce::MouseEvent&)
{
    if (hovered >= 0)
    {
        hovered = -1;
        placeNames();
        repaint();
    }
}

juce::String TimbreMap::getTooltip()
{
    return hovered >= 0 && hovered < names.size() ? names[hovered] : juce::String();
}

void TimbreMap::paint (juce::Graphics& g)
{
    g.setColour (TimbrelLook::panel);
    g.fillRoundedRectangle (getLocalBounds().toFloat(), 4.0f);
    g.setFont (kNameFont);
    g.setColour (TimbrelLook::dim);
    g.drawText ("axis 1", getLocalBounds().reduced (4).removeFromBottom (12), juce::Justification::centredRight);
    g.drawText ("axis 2", getLocalBounds().reduced (4).removeFromTop (12), juce::Justification::centredLeft);
    for (size_t i = 0; i < points.size(); ++i)
    {
        const bool chosen = std::find (selected.begin(), selected.end(), static_cast<int> (i)) != selected.end();
        g.setColour (chosen ? TimbrelLook::targetCurve.withAlpha (0.8f) : TimbrelLook::inputCurve);
        g.fillEllipse (juce::Rectangle<float> (kDotSize, kDotSize).withCentre (toScreen (points[i])));
    }
    for (const auto& name : placed)
    {
        const bool emphasised = name.index == hovered
                                || std::find (selected.begin(), selected.end(), name.index) != selected.end();
        g.setColour (TimbrelLook::text.withAlpha (emphasised ? 1.0f : 0.7f));
        g.drawText (names[name.index], name.bounds, juce::Justification::centredLeft, false);
    }
    if (currentValid)
    {
        g.setColour (TimbrelLook::targetCurve);
        g.drawEllipse (juce::Rectangle<float> (11.0f, 11.0f).withCentre (toScreen (current)), 2.0f);
    }
}
} // namespace timbrel
