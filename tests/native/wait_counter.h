#pragma once
// Counts the ways a thread can wait, made on the current thread while counting is switched on:
// a contended mutex lock, a condition-variable or semaphore wait, a futex wait, a sleep, a
// yield. wait_counter.cpp interposes the libc entry points; exports.map exports them so the
// dlopen'ed plugin and its libraries bind to them. An uncontended lock is not a wait (JUCE's
// wrappers take their callback lock around every processBlock); a contended one is.

#include <cstdint>

namespace timbrel_rt
{
enum class WaitKind
{
    contendedLock = 0, // pthread_mutex_lock found the mutex held
    conditionWait,     // pthread_cond_wait / timedwait / clockwait
    semaphoreWait,     // sem_wait / timedwait / clockwait
    futexWait,         // syscall(SYS_futex, FUTEX_WAIT...) (C++20 atomics and semaphores)
    sleep,             // nanosleep, clock_nanosleep, usleep, sleep
    yield,             // sched_yield (spinning on another thread)
    count
};
const char* waitKindName (WaitKind kind) noexcept;

void setWaitCountingOnThisThread (bool shouldCount) noexcept;
std::uint64_t countedWaits (WaitKind kind) noexcept;

/** Entry points whose exported symbol is not this executable's (see unexportedAllocationSymbols). */
int unexportedWaitSymbols (const char** names, int capacity) noexcept;

struct ScopedWaitCounting
{
    ScopedWaitCounting() noexcept { setWaitCountingOnThisThread (true); }
    ~ScopedWaitCounting() { setWaitCountingOnThisThread (false); }
    ScopedWaitCounting (const ScopedWaitCounting&) = delete;
    ScopedWaitCounting& operator= (const ScopedWaitCounting&) = delete;
};
} // namespace timbrel_rt
