#pragma once
// A loaded, validated, warmed-up model (docs/model-format.md). The torch module is hidden
// behind a pointer so this header stays torch-free.

#include "timbrel/Controls.h"
#include "timbrel/ModelInfo.h"

#include <cstdint>
#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <string_view>

namespace timbrel
{
class Model;

/** Either a ready model or a plain-words reason it could not be used. */
struct LoadResult
{
    std::unique_ptr<Model> model;
    std::string error;

    explicit operator bool() const { return model != nullptr; }
};

class Model
{
public:
    /** Loads `path`, checks every attribute and method of the contract, and probes the
        methods on a short signal (shapes, finite output). A module in nn~'s convention
        (RAVE's exports) is read by its own rules and its delay measured (docs/model-format.md,
        "Other models"). Never throws. The error is one line
        of printable text (a damaged file's bytes quoted in it are replaced). */
    static LoadResult load (const std::string& path);

    ~Model();
    Model (const Model&) = delete;
    Model& operator= (const Model&) = delete;

    const ModelInfo& info() const { return modelInfo; }

    /** Runs a few calls at this batch size, of one hop and of `maxFrames` hops, so the JIT has
        optimised and the tensor pool holds what playback needs before real-time use; then
        clears the streaming state. Returns an error message, empty on success. */
    std::string warmUp (int batchSize, int calls = 8, int maxFrames = 1);

    /** Call once on any thread that runs the model: one intra-op thread, subnormals flushed. */
    static void configureCurrentThread();

private:
    static LoadResult loadUnchecked (const std::string& path);

public:

    /** Clears all streaming state (the model's reset()). */
    void reset();

    /** `frames` consecutive hops for `batch` channels in one call of each model method: the
        per-call cost of these small models is mostly per operation, not per sample, so several
        hops at once cost far less than one at a time (same output to float rounding: the
        contract's streaming tolerance). Audio buffers are channel-major and contiguous; the
        per-hop values (fader mixes, latent controls, descriptors) are hop-major. */
    struct HopRequest
    {
        int batch = 1;
        int frames = 1;
        const float* input = nullptr;     // batch x (frames x hop_length)
        const float* sidechain = nullptr; // batch x (frames x hop_length), or null: descriptors come from the input only
        float* output = nullptr;          // batch x (frames x hop_length)
        const DescriptorMix* mixes = nullptr; // frames x D (one per model descriptor and hop); null: the model's own analysis
        const float* latentOffset = nullptr;  // frames x latent_size, or null
        const float* latentScale = nullptr;   // frames x latent_size, or null
        // nn~ modules with a prior (ModelInfo::hasPrior), per hop, or null: the share of the
        // latent taken from prior(temperature) instead of encode(input).
        const float* generateWeight = nullptr;
        const float* temperature = nullptr;
        // The timbre (models with named timbres), per hop, or null: the share of the latent taken
        // from the snapshot (frames) and the snapshot (frames x latent_size).
        const float* timbreWeight = nullptr;
        const float* timbreLatent = nullptr;
        float* measured = nullptr;        // frames x batch x D: the input's descriptors (optional)
        float* targets = nullptr;         // frames x batch x D: what decode() was given (optional)
        float* latents = nullptr;         // frames x batch x latent_size: the input's own latent (optional)
    };

    /** encode + analyze the input (and analyze the sidechain with its own streaming state),
        blend in the timbre snapshot, scale/offset the latent, form the descriptor targets
        (asking natural() when a fader's source is Natural), decode. Returns false, leaving
        `output` untouched, if the model threw. */
    bool processHops (const HopRequest& request) noexcept;

    /** Decode only, from descriptors and latents given per hop (Timbrel Synth: a batch of voices,
        each row its own streaming state). Descriptors flagged in `fromNatural` take natural()'s
        value for the latent at the row's pitch and loudness (the model must have natural());
        then `shifts` are applied in each descriptor's fader space (octaves for Hz, added
        otherwise). Returns false, leaving `output` untouched, if the model threw or is an nn~
        module (which has no descriptors to play). */
    struct DecodeRequest
    {
        int batch = 1;
        int frames = 1;
        const float* latents = nullptr;     // frames x batch x latent_size
        const float* descriptors = nullptr; // frames x batch x D, in the descriptors' units
        const float* shifts = nullptr;      // frames x batch x D in fader space, or null
        const bool* fromNatural = nullptr;  // D flags, or null: none
        float* output = nullptr;            // batch x (frames x hop_length)
    };
    bool decodeHops (const DecodeRequest& request) noexcept;

    /** Measures `numHops` whole hops of mono model-rate audio with a separate copy of the
        model's analysis (its own streaming state), writing the last hop's descriptors. For the
        editor's output meters: one thread at a time, any thread but the one running
        processHops; allocates, so never on the audio thread. */
    bool analyzeOutput (const float* audio, int numHops, float* lastDescriptors) noexcept;
    void resetOutputAnalysis() noexcept;

    /** The tensor memory this model's playing thread reuses (src/TensorPool.h): 2 MiB slabs
        taken from the system so far and their bytes. Flat after warm-up while nothing changes. */
    struct MemoryStats
    {
        bool pooled = false;
        uint64_t slabs = 0;
        uint64_t bytesReserved = 0;
    };
    MemoryStats memoryStats() const noexcept;

    /** Why the last hop (or reset) failed, in the model's own words ("" before any failure):
        processHops and reset keep the exception's text, and the stream adds its own reasons
        (reportFailure). Written on the playing thread into a fixed buffer, readable on any
        other thread without locks (a sequence counter detects a read torn by a write). */
    std::string lastFailure() const;
    void reportFailure (std::string_view reason) noexcept;

private:
    bool processNnHops (const HopRequest& request) noexcept;

    struct Impl;   // a Timbrel model
    struct NnImpl; // an nn~ module (src/NnTildeModule.h)
    Model (std::unique_ptr<Impl>, ModelInfo);
    Model (std::unique_ptr<NnImpl>, ModelInfo);
    static LoadResult loadNnTilde (void* module, ModelInfo info); // torch::jit::Module*, kept out of this header

    std::unique_ptr<Impl> impl;
    std::unique_ptr<NnImpl> nn;
    ModelInfo modelInfo;
    std::array<std::atomic<char>, 240> failureText {};
    std::atomic<uint32_t> failureSequence { 0 }; // odd while a write is under way
};
} // namespace timbrel
