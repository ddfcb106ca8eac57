#include "timbrel/Model.h"

#include "LatentControls.h"
#include "NnTildeModule.h"
#include "TensorPool.h"
#include "TorchText.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>

namespace timbrel
{
namespace
{
const char* const kRequiredMethods[] = { "encode", "analyze", "decode", "forward", "reset" };
const char* const kNnTildeBuffers[] = { "encode_params", "decode_params", "forward_params" };

// Bytes of a UTF-8 sequence starting at text[i], or 0 when it is not valid UTF-8.
size_t utf8Length (const std::string& text, size_t i)
{
    const auto lead = static_cast<unsigned char> (text[i]);
    const size_t n = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > text.size())
        return 0;
    for (size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char> (text[i + k]) & 0xc0) != 0x80)
            return 0;
    return n;
}

// First line of a torch error (the rest is a C++ backtrace nobody asked for), as plain text:
// errors about a corrupt file quote its bytes, which must not reach a status line, an XML
// state or a terminal as control characters or broken UTF-8. Long quotes are cut.
std::string firstLine (const std::string& text)
{
    constexpr size_t kMaxLength = 1000;
    std::string line;
    for (size_t i = 0; i < text.size() && text[i] != '\n' && line.size() < kMaxLength;)
    {
        const auto c = static_cast<unsigned char> (text[i]);
        const size_t n = utf8Length (text, i);
        if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f)))
        {
            line += '?';
            ++i;
            continue;
        }
        line.append (text, i, n);
        i += n;
    }
    return line;
}

// Whether the model has an optional pair of attributes; one without the other is an error.
std::optional<std::string> optionalPair (torch::jit::Module& module, const char* first, const char* second, bool& present)
{
    const bool a = module.hasattr (first), b = module.hasattr (second);
    present = a && b;
    if (a != b)
        return std::string ("attribute '") + (a ? first : second) + "' needs '" + (a ? second : first) + "' beside it";
    return std::nullopt;
}

// A float32 tensor attribute of the given shape, copied out row-major.
std::optional<std::string> floatTensorAttr (torch::jit::Module& module, const char* name, std::vector<int64_t> shape,
                                            std::vector<float>& out)
{
    const auto v = module.attr (name);
    if (! v.isTensor() || v.toTensor().scalar_type() != at::kFloat)
        return std::string ("attribute '") + name + "' must be a float32 Tensor";
    const auto t = v.toTensor();
    if (t.sizes() != c10::IntArrayRef (shape))
    {
        std::string expected = "[";
        for (size_t i = 0; i < shape.size(); ++i)
            expected += (i > 0 ? "," : "") + std::to_string (shape[i]);
        return std::string ("attribute '") + name + "' has shape " + sizesToString (t) + ", expected " + expected + "]";
    }
    const auto values = t.contiguous();
    out.assign (values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
    return std::nullopt;
}

// The optional named timbres and latent axes (docs/model-format.md, "Timbres"); their values
// are checked with the rest of the metadata (validateTimbres).
std::optional<std::string> readTimbres (torch::jit::Module& module, ModelInfo& info)
{
    bool present = false;
    if (auto error = optionalPair (module, "timbre_names", "timbre_latents", present))
        return error;
    if (present)
    {
        const auto names = module.attr ("timbre_names");
        if (! names.isList())
            return std::string ("attribute 'timbre_names' must be a List[str], found ") + names.tagKind();
        for (const auto& item : names.toListRef())
        {
            if (! item.isString())
                return std::string ("attribute 'timbre_names' must be a List[str]");
            info.timbreNames.push_back (item.toStringRef());
        }
        if (info.timbreNames.empty())
            return std::string ("timbre_names must list at least one non-empty name");
        if (auto error = floatTensorAttr (module, "timbre_latents",
                                          { static_cast<int64_t> (info.timbreNames.size()), info.latentSize }, info.timbreLatents))
            return error;
    }
    if (auto error = optionalPair (module, "latent_mean", "latent_components", present))
        return error;
    if (present)
    {
        if (auto error = floatTensorAttr (module, "latent_mean", { info.latentSize }, info.latentMean))
            return error;
        if (auto error = floatTensorAttr (module, "latent_components", { info.latentSize, info.latentSize }, info.latentComponents))
            return error;
    }
    return std::nullopt;
}

// Reads the metadata attributes; returns an error naming the first missing or mistyped one.
std::optional<std::string> readInfo (torch::jit::Module& module, ModelInfo& info)
{
    auto intAttr = [&] (const char* name, int& out) -> std::optional<std::string> {
        if (! module.hasattr (name))
            return std::string ("missing attribute '") + name + "'";
        const auto v = module.attr (name);
        if (! v.isInt())
            return std::string ("attribute '") + name + "' must be an int, found " + v.tagKind();
        out = static_cast<int> (v.toInt());
        return std::nullopt;
    };
    auto stringAttr = [&] (const char* name, std::string& out) -> std::optional<std::string> {
        if (! module.hasattr (name))
            return std::string ("missing attribute '") + name + "'";
        const auto v = module.attr (name);
        if (! v.isString())
            return std::string ("attribute '") + name + "' must be a str, found " + v.tagKind();
        out = v.toStringRef();
        return std::nullopt;
    };
    auto stringListAttr = [&] (const char* name, std::vector<std::string>& out) -> std::optional<std::string> {
        if (! module.hasattr (name))
            return std::string ("missing attribute '") + name + "'";
        const auto v = module.attr (name);
        if (! v.isList())
            return std::string ("attribute '") + name + "' must be a List[str], found " + v.tagKind();
        for (const auto& item : v.toListRef())
        {
            if (! item.isString())
                return std::string ("attribute '") + name + "' must be a List[str]";
            out.push_back (item.toStringRef());
        }
        return std::nullopt;
    };
    auto floatListAttr = [&] (const char* name, std::vector<float>& out) -> std::optional<std::string> {
        if (! module.hasattr (name))
            return std::string ("missing attribute '") + name + "'";
        const auto v = module.attr (name);
        if (! v.isDoubleList())
            return std::string ("attribute '") + name + "' must be a List[float], found " + v.tagKind();
        for (double d : v.toDoubleVector())
            out.push_back (static_cast<float> (d));
        return std::nullopt;
    };

    if (auto error = intAttr ("format_version", info.formatVersion))
        return error;
    // Version first: a newer contract may have renamed everything below.
    if (info.formatVersion != kSupportedFormatVersion)
        return validateMetadata (info);

    std::optional<std::string> checks[] = {
        intAttr ("sample_rate", info.sampleRate),
        intAttr ("hop_length", info.hopLength),
        intAttr ("latent_size", info.latentSize),
        intAttr ("latency_samples", info.latencySamples),
        stringListAttr ("descriptor_names", info.descriptorNames),
        stringListAttr ("descriptor_units", info.descriptorUnits),
        floatListAttr ("descriptor_min", info.descriptorMin),
        floatListAttr ("descriptor_max", info.descriptorMax),
        stringAttr ("model_name", info.modelName),
        stringAttr ("model_card", info.modelCard),
    };
    for (auto& check : checks)
        if (check)
            return check;
    if (auto error = readTimbres (module, info))
        return error;
    return validateMetadata (info);
}

// libtorch trusts a file's tensor metadata: a damaged archive whose data record is shorter than
// its tensor's sizes say loads without complaint, and the first copy reads past the end (a
// crash the fuzzer found: a zeroed size in the zip directory). Every tensor reachable before
// the model runs is checked against its storage: attributes (parameters, buffers, plain tensor
// attributes, in every submodule) and the constants in the model's code.
std::optional<std::string> tensorBeyondItsData (const at::Tensor& t, const std::string& name)
{
    if (! t.defined() || ! t.has_storage() || t.numel() == 0)
        return std::nullopt;
    int64_t last = t.storage_offset(); // index of the last element reachable, in elements
    bool overflow = last < 0;
    for (int64_t d = 0; d < t.dim() && ! overflow; ++d)
    {
        int64_t step = 0;
        overflow = t.stride (d) < 0 || __builtin_mul_overflow (t.size (d) - 1, t.stride (d), &step)
                   || __builtin_add_overflow (last, step, &last);
    }
    int64_t bytes = 0;
    overflow = overflow || __builtin_mul_overflow (last + 1, static_cast<int64_t> (t.element_size()), &bytes);
    if (overflow || bytes > static_cast<int64_t> (t.storage().nbytes()))
        return "tensor '" + name + "' of shape " + sizesToString (t) + " reaches beyond its " + std::to_string (t.storage().nbytes())
               + " bytes of data (a damaged file?)";
    return std::nullopt;
}

// libtorch sizes a tensor's data by the archive's central directory and its shape by the
// pickle, and never compares the two: a directory entry that says less than the data holds
// (a zeroed size, found by the fuzzer) makes the first copy read past the allocation. PyTorch
// writes every entry with a data descriptor after its data (general-purpose flag bit 3)
// holding the sizes again: each entry's descriptor (or local header) must agree with the
// directory, and its data must lie inside the file. Zip64 archives (over 4 GiB) are left to
// libtorch.
std::optional<std::string> checkArchiveDirectory (const std::string& path)
{
    std::ifstream in (path, std::ios::binary);
    const std::string zip ((std::istreambuf_iterator<char> (in)), std::istreambuf_iterator<char>());
    auto u16 = [&] (size_t at) { return static_cast<uint32_t> (static_cast<unsigned char> (zip[at]) | static_cast<unsigned char> (zip[at + 1]) << 8); };
    auto u32 = [&] (size_t at) { return u16 (at) | u16 (at + 2) << 16; };
    if (zip.size() < 22)
        return std::nullopt; // not a zip: libtorch says so
    size_t end = zip.size() - 22;
    while (end > 0 && u32 (end) != 0x06054b50u)
        --end;
    if (u32 (end) != 0x06054b50u || u32 (end + 16) == 0xffffffffu || u16 (end + 10) == 0xffffu)
        return std::nullopt;
    const std::string damaged = "the archive's directory and its entries disagree (a damaged file?)";
    size_t at = u32 (end + 16);
    for (uint32_t i = 0, count = u16 (end + 10); i < count; ++i)
    {
        if (at + 46 > zip.size() || u32 (at) != 0x02014b50u)
            return damaged;
        const uint32_t flags = u16 (at + 8), compressed = u32 (at + 20), size = u32 (at + 24), local = u32 (at + 42);
        const size_t nameLength = u16 (at + 28), extra = u16 (at + 30), comment = u16 (at + 32);
        if (compressed == 0xffffffffu || size == 0xffffffffu || local == 0xffffffffu)
            return std::nullopt; // zip64
        if (static_cast<size_t> (local) + 30 > zip.size() || u32 (local) != 0x04034b50u)
            return damaged;
        const size_t data = static_cast<size_t> (local) + 30 + u16 (local + 26) + u16 (local + 28);
        if (data + compressed > zip.size())
            return damaged;
        if ((flags & 0x8) != 0)
        {
            size_t descriptor = data + compressed;
            if (descriptor + 4 <= zip.size() && u32 (descriptor) == 0x08074b50u)
                descriptor += 4; // the descriptor's signature is optional
            if (descriptor + 12 > zip.size() || u32 (descriptor + 4) != compressed || u32 (descriptor + 8) != size)
                return damaged;
        }
        else if (u32 (local + 18) != compressed || u32 (local + 22) != size)
            return damaged;
        at += 46 + nameLength + extra + comment;
    }
    return std::nullopt;
}

std::optional<std::string> checkTensorData (const torch::jit::Module& module)
{
    for (const auto& attribute : module.named_attributes (/* recurse */ true))
    {
        if (attribute.value.isTensor())
        {
            if (auto error = tensorBeyondItsData (attribute.value.toTensor(), attribute.name))
                return error;
        }
        else if (attribute.value.isTensorList())
            for (const at::Tensor& t : attribute.value.toTensorList().vec())
                if (auto error = tensorBeyondItsData (t, attribute.name))
                    return error;
    }
    std::function<std::optional<std::string> (torch::jit::Block*)> checkBlock = [&] (torch::jit::Block* block) -> std::optional<std::string> {
        for (auto* node : block->nodes())
        {
            if (node->kind() == c10::prim::Constant && node->hasAttribute (c10::attr::value)
                && node->kindOf (c10::attr::value) == torch::jit::AttributeKind::t)
                if (auto error = tensorBeyondItsData (node->t (c10::attr::value), "a constant"))
                    return error;
            for (auto* inner : node->blocks())
                if (auto error = checkBlock (inner))
                    return error;
        }
        return std::nullopt;
    };
    for (const auto& method : module.get_methods())
        if (auto error = checkBlock (method.graph()->block()))
            return error;
    return std::nullopt;
}

std::optional<std::string> checkMethodsAndBuffers (torch::jit::Module& module)
{
    for (const char* name : kRequiredMethods)
        if (! module.find_method (name))
            return std::string ("missing method '") + name + "'";
    for (const char* name : kNnTildeBuffers)
    {
        if (! module.hasattr (name) || ! module.attr (name).isTensor())
            return std::string ("missing nn~ buffer '") + name + "'";
        const auto t = module.attr (name).toTensor();
        if (t.numel() != 4)
            return std::string ("nn~ buffer '") + name + "' must hold 4 ints, found shape " + sizesToString (t);
    }
    return std::nullopt;
}
} // namespace

struct Model::Impl
{
    // Tensor memory for this model's calls on its playing thread (processHops, reset, warm-up
    // and the load probe), reused from hop to hop; null runs unpooled.
    std::shared_ptr<TensorPool> pool = TensorPool::create();
    torch::jit::Module module;
    torch::jit::Method encode, analyze, decode, resetMethod;
    // Optional in the contract: encode and analyze in one call, sharing work (one FFT).
    std::optional<torch::jit::Method> encodeAnalyze;
    std::optional<torch::jit::Method> natural; // optional: the descriptors a timbre has at a pitch and loudness
    at::Tensor axesMean, axesComponents;       // the latent's principal axes, when the model has them
    // The sidechain is analysed by a deep copy: analyze() keeps streaming state (its window
    // history), and the sidechain's must not mix with the input's.
    torch::jit::Module sidechainModule;
    torch::jit::Method sidechainAnalyze, sidechainReset;
    // A third copy measures the model's output for the editor's meters, on the message thread
    // while the model plays elsewhere: cloned here, because cloning reads the streaming state
    // that a playing model rewrites.
    torch::jit::Module outputModule;
    torch::jit::Method outputAnalyze, outputReset;

    explicit Impl (torch::jit::Module m)
        : module (std::move (m)),
          encode (module.get_method ("encode")),
          analyze (module.get_method ("analyze")),
          decode (module.get_method ("decode")),
          resetMethod (module.get_method ("reset")),
          sidechainModule (module.clone()),
          sidechainAnalyze (sidechainModule.get_method ("analyze")),
          sidechainReset (sidechainModule.get_method ("reset")),
          outputModule (module.clone()),
          outputAnalyze (outputModule.get_method ("analyze")),
          outputReset (outputModule.get_method ("reset"))
    {
        if (module.find_method ("encode_analyze"))
            encodeAnalyze.emplace (module.get_method ("encode_analyze"));
        if (module.find_method ("natural"))
            natural.emplace (module.get_method ("natural"));
    }

    // Runs encode/analyze/decode on a deterministic test signal and checks the shapes the
    // contract promises; a model that fails here never reaches the audio thread.
    std::optional<std::string> probe (const ModelInfo& info)
    {
        const int64_t hop = info.hopLength, frames = 2, length = hop * frames;
        auto x = torch::arange (length, torch::kFloat32).mul (2.0 * M_PI * 220.0 / info.sampleRate).sin().mul (0.25f)
                     .reshape ({ 1, 1, length });
        std::string stage = "reset";
        try
        {
            c10::InferenceMode inferenceMode;
            TensorPool::Scope pooled (pool.get());
            resetMethod ({});
            stage = "encode";
            auto z = encode ({ x }).toTensor();
            if (z.dim() != 3 || z.size (0) != 1 || z.size (1) != info.latentSize || z.size (2) != frames)
                return "encode returned shape " + sizesToString (z) + ", expected [1," + std::to_string (info.latentSize)
                       + "," + std::to_string (frames) + "]";
            stage = "analyze";
            auto d = analyze ({ x }).toTensor();
            if (d.dim() != 3 || d.size (0) != 1 || d.size (1) != info.numDescriptors() || d.size (2) != frames)
                return "analyze returned shape " + sizesToString (d) + ", expected [1,"
                       + std::to_string (info.numDescriptors()) + "," + std::to_string (frames) + "]";
            const auto joined = torch::cat ({ z, d }, 1);
            if (encodeAnalyze)
            {
                stage = "encode_analyze";
                resetMethod ({});
                auto zd = (*encodeAnalyze) ({ x }).toTensor();
                if (zd.sizes() != joined.sizes())
                    return "encode_analyze returned shape " + sizesToString (zd) + ", expected " + sizesToString (joined);
                // Relative: descriptors in Hz are thousands.
                if (! torch::allclose (zd, joined, 1e-5, 1e-5))
                    return std::string ("encode_analyze(x) differs from cat(encode(x), analyze(x))");
            }
            if (natural)
            {
                stage = "natural";
                auto n = (*natural) ({ joined }).toTensor();
                if (n.sizes() != d.sizes())
                    return "natural returned shape " + sizesToString (n) + ", expected " + sizesToString (d);
                if (! torch::isfinite (n).all().item<bool>())
                    return std::string ("natural produced NaN or Inf on a plain test tone");
                for (const char* name : { "pitch", "loudness" })
                    if (const auto index = info.descriptorIndex (name))
                        if (! torch::equal (n.select (1, *index), d.select (1, *index)))
                            return std::string ("natural changed the ") + name + " it was given (it must pass through)";
            }
            stage = "decode";
            auto y = decode ({ joined }).toTensor();
            if (y.dim() != 3 || y.size (0) != 1 || y.size (1) != 1 || y.size (2) != length)
                return "decode returned shape " + sizesToString (y) + ", expected [1,1," + std::to_string (length) + "]";
            if (! torch::isfinite (z).all().item<bool>() || ! torch::isfinite (d).all().item<bool>()
                || ! torch::isfinite (y).all().item<bool>())
                return std::string ("the model produced NaN or Inf on a plain test tone (corrupt weights?)");
            stage = "reset";
            resetMethod ({});
        }
        catch (const std::exception& e)
        {
            return "the model failed in " + stage + "(): " + firstLine (e.what());
        }
        return std::nullopt;
    }
};

// An nn~ module: played by NnTildeModule, with the same tensor pool on its playing thread.
struct Model::NnImpl
{
    std::shared_ptr<TensorPool> pool = TensorPool::create();
    NnTildeModule module;
};

Model::Model (std::unique_ptr<Impl> i, ModelInfo info) : impl (std::move (i)), modelInfo (std::move (info)) {}
Model::Model (std::unique_ptr<NnImpl> i, ModelInfo info) : nn (std::move (i)), modelInfo (std::move (info)) {}
Model::~Model() = default;

LoadResult Model::load (const std::string& path)
{
    auto result = loadUnchecked (path);
    result.error = firstLine (result.error); // printable: it reaches status lines, XML states and terminals
    return result;
}

LoadResult Model::loadUnchecked (const std::string& path)
{
    LoadResult result;
    std::error_code ec;
    if (path.empty())
        return { nullptr, "no model file given" };
    if (! std::filesystem::exists (path, ec))
        return { nullptr, "model file not found: " + path };
    if (! std::filesystem::is_regular_file (path, ec))
        return { nullptr, "model path is not a file: " + path };
    if (! std::ifstream (path, std::ios::binary).good())
        return { nullptr, "model file cannot be read: " + path };

    // One intra-op thread: a plugin shares the machine with the host and other instances.
    at::set_num_threads (1);

    if (auto error = checkArchiveDirectory (path))
        return { nullptr, "not a readable TorchScript model: " + *error };

    torch::jit::Module module;
    try
    {
        // Without the debug files (source ranges for error messages): libtorch unpickles them
        // lazily inside an error's what(), and a damaged one then throws from a noexcept
        // function, which terminates the host (found by the fuzzer).
        torch::jit::ExtraFilesMap extraFiles;
        module = torch::jit::load (path, torch::kCPU, extraFiles, /* load_debug_files */ false);
        module.eval();
    }
    catch (const std::exception& e)
    {
        const std::string what = e.what();
        // libtorch's own advice ("upgrade PyTorch") is for Python users; a plugin user needs
        // the model exported again.
        if (const auto at = what.find ("Attempted to read a PyTorch file with version"); at != std::string::npos)
            return { nullptr, "not a readable TorchScript model: saved by a newer PyTorch than the plugin's libtorch " TORCH_VERSION
                              " (" + firstLine (what.substr (at, what.find (". ", at) - at)) + "); export it with torch " TORCH_VERSION };
        return { nullptr, "not a readable TorchScript model (truncated or wrong file type): " + firstLine (what) };
    }

    ModelInfo info;
    info.path = path;
    try
    {
        if (auto error = checkTensorData (module))
            return { nullptr, "not a readable TorchScript model: " + *error };
        if (isNnTildeModule (module))
            return loadNnTilde (&module, std::move (info));
        if (auto error = readInfo (module, info))
            return { nullptr, "model contract violation: " + *error
                                  + (info.formatVersion == 0 ? " (neither a Timbrel model nor an nn~ module)" : "") };
        if (auto error = checkMethodsAndBuffers (module))
            return { nullptr, "model contract violation: " + *error };
        info.hasNatural = module.find_method ("natural").has_value();
    }
    catch (const std::exception& e)
    {
        return { nullptr, "model contract violation: " + firstLine (e.what()) };
    }

    auto impl = std::make_unique<Impl> (std::move (module));
    if (auto error = impl->probe (info))
        return { nullptr, "model contract violation: " + *error };
    if (! info.latentComponents.empty())
    {
        const int64_t latents = info.latentSize;
        impl->axesMean = torch::from_blob (info.latentMean.data(), { latents }, torch::kFloat32).clone();
        impl->axesComponents = torch::from_blob (info.latentComponents.data(), { latents, latents }, torch::kFloat32).clone();
    }

    result.model.reset (new Model (std::move (impl), std::move (info)));
    return result;
}

LoadResult Model::loadNnTilde (void* modulePointer, ModelInfo info)
{
    auto& module = *static_cast<torch::jit::Module*> (modulePointer);
    try
    {
        if (auto error = NnTildeModule::describe (module, info))
            return { nullptr, *error };
        auto nnImpl = std::unique_ptr<NnImpl> (new NnImpl { TensorPool::create(), NnTildeModule (module, info) });
        {
            TensorPool::Scope pooled (nnImpl->pool.get());
            if (auto error = nnImpl->module.probe (info))
                return { nullptr, "nn~ module: " + *error };
            nnImpl->module.measureLatency (info);
        }
        info.modelCard = nnImpl->module.card (info);
        return { std::unique_ptr<Model> (new Model (std::move (nnImpl), std::move (info))), {} };
    }
    catch (const std::exception& e)
    {
        return { nullptr, "nn~ module: " + firstLine (e.what()) };
    }
}

namespace
{
// libtorch's intra-op thread count is OpenMP's, a per-thread setting: a host thread that runs
// the model (Inline mode and offline renders on the audio thread, the meters on the message
// thread) would otherwise start an OpenMP team of one thread per core and wait at its barriers
// (found by TSan). Configured once per thread, on its first model call.
void configureThisThreadOnce()
{
    thread_local bool configured = false;
    if (! configured)
    {
        Model::configureCurrentThread();
        configured = true;
    }
}
} // namespace

std::string Model::warmUp (int batchSize, int calls, int maxFrames)
{
    configureThisThreadOnce();
    const auto hop = static_cast<size_t> (modelInfo.hopLength);
    const size_t most = hop * static_cast<size_t> (std::max (1, maxFrames) * batchSize);
    std::vector<float> in (most), side (most), out (most);
    HopRequest request;
    request.batch = batchSize;
    request.input = in.data();
    request.output = out.data();
    size_t position = 0;
    for (int c = 0; c < calls; ++c)
    {
        // Alternate one hop and the most a call will take, with and without the sidechain, so
        // every path is compiled and every size of tensor memory is pooled before playback.
        request.frames = (c % 4 < 2) ? 1 : std::max (1, maxFrames);
        const size_t length = hop * static_cast<size_t> (request.frames * batchSize);
        for (size_t i = 0; i < length; ++i, ++position)
        {
            in[i] = 0.1f * std::sin (0.05f * static_cast<float> (position));
            side[i] = 0.1f * std::sin (0.031f * static_cast<float> (position));
        }
        request.sidechain = (c % 2 == 1) ? side.data() : nullptr;
        if (! processHops (request))
            return "the model failed while warming up at batch size " + std::to_string (batchSize) + ": " + lastFailure();
    }
    reset();
    return {};
}

void Model::configureCurrentThread()
{
    at::set_num_threads (1);
    at::globalContext().setFlushDenormal (true);
}


void Model::reportFailure (std::string_view reason) noexcept
{
    const auto start = failureSequence.load (std::memory_order_relaxed);
    failureSequence.store (start + 1, std::memory_order_relaxed); // odd: a write is under way
    std::atomic_thread_fence (std::memory_order_release);
    size_t i = 0;
    for (; i < reason.size() && i + 1 < failureText.size(); ++i)
        failureText[i].store (reason[i], std::memory_order_relaxed);
    failureText[i].store ('\0', std::memory_order_relaxed);
    failureSequence.store (start + 2, std::memory_order_release);
}

std::string Model::lastFailure() const
{
    for (int attempt = 0; attempt < 16; ++attempt)
    {
        const auto before = failureSequence.load (std::memory_order_acquire);
        if ((before & 1u) != 0)
            continue;
        std::string text;
        for (const auto& c : failureText)
        {
            const char value = c.load (std::memory_order_relaxed);
            if (value == '\0')
                break;
            text.push_back (value);
        }
        std::atomic_thread_fence (std::memory_order_acquire);
        if (failureSequence.load (std::memory_order_relaxed) == before)
            return text;
    }
    return "(the reason is being rewritten)";
}

void Model::reset()
{
    configureThisThreadOnce();
    try
    {
        if (nn)
        {
            nn->module.reset();
            return;
        }
        c10::InferenceMode inferenceMode;
        TensorPool::Scope pooled (impl->pool.get());
        impl->resetMethod ({});
        impl->sidechainReset ({});
    }
    catch (const std::exception& e)
    {
        reportFailure (lastLine (e.what())); // the probe at load time passed reset: rare, but said
    }
}

namespace
{
/** decode(zd) copied into `output` (`samples` floats); false, and the model told why, when the
    count is wrong. Throws what the model throws (the callers report it). */
bool decodeInto (Model& model, torch::jit::Method& decode, const at::Tensor& zd, int64_t samples, float* output)
{
    auto y = decode ({ zd }).toTensor().contiguous();
    if (y.numel() != samples)
    {
        model.reportFailure ("decode returned the wrong number of samples");
        return false;
    }
    std::memcpy (output, y.data_ptr<float>(), sizeof (float) * static_cast<size_t> (samples));
    return true;
}
} // namespace

bool Model::processHops (const HopRequest& r) noexcept
{
    configureThisThreadOnce();
    const int64_t hop = modelInfo.hopLength, numDescriptors = modelInfo.numDescriptors(), latents = modelInfo.latentSize;
    const int64_t batch = r.batch, frames = r.frames;
    if (batch < 1 || frames < 1)
        return false;
    if (nn)
        return processNnHops (r);
    try
    {
        // Inference mode, not just no-grad: no autograd or version-counter bookkeeping on any
        // tensor, about a quarter less time per hop for these small, op-bound models.
        c10::InferenceMode inferenceMode;
        TensorPool::Scope pooled (impl->pool.get());
        auto x = torch::from_blob (const_cast<float*> (r.input), { batch, 1, frames * hop }, torch::kFloat32);
        at::Tensor z, measured;
        if (impl->encodeAnalyze)
        {
            auto zd = (*impl->encodeAnalyze) ({ x }).toTensor();
            z = zd.narrow (1, 0, latents);
            measured = zd.narrow (1, latents, numDescriptors);
        }
        else
        {
            z = impl->encode ({ x }).toTensor();
            measured = impl->analyze ({ x }).toTensor();
        }
        // [batch, D, frames] -> hop-major [frames, batch, D]: each hop's block is what
        // combineDescriptors and the meters read.
        measured = measured.permute ({ 2, 0, 1 }).contiguous();
        at::Tensor sidechain;
        if (r.sidechain != nullptr)
        {
            auto xs = torch::from_blob (const_cast<float*> (r.sidechain), { batch, 1, frames * hop }, torch::kFloat32);
            sidechain = impl->sidechainAnalyze ({ xs }).toTensor().permute ({ 2, 0, 1 }).contiguous();
        }

        if (r.latents != nullptr) // hop-major [frames, batch, latent], as the meters read descriptors
            std::memcpy (r.latents, z.permute ({ 2, 0, 1 }).contiguous().data_ptr<float>(),
                         sizeof (float) * static_cast<size_t> (frames * batch * latents));
        z = withTimbre (z, frames, latents, r.timbreWeight, r.timbreLatent);
        z = withLatentControls (z, frames, latents, r.latentOffset, r.latentScale, impl->axesMean, impl->axesComponents);

        auto targets = torch::empty ({ frames, batch, numDescriptors }, torch::kFloat32);
        const DescriptorMix* mixes = r.mixes;
        std::vector<DescriptorMix> ownMixes;
        if (mixes == nullptr)
        {
            ownMixes.assign (static_cast<size_t> (numDescriptors * frames), DescriptorMix {});
            mixes = ownMixes.data();
        }
        const int64_t perHop = batch * numDescriptors;
        auto combine = [&] (const at::Tensor& natural) {
            for (int64_t f = 0; f < frames; ++f)
                combineDescriptors (measured.data_ptr<float>() + f * perHop,
                                    sidechain.defined() ? sidechain.data_ptr<float>() + f * perHop : nullptr,
                                    natural.defined() ? natural.data_ptr<float>() + f * perHop : nullptr,
                                    mixes + f * numDescriptors, static_cast<int> (numDescriptors), static_cast<int> (batch),
                                    targets.data_ptr<float>() + f * perHop);
        };
        combine ({});
        at::Tensor zd = torch::cat ({ z, targets.permute ({ 1, 2, 0 }) }, 1);
        if (impl->natural && anyNatural (mixes, static_cast<int> (frames * numDescriptors)))
        {
            // natural() reads the timbre in z at the pitch and loudness just formed (their
            // faders included) and gives the rest; a second pass blends it in and shifts it.
            const auto natural = (*impl->natural) ({ zd }).toTensor().permute ({ 2, 0, 1 }).contiguous();
            combine (natural);
            zd = torch::cat ({ z, targets.permute ({ 1, 2, 0 }) }, 1);
        }
        const size_t descriptorBytes = sizeof (float) * static_cast<size_t> (frames * perHop);
        if (r.measured != nullptr)
            std::memcpy (r.measured, measured.data_ptr<float>(), descriptorBytes);
        if (r.targets != nullptr)
            std::memcpy (r.targets, targets.data_ptr<float>(), descriptorBytes);

        return decodeInto (*this, impl->decode, zd, batch * frames * hop, r.output);
    }
    catch (const std::exception& e)
    {
        reportFailure (lastLine (e.what()));
        return false;
    }
}

bool Model::decodeHops (const DecodeRequest& r) noexcept
{
    configureThisThreadOnce();
    const int64_t hop = modelInfo.hopLength, numDescriptors = modelInfo.numDescriptors(), latents = modelInfo.latentSize;
    const int64_t batch = r.batch, frames = r.frames;
    if (batch < 1 || frames < 1 || r.latents == nullptr || r.descriptors == nullptr || r.output == nullptr)
        return false;
    if (nn)
    {
        reportFailure ("an nn~ module has no descriptors: it cannot be played from notes");
        return false;
    }
    try
    {
        c10::InferenceMode inferenceMode;
        TensorPool::Scope pooled (impl->pool.get());
        auto z = torch::from_blob (const_cast<float*> (r.latents), { frames, batch, latents }, torch::kFloat32).permute ({ 1, 2, 0 });
        auto d = torch::from_blob (const_cast<float*> (r.descriptors), { frames, batch, numDescriptors }, torch::kFloat32).clone();
        bool natural = false;
        for (int64_t i = 0; i < numDescriptors && r.fromNatural != nullptr; ++i)
            natural = natural || r.fromNatural[i];
        if (natural && impl->natural)
        {
            const auto values = (*impl->natural) ({ torch::cat ({ z, d.permute ({ 1, 2, 0 }) }, 1) }).toTensor().permute ({ 2, 0, 1 });
            for (int64_t i = 0; i < numDescriptors; ++i)
                if (r.fromNatural[i])
                    d.select (2, i).copy_ (values.select (2, i));
        }
        auto* values = d.data_ptr<float>();
        for (int64_t i = 0; i < numDescriptors && r.shifts != nullptr; ++i)
        {
            // As the effect's faders shift (the vocabulary's kind; other descriptors add).
            const auto* entry = findVocabularyEntry (modelInfo.descriptorNames[static_cast<size_t> (i)]);
            const auto kind = entry != nullptr ? entry->shiftKind : ShiftKind::add;
            for (int64_t row = 0; row < frames * batch; ++row)
                values[row * numDescriptors + i] = applyShift (kind, values[row * numDescriptors + i], r.shifts[row * numDescriptors + i]);
        }
        return decodeInto (*this, impl->decode, torch::cat ({ z, d.permute ({ 1, 2, 0 }) }, 1), batch * frames * hop, r.output);
    }
    catch (const std::exception& e)
    {
        reportFailure (lastLine (e.what()));
        return false;
    }
}

bool Model::processNnHops (const HopRequest& r) noexcept
{
    const int64_t hop = modelInfo.hopLength, batch = r.batch, frames = r.frames;
    try
    {
        c10::InferenceMode inferenceMode;
        TensorPool::Scope pooled (nn->pool.get());
        auto x = torch::from_blob (const_cast<float*> (r.input), { batch, 1, frames * hop }, torch::kFloat32);
        auto y = nn->module.play (x, frames, r.latentOffset, r.latentScale, r.generateWeight, r.temperature).contiguous();
        std::memcpy (r.output, y.data_ptr<float>(), sizeof (float) * static_cast<size_t> (batch * frames * hop));
        return true;
    }
    catch (const std::exception& e)
    {
        reportFailure (lastLine (e.what()));
        return false;
    }
}

bool Model::analyzeOutput (const float* audio, int numHops, float* lastDescriptors) noexcept
{
    configureThisThreadOnce();
    if (numHops <= 0 || nn) // nn~ modules have no analysis: no output meters
        return false;
    try
    {
        c10::InferenceMode inferenceMode;
        const int64_t length = static_cast<int64_t> (numHops) * modelInfo.hopLength;
        auto x = torch::from_blob (const_cast<float*> (audio), { 1, 1, length }, torch::kFloat32);
        auto d = impl->outputAnalyze ({ x }).toTensor().select (2, numHops - 1).contiguous(); // [1, D]
        std::memcpy (lastDescriptors, d.data_ptr<float>(), sizeof (float) * static_cast<size_t> (modelInfo.numDescriptors()));
        return true;
    }
    catch (const std::exception&)
    {
        return false;
    }
}

Model::MemoryStats Model::memoryStats() const noexcept
{
    const auto& pool = nn ? nn->pool : impl->pool;
    if (pool == nullptr)
        return {};
    return { true, pool->slabs(), pool->bytesReserved() };
}

void Model::resetOutputAnalysis() noexcept
{
    if (nn)
        return;
    configureThisThreadOnce();
    try
    {
        c10::InferenceMode inferenceMode;
        impl->outputReset ({});
    }
    catch (const std::exception&)
    {
    }
}
} // namespace timbrel
