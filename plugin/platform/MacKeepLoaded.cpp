// macOS only: cmake/TimbrelPlatform.cmake compiles this file into every format target of both
// plugins on Apple platforms and nowhere else.
//
// What `-z nodelete` does for the Linux binaries (plugin/CMakeLists.txt): a model that never
// returns is abandoned on a detached thread (engine/Deadline.h), so the plugin's code must stay
// mapped after the host unloads the plugin. Apple's linker has no such flag; dlopen with
// RTLD_NODELETE on the already-loaded image marks it never to be unloaded.
//
// UNTESTED: no Mac has built or run this (docs/platforms.md).
#if defined(__APPLE__)

#include <dlfcn.h>

namespace
{
void anchor() {}

struct KeepLoaded
{
    KeepLoaded()
    {
        Dl_info info {};
        if (dladdr (reinterpret_cast<const void*> (&anchor), &info) != 0 && info.dli_fname != nullptr)
            dlopen (info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE); // the handle is kept: never closed
    }
};

const KeepLoaded keepLoaded;
} // namespace

#endif
