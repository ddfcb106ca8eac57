#pragma once
// Lock-free single-producer/single-consumer rings: the only way audio crosses between the
// audio thread and an engine's worker. Storage is allocated in prepare(), never afterwards.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <vector>

namespace timbrel
{
/** Multichannel float ring. One thread writes, one thread reads; counts are monotonic so
    full and empty are never ambiguous. */
class SampleRing
{
public:
    void prepare (int numChannels, int capacitySamples)
    {
        channels = numChannels;
        capacity = static_cast<size_t> (std::max (1, capacitySamples));
        data.assign (static_cast<size_t> (channels) * capacity, 0.0f);
        clear();
    }

    /** Only while neither side is running (prepare, reset). */
    void clear()
    {
        writeCount.store (0, std::memory_order_relaxed);
        readCount.store (0, std::memory_order_relaxed);
    }

    int numChannels() const { return channels; }
    int availableToRead() const
    {
        return static_cast<int> (writeCount.load (std::memory_order_acquire) - readCount.load (std::memory_order_relaxed));
    }
    int availableToWrite() const
    {
        return static_cast<int> (capacity - (writeCount.load (std::memory_order_relaxed) - readCount.load (std::memory_order_acquire)));
    }

    /** Writes n samples per channel; `in` null writes zeros. Returns false, writing nothing, when full. */
    bool write (const float* const* in, int n)
    {
        if (n > availableToWrite())
            return false;
        const size_t start = writeCount.load (std::memory_order_relaxed);
        for (int ch = 0; ch < channels; ++ch)
            copyIn (in != nullptr ? in[ch] : nullptr, ch, start, static_cast<size_t> (n));
        writeCount.store (start + static_cast<size_t> (n), std::memory_order_release);
        return true;
    }

    /** Reads n samples per channel into `out` (null: discard). Returns false when fewer are available. */
    bool read (float* const* out, int n)
    {
        if (n > availableToRead())
            return false;
        const size_t start = readCount.load (std::memory_order_relaxed);
        for (int ch = 0; out != nullptr && ch < channels; ++ch)
            copyOut (out[ch], ch, start, static_cast<size_t> (n));
        readCount.store (start + static_cast<size_t> (n), std::memory_order_release);
        return true;
    }

private:
    void copyIn (const float* src, int ch, size_t start, size_t n)
    {
        float* base = data.data() + static_cast<size_t> (ch) * capacity;
        for (size_t i = 0; i < n; ++i)
            base[(start + i) % capacity] = src != nullptr ? src[i] : 0.0f;
    }

    void copyOut (float* dst, int ch, size_t start, size_t n) const
    {
        const float* base = data.data() + static_cast<size_t> (ch) * capacity;
        for (size_t i = 0; i < n; ++i)
            dst[i] = base[(start + i) % capacity];
    }

    int channels = 0;
    size_t capacity = 1;
    std::vector<float> data;
    std::atomic<size_t> writeCount { 0 }, readCount { 0 };
};

/** Ring of small trivially-copyable records (one per host block). */
template <typename T>
class RecordRing
{
public:
    void prepare (int capacityRecords)
    {
        capacity = static_cast<size_t> (std::max (1, capacityRecords));
        records.assign (capacity, T {});
        clear();
    }

    void clear()
    {
        writeCount.store (0, std::memory_order_relaxed);
        readCount.store (0, std::memory_order_relaxed);
    }

    bool push (const T& record)
    {
        const size_t w = writeCount.load (std::memory_order_relaxed);
        if (w - readCount.load (std::memory_order_acquire) >= capacity)
            return false;
        records[w % capacity] = record;
        writeCount.store (w + 1, std::memory_order_release);
        return true;
    }

    /** The oldest record without taking it (the reader's thread), or null when empty. */
    const T* front() const
    {
        const size_t r = readCount.load (std::memory_order_relaxed);
        return r == writeCount.load (std::memory_order_acquire) ? nullptr : &records[r % capacity];
    }

    bool pop (T& record)
    {
        const size_t r = readCount.load (std::memory_order_relaxed);
        if (r == writeCount.load (std::memory_order_acquire))
            return false;
        record = records[r % capacity];
        readCount.store (r + 1, std::memory_order_release);
        return true;
    }

private:
    size_t capacity = 1;
    std::vector<T> records;
    std::atomic<size_t> writeCount { 0 }, readCount { 0 };
};
} // namespace timbrel
