#pragma once
// Paths of the models exported at build time by `python -m timbrel_tools.model_corpus`.

#include <cstdlib>
#include <string>

namespace timbrel::test
{
inline std::string modelsFolder()
{
    const char* folder = std::getenv ("TIMBREL_TEST_MODELS");
    return folder != nullptr ? folder : "build/models";
}

inline std::string testModelPath() { return modelsFolder() + "/timbrel-test.ts"; }
} // namespace timbrel::test
