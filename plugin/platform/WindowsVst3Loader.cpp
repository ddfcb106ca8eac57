// Windows only: the bundle's Timbrel.vst3 (and TimbrelSynth.vst3) when
// TIMBREL_WINDOWS_TORCH_LOADING=loader, the default (cmake/TimbrelPlatform.cmake).
//
// Windows resolves a DLL's imports from the host's folder, System32 and PATH, never from the
// folder of the DLL that imports them, so a plugin that links libtorch directly fails to load
// from a bundle that carries libtorch's DLLs. This stub imports nothing from libtorch. On the
// host's first call it loads the real plugin, <NAME>Impl.dll beside it (JUCE's VST3 binary,
// renamed), by full path with LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR: the loader then takes the real
// plugin's imports (torch.dll, torch_cpu.dll, c10.dll, uv.dll, libiomp5md.dll) from that folder.
// It forwards the three VST3 module entry points. The real plugin is never unloaded (it pins
// itself, WindowsDllPath.cpp), so ExitDll does not free it.
//
// UNTESTED: no Windows machine has built or run this (docs/platforms.md).
#if defined(_WIN32)

#include "WindowsModule.h"

namespace
{
// ...\Contents\x86_64-win\Timbrel.vst3 -> ...\Contents\x86_64-win\TimbrelImpl.dll
std::wstring implementationPath()
{
    auto path = thisModulePath();
    if (path.empty())
        return {};
    const auto dot = path.find_last_of (L'.');
    const auto slash = path.find_last_of (L"\\/");
    if (dot != std::wstring::npos && (slash == std::wstring::npos || dot > slash))
        path.resize (dot);
    return path + L"Impl.dll";
}

HMODULE implementation()
{
    // Hosts call the entry points from their main thread; the static is thread-safe regardless.
    static const HMODULE module = []
    {
        const auto path = implementationPath();
        return path.empty() ? nullptr
                            : LoadLibraryExW (path.c_str(), nullptr, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);
    }();
    return module;
}

template <typename Function>
Function entryPoint (const char* name)
{
    const auto module = implementation();
    // Through void (*)(): FARPROC's signature is a placeholder (and GCC warns on a direct cast).
    return module == nullptr ? nullptr : reinterpret_cast<Function> (reinterpret_cast<void (*)()> (GetProcAddress (module, name)));
}
} // namespace

// The VST3 module interface on Windows (pluginterfaces/base/ipluginbase.h, JUCE's
// juce_VST3_Wrapper.cpp): the factory is returned as an opaque pointer, nothing is called on it.
extern "C" __declspec (dllexport) bool InitDll()
{
    const auto init = entryPoint<bool (*)()> ("InitDll");
    return init != nullptr && init();
}

extern "C" __declspec (dllexport) bool ExitDll()
{
    const auto exit = entryPoint<bool (*)()> ("ExitDll");
    return exit == nullptr || exit();
}

extern "C" __declspec (dllexport) void* GetPluginFactory()
{
    const auto factory = entryPoint<void* (*)()> ("GetPluginFactory");
    return factory == nullptr ? nullptr : factory();
}

#endif
