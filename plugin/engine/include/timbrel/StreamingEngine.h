#pragma once
// The model in the host's signal path: hop buffering, descriptor shifts, latency-compensated
// dry/wet, and the latency the host must be told. Torch-free header (the model is pimpl'd).

#include "timbrel/HopBuffer.h"
#include "timbrel/Model.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace timbrel
{
/** Control values for one block, indexed like kDescriptorVocabulary. */
struct EngineControls
{
    std::array<float, kVocabularySize> shifts {};
    float mix = 1.0f; // 0 = dry only, 1 = model only
};

class StreamingEngine
{
public:
    explicit StreamingEngine (std::unique_ptr<Model> model);

    /** Allocates buffers and warms the model up for this channel count. Returns a plain-words
        error when the model cannot run in this configuration; the engine then plays the dry
        signal delayed by latencySamples(), so the reported latency holds either way. */
    std::string prepare (double hostSampleRate, int maxBlockSize, int numChannels);

    bool isActive() const { return active; }
    bool isPreparedFor (double hostSampleRate, int maxBlockSize, int numChannels) const;
    const ModelInfo& info() const { return model->info(); }

    /** Host-visible latency: one hop of buffering plus the model's own delay. */
    int latencySamples() const;

    /** Clears the model's streaming state and every buffer. */
    void reset();

    /** Starts the next block at this mix instead of ramping from the last one (a new render). */
    void jumpToMix (float mix) { previousMix = mix; }

    /** Processes `numSamples` of `numChannels` audio; `in` and `out` may alias. Blocks larger
        than prepared are split. Non-finite input is zeroed before it reaches the model. */
    void process (const float* const* in, float* const* out, int numChannels, int numSamples,
                  const EngineControls& controls) noexcept;

    /** Hops the model failed to compute since prepare (the dry hop was played instead). */
    int failedHops() const { return failures; }

private:
    void runHop (const float* in, float* out) noexcept;

    std::unique_ptr<Model> model;
    HopBuffer hopBuffer;
    DelayLine dryDelay;
    std::vector<float> dryScratch;
    std::vector<float*> dryPointers;
    std::vector<float> hopShifts;
    std::vector<ShiftKind> hopKinds;
    std::array<int, kVocabularySize> vocabularyToModel {};
    EngineControls blockControls;
    double preparedRate = 0.0;
    int preparedBlock = 0, preparedChannels = 0;
    float previousMix = 1.0f;
    bool active = false, buffersReady = false;
    int failures = 0;
};
} // namespace timbrel
