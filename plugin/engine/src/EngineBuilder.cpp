#include "timbrel/EngineBuilder.h"

#include <cmath>

namespace timbrel
{
namespace
{
std::string abandoned (std::chrono::milliseconds deadline)
{
    const double seconds = static_cast<double> (deadline.count()) / 1000.0;
    const auto text = seconds == std::floor (seconds) ? std::to_string (static_cast<long> (seconds)) : std::to_string (seconds);
    return "the model did not finish loading within " + text
           + " s (does it loop forever?); it was abandoned, and its thread may keep a processor busy until the host restarts";
}

// The build's result, or the abandonment message when the deadline passed first.
BuiltEngine collect (std::optional<std::shared_ptr<BuiltEngine>> built, std::chrono::milliseconds deadline)
{
    if (! built)
        return { nullptr, abandoned (deadline) };
    return std::move (**built);
}
} // namespace

BuiltEngine buildEngine (const std::string& path, const EngineConfig& config, std::chrono::milliseconds deadline)
{
    auto built = runWithDeadline<std::shared_ptr<BuiltEngine>> (
        [path, config] {
            auto result = std::make_shared<BuiltEngine>();
            auto loaded = Model::load (path);
            if (! loaded)
            {
                result->error = loaded.error;
                return result;
            }
            result->engine = std::make_unique<StreamingEngine> (std::move (loaded.model));
            result->error = result->engine->prepare (config);
            return result;
        },
        deadline);
    return collect (std::move (built), deadline);
}

BuiltEngine reprepareEngine (std::unique_ptr<StreamingEngine> engine, const EngineConfig& config, std::chrono::milliseconds deadline)
{
    // std::function copies its callable: the engine travels in a shared holder.
    auto holder = std::make_shared<BuiltEngine>();
    holder->engine = std::move (engine);
    auto built = runWithDeadline<std::shared_ptr<BuiltEngine>> (
        [holder, config] {
            holder->error = holder->engine->prepare (config);
            return holder;
        },
        deadline);
    return collect (std::move (built), deadline);
}
} // namespace timbrel
