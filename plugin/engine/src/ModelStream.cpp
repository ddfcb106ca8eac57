#include "timbrel/ModelStream.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace timbrel
{
namespace
{
// Fader moves and source switches glide over about 50 ms of latent frames.
constexpr double kRampSeconds = 0.05;
} // namespace

std::string ModelStream::prepare (const Config& c)
{
    config = c;
    const auto& info = model.info();
    hop = info.hopLength;
    const size_t frame = static_cast<size_t> (config.batch * hop);
    hopMain.assign (frame, 0.0f);
    hopSide.assign (frame, 0.0f);
    hopOut.assign (frame, 0.0f);
    measured.assign (static_cast<size_t> (config.batch * info.numDescriptors()), 0.0f);
    targets.assign (measured.size(), 0.0f);
    hopMeters.prepare (info.numDescriptors(), hop);

    const double modelRate = info.sampleRate;
    for (auto* r : { &inMain, &inSide })
        if (auto error = r->prepare (config.hostRate, modelRate, config.batch, config.maxBlockSize); ! error.empty())
            return error;
    if (auto error = outResampler.prepare (modelRate, config.hostRate, config.batch, hop); ! error.empty())
        return error;

    maxResampled = inMain.maxOutputFor (config.maxBlockSize);
    maxOutPerHop = outResampler.maxOutputFor (hop);
    resampledMain.assign (static_cast<size_t> (config.batch * maxResampled), 0.0f);
    resampledSide.assign (resampledMain.size(), 0.0f);
    resampledOut.assign (static_cast<size_t> (config.batch * maxOutPerHop), 0.0f);
    mainPtrs.resize (static_cast<size_t> (config.batch));
    sidePtrs.resize (mainPtrs.size());
    outPtrs.resize (mainPtrs.size());
    hopOutPtrs.resize (mainPtrs.size());
    for (size_t ch = 0; ch < mainPtrs.size(); ++ch)
    {
        mainPtrs[ch] = resampledMain.data() + ch * static_cast<size_t> (maxResampled);
        sidePtrs[ch] = resampledSide.data() + ch * static_cast<size_t> (maxResampled);
        outPtrs[ch] = resampledOut.data() + ch * static_cast<size_t> (maxOutPerHop);
        hopOutPtrs[ch] = hopOut.data() + ch * static_cast<size_t> (hop);
    }

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
    std::fill (hopMain.begin(), hopMain.end(), 0.0f);
    std::fill (hopSide.begin(), hopSide.end(), 0.0f);
    fill = 0;
    smoother.jumpToTargets();
}

int ModelStream::hopInHostSamples() const
{
    return static_cast<int> (std::ceil (hop * config.hostRate / model.info().sampleRate - 1e-9));
}

int ModelStream::modelLatencyInHostSamples() const
{
    return static_cast<int> (std::lround (model.info().latencySamples * config.hostRate / model.info().sampleRate));
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
    const bool withSidechain = config.sidechain && sidechain != nullptr;
    const int k = inMain.process (main, n, mainPtrs.data(), maxResampled);
    if (config.sidechain)
    {
        // The sidechain stream advances with the input even when the host sends none.
        const int ks = withSidechain ? inSide.process (sidechain, n, sidePtrs.data(), maxResampled) : 0;
        if (! withSidechain || ks != k)
            for (auto* p : sidePtrs)
                std::fill (p + (withSidechain ? ks : 0), p + k, 0.0f);
    }

    for (int done = 0; done < k;)
    {
        const int take = std::min (hop - fill, k - done);
        for (int ch = 0; ch < config.batch; ++ch)
        {
            std::copy (mainPtrs[static_cast<size_t> (ch)] + done, mainPtrs[static_cast<size_t> (ch)] + done + take,
                       hopMain.data() + ch * hop + fill);
            if (config.sidechain)
                std::copy (sidePtrs[static_cast<size_t> (ch)] + done, sidePtrs[static_cast<size_t> (ch)] + done + take,
                           hopSide.data() + ch * hop + fill);
        }
        fill += take;
        done += take;
        if (fill == hop)
        {
            fill = 0;
            runHop (controls);
            const int produced = outResampler.process (hopOutPtrs.data(), hop, outPtrs.data(), maxOutPerHop);
            out.write (outPtrs.data(), produced); // a full ring means nobody is listening: drop
        }
    }
}

void ModelStream::runHop (const EngineControls& controls) noexcept
{
    for (auto* frame : { &hopMain, &hopSide })
        for (auto& v : *frame)
            if (! std::isfinite (v))
                v = 0.0f;

    smoother.advance (controls, config.sidechain);
    Model::HopRequest request;
    request.batch = config.batch;
    request.input = hopMain.data();
    request.sidechain = config.sidechain ? hopSide.data() : nullptr;
    request.output = hopOut.data();
    request.mixes = smoother.mixes();
    request.latentOffset = smoother.latentOffset();
    request.latentScale = smoother.latentScale();
    request.measured = measured.data();
    request.targets = targets.data();

    const auto started = std::chrono::steady_clock::now();
    bool ok = model.processHop (request);
    for (size_t i = 0; ok && i < hopOut.size(); ++i)
        ok = std::isfinite (hopOut[i]);
    if (! ok)
    {
        // Play the hop dry rather than garbage; clearing the model's state lets it recover.
        failures.fetch_add (1, std::memory_order_relaxed);
        std::copy (hopMain.begin(), hopMain.end(), hopOut.begin());
        model.reset();
        return;
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    hopMeters.publish (measured.data(), targets.data(), hopOut.data(), took.count(), hop / static_cast<double> (model.info().sampleRate));
}
} // namespace timbrel
