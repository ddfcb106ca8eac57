#pragma once
// The JUCE processor: wires host buses, parameters and state to the engine. Signal processing,
// model validation, latency arithmetic and the lock-free engine switch live in plugin/engine.

#include "Parameters.h"

#include <timbrel/EngineSwitcher.h>
#include <timbrel/NoteTracker.h>

#include <juce_audio_processors/juce_audio_processors.h>

#include <array>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace timbrel
{
class TimbrelProcessor final : public juce::AudioProcessor, private juce::Timer
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
    bool producesMidi() const override { return true; } // the tracked pitch (midi_out)
    bool isMidiEffect() const override { return false; }
    double getTailLengthSeconds() const override { return 0.0; }
    int getNumPrograms() override { return 1; }
    int getCurrentProgram() override { return 0; }
    void setCurrentProgram (int) override {}
    // One program, named: validators (Steinberg's) and LV2 presets want a name for it.
    const juce::String getProgramName (int) override { return "Default"; }
    void changeProgramName (int, const juce::String&) override {}
    juce::AudioProcessorParameter* getBypassParameter() const override { return bypassParameter; }

    void getStateInformation (juce::MemoryBlock& destData) override;
    void setStateInformation (const void* data, int sizeInBytes) override;

    /** Loads a model (a name from the model folders or an absolute path) on the loader thread
        and switches to it with a short crossfade (at once when offline). The newest request
        wins: one not yet started is replaced. `async`: return at once (the constructor, state
        restore, the editor: a host's UI thread never waits for a model); otherwise wait until
        this request has been served (tools and tests). On failure the previous model keeps
        playing when `keepPreviousOnFailure`, otherwise audio passes dry. Returns the error,
        empty on success (always empty when async: see getStatusMessage()). */
    juce::String loadModel (const juce::String& reference, bool keepPreviousOnFailure, bool async = false);

    /** The model's own delay in model-rate samples, as the user sets it (nn~ modules declare
        none; the load-time probe measures it); -1 returns to the model's figure. Saved in the
        state with the model; rebuilds the engine, so the host hears the new latency. */
    void setModelLatencyOverride (int modelSamples);
    /** The user picks a model (the editor): it plays with its own delay figure. */
    void chooseModel (const juce::String& reference);
    int getModelLatencyOverride() const;

    /** A requested load has not finished yet. */
    bool isLoading() const;

    /** The model a saved session names: the one playing, or the one being loaded. */
    juce::String getModelReference() const;
    /** "" when a model runs, else what is wrong (or what is loading), in words. */
    juce::String getStatusMessage() const;

    // ---- the editor's view (message thread) ----

    /** A fader slot as the loaded model defines it: inactive when the model lacks the descriptor. */
    struct SlotView
    {
        bool active = false;
        juce::String name, unit;
        float min = 0.0f, max = 1.0f; // the model's useful range (from its training data)
    };

    struct ModelView
    {
        bool hasModel = false;
        juce::String reference, name, instrument, description;
        int modelRate = 0, hop = 0, latentSize = 0, latencySamples = 0;
        bool nnModule = false;      // an nn~ module (RAVE's exports): no descriptors
        bool hasPrior = false;      // Generate and Temperature act
        int modelLatency = 0;       // the model's own delay in model samples: declared or measured
        juce::String latencyNote;   // how the measured figure was found
        int latencyOverride = -1;   // the user's figure, or -1
        double hostRate = 0.0;
        std::array<SlotView, kNumFaderSlots> slots {};
        // The timbre section (docs/model-format.md, "Timbres").
        bool hasTimbres = false;        // named timbres: Snapshot, Morph, Variation and the map act
        bool hasNatural = false;        // the Natural source acts (otherwise it plays as Input)
        bool hasAxes = false;           // latent knobs move along the principal axes
        juce::StringArray timbreNames;
        std::vector<juce::Point<float>> timbreMap; // each named timbre on the first two principal axes
    };
    ModelView describeModel() const;

    // ---- the timbre section (message thread) ----

    /** What a snapshot slot (0 = A, 1 = B) holds: a named timbre of the model, or a capture. */
    struct SnapshotView
    {
        juce::String name;     // the timbre's name, or "Captured"
        bool captured = false;
        std::vector<float> latent;
    };
    SnapshotView getSnapshot (int slot) const;
    /** Sets a slot to one of the model's named timbres; returns the error ("" on success). */
    juce::String setSnapshotTimbre (int slot, const juce::String& name);
    /** Sets a slot to the mean latent of the last `seconds` of sounding input (Capture). On
        silence or noise the slot keeps its snapshot; the error says why ("" on success). */
    juce::String captureSnapshot (int slot, double seconds = 3.0);
    /** The last thing the timbre section has to say (a refused capture, a snapshot that could
        not be restored), "" if nothing. */
    juce::String getTimbreMessage() const;
    /** Where the latent being played sits on the map (the first two principal axes): the
        input's latent, the snapshot, or between them as Timbre Source glides. False without axes. */
    bool currentMapPoint (juce::Point<float>& point) const;

    /** Changes whenever a model load finishes (successfully or not). */
    int modelGeneration() const { return generation.load(); }

    struct MeterFrame
    {
        uint32_t hops = 0;          // hops computed so far by the engine metered
        bool outputValid = false;   // `output` measured this poll
        std::array<float, kNumFaderSlots> input {}, target {}, output {};
        float modelLoad = 0.0f;     // compute time over audio time per hop
        int underruns = 0, failedHops = 0;
        std::string failure;        // the model's words for its last failed hop
    };
    /** Reads the latest engine's meters and measures the output it produced since the last
        poll (a copy of the model's analysis, run here on the calling thread). */
    bool pollMeters (MeterFrame& frame);
    /** The editor taps the output only while it is open. */
    void setMetering (bool enabled);

    juce::AudioProcessorValueTreeState parameters;

private:
    static BusesProperties busLayout();
    float currentMix() const;
    EngineConfig wantedConfig() const;
    EngineControls readControls (bool forceBypass) const;
    void processWithBypass (juce::AudioBuffer<float>& buffer, bool forceBypass);
    /** The playing engine's tracked hops of this block as MIDI notes and bends (midi_out). */
    void writeMidiOut (juce::MidiBuffer& midi, bool bypassed);
    void timerCallback() override;

    /** Loads, prepares and publishes an engine for `reference` (the loader thread). */
    juce::String buildAndPublish (const juce::String& reference, bool keepPreviousOnFailure);
    void publishStatus (const juce::String& reference, const juce::String& status, int latency);
    EngineConfig wantedConfigLocked() const;
    void loaderLoop();
    /** Offline only (prepareToPlay, processBlock): returns once every requested load is done. */
    void waitForLoads();

    struct ParameterRefs
    {
        std::atomic<float>* mix = nullptr;
        std::atomic<float>* outputGain = nullptr;
        std::atomic<float>* bypass = nullptr;
        std::atomic<float>* processingMode = nullptr;
        std::atomic<float>* stereoMode = nullptr;
        std::atomic<float>* threadedMargin = nullptr;
        std::atomic<float>* generate = nullptr;
        std::atomic<float>* temperature = nullptr;
        std::atomic<float>* timbreSource = nullptr;
        std::atomic<float>* morph = nullptr;
        std::atomic<float>* variation = nullptr;
        std::atomic<float>* midiOut = nullptr;
        std::atomic<float>* midiBendRange = nullptr;
        std::atomic<float>* midiGate = nullptr;
        std::array<std::atomic<float>*, kNumFaderSlots> source {}, shift {}, fixed {};
        std::array<std::atomic<float>*, kNumLatentControls> latentOffset {}, latentScale {};
    } parameterRefs;
    juce::AudioProcessorParameter* bypassParameter = nullptr;

    EngineSwitcher engines;    // the audio thread's only view of models
    float previousGain = 1.0f; // audio thread
    std::atomic<bool> playingInRealtime { false }; // set by the audio thread, read by the timer
    std::atomic<bool> gainJumpRequested { false }; // reset(): the next block starts at the gain
    // MIDI out (audio thread): one line of notes from the engine playing; a new engine, bypass or
    // the switch turned off end the sounding note.
    NoteTracker noteTracker;
    MidiOutBlock midiOutBlock;
    const StreamingEngine* trackedEngine = nullptr;
    std::atomic<bool> midiNotesOffRequested { false }; // reset(): end the note at the next block

    // Non-audio threads (message thread, loader): guarded by stateMutex. The audio thread
    // never takes it; offline, it waits for loads through loadMutex only.
    mutable std::mutex stateMutex;
    juce::String modelReference, statusMessage;
    EngineConfig preparedConfig;
    bool prepared = false;
    int modelLatencyOverride = -1; // model samples, -1: the model's own figure

    // The timbre snapshots (guarded by stateMutex) and the engine's lock-free copy of them.
    struct Snapshot
    {
        juce::String name;      // a named timbre, or "Captured"
        bool captured = false;
        juce::String modelName; // the model it was taken from (a capture means nothing in another model)
        std::vector<float> latent;
    };
    std::array<Snapshot, TimbreSlots::kNumSlots> snapshots;
    TimbreSlots timbreSlots;
    juce::String timbreMessage;
    bool snapshotsFromState = false; // restored from a session: checked against the model strictly
    /** Matches the snapshots to the model now playing (stateMutex held): a named timbre takes
        the model's latent for that name; a snapshot the model cannot play falls back to its
        first timbre, and timbreMessage says why. Then publishes them to timbreSlots. */
    void resolveSnapshotsLocked (const ModelInfo& info);
    void publishSnapshotLocked (int slot);

    // The loader: one thread for the processor's lifetime, fed the newest request.
    struct LoadRequest
    {
        juce::String reference;
        bool keepPreviousOnFailure = false;
    };
    mutable std::mutex loadMutex;
    std::condition_variable loadRequested, loadFinished;
    std::optional<LoadRequest> nextLoad;
    juce::String requestedReference; // the newest request's model
    long requestedLoads = 0, finishedLoads = 0; // tickets; a load is pending while they differ
    juce::String lastLoadError;
    bool stopLoader = false;
    std::atomic<bool> loadPending { false };
    std::thread loader;
    std::atomic<int> generation { 0 };

    // Metering (message thread).
    bool metering = false;
    StreamingEngine* meteredEngine = nullptr;
    std::vector<float> tapScratch;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR (TimbrelProcessor)
};
} // namespace timbrel
