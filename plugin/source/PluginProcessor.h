#pragma once
// The JUCE processor: wires host buses, parameters and state to the engine. Signal processing,
// model validation and latency arithmetic live in plugin/engine.

#include "Parameters.h"

#include <timbrel/StreamingEngine.h>

#include <juce_audio_processors/juce_audio_processors.h>

#include <memory>

namespace timbrel
{
class TimbrelProcessor final : public juce::AudioProcessor
{
public:
    TimbrelProcessor();
    ~TimbrelProcessor() override;

    void prepareToPlay (double sampleRate, int maximumExpectedSamplesPerBlock) override;
    void releaseResources() override {}
    void reset() override;
    bool isBusesLayoutSupported (const BusesLayout& layouts) const override;
    using AudioProcessor::processBlock; // the double-precision overloads stay JUCE's
    using AudioProcessor::processBlockBypassed;
    void processBlock (juce::AudioBuffer<float>&, juce::MidiBuffer&) override;
    void processBlockBypassed (juce::AudioBuffer<float>&, juce::MidiBuffer&) override;

    juce::AudioProcessorEditor* createEditor() override;
    bool hasEditor() const override { return true; }

    const juce::String getName() const override { return JucePlugin_Name; }
    bool acceptsMidi() const override { return false; }
    bool producesMidi() const override { return false; }
    bool isMidiEffect() const override { return false; }
    double getTailLengthSeconds() const override { return 0.0; }
    int getNumPrograms() override { return 1; }
    int getCurrentProgram() override { return 0; }
    void setCurrentProgram (int) override {}
    const juce::String getProgramName (int) override { return {}; }
    void changeProgramName (int, const juce::String&) override {}
    juce::AudioProcessorParameter* getBypassParameter() const override { return bypassParameter; }

    void getStateInformation (juce::MemoryBlock& destData) override;
    void setStateInformation (const void* data, int sizeInBytes) override;

    /** Loads a model (a name from the model folders or an absolute path). On failure the
        previous model keeps playing when `keepPreviousOnFailure`, otherwise audio passes dry.
        Returns the error in plain words, empty on success. Message thread only. */
    juce::String loadModel (const juce::String& reference, bool keepPreviousOnFailure);

    /** Current model reference and status ("" when a model runs, else why audio passes dry). */
    juce::String getModelReference() const;
    juce::String getStatusMessage() const;

    juce::AudioProcessorValueTreeState parameters;

private:
    static BusesProperties busLayout();
    float currentMix() const;
    void processWithBypass (juce::AudioBuffer<float>& buffer, bool forceBypass);
    void installEngine (std::unique_ptr<StreamingEngine> newEngine, const juce::String& reference, const juce::String& status);
    juce::String prepareEngine (StreamingEngine& target);

    struct ParameterRefs
    {
        std::atomic<float>* mix = nullptr;
        std::atomic<float>* outputGain = nullptr;
        std::atomic<float>* bypass = nullptr;
        std::array<std::atomic<float>*, kVocabularySize> shifts {};
    } parameterRefs;
    juce::AudioProcessorParameter* bypassParameter = nullptr;

    // Owned by the audio thread; replaced only under the host's callback lock.
    std::unique_ptr<StreamingEngine> engine;
    float previousGain = 1.0f;

    // Message-thread state.
    mutable juce::CriticalSection statusLock;
    juce::String modelReference, statusMessage;
    double preparedSampleRate = 0.0;
    int preparedBlockSize = 0, preparedChannels = 0;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR (TimbrelProcessor)
};
} // namespace timbrel
