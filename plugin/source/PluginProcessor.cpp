#include "PluginProcessor.h"

#include "ModelLocator.h"

namespace timbrel
{
namespace
{
const juce::Identifier kStateType { "Timbrel" };
const juce::Identifier kModelNode { "Model" };
const juce::Identifier kStatusNode { "Status" };
const juce::Identifier kReference { "reference" };
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
    parameterRefs.mix = parameters.getRawParameterValue (params::mix);
    parameterRefs.outputGain = parameters.getRawParameterValue (params::outputGain);
    parameterRefs.bypass = parameters.getRawParameterValue (params::bypass);
    for (size_t i = 0; i < kDescriptorVocabulary.size(); ++i)
        parameterRefs.shifts[i] = parameters.getRawParameterValue (params::shiftId (kDescriptorVocabulary[i]));
    bypassParameter = parameters.getParameter (params::bypass);

    const auto defaultModel = ModelLocator::defaultReference();
    if (defaultModel.isNotEmpty())
        loadModel (defaultModel, false);
    else
        installEngine (nullptr, {}, "no models found (searched " + ModelLocator::searchFolders()[0].getFullPathName() + " and the user models folder)");
}

TimbrelProcessor::~TimbrelProcessor() = default;

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

juce::String TimbrelProcessor::prepareEngine (StreamingEngine& target)
{
    if (preparedSampleRate <= 0.0)
        return {};
    return juce::String (target.prepare (preparedSampleRate, preparedBlockSize, preparedChannels));
}

void TimbrelProcessor::prepareToPlay (double sampleRate, int maximumExpectedSamplesPerBlock)
{
    const int channels = getMainBusNumInputChannels();
    // Playback starts: smoothed controls start at their targets instead of ramping.
    previousGain = juce::Decibels::decibelsToGain (parameterRefs.outputGain->load());
    if (engine != nullptr)
        engine->jumpToMix (currentMix());

    // Hosts such as pedalboard call this before every render: only real changes re-prepare,
    // so streaming state survives chunked processing.
    if (sampleRate == preparedSampleRate && maximumExpectedSamplesPerBlock <= preparedBlockSize && channels == preparedChannels)
        return;

    preparedSampleRate = sampleRate;
    preparedBlockSize = std::max (maximumExpectedSamplesPerBlock, preparedBlockSize);
    preparedChannels = channels;

    if (engine != nullptr)
    {
        const auto error = prepareEngine (*engine);
        engine->jumpToMix (currentMix());
        const juce::ScopedLock sl (statusLock);
        statusMessage = error;
    }
    setLatencySamples (engine != nullptr ? engine->latencySamples() : 0);
}

void TimbrelProcessor::reset()
{
    // A reset starts a new render: smoothed controls start at their targets, no ramps.
    previousGain = juce::Decibels::decibelsToGain (parameterRefs.outputGain->load());
    if (engine != nullptr)
    {
        engine->reset();
        engine->jumpToMix (currentMix());
    }
}

float TimbrelProcessor::currentMix() const
{
    return parameterRefs.bypass->load() >= 0.5f ? 0.0f : parameterRefs.mix->load() / 100.0f;
}

juce::String TimbrelProcessor::loadModel (const juce::String& reference, bool keepPreviousOnFailure)
{
    juce::String error;
    const auto file = ModelLocator::resolve (reference);
    if (file == juce::File())
        error = "model '" + reference + "' was not found in the model folders";
    else
    {
        auto result = Model::load (file.getFullPathName().toStdString());
        if (result)
        {
            auto newEngine = std::make_unique<StreamingEngine> (std::move (result.model));
            error = prepareEngine (*newEngine);
            newEngine->jumpToMix (currentMix());
            installEngine (std::move (newEngine), reference, error);
            return error;
        }
        error = juce::String (result.error);
    }

    if (keepPreviousOnFailure && engine != nullptr)
    {
        const juce::ScopedLock sl (statusLock);
        statusMessage = "could not load '" + reference + "': " + error + " (kept the previous model)";
        return error;
    }
    installEngine (nullptr, reference, "could not load '" + reference + "': " + error + "; audio passes dry");
    return error;
}

void TimbrelProcessor::installEngine (std::unique_ptr<StreamingEngine> newEngine, const juce::String& reference, const juce::String& status)
{
    const int latency = newEngine != nullptr ? newEngine->latencySamples() : 0;
    {
        // The swap is a pointer exchange; the old engine is destroyed after the lock is released.
        const juce::ScopedLock sl (getCallbackLock());
        std::swap (engine, newEngine);
    }
    newEngine.reset();
    {
        const juce::ScopedLock sl (statusLock);
        modelReference = reference;
        statusMessage = status;
    }
    setLatencySamples (latency);
}

juce::String TimbrelProcessor::getModelReference() const
{
    const juce::ScopedLock sl (statusLock);
    return modelReference;
}

juce::String TimbrelProcessor::getStatusMessage() const
{
    const juce::ScopedLock sl (statusLock);
    return statusMessage;
}

void TimbrelProcessor::processBlock (juce::AudioBuffer<float>& buffer, juce::MidiBuffer&)
{
    processWithBypass (buffer, false);
}

void TimbrelProcessor::processBlockBypassed (juce::AudioBuffer<float>& buffer, juce::MidiBuffer&)
{
    processWithBypass (buffer, true);
}

void TimbrelProcessor::processWithBypass (juce::AudioBuffer<float>& buffer, bool forceBypass)
{
    juce::ScopedNoDenormals noDenormals;
    auto main = getBusBuffer (buffer, false, 0);
    const int numSamples = main.getNumSamples();
    if (numSamples == 0)
        return;

    // Bypass is a mix of zero: the dry path is latency-compensated, so bypassing keeps the
    // track aligned and crossfades over one block instead of clicking.
    EngineControls controls;
    controls.mix = forceBypass ? 0.0f : currentMix();
    for (size_t i = 0; i < controls.shifts.size(); ++i)
        controls.shifts[i] = parameterRefs.shifts[i]->load();

    if (engine != nullptr)
        engine->process (main.getArrayOfReadPointers(), main.getArrayOfWritePointers(), main.getNumChannels(), numSamples, controls);

    const float gain = juce::Decibels::decibelsToGain (parameterRefs.outputGain->load());
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
    state.appendChild (model, nullptr);

    // Read-only report for hosts and scripts (timbrel render prints it); ignored on restore.
    juce::ValueTree status (kStatusNode);
    status.setProperty ("message", getStatusMessage(), nullptr);
    status.setProperty ("latency", getLatencySamples(), nullptr);
    {
        const juce::ScopedLock sl (getCallbackLock());
        status.setProperty ("active", engine != nullptr && engine->isActive(), nullptr);
        status.setProperty ("modelName", engine != nullptr ? juce::String (engine->info().modelName) : juce::String(), nullptr);
        status.setProperty ("failedHops", engine != nullptr ? engine->failedHops() : 0, nullptr);
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
    if (reference.isEmpty())
        reference = ModelLocator::defaultReference();
    state.removeChild (state.getChildWithName (kStatusNode), nullptr);
    parameters.replaceState (state);

    // A session restore plays the model it names or nothing: never silently another model.
    if (reference != getModelReference() || engine == nullptr)
        loadModel (reference, false);
}

juce::AudioProcessorEditor* TimbrelProcessor::createEditor()
{
    return new juce::GenericAudioProcessorEditor (*this);
}
} // namespace timbrel

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter()
{
    return new timbrel::TimbrelProcessor();
}
