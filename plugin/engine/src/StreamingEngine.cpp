#include "timbrel/StreamingEngine.h"

#include <cmath>

namespace timbrel
{
StreamingEngine::StreamingEngine (std::unique_ptr<Model> m) : model (std::move (m))
{
    const auto& info = model->info();
    for (int v = 0; v < kVocabularySize; ++v)
        vocabularyToModel[static_cast<size_t> (v)] = info.descriptorIndex (kDescriptorVocabulary[static_cast<size_t> (v)].name).value_or (-1);

    hopShifts.assign (static_cast<size_t> (info.numDescriptors()), 0.0f);
    hopKinds.assign (hopShifts.size(), ShiftKind::add);
    for (int v = 0; v < kVocabularySize; ++v)
        if (const int index = vocabularyToModel[static_cast<size_t> (v)]; index >= 0)
            hopKinds[static_cast<size_t> (index)] = kDescriptorVocabulary[static_cast<size_t> (v)].shiftKind;
}

bool StreamingEngine::isPreparedFor (double hostSampleRate, int maxBlockSize, int numChannels) const
{
    return preparedRate == hostSampleRate && preparedBlock >= maxBlockSize && preparedChannels == numChannels;
}

std::string StreamingEngine::prepare (double hostSampleRate, int maxBlockSize, int numChannels)
{
    active = false;
    buffersReady = false;
    preparedRate = hostSampleRate;
    preparedBlock = std::max (1, maxBlockSize);
    preparedChannels = numChannels;
    failures = 0;

    if (numChannels < 1 || numChannels > 2)
        return "only mono and stereo are supported, got " + std::to_string (numChannels) + " channels";

    const auto& info = model->info();
    hopBuffer.prepare (numChannels, info.hopLength);
    dryDelay.prepare (numChannels, latencySamples());
    dryScratch.assign (static_cast<size_t> (numChannels * preparedBlock), 0.0f);
    dryPointers.resize (static_cast<size_t> (numChannels));
    for (int ch = 0; ch < numChannels; ++ch)
        dryPointers[static_cast<size_t> (ch)] = dryScratch.data() + static_cast<size_t> (ch * preparedBlock);
    buffersReady = true;

    // From here on a failure still plays the dry signal delayed by the reported latency, so
    // the track stays where the host put it whether or not the model runs.
    if (std::lround (hostSampleRate) != info.sampleRate)
        return "the model runs at " + std::to_string (info.sampleRate) + " Hz but the host runs at "
               + std::to_string (std::lround (hostSampleRate)) + " Hz; set the session to "
               + std::to_string (info.sampleRate) + " Hz (resampling is not available yet)";
    if (auto error = model->warmUp (numChannels); ! error.empty())
        return error;
    active = true;
    return {};
}

int StreamingEngine::latencySamples() const
{
    return model->info().hopLength + model->info().latencySamples;
}

void StreamingEngine::reset()
{
    model->reset();
    hopBuffer.reset();
    dryDelay.reset();
}

void StreamingEngine::runHop (const float* in, float* out) noexcept
{
    const size_t count = static_cast<size_t> (preparedChannels * model->info().hopLength);
    auto* input = const_cast<float*> (in); // the hop buffer's own frame: safe to clean in place
    for (size_t i = 0; i < count; ++i)
        if (! std::isfinite (input[i]))
            input[i] = 0.0f;

    for (int v = 0; v < kVocabularySize; ++v)
        if (const int index = vocabularyToModel[static_cast<size_t> (v)]; index >= 0)
            hopShifts[static_cast<size_t> (index)] = blockControls.shifts[static_cast<size_t> (v)];

    bool ok = model->processHop (in, out, preparedChannels, hopShifts.data(), hopKinds.data());
    for (size_t i = 0; ok && i < count; ++i)
        ok = std::isfinite (out[i]);
    if (! ok)
    {
        // Play the hop dry rather than garbage; the model state is cleared so it can recover.
        ++failures;
        std::copy (in, in + count, out);
        model->reset();
    }
}

void StreamingEngine::process (const float* const* in, float* const* out, int numChannels, int numSamples,
                               const EngineControls& controls) noexcept
{
    if (! buffersReady || numChannels != preparedChannels)
    {
        for (int ch = 0; ch < numChannels; ++ch)
            if (in[ch] != out[ch])
                std::copy (in[ch], in[ch] + numSamples, out[ch]);
        return;
    }
    blockControls = controls;
    const float startMix = previousMix, endMix = controls.mix;
    float* chunkIn[2];
    float* chunkOut[2];

    for (int done = 0; done < numSamples;)
    {
        const int n = std::min (preparedBlock, numSamples - done);
        for (int ch = 0; ch < numChannels; ++ch)
        {
            chunkIn[ch] = const_cast<float*> (in[ch]) + done;
            chunkOut[ch] = out[ch] + done;
        }
        dryDelay.process (chunkIn, dryPointers.data(), n);
        if (! active)
        {
            // A model that cannot run plays the dry signal at the reported latency.
            for (int ch = 0; ch < numChannels; ++ch)
                std::copy (dryPointers[static_cast<size_t> (ch)], dryPointers[static_cast<size_t> (ch)] + n, chunkOut[ch]);
            done += n;
            continue;
        }
        hopBuffer.process (chunkIn, chunkOut, n, [this] (const float* i, float* o) { runHop (i, o); });

        // Mix ramps linearly over the block from the previous block's value: no zipper noise.
        for (int ch = 0; ch < numChannels && ! (startMix == 1.0f && endMix == 1.0f); ++ch)
        {
            const float* dry = dryPointers[static_cast<size_t> (ch)];
            for (int i = 0; i < n; ++i)
            {
                const float mix = startMix + (endMix - startMix) * static_cast<float> (done + i + 1) / static_cast<float> (numSamples);
                const float drySample = std::isfinite (dry[i]) ? dry[i] : 0.0f;
                chunkOut[ch][i] = mix * chunkOut[ch][i] + (1.0f - mix) * drySample;
            }
        }
        done += n;
    }
    previousMix = endMix;
}
} // namespace timbrel
