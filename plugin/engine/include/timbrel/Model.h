#pragma once
// A loaded, validated, warmed-up model (docs/model-format.md). The torch module is hidden
// behind a pointer so this header stays torch-free.

#include "timbrel/ModelInfo.h"

#include <memory>
#include <string>

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
        methods on a short signal (shapes, finite output). Never throws. */
    static LoadResult load (const std::string& path);

    ~Model();
    Model (const Model&) = delete;
    Model& operator= (const Model&) = delete;

    const ModelInfo& info() const { return modelInfo; }

    /** Runs a few hops at this batch size so the JIT has optimised before real-time use,
        then clears the streaming state. Returns an error message, empty on success. */
    std::string warmUp (int batchSize, int hops = 8);

    /** Clears all streaming state (the model's reset()). */
    void reset();

    /** Processes one hop for `batch` channels: input and output are `batch` x hop_length
        floats, channel-major and contiguous. `shifts` holds one value per model descriptor
        (in the model's descriptor order), applied to analyze() before decode().
        `descriptorsOut`, if not null, receives batch x D descriptor values before shifting.
        Returns false (leaving `output` untouched) if the model threw. */
    bool processHop (const float* input, float* output, int batch, const float* shifts, const ShiftKind* kinds,
                     float* descriptorsOut = nullptr) noexcept;

private:
    struct Impl;
    Model (std::unique_ptr<Impl>, ModelInfo);

    std::unique_ptr<Impl> impl;
    ModelInfo modelInfo;
};
} // namespace timbrel
