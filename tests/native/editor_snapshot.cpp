// timbrel_editor_snapshot: renders the plugin's editor, with a model loaded and its meters
// fed by a few seconds of audio, to a PNG (tests/test_editor.py, docs/screenshot.png).
//   timbrel_editor_snapshot --model PATH|NAME --out PNG [--input WAV] [--width W --height H]
//                           [--set ID=VALUE ...] [--seconds S] [--switch-to MODEL] [--capture A|B ...]
// --switch-to loads another model halfway through as the editor's model picker does (on the
// loader thread, keeping the previous model when the new one fails) while audio keeps coming.
// It prints every visible label's text ("label: ..."), combo box, text field ("text: ...", the
// placeholder in parentheses when empty) and toggle ("toggle: ...", "[disabled]" when greyed
// out) so tests can read what the editor says (snapshot_output.h: also tooltips and the timbre
// map's dots and names), the bounds of every active descriptor plot ("plot: x y w h") and the
// labels at the top and bottom of its axis ("axis: TOP | BOTTOM").
// It links the plugin's own processor and editor code (the plugin target's shared code), so
// the picture is of the real editor: a hosted VST3's editor is a native child window that
// JUCE cannot paint into an image.

#include "PluginEditor.h"
#include "snapshot_output.h"

#include <juce_audio_formats/juce_audio_formats.h>

#include <functional>
#include <iostream>

namespace
{
int fail (const juce::String& message)
{
    std::cerr << "timbrel_editor_snapshot: " << message << std::endl;
    return 1;
}

// A gliding two-note phrase, when no recording is given: the plots then show pitch and
// loudness moving and the shifted targets following.
void synthesise (juce::AudioBuffer<float>& audio, double rate)
{
    double phase = 0.0;
    for (int n = 0; n < audio.getNumSamples(); ++n)
    {
        const double t = n / rate;
        const double midi = 67.0 + 5.0 * std::floor (std::fmod (t, 2.0)) + 0.3 * std::sin (2.0 * juce::MathConstants<double>::pi * 5.0 * t);
        phase += 2.0 * juce::MathConstants<double>::pi * 440.0 * std::pow (2.0, (midi - 69.0) / 12.0) / rate;
        const double envelope = 0.25 * (0.6 + 0.4 * std::sin (2.0 * juce::MathConstants<double>::pi * 0.5 * t));
        float v = 0.0f;
        for (int h = 1; h <= 8; ++h)
            v += static_cast<float> (envelope * std::sin (h * phase) / h);
        for (int ch = 0; ch < audio.getNumChannels(); ++ch)
            audio.setSample (ch, n, v);
    }
}
} // namespace

int main (int argc, char** argv)
{
    juce::ScopedJuceInitialiser_GUI gui;
    juce::String modelPath, outPath, inputPath, switchPath;
    int width = 1240, height = 720;
    double seconds = 4.0;
    juce::StringArray settings, captures;
    for (int i = 1; i < argc; ++i)
    {
        const juce::String arg (argv[i]);
        auto value = [&] { return i + 1 < argc ? juce::String (argv[++i]) : juce::String(); };
        if (arg == "--model") modelPath = value();
        else if (arg == "--out") outPath = value();
        else if (arg == "--input") inputPath = value();
        else if (arg == "--switch-to") switchPath = value();
        else if (arg == "--width") width = value().getIntValue();
        else if (arg == "--height") height = value().getIntValue();
        else if (arg == "--seconds") seconds = value().getDoubleValue();
        else if (arg == "--set") settings.add (value());
        else if (arg == "--capture") captures.add (value()); // A or B: press that slot's Capture after the audio
        else return fail ("unknown argument " + arg);
    }
    if (outPath.isEmpty())
        return fail ("--out PNG is required");

    std::unique_ptr<juce::AudioProcessor> plugin (createPluginFilter());
    auto* processor = dynamic_cast<timbrel::TimbrelProcessor*> (plugin.get());
    if (processor == nullptr)
        return fail ("the plugin is not a TimbrelProcessor");
    if (modelPath.isNotEmpty())
    {
        // A path, or a name looked up in the model folders as the picker does.
        const auto file = juce::File::getCurrentWorkingDirectory().getChildFile (modelPath);
        const auto reference = juce::File::isAbsolutePath (modelPath) || file.existsAsFile() ? file.getFullPathName() : modelPath;
        if (auto error = processor->loadModel (reference, false); error.isNotEmpty())
            std::cerr << "timbrel_editor_snapshot: model: " << error << " (rendering the editor anyway)" << std::endl;
    }
    for (const auto& setting : settings)
    {
        auto* parameter = processor->parameters.getParameter (setting.upToFirstOccurrenceOf ("=", false, false));
        if (parameter == nullptr)
            return fail ("no parameter " + setting);
        const float value = setting.fromFirstOccurrenceOf ("=", false, false).getFloatValue();
        parameter->setValueNotifyingHost (parameter->convertTo0to1 (value));
    }

    const double rate = 44100.0;
    const int block = 512;
    juce::AudioBuffer<float> audio (2, static_cast<int> (seconds * rate));
    if (inputPath.isNotEmpty())
    {
        juce::AudioFormatManager formats;
        formats.registerBasicFormats();
        std::unique_ptr<juce::AudioFormatReader> reader (formats.createReaderFor (juce::File (inputPath)));
        if (reader == nullptr)
            return fail ("cannot read " + inputPath);
        audio.clear();
        reader->read (&audio, 0, std::min (audio.getNumSamples(), static_cast<int> (reader->lengthInSamples)), 0, true, true);
    }
    else
        synthesise (audio, rate);

    processor->setNonRealtime (true); // synchronous: the meters see every hop
    processor->prepareToPlay (rate, block);
    std::unique_ptr<juce::AudioProcessorEditor> editor (processor->createEditor());
    auto* timbrelEditor = dynamic_cast<timbrel::TimbrelEditor*> (editor.get());
    editor->setSize (width, height);

    // Feed the audio in blocks and poll the meters at the editor's frame rate (30 per second).
    juce::AudioBuffer<float> buffer (processor->getTotalNumInputChannels(), block);
    juce::MidiBuffer midi;
    const int blocksPerFrame = std::max (1, static_cast<int> (rate / 30.0 / block + 0.5));
    for (int start = 0, index = 0; start + block <= audio.getNumSamples(); start += block, ++index)
    {
        buffer.clear();
        for (int ch = 0; ch < 2; ++ch)
            buffer.copyFrom (ch, 0, audio, ch, start, block);
        if (switchPath.isNotEmpty() && start == (audio.getNumSamples() / 2 / block) * block)
        {
            const int generation = processor->modelGeneration();
            processor->loadModel (juce::File (switchPath).getFullPathName(), true, true);
            // Offline, the switch happens at the next block once loaded: wait for the loader.
            for (int waited = 0; processor->modelGeneration() == generation && waited < 600; ++waited)
                juce::Thread::sleep (50);
        }
        processor->processBlock (buffer, midi);
        if (timbrelEditor != nullptr && index % blocksPerFrame == 0)
            timbrelEditor->refresh();
    }

    // Capture as a user presses it: the timbre panel's buttons, in slot order (A, then B).
    std::vector<juce::TextButton*> captureButtons;
    std::function<void (juce::Component&)> findCaptures = [&] (juce::Component& c) {
        if (auto* button = dynamic_cast<juce::TextButton*> (&c); button != nullptr && button->getButtonText() == "Capture")
            captureButtons.push_back (button);
        for (auto* child : c.getChildren())
            findCaptures (*child);
    };
    findCaptures (*editor);
    for (const auto& slot : captures)
    {
        const size_t index = slot == "B" ? 1 : 0;
        if (index >= captureButtons.size() || ! captureButtons[index]->onClick)
            return fail ("no Capture button for slot " + slot);
        captureButtons[index]->onClick();
        const auto snapshot = processor->getSnapshot (static_cast<int> (index));
        std::cout << "capture " << slot << ": " << (snapshot.captured ? "captured" : snapshot.name) << " ("
                  << processor->getTimbreMessage() << ")" << std::endl;
    }
    if (timbrelEditor != nullptr)
        timbrelEditor->refresh();

    timbrel::snapshot::printComponents (*editor, [&] (juce::Component& c) {
        if (auto* plot = dynamic_cast<timbrel::DescriptorPlot*> (&c); plot != nullptr && plot->isEnabled())
        {
            const auto r = editor->getLocalArea (plot, plot->getLocalBounds());
            std::cout << "plot: " << r.getX() << " " << r.getY() << " " << r.getWidth() << " " << r.getHeight() << std::endl;
            std::cout << "axis: " << plot->topLabel() << " | " << plot->bottomLabel() << std::endl;
        }
    });
    if (! timbrel::snapshot::writePng (*editor, outPath))
        return fail ("cannot write " + outPath);
    editor.reset();
    processor->releaseResources();
    return 0;
}
