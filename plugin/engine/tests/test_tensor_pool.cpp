#include "../src/TensorPool.h"
#include "TestModels.h"
#include "timbrel/Model.h"

#include <c10/core/CPUAllocator.h>
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

using namespace timbrel;

namespace
{
bool pooled (const at::Tensor& t) { return TensorPool::servedByPool (t.storage().data_ptr()); }
} // namespace

TEST_CASE ("a tensor pool serves only the thread inside its scope, and reuses freed blocks")
{
    auto pool = TensorPool::create();
    REQUIRE (pool != nullptr);
    CHECK_FALSE (pooled (torch::empty ({ 1000 })));
    {
        TensorPool::Scope scope (pool.get());
        std::set<void*> addresses;
        for (int i = 0; i < 50; ++i)
        {
            auto t = torch::empty ({ 1000 });
            REQUIRE (pooled (t));
            CHECK (reinterpret_cast<uintptr_t> (t.data_ptr()) % 64 == 0); // c10's alignment
            addresses.insert (t.data_ptr());
        }
        CHECK (addresses.size() == 1); // one block, freed and taken again 50 times
        CHECK (pool->slabs() == 1);
        // Another thread is not in the scope: its tensors come from libtorch's own allocator.
        bool otherPooled = true;
        std::thread ([&] { otherPooled = pooled (torch::empty ({ 1000 })); }).join();
        CHECK_FALSE (otherPooled);
        {
            TensorPool::Scope unpooled (nullptr); // scopes nest: an inner one can switch pooling off
            CHECK_FALSE (pooled (torch::empty ({ 1000 })));
        }
        CHECK (pooled (torch::empty ({ 1000 })));
        // Larger than a pooled block: served unpooled, even in the scope.
        CHECK_FALSE (pooled (torch::empty ({ static_cast<int64_t> (TensorPool::kLargestPooled) })));
    }
    CHECK_FALSE (pooled (torch::empty ({ 1000 })));
}

TEST_CASE ("libtorch's raw allocation API frees pooled and unpooled memory alike")
{
    // oneDNN allocates its scratch memory this way and frees it through raw_deleter.
    auto pool = TensorPool::create();
    REQUIRE (pool != nullptr);
    auto* allocator = c10::GetCPUAllocator();
    REQUIRE (allocator->raw_deleter() != nullptr);
    void* outside = allocator->raw_allocate (4096);
    void* inside = nullptr;
    {
        TensorPool::Scope scope (pool.get());
        inside = allocator->raw_allocate (4096);
    }
    std::memset (outside, 1, 4096);
    std::memset (inside, 2, 4096);
    allocator->raw_deallocate (outside);
    allocator->raw_deallocate (inside);
    TensorPool::Scope scope (pool.get());
    void* again = allocator->raw_allocate (4096);
    CHECK (again == inside); // the pooled block came back to its pool
    allocator->raw_deallocate (again);
}

TEST_CASE ("pooled blocks freed on another thread return to their pool, and outlive it safely")
{
    auto pool = TensorPool::create();
    REQUIRE (pool != nullptr);
    std::vector<at::Tensor> held;
    std::set<void*> first, second;
    {
        TensorPool::Scope scope (pool.get());
        for (int i = 0; i < 8; ++i)
            first.insert (held.emplace_back (torch::full ({ 4096 }, static_cast<float> (i))).data_ptr());
    }
    std::thread ([&] { held.clear(); }).join(); // freed elsewhere: pushed back without a lock
    {
        TensorPool::Scope scope (pool.get());
        for (int i = 0; i < 8; ++i)
            second.insert (held.emplace_back (torch::full ({ 4096 }, 1.0f)).data_ptr());
    }
    CHECK (first == second); // the same eight blocks again
    CHECK (pool->slabs() == 1);
    // The owner lets go while tensors still hold blocks: the blocks keep the pool, and their
    // memory stays valid until the last one is freed.
    pool.reset();
    float total = 0.0f;
    for (auto& t : held)
        total += t.sum().item<float>();
    CHECK (total == 8.0f * 4096.0f);
    held.clear();
}

TEST_CASE ("a model's hops reuse tensor memory after warm-up")
{
    auto result = Model::load (test::testModelPath());
    REQUIRE (result);
    auto& model = *result.model;
    REQUIRE (model.warmUp (2).empty());
    const auto warm = model.memoryStats();
    REQUIRE (warm.pooled);
    CHECK (warm.slabs > 0);
    CHECK (warm.bytesReserved == warm.slabs * TensorPool::kSlabBytes);
    const int hop = model.info().hopLength;
    std::vector<float> in (2 * static_cast<size_t> (hop)), out (in.size());
    Model::HopRequest request;
    request.batch = 2;
    request.input = in.data();
    request.output = out.data();
    for (int h = 0; h < 40; ++h)
    {
        for (size_t i = 0; i < in.size(); ++i)
            in[i] = 0.2f * std::sin (0.01f * static_cast<float> (i + in.size() * static_cast<size_t> (h)));
        REQUIRE (model.processHops (request));
    }
    CHECK (model.memoryStats().slabs == warm.slabs);
}

TEST_CASE ("a dead pool's slabs go to the next pool: switching models does not grow memory")
{
    const auto firstBlockOfNewPool = [] {
        auto pool = TensorPool::create();
        REQUIRE (pool != nullptr);
        TensorPool::Scope scope (pool.get());
        auto t = torch::ones ({ 3000 }); // the pool's first block, at the start of its first slab
        return t.data_ptr();
    };
    void* first = firstBlockOfNewPool(); // the pool and its block are gone after the call
    for (int i = 0; i < 5; ++i)
        CHECK (firstBlockOfNewPool() == first);
}
