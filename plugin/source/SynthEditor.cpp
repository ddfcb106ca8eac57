#include "SynthEditor.h"

namespace timbrel
{
namespace
{
constexpr int kHeaderHeight = 64;
constexpr int kGroupHeight = 140; // at most: knobs stay knob-sized on a tall editor
constexpr int kKeyboardHeight = 86;
constexpr int kStatusHeight = 26;
constexpr int kTimbreWidth = 280;

juce::String noteName (float note)
{
    return juce::MidiMessage::getMidiNoteName (juce::roundToInt (note), true, true, 4);
}
} // namespace

// ---------------------------------------------------------------------------------------------

SynthKeyboard::SynthKeyboard (juce::MidiKeyboardState& playedState)
    : juce::MidiKeyboardComponent (playedState, juce::MidiKeyboardComponent::horizontalKeyboard), keyboardState (playedState)
{
    setAvailableRange (21, 108); // a piano's keys
    setOctaveForMiddleC (4);
    setColour (juce::MidiKeyboardComponent::keyDownOverlayColourId, TimbrelLook::targetCurve);
    setColour (juce::MidiKeyboardComponent::mouseOverKeyOverlayColourId, TimbrelLook::targetCurve.withAlpha (0.3f));
}

void SynthKeyboard::setHeldKeys (const std::bitset<128>& keys)
{
    if (keys == held)
        return;
    held = keys;
    repaint();
}

void SynthKeyboard::setPlayableRange (int lowest, int highest)
{
    playableLow = lowest;
    playableHigh = highest;
    repaint();
}

bool SynthKeyboard::isShownDown (int note) const
{
    return note >= 0 && note < 128 && (held[static_cast<size_t> (note)] || keyboardState.isNoteOnForChannels (0xffff, note));
}

void SynthKeyboard::shadeUnplayable (int note, juce::Graphics& g, juce::Rectangle<float> area) const
{
    if (note < playableLow || note > playableHigh)
    {
        g.setColour (TimbrelLook::background.withAlpha (0.45f));
        g.fillRect (area);
    }
}

void SynthKeyboard::drawWhiteNote (int note, juce::Graphics& g, juce::Rectangle<float> area, bool isDown, bool isOver,
                                   juce::Colour lineColour, juce::Colour textColour)
{
    juce::MidiKeyboardComponent::drawWhiteNote (note, g, area, isDown || isShownDown (note), isOver, lineColour, textColour);
    shadeUnplayable (note, g, area);
}

void SynthKeyboard::drawBlackNote (int note, juce::Graphics& g, juce::Rectangle<float> area, bool isDown, bool isOver,
                                   juce::Colour noteFillColour)
{
    juce::MidiKeyboardComponent::drawBlackNote (note, g, area, isDown || isShownDown (note), isOver, noteFillColour);
    shadeUnplayable (note, g, area);
}

// ---------------------------------------------------------------------------------------------

VoiceMeter::VoiceMeter()
{
    count.setFont (11.0f);
    count.setJustificationType (juce::Justification::centred);
    count.setColour (juce::Label::textColourId, TimbrelLook::dim);
    addAndMakeVisible (count);
    show (0, 0);
}

void VoiceMeter::show (int nowSounding, int nowPolyphony)
{
    const auto text = juce::String (nowSounding) + " of " + juce::String (nowPolyphony) + " voices";
    if (nowSounding == sounding && nowPolyphony == polyphony && count.getText() == text)
        return;
    sounding = nowSounding;
    polyphony = nowPolyphony;
    count.setText (text, juce::dontSendNotification);
    repaint();
}

void VoiceMeter::resized()
{
    count.setBounds (getLocalBounds().removeFromBottom (14));
}

void VoiceMeter::paint (juce::Graphics& g)
{
    // One cell per voice, four to a row, lit while the voice sounds.
    const auto area = getLocalBounds().withTrimmedBottom (16).toFloat().reduced (4.0f, 6.0f);
    const int columns = 4, rows = std::max (1, (polyphony + columns - 1) / columns);
    const float cellWidth = area.getWidth() / columns, cellHeight = std::min (12.0f, area.getHeight() / rows);
    for (int v = 0; v < polyphony; ++v)
    {
        const auto cell = juce::Rectangle<float> (area.getX() + (v % columns) * cellWidth, area.getY() + (v / columns) * cellHeight,
                                                  cellWidth, cellHeight)
                              .reduced (1.5f);
        g.setColour (v < sounding ? TimbrelLook::outputCurve : TimbrelLook::panel.brighter (0.25f));
        g.fillRoundedRectangle (cell, 2.0f);
    }
}

// ---------------------------------------------------------------------------------------------

SynthTimbrePanel::SynthTimbrePanel (juce::AudioProcessorValueTreeState& parameterState) : state (parameterState)
{
    title.setText ("Timbre", juce::dontSendNotification);
    title.setFont (juce::Font (15.0f, juce::Font::bold));
    morphLabel.setText ("Morph A to B", juce::dontSendNotification);
    morphLabel.setFont (11.0f);
    morphLabel.setColour (juce::Label::textColourId, TimbrelLook::dim);
    message.setFont (11.0f);
    message.setColour (juce::Label::textColourId, TimbrelLook::warning);
    message.setJustificationType (juce::Justification::topLeft);
    for (size_t s = 0; s < pickers.size(); ++s)
    {
        slotLabels[s].setText (s == 0 ? "A" : "B", juce::dontSendNotification);
        slotLabels[s].setFont (juce::Font (13.0f, juce::Font::bold));
        pickers[s].setTextWhenNothingSelected ("choose a timbre");
        // Timbre A and B count the model's timbres from 1: item i is timbre i + 1.
        pickers[s].onChange = [this, s] {
            const int index = pickers[s].getSelectedItemIndex();
            if (auto* parameter = state.getParameter (s == 0 ? "timbre_a" : "timbre_b"); parameter != nullptr && index >= 0)
            {
                parameter->beginChangeGesture();
                parameter->setValueNotifyingHost (parameter->convertTo0to1 (static_cast<float> (index + 1)));
                parameter->endChangeGesture();
            }
        };
        addAndMakeVisible (slotLabels[s]);
        addAndMakeVisible (pickers[s]);
    }
    morph.setSliderStyle (juce::Slider::LinearHorizontal);
    morph.setTextBoxStyle (juce::Slider::TextBoxRight, false, 56, 18);
    morph.setTooltip ("0 plays A, 1 plays B; beyond either end extrapolates away from the other");
    for (auto* c : std::initializer_list<juce::Component*> { &title, &morphLabel, &morph, &map, &message })
        addAndMakeVisible (c);
    morphAttachment = std::make_unique<juce::AudioProcessorValueTreeState::SliderAttachment> (state, "morph", morph);
    // After the attachment, which installs the parameter's own (unrounded) text.
    morph.textFromValueFunction = [] (double v) { return juce::String (v, 2); };
    morph.updateText();
}

int SynthTimbrePanel::chosen (int slot) const
{
    const auto* value = state.getRawParameterValue (slot == 0 ? "timbre_a" : "timbre_b");
    const int count = names.size();
    return count > 0 ? std::clamp (static_cast<int> (value->load()), 1, count) - 1 : -1; // as the processor clamps it
}

void SynthTimbrePanel::setModel (const SynthProcessor::ModelView& view)
{
    names = view.timbreNames;
    points = view.timbreMap;
    for (auto& picker : pickers)
    {
        picker.clear (juce::dontSendNotification);
        picker.addItemList (names, 1);
    }
    map.setTimbres (names, points);
    const bool enabled = ! names.isEmpty();
    for (auto* c : std::initializer_list<juce::Component*> { &pickers[0], &pickers[1], &morph, &map })
        c->setEnabled (enabled);
    message.setText (! view.hasModel ? juce::String()
                     : enabled       ? (points.empty() ? juce::String ("The model has no principal axes: no map") : juce::String())
                                     : juce::String ("This model has no named timbres: Timbre A, B and Morph do nothing"),
                     juce::dontSendNotification);
    refresh();
}

void SynthTimbrePanel::refresh()
{
    const int a = chosen (0), b = chosen (1);
    pickers[0].setSelectedItemIndex (a, juce::dontSendNotification);
    pickers[1].setSelectedItemIndex (b, juce::dontSendNotification);
    map.setSelected ({ a, b });
    // The latent is A + morph (B - A); the map's axes are linear, so is the point.
    const bool onMap = a >= 0 && b >= 0 && static_cast<size_t> (std::max (a, b)) < points.size();
    if (onMap)
    {
        const float amount = state.getRawParameterValue ("morph")->load();
        const auto pa = points[static_cast<size_t> (a)], pb = points[static_cast<size_t> (b)];
        map.setCurrent (pa + (pb - pa) * amount, true);
    }
    else
        map.setCurrent ({}, false);
}

void SynthTimbrePanel::resized()
{
    auto area = getLocalBounds().reduced (8, 4);
    title.setBounds (area.removeFromTop (22));
    for (size_t s = 0; s < pickers.size(); ++s)
    {
        auto line = area.removeFromTop (28);
        slotLabels[s].setBounds (line.removeFromLeft (20));
        pickers[s].setBounds (line.reduced (0, 2));
    }
    morphLabel.setBounds (area.removeFromTop (14));
    morph.setBounds (area.removeFromTop (24));
    area.removeFromTop (6);
    message.setBounds (area.removeFromBottom (message.getText().isEmpty() ? 0 : 30));
    map.setBounds (area);
}

void SynthTimbrePanel::paint (juce::Graphics& g)
{
    g.setColour (TimbrelLook::panel.brighter (0.04f));
    g.fillRoundedRectangle (getLocalBounds().toFloat().reduced (2.0f), 6.0f);
}

// ---------------------------------------------------------------------------------------------

SynthEditor::SynthEditor (SynthProcessor& p)
    : AudioProcessorEditor (p), processor (p), timbre (p.parameters), keys (p.keyboardState)
{
    setLookAndFeel (&look);
    title.setText ("Timbrel Synth", juce::dontSendNotification);
    title.setFont (juce::Font (22.0f, juce::Font::bold));
    cardSummary.setFont (14.0f);
    status.setFont (13.0f);
    modelChooser.onChoose = [this] (const juce::String& reference) { processor.loadModel (reference); };
    for (auto* c : std::initializer_list<juce::Component*> { &title, &cardSummary, &cardDescription, &modelChooser, &status, &timbre, &keys })
        addAndMakeVisible (c);

    knob (envelope, "attack", "Attack");
    knob (envelope, "decay", "Decay");
    knob (envelope, "sustain", "Sustain");
    knob (envelope, "release", "Release");
    knob (glide, "glide", "Glide time");
    glide.add (monoButton);
    monoButton.setTooltip ("One voice, legato: a note played while another is held glides to it");
    monoAttachment = std::make_unique<juce::AudioProcessorValueTreeState::ButtonAttachment> (processor.parameters, "mono", monoButton);
    knob (vibrato, "vibrato_rate", "Rate");
    knob (vibrato, "vibrato_depth", "Depth");
    knob (vibrato, "vibrato_delay", "Delay");
    knob (voices, "polyphony", "Polyphony");
    knob (voices, "bend_range", "Bend range");
    voices.add (voiceMeter, 84);
    knob (expression, "velocity_range", "Velocity");
    knob (expression, "pressure_range", "Pressure");
    knob (shifts, "pitch_shift", "Pitch");
    knob (shifts, "loudness_shift", "Loudness");
    knob (shifts, "centroid_shift", "Centroid");
    knob (shifts, "bandwidth_shift", "Bandwidth");
    knob (shifts, "flatness_shift", "Flatness");
    knob (output, "output_gain", "Gain");
    for (auto* group : { &envelope, &glide, &vibrato, &voices, &expression, &shifts, &output })
        addAndMakeVisible (group);

    updateModelView();
    setResizable (true, true);
    setResizeLimits (1160, 500, 2000, 1400); // narrower, the first row of groups would not fit
    setSize (1160, 560);
    startTimerHz (30);
}

SynthEditor::~SynthEditor()
{
    stopTimer();
    // Keys held on this keyboard would hang once it is gone.
    processor.keyboardState.allNotesOff (0);
    setLookAndFeel (nullptr);
}

Knob& SynthEditor::knob (ControlGroup& group, const juce::String& parameterId, const juce::String& caption)
{
    knobs.push_back (std::make_unique<Knob> (processor.parameters, parameterId, caption));
    group.add (*knobs.back());
    return *knobs.back();
}

void SynthEditor::updateModelView()
{
    shownGeneration = processor.modelGeneration();
    view = processor.describeModel();
    modelChooser.show (view.hasModel ? view.reference : juce::String());
    timbre.setModel (view);
    if (view.hasModel)
    {
        cardSummary.setText ((view.instrument.isNotEmpty() ? view.instrument : view.name) + "   " + formatRate (view.modelRate)
                                 + "   hop " + juce::String (view.hop) + "   " + juce::String (view.timbreNames.size())
                                 + (view.timbreNames.size() == 1 ? " timbre" : " timbres"),
                             juce::dontSendNotification);
        cardDescription.setDescription (view.description);
        keys.setPlayableRange (view.hasPitchRange ? static_cast<int> (std::ceil (view.pitchMin)) : 0,
                               view.hasPitchRange ? static_cast<int> (std::floor (view.pitchMax)) : 127);
    }
    else
    {
        cardSummary.setText ("No model is playing: the synth is silent", juce::dontSendNotification);
        cardDescription.setDescription ("Pick a model above, or open a .ts file.");
        keys.setPlayableRange (0, 127);
    }
    resized();
    repaint();
}

void SynthEditor::refresh()
{
    if (processor.modelGeneration() != shownGeneration)
        updateModelView();
    timbre.refresh();
    const auto activity = processor.voiceActivity();
    voiceMeter.show (activity.sounding, activity.polyphony);
    keys.setHeldKeys (activity.keysDown);

    // What the model offers, then what went wrong.
    juce::StringArray offers, problems;
    if (view.hasModel)
    {
        const double hostRate = processor.getSampleRate();
        if (view.hasPitchRange)
            offers.add ("Plays notes " + noteName (view.pitchMin) + " to " + noteName (view.pitchMax));
        if (hostRate > 0.0)
            offers.add ("latency " + juce::String (1000.0 * view.latencySamples / hostRate, 1) + " ms");
        if (view.naturalNote.isEmpty())
            offers.add ("spectral descriptors follow the timbre (natural)");
        else
            problems.add (view.naturalNote.substring (0, 1).toUpperCase() + view.naturalNote.substring (1));
        if (activity.clampedNotes > 0)
            problems.add (juce::String (activity.clampedNotes) + (activity.clampedNotes == 1 ? " note" : " notes")
                          + " outside " + noteName (view.pitchMin) + " to " + noteName (view.pitchMax) + " played clamped into the model's range");
    }
    if (const auto message = processor.getStatusMessage(); message.isNotEmpty())
        problems.insert (0, message.substring (0, 1).toUpperCase() + message.substring (1));
    const auto line = (offers.joinIntoString ("   ") + (problems.isEmpty() || offers.isEmpty() ? "" : "   ") + problems.joinIntoString ("   ")).trim();
    status.setText (line.isEmpty() ? juce::String ("Ready") : line, juce::dontSendNotification);
    status.setColour (juce::Label::textColourId, problems.isEmpty() ? TimbrelLook::dim : TimbrelLook::warning);
}

void SynthEditor::paint (juce::Graphics& g)
{
    g.fillAll (TimbrelLook::background);
    g.setColour (TimbrelLook::panel);
    g.fillRect (getLocalBounds().removeFromBottom (kStatusHeight));
}

void SynthEditor::resized()
{
    auto area = getLocalBounds();
    status.setBounds (area.removeFromBottom (kStatusHeight).reduced (10, 0));
    keys.setBounds (area.removeFromBottom (kKeyboardHeight).reduced (10, 4));
    // The keys fill the width: 52 white keys of a piano at most 24 pixels each.
    keys.setKeyWidth (juce::jlimit (10.0f, 24.0f, static_cast<float> (keys.getWidth()) / 52.0f));

    auto header = area.removeFromTop (kHeaderHeight).reduced (10, 8);
    title.setBounds (header.removeFromLeft (170));
    modelChooser.setBounds (header.removeFromLeft (300));
    header.removeFromLeft (10);
    cardSummary.setBounds (header.removeFromTop (20));
    cardDescription.setBounds (header);

    area.reduce (8, 4);
    timbre.setBounds (area.removeFromRight (kTimbreWidth));
    area.removeFromRight (4);
    const int groupHeight = std::min (kGroupHeight, (area.getHeight() - 4) / 2);
    auto placeRow = [&] (std::initializer_list<ControlGroup*> groups) {
        auto row = area.removeFromTop (groupHeight);
        for (auto* group : groups)
            group->setBounds (row.removeFromLeft (group->preferredWidth()));
    };
    placeRow ({ &envelope, &glide, &vibrato, &voices });
    area.removeFromTop (4);
    placeRow ({ &expression, &shifts, &output });
}
} // namespace timbrel
