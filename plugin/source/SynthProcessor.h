#pragma once
// Timbrel Synth's JUCE processor: MIDI (plain or MPE) in, the model's sound out. A thin layer
// over plugin/engine's SynthEngine: parameters and state here, voices, decoding and latency
// there. Models load on a loader thread and are handed to the audio thread lock-free; the old
// engine fades out over one block and is deleted on the message thread. The editor
// (SynthEditor.h) reads what the loader describes and what the audio thread publishes in
// atomics; its keyboard's notes reach the audio thread through a lock-free queue.

#include <timbrel/SynthEngine.h>

#include <juce_audio_processors/juce_audio_processors.h>

#include <array>
#include <atomic>
#include <bitset>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace timbrel
{
class SynthProcessor final : public juce::AudioProcessor, private juce::Timer, private juce::MidiKeyboardState::Listener
{
public:
    SynthProcessor();
    ~SynthProcessor() override;

    void prepareToPlay (double sampleRate, int maximumExpectedSamplesPerBlock) override;
    void releaseResources() override {}
    void reset() override { resetRequested.store (true, std::memory_order_release); }
    bool isBusesLayoutSupported (const BusesLayout& layouts) const override;
    using AudioProcessor::processBlock;
    void processBlock (juce::AudioBuffer<float>&, juce::MidiBuffer&) override;

    juce::AudioProcessorEditor* createEditor() override;
    bool hasEditor() const override { return true; }
    const juce::String getName() const override { return JucePlugin_Name; }
    bool acceptsMidi() const override { return true; }
    bool producesMidi() const override { return false; }
    bool isMidiEffect() const override { return false; }
    double getTailLengthSeconds() const override;
    int getNumPrograms() override { return 1; }
    int getCurrentProgram() override { return 0; }
    void setCurrentProgram (int) override {}
    const juce::String getProgramName (int) override { return "Default"; }
    void changeProgramName (int, const juce::String&) override {}

    void getStateInformation (juce::MemoryBlock& destData) override;
    void setStateInformation (const void* data, int sizeInBytes) override;

    /** Loads a model (a name from the model folders or a path) on the loader thread; `wait`
        returns once it has been served. Returns the error when waiting, else "". */
    juce::String loadModel (const juce::String& reference, bool wait = false);
    juce::String getStatusMessage() const;
    bool isLoading() const { return loadsPending.load() > 0; }

    juce::AudioProcessorValueTreeState parameters;

    // ---- the editor's view (message thread) ----

    /** The model playing, as the loader last described it. */
    struct ModelView
    {
        bool hasModel = false;
        juce::String reference, name, instrument, description;
        int modelRate = 0, hop = 0, latencySamples = 0;
        bool hasPitchRange = false;
        float pitchMin = 0.0f, pitchMax = 127.0f; // MIDI notes the model plays; others are clamped into them
        juce::String naturalNote;                 // why the spectral descriptors play fixed values ("" if natural() exists)
        juce::StringArray timbreNames;
        std::vector<juce::Point<float>> timbreMap; // each named timbre on the first two principal axes; empty without axes
    };
    ModelView describeModel() const;
    /** Changes whenever a load is served (a new model, or an error to show). */
    int modelGeneration() const { return generation.load(); }

    /** What the audio thread published after its last block (lock-free). */
    struct VoiceActivity
    {
        int sounding = 0, polyphony = 0;
        int clampedNotes = 0;   // notes beyond the model's pitch range, clamped into it, since the model loaded
        std::bitset<128> keysDown; // keys held, from the host's MIDI and the on-screen keyboard
    };
    VoiceActivity voiceActivity() const;

    /** The on-screen keyboard plays into this (message thread); processBlock merges its notes. */
    juce::MidiKeyboardState keyboardState;

private:
    struct Playing
    {
        std::unique_ptr<SynthEngine> engine;
        std::vector<float> latent; // the timbre this block plays (named timbres A and B, morphed)
        juce::String reference;
    };
    struct Request
    {
        juce::String reference;
        double sampleRate = 0.0;
        int blockSize = 0;
        VoiceSettings voices;
        bool threaded = true;
        uint64_t ticket = 0;
    };

    static juce::AudioProcessorValueTreeState::ParameterLayout createLayout();
    VoiceSettings voiceSettings() const;
    SynthControls blockControls (Playing& playing) const;
    void request (const juce::String& reference, bool wait, juce::String* error);
    void loaderLoop();
    void timerCallback() override;
    void collectRetired();
    void handleNoteOn (juce::MidiKeyboardState*, int channel, int note, float velocity) override;
    void handleNoteOff (juce::MidiKeyboardState*, int channel, int note, float velocity) override;
    void pushKeyboardEvent (const SynthEvent& event);
    void noteKeys (const SynthEvent& event);
    void publishKeys();

    // Parameters read once per block (the audio thread never looks them up by name).
    struct Raw
    {
        std::atomic<float>* polyphony = nullptr;
        std::atomic<float>* mono = nullptr;
        std::atomic<float>* processingMode = nullptr;
        std::atomic<float>* glide = nullptr;
        std::atomic<float>* bendRange = nullptr;
        std::atomic<float>* vibratoRate = nullptr;
        std::atomic<float>* vibratoDepth = nullptr;
        std::atomic<float>* vibratoDelay = nullptr;
        std::atomic<float>* attack = nullptr;
        std::atomic<float>* decay = nullptr;
        std::atomic<float>* sustain = nullptr;
        std::atomic<float>* release = nullptr;
        std::atomic<float>* velocityRange = nullptr;
        std::atomic<float>* pressureRange = nullptr;
        std::atomic<float>* pitchShift = nullptr;
        std::atomic<float>* loudnessShift = nullptr;
        std::array<std::atomic<float>*, 3> spectralShift {};
        std::atomic<float>* timbreA = nullptr;
        std::atomic<float>* timbreB = nullptr;
        std::atomic<float>* morph = nullptr;
        std::atomic<float>* outputGain = nullptr;
    } raw;

    // Audio thread.
    Playing* current = nullptr;
    Playing* unretired = nullptr; // replaced, waiting for a free retirement slot
    std::vector<SynthEvent> events;
    std::vector<float> fadeScratch;
    std::atomic<bool> resetRequested { false };
    int structuralPolyphony = -1, structuralMono = -1, structuralThreaded = -1;
    bool threadedWanted() const;

    // Handed between threads.
    std::atomic<Playing*> pending { nullptr };
    std::array<std::atomic<Playing*>, 8> retired {};
    std::atomic<int> loadsPending { 0 };
    std::atomic<int> latestLatency { 0 }, latestVoices { 0 }, latestSounding { 0 }, latestClamped { 0 }, latestUnderruns { 0 };
    // The engine the audio thread plays, published before the one it replaces is retired, so
    // the message thread can ask it whether its worker is idle (retireMutex keeps it alive).
    std::atomic<SynthEngine*> liveEngine { nullptr };
    std::mutex retireMutex;
    std::atomic<int> generation { 0 };

    // The on-screen keyboard's notes: written on the message thread, read on the audio thread.
    juce::AbstractFifo keyboardFifo { 256 };
    std::array<SynthEvent, 256> keyboardEvents {};
    // Keys held (audio thread), published as four 32-bit words.
    std::bitset<128> keys;
    std::array<std::atomic<uint32_t>, 4> publishedKeys {};

    // Loader thread and what it was asked.
    mutable std::mutex loaderMutex;
    std::condition_variable loaderWake, loaderDone;
    std::optional<Request> queued;
    uint64_t nextTicket = 1, servedTicket = 0;
    juce::String modelReference, statusMessage, servedError, playingName, playingTimbres;
    ModelView playingView;
    double preparedRate = 0.0;
    int preparedBlock = 0;
    bool stopping = false;
    std::thread loader;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR (SynthProcessor)
};
} // namespace timbrel
