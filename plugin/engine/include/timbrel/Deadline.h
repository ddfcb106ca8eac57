#pragma once
// Work with a deadline on a thread of its own. TorchScript cannot be interrupted, so a model
// that never returns (a loop in its code) would otherwise take the loader with it: past the
// deadline the caller gets nothing back and goes on; the thread is detached and whatever it
// produces, if it ever ends, is destroyed on that thread. The work must therefore own
// everything it touches (capture by value, no pointer to its caller), and the binary that
// runs it must stay loaded while it may run (the plugin links with -z nodelete).

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace timbrel
{
// A model load (read, validate, probe) plus an engine's warm-up: ours take about 0.1 s.
inline constexpr std::chrono::milliseconds kLoadDeadline { 10000 };

template <typename Result>
std::optional<Result> runWithDeadline (std::function<Result()> work, std::chrono::milliseconds deadline)
{
    struct Shared
    {
        std::mutex mutex;
        std::condition_variable finished;
        std::optional<Result> result;
    };
    auto shared = std::make_shared<Shared>();
    std::thread ([shared, work = std::move (work)] {
        auto result = work();
        const std::lock_guard lock (shared->mutex);
        shared->result = std::move (result);
        shared->finished.notify_all();
    }).detach();

    std::unique_lock lock (shared->mutex);
    if (! shared->finished.wait_for (lock, deadline, [&] { return shared->result.has_value(); }))
        return std::nullopt;
    return std::move (shared->result);
}
} // namespace timbrel
