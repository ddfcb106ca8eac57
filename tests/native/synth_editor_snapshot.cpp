// timbrel_synth_editor_snapshot: renders Timbrel Synth's editor, with a model loaded and notes
// held, to a PNG (tests/test_synth_editor.py, docs/screenshot-synth.png).
//   timbrel_synth_editor_snapshot --out PNG [--model PATH|NAME] [--width W --height H]
//                                 [--notes 60,64,67] [--keys 60,64] [--seconds S] [--set ID=VALUE ...]
// --notes come from the host: note-ons in the first block's MIDI, held for --seconds. --keys are
// pressed on the editor's own keyboard (its MidiKeyboardState), as a user clicking them, and
// reach the synth through the processor's queue. It prints what snapshot_output.h lists, and
// "keys shown down: N N ..." (the keys the editor's keyboard draws down).
// It links the synth's own processor and editor code (the TimbrelSynth shared-code target).

#include "SynthEditor.h"
#include "snapshot_output.h"

#include <iostream>

namespace
{
int fail (const juce::String& message)
{
    std::cerr << "timbrel_synth_editor_snapshot: " << message << std::endl;
    return 1;
}

juce::Array<int> noteList (const juce::String& text)
{
    juce::Array<int> notes;
    for (const auto& token : juce::StringArray::fromTokens (text, ",", ""))
        if (token.trim().isNotEmpty())
            notes.add (token.trim().getIntValue());
    return notes;
}
} // namespace

int main (int argc, char** argv)
{
    juce::ScopedJuceInitialiser_GUI gui;
    juce::String modelPath, outPath;
    int width = 1160, height = 560;
    double seconds = 1.0;
    juce::Array<int> hostNotes, keyboardNotes;
    juce::StringArray settings;
    for (int i = 1; i < argc; ++i)
    {
        const juce::String arg (argv[i]);
        auto value = [&] { return i + 1 < argc ? juce::String (argv[++i]) : juce::String(); };
        if (arg == "--model") modelPath = value();
        else if (arg == "--out") outPath = value();
        else if (arg == "--width") width = value().getIntValue();
        else if (arg == "--height") height = value().getIntValue();
        else if (arg == "--seconds") seconds = value().getDoubleValue();
        else if (arg == "--notes") hostNotes = noteList (value());
        else if (arg == "--keys") keyboardNotes = noteList (value());
        else if (arg == "--set") settings.add (value());
        else return fail ("unknown argument " + arg);
    }
    if (outPath.isEmpty())
        return fail ("--out PNG is required");

    std::unique_ptr<juce::AudioProcessor> plugin (createPluginFilter());
    auto* synth = dynamic_cast<timbrel::SynthProcessor*> (plugin.get());
    if (synth == nullptr)
        return fail ("the plugin is not a SynthProcessor");
    for (const auto& setting : settings)
    {
        auto* parameter = synth->parameters.getParameter (setting.upToFirstOccurrenceOf ("=", false, false));
        if (parameter == nullptr)
            return fail ("no parameter " + setting);
        parameter->setValueNotifyingHost (parameter->convertTo0to1 (setting.fromFirstOccurrenceOf ("=", false, false).getFloatValue()));
    }

    const double rate = 44100.0;
    const int block = 512;
    synth->setNonRealtime (true); // a load is served before the next block
    synth->setRateAndBufferSizeDetails (rate, block); // as hosts do before prepareToPlay
    synth->prepareToPlay (rate, block);
    if (modelPath.isNotEmpty())
    {
        // A path, or a name looked up in the model folders as the picker does.
        const auto file = juce::File::getCurrentWorkingDirectory().getChildFile (modelPath);
        const auto reference = juce::File::isAbsolutePath (modelPath) || file.existsAsFile() ? file.getFullPathName() : modelPath;
        if (auto error = synth->loadModel (reference, true); error.isNotEmpty())
            std::cerr << "timbrel_synth_editor_snapshot: model: " << error << " (rendering the editor anyway)" << std::endl;
    }

    std::unique_ptr<juce::AudioProcessorEditor> editor (synth->createEditor());
    auto* synthEditor = dynamic_cast<timbrel::SynthEditor*> (editor.get());
    if (synthEditor == nullptr)
        return fail ("the synth's editor is not a SynthEditor");
    editor->setSize (width, height);
    for (const int note : keyboardNotes)
        synth->keyboardState.noteOn (1, note, 0.8f);

    juce::AudioBuffer<float> buffer (2, block);
    juce::MidiBuffer midi;
    const int blocks = static_cast<int> (seconds * rate / block);
    const int blocksPerFrame = std::max (1, static_cast<int> (rate / 30.0 / block + 0.5));
    float peak = 0.0f;
    for (int index = 0; index < blocks; ++index)
    {
        midi.clear();
        if (index == 0)
            for (const int note : hostNotes)
                midi.addEvent (juce::MidiMessage::noteOn (1, note, static_cast<juce::uint8> (100)), 0);
        synth->processBlock (buffer, midi);
        peak = std::max (peak, buffer.getMagnitude (0, block));
        if (index % blocksPerFrame == 0)
            synthEditor->refresh();
    }
    synthEditor->refresh();

    timbrel::snapshot::printComponents (*editor);
    juce::String down;
    for (int note = 0; note < 128; ++note)
        if (synthEditor->keyboard().isShownDown (note))
            down << " " << note;
    std::cout << "keys shown down:" << down << std::endl;
    std::cout << "peak: " << peak << std::endl;
    if (! timbrel::snapshot::writePng (*editor, outPath))
        return fail ("cannot write " + outPath);
    editor.reset();
    synth->releaseResources();
    return 0;
}
