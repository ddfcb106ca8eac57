#pragma once
// Counts heap allocations made on the current thread while counting is switched on.
// alloc_counter.cpp replaces malloc & co. and the global operator new/delete in this
// executable; exports.map exports them so the dlopen'ed plugin and its libraries (libtorch,
// libc10, libstdc++, libc itself) resolve to them.

#include <cstdint>

namespace timbrel_rt
{
/** Switches counting on or off for the calling thread only. Never allocates. */
void setCountingOnThisThread (bool shouldCount) noexcept;

/** Process-wide totals of calls made while some thread had counting switched on. */
std::uint64_t countedAllocations() noexcept;
std::uint64_t countedFrees() noexcept;

/** The allocation entry points whose exported symbol is not the one in this executable
    (dlsym(RTLD_DEFAULT, name) != our function): the dlopen'ed plugin would bypass the
    counter for these. Writes up to `capacity` names, returns how many there are. */
int unexportedAllocationSymbols (const char** names, int capacity) noexcept;

struct ScopedAllocationCounting
{
    ScopedAllocationCounting() noexcept { setCountingOnThisThread (true); }
    ~ScopedAllocationCounting() { setCountingOnThisThread (false); }
    ScopedAllocationCounting (const ScopedAllocationCounting&) = delete;
    ScopedAllocationCounting& operator= (const ScopedAllocationCounting&) = delete;
};
} // namespace timbrel_rt
