/*  timbrel_rt_host: a minimal native host that runs the built Timbrel VST3 the way an audio
    device would. pedalboard and DawDreamer put plugins in non-realtime (offline) mode; this
    host keeps the plugin in real-time mode and calls it from a dedicated audio thread paced
    by the sample clock, measures every callback and counts the heap allocations made on the
    audio thread inside processBlock.

    Usage:
      timbrel_rt_host --plugin PATH.vst3 --input IN.wav --output OUT.wav --report REPORT.json
          [--sample-rate SR]          rate to run at (default: the input file's; no resampling)
          [--block N]                 block size (default 128)
          [--block-pattern N1,N2,...] cycle through these block sizes instead of a fixed one
          [--offline]                 setNonRealtime(true), no pacing
          [--pace F]                  real-time mode (the default): 1.0 (default) = block k starts
                                      no earlier than start + (samples before k)/SR*F, like an
                                      audio device; 0 = real-time mode, unpaced
          [--set PARAM_ID=VALUE ...]  VALUE in the parameter's own units or a choice's text
                                      (getValueForText). PARAM_ID: the hosted parameter's
                                      getParameterID(), else its name lowercased with spaces as
                                      underscores ("output_gain"). Repeatable; several may follow
                                      one --set. Applied before playback: the host delivers them
                                      in one silent priming block, then reset()s the plugin, so
                                      playback starts at the values without ramps.
          [--state FILE]              setStateInformation from FILE before prepareToPlay: either a
                                      JUCE VST3 host state (<VST3PluginState>) or the plugin's own
                                      state blob, which is wrapped as the IComponent state
          [--sidechain SC.wav]        enable the second input bus (mono or stereo like the file)
                                      and feed SC.wav (zero-padded / truncated to the input)
          [--instances K]             K instances in one process, processed in turn in the same
                                      callback, all fed the same input; OUT.wav is instance 0's
          [--warmup-blocks N]         blocks processed before timing and allocation counting
                                      start (their output is still written)
          [--at SECONDS:PARAM_ID=VALUE] while playing, once the audio thread has passed SECONDS
                                      of input, set the parameter from the message thread as a
                                      user or automation would (repeatable)
          [--state-at SECONDS:FILE]   likewise, setStateInformation from FILE on the message
                                      thread while audio runs, as a DAW loading a preset
      timbrel_rt_host --selftest-alloc
          proves the allocation counter counts: a deliberate malloc, new and strdup (allocating
          inside libc) inside the counted scope, none outside it or on another thread, and every
          replaced symbol exported; prints JSON, exit 0 when all hold, 1 otherwise

    The input is zero-padded by the plugin's latency (getLatencySamples() after prepareToPlay)
    so OUT.wav (32-bit float, raw, NOT latency-aligned) holds input length + latency samples.
    REPORT.json: plugin, sample_rate, channels, sidechain_channels, block_sizes, budget_us (the
    mean block's duration), realtime, paced, pace, instances, latency_samples (re-read after
    processing), latency_samples_at_prepare, input_samples, output_samples, blocks,
    warmup_blocks, timed_blocks, callback_us and process_us {mean, p50, p99, p999, max} over the
    timed blocks (a callback = all instances in turn; process = one processBlock call),
    over_budget_blocks (callbacks longer than their own block's duration), late_blocks (paced:
    finished after the next block's deadline), audio_thread_scheduling ("SCHED_FIFO 80" or
    "normal"), audio_thread_allocations and audio_thread_frees (inside processBlock on the
    audio thread, timed blocks only; this includes JUCE's host-side VST3 wrapper, and not
    threads the plugin runs itself), parameters (ID -> "normalised (text)"), status (the
    attributes of the <Status> element of instance 0's state, as strings).

    Exit codes: 0 success; 2 bad arguments, unreadable files, a plugin that fails to load or
    refuses the layout (one line on stderr); 1 anything else.
*/

#include "alloc_counter.h"

#include <juce_audio_formats/juce_audio_formats.h>
#include <juce_audio_processors/juce_audio_processors.h>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace
{
using Clock = std::chrono::steady_clock;

struct UsageError : std::runtime_error
{
    explicit UsageError (const char* message) : std::runtime_error (message) {}
    explicit UsageError (const std::string& message) : std::runtime_error (message) {}
    explicit UsageError (const juce::String& message) : std::runtime_error (message.toStdString()) {}
};

struct Options
{
    juce::String plugin, input, output, report, state, sidechain;
    std::optional<double> sampleRate;
    std::vector<int> blockPattern { 128 };
    bool realtime = true;
    double pace = 1.0;
    std::vector<std::pair<juce::String, juce::String>> settings;
    int instances = 1;
    int warmupBlocks = 0;
    bool selfTest = false;
    struct TimedEvent
    {
        double seconds = 0.0;
        juce::String parameter, value, stateFile; // a parameter change, or a state load
    };
    std::vector<TimedEvent> events;
};

constexpr const char* kUsage =
    "usage: timbrel_rt_host --plugin PATH.vst3 --input IN.wav --output OUT.wav --report REPORT.json\n"
    "         [--sample-rate SR] [--block N | --block-pattern N1,N2,...] [--offline] [--pace F]\n"
    "         [--set PARAM_ID=VALUE ...] [--state FILE] [--sidechain SC.wav] [--instances K]\n"
    "         [--warmup-blocks N] [--at SECONDS:PARAM_ID=VALUE ...] [--state-at SECONDS:FILE ...]\n"
    "       timbrel_rt_host --selftest-alloc\n";

long long parseInteger (const std::string& text, const std::string& option, long long lo, long long hi)
{
    long long value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars (text.data(), end, value);
    if (ec != std::errc() || ptr != end || value < lo || value > hi)
        throw UsageError (option + " expects an integer in [" + std::to_string (lo) + ", " + std::to_string (hi) + "], got '" + text + "'");
    return value;
}

double parseNumber (const std::string& text, const std::string& option, double lo)
{
    char* end = nullptr;
    const double value = std::strtod (text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || ! std::isfinite (value) || value < lo)
        throw UsageError (option + " expects a number >= " + juce::String (lo).toStdString() + ", got '" + text + "'");
    return value;
}

Options parseArguments (int argc, char** argv)
{
    Options o;
    bool sawBlock = false, sawPattern = false, sawPace = false;
    std::vector<std::string> args (argv + 1, argv + argc);
    for (size_t i = 0; i < args.size(); ++i)
    {
        const auto& arg = args[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= args.size())
                throw UsageError (arg + " needs a value");
            return args[++i];
        };

        if (arg == "--help" || arg == "-h")
        {
            std::fputs (kUsage, stdout);
            std::exit (0);
        }
        else if (arg == "--selftest-alloc") o.selfTest = true;
        else if (arg == "--plugin") o.plugin = value();
        else if (arg == "--input") o.input = value();
        else if (arg == "--output") o.output = value();
        else if (arg == "--report") o.report = value();
        else if (arg == "--state") o.state = value();
        else if (arg == "--sidechain") o.sidechain = value();
        else if (arg == "--sample-rate") o.sampleRate = parseNumber (value(), arg, 1.0);
        else if (arg == "--block")
        {
            o.blockPattern = { (int) parseInteger (value(), arg, 1, 1 << 16) };
            sawBlock = true;
        }
        else if (arg == "--block-pattern")
        {
            o.blockPattern.clear();
            for (const auto& token : juce::StringArray::fromTokens (juce::String (value()), ",", ""))
                o.blockPattern.push_back ((int) parseInteger (token.trim().toStdString(), arg, 1, 1 << 16));
            if (o.blockPattern.empty())
                throw UsageError ("--block-pattern needs at least one block size");
            sawPattern = true;
        }
        else if (arg == "--offline") o.realtime = false;
        else if (arg == "--pace")
        {
            o.pace = parseNumber (value(), arg, 0.0);
            sawPace = true;
        }
        else if (arg == "--instances") o.instances = (int) parseInteger (value(), arg, 1, 256);
        else if (arg == "--warmup-blocks") o.warmupBlocks = (int) parseInteger (value(), arg, 0, 1 << 30);
        else if (arg == "--set")
        {
            auto addSetting = [&] (const std::string& text) {
                const auto eq = text.find ('=');
                if (eq == std::string::npos || eq == 0)
                    throw UsageError ("--set expects PARAM_ID=VALUE, got '" + text + "'");
                o.settings.emplace_back (juce::String (text.substr (0, eq)), juce::String (text.substr (eq + 1)));
            };
            addSetting (value());
            while (i + 1 < args.size() && args[i + 1].rfind ("--", 0) != 0)
                addSetting (args[++i]);
        }
        else if (arg == "--at" || arg == "--state-at")
        {
            const std::string text = value();
            const auto colon = text.find (':');
            if (colon == std::string::npos)
                throw UsageError (arg + " expects SECONDS:..., got '" + text + "'");
            Options::TimedEvent event;
            event.seconds = parseNumber (text.substr (0, colon), arg, 0.0);
            const std::string rest = text.substr (colon + 1);
            if (arg == "--state-at")
                event.stateFile = rest;
            else
            {
                const auto eq = rest.find ('=');
                if (eq == std::string::npos || eq == 0)
                    throw UsageError ("--at expects SECONDS:PARAM_ID=VALUE, got '" + text + "'");
                event.parameter = rest.substr (0, eq);
                event.value = rest.substr (eq + 1);
            }
            o.events.push_back (event);
        }
        else
            throw UsageError ("unknown argument '" + arg + "'");
    }
    std::stable_sort (o.events.begin(), o.events.end(), [] (const auto& a, const auto& b) { return a.seconds < b.seconds; });

    if (o.selfTest)
        return o;
    if (sawBlock && sawPattern)
        throw UsageError ("--block and --block-pattern are exclusive");
    if (sawPace && ! o.realtime)
        throw UsageError ("--pace applies to real-time mode only, not with --offline");
    for (auto* required : { &o.plugin, &o.input, &o.output, &o.report })
        if (required->isEmpty())
            throw UsageError ("--plugin, --input, --output and --report are required");
    return o;
}

//==============================================================================
int runAllocationSelfTest()
{
    const char* missing[64] {};
    const int numMissing = timbrel_rt::unexportedAllocationSymbols (missing, 64);

    // Calls through volatile pointers so that the compiler cannot elide the allocations.
    void* (*volatile mallocFn) (std::size_t) = &std::malloc;
    void (*volatile freeFn) (void*) = &std::free;
    char* (*volatile strdupFn) (const char*) = &strdup;
    void* (*volatile newFn) (std::size_t) = &::operator new;
    void (*volatile deleteFn) (void*) = &::operator delete;

    // Outside the scope: not counted.
    auto a0 = timbrel_rt::countedAllocations();
    freeFn (mallocFn (40));
    const auto outside = timbrel_rt::countedAllocations() - a0;

    // Another thread allocating while this one counts: not counted (the flag is per thread).
    std::atomic<int> phase { 0 };
    std::thread other ([&] {
        while (phase.load() != 1)
            std::this_thread::yield();
        freeFn (mallocFn (48));
        phase.store (2);
    });

    a0 = timbrel_rt::countedAllocations();
    const auto f0 = timbrel_rt::countedFrees();
    std::uint64_t otherThread = 0;
    {
        timbrel_rt::ScopedAllocationCounting scope;
        phase.store (1);
        while (phase.load() != 2)
            std::this_thread::yield();
        otherThread = timbrel_rt::countedAllocations() - a0;

        void* m = mallocFn (24);         // malloc called from the executable
        void* n = newFn (16);            // operator new
        char* s = strdupFn ("timbrel");  // malloc called from inside libc: shared libraries bind to ours
        deleteFn (n);
        freeFn (m);
        freeFn (s);
    }
    const auto allocations = timbrel_rt::countedAllocations() - a0;
    const auto frees = timbrel_rt::countedFrees() - f0;
    other.join();

    juce::String unexported;
    for (int i = 0; i < std::min (numMissing, 64); ++i)
        unexported << (i > 0 ? ", " : "") << "\"" << missing[i] << "\"";
    std::printf ("{\"allocations\": %llu, \"frees\": %llu, \"expected_allocations\": 3, \"expected_frees\": 3, "
                 "\"outside_scope\": %llu, \"other_thread\": %llu, \"unexported\": [%s]}\n",
                 (unsigned long long) allocations, (unsigned long long) frees, (unsigned long long) outside,
                 (unsigned long long) otherThread, unexported.toRawUTF8());
    const bool ok = allocations == 3 && frees == 3 && outside == 0 && otherThread == 0 && numMissing == 0;
    if (! ok)
        std::fputs ("timbrel_rt_host: error: the allocation counter self-test failed\n", stderr);
    return ok ? 0 : 1;
}

//==============================================================================
void pumpMessages (int milliseconds)
{
    juce::MessageManager::getInstance()->runDispatchLoopUntil (milliseconds);
}

// Latency changes reach a VST3 host through restartComponent, which JUCE may deliver as a
// message: pump until the hosted plugin's latency has held still for 50 ms (at most 2 s), so
// the latency read before playback is the one the plugin plays with.
void pumpUntilLatencySettles (juce::AudioPluginInstance& plugin)
{
    int last = plugin.getLatencySamples(), steady = 0;
    for (int slice = 0; slice < 200 && steady < 5; ++slice)
    {
        pumpMessages (10);
        const int now = plugin.getLatencySamples();
        steady = now == last ? steady + 1 : 0;
        last = now;
    }
}

juce::AudioBuffer<float> readWav (const juce::String& path, const juce::String& what, double& sampleRateOut)
{
    const juce::File file (juce::File::getCurrentWorkingDirectory().getChildFile (path));
    if (! file.existsAsFile())
        throw UsageError (what + " file not found: " + file.getFullPathName().toStdString());
    juce::AudioFormatManager formats;
    formats.registerBasicFormats();
    std::unique_ptr<juce::AudioFormatReader> reader (formats.createReaderFor (file));
    if (reader == nullptr)
        throw UsageError ("cannot read " + what + " file " + file.getFullPathName().toStdString() + " as audio");
    if (reader->numChannels < 1 || reader->numChannels > 2)
        throw UsageError (what + " file must be mono or stereo, " + file.getFullPathName().toStdString() + " has "
                          + std::to_string (reader->numChannels) + " channels");
    if (reader->lengthInSamples > (1 << 30))
        throw UsageError (what + " file is too long");
    juce::AudioBuffer<float> buffer ((int) reader->numChannels, (int) reader->lengthInSamples);
    if (! reader->read (&buffer, 0, buffer.getNumSamples(), 0, true, true))
        throw UsageError ("cannot read the samples of " + file.getFullPathName().toStdString());
    sampleRateOut = reader->sampleRate;
    return buffer;
}

juce::MemoryBlock hostStateFromFile (const juce::String& path)
{
    const juce::File file (juce::File::getCurrentWorkingDirectory().getChildFile (path));
    juce::MemoryBlock blob;
    if (! file.existsAsFile() || ! file.loadFileAsData (blob))
        throw UsageError ("cannot read state file " + file.getFullPathName().toStdString());
    if (auto xml = juce::AudioProcessor::getXmlFromBinary (blob.getData(), (int) blob.getSize()))
        if (xml->hasTagName ("VST3PluginState"))
            return blob;

    // The plugin's own state: wrap it the way JUCE's VST3 host stores component state.
    juce::XmlElement wrapper ("VST3PluginState");
    wrapper.createNewChildElement ("IComponent")->addTextElement (blob.toBase64Encoding());
    juce::MemoryBlock wrapped;
    juce::AudioProcessor::copyXmlToBinary (wrapper, wrapped);
    return wrapped;
}

/** Attributes of the <Status> element of the plugin's own state (inside the host's wrapper). */
juce::var readStatus (juce::AudioPluginInstance& plugin)
{
    auto* status = new juce::DynamicObject();
    juce::var result (status);
    juce::MemoryBlock hostState;
    plugin.getStateInformation (hostState);
    auto xml = juce::AudioProcessor::getXmlFromBinary (hostState.getData(), (int) hostState.getSize());
    if (xml != nullptr && xml->hasTagName ("VST3PluginState"))
    {
        juce::MemoryBlock component;
        if (auto* element = xml->getChildByName ("IComponent"); element != nullptr && component.fromBase64Encoding (element->getAllSubText().trim()))
            xml = juce::AudioProcessor::getXmlFromBinary (component.getData(), (int) component.getSize());
        else
            xml.reset();
    }
    if (xml != nullptr)
        if (auto* node = xml->getChildByName ("Status"))
            for (int i = 0; i < node->getNumAttributes(); ++i)
                status->setProperty (node->getAttributeName (i), node->getAttributeValue (i));
    return result;
}

juce::String normalisedName (const juce::String& name)
{
    return name.trim().toLowerCase().replaceCharacter (' ', '_');
}

juce::AudioProcessorParameter* findParameter (juce::AudioPluginInstance& plugin, const juce::String& id)
{
    for (auto* parameter : plugin.getParameters())
        if (auto* hosted = dynamic_cast<juce::HostedAudioProcessorParameter*> (parameter))
            if (hosted->getParameterID() == id)
                return parameter;
    for (auto* parameter : plugin.getParameters())
        if (normalisedName (parameter->getName (1024)) == normalisedName (id))
            return parameter;
    return nullptr;
}

juce::String knownParameters (juce::AudioPluginInstance& plugin)
{
    juce::StringArray names;
    for (auto* parameter : plugin.getParameters())
        names.add (normalisedName (parameter->getName (1024)));
    return names.joinIntoString (", ");
}

juce::var summarise (std::vector<double> values)
{
    auto* object = new juce::DynamicObject();
    juce::var result (object);
    if (values.empty())
    {
        for (const char* key : { "mean", "p50", "p99", "p999", "max" })
            object->setProperty (key, juce::var());
        return result;
    }
    std::sort (values.begin(), values.end());
    double sum = 0.0;
    for (double v : values)
        sum += v;
    auto quantile = [&] (double q) { // nearest rank
        const auto rank = (size_t) std::ceil (q * (double) values.size());
        return values[std::clamp<size_t> (rank, 1, values.size()) - 1];
    };
    object->setProperty ("mean", sum / (double) values.size());
    object->setProperty ("p50", quantile (0.5));
    object->setProperty ("p99", quantile (0.99));
    object->setProperty ("p999", quantile (0.999));
    object->setProperty ("max", values.back());
    return result;
}

/** Real-time priority for the calling thread where allowed; silently normal otherwise. */
juce::String tryRealtimePriority()
{
    sched_param parameter {};
    parameter.sched_priority = std::min (80, sched_get_priority_max (SCHED_FIFO));
    if (pthread_setschedparam (pthread_self(), SCHED_FIFO, &parameter) == 0)
        return "SCHED_FIFO " + juce::String (parameter.sched_priority);
    return "normal";
}

struct Instance
{
    std::unique_ptr<juce::AudioPluginInstance> plugin;
    std::vector<std::vector<float>> channelData; // one block of every channel the plugin sees
    std::vector<float*> channelPointers;
};

//==============================================================================
int runHost (const Options& o)
{
    const juce::ScopedJuceInitialiser_GUI juceInitialiser;

    double fileRate = 0.0;
    const auto input = readWav (o.input, "input", fileRate);
    const double sampleRate = o.sampleRate.value_or (fileRate);
    const int channels = input.getNumChannels();
    const int inputSamples = input.getNumSamples();
    if (inputSamples == 0)
        throw UsageError ("the input file holds no samples");

    juce::AudioBuffer<float> sidechainFile;
    if (o.sidechain.isNotEmpty())
    {
        double sidechainRate = 0.0;
        sidechainFile = readWav (o.sidechain, "sidechain", sidechainRate);
    }
    const int sidechainChannels = sidechainFile.getNumChannels();

    const juce::File pluginFile (juce::File::getCurrentWorkingDirectory().getChildFile (o.plugin));
    if (! pluginFile.exists())
        throw UsageError ("plugin not found: " + pluginFile.getFullPathName().toStdString());

    juce::AudioPluginFormatManager formatManager;
    formatManager.addFormat (new juce::VST3PluginFormat());
    juce::OwnedArray<juce::PluginDescription> descriptions;
    formatManager.getFormat (0)->findAllTypesForFile (descriptions, pluginFile.getFullPathName());
    if (descriptions.isEmpty())
        throw UsageError ("no VST3 plugin could be loaded from " + pluginFile.getFullPathName().toStdString());

    const int maxBlock = *std::max_element (o.blockPattern.begin(), o.blockPattern.end());
    std::optional<juce::MemoryBlock> state;
    if (o.state.isNotEmpty())
        state = hostStateFromFile (o.state);

    juce::DynamicObject::Ptr parametersReport (new juce::DynamicObject());
    std::vector<Instance> instances ((size_t) o.instances);
    for (size_t k = 0; k < instances.size(); ++k)
    {
        auto& instance = instances[k];
        juce::String error;
        instance.plugin = formatManager.createPluginInstance (*descriptions[0], sampleRate, maxBlock, error);
        if (instance.plugin == nullptr)
            throw UsageError ("could not instantiate " + pluginFile.getFullPathName().toStdString() + ": " + error.toStdString());
        auto& plugin = *instance.plugin;
        plugin.setNonRealtime (! o.realtime);

        if (state)
        {
            plugin.setStateInformation (state->getData(), (int) state->getSize());
            pumpMessages (10);
        }

        auto layout = plugin.getBusesLayout();
        if (layout.inputBuses.isEmpty() || layout.outputBuses.isEmpty())
            throw UsageError ("the plugin has no main input and output bus");
        const auto mainSet = juce::AudioChannelSet::canonicalChannelSet (channels);
        layout.inputBuses.getReference (0) = mainSet;
        layout.outputBuses.getReference (0) = mainSet;
        for (int bus = 1; bus < layout.inputBuses.size(); ++bus)
            layout.inputBuses.getReference (bus) = juce::AudioChannelSet::disabled();
        for (int bus = 1; bus < layout.outputBuses.size(); ++bus)
            layout.outputBuses.getReference (bus) = juce::AudioChannelSet::disabled();
        if (sidechainChannels > 0)
        {
            if (layout.inputBuses.size() < 2)
                throw UsageError ("--sidechain given but the plugin has no second input bus");
            layout.inputBuses.getReference (1) = juce::AudioChannelSet::canonicalChannelSet (sidechainChannels);
        }
        if (! plugin.setBusesLayout (layout))
            throw UsageError ("the plugin refused the layout: main bus " + mainSet.getDescription().toStdString()
                              + (sidechainChannels > 0 ? ", sidechain " + juce::AudioChannelSet::canonicalChannelSet (sidechainChannels).getDescription().toStdString() : std::string())
                              + (channels == 1 ? " (the plugin does not accept mono)" : ""));

        for (const auto& [id, text] : o.settings)
        {
            auto* parameter = findParameter (plugin, id);
            if (parameter == nullptr)
                throw UsageError ("unknown parameter '" + id.toStdString() + "' (known: " + knownParameters (plugin).toStdString() + ")");
            const float normalised = juce::jlimit (0.0f, 1.0f, parameter->getValueForText (text));
            parameter->setValue (normalised);
            if (k == 0)
                parametersReport->setProperty (id, juce::String (normalised) + " (" + parameter->getText (normalised, 64) + ")");
        }

        plugin.prepareToPlay (sampleRate, maxBlock);
        if (! o.settings.empty())
        {
            // VST3 delivers parameter changes with process(): one silent block hands them over,
            // reset() then clears the stream and re-prepares, so playback starts at the values.
            juce::AudioBuffer<float> silence (std::max (plugin.getTotalNumInputChannels(), plugin.getTotalNumOutputChannels()), std::min (maxBlock, 64));
            silence.clear();
            juce::MidiBuffer midi;
            plugin.processBlock (silence, midi);
            plugin.reset();
        }
        pumpUntilLatencySettles (plugin);

        const int numChannels = std::max (plugin.getTotalNumInputChannels(), plugin.getTotalNumOutputChannels());
        instance.channelData.assign ((size_t) numChannels, std::vector<float> ((size_t) maxBlock, 0.0f));
        for (auto& data : instance.channelData)
            instance.channelPointers.push_back (data.data());
    }

    auto& first = *instances.front().plugin;
    const int latencyAtPrepare = first.getLatencySamples();
    const int totalSamples = inputSamples + std::max (0, latencyAtPrepare);

    // The whole stream, zero-padded by the latency, and the block schedule.
    juce::AudioBuffer<float> source (channels, totalSamples);
    source.clear();
    for (int ch = 0; ch < channels; ++ch)
        source.copyFrom (ch, 0, input, ch, 0, inputSamples);
    juce::AudioBuffer<float> sidechain (sidechainChannels, totalSamples);
    sidechain.clear();
    for (int ch = 0; ch < sidechainChannels; ++ch)
        sidechain.copyFrom (ch, 0, sidechainFile, ch, 0, std::min (totalSamples, sidechainFile.getNumSamples()));
    juce::AudioBuffer<float> output (channels, totalSamples);
    output.clear();

    std::vector<int> blockStart, blockLength;
    for (int position = 0, k = 0; position < totalSamples; ++k)
    {
        const int n = std::min (o.blockPattern[(size_t) k % o.blockPattern.size()], totalSamples - position);
        blockStart.push_back (position);
        blockLength.push_back (n);
        position += n;
    }
    const size_t numBlocks = blockStart.size();
    std::vector<double> callbackUs, processUs;
    callbackUs.reserve (numBlocks);
    processUs.reserve (numBlocks * instances.size());
    int overBudget = 0, late = 0;
    const bool paced = o.realtime && o.pace > 0.0;
    std::uint64_t allocations = 0, frees = 0;
    juce::String scheduling;
    std::atomic<bool> finished { false };
    std::atomic<int> audioPosition { 0 };
    // Timed events are checked up front, so a typo fails before playback, not during it.
    struct Change
    {
        juce::AudioProcessorParameter* parameter = nullptr; // null: a state load
        float normalised = 0.0f;
        juce::MemoryBlock state;
    };
    std::vector<Change> changes;
    for (const auto& event : o.events)
    {
        Change change;
        if (event.stateFile.isNotEmpty())
            change.state = hostStateFromFile (event.stateFile);
        else if ((change.parameter = findParameter (first, event.parameter)) != nullptr)
            change.normalised = juce::jlimit (0.0f, 1.0f, change.parameter->getValueForText (event.value));
        else
            throw UsageError ("unknown parameter '" + event.parameter.toStdString() + "' in --at");
        changes.push_back (std::move (change));
    }

    std::thread audioThread ([&] {
        scheduling = tryRealtimePriority();
        juce::MidiBuffer midi;
        const auto start = Clock::now();
        auto deadline = [&] (int position) {
            return start + std::chrono::duration_cast<Clock::duration> (std::chrono::duration<double> ((double) position / sampleRate * o.pace));
        };
        const auto allocationsBefore = timbrel_rt::countedAllocations();
        const auto freesBefore = timbrel_rt::countedFrees();

        for (size_t k = 0; k < numBlocks; ++k)
        {
            const int position = blockStart[k], n = blockLength[k];
            if (paced)
                std::this_thread::sleep_until (deadline (position));
            const bool timed = k >= (size_t) o.warmupBlocks;

            const auto callbackStart = Clock::now();
            for (auto& instance : instances)
            {
                for (int ch = 0; ch < channels; ++ch)
                    std::copy_n (source.getReadPointer (ch, position), n, instance.channelPointers[(size_t) ch]);
                for (int ch = 0; ch < sidechainChannels; ++ch)
                    std::copy_n (sidechain.getReadPointer (ch, position), n, instance.channelPointers[(size_t) (channels + ch)]);
                for (size_t ch = (size_t) (channels + sidechainChannels); ch < instance.channelPointers.size(); ++ch)
                    std::fill_n (instance.channelPointers[ch], n, 0.0f);
                juce::AudioBuffer<float> block (instance.channelPointers.data(), (int) instance.channelPointers.size(), n);

                const auto t0 = Clock::now();
                if (timed)
                {
                    timbrel_rt::ScopedAllocationCounting counting;
                    instance.plugin->processBlock (block, midi);
                }
                else
                    instance.plugin->processBlock (block, midi);
                const auto t1 = Clock::now();
                if (timed)
                    processUs.push_back (std::chrono::duration<double, std::micro> (t1 - t0).count());
            }
            const auto callbackEnd = Clock::now();

            for (int ch = 0; ch < channels; ++ch)
                std::copy_n (instances.front().channelPointers[(size_t) ch], n, output.getWritePointer (ch, position));
            audioPosition.store (position + n, std::memory_order_release);

            if (timed)
            {
                const double us = std::chrono::duration<double, std::micro> (callbackEnd - callbackStart).count();
                callbackUs.push_back (us);
                if (us > (double) n / sampleRate * 1.0e6)
                    ++overBudget;
                if (paced && callbackEnd > deadline (position + n))
                    ++late;
            }
        }
        allocations = timbrel_rt::countedAllocations() - allocationsBefore;
        frees = timbrel_rt::countedFrees() - freesBefore;
        finished.store (true);
    });

    // The message thread stays alive while the audio thread runs, as in a real host, and
    // applies the timed events (instance 0) once the audio has passed their time.
    juce::Array<juce::var> eventsApplied;
    size_t nextEvent = 0;
    while (! finished.load())
    {
        pumpMessages (5);
        while (nextEvent < o.events.size() && audioPosition.load (std::memory_order_acquire) >= o.events[nextEvent].seconds * sampleRate)
        {
            const auto& change = changes[nextEvent];
            if (change.parameter != nullptr)
                change.parameter->setValueNotifyingHost (change.normalised);
            else
                first.setStateInformation (change.state.getData(), (int) change.state.getSize());
            eventsApplied.add ((double) audioPosition.load() / sampleRate);
            ++nextEvent;
        }
    }
    audioThread.join();
    pumpMessages (20);

    const int latency = first.getLatencySamples();
    const auto status = readStatus (first);

    // OUT.wav: instance 0's raw output, 32-bit float.
    {
        const juce::File file (juce::File::getCurrentWorkingDirectory().getChildFile (o.output));
        file.deleteFile();
        auto stream = std::make_unique<juce::FileOutputStream> (file);
        if (! stream->openedOk())
            throw UsageError ("cannot write " + file.getFullPathName().toStdString());
        juce::WavAudioFormat wav;
        std::unique_ptr<juce::AudioFormatWriter> writer (wav.createWriterFor (stream.get(), sampleRate, (unsigned int) channels, 32, {}, 0));
        if (writer == nullptr)
            throw UsageError ("cannot write a WAV file at " + file.getFullPathName().toStdString());
        stream.release(); // owned by the writer now
        if (! writer->writeFromAudioSampleBuffer (output, 0, totalSamples))
            throw UsageError ("cannot write " + file.getFullPathName().toStdString());
    }

    double patternSamples = 0.0;
    juce::Array<juce::var> blockSizes;
    for (int n : o.blockPattern)
    {
        blockSizes.add (n);
        patternSamples += n;
    }

    juce::DynamicObject::Ptr report (new juce::DynamicObject());
    report->setProperty ("plugin", pluginFile.getFullPathName());
    report->setProperty ("sample_rate", sampleRate);
    report->setProperty ("channels", channels);
    report->setProperty ("block_sizes", blockSizes);
    report->setProperty ("budget_us", patternSamples / (double) o.blockPattern.size() / sampleRate * 1.0e6);
    report->setProperty ("realtime", o.realtime);
    report->setProperty ("paced", paced);
    report->setProperty ("pace", o.realtime ? o.pace : 0.0);
    report->setProperty ("instances", o.instances);
    report->setProperty ("sidechain_channels", sidechainChannels);
    report->setProperty ("latency_samples", latency);
    report->setProperty ("latency_samples_at_prepare", latencyAtPrepare);
    report->setProperty ("input_samples", inputSamples);
    report->setProperty ("output_samples", totalSamples);
    report->setProperty ("blocks", (int) numBlocks);
    report->setProperty ("warmup_blocks", (int) std::min<size_t> ((size_t) o.warmupBlocks, numBlocks));
    report->setProperty ("timed_blocks", (int) callbackUs.size());
    report->setProperty ("callback_us", summarise (callbackUs));
    report->setProperty ("process_us", summarise (processUs));
    report->setProperty ("over_budget_blocks", overBudget);
    report->setProperty ("late_blocks", late);
    report->setProperty ("audio_thread_scheduling", scheduling);
    report->setProperty ("audio_thread_allocations", (juce::int64) allocations);
    report->setProperty ("audio_thread_frees", (juce::int64) frees);
    report->setProperty ("parameters", juce::var (parametersReport.get()));
    report->setProperty ("status", status);
    report->setProperty ("events_applied_at_seconds", eventsApplied);

    const juce::File reportFile (juce::File::getCurrentWorkingDirectory().getChildFile (o.report));
    if (! reportFile.replaceWithText (juce::JSON::toString (juce::var (report.get())) + "\n"))
        throw UsageError ("cannot write " + reportFile.getFullPathName().toStdString());

    for (auto& instance : instances)
        instance.plugin->releaseResources();
    instances.clear();
    return 0;
}
} // namespace

int main (int argc, char** argv)
{
    try
    {
        const auto options = parseArguments (argc, argv);
        if (options.selfTest)
            return runAllocationSelfTest();
        return runHost (options);
    }
    catch (const UsageError& e)
    {
        std::fprintf (stderr, "timbrel_rt_host: error: %s\n", e.what());
        return 2;
    }
    catch (const std::exception& e)
    {
        std::fprintf (stderr, "timbrel_rt_host: error: %s\n", e.what());
        return 1;
    }
}
