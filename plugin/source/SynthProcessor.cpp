#include "SynthProcessor.h"

#include "ModelLocator.h"
#include "SynthEditor.h"

#include <timbrel/Timbres.h>

#include <chrono>

namespace timbrel
{
namespace
{
juce::ParameterID id (const char* name) { return { name, 1 }; }

std::unique_ptr<juce::AudioParameterFloat> floatParameter (const char* name, const char* label, float low, float high,
                                                           float value, const char* unit, float skewCentre = 0.0f)
{
    juce::NormalisableRange<float> range (low, high);
    if (skewCentre > 0.0f)
        range.setSkewForCentre (skewCentre);
    return std::make_unique<juce::AudioParameterFloat> (id (name), label, range, value,
                                                        juce::AudioParameterFloatAttributes().withLabel (unit));
}

float value (const std::atomic<float>* parameter) { return parameter->load (std::memory_order_relaxed); }

/** The editor's description of a loaded model (loader thread). */
SynthProcessor::ModelView describe (const ModelInfo& info, const juce::String& reference, int latency, const std::string& naturalNote)
{
    SynthProcessor::ModelView view;
    view.hasModel = true;
    view.reference = reference;
    view.name = juce::String (info.modelName);
    const auto card = juce::JSON::parse (juce::String (info.modelCard));
    view.instrument = card.getProperty ("instrument", {}).toString();
    view.description = card.getProperty ("description", {}).toString();
    view.modelRate = info.sampleRate;
    view.hop = info.hopLength;
    view.latencySamples = latency;
    if (const auto pitch = info.descriptorIndex ("pitch"))
    {
        view.hasPitchRange = true;
        view.pitchMin = info.descriptorMin[static_cast<size_t> (*pitch)];
        view.pitchMax = info.descriptorMax[static_cast<size_t> (*pitch)];
    }
    view.naturalNote = juce::String (naturalNote);
    const auto latents = static_cast<size_t> (info.latentSize);
    for (size_t t = 0; t < info.timbreNames.size(); ++t)
    {
        view.timbreNames.add (juce::String (info.timbreNames[t]));
        if (! info.latentComponents.empty() && info.timbreLatents.size() >= (t + 1) * latents)
        {
            const auto xy = principalCoordinates (info, info.timbreLatents.data() + t * latents);
            view.timbreMap.push_back ({ xy[0], xy[1] });
        }
    }
    return view;
}
} // namespace

juce::AudioProcessorValueTreeState::ParameterLayout SynthProcessor::createLayout()
{
    juce::AudioProcessorValueTreeState::ParameterLayout layout;
    layout.add (std::make_unique<juce::AudioParameterInt> (id ("polyphony"), "Polyphony", 1, VoiceBank::kMaxVoices, 8));
    layout.add (std::make_unique<juce::AudioParameterBool> (id ("mono"), "Mono Legato", false));
    // As the effect's: Threaded runs the model on a worker (no allocation on the audio thread),
    // Inline in the callback with a hop and a block less latency. Added in version 2.
    layout.add (std::make_unique<juce::AudioParameterChoice> (juce::ParameterID { "processing_mode", 2 }, "Processing Mode",
                                                              juce::StringArray { "Threaded", "Inline" }, 0));
    layout.add (floatParameter ("glide", "Glide", 0.0f, 2.0f, 0.08f, "s", 0.2f));
    layout.add (floatParameter ("bend_range", "Bend Range", 0.0f, 48.0f, 2.0f, "st"));
    layout.add (floatParameter ("vibrato_rate", "Vibrato Rate", 0.5f, 12.0f, 5.5f, "Hz"));
    layout.add (floatParameter ("vibrato_depth", "Vibrato Depth", 0.0f, 2.0f, 0.0f, "st"));
    layout.add (floatParameter ("vibrato_delay", "Vibrato Delay", 0.0f, 2.0f, 0.3f, "s"));
    layout.add (floatParameter ("attack", "Attack", 0.0f, 5.0f, 0.02f, "s", 0.3f));
    layout.add (floatParameter ("decay", "Decay", 0.0f, 10.0f, 0.3f, "s", 0.5f));
    layout.add (floatParameter ("sustain", "Sustain", -48.0f, 0.0f, -6.0f, "dB"));
    layout.add (floatParameter ("release", "Release", 0.01f, 10.0f, 0.3f, "s", 0.5f));
    layout.add (floatParameter ("velocity_range", "Velocity Range", 0.0f, 48.0f, 24.0f, "dB"));
    layout.add (floatParameter ("pressure_range", "Pressure Range", 0.0f, 24.0f, 12.0f, "dB"));
    // The effect's descriptor faders keep their meaning: a shift of what the performance forms.
    layout.add (floatParameter ("pitch_shift", "Pitch Shift", -24.0f, 24.0f, 0.0f, "st"));
    layout.add (floatParameter ("loudness_shift", "Loudness Shift", -24.0f, 24.0f, 0.0f, "dB"));
    layout.add (floatParameter ("centroid_shift", "Centroid Shift", -3.0f, 3.0f, 0.0f, "oct"));
    layout.add (floatParameter ("bandwidth_shift", "Bandwidth Shift", -3.0f, 3.0f, 0.0f, "oct"));
    layout.add (floatParameter ("flatness_shift", "Flatness Shift", -30.0f, 30.0f, 0.0f, "dB"));
    // The timbre: two of the model's named timbres (by number, in the model's order) and a morph.
    layout.add (std::make_unique<juce::AudioParameterInt> (id ("timbre_a"), "Timbre A", 1, 64, 1));
    layout.add (std::make_unique<juce::AudioParameterInt> (id ("timbre_b"), "Timbre B", 1, 64, 1));
    layout.add (floatParameter ("morph", "Morph", -0.5f, 1.5f, 0.0f, ""));
    layout.add (floatParameter ("output_gain", "Output Gain", -48.0f, 12.0f, 0.0f, "dB"));
    return layout;
}

SynthProcessor::SynthProcessor()
    : AudioProcessor (BusesProperties().withOutput ("Output", juce::AudioChannelSet::stereo(), true)),
      parameters (*this, nullptr, "TimbrelSynth", createLayout())
{
    auto rawValue = [this] (const char* name) { return parameters.getRawParameterValue (name); };
    raw.polyphony = rawValue ("polyphony");
    raw.mono = rawValue ("mono");
    raw.processingMode = rawValue ("processing_mode");
    raw.glide = rawValue ("glide");
    raw.bendRange = rawValue ("bend_range");
    raw.vibratoRate = rawValue ("vibrato_rate");
    raw.vibratoDepth = rawValue ("vibrato_depth");
    raw.vibratoDelay = rawValue ("vibrato_delay");
    raw.attack = rawValue ("attack");
    raw.decay = rawValue ("decay");
    raw.sustain = rawValue ("sustain");
    raw.release = rawValue ("release");
    raw.velocityRange = rawValue ("velocity_range");
    raw.pressureRange = rawValue ("pressure_range");
    raw.pitchShift = rawValue ("pitch_shift");
    raw.loudnessShift = rawValue ("loudness_shift");
    raw.spectralShift = { rawValue ("centroid_shift"), rawValue ("bandwidth_shift"), rawValue ("flatness_shift") };
    raw.timbreA = rawValue ("timbre_a");
    raw.timbreB = rawValue ("timbre_b");
    raw.morph = rawValue ("morph");
    raw.outputGain = rawValue ("output_gain");
    events.reserve (4096);
    keyboardState.addListener (this);
    loader = std::thread ([this] { loaderLoop(); });
    modelReference = ModelLocator::defaultReference();
    startTimerHz (10);
}

SynthProcessor::~SynthProcessor()
{
    stopTimer();
    keyboardState.removeListener (this);
    {
        const std::lock_guard lock (loaderMutex);
        stopping = true;
    }
    loaderWake.notify_all();
    loader.join();
    delete pending.exchange (nullptr);
    delete current;
    delete unretired;
    for (auto& slot : retired)
        delete slot.exchange (nullptr);
}

bool SynthProcessor::isBusesLayoutSupported (const BusesLayout& layouts) const
{
    const auto out = layouts.getMainOutputChannelSet();
    return layouts.inputBuses.isEmpty() && (out == juce::AudioChannelSet::mono() || out == juce::AudioChannelSet::stereo());
}

VoiceSettings SynthProcessor::voiceSettings() const
{
    VoiceSettings s;
    s.polyphony = static_cast<int> (value (raw.polyphony));
    s.mono = value (raw.mono) >= 0.5f;
    s.glideSeconds = value (raw.glide);
    s.bendRange = value (raw.bendRange);
    s.vibratoRate = value (raw.vibratoRate);
    s.vibratoDepth = value (raw.vibratoDepth);
    s.vibratoDelay = value (raw.vibratoDelay);
    s.attackSeconds = value (raw.attack);
    s.decaySeconds = value (raw.decay);
    s.sustainDb = value (raw.sustain);
    s.releaseSeconds = value (raw.release);
    s.velocityRangeDb = value (raw.velocityRange);
    s.pressureRangeDb = value (raw.pressureRange);
    return s;
}

double SynthProcessor::getTailLengthSeconds() const { return value (raw.release); }

void SynthProcessor::prepareToPlay (double sampleRate, int maximumExpectedSamplesPerBlock)
{
    fadeScratch.assign (static_cast<size_t> (std::max (1, maximumExpectedSamplesPerBlock)), 0.0f);
    bool changed = false;
    juce::String reference;
    {
        const std::lock_guard lock (loaderMutex);
        changed = sampleRate != preparedRate || maximumExpectedSamplesPerBlock > preparedBlock;
        preparedRate = sampleRate;
        preparedBlock = std::max (preparedBlock, maximumExpectedSamplesPerBlock);
        reference = modelReference;
    }
    // An offline host (pedalboard, DawDreamer, a bounce) renders at once: the model is ready
    // before the first block, never silently missing.
    if (changed)
        request (reference, isNonRealtime(), nullptr);
}

juce::String SynthProcessor::loadModel (const juce::String& reference, bool wait)
{
    juce::String error;
    request (reference, wait, &error);
    return error;
}

void SynthProcessor::request (const juce::String& reference, bool wait, juce::String* error)
{
    std::unique_lock lock (loaderMutex);
    modelReference = reference;
    if (preparedRate <= 0.0)
        return; // prepareToPlay will ask, at the host's rate
    if (! queued)
        loadsPending.fetch_add (1);
    Request r;
    r.reference = reference;
    r.sampleRate = preparedRate;
    r.blockSize = preparedBlock;
    r.voices = voiceSettings();
    r.threaded = threadedWanted();
    r.ticket = nextTicket++;
    structuralPolyphony = r.voices.polyphony;
    structuralMono = r.voices.mono ? 1 : 0;
    structuralThreaded = r.threaded ? 1 : 0;
    queued = r;
    loaderWake.notify_all();
    if (wait)
    {
        loaderDone.wait (lock, [&] { return servedTicket >= r.ticket || stopping; });
        if (error != nullptr)
            *error = servedError;
    }
}

void SynthProcessor::loaderLoop()
{
    for (;;)
    {
        Request r;
        {
            std::unique_lock lock (loaderMutex);
            loaderWake.wait (lock, [this] { return stopping || queued.has_value(); });
            if (stopping)
                return;
            r = *queued;
            queued.reset();
        }
        juce::String error;
        auto playing = std::make_unique<Playing>();
        playing->reference = r.reference;
        const auto file = ModelLocator::resolve (r.reference);
        if (! file.existsAsFile())
            error = "no model named '" + r.reference + "' (searched " + ModelLocator::searchFolders()[0].getFullPathName() + " and others)";
        else if (auto loaded = Model::load (file.getFullPathName().toStdString()); ! loaded)
            error = "could not load '" + r.reference + "': " + loaded.error;
        else
        {
            playing->engine = std::make_unique<SynthEngine> (std::move (loaded.model));
            SynthConfig config;
            config.sampleRate = r.sampleRate;
            config.maxBlockSize = r.blockSize;
            config.voices = r.voices;
            config.threaded = r.threaded;
            if (auto problem = playing->engine->prepare (config); ! problem.empty())
                error = "'" + r.reference + "' cannot play notes: " + problem;
            else
                playing->latent.assign (static_cast<size_t> (playing->engine->info().latentSize), 0.0f);
        }
        juce::String name, timbres;
        ModelView view;
        if (error.isEmpty())
        {
            const auto& info = playing->engine->info();
            view = describe (info, r.reference, playing->engine->latencySamples(), playing->engine->naturalNote());
            name = info.modelName;
            for (const auto& timbre : playing->engine->info().timbreNames)
                timbres << (timbres.isEmpty() ? "" : "|") << juce::String (timbre);
            setLatencySamples (playing->engine->latencySamples());
            latestLatency.store (playing->engine->latencySamples());
            latestVoices.store (playing->engine->polyphony());
            delete pending.exchange (playing.release()); // one the audio thread never picked up
        }
        {
            const std::lock_guard lock (loaderMutex);
            statusMessage = error.isEmpty() ? juce::String() : error + "; the synth is silent";
            if (error.isEmpty())
            {
                playingName = name;
                playingTimbres = timbres;
                playingView = std::move (view);
            }
            servedError = error;
            servedTicket = r.ticket;
            if (! queued)
                loadsPending.store (0);
        }
        generation.fetch_add (1);
        loaderDone.notify_all();
    }
}

SynthControls SynthProcessor::blockControls (Playing& playing) const
{
    SynthControls controls;
    controls.pitchShift = value (raw.pitchShift);
    controls.loudnessShift = value (raw.loudnessShift);
    for (size_t s = 0; s < 3; ++s)
        controls.spectralShift[s] = value (raw.spectralShift[s]);
    controls.outputGainDb = value (raw.outputGain);
    const auto& info = playing.engine->info();
    const int count = static_cast<int> (info.timbreNames.size()), latents = info.latentSize;
    if (count > 0 && ! playing.latent.empty())
    {
        const int a = std::clamp (static_cast<int> (value (raw.timbreA)), 1, count) - 1;
        const int b = std::clamp (static_cast<int> (value (raw.timbreB)), 1, count) - 1;
        const float morph = value (raw.morph);
        for (int i = 0; i < latents; ++i)
        {
            const float za = info.timbreLatents[static_cast<size_t> (a * latents + i)];
            const float zb = info.timbreLatents[static_cast<size_t> (b * latents + i)];
            playing.latent[static_cast<size_t> (i)] = za + morph * (zb - za);
        }
        controls.latent = playing.latent.data();
    }
    return controls;
}

void SynthProcessor::processBlock (juce::AudioBuffer<float>& buffer, juce::MidiBuffer& midi)
{
    juce::ScopedNoDenormals noDenormals;
    const int n = buffer.getNumSamples(), channels = buffer.getNumChannels();
    buffer.clear();

    if (isNonRealtime()) // offline: the model a state or prepareToPlay asked for plays from this block
        for (int waited = 0; loadsPending.load() > 0 && waited < 120000; ++waited)
            std::this_thread::sleep_for (std::chrono::milliseconds (1));

    Playing* outgoing = nullptr;
    if (auto* next = pending.exchange (nullptr))
    {
        outgoing = current;
        current = next;
        liveEngine.store (current->engine.get(), std::memory_order_release); // before `outgoing` is retired
    }
    if (resetRequested.exchange (false))
    {
        keys.reset();
        if (current != nullptr)
            current->engine->requestReset(); // never waits: Threaded, the worker finishes first
    }
    const bool offline = isNonRealtime();

    // The outgoing model's notes fade out over this block (no new events reach it); it is
    // deleted on the message thread.
    if (outgoing != nullptr && n <= static_cast<int> (fadeScratch.size()))
    {
        float* scratch[1] = { fadeScratch.data() };
        outgoing->engine->setNonRealtime (offline);
        outgoing->engine->process (scratch, 1, n, nullptr, 0, blockControls (*outgoing));
        for (int i = 0; i < n; ++i)
            fadeScratch[static_cast<size_t> (i)] *= 1.0f - static_cast<float> (i + 1) / static_cast<float> (n);
    }
    auto retire = [this] (Playing*& playing) {
        for (auto& slot : retired)
        {
            Playing* empty = nullptr;
            if (playing != nullptr && slot.compare_exchange_strong (empty, playing))
                playing = nullptr;
        }
    };
    retire (unretired);
    if (outgoing != nullptr && unretired == nullptr)
    {
        unretired = outgoing;
        retire (unretired);
    }

    events.clear();
    // The on-screen keyboard's notes first, at the block's start (events stay sorted by offset).
    keyboardFifo.read (keyboardFifo.getNumReady()).forEach ([this] (int index) {
        events.push_back (keyboardEvents[static_cast<size_t> (index)]);
    });

    if (current == nullptr)
    {
        midi.clear();
        keys.reset();
        publishKeys();
        return;
    }

    for (const auto metadata : midi)
    {
        if (events.size() == events.capacity())
            break; // more than 4096 events in one block: the rest are dropped, not allocated for
        const auto m = metadata.getMessage();
        SynthEvent e;
        e.sampleOffset = std::clamp (metadata.samplePosition, 0, std::max (0, n - 1));
        e.channel = m.getChannel();
        if (m.isNoteOn())
        {
            e.kind = SynthEvent::Kind::noteOn;
            e.number = m.getNoteNumber();
            e.value = m.getFloatVelocity();
        }
        else if (m.isNoteOff())
        {
            e.kind = SynthEvent::Kind::noteOff;
            e.number = m.getNoteNumber();
        }
        else if (m.isPitchWheel())
        {
            e.kind = SynthEvent::Kind::pitchBend;
            e.value = static_cast<float> (m.getPitchWheelValue() - 8192) / 8192.0f;
        }
        else if (m.isChannelPressure())
        {
            e.kind = SynthEvent::Kind::channelPressure;
            e.value = static_cast<float> (m.getChannelPressureValue()) / 127.0f;
        }
        else if (m.isAftertouch())
        {
            e.kind = SynthEvent::Kind::polyPressure;
            e.number = m.getNoteNumber();
            e.value = static_cast<float> (m.getAfterTouchValue()) / 127.0f;
        }
        else if (m.isController())
        {
            e.kind = SynthEvent::Kind::controller;
            e.number = m.getControllerNumber();
            e.value = static_cast<float> (m.getControllerValue()) / 127.0f;
        }
        else
            continue;
        events.push_back (e);
    }
    midi.clear();
    for (const auto& e : events)
        noteKeys (e);
    publishKeys();

    auto& engine = *current->engine;
    engine.setVoiceShape (voiceSettings());
    engine.setNonRealtime (offline);
    const auto controls = blockControls (*current);
    std::array<float*, 2> outputs { buffer.getWritePointer (0), channels > 1 ? buffer.getWritePointer (1) : nullptr };
    engine.process (outputs.data(), channels, n, events.data(), static_cast<int> (events.size()), controls);
    if (outgoing != nullptr && n <= static_cast<int> (fadeScratch.size()))
        for (int ch = 0; ch < channels; ++ch)
            juce::FloatVectorOperations::add (buffer.getWritePointer (ch), fadeScratch.data(), n);
    latestSounding.store (engine.soundingVoices(), std::memory_order_relaxed);
    latestUnderruns.store (engine.underruns(), std::memory_order_relaxed);
    latestVoices.store (engine.polyphony(), std::memory_order_relaxed);
    latestClamped.store (engine.clampedNotes(), std::memory_order_relaxed);
}

void SynthProcessor::noteKeys (const SynthEvent& e)
{
    const bool inRange = e.number >= 0 && e.number < 128;
    if (e.kind == SynthEvent::Kind::noteOn && inRange)
        keys.set (static_cast<size_t> (e.number), e.value > 0.0f);
    else if (e.kind == SynthEvent::Kind::noteOff && inRange)
        keys.reset (static_cast<size_t> (e.number));
    else if (e.kind == SynthEvent::Kind::controller && (e.number == 120 || e.number == 123))
        keys.reset(); // all sound off, all notes off
}

void SynthProcessor::publishKeys()
{
    for (size_t word = 0; word < publishedKeys.size(); ++word)
    {
        uint32_t bits = 0;
        for (size_t b = 0; b < 32; ++b)
            bits |= keys[word * 32 + b] ? (1u << b) : 0u;
        publishedKeys[word].store (bits, std::memory_order_relaxed);
    }
}

SynthProcessor::VoiceActivity SynthProcessor::voiceActivity() const
{
    VoiceActivity activity;
    activity.sounding = latestSounding.load (std::memory_order_relaxed);
    activity.polyphony = latestVoices.load (std::memory_order_relaxed);
    activity.clampedNotes = latestClamped.load (std::memory_order_relaxed);
    for (size_t word = 0; word < publishedKeys.size(); ++word)
    {
        const uint32_t bits = publishedKeys[word].load (std::memory_order_relaxed);
        for (size_t b = 0; b < 32; ++b)
            activity.keysDown[word * 32 + b] = (bits >> b) & 1u;
    }
    return activity;
}

SynthProcessor::ModelView SynthProcessor::describeModel() const
{
    const std::lock_guard lock (loaderMutex);
    return playingView;
}

void SynthProcessor::pushKeyboardEvent (const SynthEvent& event)
{
    // One writer (the message thread, where the keyboard plays); a full queue drops the note.
    const auto scope = keyboardFifo.write (1);
    scope.forEach ([&] (int index) { keyboardEvents[static_cast<size_t> (index)] = event; });
}

void SynthProcessor::handleNoteOn (juce::MidiKeyboardState*, int channel, int note, float velocity)
{
    SynthEvent e;
    e.kind = SynthEvent::Kind::noteOn;
    e.channel = channel;
    e.number = note;
    e.value = velocity;
    pushKeyboardEvent (e);
}

void SynthProcessor::handleNoteOff (juce::MidiKeyboardState*, int channel, int note, float)
{
    SynthEvent e;
    e.kind = SynthEvent::Kind::noteOff;
    e.channel = channel;
    e.number = note;
    pushKeyboardEvent (e);
}

bool SynthProcessor::threadedWanted() const { return value (raw.processingMode) < 0.5f; }

void SynthProcessor::collectRetired()
{
    const std::lock_guard lock (retireMutex);
    for (auto& slot : retired)
        delete slot.exchange (nullptr);
}

void SynthProcessor::timerCallback()
{
    collectRetired();
    // Polyphony and mono size the model's batch: a change rebuilds the engine beside the playing one.
    const int polyphony = static_cast<int> (value (raw.polyphony));
    const int mono = value (raw.mono) >= 0.5f ? 1 : 0;
    const int threaded = threadedWanted() ? 1 : 0;
    juce::String reference;
    bool rebuild = false;
    {
        const std::lock_guard lock (loaderMutex);
        rebuild = preparedRate > 0.0 && (polyphony != structuralPolyphony || mono != structuralMono
                                          || threaded != structuralThreaded);
        reference = modelReference;
    }
    if (rebuild)
        request (reference, false, nullptr);
}

juce::String SynthProcessor::getStatusMessage() const
{
    const std::lock_guard lock (loaderMutex);
    if (loadsPending.load() > 0)
        return "loading '" + modelReference + "'";
    return statusMessage;
}

void SynthProcessor::getStateInformation (juce::MemoryBlock& destData)
{
    auto state = parameters.copyState();
    juce::String reference;
    {
        const std::lock_guard lock (loaderMutex);
        reference = modelReference;
    }
    state.setProperty ("model", reference, nullptr);
    juce::ValueTree status ("Status");
    status.setProperty ("message", getStatusMessage(), nullptr);
    status.setProperty ("loading", isLoading(), nullptr);
    status.setProperty ("latency", latestLatency.load(), nullptr);
    status.setProperty ("voices", latestVoices.load(), nullptr);
    status.setProperty ("sounding", latestSounding.load(), nullptr);
    status.setProperty ("underruns", latestUnderruns.load(), nullptr);
    // Every hop handed to the worker is decoded: a host of the project's own can step in
    // lockstep with it (timbrel_rt_host --lockstep).
    {
        const std::lock_guard lock (retireMutex);
        const auto* engine = liveEngine.load (std::memory_order_acquire);
        status.setProperty ("workerIdle", engine == nullptr || engine->workerIdle(), nullptr);
    }
    {
        const std::lock_guard lock (loaderMutex);
        status.setProperty ("modelName", playingName, nullptr);
        status.setProperty ("timbres", playingTimbres, nullptr); // named timbres, "|" between: Timbre A/B count from 1
    }
    state.removeChild (state.getChildWithName ("Status"), nullptr);
    state.appendChild (status, nullptr);
    if (auto xml = state.createXml())
        copyXmlToBinary (*xml, destData);
}

void SynthProcessor::setStateInformation (const void* data, int sizeInBytes)
{
    auto xml = getXmlFromBinary (data, sizeInBytes);
    if (xml == nullptr || ! xml->hasTagName (parameters.state.getType()))
        return; // not ours (or damaged): keep what plays
    auto state = juce::ValueTree::fromXml (*xml);
    state.removeChild (state.getChildWithName ("Status"), nullptr);
    const juce::String reference = state.getProperty ("model", ModelLocator::defaultReference());
    parameters.replaceState (state);
    request (reference, false, nullptr);
}

juce::AudioProcessorEditor* SynthProcessor::createEditor() { return new SynthEditor (*this); }
} // namespace timbrel

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter() { return new timbrel::SynthProcessor(); }
