#include "PluginEditor.h"

#include "ModelLocator.h"

#include <cmath>
#include <optional>

namespace timbrel
{
namespace
{
constexpr int kHeaderHeight = 64;
constexpr int kLegendHeight = 20;
constexpr int kControlsHeight = 128;
constexpr int kStatusHeight = 26;

} // namespace

// ---------------------------------------------------------------------------------------------

namespace
{
constexpr float kLowestFrequency = 20.0f; // Hz: the log axis' floor (a range or value at 0 Hz sits there)
} // namespace

float DescriptorPlot::toAxis (float value) const
{
    return logFrequency ? std::log2 (std::max (value, kLowestFrequency)) : value;
}

float DescriptorPlot::fromAxis (float position) const
{
    return logFrequency ? std::exp2 (position) : position;
}

void DescriptorPlot::setRange (float min, float max, const juce::String& newUnit)
{
    // A margin around the training data's range, so shifted targets stay visible. A linear
    // margin under a frequency range reached below 0 Hz (centroid: -477 Hz): frequencies take
    // it in octaves, as the faders shift them.
    unit = newUnit;
    logFrequency = unit == "Hz";
    const float bottom = toAxis (min), top = toAxis (std::max (max, min));
    const float span = std::max (1e-3f, top - bottom);
    low = bottom - 0.15f * span;
    high = top + 0.15f * span;
    repaint();
}

void DescriptorPlot::push (float input, float target, float output, bool outputValid)
{
    // A poll without a new output measurement holds the last one.
    const auto& previous = history[static_cast<size_t> ((next + kPoints - 1) % kPoints)];
    auto& p = history[static_cast<size_t> (next)];
    p.input = input;
    p.target = target;
    p.outputValid = outputValid || (count > 0 && previous.outputValid);
    p.output = outputValid || count == 0 ? output : previous.output;
    next = (next + 1) % kPoints;
    count = std::min (count + 1, kPoints);
}

void DescriptorPlot::clear()
{
    next = count = 0;
    repaint();
}

void DescriptorPlot::paint (juce::Graphics& g)
{
    const auto bounds = getLocalBounds().toFloat();
    g.setColour (TimbrelLook::background.brighter (0.04f));
    g.fillRoundedRectangle (bounds, 4.0f);
    const auto area = bounds.reduced (4.0f, 6.0f);

    g.setFont (11.0f);
    g.setColour (TimbrelLook::dim);
    g.drawText (topLabel(), area.withHeight (12.0f), juce::Justification::topLeft);
    g.drawText (bottomLabel(), area.withTop (area.getBottom() - 12.0f), juce::Justification::bottomLeft);

    if (count < 2 || ! isEnabled())
        return;
    auto yOf = [&] (float v) {
        const float t = juce::jlimit (0.0f, 1.0f, (toAxis (v) - low) / (high - low));
        return area.getBottom() - t * area.getHeight();
    };
    auto curve = [&] (auto value, juce::Colour colour, float thickness) {
        juce::Path path;
        bool started = false;
        for (int i = 0; i < count; ++i)
        {
            const auto& p = history[static_cast<size_t> ((next - count + i + kPoints) % kPoints)];
            const auto point = value (p);
            if (! point.has_value())
            {
                started = false;
                continue;
            }
            const float x = area.getX() + area.getWidth() * static_cast<float> (kPoints - count + i) / (kPoints - 1);
            if (started)
                path.lineTo (x, yOf (*point));
            else
                path.startNewSubPath (x, yOf (*point));
            started = true;
        }
        g.setColour (colour);
        g.strokePath (path, juce::PathStrokeType (thickness));
    };
    using Value = std::optional<float>;
    // The output last: where it meets its target, the green line shows that it does.
    curve ([] (const Point& p) -> Value { return p.input; }, TimbrelLook::inputCurve, 1.2f);
    curve ([] (const Point& p) -> Value { return p.target; }, TimbrelLook::targetCurve, 2.2f);
    curve ([] (const Point& p) -> Value { return p.outputValid ? Value (p.output) : std::nullopt; }, TimbrelLook::outputCurve, 1.4f);
}

// ---------------------------------------------------------------------------------------------

FaderRow::FaderRow (juce::AudioProcessorValueTreeState& state, const FaderSlot& s) : slot (s)
{
    title.setText (slot.displayName, juce::dontSendNotification);
    title.setFont (juce::Font (15.0f, juce::Font::bold));
    detail.setFont (12.0f);
    detail.setColour (juce::Label::textColourId, TimbrelLook::dim);
    source.addItemList (params::sourceChoices, 1);
    for (auto* slider : { &shift, &fixed })
    {
        slider->setSliderStyle (juce::Slider::LinearHorizontal);
        slider->setTextBoxStyle (juce::Slider::TextBoxRight, false, 76, 20);
    }
    shift.setDoubleClickReturnValue (true, 0.0);
    shiftLabel.setText ("Shift", juce::dontSendNotification);
    fixedLabel.setText ("Fixed", juce::dontSendNotification);
    for (auto* label : { &shiftLabel, &fixedLabel })
    {
        label->setFont (11.0f);
        label->setColour (juce::Label::textColourId, TimbrelLook::dim);
    }
    for (auto* c : std::initializer_list<juce::Component*> { &title, &detail, &source, &shift, &fixed, &shiftLabel, &fixedLabel, &descriptorPlot })
        addAndMakeVisible (c);

    sourceAttachment = std::make_unique<juce::AudioProcessorValueTreeState::ComboBoxAttachment> (state, params::sourceId (slot), source);
    shiftAttachment = std::make_unique<juce::AudioProcessorValueTreeState::SliderAttachment> (state, params::shiftId (slot), shift);
    fixedAttachment = std::make_unique<juce::AudioProcessorValueTreeState::SliderAttachment> (state, params::fixedId (slot), fixed);
    // After the attachments, which install the parameter's own (unformatted) text.
    const juce::String shiftUnit (slot.shiftUnit), unit (slot.unit);
    shift.textFromValueFunction = [shiftUnit] (double v) { return formatValue (v, shiftUnit, true); };
    fixed.textFromValueFunction = [unit] (double v) { return formatValue (v, unit); };
    for (auto* slider : { &shift, &fixed })
    {
        slider->valueFromTextFunction = [] (const juce::String& text) { return text.retainCharacters ("+-.0123456789").getDoubleValue(); };
        slider->updateText();
    }
    source.onChange = [this] { fixed.setAlpha (source.getSelectedItemIndex() == static_cast<int> (DescriptorSource::fixed) ? 1.0f : 0.55f); };
    source.onChange();
}

void FaderRow::setModelSlot (const TimbrelProcessor::SlotView& view, const juce::String& inactiveText)
{
    active = view.active;
    if (active)
    {
        // Spare slots take the name of the model's extra descriptor.
        const bool spare = &slot - faderSlots().data() >= kVocabularySize;
        title.setText (spare ? view.name.substring (0, 1).toUpperCase() + view.name.substring (1) : juce::String (slot.displayName),
                       juce::dontSendNotification);
        detail.setText (view.unit + "  " + formatValue (view.min, {}) + " to " + formatValue (view.max, {}), juce::dontSendNotification);
        descriptorPlot.setRange (view.min, view.max, view.unit);
    }
    else
        detail.setText (inactiveText, juce::dontSendNotification);
    for (auto* c : std::initializer_list<juce::Component*> { &source, &shift, &fixed, &descriptorPlot })
        c->setEnabled (active);
    setAlpha (active ? 1.0f : 0.5f);
    descriptorPlot.clear();
}

void FaderRow::resized()
{
    auto area = getLocalBounds().reduced (8, 4);
    auto names = area.removeFromLeft (130);
    title.setBounds (names.removeFromTop (names.getHeight() / 2));
    detail.setBounds (names);
    area.removeFromLeft (6);
    source.setBounds (area.removeFromLeft (104).withSizeKeepingCentre (104, 24));
    area.removeFromLeft (10);
    auto shiftArea = area.removeFromLeft (std::max (150, area.getWidth() / 4));
    shiftLabel.setBounds (shiftArea.removeFromTop (14));
    shift.setBounds (shiftArea);
    area.removeFromLeft (8);
    auto fixedArea = area.removeFromLeft (std::max (140, area.getWidth() / 4));
    fixedLabel.setBounds (fixedArea.removeFromTop (14));
    fixed.setBounds (fixedArea);
    area.removeFromLeft (10);
    descriptorPlot.setBounds (area);
}

void FaderRow::paint (juce::Graphics& g)
{
    g.setColour (TimbrelLook::panel);
    g.fillRoundedRectangle (getLocalBounds().toFloat().reduced (2.0f), 6.0f);
}

// ---------------------------------------------------------------------------------------------

TimbrelEditor::TimbrelEditor (TimbrelProcessor& p) : AudioProcessorEditor (p), processor (p)
{
    setLookAndFeel (&look);
    auto& state = processor.parameters;

    title.setText ("Timbrel", juce::dontSendNotification);
    title.setFont (juce::Font (24.0f, juce::Font::bold));
    cardSummary.setFont (14.0f);
    legend.setFont (12.0f);
    status.setFont (13.0f);
    for (auto* c : std::initializer_list<juce::Component*> { &title, &cardSummary, &cardDescription, &legend, &status, &modelChooser })
        addAndMakeVisible (c);
    modelChooser.onChoose = [this] (const juce::String& reference) { processor.chooseModel (reference); };

    delayLabel.setText ("Model delay (samples)", juce::dontSendNotification);
    delayLabel.setFont (12.0f);
    delayLabel.setJustificationType (juce::Justification::centredRight);
    delayEditor.setInputRestrictions (7, "0123456789");
    delayEditor.setJustification (juce::Justification::centredLeft);
    delayEditor.onReturnKey = [this] { applyDelayText(); };
    delayEditor.onFocusLost = [this] { applyDelayText(); };
    addAndMakeVisible (delayLabel);
    addAndMakeVisible (delayEditor);

    for (const auto& slot : faderSlots())
    {
        rows.push_back (std::make_unique<FaderRow> (state, slot));
        addAndMakeVisible (*rows.back());
    }

    globalKnobs.push_back (std::make_unique<Knob> (state, params::mix, "Dry/Wet"));
    globalKnobs.push_back (std::make_unique<Knob> (state, params::outputGain, "Output"));
    for (auto& knob : globalKnobs)
        addAndMakeVisible (*knob);
    for (int i = 0; i < kNumLatentControls; ++i)
        latentKnobs.push_back (std::make_unique<Knob> (state, params::latentOffsetId (i), "Z" + juce::String (i + 1) + " +"));
    for (int i = 0; i < kNumLatentControls; ++i)
        latentKnobs.push_back (std::make_unique<Knob> (state, params::latentScaleId (i), "Z" + juce::String (i + 1) + " x"));
    for (auto& knob : latentKnobs)
        addAndMakeVisible (*knob);

    modeBox.addItemList (params::processingModeChoices, 1);
    stereoBox.addItemList (params::stereoModeChoices, 1);
    marginBox.addItemList (params::threadedMarginChoices, 1);
    marginBox.setTooltip ("Threaded mode: hops of time the model gets per hop. More rides out a busy machine, at a hop of latency each.");
    modeLabel.setText ("Mode", juce::dontSendNotification);
    stereoLabel.setText ("Stereo", juce::dontSendNotification);
    marginLabel.setText ("Margin", juce::dontSendNotification);
    latentLabel.setText ("Latent offset / scale", juce::dontSendNotification);
    for (auto* label : { &modeLabel, &stereoLabel, &marginLabel, &latentLabel })
    {
        label->setFont (11.0f);
        label->setColour (juce::Label::textColourId, TimbrelLook::dim);
    }
    for (auto* c : std::initializer_list<juce::Component*> { &modeBox, &stereoBox, &marginBox, &modeLabel, &stereoLabel, &marginLabel, &latentLabel, &bypassButton })
        addAndMakeVisible (c);
    modeAttachment = std::make_unique<juce::AudioProcessorValueTreeState::ComboBoxAttachment> (state, params::processingMode, modeBox);
    stereoAttachment = std::make_unique<juce::AudioProcessorValueTreeState::ComboBoxAttachment> (state, params::stereoMode, stereoBox);
    marginAttachment = std::make_unique<juce::AudioProcessorValueTreeState::ComboBoxAttachment> (state, params::threadedMargin, marginBox);
    bypassAttachment = std::make_unique<juce::AudioProcessorValueTreeState::ButtonAttachment> (state, params::bypass, bypassButton);
    generateAttachment = std::make_unique<juce::AudioProcessorValueTreeState::ButtonAttachment> (state, params::generate, generateButton);
    generateButton.setTooltip ("nn~ modules with a prior: play latents the prior generates instead of the input's");
    temperatureKnob = std::make_unique<Knob> (state, params::temperature, "Temperature");
    addAndMakeVisible (generateButton);
    addAndMakeVisible (*temperatureKnob);
    timbrePanel = std::make_unique<TimbrePanel> (processor, state);
    addAndMakeVisible (*timbrePanel);

    processor.setMetering (true);
    updateModelView();
    setResizable (true, true);
    setResizeLimits (1100, 560, 2000, 1400);
    setSize (1240, 720);
    startTimerHz (30);
}

TimbrelEditor::~TimbrelEditor()
{
    stopTimer();
    processor.setMetering (false);
    setLookAndFeel (nullptr);
}

void TimbrelEditor::applyDelayText()
{
    const auto text = delayEditor.getText().trim();
    processor.setModelLatencyOverride (text.isEmpty() ? -1 : text.getIntValue());
}

void TimbrelEditor::updateModelView()
{
    shownGeneration = processor.modelGeneration();
    view = processor.describeModel();
    delayEditor.setEnabled (view.hasModel);
    generateButton.setEnabled (view.hasPrior);
    temperatureKnob->setEnabled (view.hasPrior);
    temperatureKnob->setAlpha (view.hasPrior ? 1.0f : 0.5f);
    timbrePanel->setModel (view);
    // With principal axes, knob i moves z along axis i (strongest first), not dimension i.
    const juce::String axis = view.hasAxes ? "PC" : "Z";
    for (int i = 0; i < kNumLatentControls; ++i)
    {
        latentKnobs[static_cast<size_t> (i)]->setCaption (axis + juce::String (i + 1) + " +");
        latentKnobs[static_cast<size_t> (i + kNumLatentControls)]->setCaption (axis + juce::String (i + 1) + " x");
    }
    latentLabel.setText (view.hasAxes ? "Latent offset / scale along the principal axes" : "Latent offset / scale",
                         juce::dontSendNotification);
    modelChooser.show (view.reference);
    if (view.hasModel)
    {
        const double latencyMs = view.hostRate > 0.0 ? 1000.0 * view.latencySamples / view.hostRate : 0.0;
        cardSummary.setText ((view.instrument.isNotEmpty() ? view.instrument : view.name) + "   " + formatRate (view.modelRate)
                                 + "   hop " + juce::String (view.hop) + "   latency " + juce::String (latencyMs, 1) + " ms",
                             juce::dontSendNotification);
        cardDescription.setDescription (view.description);
        delayEditor.setTextToShowWhenEmpty (juce::String (view.modelLatency) + (view.nnModule ? " (measured)" : " (declared)"),
                                            TimbrelLook::dim);
        delayEditor.setText (view.latencyOverride >= 0 ? juce::String (view.latencyOverride) : juce::String(), juce::dontSendNotification);
        delayEditor.setTooltip (view.nnModule ? "Delay " + juce::String (view.modelLatency) + " samples at " + formatRate (view.modelRate)
                                                    + ", " + view.latencyNote + ". Type a figure to override it; empty returns to the measured one."
                                              : juce::String ("The model's declared delay. Type a figure to override it; empty returns to it."));
    }
    else
    {
        cardSummary.setText ("No model is playing: audio passes through dry", juce::dontSendNotification);
        cardDescription.setDescription ("Pick a model above, or open a .ts file.");
    }
    for (size_t s = 0; s < rows.size(); ++s)
    {
        rows[s]->setModelSlot (view.slots[s], ! view.hasModel ? "no model loaded"
                                               : view.nnModule ? "nn~ module: it has no descriptors"
                                                               : "not in this model: no effect");
        // Spare slots appear only when the model has descriptors beyond the vocabulary.
        rows[s]->setVisible (static_cast<int> (s) < kVocabularySize || view.slots[s].active);
    }
    resized();
    repaint();
}

void TimbrelEditor::refresh()
{
    if (processor.modelGeneration() != shownGeneration)
        updateModelView();
    timbrePanel->refresh();
    marginBox.setEnabled (modeBox.getSelectedItemIndex() == static_cast<int> (ProcessingMode::threaded)); // Inline has no worker

    // The plots move only while the engine computes hops (they stop with the transport).
    TimbrelProcessor::MeterFrame frame;
    const bool metered = processor.pollMeters (frame) && frame.hops != lastHops;
    lastHops = frame.hops;
    if (metered)
        for (size_t s = 0; s < rows.size(); ++s)
            if (rows[s]->isActive() && rows[s]->isVisible())
            {
                rows[s]->plot().push (frame.input[s], frame.target[s], frame.output[s], frame.outputValid);
                rows[s]->plot().repaint();
            }

    juce::String line;
    if (view.hasModel)
    {
        const double ms = view.hostRate > 0.0 ? 1000.0 * view.latencySamples / view.hostRate : 0.0;
        line << "Latency " << view.latencySamples << " samples (" << juce::String (ms, 1) << " ms)   Model load "
             << juce::roundToInt (100.0f * frame.modelLoad) << "% of real time   Underruns " << frame.underruns;
        if (frame.failedHops > 0)
            line << "   Failed hops " << frame.failedHops << " (" << juce::String (frame.failure) << ")";
    }
    const auto message = processor.getStatusMessage();
    line << (line.isEmpty() ? "" : "   ") << (message.isEmpty() ? juce::String ("Ready") : message);
    status.setText (line, juce::dontSendNotification);
    status.setColour (juce::Label::textColourId, message.isEmpty() ? TimbrelLook::dim : TimbrelLook::warning);
}

void TimbrelEditor::paint (juce::Graphics& g)
{
    g.fillAll (TimbrelLook::background);
    auto legendArea = legend.getBounds().toFloat();
    float x = legendArea.getX();
    g.setFont (12.0f);
    for (const auto& [name, colour] : { std::pair { "input", TimbrelLook::inputCurve }, std::pair { "target (after the fader)", TimbrelLook::targetCurve },
                                        std::pair { "output (measured)", TimbrelLook::outputCurve } })
    {
        g.setColour (colour);
        g.fillRect (x, legendArea.getCentreY() - 1.5f, 18.0f, 3.0f);
        g.setColour (TimbrelLook::dim);
        const float width = g.getCurrentFont().getStringWidthFloat (name) + 8.0f;
        g.drawText (name, juce::Rectangle<float> (x + 22.0f, legendArea.getY(), width, legendArea.getHeight()), juce::Justification::centredLeft);
        x += 22.0f + width + 16.0f;
    }
    g.setColour (TimbrelLook::panel);
    g.fillRect (getLocalBounds().removeFromBottom (kStatusHeight));
}

void TimbrelEditor::resized()
{
    auto area = getLocalBounds();
    status.setBounds (area.removeFromBottom (kStatusHeight).reduced (10, 0));

    auto header = area.removeFromTop (kHeaderHeight).reduced (10, 8);
    title.setBounds (header.removeFromLeft (120));
    modelChooser.setBounds (header.removeFromLeft (300));
    header.removeFromLeft (10);
    cardSummary.setBounds (header.removeFromTop (20));
    auto delayArea = header.removeFromRight (240);
    delayEditor.setBounds (delayArea.removeFromRight (90).reduced (0, 2));
    delayLabel.setBounds (delayArea);
    cardDescription.setBounds (header);

    legend.setBounds (area.removeFromTop (kLegendHeight).reduced (12, 0));

    auto controls = area.removeFromBottom (kControlsHeight).reduced (10, 6);
    for (auto& knob : globalKnobs)
        knob->setBounds (controls.removeFromLeft (72));
    temperatureKnob->setBounds (controls.removeFromLeft (72));
    controls.removeFromLeft (8);
    auto boxes = controls.removeFromLeft (220);
    const int boxHeight = boxes.getHeight() / 3;
    auto modeArea = boxes.removeFromTop (boxHeight);
    auto marginArea = modeArea.removeFromRight (80);
    modeArea.removeFromRight (6);
    modeLabel.setBounds (modeArea.removeFromTop (14));
    modeBox.setBounds (modeArea.withSizeKeepingCentre (modeArea.getWidth(), 24));
    marginLabel.setBounds (marginArea.removeFromTop (14));
    marginBox.setBounds (marginArea.withSizeKeepingCentre (marginArea.getWidth(), 24));
    auto stereoArea = boxes.removeFromTop (boxHeight);
    stereoLabel.setBounds (stereoArea.removeFromTop (14));
    stereoBox.setBounds (stereoArea.withSizeKeepingCentre (stereoArea.getWidth(), 24));
    auto toggles = boxes.withSizeKeepingCentre (boxes.getWidth(), 24);
    bypassButton.setBounds (toggles.removeFromLeft (toggles.getWidth() / 2));
    generateButton.setBounds (toggles);
    controls.removeFromLeft (20);
    latentLabel.setBounds (controls.removeFromTop (14));
    const int knobWidth = std::min (64, controls.getWidth() / kNumLatentControls);
    auto offsets = controls.removeFromTop (controls.getHeight() / 2);
    for (int i = 0; i < kNumLatentControls; ++i)
    {
        latentKnobs[static_cast<size_t> (i)]->setBounds (offsets.removeFromLeft (knobWidth));
        latentKnobs[static_cast<size_t> (i + kNumLatentControls)]->setBounds (controls.removeFromLeft (knobWidth));
    }

    timbrePanel->setBounds (area.removeFromRight (260).reduced (0, 4));

    int visible = 0;
    for (auto& row : rows)
        visible += row->isVisible() ? 1 : 0;
    const int rowHeight = visible > 0 ? area.getHeight() / visible : 0;
    area.reduce (6, 0);
    for (auto& row : rows)
        if (row->isVisible())
            row->setBounds (area.removeFromTop (rowHeight));
}
} // namespace timbrel
