#pragma once
// Recycled memory for the tensors a model creates while it runs. libtorch asks its CPU
// allocator for every intermediate tensor of every streaming call (hundreds per hop, up to a
// quarter of a megabyte each), and glibc's malloc then spends about a tenth of the hop
// splitting, consolidating and mapping memory. A TensorPool keeps the blocks a model's calls
// freed and hands them out again on the next call: after warm-up, a hop takes all its tensor
// memory from blocks reserved earlier.
//
// How it hooks in: the first pool installs one process-wide c10 CPU allocator. It serves a
// thread from a pool only inside a TensorPool::Scope on that thread and passes every other
// request (other threads, other code, a Python host's own torch) to the allocator it replaced,
// unchanged. Pooled blocks live in one reserved address range, so the hook's raw deleter
// (oneDNN frees its scratch memory through it) tells a pooled pointer from any other by its
// address alone and hands the others to the replaced allocator's deleter.
//
// Lifetime: a block may be freed on any thread; a pool lives until its owner has released it
// and every block it handed out has come back. One thread at a time may hold a Scope on a
// given pool (the thread running that model). Taking a block is lock-free (a single-consumer,
// multi-producer stack per size class), so a Scope is usable on the audio thread; only a pool
// that needs a new 2 MiB slab takes a lock and makes system calls.
// This header includes c10: engine sources only, never JUCE translation units.

#include <c10/core/Allocator.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace timbrel
{
class TensorPool
{
public:
    /** An empty pool, or null where pooling is unavailable (the address range could not be
        reserved, or another allocator owns libtorch's CPU slot): callers then run unpooled. */
    static std::shared_ptr<TensorPool> create();

    /** Routes this thread's CPU tensor allocations to `pool` (none when null) until the Scope
        ends; scopes nest, restoring the previous pool. */
    class Scope
    {
    public:
        explicit Scope (TensorPool* pool) noexcept;
        ~Scope();
        Scope (const Scope&) = delete;
        Scope& operator= (const Scope&) = delete;

    private:
        TensorPool* previous;
    };

    /** Slabs this pool has taken so far (each a system call, then reused) and their bytes. */
    uint64_t slabs() const noexcept { return slabCount.load (std::memory_order_relaxed); }
    uint64_t bytesReserved() const noexcept { return slabs() * kSlabBytes; }
    /** True if `data` is a pooled block (of any pool). */
    static bool servedByPool (const c10::DataPtr& data) noexcept;

    static constexpr size_t kSlabBytes = size_t { 2 } << 20;
    static constexpr size_t kLargestPooled = size_t { 1 } << 20; // larger requests go unpooled

private:
    struct Block;
    friend class PooledCpuAllocator;
    static constexpr int kClasses = 21; // 2^0 .. 2^20 bytes (classes below 64 are never used)

    TensorPool() = default;
    ~TensorPool(); // by the last reference, see releaseReference
    Block* take (size_t bytes) noexcept;
    void give (Block* block) noexcept;
    static void deleteData (void* data);

    std::array<std::atomic<Block*>, kClasses> free {};
    // Carving fresh blocks: owner thread only.
    char* slabList = nullptr; // linked through each slab's first word
    char* carve = nullptr;
    char* carveEnd = nullptr;
    std::atomic<uint64_t> slabCount { 0 };
    // The owner's handle holds one reference and every block handed out one more, so a tensor
    // outliving its model still has somewhere to return to.
    std::atomic<int64_t> references { 1 };
    void releaseReference() noexcept;
};
} // namespace timbrel
