#include "NnTildeModule.h"

#include "LatentControls.h"
#include "TorchText.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <random>
#include <stdexcept>

namespace timbrel
{
namespace
{
const char* const kKnownMethods[] = { "encode", "decode", "forward", "prior" };
constexpr int kMaxHop = 8192;
constexpr int kMaxChannels = 2;
constexpr uint64_t kProbeSeed = 20261201; // decode's noise (RAVE fills cropped latents with randn) repeats

struct Ratios
{
    int64_t inChannels = 0, inRatio = 0, outChannels = 0, outRatio = 0;
};

std::string quoted (const std::vector<std::string>& names)
{
    std::string s;
    for (const auto& n : names)
    {
        s += s.empty() ? "" : ", ";
        s += n;
    }
    return s.empty() ? "none" : s;
}

// nn~ reads `<method>_params` as four ints: [in_channels, in_ratio, out_channels, out_ratio].
std::optional<std::string> readRatios (const torch::jit::Module& module, const std::string& method, Ratios& out)
{
    const auto name = method + "_params";
    if (! module.hasattr (name) || ! module.attr (name).isTensor())
        return "nn~ module lists method '" + method + "' but has no '" + name
               + "' buffer (nn~ needs [in_channels, in_ratio, out_channels, out_ratio])";
    const auto t = module.attr (name).toTensor();
    if (t.numel() != 4 || ! (t.is_floating_point() || t.scalar_type() == at::kInt || t.scalar_type() == at::kLong))
        return "nn~ buffer '" + name + "' must hold 4 numbers, found shape " + sizesToString (t);
    const auto v = t.to (at::kLong).contiguous();
    const auto* p = v.data_ptr<int64_t>();
    out = { p[0], p[1], p[2], p[3] };
    if (out.inChannels < 1 || out.inRatio < 1 || out.outChannels < 1 || out.outRatio < 1)
        return "nn~ buffer '" + name + "' holds a value below 1";
    return std::nullopt;
}

std::vector<std::string> listedMethods (const torch::jit::Module& module)
{
    std::vector<std::string> methods;
    if (module.find_method ("get_methods"))
    {
        const auto listed = module.get_method ("get_methods") ({});
        if (listed.isList())
            for (const auto& item : listed.toListRef())
                if (item.isString())
                    methods.push_back (item.toStringRef());
        return methods;
    }
    // Older modules: nn~ falls back to the methods that have a params buffer.
    for (const char* name : kKnownMethods)
        if (module.hasattr (std::string (name) + "_params"))
            methods.emplace_back (name);
    return methods;
}

void seedRandom()
{
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock (generator.mutex());
    generator.set_current_seed (kProbeSeed);
}
} // namespace

bool isNnTildeModule (const torch::jit::Module& module)
{
    if (module.hasattr ("format_version"))
        return false;
    if (module.find_method ("get_methods"))
        return true;
    for (const char* name : kKnownMethods)
        if (module.hasattr (std::string (name) + "_params"))
            return true;
    return false;
}

std::optional<std::string> NnTildeModule::describe (const torch::jit::Module& module, ModelInfo& info)
{
    info.kind = ModelKind::nnTilde;
    const auto methods = listedMethods (module);
    auto has = [&] (const char* name) { return std::find (methods.begin(), methods.end(), name) != methods.end(); };
    for (const char* name : kKnownMethods)
        if (has (name) && ! module.find_method (name))
            return std::string ("nn~ module lists method '") + name + "' but has no such method";

    if (! module.hasattr ("sr") || ! module.attr ("sr").isInt())
        return std::string ("nn~ module has no int attribute 'sr' (its sample rate)");
    info.sampleRate = static_cast<int> (module.attr ("sr").toInt());
    if (info.sampleRate < 8000 || info.sampleRate > 384000)
        return "nn~ module's sr " + std::to_string (info.sampleRate) + " is outside 8000..384000 Hz";

    std::optional<std::string> encodeDecodeError;
    if (has ("encode") && has ("decode"))
    {
        Ratios enc, dec;
        if (auto error = readRatios (module, "encode", enc))
            return error;
        if (auto error = readRatios (module, "decode", dec))
            return error;
        const auto ratios = [] (const Ratios& r) {
            return "[" + std::to_string (r.inChannels) + "," + std::to_string (r.inRatio) + "," + std::to_string (r.outChannels) + ","
                   + std::to_string (r.outRatio) + "]";
        };
        if (enc.inRatio != 1 || dec.outRatio != 1 || enc.outRatio != dec.inRatio || enc.outChannels != dec.inChannels
            || enc.inChannels != dec.outChannels)
            encodeDecodeError = "nn~ module's encode_params " + ratios (enc) + " and decode_params " + ratios (dec)
                                + " do not make an audio-to-audio path (audio in at ratio 1, latents at one ratio, the same channels out)";
        else
        {
            info.playPath = "encode/decode";
            info.modelChannels = static_cast<int> (enc.inChannels);
            info.latentSize = static_cast<int> (enc.outChannels);
            info.hopLength = static_cast<int> (enc.outRatio);
            // A prior is played when it gives this latent at this ratio from a temperature.
            Ratios pri;
            if (has ("prior") && ! readRatios (module, "prior", pri))
                info.hasPrior = pri.inChannels == 1 && pri.inRatio == enc.outRatio && pri.outRatio == enc.outRatio
                                && pri.outChannels == enc.outChannels;
        }
    }
    if (info.playPath.empty() && has ("forward"))
    {
        Ratios fwd;
        if (auto error = readRatios (module, "forward", fwd))
            return error;
        if (fwd.inRatio != fwd.outRatio || fwd.inChannels != fwd.outChannels)
            return "nn~ module's forward_params [" + std::to_string (fwd.inChannels) + "," + std::to_string (fwd.inRatio) + ","
                   + std::to_string (fwd.outChannels) + "," + std::to_string (fwd.outRatio)
                   + "] do not map audio to audio (the same channels and ratio in and out)";
        info.playPath = "forward";
        info.modelChannels = static_cast<int> (fwd.inChannels);
        info.latentSize = 0;
        info.hopLength = fwd.inRatio > 1 ? static_cast<int> (fwd.inRatio) : 0; // 0: the probe finds one
    }
    if (info.playPath.empty())
    {
        if (encodeDecodeError)
            return encodeDecodeError;
        if (has ("prior"))
            return "nn~ module has only a prior (generation without an audio input); Timbrel plays modules with encode and "
                   "decode, or forward (methods: "
                   + quoted (methods) + ")";
        return "nn~ module has no audio-in/audio-out method: Timbrel needs encode and decode, or forward (methods: " + quoted (methods)
               + ")";
    }
    if (info.modelChannels > kMaxChannels)
        return "nn~ module takes " + std::to_string (info.modelChannels) + " audio channels; Timbrel plays mono and stereo modules";
    if (info.hopLength > kMaxHop)
        return "nn~ module's ratio " + std::to_string (info.hopLength) + " is above " + std::to_string (kMaxHop) + " samples";
    if (info.latentSize > 4096)
        return "nn~ module's latent size " + std::to_string (info.latentSize) + " is above 4096";

    info.modelName = std::filesystem::path (info.path).stem().string();
    info.moduleMethods = methods;
    return std::nullopt;
}

std::string NnTildeModule::card (const ModelInfo& info) const
{
    const auto& methods = info.moduleMethods;
    std::string text = "{\"kind\": \"nn~ module\", \"play\": \"" + info.playPath + "\", \"methods\": [";
    for (size_t i = 0; i < methods.size(); ++i)
    {
        std::string name;
        for (char c : methods[i])
            if (c != '"' && c != '\\' && static_cast<unsigned char> (c) >= 0x20)
                name += c;
        text += i ? ", \"" : "\"";
        text += name;
        text += '"';
    }
    const bool listsPrior = std::find (methods.begin(), methods.end(), "prior") != methods.end();
    text += std::string ("], \"prior\": ")
            + (info.hasPrior     ? "\"played (Generate)\""
               : priorFailed ? "\"not played (it failed its test)\""
               : listsPrior  ? "\"not played (its ratios do not match encode's)\""
                             : "null");
    text += std::string (", \"streaming\": ") + (info.streams ? "true" : "false");
    // What the editor shows under the model's name (plain ASCII: no JSON escaping needed).
    text += ", \"description\": \"nn~ module played through " + info.playPath
            + (info.latentSize > 0 ? " (the latent knobs move its latent)" : "") + "; no descriptors. Delay "
            + std::to_string (info.latencySamples) + " samples, " + info.latencyNote + "."
            + (info.streams ? "" : " Not a streaming export: each hop is computed apart, so hop edges may click (export it with --streaming).")
            + "\"}";
    return text;
}

NnTildeModule::NnTildeModule (torch::jit::Module m, const ModelInfo& info)
    : module (std::move (m)), channels (info.modelChannels), latentSize (info.latentSize), hop (info.hopLength)
{
    if (info.playPath == "encode/decode")
    {
        encode.emplace (module.get_method ("encode"));
        decode.emplace (module.get_method ("decode"));
        if (info.hasPrior)
            prior.emplace (module.get_method ("prior"));
    }
    else
        forward.emplace (module.get_method ("forward"));
    torch::NoGradGuard noGrad;
    for (const auto& buffer : module.named_buffers (/* recurse */ true))
        if (buffer.value.defined())
            buffersAtLoad.emplace_back (buffer.value, buffer.value.clone());
}

void NnTildeModule::reset()
{
    torch::NoGradGuard noGrad;
    for (auto& [live, atLoad] : buffersAtLoad)
        live.copy_ (atLoad);
    seedRandom(); // a render from the start repeats its noise (offline renders are deterministic)
}

at::Tensor NnTildeModule::play (const at::Tensor& x, int64_t frames, const float* latentOffset, const float* latentScale,
                                const float* generateWeight, const float* temperature)
{
    const int64_t batch = x.size (0), length = x.size (2);
    at::Tensor in = x;
    bool joint = false, downmix = false;
    if (channels > 1)
    {
        if (batch == channels)
        {
            in = x.reshape ({ 1, channels, length }); // host channels are the module's channels
            joint = true;
        }
        else if (batch == 1)
        {
            in = x.expand ({ 1, channels, length }).contiguous(); // a mono track feeds each channel, hears their mean
            downmix = true;
        }
        else
            throw std::runtime_error ("a " + std::to_string (channels) + "-channel nn~ module cannot play " + std::to_string (batch)
                                      + " channels: put it on a mono or " + std::to_string (channels) + "-channel track");
    }
    at::Tensor y;
    if (encode)
    {
        auto z = (*encode) ({ in }).toTensor();
        if (z.dim() != 3 || z.size (0) != in.size (0) || z.size (1) != latentSize || z.size (2) != frames)
            throw std::runtime_error ("encode returned shape " + sizesToString (z) + ", expected [" + std::to_string (in.size (0)) + ","
                                      + std::to_string (latentSize) + "," + std::to_string (frames) + "]");
        if (prior && generateWeight != nullptr)
            z = withPrior (z, frames, generateWeight, temperature);
        y = (*decode) ({ withLatentControls (z, frames, latentSize, latentOffset, latentScale) }).toTensor();
    }
    else
        y = (*forward) ({ in }).toTensor();
    if (y.dim() != 3 || y.size (0) != in.size (0) || y.size (1) != channels || y.size (2) != length)
        throw std::runtime_error (std::string (encode ? "decode" : "forward") + " returned shape " + sizesToString (y) + ", expected ["
                                  + std::to_string (in.size (0)) + "," + std::to_string (channels) + "," + std::to_string (length) + "]");
    if (joint)
        return y.reshape ({ batch, 1, length });
    if (downmix)
        return y.mean (1, /* keepdim */ true);
    return y;
}

at::Tensor NnTildeModule::withPrior (const at::Tensor& encoded, int64_t frames, const float* generateWeight, const float* temperature)
{
    bool any = false, all = true;
    for (int64_t f = 0; f < frames; ++f)
    {
        any = any || generateWeight[f] > 0.0f;
        all = all && generateWeight[f] >= 1.0f;
    }
    if (! any)
        return encoded;
    // The encoder still runs while generating: its streaming state keeps up with the input, so
    // switching back crossfades to a settled encoding.
    // One stream of latents for every channel: generation has no input to tell them apart, and
    // RAVE's exported prior keeps its last step for a batch of one only.
    const int64_t batch = encoded.size (0);
    auto temperatures = torch::empty ({ 1, 1, frames }, torch::kFloat32);
    auto* t = temperatures.data_ptr<float>();
    for (int64_t f = 0; f < frames; ++f)
        t[f] = temperature != nullptr ? temperature[f] : 1.0f;
    auto generated = (*prior) ({ temperatures }).toTensor();
    if (generated.dim() != 3 || generated.size (0) != 1 || generated.size (1) != latentSize || generated.size (2) != frames)
        throw std::runtime_error ("prior returned shape " + sizesToString (generated) + ", expected [1," + std::to_string (latentSize) + ","
                                  + std::to_string (frames) + "]");
    generated = generated.expand ({ batch, latentSize, frames });
    if (all)
        return generated;
    const auto weight = torch::from_blob (const_cast<float*> (generateWeight), { 1, 1, frames }, torch::kFloat32);
    return encoded * (1.0f - weight) + generated * weight;
}

std::optional<std::string> NnTildeModule::probe (ModelInfo& info)
{
    c10::InferenceMode inferenceMode;
    auto tone = [&] (int64_t length) {
        return torch::arange (length, torch::kFloat32).mul (2.0 * M_PI * 220.0 / info.sampleRate).sin().mul (0.25f).reshape ({ 1, 1, length });
    };
    const char* const method = encode ? "encode/decode" : "forward";
    if (hop == 0)
    {
        // Forward-only, ratio 1 declared: streaming modules still need whole internal frames.
        std::string last;
        for (int64_t candidate = 256; candidate <= kMaxHop && hop == 0; candidate *= 2)
        {
            try
            {
                reset();
                if (torch::isfinite (play (tone (candidate), 1, nullptr, nullptr)).all().item<bool>())
                    hop = candidate;
            }
            catch (const std::exception& e)
            {
                last = e.what();
            }
        }
        if (hop == 0)
            return "the module's forward kept the length of no block from 256 to " + std::to_string (kMaxHop) + " samples"
                   + (last.empty() ? std::string() : " (last error: " + last.substr (0, last.find ('\n')) + ")");
        info.hopLength = static_cast<int> (hop);
    }
    try
    {
        reset();
        const auto y = play (tone (2 * hop), 2, nullptr, nullptr);
        if (! torch::isfinite (y).all().item<bool>())
            return "the model produced NaN or Inf on a plain test tone (corrupt weights?)";
        // A module whose buffers a call leaves as they were carries nothing from one call to the
        // next: each hop is computed apart, with the edges of a whole-file model (a RAVE export
        // made without --streaming).
        info.streams = false;
        for (const auto& [live, atLoad] : buffersAtLoad)
            info.streams = info.streams || ! torch::equal (live, atLoad);
        reset();
        if (prior)
        {
            // A prior that fails its test leaves the module playable without it.
            const float generate[2] = { 1.0f, 1.0f }, temperature[2] = { 1.0f, 1.0f };
            std::string failure;
            try
            {
                if (! torch::isfinite (play (tone (2 * hop), 2, nullptr, nullptr, generate, temperature)).all().item<bool>())
                    failure = "NaN or Inf";
            }
            catch (const std::exception& e)
            {
                failure = e.what();
                failure = failure.substr (0, failure.find ('\n'));
            }
            reset();
            if (! failure.empty())
            {
                prior.reset();
                info.hasPrior = false;
                priorFailed = true;
            }
        }
    }
    catch (const std::exception& e)
    {
        return std::string ("the model failed in ") + method + ": " + std::string (lastLine (e.what()));
    }
    return std::nullopt;
}

void NnTildeModule::measureLatency (ModelInfo& info)
{
    c10::InferenceMode inferenceMode;
    const double rate = info.sampleRate;
    const int64_t total = (static_cast<int64_t> (2.0 * rate) + hop - 1) / hop * hop;
    // Three bursts of 30 ms noise, band-limited (one-pole high-pass near 200 Hz, low-pass near
    // 4 kHz) under a Hann window, at uneven spacings so only the true lag lines all three up.
    std::vector<float> bursts (static_cast<size_t> (total), 0.0f);
    std::mt19937 random (1234);
    std::uniform_real_distribution<float> uniform (-1.0f, 1.0f);
    const auto burstLength = static_cast<int64_t> (0.03 * rate);
    const float highCoefficient = static_cast<float> (std::exp (-2.0 * M_PI * 200.0 / rate));
    const float lowCoefficient = static_cast<float> (std::exp (-2.0 * M_PI * 4000.0 / rate));
    for (const double start : { 0.05, 0.40, 0.90 })
    {
        float low = 0.0f, highState = 0.0f;
        const auto begin = static_cast<int64_t> (start * rate);
        for (int64_t i = 0; i < burstLength && begin + i < total; ++i)
        {
            const float white = uniform (random);
            highState = highCoefficient * highState + (1.0f - highCoefficient) * white;
            low = lowCoefficient * low + (1.0f - lowCoefficient) * (white - highState);
            const double window = 0.5 - 0.5 * std::cos (2.0 * M_PI * static_cast<double> (i) / static_cast<double> (burstLength - 1));
            bursts[static_cast<size_t> (begin + i)] = static_cast<float> (1.5 * low * window);
        }
    }

    auto render = [&] (const float* input) {
        std::vector<float> out (static_cast<size_t> (total));
        reset();
        constexpr int64_t kHopsPerCall = 8;
        for (int64_t at = 0; at < total;)
        {
            const int64_t frames = std::min (kHopsPerCall, (total - at) / hop);
            const int64_t length = frames * hop;
            auto x = input != nullptr ? torch::from_blob (const_cast<float*> (input + at), { 1, 1, length }, torch::kFloat32)
                                      : torch::zeros ({ 1, 1, length });
            const auto y = play (x, frames, nullptr, nullptr).contiguous();
            std::copy_n (y.data_ptr<float>(), length, out.begin() + at);
            at += length;
        }
        reset();
        return out;
    };

    info.latencyMeasured = true;
    std::vector<float> silent, played;
    try
    {
        silent = render (nullptr);
        played = render (bursts.data());
    }
    catch (const std::exception&)
    {
        info.latencySamples = 0;
        info.latencyNote = "the latency probe failed; 0 samples assumed";
        return;
    }

    // Energy envelopes (5 ms moving average) of the bursts and of their effect on the output.
    const auto window = std::max<int64_t> (1, static_cast<int64_t> (0.005 * rate));
    auto envelope = [&] (auto sampleAt) {
        std::vector<double> e (static_cast<size_t> (total), 0.0);
        double sum = 0.0;
        for (int64_t i = 0; i < total; ++i)
        {
            const double v = sampleAt (i);
            sum += v * v;
            if (i >= window)
            {
                const double old = sampleAt (i - window);
                sum -= old * old;
            }
            e[static_cast<size_t> (i)] = std::max (0.0, sum);
        }
        return e;
    };
    std::vector<double> difference (played.size());
    for (size_t i = 0; i < played.size(); ++i)
        difference[i] = static_cast<double> (played[i]) - static_cast<double> (silent[i]);
    const auto in = envelope ([&] (int64_t i) { return static_cast<double> (bursts[static_cast<size_t> (i)]); });
    const auto effect = envelope ([&] (int64_t i) { return difference[static_cast<size_t> (i)]; });
    // A module that ignores its input gives the same output bit for bit both times. An
    // untrained one may answer very quietly (RAVE's, about 90 dB under its own output): any
    // difference well above float rounding counts.
    double differenceEnergy = 0.0, outputEnergy = 0.0, inEnergy = 0.0;
    for (size_t i = 0; i < played.size(); ++i)
    {
        differenceEnergy += difference[i] * difference[i];
        outputEnergy += static_cast<double> (played[i]) * played[i];
        inEnergy += in[i] * in[i];
    }
    if (! std::isfinite (differenceEnergy) || differenceEnergy <= 1e-14 * outputEnergy || differenceEnergy == 0.0)
    {
        info.latencySamples = 0;
        info.latencyNote = "the output does not follow the input: no delay measured, 0 samples assumed";
        return;
    }

    const int64_t maxLag = std::min<int64_t> (static_cast<int64_t> (1.0 * rate), total - static_cast<int64_t> (0.95 * rate));
    auto correlation = [&] (int64_t lag, int64_t step) {
        double sum = 0.0;
        for (int64_t i = 0; i + lag < total; i += step)
            sum += in[static_cast<size_t> (i)] * effect[static_cast<size_t> (i + lag)];
        return sum;
    };
    // Coarse (every 8th lag and sample), then every lag around the best.
    constexpr int64_t kStep = 8;
    int64_t best = 0;
    double bestValue = -1.0;
    for (int64_t lag = 0; lag <= maxLag; lag += kStep)
        if (const double v = correlation (lag, kStep); v > bestValue)
            bestValue = v, best = lag;
    const int64_t coarse = best;
    bestValue = -1.0;
    for (int64_t lag = std::max<int64_t> (0, coarse - 2 * kStep); lag <= std::min (maxLag, coarse + 2 * kStep); ++lag)
        if (const double v = correlation (lag, 1); v > bestValue)
            bestValue = v, best = lag;
    double shiftedEnergy = 0.0;
    for (int64_t i = 0; i + best < total; ++i)
        shiftedEnergy += effect[static_cast<size_t> (i + best)] * effect[static_cast<size_t> (i + best)];
    const double score = bestValue / std::sqrt (std::max (1e-300, inEnergy * shiftedEnergy));
    info.latencySamples = static_cast<int> (best);
    char text[160];
    std::snprintf (text, sizeof text, "measured at load (envelope correlation %.2f%s)", score,
                   score < 0.5 ? ": a weak match, check it by ear" : "");
    info.latencyNote = text;
}
} // namespace timbrel
