#pragma once
// Modules in the nn~ convention (Max/Pd's nn~, RAVE's exports), read, checked and played beside
// Timbrel's own contract: docs/model-format.md, "Other models". Includes torch: engine sources
// only.

#include "timbrel/ModelInfo.h"

#include <torch/script.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace timbrel
{
/** True for a module with no Timbrel `format_version` that follows nn~'s convention: a
    `get_methods()` method or a `<method>_params` buffer. */
bool isNnTildeModule (const torch::jit::Module& module);

class NnTildeModule
{
public:
    /** Reads the module's methods, `<method>_params` ratios and `sr` into `info` (kind, sample
        rate, channels, latent size, play path, hop when a ratio gives one). Returns why
        Timbrel cannot play it, naming what is missing or inconsistent. */
    static std::optional<std::string> describe (const torch::jit::Module& module, ModelInfo& info);

    NnTildeModule (torch::jit::Module module, const ModelInfo& info);

    /** Runs the play path on a test tone and checks shapes and finite output; for a
        forward-only module with no ratio beyond 1, first finds the smallest power-of-two hop
        (256..8192) its forward keeps the length of. Sets info.hopLength. Returns the error. */
    std::optional<std::string> probe (ModelInfo& info);

    /** The module's own delay in samples, which it does not declare: bursts of band-limited
        noise are played through it after a reset, and again silence from the same state and
        random seed; the difference is the input's effect, and the lag that best aligns its
        energy envelope with the bursts' is the delay. Sets info.latencySamples, latencyNote. */
    void measureLatency (ModelInfo& info);

    /** The model card (JSON) the editor and hosts read: methods, play path, prior, streaming,
        and a description with the delay. Call after probe() and measureLatency(). */
    std::string card (const ModelInfo& info) const;

    /** Restores every buffer to its value at load: nn~ modules keep their streaming state
        (cached_conv's padding caches) in buffers and have no reset method. No allocation. */
    void reset();

    /** Plays `frames` hops. x: [batch, 1, frames x hop], one row per host channel; returns
        [batch, 1, frames x hop]. The latent controls (frames x latent_size, may be null) act
        on encode's output. With a prior, `generateWeight` (per hop, may be null) blends
        prior(temperature) into the latent: 1 generates without the input. Throws
        std::runtime_error with a plain-words reason. */
    at::Tensor play (const at::Tensor& x, int64_t frames, const float* latentOffset, const float* latentScale,
                     const float* generateWeight = nullptr, const float* temperature = nullptr);

private:
    torch::jit::Module module;
    std::optional<torch::jit::Method> encode, decode, forward, prior;

    at::Tensor withPrior (const at::Tensor& encoded, int64_t frames, const float* generateWeight, const float* temperature);
    std::vector<std::pair<at::Tensor, at::Tensor>> buffersAtLoad; // each live buffer and a copy made at load
    bool priorFailed = false; // listed and fitting, but failed its test at load
    int channels = 1;
    int64_t latentSize = 0;
    int64_t hop = 0;
};
} // namespace timbrel
