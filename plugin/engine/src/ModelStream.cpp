#include "timbrel/ModelStream.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace timbrel
{
namespace
{
// Fader moves and source switches glide over about 50 ms of latent frames.
constexpr double kRampSeconds = 0.05; // timbrel.hosts.plugin.RAMP_SECONDS in Python
} // namespace

std::string ModelStream::prepare (const Config& c)
{
    config = c;
    const auto& info = model.info();
    hop = info.hopLength;
    hopMeters.prepare (info.numDescriptors(), hop);

    const double modelRate = info.sampleRate;
    for (auto* r : { &inMain, &inSide })
        if (auto error = r->prepare (config.hostRate, modelRate, config.batch, config.maxBlockSize); ! error.empty())
            return error;
    if (auto error = outResampler.prepare (modelRate, config.hostRate, config.batch, hop); ! error.empty())
        return error;

    maxResampled = inMain.maxOutputFor (config.maxBlockSize);
    maxOutPerHop = outResampler.maxOutputFor (hop);
    // Fewer than a hop waits between blocks, so a block completes at most capacity / hop hops.
    capacity = hop - 1 + maxResampled;
    maxFrames = std::max (1, capacity / hop);
    const auto batch = static_cast<size_t> (config.batch);
    const size_t call = batch * static_cast<size_t> (maxFrames * hop);
    pendingMain.assign (batch * static_cast<size_t> (capacity), 0.0f);
    pendingSide.assign (config.sidechain ? pendingMain.size() : 0, 0.0f);
    callMain.assign (call, 0.0f);
    callSide.assign (config.sidechain ? call : 0, 0.0f);
    callOut.assign (call, 0.0f);
    measured.assign (batch * static_cast<size_t> (maxFrames * info.numDescriptors()), 0.0f);
    targets.assign (measured.size(), 0.0f);
    mixes.assign (static_cast<size_t> (maxFrames * info.numDescriptors()), DescriptorMix {});
    latentOffsets.assign (static_cast<size_t> (maxFrames * info.latentSize), 0.0f);
    latentScales.assign (latentOffsets.size(), 1.0f);
    generateWeights.assign (static_cast<size_t> (maxFrames), 0.0f);
    temperatures.assign (static_cast<size_t> (maxFrames), 1.0f);
    const bool timbres = hasTimbreSection (info);
    timbreWeights.assign (timbres ? static_cast<size_t> (maxFrames) : 0, 0.0f);
    timbreLatents.assign (timbres ? static_cast<size_t> (maxFrames * info.latentSize) : 0, 0.0f);
    // Capture works on any Timbrel model's latent (a model without named timbres has nothing to
    // morph to, but its latent can still be captured); nn~ modules report no latent here.
    const bool captures = info.kind == ModelKind::timbrel && info.latentSize <= kMaxTimbreLatent;
    inputLatents.assign (captures ? batch * static_cast<size_t> (maxFrames * info.latentSize) : 0, 0.0f);
    history.prepare (captures ? info.latentSize : 0);
    loudnessIndex = info.descriptorIndex ("loudness").value_or (-1);
    flatnessIndex = info.descriptorIndex ("flatness").value_or (-1);
    pitchIndex = info.descriptorIndex ("pitch").value_or (-1);
    hopsSinceReset = 0;
    resampledOut.assign (batch * static_cast<size_t> (maxOutPerHop), 0.0f);
    mainPtrs.resize (batch);
    sidePtrs.resize (batch);
    outPtrs.resize (batch);
    hopOutPtrs.resize (batch);
    for (size_t ch = 0; ch < batch; ++ch)
        outPtrs[ch] = resampledOut.data() + ch * static_cast<size_t> (maxOutPerHop);

    const double hopSeconds = hop / modelRate;
    smoother.prepare (info, static_cast<int> (std::lround (kRampSeconds / hopSeconds)));
    lag = measureLag();
    reset();
    return {};
}

void ModelStream::reset()
{
    model.reset();
    inMain.reset();
    inSide.reset();
    outResampler.reset();
    std::fill (pendingMain.begin(), pendingMain.end(), 0.0f);
    std::fill (pendingSide.begin(), pendingSide.end(), 0.0f);
    fill = 0;
    smoother.jumpToTargets();
    hopsSinceReset = 0;
    ++resets;
}

int ModelStream::hopInHostSamples() const
{
    return static_cast<int> (std::ceil (hop * config.hostRate / model.info().sampleRate - 1e-9));
}

int ModelStream::modelLatencyInHostSamples (int modelSamplesOverride) const
{
    const int modelSamples = modelSamplesOverride >= 0 ? modelSamplesOverride : model.info().latencySamples;
    return static_cast<int> (std::lround (modelSamples * config.hostRate / model.info().sampleRate));
}

int ModelStream::measureLag() const
{
    // Counts only: how far output production trails input, fed one sample at a time through
    // fresh resamplers of the same configuration. Larger host blocks never trail further.
    const int batch = 1;
    Resampler in, out;
    in.prepare (config.hostRate, model.info().sampleRate, batch, 1);
    out.prepare (model.info().sampleRate, config.hostRate, batch, hop);
    std::vector<float> inScratch (static_cast<size_t> (in.maxOutputFor (1))), hopFrame (static_cast<size_t> (hop), 0.0f);
    std::vector<float> outScratch (static_cast<size_t> (out.maxOutputFor (hop)));
    const float zero = 0.0f;
    const float* inPtr[1] = { &zero };
    float* inOut[1] = { inScratch.data() };
    const float* hopPtr[1] = { hopFrame.data() };
    float* outOut[1] = { outScratch.data() };

    const int total = 6 * hopInHostSamples() + 4096;
    long produced = 0;
    int fillCount = 0, worst = 0;
    for (int n = 1; n <= total; ++n)
    {
        fillCount += in.process (inPtr, 1, inOut, static_cast<int> (inScratch.size()));
        while (fillCount >= hop)
        {
            fillCount -= hop;
            produced += out.process (hopPtr, hop, outOut, static_cast<int> (outScratch.size()));
        }
        worst = std::max (worst, static_cast<int> (n - produced));
    }
    return worst;
}

void ModelStream::pump (const float* const* main, const float* const* sidechain, int n, const EngineControls& controls,
                        SampleRing& out) noexcept
{
    // Resample straight behind the samples of the hop in progress.
    const bool withSidechain = config.sidechain && sidechain != nullptr;
    const auto stride = static_cast<size_t> (capacity);
    for (size_t ch = 0; ch < mainPtrs.size(); ++ch)
    {
        mainPtrs[ch] = pendingMain.data() + ch * stride + static_cast<size_t> (fill);
        if (config.sidechain)
            sidePtrs[ch] = pendingSide.data() + ch * stride + static_cast<size_t> (fill);
    }
    const int k = inMain.process (main, n, mainPtrs.data(), maxResampled);
    if (config.sidechain)
    {
        // The sidechain stream advances with the input even when the host sends none.
        const int ks = withSidechain ? inSide.process (sidechain, n, sidePtrs.data(), maxResampled) : 0;
        if (! withSidechain || ks != k)
            for (auto* p : sidePtrs)
                std::fill (p + (withSidechain ? ks : 0), p + k, 0.0f);
    }

    const int available = fill + k;
    const int frames = available / hop;
    fill = available - frames * hop;
    if (frames == 0)
        return;

    // The completed hops, channel-major for the model; NaN and Inf never reach it.
    const int length = frames * hop;
    auto pack = [&] (const std::vector<float>& pending, std::vector<float>& call) {
        for (size_t ch = 0; ch < mainPtrs.size(); ++ch)
        {
            const float* from = pending.data() + ch * stride;
            float* to = call.data() + ch * static_cast<size_t> (length);
            for (int i = 0; i < length; ++i)
                to[i] = std::isfinite (from[i]) ? from[i] : 0.0f;
        }
    };
    pack (pendingMain, callMain);
    if (config.sidechain)
        pack (pendingSide, callSide);
    // The hop in progress moves to the front.
    for (size_t ch = 0; ch < mainPtrs.size(); ++ch)
    {
        std::copy_n (pendingMain.data() + ch * stride + length, fill, pendingMain.data() + ch * stride);
        if (config.sidechain)
            std::copy_n (pendingSide.data() + ch * stride + length, fill, pendingSide.data() + ch * stride);
    }

    runHops (frames, controls);
    hopsSinceReset += frames;

    // Resampled back hop by hop, as the hops were produced one at a time before: the output
    // does not depend on how many hops a call took beyond the model's own rounding.
    for (int f = 0; f < frames; ++f)
    {
        for (size_t ch = 0; ch < hopOutPtrs.size(); ++ch)
            hopOutPtrs[ch] = callOut.data() + ch * static_cast<size_t> (length) + static_cast<size_t> (f * hop);
        const int produced = outResampler.process (hopOutPtrs.data(), hop, outPtrs.data(), maxOutPerHop);
        out.write (outPtrs.data(), produced); // a full ring means nobody is listening: drop
    }
}

void ModelStream::runHops (int frames, const EngineControls& controls) noexcept
{
    const auto& info = model.info();
    const size_t numDescriptors = static_cast<size_t> (info.numDescriptors()), latents = static_cast<size_t> (info.latentSize);
    for (size_t f = 0; f < static_cast<size_t> (frames); ++f)
    {
        smoother.advance (controls, config.sidechain);
        std::copy_n (smoother.mixes(), numDescriptors, mixes.data() + f * numDescriptors);
        std::copy_n (smoother.latentOffset(), latents, latentOffsets.data() + f * latents);
        std::copy_n (smoother.latentScale(), latents, latentScales.data() + f * latents);
        generateWeights[f] = smoother.generateWeight();
        temperatures[f] = smoother.temperature();
        if (! timbreWeights.empty())
        {
            timbreWeights[f] = smoother.timbreWeight();
            std::copy_n (smoother.timbreLatent(), latents, timbreLatents.data() + f * latents);
        }
    }
    Model::HopRequest request;
    request.batch = config.batch;
    request.frames = frames;
    request.input = callMain.data();
    request.sidechain = config.sidechain ? callSide.data() : nullptr;
    request.output = callOut.data();
    request.mixes = mixes.data();
    request.latentOffset = latentOffsets.data();
    request.latentScale = latentScales.data();
    if (info.hasPrior)
    {
        request.generateWeight = generateWeights.data();
        request.temperature = temperatures.data();
    }
    if (! timbreWeights.empty())
    {
        request.timbreWeight = timbreWeights.data();
        request.timbreLatent = timbreLatents.data();
    }
    request.measured = measured.data();
    request.targets = targets.data();
    request.latents = inputLatents.empty() ? nullptr : inputLatents.data();

    const size_t samples = static_cast<size_t> (config.batch * frames * hop);
    const auto started = std::chrono::steady_clock::now();
    bool ok = model.processHops (request);
    if (ok)
    {
        for (size_t i = 0; ok && i < samples; ++i)
            ok = std::isfinite (callOut[i]);
        if (! ok)
            model.reportFailure ("the model returned NaN or Inf");
    }
    if (! ok)
    {
        // Play the hops dry rather than garbage; clearing the model's state lets it recover.
        failures.fetch_add (frames, std::memory_order_relaxed);
        std::copy_n (callMain.begin(), samples, callOut.begin());
        model.reset();
        return;
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    const double hopSeconds = hop / static_cast<double> (info.sampleRate);
    const size_t perHop = static_cast<size_t> (config.batch) * numDescriptors;
    const size_t latentsPerHop = static_cast<size_t> (config.batch) * latents;
    for (size_t f = 0; f < static_cast<size_t> (frames); ++f)
    {
        const float* hopDescriptors = measured.data() + f * perHop;
        hopMeters.publish (hopDescriptors, targets.data() + f * perHop, callOut.data() + f * static_cast<size_t> (hop),
                           took.count() / frames, hopSeconds);
        if (track != nullptr && pitchIndex >= 0 && loudnessIndex >= 0)
        {
            const double hostPerModel = config.hostRate / info.sampleRate;
            const auto first = static_cast<long long> (std::llround (static_cast<double> (hopsSinceReset + static_cast<long long> (f))
                                                                     * hop * hostPerModel));
            track->push ({ first, hopDescriptors[pitchIndex], hopDescriptors[loudnessIndex], resets }); // full: nobody reads
        }
        if (! inputLatents.empty())
            history.publish (inputLatents.data() + f * latentsPerHop,
                             loudnessIndex >= 0 ? hopDescriptors[loudnessIndex] : NAN,
                             flatnessIndex >= 0 ? hopDescriptors[flatnessIndex] : NAN);
    }
}
} // namespace timbrel
