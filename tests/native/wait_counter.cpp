// Wait interposer: forwards every entry point to the next definition (libc's), found with
// dlsym(RTLD_NEXT) when first needed, and counts calls that wait while the calling thread has
// counting switched on. Like alloc_counter.cpp: a constant-initialised thread_local flag and
// lock-free counters, nothing here allocates or locks.

#include "wait_counter.h"

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <dlfcn.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace
{
constinit thread_local bool countingWaits __attribute__ ((tls_model ("initial-exec"))) = false;
constinit std::array<std::atomic<std::uint64_t>, static_cast<size_t> (timbrel_rt::WaitKind::count)> waitCounts {};

inline void note (timbrel_rt::WaitKind kind) noexcept
{
    if (countingWaits) [[unlikely]]
        waitCounts[static_cast<size_t> (kind)].fetch_add (1, std::memory_order_relaxed);
}

template <typename Fn>
Fn resolveNext (const char* name, std::atomic<Fn>& cache) noexcept
{
    Fn fn = cache.load (std::memory_order_acquire);
    if (fn == nullptr)
    {
        // glibc keeps a compatibility pthread_cond_* (GLIBC_2.2.5, another struct layout) that a
        // plain dlsym would return: ask for the current one.
        const bool condition = name[0] == 'p' && name[8] == 'c' && name[9] == 'o';
        void* symbol = condition ? dlvsym (RTLD_NEXT, name, "GLIBC_2.3.2") : nullptr;
        fn = reinterpret_cast<Fn> (symbol != nullptr ? symbol : dlsym (RTLD_NEXT, name));
        cache.store (fn, std::memory_order_release);
    }
    return fn;
}

#define TIMBREL_NEXT(name) resolveNext (#name, name##Next)
std::atomic<decltype (&::pthread_mutex_lock)> pthread_mutex_lockNext { nullptr };
std::atomic<decltype (&::pthread_mutex_trylock)> pthread_mutex_trylockNext { nullptr };
std::atomic<decltype (&::pthread_cond_wait)> pthread_cond_waitNext { nullptr };
std::atomic<decltype (&::pthread_cond_timedwait)> pthread_cond_timedwaitNext { nullptr };
std::atomic<decltype (&::pthread_cond_clockwait)> pthread_cond_clockwaitNext { nullptr };
std::atomic<decltype (&::sem_wait)> sem_waitNext { nullptr };
std::atomic<decltype (&::sem_timedwait)> sem_timedwaitNext { nullptr };
std::atomic<decltype (&::sem_clockwait)> sem_clockwaitNext { nullptr };
std::atomic<decltype (&::nanosleep)> nanosleepNext { nullptr };
std::atomic<decltype (&::clock_nanosleep)> clock_nanosleepNext { nullptr };
std::atomic<decltype (&::usleep)> usleepNext { nullptr };
std::atomic<decltype (&::sleep)> sleepNext { nullptr };
std::atomic<decltype (&::sched_yield)> sched_yieldNext { nullptr };
std::atomic<decltype (&::syscall)> syscallNext { nullptr };
} // namespace

#if TIMBREL_INTERPOSE_WAITS // off under TSan, which intercepts the same calls to see synchronisation
extern "C"
{
int pthread_mutex_lock (pthread_mutex_t* mutex)
{
    if (countingWaits)
    {
        // Uncontended is not a wait: only a mutex someone else holds counts.
        if (TIMBREL_NEXT (pthread_mutex_trylock) (mutex) == 0)
            return 0;
        note (timbrel_rt::WaitKind::contendedLock);
    }
    return TIMBREL_NEXT (pthread_mutex_lock) (mutex);
}

int pthread_cond_wait (pthread_cond_t* cond, pthread_mutex_t* mutex)
{
    note (timbrel_rt::WaitKind::conditionWait);
    return TIMBREL_NEXT (pthread_cond_wait) (cond, mutex);
}

int pthread_cond_timedwait (pthread_cond_t* cond, pthread_mutex_t* mutex, const struct timespec* until)
{
    note (timbrel_rt::WaitKind::conditionWait);
    return TIMBREL_NEXT (pthread_cond_timedwait) (cond, mutex, until);
}

int pthread_cond_clockwait (pthread_cond_t* cond, pthread_mutex_t* mutex, clockid_t clock, const struct timespec* until)
{
    note (timbrel_rt::WaitKind::conditionWait);
    return TIMBREL_NEXT (pthread_cond_clockwait) (cond, mutex, clock, until);
}

int sem_wait (sem_t* sem)
{
    note (timbrel_rt::WaitKind::semaphoreWait);
    return TIMBREL_NEXT (sem_wait) (sem);
}

int sem_timedwait (sem_t* sem, const struct timespec* until)
{
    note (timbrel_rt::WaitKind::semaphoreWait);
    return TIMBREL_NEXT (sem_timedwait) (sem, until);
}

int sem_clockwait (sem_t* sem, clockid_t clock, const struct timespec* until)
{
    note (timbrel_rt::WaitKind::semaphoreWait);
    return TIMBREL_NEXT (sem_clockwait) (sem, clock, until);
}

int nanosleep (const struct timespec* duration, struct timespec* remaining)
{
    note (timbrel_rt::WaitKind::sleep);
    return TIMBREL_NEXT (nanosleep) (duration, remaining);
}

int clock_nanosleep (clockid_t clock, int flags, const struct timespec* duration, struct timespec* remaining)
{
    note (timbrel_rt::WaitKind::sleep);
    return TIMBREL_NEXT (clock_nanosleep) (clock, flags, duration, remaining);
}

int usleep (useconds_t microseconds)
{
    note (timbrel_rt::WaitKind::sleep);
    return TIMBREL_NEXT (usleep) (microseconds);
}

unsigned int sleep (unsigned int seconds)
{
    note (timbrel_rt::WaitKind::sleep);
    return TIMBREL_NEXT (sleep) (seconds);
}

int sched_yield()
{
    note (timbrel_rt::WaitKind::yield);
    return TIMBREL_NEXT (sched_yield)();
}

long syscall (long number, ...)
{
    // Every Linux system call takes at most six word-sized arguments.
    va_list args;
    va_start (args, number);
    long a[6];
    for (auto& v : a)
        v = va_arg (args, long);
    va_end (args);
    if (number == SYS_futex)
    {
        const int op = static_cast<int> (a[1]) & FUTEX_CMD_MASK;
        if (op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET || op == FUTEX_LOCK_PI || op == FUTEX_WAIT_REQUEUE_PI)
            note (timbrel_rt::WaitKind::futexWait);
    }
    return TIMBREL_NEXT (syscall) (number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
} // extern "C"
#endif

namespace timbrel_rt
{
const char* waitKindName (WaitKind kind) noexcept
{
    switch (kind)
    {
        case WaitKind::contendedLock: return "contended_lock";
        case WaitKind::conditionWait: return "condition_wait";
        case WaitKind::semaphoreWait: return "semaphore_wait";
        case WaitKind::futexWait: return "futex_wait";
        case WaitKind::sleep: return "sleep";
        case WaitKind::yield: return "yield";
        case WaitKind::count: break;
    }
    return "?";
}

void setWaitCountingOnThisThread (bool shouldCount) noexcept { countingWaits = shouldCount; }

std::uint64_t countedWaits (WaitKind kind) noexcept
{
    return waitCounts[static_cast<size_t> (kind)].load (std::memory_order_relaxed);
}

int unexportedWaitSymbols (const char** names, int capacity) noexcept
{
    struct Entry
    {
        const char* name;
        void* ours;
    };
    const Entry entries[] = {
        { "pthread_mutex_lock", reinterpret_cast<void*> (&::pthread_mutex_lock) },
        { "pthread_cond_wait", reinterpret_cast<void*> (&::pthread_cond_wait) },
        { "pthread_cond_timedwait", reinterpret_cast<void*> (&::pthread_cond_timedwait) },
        { "pthread_cond_clockwait", reinterpret_cast<void*> (&::pthread_cond_clockwait) },
        { "sem_wait", reinterpret_cast<void*> (&::sem_wait) },
        { "sem_timedwait", reinterpret_cast<void*> (&::sem_timedwait) },
        { "sem_clockwait", reinterpret_cast<void*> (&::sem_clockwait) },
        { "nanosleep", reinterpret_cast<void*> (&::nanosleep) },
        { "clock_nanosleep", reinterpret_cast<void*> (&::clock_nanosleep) },
        { "usleep", reinterpret_cast<void*> (&::usleep) },
        { "sleep", reinterpret_cast<void*> (&::sleep) },
        { "sched_yield", reinterpret_cast<void*> (&::sched_yield) },
        { "syscall", reinterpret_cast<void*> (&::syscall) },
    };
    int missing = 0;
    for (const auto& entry : entries)
        if (dlsym (RTLD_DEFAULT, entry.name) != entry.ours)
        {
            if (missing < capacity)
                names[missing] = entry.name;
            ++missing;
        }
    return missing;
}
} // namespace timbrel_rt
