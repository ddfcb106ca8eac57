// Windows only: cmake/TimbrelPlatform.cmake compiles this file into every format target of both
// plugins (Timbrel, TimbrelSynth) on WIN32 and nowhere else.
//
// libtorch's DLLs travel inside the bundle, beside the plugin binary
// (Timbrel.vst3/Contents/x86_64-win/). Windows looks for a DLL's imports in the host's folder,
// System32 and PATH, not in the folder of the DLL that imports them. This file:
//  - adds the plugin binary's own folder to the process's DLL directories (AddDllDirectory), for
//    any LoadLibraryEx call that searches the user directories;
//  - installs a delay-load hook (__pfnDliNotifyHook2): with TIMBREL_WINDOWS_TORCH_LOADING=delayload
//    the binary links torch.dll, torch_cpu.dll and c10.dll with /DELAYLOAD, and the hook loads each
//    of them by full path from that folder with LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR, so their own
//    imports (c10.dll, uv.dll, libiomp5md.dll) come from the same folder. With the default
//    TIMBREL_WINDOWS_TORCH_LOADING=loader nothing is delay-loaded and the hook never runs: the
//    bundle's stub (WindowsVst3Loader.cpp) loads this binary the same way instead;
//  - pins the binary (GET_MODULE_HANDLE_EX_FLAG_PIN), as -z nodelete does on Linux: a model that
//    never returns is abandoned on a detached thread (engine/Deadline.h), so the code must stay
//    mapped after the host unloads the plugin.
// SetDefaultDllDirectories is deliberately not called: it changes how the whole host process
// searches for every DLL (PATH and the current folder drop out), which other plugins may rely on.
//
// UNTESTED: no Windows machine has built or run this (docs/platforms.md).
#if defined(_WIN32)

#include "WindowsModule.h"

#include <delayimp.h>

namespace
{
std::wstring thisModuleFolder()
{
    const auto path = thisModulePath();
    const auto slash = path.find_last_of (L"\\/");
    return slash == std::wstring::npos ? std::wstring {} : path.substr (0, slash);
}

FARPROC WINAPI loadFromPluginFolder (unsigned notification, PDelayLoadInfo info)
{
    if (notification != dliNotePreLoadLibrary || info == nullptr || info->szDll == nullptr)
        return nullptr;
    const auto folder = thisModuleFolder();
    if (folder.empty())
        return nullptr;
    std::wstring path = folder + L'\\';
    for (const char* c = info->szDll; *c != '\0'; ++c) // import names are ASCII
        path.push_back (static_cast<wchar_t> (static_cast<unsigned char> (*c)));
    if (GetFileAttributesW (path.c_str()) == INVALID_FILE_ATTRIBUTES)
        return nullptr; // not shipped beside the plugin: the delay-load helper searches as usual
    return reinterpret_cast<FARPROC> (
        LoadLibraryExW (path.c_str(), nullptr, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_DEFAULT_DIRS));
}

struct PluginFolderOnDllPath
{
    PluginFolderOnDllPath()
    {
        if (const auto folder = thisModuleFolder(); ! folder.empty())
            AddDllDirectory (folder.c_str()); // kept for the process's life: the module is pinned

        HMODULE pinned = nullptr;
        GetModuleHandleExW (GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                            reinterpret_cast<LPCWSTR> (&loadFromPluginFolder),
                            &pinned);
    }
};

const PluginFolderOnDllPath pluginFolderOnDllPath;
} // namespace

// The delay-load helper (delayimp.lib) calls this before it loads a delay-loaded DLL. MSVC's
// delayimp.h declares the hook pointer const (since Visual Studio 2015 Update 3), MinGW's does not.
// Both declare it extern "C", which this definition inherits.
#if defined(_MSC_VER)
const PfnDliHook __pfnDliNotifyHook2 = loadFromPluginFolder;
#else
PfnDliHook __pfnDliNotifyHook2 = loadFromPluginFolder;
#endif

#endif
