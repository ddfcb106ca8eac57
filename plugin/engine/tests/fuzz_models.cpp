/*  timbrel_model_fuzz: a seeded mutation run of the model loader (make fuzz; a few hundred
    inputs in ctest). Each input is a seed model file mutated one way, written to disk and
    built into an engine as the plugin's loader does (buildEngine: load, validate, probe,
    warm up, within a deadline). What must hold for every input:
      - no crash (the run would end), no build longer than the deadline plus a second;
      - rejected: a message that is one printable line;
      - accepted: the engine plays finite audio, and when it says why it cannot run, that audio
        is the input delayed by its latency (dry).
    Mutations: truncation; flipped, overwritten, inserted or deleted bytes anywhere; and, to get
    past the archive's checksums into the unpickler, the TorchScript compiler and the contract
    checks, the same inside one stored entry of the zip archive (data.pkl, constants.pkl, code,
    tensor data) with its CRC-32 rewritten.

    usage: timbrel_model_fuzz --inputs N [--seed S] [--deadline-ms MS] [--report FILE]
                              SEED_FILE... [--hangs SEED_FILE...]
    Seeds after --hangs never finish loading: each is built once, unmutated, and must be
    abandoned at the deadline with a message that says so. Exit 0 when everything held.

    Input k is mutated by its own generator (seed, k), so a run can resume at any input. After
    an input is abandoned, its thread keeps running TorchScript; libtorch's operator registry
    is not safe against that (a use-after-free in its error path, found here under ASan), so
    the fuzzer re-executes itself to continue from the next input with its totals carried in a
    file (--resume), and the abandoned thread ends with the old process image.
*/

#include "timbrel/EngineBuilder.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace timbrel;
using Bytes = std::vector<unsigned char>;
using Clock = std::chrono::steady_clock;

namespace
{
Bytes readFile (const std::string& path)
{
    std::ifstream in (path, std::ios::binary);
    return Bytes (std::istreambuf_iterator<char> (in), {});
}

void writeFile (const std::string& path, const Bytes& data)
{
    std::ofstream out (path, std::ios::binary | std::ios::trunc);
    out.write (reinterpret_cast<const char*> (data.data()), static_cast<std::streamsize> (data.size()));
}

uint32_t read32 (const Bytes& b, size_t at) { return b[at] | b[at + 1] << 8 | b[at + 2] << 16 | static_cast<uint32_t> (b[at + 3]) << 24; }
uint16_t read16 (const Bytes& b, size_t at) { return static_cast<uint16_t> (b[at] | b[at + 1] << 8); }
void write32 (Bytes& b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        b[at + static_cast<size_t> (i)] = static_cast<unsigned char> (v >> (8 * i));
}

/** A stored (uncompressed) zip entry: where its data lies and where its CRC fields are. */
struct Entry
{
    std::string name;
    size_t dataOffset = 0, size = 0, localCrc = 0, centralCrc = 0;
};

std::vector<Entry> storedEntries (const Bytes& zip)
{
    std::vector<Entry> entries;
    if (zip.size() < 22)
        return entries;
    size_t end = zip.size() - 22; // end of central directory, before any comment
    while (end > 0 && read32 (zip, end) != 0x06054b50)
        --end;
    if (read32 (zip, end) != 0x06054b50)
        return entries;
    size_t at = read32 (zip, end + 16);
    const size_t count = read16 (zip, end + 10);
    for (size_t i = 0; i < count && at + 46 <= zip.size() && read32 (zip, at) == 0x02014b50; ++i)
    {
        const size_t method = read16 (zip, at + 10), compressed = read32 (zip, at + 20);
        const size_t nameLength = read16 (zip, at + 28), extra = read16 (zip, at + 30), comment = read16 (zip, at + 32);
        const size_t local = read32 (zip, at + 42);
        if (method == 0 && local + 30 <= zip.size() && read32 (zip, local) == 0x04034b50 && at + 46 + nameLength <= zip.size())
        {
            Entry e;
            e.name.assign (zip.begin() + static_cast<long> (at + 46), zip.begin() + static_cast<long> (at + 46 + nameLength));
            e.dataOffset = local + 30 + read16 (zip, local + 26) + read16 (zip, local + 28);
            e.size = compressed;
            e.localCrc = local + 14;
            e.centralCrc = at + 16;
            if (e.dataOffset + e.size <= zip.size() && e.size > 0)
                entries.push_back (e);
        }
        at += 46 + nameLength + extra + comment;
    }
    return entries;
}

struct Mutator
{
    std::mt19937_64 random;

    size_t below (size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t> (0, n - 1) (random); }
    unsigned char byte() { return static_cast<unsigned char> (below (256)); }

    // One of the byte-level mutations on data[from, from + length), keeping the size unless it
    // is an insertion or deletion. Returns its name.
    std::string mutateSpan (Bytes& data, size_t from, size_t length, bool sizeMayChange)
    {
        if (length == 0)
            return "none";
        switch (below (sizeMayChange ? 6 : 4))
        {
            case 0:
            {
                const size_t flips = 1 + below (8);
                for (size_t i = 0; i < flips; ++i)
                    data[from + below (length)] ^= static_cast<unsigned char> (1u << below (8));
                return "flip bits";
            }
            case 1:
            {
                const size_t n = 1 + below (std::min<size_t> (length, 64)), at = from + below (length - n + 1);
                for (size_t i = 0; i < n; ++i)
                    data[at + i] = byte();
                return "random bytes";
            }
            case 2:
            {
                // Interesting values: sizes and numbers at their edges.
                static const unsigned char values[] = { 0x00, 0xff, 0x7f, 0x80, 0x01, '(', ')', '.', 'N', 'J' };
                data[from + below (length)] = values[below (sizeof (values))];
                return "edge byte";
            }
            case 3:
            {
                const size_t n = 1 + below (std::min<size_t> (length, 32)), at = from + below (length - n + 1);
                std::fill_n (data.begin() + static_cast<long> (at), n, 0);
                return "zeroed bytes";
            }
            case 4:
            {
                const size_t at = from + below (length);
                data.insert (data.begin() + static_cast<long> (at), 1 + below (16), byte());
                return "inserted bytes";
            }
            default:
            {
                const size_t at = from + below (length), n = std::min (length - (at - from), 1 + below (16));
                data.erase (data.begin() + static_cast<long> (at), data.begin() + static_cast<long> (at + n));
                return "deleted bytes";
            }
        }
    }

    std::string mutate (Bytes& data)
    {
        const auto entries = storedEntries (data);
        const size_t choice = below (10);
        if (choice < 2 && ! data.empty())
        {
            data.resize (below (data.size()));
            return "truncated";
        }
        if (choice < 4 || entries.empty())
            return "archive: " + mutateSpan (data, 0, data.size(), true);
        // Inside one entry, CRC-32 rewritten so that the archive reads and the content is parsed.
        const auto& e = entries[below (entries.size())];
        const auto kind = mutateSpan (data, e.dataOffset, e.size, false);
        const auto crc = static_cast<uint32_t> (crc32 (0L, data.data() + e.dataOffset, static_cast<uInt> (e.size)));
        write32 (data, e.localCrc, crc);
        write32 (data, e.centralCrc, crc);
        return e.name.substr (e.name.find ('/') + 1) + ": " + kind;
    }
};

bool oneClearLine (const std::string& message)
{
    if (message.empty() || message.size() > 2000)
        return false;
    return std::all_of (message.begin(), message.end(), [] (char c) { return c == '\t' || (static_cast<unsigned char> (c) >= 32 && c != 127); });
}

/** Plays a few blocks; "" when the engine behaved, else what went wrong. */
std::string play (StreamingEngine& engine, bool shouldBeDry)
{
    const int block = 256, blocks = 8, total = block * blocks;
    std::vector<float> input (static_cast<size_t> (total)), output (static_cast<size_t> (total));
    for (int n = 0; n < total; ++n)
        input[static_cast<size_t> (n)] = 0.3f * std::sin (0.05f * static_cast<float> (n));
    engine.setNonRealtime (true);
    for (int done = 0; done < total; done += block)
    {
        const float* in[2] = { input.data() + done, input.data() + done };
        float left[block], right[block];
        float* out[2] = { left, right };
        engine.process (in, out, 2, nullptr, 0, block, {});
        std::copy_n (left, block, output.data() + done);
    }
    for (float v : output)
        if (! std::isfinite (v))
            return "non-finite output";
    if (shouldBeDry)
    {
        const int latency = engine.latencySamples();
        for (int n = latency; n < total; ++n)
            if (output[static_cast<size_t> (n)] != input[static_cast<size_t> (n - latency)])
                return "said it cannot run but did not play the input dry";
    }
    return {};
}

EngineConfig stereoConfig()
{
    EngineConfig config;
    config.numChannels = 2;
    config.maxBlockSize = 256;
    config.mode = ProcessingMode::inlined;
    return config;
}
} // namespace

int main (int argc, char** argv)
{
    long inputs = 0;
    unsigned long seed = 1;
    long deadlineMs = 5000;
    long first = 0;
    std::string reportPath, resumePath;
    std::vector<std::string> seeds, hangs;
    bool inHangs = false, trace = false; // --trace: name each input before building it
    for (int i = 1; i < argc; ++i)
    {
        const std::string arg = argv[i];
        auto value = [&] { return i + 1 < argc ? std::string (argv[++i]) : std::string(); };
        if (arg == "--inputs") inputs = std::atol (value().c_str());
        else if (arg == "--seed") seed = std::strtoul (value().c_str(), nullptr, 10);
        else if (arg == "--deadline-ms") deadlineMs = std::atol (value().c_str());
        else if (arg == "--report") reportPath = value();
        else if (arg == "--first") first = std::atol (value().c_str());
        else if (arg == "--resume") resumePath = value();
        else if (arg == "--trace") trace = true;
        else if (arg == "--hangs") inHangs = true;
        else (inHangs ? hangs : seeds).push_back (arg);
    }
    if (seeds.empty() || inputs < 0 || deadlineMs < 1)
    {
        std::cerr << "usage: timbrel_model_fuzz --inputs N [--seed S] [--deadline-ms MS] [--report FILE] SEED_FILE... [--hangs SEED_FILE...]\n";
        return 2;
    }

    std::vector<Bytes> seedData;
    for (const auto& path : seeds)
        seedData.push_back (readFile (path));
    const auto folder = std::filesystem::temp_directory_path() / ("timbrel-fuzz-" + std::to_string (::getpid()));
    std::filesystem::create_directories (folder);
    const auto deadline = std::chrono::milliseconds (deadlineMs);
    const auto slack = deadline + std::chrono::seconds (1);

    long accepted = 0, rejected = 0, dry = 0, abandoned = 0, failures = 0;
    double slowestMs = 0.0;
    std::map<std::string, long> messages;
    if (! resumePath.empty())
    {
        // Totals so far, from the process this one replaced: one line of counts, then
        // "count<TAB>message" lines.
        std::ifstream carried (resumePath);
        carried >> accepted >> rejected >> dry >> abandoned >> failures >> slowestMs;
        std::string line;
        std::getline (carried, line);
        while (std::getline (carried, line))
            if (const auto tab = line.find ('\t'); tab != std::string::npos)
                messages[line.substr (tab + 1)] += std::atol (line.substr (0, tab).c_str());
    }
    auto fail = [&] (long index, const std::string& what, const std::string& detail) {
        ++failures;
        std::cerr << "input " << index << " (" << what << "): " << detail << "\n";
    };

    for (long index = first; index < inputs; ++index)
    {
        Mutator mutator { std::mt19937_64 (seed * 0x9E3779B97F4A7C15ull + static_cast<unsigned long> (index)) };
        const size_t which = mutator.below (seedData.size());
        Bytes data = seedData[which];
        const auto what = seeds[which].substr (seeds[which].find_last_of ('/') + 1) + ", " + mutator.mutate (data);
        const auto path = (folder / "input.ts").string();
        writeFile (path, data);
        if (trace)
            std::cerr << "input " << index << ": " << what << std::endl;

        const auto start = Clock::now();
        auto built = buildEngine (path, stereoConfig(), deadline);
        const double ms = std::chrono::duration<double, std::milli> (Clock::now() - start).count();
        slowestMs = std::max (slowestMs, ms);
        if (Clock::now() - start > slack)
            fail (index, what, "took " + std::to_string (ms) + " ms");
        if (built.engine == nullptr)
        {
            ++rejected;
            if (! oneClearLine (built.error))
                fail (index, what, "unclear message: '" + built.error + "'");
            ++messages[built.error.substr (0, built.error.find (':', built.error.find (':') + 1))];
            if (built.error.find ("abandoned") != std::string::npos)
            {
                ++abandoned;
                if (index + 1 < inputs || ! hangs.empty())
                {
                    // Continue in a fresh process image (see the top of this file).
                    const auto carry = (folder.parent_path() / ("timbrel-fuzz-carry-" + std::to_string (::getpid()))).string();
                    {
                        std::ofstream out (carry);
                        out << accepted << ' ' << rejected << ' ' << dry << ' ' << abandoned << ' ' << failures << ' '
                            << slowestMs << '\n';
                        for (const auto& [message, count] : messages)
                            out << count << '\t' << message << '\n';
                    }
                    std::filesystem::remove_all (folder);
                    std::cout << "input " << index << " (" << what << ") abandoned at the deadline: continuing in a fresh process\n"
                              << std::flush;
                    std::vector<std::string> args { argv[0], "--inputs", std::to_string (inputs), "--seed", std::to_string (seed),
                                                    "--deadline-ms", std::to_string (deadlineMs), "--first", std::to_string (index + 1),
                                                    "--resume", carry };
                    if (! reportPath.empty())
                        args.insert (args.end(), { "--report", reportPath });
                    args.insert (args.end(), seeds.begin(), seeds.end());
                    if (! hangs.empty())
                    {
                        args.push_back ("--hangs");
                        args.insert (args.end(), hangs.begin(), hangs.end());
                    }
                    std::vector<char*> raw;
                    for (auto& a : args)
                        raw.push_back (a.data());
                    raw.push_back (nullptr);
                    ::execv ("/proc/self/exe", raw.data());
                    std::cerr << "could not re-execute the fuzzer: " << std::strerror (errno) << "\n";
                    return 1;
                }
            }
            continue;
        }
        ++accepted;
        if (! built.error.empty())
        {
            ++dry;
            if (! oneClearLine (built.error))
                fail (index, what, "unclear message: '" + built.error + "'");
        }
        if (const auto problem = play (*built.engine, ! built.error.empty()); ! problem.empty())
            fail (index, what, problem);
    }

    for (const auto& path : hangs)
    {
        const auto start = Clock::now();
        auto built = buildEngine (path, stereoConfig(), deadline);
        const double ms = std::chrono::duration<double, std::milli> (Clock::now() - start).count();
        if (built.engine != nullptr || built.error.find ("did not finish loading within") == std::string::npos)
            fail (-1, path, "a model that never returns was not abandoned: '" + built.error + "'");
        else if (Clock::now() - start > slack)
            fail (-1, path, "abandoned only after " + std::to_string (ms) + " ms");
        else
            std::cout << "abandoned " << path << " after " << static_cast<long> (ms) << " ms: " << built.error << "\n";
    }
    std::filesystem::remove_all (folder);
    if (! resumePath.empty())
        std::filesystem::remove (resumePath);

    std::string top;
    std::vector<std::pair<long, std::string>> sorted;
    for (const auto& [message, count] : messages)
        sorted.emplace_back (count, message);
    std::sort (sorted.rbegin(), sorted.rend());
    std::cout << "inputs " << inputs << ": accepted " << accepted << " (" << dry << " playing dry), rejected " << rejected
              << " (" << abandoned << " abandoned at the deadline), slowest " << static_cast<long> (slowestMs) << " ms, failures "
              << failures << "\n";
    for (size_t i = 0; i < std::min<size_t> (sorted.size(), 12); ++i)
        std::cout << "  " << sorted[i].first << "  " << sorted[i].second << "\n";
    if (! reportPath.empty())
    {
        std::ofstream report (reportPath);
        report << "{\"inputs\": " << inputs << ", \"accepted\": " << accepted << ", \"playing_dry\": " << dry << ", \"rejected\": "
               << rejected << ", \"abandoned\": " << abandoned << ", \"slowest_ms\": " << slowestMs << ", \"failures\": " << failures
               << ", \"seed\": " << seed << "}\n";
    }
    // Abandoned threads may still be running TorchScript: leave without running the static
    // destructors (libtorch's among them) under their feet.
    std::cout << std::flush;
    std::cerr << std::flush;
    std::_Exit (failures == 0 ? 0 : 1);
}
