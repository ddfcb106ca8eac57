#pragma once
// From a model file to an engine ready to play, off the audio thread and within a deadline:
// the loader's one call (plugin/source), the fuzzer's and the tests'.

#include "timbrel/Deadline.h"
#include "timbrel/StreamingEngine.h"

#include <chrono>
#include <memory>
#include <string>

namespace timbrel
{
struct BuiltEngine
{
    std::unique_ptr<StreamingEngine> engine; // null when the model could not be loaded
    std::string error;                       // why not; or, with an engine, why it plays dry
};

/** Loads, validates and probes `path`, then prepares (warms up) an engine for `config`, on a
    thread of its own. Past `deadline` the build is abandoned (Deadline.h) and the error says so. */
BuiltEngine buildEngine (const std::string& path, const EngineConfig& config,
                         std::chrono::milliseconds deadline = kLoadDeadline);

/** Prepares `engine` again for another configuration, within the deadline. On a timeout the
    engine is gone (it belongs to the abandoned thread) and the error says so. */
BuiltEngine reprepareEngine (std::unique_ptr<StreamingEngine> engine, const EngineConfig& config,
                             std::chrono::milliseconds deadline = kLoadDeadline);
} // namespace timbrel
