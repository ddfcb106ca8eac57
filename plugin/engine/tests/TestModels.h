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

#ifdef TIMBREL_SHIPPED_MODELS
/** The shipped models (models/ in the source tree). */
inline std::string shippedModel (const std::string& name)
{
    return std::string (TIMBREL_SHIPPED_MODELS) + "/" + name + ".ts";
}
#endif
} // namespace timbrel::test
