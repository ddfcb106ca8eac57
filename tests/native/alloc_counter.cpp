// Allocation interposer: malloc, free, calloc, realloc, posix_memalign, aligned_alloc,
// memalign, valloc, pvalloc and every global operator new/delete, forwarding to glibc's own
// entry points (__libc_malloc & co.) and counting the calls made while the calling thread has
// counting switched on.
//
// Safe before main() and during thread start/exit: the flag is a constant-initialised
// thread_local bool in the executable (static TLS, no lazy allocation, no destructor) and the
// counters are constant-initialised lock-free atomics; nothing here allocates.
// Free of a null pointer is not counted; realloc counts as an allocation, except realloc(p, 0)
// with p non-null, which frees and counts as a free.

#include "alloc_counter.h"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <dlfcn.h>
#include <malloc.h>
#include <new>

extern "C"
{
void* __libc_malloc (std::size_t) noexcept;
void __libc_free (void*) noexcept;
void* __libc_calloc (std::size_t, std::size_t) noexcept;
void* __libc_realloc (void*, std::size_t) noexcept;
void* __libc_memalign (std::size_t, std::size_t) noexcept;
void* __libc_valloc (std::size_t) noexcept;
void* __libc_pvalloc (std::size_t) noexcept;
}

namespace
{
constinit thread_local bool countingOnThisThread __attribute__ ((tls_model ("initial-exec"))) = false;
constinit std::atomic<std::uint64_t> allocationCount { 0 };
constinit std::atomic<std::uint64_t> freeCount { 0 };
static_assert (std::atomic<std::uint64_t>::is_always_lock_free);

inline void noteAllocation() noexcept
{
    if (countingOnThisThread) [[unlikely]]
        allocationCount.fetch_add (1, std::memory_order_relaxed);
}

inline void noteFree (const void* p) noexcept
{
    if (p != nullptr && countingOnThisThread) [[unlikely]]
        freeCount.fetch_add (1, std::memory_order_relaxed);
}

inline bool isPowerOfTwo (std::size_t x) noexcept { return x != 0 && (x & (x - 1)) == 0; }

void* newOrThrow (std::size_t size)
{
    noteAllocation();
    if (size == 0)
        size = 1;
    for (;;)
    {
        if (void* p = __libc_malloc (size))
            return p;
        auto handler = std::get_new_handler();
        if (handler == nullptr)
            throw std::bad_alloc();
        handler();
    }
}

void* alignedNewOrThrow (std::size_t size, std::align_val_t alignment)
{
    noteAllocation();
    if (size == 0)
        size = 1;
    for (;;)
    {
        if (void* p = __libc_memalign (static_cast<std::size_t> (alignment), size))
            return p;
        auto handler = std::get_new_handler();
        if (handler == nullptr)
            throw std::bad_alloc();
        handler();
    }
}

void* newNoThrow (std::size_t size) noexcept
{
    try { return newOrThrow (size); }
    catch (...) { return nullptr; }
}

void* alignedNewNoThrow (std::size_t size, std::align_val_t alignment) noexcept
{
    try { return alignedNewOrThrow (size, alignment); }
    catch (...) { return nullptr; }
}

inline void deleteAny (void* p) noexcept
{
    noteFree (p);
    __libc_free (p);
}
} // namespace

//==============================================================================
// C allocation functions. The dynamic list (exports.map) exports them from the executable.
#if TIMBREL_INTERPOSE_ALLOCATIONS // off in sanitizer builds: the sanitizer owns the allocator
extern "C"
{
void* malloc (std::size_t size) noexcept
{
    noteAllocation();
    return __libc_malloc (size);
}

void free (void* p) noexcept
{
    noteFree (p);
    __libc_free (p);
}

void* calloc (std::size_t count, std::size_t size) noexcept
{
    noteAllocation();
    return __libc_calloc (count, size);
}

void* realloc (void* p, std::size_t size) noexcept
{
    if (p != nullptr && size == 0)
        noteFree (p);
    else
        noteAllocation();
    return __libc_realloc (p, size);
}

int posix_memalign (void** result, std::size_t alignment, std::size_t size) noexcept
{
    noteAllocation();
    if (! isPowerOfTwo (alignment) || alignment % sizeof (void*) != 0)
        return EINVAL;
    void* p = __libc_memalign (alignment, size);
    if (p == nullptr)
        return ENOMEM;
    *result = p;
    return 0;
}

void* aligned_alloc (std::size_t alignment, std::size_t size) noexcept
{
    noteAllocation();
    if (! isPowerOfTwo (alignment))
    {
        errno = EINVAL;
        return nullptr;
    }
    return __libc_memalign (alignment, size);
}

void* memalign (std::size_t alignment, std::size_t size) noexcept
{
    noteAllocation();
    return __libc_memalign (alignment, size);
}

void* valloc (std::size_t size) noexcept
{
    noteAllocation();
    return __libc_valloc (size);
}

void* pvalloc (std::size_t size) noexcept
{
    noteAllocation();
    return __libc_pvalloc (size);
}
} // extern "C"

//==============================================================================
// Global operator new/delete, all variants.
void* operator new (std::size_t size) { return newOrThrow (size); }
void* operator new[] (std::size_t size) { return newOrThrow (size); }
void* operator new (std::size_t size, const std::nothrow_t&) noexcept { return newNoThrow (size); }
void* operator new[] (std::size_t size, const std::nothrow_t&) noexcept { return newNoThrow (size); }
void* operator new (std::size_t size, std::align_val_t a) { return alignedNewOrThrow (size, a); }
void* operator new[] (std::size_t size, std::align_val_t a) { return alignedNewOrThrow (size, a); }
void* operator new (std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept { return alignedNewNoThrow (size, a); }
void* operator new[] (std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept { return alignedNewNoThrow (size, a); }

void operator delete (void* p) noexcept { deleteAny (p); }
void operator delete[] (void* p) noexcept { deleteAny (p); }
void operator delete (void* p, std::size_t) noexcept { deleteAny (p); }
void operator delete[] (void* p, std::size_t) noexcept { deleteAny (p); }
void operator delete (void* p, const std::nothrow_t&) noexcept { deleteAny (p); }
void operator delete[] (void* p, const std::nothrow_t&) noexcept { deleteAny (p); }
void operator delete (void* p, std::align_val_t) noexcept { deleteAny (p); }
void operator delete[] (void* p, std::align_val_t) noexcept { deleteAny (p); }
void operator delete (void* p, std::size_t, std::align_val_t) noexcept { deleteAny (p); }
void operator delete[] (void* p, std::size_t, std::align_val_t) noexcept { deleteAny (p); }
void operator delete (void* p, std::align_val_t, const std::nothrow_t&) noexcept { deleteAny (p); }
void operator delete[] (void* p, std::align_val_t, const std::nothrow_t&) noexcept { deleteAny (p); }
#endif

//==============================================================================
namespace timbrel_rt
{
void setCountingOnThisThread (bool shouldCount) noexcept
{
    // Keep the compiler from moving allocations across the switch.
    std::atomic_signal_fence (std::memory_order_seq_cst);
    countingOnThisThread = shouldCount;
    std::atomic_signal_fence (std::memory_order_seq_cst);
}

std::uint64_t countedAllocations() noexcept { return allocationCount.load (std::memory_order_relaxed); }
std::uint64_t countedFrees() noexcept { return freeCount.load (std::memory_order_relaxed); }

int unexportedAllocationSymbols (const char** names, int capacity) noexcept
{
    struct Entry
    {
        const char* name;
        void* ours;
    };
    const Entry entries[] = {
        { "malloc", reinterpret_cast<void*> (&::malloc) },
        { "free", reinterpret_cast<void*> (&::free) },
        { "calloc", reinterpret_cast<void*> (&::calloc) },
        { "realloc", reinterpret_cast<void*> (&::realloc) },
        { "posix_memalign", reinterpret_cast<void*> (&::posix_memalign) },
        { "aligned_alloc", reinterpret_cast<void*> (&::aligned_alloc) },
        { "memalign", reinterpret_cast<void*> (&::memalign) },
        { "valloc", reinterpret_cast<void*> (&::valloc) },
        { "pvalloc", reinterpret_cast<void*> (&::pvalloc) },
        { "_Znwm", reinterpret_cast<void*> (static_cast<void* (*) (std::size_t)> (&::operator new)) },
        { "_Znam", reinterpret_cast<void*> (static_cast<void* (*) (std::size_t)> (&::operator new[])) },
        { "_ZnwmRKSt9nothrow_t", reinterpret_cast<void*> (static_cast<void* (*) (std::size_t, const std::nothrow_t&) noexcept> (&::operator new)) },
        { "_ZnamRKSt9nothrow_t", reinterpret_cast<void*> (static_cast<void* (*) (std::size_t, const std::nothrow_t&) noexcept> (&::operator new[])) },
        { "_ZnwmSt11align_val_t", reinterpret_cast<void*> (static_cast<void* (*) (std::size_t, std::align_val_t)> (&::operator new)) },
        { "_ZnamSt11align_val_t", reinterpret_cast<void*> (static_cast<void* (*) (std::size_t, std::align_val_t)> (&::operator new[])) },
        { "_ZnwmSt11align_val_tRKSt9nothrow_t", reinterpret_cast<void*> (static_cast<void* (*) (std::size_t, std::align_val_t, const std::nothrow_t&) noexcept> (&::operator new)) },
        { "_ZnamSt11align_val_tRKSt9nothrow_t", reinterpret_cast<void*> (static_cast<void* (*) (std::size_t, std::align_val_t, const std::nothrow_t&) noexcept> (&::operator new[])) },
        { "_ZdlPv", reinterpret_cast<void*> (static_cast<void (*) (void*) noexcept> (&::operator delete)) },
        { "_ZdaPv", reinterpret_cast<void*> (static_cast<void (*) (void*) noexcept> (&::operator delete[])) },
        { "_ZdlPvm", reinterpret_cast<void*> (static_cast<void (*) (void*, std::size_t) noexcept> (&::operator delete)) },
        { "_ZdaPvm", reinterpret_cast<void*> (static_cast<void (*) (void*, std::size_t) noexcept> (&::operator delete[])) },
        { "_ZdlPvRKSt9nothrow_t", reinterpret_cast<void*> (static_cast<void (*) (void*, const std::nothrow_t&) noexcept> (&::operator delete)) },
        { "_ZdaPvRKSt9nothrow_t", reinterpret_cast<void*> (static_cast<void (*) (void*, const std::nothrow_t&) noexcept> (&::operator delete[])) },
        { "_ZdlPvSt11align_val_t", reinterpret_cast<void*> (static_cast<void (*) (void*, std::align_val_t) noexcept> (&::operator delete)) },
        { "_ZdaPvSt11align_val_t", reinterpret_cast<void*> (static_cast<void (*) (void*, std::align_val_t) noexcept> (&::operator delete[])) },
        { "_ZdlPvmSt11align_val_t", reinterpret_cast<void*> (static_cast<void (*) (void*, std::size_t, std::align_val_t) noexcept> (&::operator delete)) },
        { "_ZdaPvmSt11align_val_t", reinterpret_cast<void*> (static_cast<void (*) (void*, std::size_t, std::align_val_t) noexcept> (&::operator delete[])) },
        { "_ZdlPvSt11align_val_tRKSt9nothrow_t", reinterpret_cast<void*> (static_cast<void (*) (void*, std::align_val_t, const std::nothrow_t&) noexcept> (&::operator delete)) },
        { "_ZdaPvSt11align_val_tRKSt9nothrow_t", reinterpret_cast<void*> (static_cast<void (*) (void*, std::align_val_t, const std::nothrow_t&) noexcept> (&::operator delete[])) },
    };

    int missing = 0;
    for (const auto& entry : entries)
    {
        if (dlsym (RTLD_DEFAULT, entry.name) == entry.ours)
            continue;
        if (missing < capacity)
            names[missing] = entry.name;
        ++missing;
    }
    return missing;
}
} // namespace timbrel_rt
