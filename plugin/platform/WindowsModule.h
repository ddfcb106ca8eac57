#pragma once
// Windows only: the binary this code is linked into, and its file's path. Included by
// WindowsDllPath.cpp (inside the plugin) and WindowsVst3Loader.cpp (the bundle's stub), each of
// which is its own DLL: the functions are per translation unit, so each names its own binary.
#if defined(_WIN32)

#if ! defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0602
    #undef _WIN32_WINNT
    #define _WIN32_WINNT 0x0602 // AddDllDirectory, LOAD_LIBRARY_SEARCH_* (Windows 8; 7 with KB2533623)
#endif
#ifndef WIN32_LEAN_AND_MEAN
    #define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
    #define NOMINMAX
#endif
#include <windows.h>

#include <string>

namespace
{
HMODULE thisModule() noexcept
{
    HMODULE module = nullptr;
    // An address inside this binary names it (this DLL, not the host's executable).
    GetModuleHandleExW (GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                        reinterpret_cast<LPCWSTR> (&thisModule),
                        &module);
    return module;
}

/** This binary's full path ("" if Windows cannot say). */
std::wstring thisModulePath()
{
    std::wstring path (MAX_PATH, L'\0');
    for (;;)
    {
        const auto length = GetModuleFileNameW (thisModule(), path.data(), static_cast<DWORD> (path.size()));
        if (length == 0)
            return {};
        if (length < path.size())
        {
            path.resize (length);
            return path;
        }
        path.resize (path.size() * 2); // truncated: long path
    }
}
} // namespace

#endif
