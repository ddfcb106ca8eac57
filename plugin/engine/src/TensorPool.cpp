#include "TensorPool.h"

#include <c10/core/CPUAllocator.h>

#if ! defined(_WIN32)
    #include <dlfcn.h>
    #include <sys/mman.h>
#endif

#include <mutex>
#include <new>

namespace timbrel
{
namespace
{
thread_local TensorPool* currentPool = nullptr;

// Above c10's default (0), so the hook takes the slot.
constexpr uint8_t kHookPriority = 1;

// Address space for every pool's slabs, reserved (not committed) once per process: a pointer
// inside it is a pooled block. 8192 slabs of 2 MiB; when it runs out, pools serve unpooled.
constexpr size_t kRegionBytes = size_t { 16 } << 30;

// The platform's part: reserve address space, commit a slab, give a slab's pages back, and
// keep this module mapped. The hook's code must stay mapped while libtorch may call it or free
// a pooled block, and libtorch can outlive the plugin (a Python host that imported torch shares
// it), so the module holding this code pins itself: a host's dlclose then leaves it loaded.
#if defined(_WIN32)
// Not ported (VirtualAlloc would do): Windows builds run unpooled.
char* reserveAddressRange (size_t) { return nullptr; }
bool commitSlab (char*, size_t) { return false; }
void releaseSlabPages (char*, size_t) {}
void pinThisModule() {}
#else
char* reserveAddressRange (size_t bytes)
{
    void* memory = mmap (nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return memory == MAP_FAILED ? nullptr : static_cast<char*> (memory);
}

bool commitSlab (char* slab, size_t bytes) { return mprotect (slab, bytes, PROT_READ | PROT_WRITE) == 0; }

void releaseSlabPages (char* slab, size_t bytes) { madvise (slab, bytes, MADV_DONTNEED); }

void pinThisModule()
{
    Dl_info self {};
    if (dladdr (reinterpret_cast<void*> (&pinThisModule), &self) != 0 && self.dli_fname != nullptr)
        dlopen (self.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE); // a reference never closed
}
#endif

// The range itself is `regionBase` (set once, read by every raw free); this is its bookkeeping.
struct Region
{
    std::atomic<size_t> used { 0 };
    std::mutex spareMutex;
    char* spare = nullptr; // slabs of dead pools, linked through their first word
};

std::atomic<char*> regionBase { nullptr };
c10::DeleterFnPtr replacedRawDeleter = nullptr;

Region* region()
{
    static Region* reserved = [] () -> Region* {
        char* memory = reserveAddressRange (kRegionBytes);
        if (memory == nullptr)
            return nullptr;
        regionBase.store (memory, std::memory_order_release);
        return new Region();
    }();
    return reserved;
}

bool inRegion (const void* data) noexcept
{
    const char* base = regionBase.load (std::memory_order_acquire);
    const auto* p = static_cast<const char*> (data);
    return base != nullptr && p >= base && p < base + kRegionBytes;
}

char*& nextSlab (char* slab) { return *reinterpret_cast<char**> (slab); }

char* takeSlab() noexcept
{
    auto* r = region();
    {
        const std::lock_guard lock (r->spareMutex);
        if (char* slab = r->spare)
        {
            r->spare = nextSlab (slab);
            return slab; // still readable and writable; its pages were given back to the system
        }
    }
    const size_t offset = r->used.fetch_add (TensorPool::kSlabBytes, std::memory_order_relaxed);
    if (offset + TensorPool::kSlabBytes > kRegionBytes)
        return nullptr;
    char* slab = regionBase.load (std::memory_order_relaxed) + offset;
    if (! commitSlab (slab, TensorPool::kSlabBytes))
        return nullptr;
    return slab;
}

void returnSlab (char* slab) noexcept
{
    releaseSlabPages (slab, TensorPool::kSlabBytes);
    auto* r = region();
    const std::lock_guard lock (r->spareMutex);
    nextSlab (slab) = r->spare;
    r->spare = slab;
}

int sizeClassFor (size_t bytes) noexcept
{
    int sizeClass = 6; // 64 bytes: c10's alignment, so every block stays 64-byte aligned
    while ((size_t { 1 } << sizeClass) < bytes)
        ++sizeClass;
    return sizeClass;
}
} // namespace

// The header in front of every pooled block: 64 bytes, so the data keeps c10's alignment.
struct alignas (64) TensorPool::Block
{
    TensorPool* pool;
    Block* next;
    int sizeClass;

    void* data() noexcept { return reinterpret_cast<char*> (this) + sizeof (Block); }
};

class PooledCpuAllocator final : public c10::Allocator
{
public:
    explicit PooledCpuAllocator (c10::Allocator* replaced) : fallback (replaced) {}

    c10::DataPtr allocate (size_t bytes) override
    {
        if (auto* pool = currentPool; pool != nullptr && bytes > 0 && bytes <= TensorPool::kLargestPooled)
            if (auto* block = pool->take (bytes))
                return { block->data(), block->data(), &TensorPool::deleteData, c10::Device (c10::DeviceType::CPU) };
        return fallback->allocate (bytes);
    }

    // libtorch's raw API (oneDNN's scratch memory) frees through this: pooled blocks by address,
    // everything else through the replaced allocator's own raw deleter.
    c10::DeleterFnPtr raw_deleter() const override { return &TensorPool::deleteData; }

    void copy_data (void* dest, const void* src, std::size_t count) const override { default_copy_data (dest, src, count); }

private:
    c10::Allocator* fallback;
};

namespace
{
// Installed once per process and never removed: tensors anywhere may hold its blocks, and
// libtorch keeps the pointer. Not installed where the replaced allocator has no raw deleter
// (the hook could not pass raw frees on) or no address range could be reserved.
PooledCpuAllocator* installHook()
{
    static PooledCpuAllocator* hook = [] () -> PooledCpuAllocator* {
        auto* replaced = c10::GetCPUAllocator();
        if (replaced == nullptr || replaced->raw_deleter() == nullptr || region() == nullptr)
            return nullptr;
        pinThisModule();
        replacedRawDeleter = replaced->raw_deleter();
        auto* created = new PooledCpuAllocator (replaced);
        c10::SetCPUAllocator (created, kHookPriority);
        return created;
    }();
    return hook != nullptr && c10::GetCPUAllocator() == hook ? hook : nullptr;
}
} // namespace

std::shared_ptr<TensorPool> TensorPool::create()
{
    if (installHook() == nullptr)
        return nullptr;
    // The handle's "delete" drops the owner's reference; blocks still out keep the pool.
    return std::shared_ptr<TensorPool> (new TensorPool(), [] (TensorPool* pool) { pool->releaseReference(); });
}

TensorPool::~TensorPool()
{
    // Every block is back (the last reference was the last block or the owner), so the slabs
    // hold nothing alive.
    while (char* slab = slabList)
    {
        slabList = nextSlab (slab);
        returnSlab (slab);
    }
}

TensorPool::Scope::Scope (TensorPool* pool) noexcept : previous (currentPool) { currentPool = pool; }
TensorPool::Scope::~Scope() { currentPool = previous; }

TensorPool::Block* TensorPool::take (size_t bytes) noexcept
{
    static_assert (sizeof (Block) == 64);
    const int sizeClass = sizeClassFor (bytes);
    auto& head = free[static_cast<size_t> (sizeClass)];
    // Only the thread holding the Scope pops, so the head cannot be popped and pushed back
    // between the load and the exchange (no ABA); other threads only push.
    Block* block = head.load (std::memory_order_acquire);
    while (block != nullptr && ! head.compare_exchange_weak (block, block->next, std::memory_order_acquire, std::memory_order_acquire))
    {
    }
    if (block == nullptr)
    {
        const size_t size = sizeof (Block) + (size_t { 1 } << sizeClass);
        if (carve == nullptr || static_cast<size_t> (carveEnd - carve) < size)
        {
            char* slab = takeSlab();
            if (slab == nullptr)
                return nullptr;
            nextSlab (slab) = slabList;
            slabList = slab;
            slabCount.fetch_add (1, std::memory_order_relaxed);
            carve = slab + sizeof (Block); // the first 64 bytes link the slab
            carveEnd = slab + kSlabBytes;
        }
        block = new (carve) Block { this, nullptr, sizeClass };
        carve += size;
    }
    references.fetch_add (1, std::memory_order_relaxed);
    return block;
}

void TensorPool::give (Block* block) noexcept
{
    auto& head = free[static_cast<size_t> (block->sizeClass)];
    block->next = head.load (std::memory_order_relaxed);
    while (! head.compare_exchange_weak (block->next, block, std::memory_order_release, std::memory_order_relaxed))
    {
    }
    releaseReference();
}

void TensorPool::deleteData (void* data)
{
    if (data == nullptr)
        return;
    if (! inRegion (data))
    {
        replacedRawDeleter (data);
        return;
    }
    auto* block = reinterpret_cast<Block*> (static_cast<char*> (data) - sizeof (Block));
    block->pool->give (block);
}

void TensorPool::releaseReference() noexcept
{
    if (references.fetch_sub (1, std::memory_order_acq_rel) == 1)
        delete this;
}

bool TensorPool::servedByPool (const c10::DataPtr& data) noexcept
{
    return data.get_deleter() == &TensorPool::deleteData && inRegion (data.get());
}
} // namespace timbrel
