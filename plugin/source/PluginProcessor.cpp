#include "PluginProcessor.h"

#include "ModelLocator.h"
#include "PluginEditor.h"

#include <timbrel/EngineBuilder.h>
#include <timbrel/Timbres.h>

#include <algorithm>
#include <cmath>

namespace timbrel
{
namespace
{
const juce::Identifier kStateType { "Timbrel" };
const juce::Identifier kModelNode { "Model" };
const juce::Identifier kStatusNode { "Status" };
const juce::Identifier kReference { "reference" };
const juce::Identifier kLatencyOverride { "latencyOverride" }; // model samples; absent: the model's own
const juce::Identifier kTimbreNode { "Timbre" };     // the snapshots A and B (docs/plugin-state.md)
const juce::Identifier kSnapshotNode { "Snapshot" };
const juce::Identifier kSlot { "slot" };             // "A" or "B"
const juce::Identifier kName { "name" };
const juce::Identifier kCaptured { "captured" };
const juce::Identifier kFromModel { "model" };
const juce::Identifier kLatent { "latent" };         // the values, space-separated
const char* const kSlotNames[TimbreSlots::kNumSlots] = { "A", "B" };

std::vector<float> timbreRow (const ModelInfo& info, size_t index)
{
    const auto size = static_cast<size_t> (info.latentSize);
    const auto* row = info.timbreLatents.data() + index * size;
    return { row, row + size };
}

/** A latent's place on the timbre map (the engine's principalCoordinates). */
juce::Point<float> onMap (const ModelInfo& info, const std::vector<float>& latent)
{
    if (latent.size() < static_cast<size_t> (std::max (0, info.latentSize)))
        return {};
    const auto [x, y] = principalCoordinates (info, latent.data());
    return { x, y };
}

int choiceIndex (const std::atomic<float>* value) { return static_cast<int> (std::lround (value->load())); }
} // namespace

juce::AudioProcessor::BusesProperties TimbrelProcessor::busLayout()
{
    return BusesProperties()
        .withInput ("Input", juce::AudioChannelSet::stereo(), true)
        .withOutput ("Output", juce::AudioChannelSet::stereo(), true)
        .withInput ("Sidechain", juce::AudioChannelSet::stereo(), false);
}

TimbrelProcessor::TimbrelProcessor()
    : AudioProcessor (busLayout()), parameters (*this, nullptr, kStateType, params::createLayout())
{
    auto& r = parameterRefs;
    r.mix = parameters.getRawParameterValue (params::mix);
    r.outputGain = parameters.getRawParameterValue (params::outputGain);
    r.bypass = parameters.getRawParameterValue (params::bypass);
    r.processingMode = parameters.getRawParameterValue (params::processingMode);
    r.stereoMode = parameters.getRawParameterValue (params::stereoMode);
    r.threadedMargin = parameters.getRawParameterValue (params::threadedMargin);
    r.generate = parameters.getRawParameterValue (params::generate);
    r.temperature = parameters.getRawParameterValue (params::temperature);
    r.timbreSource = parameters.getRawParameterValue (params::timbreSource);
    r.morph = parameters.getRawParameterValue (params::morph);
    r.variation = parameters.getRawParameterValue (params::variation);
    r.midiOut = parameters.getRawParameterValue (params::midiOut);
    r.midiBendRange = parameters.getRawParameterValue (params::midiBendRange);
    r.midiGate = parameters.getRawParameterValue (params::midiGate);
    for (size_t s = 0; s < static_cast<size_t> (kNumFaderSlots); ++s)
    {
        const auto& slot = faderSlots()[s];
        r.source[s] = parameters.getRawParameterValue (params::sourceId (slot));
        r.shift[s] = parameters.getRawParameterValue (params::shiftId (slot));
        r.fixed[s] = parameters.getRawParameterValue (params::fixedId (slot));
    }
    for (int i = 0; i < kNumLatentControls; ++i)
    {
        r.latentOffset[static_cast<size_t> (i)] = parameters.getRawParameterValue (params::latentOffsetId (i));
        r.latentScale[static_cast<size_t> (i)] = parameters.getRawParameterValue (params::latentScaleId (i));
    }
    bypassParameter = parameters.getParameter (params::bypass);

    // Hosts construct plugins on their UI thread (and while scanning): the default model loads
    // in the background. Offline renders wait for it (prepareToPlay, processBlock).
    loader = std::thread ([this] { loaderLoop(); });
    const auto defaultModel = ModelLocator::defaultReference();
    if (defaultModel.isNotEmpty())
        loadModel (defaultModel, false, true);
    else
        publishStatus ({}, "no models found (searched " + ModelLocator::searchFolders()[0].getFullPathName()
                               + " and the user models folder)", 0);
    startTimerHz (10);
}

TimbrelProcessor::~TimbrelProcessor()
{
    stopTimer();
    {
        const std::lock_guard lock (loadMutex);
        stopLoader = true;
        nextLoad.reset(); // a load under way finishes (TorchScript cannot be interrupted)
    }
    loadRequested.notify_all();
    loader.join();
}

bool TimbrelProcessor::isBusesLayoutSupported (const BusesLayout& layouts) const
{
    const auto& mainIn = layouts.getMainInputChannelSet();
    const auto& mainOut = layouts.getMainOutputChannelSet();
    if (mainIn != mainOut)
        return false;
    if (mainOut != juce::AudioChannelSet::mono() && mainOut != juce::AudioChannelSet::stereo())
        return false;
    if (layouts.inputBuses.size() > 1)
    {
        const auto& sidechain = layouts.getChannelSet (true, 1);
        if (! sidechain.isDisabled() && sidechain != juce::AudioChannelSet::mono() && sidechain != juce::AudioChannelSet::stereo())
            return false;
    }
    return true;
}

EngineConfig TimbrelProcessor::wantedConfig() const
{
    const std::lock_guard lock (stateMutex);
    return wantedConfigLocked();
}

EngineConfig TimbrelProcessor::wantedConfigLocked() const
{
    EngineConfig config = preparedConfig;
    config.mode = static_cast<ProcessingMode> (juce::jlimit (0, 1, choiceIndex (parameterRefs.processingMode)));
    config.stereo = static_cast<StereoMode> (juce::jlimit (0, 1, choiceIndex (parameterRefs.stereoMode)));
    const int marginChoice = juce::jlimit (0, static_cast<int> (kWorkerMarginHopChoices.size()) - 1,
                                           choiceIndex (parameterRefs.threadedMargin));
    config.workerMarginHops = kWorkerMarginHopChoices[static_cast<size_t> (marginChoice)];
    config.modelLatencyOverride = modelLatencyOverride;
    return config;
}

void TimbrelProcessor::prepareToPlay (double sampleRate, int maximumExpectedSamplesPerBlock)
{
    // An offline render after a state restore plays the model it names from the first sample.
    if (isNonRealtime())
        waitForLoads();

    EngineConfig config;
    config.sampleRate = sampleRate;
    config.maxBlockSize = std::max (1, maximumExpectedSamplesPerBlock);
    config.numChannels = getMainBusNumInputChannels();
    const auto* sidechainBus = getBusCount (true) > 1 ? getBus (true, 1) : nullptr;
    config.sidechainChannels = sidechainBus != nullptr && sidechainBus->isEnabled() ? sidechainBus->getNumberOfChannels() : 0;
    int latency = 0;
    {
        // Under stateMutex: the loader publishes and the meters read engines under it too, so
        // neither sees an engine between streams.
        const std::lock_guard lock (stateMutex);
        // Hosts such as pedalboard call this before every render with the same settings; keep
        // a larger block than asked so streaming state survives chunked processing.
        if (prepared && config.sampleRate == preparedConfig.sampleRate && config.numChannels == preparedConfig.numChannels
            && config.sidechainChannels == preparedConfig.sidechainChannels)
            config.maxBlockSize = std::max (config.maxBlockSize, preparedConfig.maxBlockSize);
        preparedConfig = config;
        prepared = true;
        config = wantedConfigLocked();

        // The audio thread is stopped: finish any switch, then make the playing engine match.
        engines.prepare (config.numChannels, config.maxBlockSize);
        auto* engine = engines.settle();
        if (engine != nullptr && engine->hasModel())
        {
            if (! (engine->wasPrepared() && engine->config() == config))
                statusMessage = juce::String (engine->prepare (config));
            engine->setNonRealtime (isNonRealtime());
            engine->jumpToMix (currentMix());
            latency = engine->latencySamples();
        }
    }
    previousGain = juce::Decibels::decibelsToGain (parameterRefs.outputGain->load());
    gainJumpRequested.store (false);
    setLatencySamples (latency);
}

void TimbrelProcessor::reset()
{
    // A new render: pending switches complete and controls start at their targets. Hosts may
    // call this from the audio thread (VST3 setProcessing), so it only raises flags; the next
    // block does the work without waiting (StreamingEngine::requestReset).
    gainJumpRequested.store (true, std::memory_order_release);
    midiNotesOffRequested.store (true, std::memory_order_release);
    engines.requestReset();
}

float TimbrelProcessor::currentMix() const
{
    return parameterRefs.bypass->load() >= 0.5f ? 0.0f : parameterRefs.mix->load() / 100.0f;
}

EngineControls TimbrelProcessor::readControls (bool forceBypass) const
{
    const auto& r = parameterRefs;
    EngineControls controls;
    controls.mix = forceBypass ? 0.0f : currentMix();
    for (size_t s = 0; s < static_cast<size_t> (kNumFaderSlots); ++s)
    {
        controls.faders[s].source = static_cast<DescriptorSource> (juce::jlimit (0, 3, choiceIndex (r.source[s])));
        controls.faders[s].shift = r.shift[s]->load();
        controls.faders[s].fixed = r.fixed[s]->load();
    }
    for (size_t i = 0; i < static_cast<size_t> (kNumLatentControls); ++i)
    {
        controls.latentOffset[i] = r.latentOffset[i]->load();
        controls.latentScale[i] = r.latentScale[i]->load();
    }
    controls.generate = r.generate->load() >= 0.5f;
    controls.temperature = r.temperature->load();
    controls.timbreSource = static_cast<TimbreSource> (juce::jlimit (0, 1, choiceIndex (r.timbreSource)));
    controls.timbres = &timbreSlots;
    controls.morph = r.morph->load();
    controls.variation = r.variation->load();
    return controls;
}

juce::String TimbrelProcessor::loadModel (const juce::String& reference, bool keepPreviousOnFailure, bool async)
{
    std::unique_lock lock (loadMutex);
    nextLoad = LoadRequest { reference, keepPreviousOnFailure };
    requestedReference = reference;
    const long ticket = ++requestedLoads;
    loadPending.store (true);
    loadRequested.notify_one();
    if (async)
        return {};
    loadFinished.wait (lock, [&] { return finishedLoads >= ticket || stopLoader; });
    return lastLoadError;
}

void TimbrelProcessor::loaderLoop()
{
    std::unique_lock lock (loadMutex);
    while (true)
    {
        loadRequested.wait (lock, [this] { return stopLoader || nextLoad.has_value(); });
        if (stopLoader)
            break;
        const auto request = std::exchange (nextLoad, std::nullopt).value();
        const long ticket = requestedLoads; // the newest request is the one taken
        lock.unlock();
        const auto error = buildAndPublish (request.reference, request.keepPreviousOnFailure);
        lock.lock();
        finishedLoads = ticket;
        lastLoadError = error;
        loadPending.store (finishedLoads != requestedLoads);
        loadFinished.notify_all();
    }
    loadPending.store (false);
    loadFinished.notify_all();
}

void TimbrelProcessor::waitForLoads()
{
    std::unique_lock lock (loadMutex);
    const long ticket = requestedLoads;
    loadFinished.wait (lock, [&] { return finishedLoads >= ticket || stopLoader; });
}

bool TimbrelProcessor::isLoading() const
{
    return loadPending.load();
}

juce::String TimbrelProcessor::buildAndPublish (const juce::String& reference, bool keepPreviousOnFailure)
{
    juce::String error;
    const auto file = ModelLocator::resolve (reference);
    // Before the host's first prepareToPlay the configuration is a guess (44.1 kHz, 512-sample
    // blocks, stereo), so that a latency queried early is right for the common case.
    auto config = wantedConfig();
    auto built = file == juce::File() ? BuiltEngine { nullptr, "model '" + reference.toStdString() + "' was not found in the model folders" }
                                      : buildEngine (file.getFullPathName().toStdString(), config);
    for (int attempt = 0; built.engine != nullptr; ++attempt)
    {
        std::unique_lock lock (stateMutex);
        // The host may have prepared (another rate, block size or layout) while this one
        // warmed up: publish only an engine prepared as the host now plays.
        if (const auto now = wantedConfigLocked(); ! (now == config) && attempt < 4)
        {
            lock.unlock();
            config = now;
            built = reprepareEngine (std::move (built.engine), config);
            continue;
        }
        auto& engine = built.engine;
        resolveSnapshotsLocked (engine->info()); // before it plays: its first block has its own timbres
        engine->setNonRealtime (isNonRealtime());
        engine->jumpToMix (currentMix());
        const int latency = engine->latencySamples();
        engines.publish (std::move (engine));
        lock.unlock();
        error = juce::String (built.error);
        publishStatus (reference, error, latency);
        return error;
    }
    error = juce::String (built.error);

    {
        const std::lock_guard lock (stateMutex);
        auto* latest = engines.latest();
        if (keepPreviousOnFailure && latest != nullptr && latest->hasModel())
        {
            statusMessage = "could not load '" + reference + "': " + error + " (kept the previous model)";
            ++generation;
            return error;
        }
        engines.publish (nullptr);
    }
    publishStatus (reference, "could not load '" + reference + "': " + error + "; audio passes dry", 0);
    return error;
}

void TimbrelProcessor::publishStatus (const juce::String& reference, const juce::String& status, int latency)
{
    {
        const std::lock_guard lock (stateMutex);
        modelReference = reference;
        statusMessage = status;
    }
    setLatencySamples (latency);
    ++generation;
}

TimbrelProcessor::ModelView TimbrelProcessor::describeModel() const
{
    ModelView view;
    const std::lock_guard lock (stateMutex);
    view.reference = modelReference;
    const auto* engine = engines.latest();
    if (engine == nullptr || ! engine->hasModel())
        return view;
    const auto& info = engine->info();
    view.hasModel = true;
    view.name = juce::String (info.modelName);
    view.modelRate = info.sampleRate;
    view.hop = info.hopLength;
    view.latentSize = info.latentSize;
    view.latencySamples = engine->latencySamples();
    view.nnModule = info.kind == ModelKind::nnTilde;
    view.hasPrior = info.hasPrior;
    view.modelLatency = info.latencySamples;
    view.latencyNote = juce::String (info.latencyNote);
    view.latencyOverride = modelLatencyOverride;
    view.hostRate = engine->config().sampleRate;
    view.hasTimbres = hasTimbreSection (info);
    view.hasNatural = info.hasNatural;
    view.hasAxes = ! info.latentComponents.empty();
    for (size_t t = 0; t < info.timbreNames.size(); ++t)
    {
        view.timbreNames.add (juce::String (info.timbreNames[t]));
        if (view.hasAxes)
            view.timbreMap.push_back (onMap (info, timbreRow (info, t)));
    }
    const auto card = juce::JSON::parse (juce::String (info.modelCard));
    view.instrument = card.getProperty ("instrument", {}).toString();
    view.description = card.getProperty ("description", {}).toString();
    const auto map = mapSlotsToModel (info);
    for (size_t s = 0; s < map.size(); ++s)
    {
        auto& slot = view.slots[s];
        const int index = map[s];
        slot.active = index >= 0;
        if (! slot.active)
            continue;
        const auto i = static_cast<size_t> (index);
        slot.name = juce::String (info.descriptorNames[i]);
        slot.unit = juce::String (info.descriptorUnits[i]);
        slot.min = info.descriptorMin[i];
        slot.max = info.descriptorMax[i];
    }
    return view;
}

void TimbrelProcessor::setMetering (bool enabled)
{
    const std::lock_guard lock (stateMutex);
    metering = enabled;
    if (auto* engine = engines.latest(); engine != nullptr && engine->hasModel() && engine->meters() != nullptr)
        engine->meters()->wantOutputTap (enabled);
}

bool TimbrelProcessor::pollMeters (MeterFrame& frame)
{
    // Under stateMutex: the engine cannot be retired and deleted meanwhile (collectGarbage
    // and publish take it too). The audio thread never takes it.
    const std::lock_guard lock (stateMutex);
    auto* engine = engines.latest();
    auto* meters = engine != nullptr && engine->hasModel() ? engine->meters() : nullptr;
    if (meters == nullptr)
    {
        meteredEngine = nullptr;
        return false;
    }
    if (engine != meteredEngine)
    {
        meteredEngine = engine;
        meters->wantOutputTap (metering);
    }
    const auto map = mapSlotsToModel (engine->info());
    frame.hops = meters->hopCount();
    frame.modelLoad = meters->modelLoad();
    frame.underruns = engine->underruns();
    frame.failedHops = engine->failedHops();
    if (frame.failedHops > 0)
        frame.failure = engine->lastFailure();

    std::array<float, DescriptorMeters::kMaxDescriptors> output {};
    frame.outputValid = false;
    if (const int hops = std::min (meters->tappedHops(), DescriptorMeters::kTapHops); hops > 0)
    {
        tapScratch.resize (static_cast<size_t> (hops * meters->hopLength()));
        frame.outputValid = meters->readTappedHops (tapScratch.data(), hops)
                            && engine->info().numDescriptors() <= DescriptorMeters::kMaxDescriptors // analyzeOutput writes them all
                            && engine->analyzeOutput (tapScratch.data(), hops, output.data());
    }
    for (size_t s = 0; s < map.size(); ++s)
    {
        const int index = map[s];
        const bool known = index >= 0 && index < meters->numDescriptors();
        frame.input[s] = known ? meters->inputValue (index) : 0.0f;
        frame.target[s] = known ? meters->targetValue (index) : 0.0f;
        frame.output[s] = known ? output[static_cast<size_t> (index)] : 0.0f;
    }
    return true;
}

void TimbrelProcessor::timerCallback()
{
    juce::String reference;
    bool reconfigure = false;
    const auto wanted = wantedConfig();
    {
        const std::lock_guard lock (stateMutex);
        engines.collectGarbage();
        const auto* latest = engines.latest();
        // A mode (or margin) change while playing in real time: build the engine anew beside the old one and
        // crossfade. Offline hosts re-prepare before each render instead (prepareToPlay), and a
        // switch arriving in the middle of an offline render would break its determinism.
        reconfigure = playingInRealtime.load (std::memory_order_relaxed) && prepared && latest != nullptr && latest->hasModel() && latest->wasPrepared()
                      && (latest->config().mode != wanted.mode || latest->config().stereo != wanted.stereo
                          || latest->config().workerMarginHops != wanted.workerMarginHops
                          || latest->config().modelLatencyOverride != wanted.modelLatencyOverride);
        reference = modelReference;
    }
    if (reconfigure && ! isLoading())
        loadModel (reference, true, true);
}

void TimbrelProcessor::setModelLatencyOverride (int modelSamples)
{
    juce::String reference;
    {
        const std::lock_guard lock (stateMutex);
        modelSamples = juce::jmax (-1, modelSamples);
        if (modelSamples == modelLatencyOverride)
            return;
        modelLatencyOverride = modelSamples;
        reference = modelReference;
    }
    // A fresh engine reports the new latency to the host; the playing one crossfades to it.
    if (reference.isNotEmpty())
        loadModel (reference, true, true);
}

void TimbrelProcessor::chooseModel (const juce::String& reference)
{
    {
        const std::lock_guard lock (stateMutex);
        modelLatencyOverride = -1;
    }
    loadModel (reference, true, true);
}

int TimbrelProcessor::getModelLatencyOverride() const
{
    const std::lock_guard lock (stateMutex);
    return modelLatencyOverride;
}

juce::String TimbrelProcessor::getModelReference() const
{
    {
        const std::lock_guard lock (loadMutex);
        if (finishedLoads != requestedLoads)
            return requestedReference;
    }
    const std::lock_guard lock (stateMutex);
    return modelReference;
}

juce::String TimbrelProcessor::getStatusMessage() const
{
    {
        const std::lock_guard lock (loadMutex);
        if (finishedLoads != requestedLoads)
            return "loading '" + requestedReference + "'...";
    }
    const std::lock_guard lock (stateMutex);
    return statusMessage;
}

void TimbrelProcessor::processBlock (juce::AudioBuffer<float>& buffer, juce::MidiBuffer& midi)
{
    processWithBypass (buffer, false);
    writeMidiOut (midi, parameterRefs.bypass->load() >= 0.5f);
}

void TimbrelProcessor::processBlockBypassed (juce::AudioBuffer<float>& buffer, juce::MidiBuffer& midi)
{
    processWithBypass (buffer, true);
    writeMidiOut (midi, true);
}

void TimbrelProcessor::writeMidiOut (juce::MidiBuffer& midi, bool bypassed)
{
    // The effect takes no MIDI; what the host hands in is replaced by ours. MidiBuffer keeps
    // its storage, and a few events per hop fit in what hosts preallocate.
    midi.clear();
    midiOutBlock.clear();
    const auto* engine = engines.playing();
    const bool wanted = parameterRefs.midiOut->load() >= 0.5f && ! bypassed;
    if (engine != trackedEngine || ! wanted || midiNotesOffRequested.exchange (false, std::memory_order_acq_rel))
        noteTracker.stop (0, midiOutBlock);
    trackedEngine = engine;
    if (wanted && engine != nullptr)
    {
        const auto& info = engine->info();
        NoteTrackerSettings settings;
        settings.gateDb = parameterRefs.midiGate->load();
        settings.bendRange = parameterRefs.midiBendRange->load();
        if (info.sampleRate > 0)
            settings.hopSeconds = static_cast<float> (info.hopLength) / static_cast<float> (info.sampleRate);
        noteTracker.setSettings (settings);
        const auto& hops = engine->trackedHops();
        for (int i = 0; i < hops.count; ++i)
        {
            const auto& hop = hops.hops[static_cast<size_t> (i)];
            noteTracker.hop (hop.pitch, hop.loudness, hop.offset, midiOutBlock);
        }
    }
    for (int i = 0; i < midiOutBlock.count; ++i)
    {
        const auto& event = midiOutBlock.events[static_cast<size_t> (i)];
        midi.addEvent (event.bytes.data(), event.size, event.offset);
    }
}

void TimbrelProcessor::processWithBypass (juce::AudioBuffer<float>& buffer, bool forceBypass)
{
    juce::ScopedNoDenormals noDenormals;
    auto main = getBusBuffer (buffer, false, 0);
    const int numSamples = main.getNumSamples();
    if (numSamples == 0)
        return;

    // The bus buffer owns its channel-pointer table: it must outlive the engine call.
    juce::AudioBuffer<float> sidechainBuffer;
    const float* const* sidechain = nullptr;
    int sidechainChannels = 0;
    if (getBusCount (true) > 1)
        if (const auto* bus = getBus (true, 1); bus != nullptr && bus->isEnabled() && bus->getNumberOfChannels() > 0)
        {
            sidechainBuffer = getBusBuffer (buffer, true, 1);
            sidechain = sidechainBuffer.getArrayOfReadPointers();
            sidechainChannels = sidechainBuffer.getNumChannels();
        }

    // Offline, a model still loading (a state restored just before rendering) is waited for:
    // an offline render is never silently dry. In real time it crossfades in when ready.
    const bool offline = isNonRealtime();
    if (offline && loadPending.load())
        waitForLoads();

    // Bypass is a mix of zero: the dry path is latency-compensated, so bypassing keeps the
    // track aligned and crossfades over one block instead of clicking.
    playingInRealtime.store (! offline, std::memory_order_relaxed);
    const auto controls = readControls (forceBypass);
    engines.process (main.getArrayOfReadPointers(), main.getArrayOfWritePointers(), main.getNumChannels(), sidechain,
                     sidechainChannels, numSamples, controls, offline);

    const float gain = juce::Decibels::decibelsToGain (parameterRefs.outputGain->load());
    if (gainJumpRequested.exchange (false, std::memory_order_acq_rel))
        previousGain = gain;
    if (gain != 1.0f || previousGain != 1.0f)
        main.applyGainRamp (0, numSamples, previousGain, gain);
    previousGain = gain;

    // Anything beyond the main output (e.g. sidechain channels sharing the buffer) is not ours.
    for (int ch = main.getNumChannels(); ch < getTotalNumOutputChannels(); ++ch)
        buffer.clear (ch, 0, numSamples);
}

void TimbrelProcessor::getStateInformation (juce::MemoryBlock& destData)
{
    auto state = parameters.copyState();
    state.removeChild (state.getChildWithName (kModelNode), nullptr);
    state.removeChild (state.getChildWithName (kStatusNode), nullptr);
    juce::ValueTree model (kModelNode);
    model.setProperty (kReference, getModelReference(), nullptr);
    if (const int latencyOverride = getModelLatencyOverride(); latencyOverride >= 0)
        model.setProperty (kLatencyOverride, latencyOverride, nullptr);
    state.appendChild (model, nullptr);

    state.removeChild (state.getChildWithName (kTimbreNode), nullptr);
    juce::ValueTree timbre (kTimbreNode);
    {
        const std::lock_guard lock (stateMutex);
        for (size_t slot = 0; slot < snapshots.size(); ++slot)
        {
            const auto& snapshot = snapshots[slot];
            if (snapshot.latent.empty())
                continue;
            juce::StringArray values;
            for (float v : snapshot.latent)
                values.add (juce::String (v, 9)); // 9 significant digits: a float back bit for bit
            juce::ValueTree node (kSnapshotNode);
            node.setProperty (kSlot, kSlotNames[slot], nullptr);
            node.setProperty (kName, snapshot.name, nullptr);
            node.setProperty (kCaptured, snapshot.captured, nullptr);
            node.setProperty (kFromModel, snapshot.modelName, nullptr);
            node.setProperty (kLatent, values.joinIntoString (" "), nullptr);
            timbre.appendChild (node, nullptr);
        }
    }
    state.appendChild (timbre, nullptr);

    // Read-only report for hosts and scripts (timbrel render prints it); ignored on restore.
    juce::ValueTree status (kStatusNode);
    status.setProperty ("loading", isLoading(), nullptr);
    status.setProperty ("message", getStatusMessage(), nullptr);
    {
        const std::lock_guard lock (stateMutex);
        const auto* engine = engines.latest();
        const bool hasModel = engine != nullptr && engine->hasModel();
        status.setProperty ("latency", hasModel ? engine->latencySamples() : 0, nullptr);
        status.setProperty ("active", hasModel && engine->isActive(), nullptr);
        status.setProperty ("modelName", hasModel ? juce::String (engine->info().modelName) : juce::String(), nullptr);
        status.setProperty ("failedHops", hasModel ? engine->failedHops() : 0, nullptr);
        status.setProperty ("failure", hasModel && engine->failedHops() > 0 ? juce::String (engine->lastFailure()) : juce::String(),
                            nullptr);
        status.setProperty ("underruns", hasModel ? engine->underruns() : 0, nullptr);
        // Every block handed to the worker is computed (always true Inline or without a model):
        // a host of the project's own can step in lockstep with it (timbrel_rt_host --lockstep).
        status.setProperty ("workerIdle", ! hasModel || engine->workerIdle(), nullptr);
        status.setProperty ("mode", params::processingModeChoices[static_cast<int> (hasModel ? engine->config().mode : ProcessingMode::threaded)], nullptr);
        status.setProperty ("stereoMode", params::stereoModeChoices[static_cast<int> (hasModel ? engine->config().stereo : StereoMode::dualMono)], nullptr);
        status.setProperty ("hostRate", hasModel ? engine->config().sampleRate : 0.0, nullptr);
        status.setProperty ("modelRate", hasModel ? engine->info().sampleRate : 0, nullptr);
        status.setProperty ("modelKind", ! hasModel ? "" : engine->info().kind == ModelKind::nnTilde ? "nn~" : "timbrel", nullptr);
        status.setProperty ("modelDelay", ! hasModel                                     ? 0
                                          : engine->config().modelLatencyOverride >= 0 ? engine->config().modelLatencyOverride
                                                                                       : engine->info().latencySamples,
                            nullptr);
        status.setProperty ("modelDelayNote", hasModel ? juce::String (engine->info().latencyNote) : juce::String(), nullptr);
        status.setProperty ("modelStreams", hasModel && engine->info().streams, nullptr);
        juce::StringArray names;
        for (const auto& name : hasModel ? engine->info().timbreNames : std::vector<std::string> {})
            names.add (juce::String (name));
        status.setProperty ("timbres", names.joinIntoString ("|"), nullptr);
        status.setProperty ("hasNatural", hasModel && engine->info().hasNatural, nullptr);
        status.setProperty ("snapshotA", snapshots[0].name, nullptr);
        status.setProperty ("snapshotB", snapshots[1].name, nullptr);
        status.setProperty ("timbreMessage", timbreMessage, nullptr);
    }
    state.appendChild (status, nullptr);

    if (auto xml = state.createXml())
        copyXmlToBinary (*xml, destData);
}

void TimbrelProcessor::setStateInformation (const void* data, int sizeInBytes)
{
    const auto xml = getXmlFromBinary (data, sizeInBytes);
    if (xml == nullptr || ! xml->hasTagName (kStateType.toString()))
        return; // not our state: keep everything as it is

    auto state = juce::ValueTree::fromXml (*xml);
    auto reference = state.getChildWithName (kModelNode).getProperty (kReference).toString();
    const int latencyOverride = juce::jmax (-1, static_cast<int> (state.getChildWithName (kModelNode).getProperty (kLatencyOverride, -1)));
    if (reference.isEmpty())
        reference = ModelLocator::defaultReference();
    state.removeChild (state.getChildWithName (kStatusNode), nullptr);
    std::array<Snapshot, TimbreSlots::kNumSlots> restored;
    for (const auto& node : state.getChildWithName (kTimbreNode))
    {
        const int slot = node.getProperty (kSlot).toString() == "B" ? 1 : 0;
        auto& snapshot = restored[static_cast<size_t> (slot)];
        snapshot.name = node.getProperty (kName).toString();
        snapshot.captured = static_cast<bool> (node.getProperty (kCaptured, false));
        snapshot.modelName = node.getProperty (kFromModel).toString();
        for (const auto& value : juce::StringArray::fromTokens (node.getProperty (kLatent).toString(), " ", ""))
            if (value.isNotEmpty())
                snapshot.latent.push_back (value.getFloatValue());
    }
    state.removeChild (state.getChildWithName (kTimbreNode), nullptr);
    parameters.replaceState (state);
    {
        // Matched to the model it names once that plays (resolveSnapshotsLocked), below if it
        // plays already.
        const std::lock_guard lock (stateMutex);
        snapshots = restored;
        snapshotsFromState = true;
        timbreMessage.clear();
    }

    // A session restore plays the model it names or nothing: never silently another model.
    // The load runs on the loader thread: a host restoring a session on its UI thread is not
    // held up; an offline render waits for it before its first block.
    bool overrideChanged = false; // a new delay figure: the engine is built again, whatever else
    {
        const std::lock_guard lock (stateMutex);
        overrideChanged = latencyOverride != modelLatencyOverride;
        modelLatencyOverride = latencyOverride;
    }
    bool needsLoad = true;
    {
        const std::lock_guard lock (loadMutex);
        if (! overrideChanged && finishedLoads != requestedLoads && requestedReference == reference)
            needsLoad = false; // already on its way
    }
    if (needsLoad && ! overrideChanged && ! isLoading())
    {
        const std::lock_guard lock (stateMutex);
        const auto* latest = engines.latest();
        needsLoad = reference != modelReference || latest == nullptr || ! latest->hasModel();
    }
    if (needsLoad)
        loadModel (reference, false, true);
    else
    {
        const std::lock_guard lock (stateMutex);
        if (const auto* latest = engines.latest(); latest != nullptr && latest->hasModel())
            resolveSnapshotsLocked (latest->info());
    }
}

void TimbrelProcessor::resolveSnapshotsLocked (const ModelInfo& info)
{
    if (! hasTimbreSection (info))
        return; // the snapshots wait, untouched, for a model that has timbres
    const auto names = info.timbreNames;
    auto named = [&] (Snapshot& snapshot, size_t index) {
        snapshot = { juce::String (names[index]), false, juce::String (info.modelName), timbreRow (info, index) };
    };
    juce::StringArray messages;
    for (size_t slot = 0; slot < snapshots.size(); ++slot)
    {
        auto& snapshot = snapshots[slot];
        const juce::String label = juce::String ("Snapshot ") + kSlotNames[slot];
        if (snapshot.latent.empty() && snapshot.name.isEmpty()) // never set: A is the first timbre, B the second
        {
            named (snapshot, std::min (slot, names.size() - 1));
            continue;
        }
        if (! snapshotsFromState && snapshot.modelName != juce::String (info.modelName))
        {
            // The user chose another model: a timbre of the same name carries over; otherwise
            // the slot starts again as on a first load (a capture says so: it is lost).
            const auto at = std::find (names.begin(), names.end(), snapshot.name.toStdString());
            if (! snapshot.captured && at != names.end())
                named (snapshot, static_cast<size_t> (at - names.begin()));
            else
            {
                if (snapshot.captured)
                    messages.add (label + " was captured with the model '" + snapshot.modelName + "': it is now '"
                                  + juce::String (names[std::min (slot, names.size() - 1)]) + "'");
                named (snapshot, std::min (slot, names.size() - 1));
            }
            continue;
        }
        // A named timbre may come without its values (a script names it): the model's are taken.
        juce::String why;
        if (snapshot.captured && snapshot.latent.empty())
            why = label + " was captured but holds no values";
        else if (! snapshot.latent.empty() && static_cast<int> (snapshot.latent.size()) != info.latentSize)
            why = label + " was saved with a model of latent size " + juce::String (static_cast<int> (snapshot.latent.size()))
                  + "; this model's is " + juce::String (info.latentSize);
        else if (std::any_of (snapshot.latent.begin(), snapshot.latent.end(), [] (float v) { return ! std::isfinite (v); }))
            why = label + " held values that are not numbers";
        else if (snapshot.captured && snapshot.modelName != juce::String (info.modelName))
            why = label + " was captured with the model '" + snapshot.modelName + "', whose latent means something else";
        else if (! snapshot.captured)
        {
            const auto at = std::find (names.begin(), names.end(), snapshot.name.toStdString());
            if (at != names.end())
            {
                named (snapshot, static_cast<size_t> (at - names.begin())); // this model's own latent for the name
                continue;
            }
            why = label + "'s timbre '" + snapshot.name + "' is not one of this model's";
        }
        if (why.isNotEmpty())
        {
            named (snapshot, 0);
            messages.add (why + ": it is now '" + snapshot.name + "'");
        }
    }
    for (int slot = 0; slot < TimbreSlots::kNumSlots; ++slot)
        publishSnapshotLocked (slot);
    timbreMessage = messages.joinIntoString ("; ");
    snapshotsFromState = false;
}

void TimbrelProcessor::publishSnapshotLocked (int slot)
{
    const auto& latent = snapshots[static_cast<size_t> (slot)].latent;
    timbreSlots.set (slot, latent.data(), static_cast<int> (latent.size()));
}

TimbrelProcessor::SnapshotView TimbrelProcessor::getSnapshot (int slot) const
{
    const std::lock_guard lock (stateMutex);
    const auto& snapshot = snapshots[static_cast<size_t> (juce::jlimit (0, 1, slot))];
    return { snapshot.name, snapshot.captured, snapshot.latent };
}

juce::String TimbrelProcessor::setSnapshotTimbre (int slot, const juce::String& name)
{
    const std::lock_guard lock (stateMutex);
    const auto* engine = engines.latest();
    if (engine == nullptr || ! engine->hasModel() || ! hasTimbreSection (engine->info()))
        return timbreMessage = "this model has no named timbres";
    const auto& names = engine->info().timbreNames;
    const auto at = std::find (names.begin(), names.end(), name.toStdString());
    if (at == names.end())
        return timbreMessage = "'" + name + "' is not one of this model's timbres";
    const auto index = static_cast<size_t> (at - names.begin());
    slot = juce::jlimit (0, 1, slot);
    snapshots[static_cast<size_t> (slot)] = { name, false, juce::String (engine->info().modelName), timbreRow (engine->info(), index) };
    publishSnapshotLocked (slot);
    timbreMessage.clear();
    return {};
}

juce::String TimbrelProcessor::captureSnapshot (int slot, double seconds)
{
    const std::lock_guard lock (stateMutex);
    const auto* engine = engines.latest();
    if (engine == nullptr || ! engine->hasModel() || ! hasTimbreSection (engine->info()))
        return timbreMessage = "Capture needs a model with named timbres";
    const auto& info = engine->info();
    const auto* history = engine->latentHistory();
    if (history == nullptr || history->latentSize() != info.latentSize)
        return timbreMessage = "Capture needs the model to have played first";
    const double hopSeconds = info.hopLength / static_cast<double> (info.sampleRate);
    const auto taken = captureTimbre (history->recent (static_cast<int> (std::ceil (seconds / hopSeconds))), hopSeconds);
    if (! taken.error.empty())
        return timbreMessage = juce::String (taken.error);
    slot = juce::jlimit (0, 1, slot);
    snapshots[static_cast<size_t> (slot)] = { "Captured", true, juce::String (info.modelName), taken.latent };
    publishSnapshotLocked (slot);
    timbreMessage.clear();
    return {};
}

juce::String TimbrelProcessor::getTimbreMessage() const
{
    const std::lock_guard lock (stateMutex);
    return timbreMessage;
}

bool TimbrelProcessor::currentMapPoint (juce::Point<float>& point) const
{
    const std::lock_guard lock (stateMutex);
    const auto* engine = engines.latest();
    if (engine == nullptr || ! engine->hasModel() || ! hasTimbreSection (engine->info()) || engine->info().latentComponents.empty())
        return false;
    const auto& info = engine->info();
    const auto size = static_cast<size_t> (info.latentSize);
    std::vector<float> latent (size, 0.0f);
    if (const auto* history = engine->latentHistory(); history != nullptr && history->latentSize() == info.latentSize)
        if (const auto last = history->recent (1); ! last.empty())
            latent = last.front().latent;
    const float weight = choiceIndex (parameterRefs.timbreSource) == static_cast<int> (TimbreSource::snapshot) ? 1.0f : 0.0f;
    const float morph = parameterRefs.morph->load();
    const auto& a = snapshots[0].latent;
    const auto& b = snapshots[1].latent;
    if (weight > 0.0f && a.size() == size && b.size() == size)
        for (size_t i = 0; i < size; ++i)
            latent[i] = a[i] + morph * (b[i] - a[i]);
    point = onMap (info, latent);
    return true;
}

juce::AudioProcessorEditor* TimbrelProcessor::createEditor()
{
    return new TimbrelEditor (*this);
}
} // namespace timbrel

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter()
{
    return new timbrel::TimbrelProcessor();
}
