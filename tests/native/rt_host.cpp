/*  timbrel_rt_host: a minimal native host that runs the built Timbrel VST3 the way an audio
    device would. pedalboard and DawDreamer put plugins in non-realtime (offline) mode; this
    host keeps the plugin in real-time mode and calls it from a dedicated audio thread paced
    by the sample clock, measures every callback and counts the heap allocations made on the
    audio thread inside processBlock.

    Usage:
      timbrel_rt_host --plugin PATH.vst3 --input IN.wav --output OUT.wav --report REPORT.json
          [--sample-rate SR]          rate to run at (default: the input file's; no resampling)
          [--block N]                 block size (default 128)
          [--block-pattern N1,N2,...] cycle through these block sizes instead of a fixed one
          [--offline]                 setNonRealtime(true), no pacing
          [--pace F]                  real-time mode (the default): 1.0 (default) = block k starts
                                      no earlier than start + (samples before k)/SR*F, like an
                                      audio device; 0 = real-time mode, unpaced
          [--lockstep]                real-time mode, unpaced, and after each callback the audio
                                      thread waits (uncounted) until instance 0's Status says its
                                      worker has computed every block it was given and no model
                                      load is under way: a machine infinitely fast, so no underrun
                                      whatever its load and a load started by an event ends
                                      before the next block; a test of the real-time path's
                                      logic then does not depend on the scheduler (timing
                                      belongs in make bench and bench-soak)
          [--set PARAM_ID=VALUE ...]  VALUE in the parameter's own units or a choice's text
                                      (getValueForText). PARAM_ID: the hosted parameter's
                                      getParameterID(), else its name lowercased with spaces as
                                      underscores ("output_gain"). Repeatable; several may follow
                                      one --set. Applied before playback: the host delivers them
                                      in one silent priming block, then reset()s the plugin, so
                                      playback starts at the values without ramps.
          [--state FILE]              setStateInformation from FILE before prepareToPlay: either a
                                      JUCE VST3 host state (<VST3PluginState>) or the plugin's own
                                      state blob, which is wrapped as the IComponent state
          [--sidechain SC.wav]        enable the second input bus (mono or stereo like the file)
                                      and feed SC.wav (zero-padded / truncated to the input)
          [--instances K]             K instances in one process, processed in turn in the same
                                      callback, all fed the same input; OUT.wav is instance 0's
          [--warmup-blocks N]         blocks processed before timing and allocation counting
                                      start (their output is still written)
          [--at SECONDS:PARAM_ID=VALUE] while playing, once the audio thread has passed SECONDS
                                      of input, set the parameter from the message thread as a
                                      user or automation would (repeatable); offline, exactly
                                      before the block at SECONDS: the audio thread holds until
                                      the message thread has applied it
          [--state-at SECONDS:FILE]   likewise, setStateInformation from FILE on the message
                                      thread while audio runs, as a DAW loading a preset
          [--reset-at SECONDS]        the audio thread calls reset() before the block at SECONDS,
                                      as VST3 setProcessing(false) on the processing thread
                                      (counted like processBlock; repeatable)
          [--instance-states F1,F2..] instance k restores state F[k mod n] (instead of --state):
                                      mixed models and modes in one process
          [--duration SECONDS]        play this long, looping the latency-padded input (a soak);
                                      OUT.wav still holds the first pass only
          [--timeline-seconds T]      every T seconds of audio, record the process's resident
                                      memory, the plugin's underruns (instance 0) and the
                                      callbacks since the last record (report: timeline)
          [--no-wait-load]            start playback without waiting for the plugin's model
                                      loads (by default the host polls the plugin's Status until
                                      it no longer reports loading, as a user waits for a
                                      session to open; after playback it waits likewise
                                      for a load a state event started, before it reads
                                      the status: load_wait_after_ms)
      timbrel_rt_host --selftest-alloc
      timbrel_rt_host --selftest-waits
          proves the allocation counter counts: a deliberate malloc, new and strdup (allocating
          inside libc) inside the counted scope, none outside it or on another thread, and every
          replaced symbol exported; prints JSON, exit 0 when all hold, 1 otherwise
      --selftest-waits: likewise for the wait counter: a contended std::mutex, a condition
          wait, a sleep and a yield are counted; an uncontended lock, and waits outside the
          scope or on another thread, are not

    The input is zero-padded by the plugin's latency (getLatencySamples() after prepareToPlay)
    so OUT.wav (32-bit float, raw, NOT latency-aligned) holds input length + latency samples.
    REPORT.json: plugin, sample_rate, channels, sidechain_channels, block_sizes, budget_us (the
    mean block's duration), realtime, paced, pace, lockstep, lockstep_timeouts, instances, latency_samples (re-read after
    processing), latency_samples_at_prepare, input_samples, output_samples, blocks,
    warmup_blocks, timed_blocks, callback_us and process_us {mean, p50, p99, p999, max} over the
    timed blocks (a callback = all instances in turn; process = one processBlock call),
    over_budget_blocks (callbacks longer than their own block's duration), late_blocks (paced:
    finished after the next block's deadline), audio_thread_scheduling ("SCHED_FIFO 80" or
    "normal"), audio_thread_allocations and audio_thread_frees (inside processBlock on the
    audio thread, timed blocks only; this includes JUCE's host-side VST3 wrapper, and not
    threads the plugin runs itself), audio_thread_waits (likewise: contended_lock,
    condition_wait, semaphore_wait, futex_wait, sleep, yield, and total; reset() calls made
    with --reset-at count too), construct_ms and loading_after_construct (instance 0's
    createPluginInstance and whether its Status said loading right after), load_wait_ms
    (how long the host waited for loads before playback), load_wait_after_ms (after playback,
    for a load still under way), events ([{seconds, kind, call_ms,
    loading_after}] for each --at / --state-at / --reset-at), rss_mb_before_instances and
    rss_mb_after_instances (resident memory around creating and loading every instance),
    timeline ([{seconds, rss_mb, underruns, callbacks, callback_p999_us, callback_max_us,
    late_blocks}] with --timeline-seconds), parameters (ID -> "normalised (text)"), status (the
    attributes of the <Status> element of instance 0's state, as strings).

    Exit codes: 0 success; 2 bad arguments, unreadable files, a plugin that fails to load or
    refuses the layout (one line on stderr); 1 anything else.
*/

#include "alloc_counter.h"
#include "wait_counter.h"

#include <juce_audio_formats/juce_audio_formats.h>
#include <juce_audio_processors/juce_audio_processors.h>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace
{
using Clock = std::chrono::steady_clock;

struct UsageError : std::runtime_error
{
    explicit UsageError (const char* message) : std::runtime_error (message) {}
    explicit UsageError (const std::string& message) : std::runtime_error (message) {}
    explicit UsageError (const juce::String& message) : std::runtime_error (message.toStdString()) {}
};

struct Options
{
    juce::String plugin, input, output, report, state, sidechain, midiIn, midiOut;
    std::optional<double> sampleRate;
    std::vector<int> blockPattern { 128 };
    bool realtime = true, lockstep = false;
    double pace = 1.0;
    std::vector<std::pair<juce::String, juce::String>> settings;
    int instances = 1;
    int warmupBlocks = 0;
    bool selfTest = false, selfTestWaits = false, waitForLoads = true;
    std::vector<juce::String> instanceStates;
    double duration = 0.0, timelineSeconds = 0.0;
    std::vector<double> resets;
    struct TimedEvent
    {
        double seconds = 0.0;
        juce::String parameter, value, stateFile; // a parameter change, or a state load
    };
    std::vector<TimedEvent> events;
};

constexpr const char* kUsage =
    "usage: timbrel_rt_host --plugin PATH.vst3 --input IN.wav --output OUT.wav --report REPORT.json\n"
    "         [--sample-rate SR] [--block N | --block-pattern N1,N2,...] [--offline] [--pace F | --lockstep]\n"
    "         [--set PARAM_ID=VALUE ...] [--state FILE] [--sidechain SC.wav] [--instances K]\n"
    "         [--warmup-blocks N] [--at SECONDS:PARAM_ID=VALUE ...] [--state-at SECONDS:FILE ...]\n"
    "         [--reset-at SECONDS ...] [--no-wait-load] [--instance-states F1,F2,...]\n"
    "         [--duration SECONDS] [--timeline-seconds T] [--midi-in IN.mid] [--midi-out OUT.mid]\n"
    "       timbrel_rt_host --selftest-alloc | --selftest-waits\n";

long long parseInteger (const std::string& text, const std::string& option, long long lo, long long hi)
{
    long long value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars (text.data(), end, value);
    if (ec != std::errc() || ptr != end || value < lo || value > hi)
        throw UsageError (option + " expects an integer in [" + std::to_string (lo) + ", " + std::to_string (hi) + "], got '" + text + "'");
    return value;
}

double parseNumber (const std::string& text, const std::string& option, double lo)
{
    char* end = nullptr;
    const double value = std::strtod (text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || ! std::isfinite (value) || value < lo)
        throw UsageError (option + " expects a number >= " + juce::String (lo).toStdString() + ", got '" + text + "'");
    return value;
}

Options parseArguments (int argc, char** argv)
{
    Options o;
    bool sawBlock = false, sawPattern = false, sawPace = false;
    std::vector<std::string> args (argv + 1, argv + argc);
    for (size_t i = 0; i < args.size(); ++i)
    {
        const auto& arg = args[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= args.size())
                throw UsageError (arg + " needs a value");
            return args[++i];
        };

        if (arg == "--help" || arg == "-h")
        {
            std::fputs (kUsage, stdout);
            std::exit (0);
        }
        else if (arg == "--selftest-alloc") o.selfTest = true;
        else if (arg == "--selftest-waits") o.selfTestWaits = true;
        else if (arg == "--no-wait-load") o.waitForLoads = false;
        else if (arg == "--duration") o.duration = parseNumber (value(), arg, 0.0);
        else if (arg == "--timeline-seconds") o.timelineSeconds = parseNumber (value(), arg, 0.0);
        else if (arg == "--instance-states")
            for (const auto& token : juce::StringArray::fromTokens (juce::String (value()), ",", ""))
                o.instanceStates.push_back (token.trim());
        else if (arg == "--reset-at") o.resets.push_back (parseNumber (value(), arg, 0.0));
        else if (arg == "--plugin") o.plugin = value();
        else if (arg == "--input") o.input = value();
        else if (arg == "--output") o.output = value();
        else if (arg == "--midi-out") o.midiOut = value();
        else if (arg == "--midi-in") o.midiIn = value();
        else if (arg == "--report") o.report = value();
        else if (arg == "--state") o.state = value();
        else if (arg == "--sidechain") o.sidechain = value();
        else if (arg == "--sample-rate") o.sampleRate = parseNumber (value(), arg, 1.0);
        else if (arg == "--block")
        {
            o.blockPattern = { (int) parseInteger (value(), arg, 1, 1 << 16) };
            sawBlock = true;
        }
        else if (arg == "--block-pattern")
        {
            o.blockPattern.clear();
            for (const auto& token : juce::StringArray::fromTokens (juce::String (value()), ",", ""))
                o.blockPattern.push_back ((int) parseInteger (token.trim().toStdString(), arg, 1, 1 << 16));
            if (o.blockPattern.empty())
                throw UsageError ("--block-pattern needs at least one block size");
            sawPattern = true;
        }
        else if (arg == "--offline") o.realtime = false;
        else if (arg == "--lockstep")
        {
            o.lockstep = true;
            o.pace = 0.0;
        }
        else if (arg == "--pace")
        {
            o.pace = parseNumber (value(), arg, 0.0);
            sawPace = true;
        }
        else if (arg == "--instances") o.instances = (int) parseInteger (value(), arg, 1, 256);
        else if (arg == "--warmup-blocks") o.warmupBlocks = (int) parseInteger (value(), arg, 0, 1 << 30);
        else if (arg == "--set")
        {
            auto addSetting = [&] (const std::string& text) {
                const auto eq = text.find ('=');
                if (eq == std::string::npos || eq == 0)
                    throw UsageError ("--set expects PARAM_ID=VALUE, got '" + text + "'");
                o.settings.emplace_back (juce::String (text.substr (0, eq)), juce::String (text.substr (eq + 1)));
            };
            addSetting (value());
            while (i + 1 < args.size() && args[i + 1].rfind ("--", 0) != 0)
                addSetting (args[++i]);
        }
        else if (arg == "--at" || arg == "--state-at")
        {
            const std::string text = value();
            const auto colon = text.find (':');
            if (colon == std::string::npos)
                throw UsageError (arg + " expects SECONDS:..., got '" + text + "'");
            Options::TimedEvent event;
            event.seconds = parseNumber (text.substr (0, colon), arg, 0.0);
            const std::string rest = text.substr (colon + 1);
            if (arg == "--state-at")
                event.stateFile = rest;
            else
            {
                const auto eq = rest.find ('=');
                if (eq == std::string::npos || eq == 0)
                    throw UsageError ("--at expects SECONDS:PARAM_ID=VALUE, got '" + text + "'");
                event.parameter = rest.substr (0, eq);
                event.value = rest.substr (eq + 1);
            }
            o.events.push_back (event);
        }
        else
            throw UsageError ("unknown argument '" + arg + "'");
    }
    std::stable_sort (o.events.begin(), o.events.end(), [] (const auto& a, const auto& b) { return a.seconds < b.seconds; });

    std::sort (o.resets.begin(), o.resets.end());
    if (o.selfTest || o.selfTestWaits)
        return o;
    if (sawBlock && sawPattern)
        throw UsageError ("--block and --block-pattern are exclusive");
    if (sawPace && ! o.realtime)
        throw UsageError ("--pace applies to real-time mode only, not with --offline");
    if (o.lockstep && (sawPace || ! o.realtime))
        throw UsageError ("--lockstep is real-time mode, unpaced: not with --pace or --offline");
    for (auto* required : { &o.plugin, &o.input, &o.output, &o.report })
        if (required->isEmpty())
            throw UsageError ("--plugin, --input, --output and --report are required");
    return o;
}

//==============================================================================
int runAllocationSelfTest()
{
    const char* missing[64] {};
    const int numMissing = timbrel_rt::unexportedAllocationSymbols (missing, 64);

    // Calls through volatile pointers so that the compiler cannot elide the allocations.
    void* (*volatile mallocFn) (std::size_t) = &std::malloc;
    void (*volatile freeFn) (void*) = &std::free;
    char* (*volatile strdupFn) (const char*) = &strdup;
    void* (*volatile newFn) (std::size_t) = &::operator new;
    void (*volatile deleteFn) (void*) = &::operator delete;

    // Outside the scope: not counted.
    auto a0 = timbrel_rt::countedAllocations();
    freeFn (mallocFn (40));
    const auto outside = timbrel_rt::countedAllocations() - a0;

    // Another thread allocating while this one counts: not counted (the flag is per thread).
    std::atomic<int> phase { 0 };
    std::thread other ([&] {
        while (phase.load() != 1)
            std::this_thread::yield();
        freeFn (mallocFn (48));
        phase.store (2);
    });

    a0 = timbrel_rt::countedAllocations();
    const auto f0 = timbrel_rt::countedFrees();
    std::uint64_t otherThread = 0;
    {
        timbrel_rt::ScopedAllocationCounting scope;
        phase.store (1);
        while (phase.load() != 2)
            std::this_thread::yield();
        otherThread = timbrel_rt::countedAllocations() - a0;

        void* m = mallocFn (24);         // malloc called from the executable
        void* n = newFn (16);            // operator new
        char* s = strdupFn ("timbrel");  // malloc called from inside libc: shared libraries bind to ours
        deleteFn (n);
        freeFn (m);
        freeFn (s);
    }
    const auto allocations = timbrel_rt::countedAllocations() - a0;
    const auto frees = timbrel_rt::countedFrees() - f0;
    other.join();

    juce::String unexported;
    for (int i = 0; i < std::min (numMissing, 64); ++i)
        unexported << (i > 0 ? ", " : "") << "\"" << missing[i] << "\"";
    std::printf ("{\"allocations\": %llu, \"frees\": %llu, \"expected_allocations\": 3, \"expected_frees\": 3, "
                 "\"outside_scope\": %llu, \"other_thread\": %llu, \"unexported\": [%s]}\n",
                 (unsigned long long) allocations, (unsigned long long) frees, (unsigned long long) outside,
                 (unsigned long long) otherThread, unexported.toRawUTF8());
    const bool ok = allocations == 3 && frees == 3 && outside == 0 && otherThread == 0 && numMissing == 0;
    if (! ok)
        std::fputs ("timbrel_rt_host: error: the allocation counter self-test failed\n", stderr);
    return ok ? 0 : 1;
}

juce::var waitCounts (const std::array<std::uint64_t, (size_t) timbrel_rt::WaitKind::count>& before)
{
    auto* object = new juce::DynamicObject();
    juce::var result (object);
    juce::int64 total = 0;
    for (size_t k = 0; k < before.size(); ++k)
    {
        const auto kind = (timbrel_rt::WaitKind) k;
        const auto n = (juce::int64) (timbrel_rt::countedWaits (kind) - before[k]);
        object->setProperty (timbrel_rt::waitKindName (kind), n);
        total += n;
    }
    object->setProperty ("total", total);
    return result;
}

std::array<std::uint64_t, (size_t) timbrel_rt::WaitKind::count> waitSnapshot()
{
    std::array<std::uint64_t, (size_t) timbrel_rt::WaitKind::count> counts {};
    for (size_t k = 0; k < counts.size(); ++k)
        counts[k] = timbrel_rt::countedWaits ((timbrel_rt::WaitKind) k);
    return counts;
}

double residentMegabytes()
{
    long pages = 0, resident = 0;
    if (FILE* statm = std::fopen ("/proc/self/statm", "r"))
    {
        if (std::fscanf (statm, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        std::fclose (statm);
    }
    return (double) resident * (double) sysconf (_SC_PAGESIZE) / (1024.0 * 1024.0);
}

int runWaitSelfTest()
{
    const char* missing[64] {};
    const int numMissing = timbrel_rt::unexportedWaitSymbols (missing, 64);
    using timbrel_rt::WaitKind;

    std::mutex mutex;
    std::condition_variable condition;
    std::counting_semaphore<> semaphore { 0 };
    std::atomic<int> phase { 0 };

    // Outside the scope: nothing counts.
    auto before = waitSnapshot();
    std::this_thread::sleep_for (std::chrono::microseconds (10));
    const auto outside = waitCounts (before);

    before = waitSnapshot();
    std::thread other ([&] {
        std::unique_lock lock (mutex);
        phase.store (1);
        std::this_thread::sleep_for (std::chrono::milliseconds (20)); // not counted: another thread
        lock.unlock();
        while (phase.load() != 2)
            std::this_thread::yield();
        std::this_thread::sleep_for (std::chrono::milliseconds (5));
        {
            const std::lock_guard g (mutex);
            phase.store (3);
        }
        condition.notify_all();
        std::this_thread::sleep_for (std::chrono::milliseconds (5));
        semaphore.release();
    });
    {
        while (phase.load() != 1)
            std::this_thread::sleep_for (std::chrono::microseconds (50));
        timbrel_rt::ScopedWaitCounting counting;
        {
            const std::lock_guard g (mutex); // held by the other thread: contended
        }
        {
            const std::lock_guard g (mutex); // free now: not a wait
        }
        std::unique_lock lock (mutex);
        phase.store (2);
        condition.wait (lock, [&] { return phase.load() == 3; });
        lock.unlock();
        semaphore.acquire();
        std::this_thread::sleep_for (std::chrono::microseconds (10));
        std::this_thread::yield();
    }
    other.join();
    const auto inside = waitCounts (before);
    auto count = [&] (WaitKind kind) { return (int) inside.getProperty (timbrel_rt::waitKindName (kind), 0); };

    juce::String unexported;
    for (int i = 0; i < std::min (numMissing, 64); ++i)
        unexported << (i > 0 ? ", " : "") << "\"" << missing[i] << "\"";
    std::printf ("{\"inside\": %s, \"outside\": %s, \"unexported\": [%s]}\n", juce::JSON::toString (inside, true).toRawUTF8(),
                 juce::JSON::toString (outside, true).toRawUTF8(), unexported.toRawUTF8());
    // The semaphore may find its token already there (no wait) if the other thread was quick;
    // libstdc++ spins with sched_yield before it waits, so more than one yield is normal.
    const bool ok = count (WaitKind::contendedLock) == 1 && count (WaitKind::conditionWait) >= 1
                    && count (WaitKind::futexWait) + count (WaitKind::semaphoreWait) <= 1 && count (WaitKind::sleep) == 1
                    && count (WaitKind::yield) >= 1 && (int) outside.getProperty ("total", -1) == 0 && numMissing == 0;
    if (! ok)
        std::fputs ("timbrel_rt_host: error: the wait counter self-test failed\n", stderr);
    return ok ? 0 : 1;
}

//==============================================================================
void pumpMessages (int milliseconds)
{
    juce::MessageManager::getInstance()->runDispatchLoopUntil (milliseconds);
}

// Latency changes reach a VST3 host through restartComponent, which JUCE may deliver as a
// message: pump until the hosted plugin's latency has held still for 50 ms (at most 2 s), so
// the latency read before playback is the one the plugin plays with.
void pumpUntilLatencySettles (juce::AudioPluginInstance& plugin)
{
    int last = plugin.getLatencySamples(), steady = 0;
    for (int slice = 0; slice < 200 && steady < 5; ++slice)
    {
        pumpMessages (10);
        const int now = plugin.getLatencySamples();
        steady = now == last ? steady + 1 : 0;
        last = now;
    }
}

juce::AudioBuffer<float> readWav (const juce::String& path, const juce::String& what, double& sampleRateOut)
{
    const juce::File file (juce::File::getCurrentWorkingDirectory().getChildFile (path));
    if (! file.existsAsFile())
        throw UsageError (what + " file not found: " + file.getFullPathName().toStdString());
    juce::AudioFormatManager formats;
    formats.registerBasicFormats();
    std::unique_ptr<juce::AudioFormatReader> reader (formats.createReaderFor (file));
    if (reader == nullptr)
        throw UsageError ("cannot read " + what + " file " + file.getFullPathName().toStdString() + " as audio");
    if (reader->numChannels < 1 || reader->numChannels > 2)
        throw UsageError (what + " file must be mono or stereo, " + file.getFullPathName().toStdString() + " has "
                          + std::to_string (reader->numChannels) + " channels");
    if (reader->lengthInSamples > (1 << 30))
        throw UsageError (what + " file is too long");
    juce::AudioBuffer<float> buffer ((int) reader->numChannels, (int) reader->lengthInSamples);
    if (! reader->read (&buffer, 0, buffer.getNumSamples(), 0, true, true))
        throw UsageError ("cannot read the samples of " + file.getFullPathName().toStdString());
    sampleRateOut = reader->sampleRate;
    return buffer;
}

juce::MemoryBlock hostStateFromFile (const juce::String& path)
{
    const juce::File file (juce::File::getCurrentWorkingDirectory().getChildFile (path));
    juce::MemoryBlock blob;
    if (! file.existsAsFile() || ! file.loadFileAsData (blob))
        throw UsageError ("cannot read state file " + file.getFullPathName().toStdString());
    if (auto xml = juce::AudioProcessor::getXmlFromBinary (blob.getData(), (int) blob.getSize()))
        if (xml->hasTagName ("VST3PluginState"))
            return blob;

    // The plugin's own state: wrap it the way JUCE's VST3 host stores component state.
    juce::XmlElement wrapper ("VST3PluginState");
    wrapper.createNewChildElement ("IComponent")->addTextElement (blob.toBase64Encoding());
    juce::MemoryBlock wrapped;
    juce::AudioProcessor::copyXmlToBinary (wrapper, wrapped);
    return wrapped;
}

juce::var readStatus (juce::AudioPluginInstance& plugin);

bool reportsLoading (juce::AudioPluginInstance& plugin)
{
    const auto value = readStatus (plugin).getProperty ("loading", "0").toString();
    return value == "1" || value == "true";
}

/** Polls the plugin's Status until no model load is under way (at most 120 s), pumping the
    message thread meanwhile; returns the milliseconds waited. */
double waitUntilLoaded (juce::AudioPluginInstance& plugin)
{
    const auto start = Clock::now();
    while (reportsLoading (plugin))
    {
        if (Clock::now() - start > std::chrono::seconds (120))
            throw std::runtime_error ("the plugin was still loading a model after 120 s");
        pumpMessages (2);
    }
    return std::chrono::duration<double, std::milli> (Clock::now() - start).count();
}

/** Attributes of the <Status> element of the plugin's own state (inside the host's wrapper). */
juce::var readStatus (juce::AudioPluginInstance& plugin)
{
    auto* status = new juce::DynamicObject();
    juce::var result (status);
    juce::MemoryBlock hostState;
    plugin.getStateInformation (hostState);
    auto xml = juce::AudioProcessor::getXmlFromBinary (hostState.getData(), (int) hostState.getSize());
    if (xml != nullptr && xml->hasTagName ("VST3PluginState"))
    {
        juce::MemoryBlock component;
        if (auto* element = xml->getChildByName ("IComponent"); element != nullptr && component.fromBase64Encoding (element->getAllSubText().trim()))
            xml = juce::AudioProcessor::getXmlFromBinary (component.getData(), (int) component.getSize());
        else
            xml.reset();
    }
    if (xml != nullptr)
        if (auto* node = xml->getChildByName ("Status"))
            for (int i = 0; i < node->getNumAttributes(); ++i)
                status->setProperty (node->getAttributeName (i), node->getAttributeValue (i));
    return result;
}

juce::String normalisedName (const juce::String& name)
{
    return name.trim().toLowerCase().replaceCharacter (' ', '_');
}

juce::AudioProcessorParameter* findParameter (juce::AudioPluginInstance& plugin, const juce::String& id)
{
    for (auto* parameter : plugin.getParameters())
        if (auto* hosted = dynamic_cast<juce::HostedAudioProcessorParameter*> (parameter))
            if (hosted->getParameterID() == id)
                return parameter;
    for (auto* parameter : plugin.getParameters())
        if (normalisedName (parameter->getName (1024)) == normalisedName (id))
            return parameter;
    return nullptr;
}

juce::String knownParameters (juce::AudioPluginInstance& plugin)
{
    juce::StringArray names;
    for (auto* parameter : plugin.getParameters())
        names.add (normalisedName (parameter->getName (1024)));
    return names.joinIntoString (", ");
}

juce::var summarise (std::vector<double> values)
{
    auto* object = new juce::DynamicObject();
    juce::var result (object);
    if (values.empty())
    {
        for (const char* key : { "mean", "p50", "p99", "p999", "max" })
            object->setProperty (key, juce::var());
        return result;
    }
    std::sort (values.begin(), values.end());
    double sum = 0.0;
    for (double v : values)
        sum += v;
    auto quantile = [&] (double q) { // nearest rank
        const auto rank = (size_t) std::ceil (q * (double) values.size());
        return values[std::clamp<size_t> (rank, 1, values.size()) - 1];
    };
    object->setProperty ("mean", sum / (double) values.size());
    object->setProperty ("p50", quantile (0.5));
    object->setProperty ("p99", quantile (0.99));
    object->setProperty ("p999", quantile (0.999));
    object->setProperty ("max", values.back());
    return result;
}

/** Real-time priority for the calling thread where allowed; silently normal otherwise. */
juce::String tryRealtimePriority()
{
    sched_param parameter {};
    parameter.sched_priority = std::min (80, sched_get_priority_max (SCHED_FIFO));
    if (pthread_setschedparam (pthread_self(), SCHED_FIFO, &parameter) == 0)
        return "SCHED_FIFO " + juce::String (parameter.sched_priority);
    return "normal";
}

/** n samples of one channel from `position` of a stream that repeats `pass` forever. */
void copyLooped (const juce::AudioBuffer<float>& pass, int channel, int position, int n, float* destination)
{
    const int length = pass.getNumSamples();
    for (int done = 0; done < n;)
    {
        const int at = (position + done) % length, run = std::min (n - done, length - at);
        std::copy_n (pass.getReadPointer (channel, at), run, destination + done);
        done += run;
    }
}

struct Instance
{
    std::unique_ptr<juce::AudioPluginInstance> plugin;
    std::vector<std::vector<float>> channelData; // one block of every channel the plugin sees
    std::vector<float*> channelPointers;
};

//==============================================================================
int runHost (const Options& o)
{
    const juce::ScopedJuceInitialiser_GUI juceInitialiser;

    double fileRate = 0.0;
    const auto input = readWav (o.input, "input", fileRate);
    const double sampleRate = o.sampleRate.value_or (fileRate);
    const int channels = input.getNumChannels();
    const int inputSamples = input.getNumSamples();
    if (inputSamples == 0)
        throw UsageError ("the input file holds no samples");

    juce::AudioBuffer<float> sidechainFile;
    if (o.sidechain.isNotEmpty())
    {
        double sidechainRate = 0.0;
        sidechainFile = readWav (o.sidechain, "sidechain", sidechainRate);
    }
    const int sidechainChannels = sidechainFile.getNumChannels();

    const juce::File pluginFile (juce::File::getCurrentWorkingDirectory().getChildFile (o.plugin));
    if (! pluginFile.exists())
        throw UsageError ("plugin not found: " + pluginFile.getFullPathName().toStdString());

    juce::AudioPluginFormatManager formatManager;
    formatManager.addFormat (new juce::VST3PluginFormat());
    juce::OwnedArray<juce::PluginDescription> descriptions;
    formatManager.getFormat (0)->findAllTypesForFile (descriptions, pluginFile.getFullPathName());
    if (descriptions.isEmpty())
        throw UsageError ("no VST3 plugin could be loaded from " + pluginFile.getFullPathName().toStdString());

    const int maxBlock = *std::max_element (o.blockPattern.begin(), o.blockPattern.end());
    std::vector<juce::MemoryBlock> states;
    if (! o.instanceStates.empty())
        for (const auto& file : o.instanceStates)
            states.push_back (hostStateFromFile (file));
    else if (o.state.isNotEmpty())
        states.push_back (hostStateFromFile (o.state));
    const double rssBeforeInstances = residentMegabytes();

    juce::DynamicObject::Ptr parametersReport (new juce::DynamicObject());
    double constructMs = 0.0, loadWaitMs = 0.0;
    bool loadingAfterConstruct = false;
    std::vector<Instance> instances ((size_t) o.instances);
    for (size_t k = 0; k < instances.size(); ++k)
    {
        auto& instance = instances[k];
        juce::String error;
        const auto constructStart = Clock::now();
        instance.plugin = formatManager.createPluginInstance (*descriptions[0], sampleRate, maxBlock, error);
        const auto constructEnd = Clock::now();
        if (instance.plugin == nullptr)
            throw UsageError ("could not instantiate " + pluginFile.getFullPathName().toStdString() + ": " + error.toStdString());
        auto& plugin = *instance.plugin;
        if (k == 0)
        {
            constructMs = std::chrono::duration<double, std::milli> (constructEnd - constructStart).count();
            loadingAfterConstruct = reportsLoading (plugin);
        }
        plugin.setNonRealtime (! o.realtime);

        if (! states.empty())
        {
            const auto& state = states[k % states.size()];
            plugin.setStateInformation (state.getData(), (int) state.getSize());
            pumpMessages (10);
        }
        if (o.waitForLoads)
            loadWaitMs += waitUntilLoaded (plugin);

        auto layout = plugin.getBusesLayout();
        // An effect has a main input and output; an instrument (MIDI in) an output only, where
        // the input file's channels are the output's count and its samples are overwritten.
        if (layout.outputBuses.isEmpty() || (layout.inputBuses.isEmpty() && ! plugin.acceptsMidi()))
            throw UsageError ("the plugin has no main input and output bus");
        const auto mainSet = juce::AudioChannelSet::canonicalChannelSet (channels);
        if (! layout.inputBuses.isEmpty())
            layout.inputBuses.getReference (0) = mainSet;
        layout.outputBuses.getReference (0) = mainSet;
        for (int bus = 1; bus < layout.inputBuses.size(); ++bus)
            layout.inputBuses.getReference (bus) = juce::AudioChannelSet::disabled();
        for (int bus = 1; bus < layout.outputBuses.size(); ++bus)
            layout.outputBuses.getReference (bus) = juce::AudioChannelSet::disabled();
        if (sidechainChannels > 0)
        {
            if (layout.inputBuses.size() < 2)
                throw UsageError ("--sidechain given but the plugin has no second input bus");
            layout.inputBuses.getReference (1) = juce::AudioChannelSet::canonicalChannelSet (sidechainChannels);
        }
        if (! plugin.setBusesLayout (layout))
            throw UsageError ("the plugin refused the layout: main bus " + mainSet.getDescription().toStdString()
                              + (sidechainChannels > 0 ? ", sidechain " + juce::AudioChannelSet::canonicalChannelSet (sidechainChannels).getDescription().toStdString() : std::string())
                              + (channels == 1 ? " (the plugin does not accept mono)" : ""));

        for (const auto& [id, text] : o.settings)
        {
            auto* parameter = findParameter (plugin, id);
            if (parameter == nullptr)
                throw UsageError ("unknown parameter '" + id.toStdString() + "' (known: " + knownParameters (plugin).toStdString() + ")");
            const float normalised = juce::jlimit (0.0f, 1.0f, parameter->getValueForText (text));
            parameter->setValue (normalised);
            if (k == 0)
                parametersReport->setProperty (id, juce::String (normalised) + " (" + parameter->getText (normalised, 64) + ")");
        }

        plugin.prepareToPlay (sampleRate, maxBlock);
        if (! o.settings.empty())
        {
            // VST3 delivers parameter changes with process(): one silent block hands them over,
            // reset() then clears the stream and re-prepares, so playback starts at the values.
            juce::AudioBuffer<float> silence (std::max (plugin.getTotalNumInputChannels(), plugin.getTotalNumOutputChannels()), std::min (maxBlock, 64));
            silence.clear();
            juce::MidiBuffer midi;
            plugin.processBlock (silence, midi);
            plugin.reset();
        }
        pumpUntilLatencySettles (plugin);

        const int numChannels = std::max (plugin.getTotalNumInputChannels(), plugin.getTotalNumOutputChannels());
        instance.channelData.assign ((size_t) numChannels, std::vector<float> ((size_t) maxBlock, 0.0f));
        for (auto& data : instance.channelData)
            instance.channelPointers.push_back (data.data());
    }

    auto& first = *instances.front().plugin;
    const double rssAfterInstances = residentMegabytes();
    const int latencyAtPrepare = first.getLatencySamples();
    // One pass: the input zero-padded by the latency. A soak (--duration) loops that pass.
    const int passSamples = inputSamples + std::max (0, latencyAtPrepare);
    if (o.duration * sampleRate > (double) std::numeric_limits<int>::max() - 1.0e6)
        throw UsageError ("--duration is too long for this sample rate");
    const int totalSamples = std::max (passSamples, (int) std::lround (o.duration * sampleRate));

    // The first pass, and the block schedule.
    juce::AudioBuffer<float> source (channels, passSamples);
    source.clear();
    for (int ch = 0; ch < channels; ++ch)
        source.copyFrom (ch, 0, input, ch, 0, inputSamples);
    juce::AudioBuffer<float> sidechain (sidechainChannels, passSamples);
    sidechain.clear();
    for (int ch = 0; ch < sidechainChannels; ++ch)
        sidechain.copyFrom (ch, 0, sidechainFile, ch, 0, std::min (passSamples, sidechainFile.getNumSamples()));
    juce::AudioBuffer<float> output (channels, passSamples);
    output.clear();

    std::vector<int> blockStart, blockLength;
    for (int position = 0, k = 0; position < totalSamples; ++k)
    {
        const int n = std::min (o.blockPattern[(size_t) k % o.blockPattern.size()], totalSamples - position);
        blockStart.push_back (position);
        blockLength.push_back (n);
        position += n;
    }
    const size_t numBlocks = blockStart.size();
    std::vector<double> callbackUs, processUs;
    // Written before the run, then cleared: the pages are resident from the start, so the
    // process's memory over a long soak shows the plugin's growth, not these records filling
    // reserved pages (about 10 MB an hour at 256-sample blocks, once mistaken for a leak).
    callbackUs.resize (numBlocks);
    processUs.resize (numBlocks * instances.size());
    callbackUs.clear();
    processUs.clear();
    int overBudget = 0, late = 0;
    const bool paced = o.realtime && o.pace > 0.0;
    std::uint64_t allocations = 0, frees = 0;
    juce::String scheduling;
    std::atomic<bool> finished { false };
    std::atomic<int> audioPosition { 0 };
    std::atomic<size_t> eventsDone { 0 }; // message-thread events applied so far
    std::atomic<size_t> timedSoFar { 0 };  // callbackUs entries written (for the timeline)
    std::atomic<int> lateSoFar { 0 };
    std::atomic<size_t> stepsDone { 0 }, stepsReleased { 0 }; // --lockstep: callbacks made, and let go
    int lockstepTimeouts = 0; // --lockstep: callbacks let go after 60 s without an idle worker
    juce::Array<juce::var> timeline;
    std::array<std::uint64_t, (size_t) timbrel_rt::WaitKind::count> waitsBefore {};
    juce::var audioWaits;
    std::vector<std::pair<double, double>> resetCalls; // (seconds, call ms), audio thread
    // Timed events are checked up front, so a typo fails before playback, not during it.
    struct Change
    {
        juce::AudioProcessorParameter* parameter = nullptr; // null: a state load
        float normalised = 0.0f;
        juce::MemoryBlock state;
    };
    std::vector<Change> changes;
    for (const auto& event : o.events)
    {
        Change change;
        if (event.stateFile.isNotEmpty())
            change.state = hostStateFromFile (event.stateFile);
        else if ((change.parameter = findParameter (first, event.parameter)) != nullptr)
            change.normalised = juce::jlimit (0.0f, 1.0f, change.parameter->getValueForText (event.value));
        else
            throw UsageError ("unknown parameter '" + event.parameter.toStdString() + "' in --at");
        changes.push_back (std::move (change));
    }

    // MIDI in (an instrument's notes), at sample positions from the start: every instance gets
    // it, each block's events added outside the counted scopes to a buffer reserved as hosts do.
    std::vector<std::pair<int, juce::MidiMessage>> midiIn;
    if (o.midiIn.isNotEmpty())
    {
        const juce::File file (juce::File::getCurrentWorkingDirectory().getChildFile (o.midiIn));
        juce::FileInputStream stream (file);
        juce::MidiFile song;
        if (! stream.openedOk() || ! song.readFrom (stream))
            throw UsageError ("cannot read the MIDI file " + file.getFullPathName().toStdString());
        song.convertTimestampTicksToSeconds();
        juce::MidiMessageSequence all;
        for (int t = 0; t < song.getNumTracks(); ++t)
            all.addSequence (*song.getTrack (t), 0.0);
        all.sort();
        for (const auto* event : all)
            if (! event->message.isMetaEvent())
                midiIn.emplace_back ((int) std::llround (event->message.getTimeStamp() * sampleRate), event->message);
    }

    // Instance 0's MIDI out, at sample positions from the start (the plugin's latency included,
    // as its audio): kept outside the counted scopes, in storage reserved here.
    std::vector<std::pair<int, juce::MidiMessage>> midiOut;
    midiOut.reserve (o.midiOut.isNotEmpty() ? 1 << 16 : 0);

    std::thread audioThread ([&] {
        scheduling = tryRealtimePriority();
        juce::MidiBuffer midi;
        midi.ensureSize (8192); // as hosts do: events the plugin writes fit without allocating
        const auto start = Clock::now();
        auto deadline = [&] (int position) {
            return start + std::chrono::duration_cast<Clock::duration> (std::chrono::duration<double> ((double) position / sampleRate * o.pace));
        };
        const auto allocationsBefore = timbrel_rt::countedAllocations();
        const auto freesBefore = timbrel_rt::countedFrees();
        waitsBefore = waitSnapshot();
        size_t nextReset = 0;

        for (size_t k = 0; k < numBlocks; ++k)
        {
            const int position = blockStart[k], n = blockLength[k];
            if (paced)
                std::this_thread::sleep_until (deadline (position));
            if (! o.realtime)
            {
                // An offline render applies each event exactly at its block, as a DAW's bounce
                // would: the audio thread waits here (uncounted) for the message thread.
                size_t due = 0;
                while (due < o.events.size() && position >= o.events[due].seconds * sampleRate)
                    ++due;
                while (eventsDone.load (std::memory_order_acquire) < due)
                    std::this_thread::yield();
            }
            const bool timed = k >= (size_t) o.warmupBlocks;

            const auto callbackStart = Clock::now();
            while (nextReset < o.resets.size() && position >= o.resets[nextReset] * sampleRate)
            {
                // As VST3 setProcessing(false) from the processing thread: must not wait either.
                const auto t0 = Clock::now();
                {
                    timbrel_rt::ScopedAllocationCounting counting;
                    timbrel_rt::ScopedWaitCounting waiting;
                    instances.front().plugin->reset();
                }
                resetCalls.push_back ({ (double) position / sampleRate, std::chrono::duration<double, std::milli> (Clock::now() - t0).count() });
                ++nextReset;
            }
            for (auto& instance : instances)
            {
                for (int ch = 0; ch < channels; ++ch)
                    copyLooped (source, ch, position, n, instance.channelPointers[(size_t) ch]);
                for (int ch = 0; ch < sidechainChannels; ++ch)
                    copyLooped (sidechain, ch, position, n, instance.channelPointers[(size_t) (channels + ch)]);
                for (size_t ch = (size_t) (channels + sidechainChannels); ch < instance.channelPointers.size(); ++ch)
                    std::fill_n (instance.channelPointers[ch], n, 0.0f);
                juce::AudioBuffer<float> block (instance.channelPointers.data(), (int) instance.channelPointers.size(), n);
                midi.clear();
                for (auto e = std::lower_bound (midiIn.begin(), midiIn.end(), position,
                                                [] (const auto& event, int at) { return event.first < at; });
                     e != midiIn.end() && e->first < position + n; ++e)
                    midi.addEvent (e->second, e->first - position);

                const auto t0 = Clock::now();
                if (timed)
                {
                    timbrel_rt::ScopedAllocationCounting counting;
                    timbrel_rt::ScopedWaitCounting waiting;
                    instance.plugin->processBlock (block, midi);
                }
                else
                    instance.plugin->processBlock (block, midi);
                const auto t1 = Clock::now();
                if (timed)
                    processUs.push_back (std::chrono::duration<double, std::micro> (t1 - t0).count());
                if (&instance == &instances.front() && o.midiOut.isNotEmpty())
                    for (const auto metadata : midi)
                        if (midiOut.size() < midiOut.capacity())
                            midiOut.emplace_back (position + metadata.samplePosition, metadata.getMessage());
                midi.clear();
            }
            const auto callbackEnd = Clock::now();

            for (int ch = 0; position < passSamples && ch < channels; ++ch)
                std::copy_n (instances.front().channelPointers[(size_t) ch], std::min (n, passSamples - position),
                             output.getWritePointer (ch, position));
            audioPosition.store (position + n, std::memory_order_release);
            if (o.lockstep)
            {
                // Outside the counted scopes: the message thread reads the Status and lets go.
                stepsDone.store (k + 1, std::memory_order_release);
                while (stepsReleased.load (std::memory_order_acquire) < k + 1)
                    std::this_thread::yield();
            }

            if (timed)
            {
                const double us = std::chrono::duration<double, std::micro> (callbackEnd - callbackStart).count();
                callbackUs.push_back (us);
                if (us > (double) n / sampleRate * 1.0e6)
                    ++overBudget;
                if (paced && callbackEnd > deadline (position + n))
                    ++late;
                timedSoFar.store (callbackUs.size(), std::memory_order_release); // reserved: no reallocation
                lateSoFar.store (late, std::memory_order_relaxed);
            }
        }
        allocations = timbrel_rt::countedAllocations() - allocationsBefore;
        frees = timbrel_rt::countedFrees() - freesBefore;
        audioWaits = waitCounts (waitsBefore);
        finished.store (true);
    });

    // The message thread stays alive while the audio thread runs, as in a real host, and
    // applies the timed events (instance 0) once the audio has passed their time.
    juce::Array<juce::var> eventsApplied, eventsReport;
    size_t nextEvent = 0;
    size_t timelineFrom = 0;
    int timelineLate = 0;
    double nextRecord = o.timelineSeconds;
    auto record = [&] (double seconds) {
        const size_t upTo = timedSoFar.load (std::memory_order_acquire);
        std::vector<double> span (callbackUs.begin() + (long) timelineFrom, callbackUs.begin() + (long) upTo);
        const auto summary = summarise (span);
        const int lateNow = lateSoFar.load (std::memory_order_relaxed);
        auto* entry = new juce::DynamicObject();
        entry->setProperty ("seconds", seconds);
        entry->setProperty ("rss_mb", residentMegabytes());
        entry->setProperty ("underruns", readStatus (first).getProperty ("underruns", 0));
        entry->setProperty ("callbacks", (int) span.size());
        entry->setProperty ("callback_p999_us", summary.getProperty ("p999", {}));
        entry->setProperty ("callback_max_us", summary.getProperty ("max", {}));
        entry->setProperty ("late_blocks", lateNow - timelineLate);
        timeline.add (juce::var (entry));
        timelineFrom = upTo;
        timelineLate = lateNow;
    };
    while (! finished.load())
    {
        pumpMessages (o.lockstep ? 0 : 5);
        if (const auto done = stepsDone.load (std::memory_order_acquire); o.lockstep && done > stepsReleased.load())
        {
            const auto since = Clock::now();
            auto settled = [&] {
                const auto status = readStatus (first);
                return status.getProperty ("workerIdle", true).toString() == "1" && status.getProperty ("loading", false).toString() != "1";
            };
            while (! settled())
            {
                if (Clock::now() - since > std::chrono::seconds (60))
                {
                    ++lockstepTimeouts; // reported; the render goes on rather than hang
                    break;
                }
                std::this_thread::sleep_for (std::chrono::microseconds (100));
            }
            stepsReleased.store (done, std::memory_order_release);
        }
        if (o.timelineSeconds > 0.0 && audioPosition.load (std::memory_order_acquire) >= nextRecord * sampleRate)
        {
            record (nextRecord);
            nextRecord += o.timelineSeconds;
        }
        while (nextEvent < o.events.size() && audioPosition.load (std::memory_order_acquire) >= o.events[nextEvent].seconds * sampleRate)
        {
            const auto& change = changes[nextEvent];
            const auto t0 = Clock::now();
            if (change.parameter != nullptr)
                change.parameter->setValueNotifyingHost (change.normalised);
            else
                first.setStateInformation (change.state.getData(), (int) change.state.getSize());
            const double callMs = std::chrono::duration<double, std::milli> (Clock::now() - t0).count();
            auto* event = new juce::DynamicObject();
            event->setProperty ("seconds", (double) audioPosition.load() / sampleRate);
            event->setProperty ("kind", change.parameter != nullptr ? "parameter" : "state");
            event->setProperty ("call_ms", callMs);
            event->setProperty ("loading_after", reportsLoading (first));
            eventsReport.add (juce::var (event));
            eventsApplied.add ((double) audioPosition.load() / sampleRate);
            ++nextEvent;
            eventsDone.store (nextEvent, std::memory_order_release);
        }
    }
    audioThread.join();
    pumpMessages (20);
    // A state event's load may outlast the render (a sanitizer build loads ~10x slower): the
    // status reports where it ends, not a load cut short by the end of the input.
    const double loadWaitAfterMs = o.waitForLoads ? waitUntilLoaded (first) : 0.0;
    if (o.timelineSeconds > 0.0 && timedSoFar.load() > timelineFrom)
        record ((double) totalSamples / sampleRate);

    const int latency = first.getLatencySamples();
    const auto status = readStatus (first);

    // OUT.wav: instance 0's raw output, 32-bit float.
    {
        const juce::File file (juce::File::getCurrentWorkingDirectory().getChildFile (o.output));
        file.deleteFile();
        auto stream = std::make_unique<juce::FileOutputStream> (file);
        if (! stream->openedOk())
            throw UsageError ("cannot write " + file.getFullPathName().toStdString());
        juce::WavAudioFormat wav;
        std::unique_ptr<juce::AudioFormatWriter> writer (wav.createWriterFor (stream.get(), sampleRate, (unsigned int) channels, 32, {}, 0));
        if (writer == nullptr)
            throw UsageError ("cannot write a WAV file at " + file.getFullPathName().toStdString());
        stream.release(); // owned by the writer now
        if (! writer->writeFromAudioSampleBuffer (output, 0, passSamples))
            throw UsageError ("cannot write " + file.getFullPathName().toStdString());
    }

    // OUT.mid: instance 0's MIDI out, one track, 960 ticks per quarter at 120 bpm (ticks are
    // seconds * 1920).
    if (o.midiOut.isNotEmpty())
    {
        juce::MidiMessageSequence track;
        track.addEvent (juce::MidiMessage::tempoMetaEvent (500000), 0.0);
        for (const auto& [at, message] : midiOut)
            track.addEvent (message, (double) at / sampleRate * 1920.0);
        track.updateMatchedPairs();
        juce::MidiFile file;
        file.setTicksPerQuarterNote (960);
        file.addTrack (track);
        const juce::File out (juce::File::getCurrentWorkingDirectory().getChildFile (o.midiOut));
        out.deleteFile();
        juce::FileOutputStream stream (out);
        if (! stream.openedOk() || ! file.writeTo (stream))
            throw UsageError ("cannot write " + out.getFullPathName().toStdString());
    }

    double patternSamples = 0.0;
    juce::Array<juce::var> blockSizes;
    for (int n : o.blockPattern)
    {
        blockSizes.add (n);
        patternSamples += n;
    }

    juce::DynamicObject::Ptr report (new juce::DynamicObject());
    report->setProperty ("plugin", pluginFile.getFullPathName());
    report->setProperty ("sample_rate", sampleRate);
    report->setProperty ("channels", channels);
    report->setProperty ("block_sizes", blockSizes);
    report->setProperty ("budget_us", patternSamples / (double) o.blockPattern.size() / sampleRate * 1.0e6);
    report->setProperty ("realtime", o.realtime);
    report->setProperty ("paced", paced);
    report->setProperty ("lockstep", o.lockstep);
    report->setProperty ("lockstep_timeouts", lockstepTimeouts);
    report->setProperty ("pace", o.realtime ? o.pace : 0.0);
    report->setProperty ("instances", o.instances);
    report->setProperty ("sidechain_channels", sidechainChannels);
    report->setProperty ("latency_samples", latency);
    report->setProperty ("latency_samples_at_prepare", latencyAtPrepare);
    report->setProperty ("input_samples", inputSamples);
    report->setProperty ("output_samples", passSamples);
    report->setProperty ("played_samples", totalSamples);
    report->setProperty ("rss_mb_before_instances", rssBeforeInstances);
    report->setProperty ("rss_mb_after_instances", rssAfterInstances);
    report->setProperty ("timeline", timeline);
    report->setProperty ("blocks", (int) numBlocks);
    report->setProperty ("warmup_blocks", (int) std::min<size_t> ((size_t) o.warmupBlocks, numBlocks));
    report->setProperty ("timed_blocks", (int) callbackUs.size());
    report->setProperty ("callback_us", summarise (callbackUs));
    report->setProperty ("process_us", summarise (processUs));
    report->setProperty ("over_budget_blocks", overBudget);
    report->setProperty ("late_blocks", late);
    report->setProperty ("audio_thread_scheduling", scheduling);
    report->setProperty ("audio_thread_allocations", (juce::int64) allocations);
    report->setProperty ("audio_thread_frees", (juce::int64) frees);
    report->setProperty ("parameters", juce::var (parametersReport.get()));
    report->setProperty ("status", status);
    report->setProperty ("events_applied_at_seconds", eventsApplied);
    for (const auto& [seconds, ms] : resetCalls)
    {
        auto* event = new juce::DynamicObject();
        event->setProperty ("seconds", seconds);
        event->setProperty ("kind", "reset");
        event->setProperty ("call_ms", ms);
        eventsReport.add (juce::var (event));
    }
    report->setProperty ("events", eventsReport);
    report->setProperty ("audio_thread_waits", audioWaits);
    report->setProperty ("allocation_counting", TIMBREL_INTERPOSE_ALLOCATIONS != 0);
    report->setProperty ("wait_counting", TIMBREL_INTERPOSE_WAITS != 0);
    report->setProperty ("construct_ms", constructMs);
    report->setProperty ("loading_after_construct", loadingAfterConstruct);
    report->setProperty ("load_wait_ms", loadWaitMs);
    report->setProperty ("load_wait_after_ms", loadWaitAfterMs);

    const juce::File reportFile (juce::File::getCurrentWorkingDirectory().getChildFile (o.report));
    if (! reportFile.replaceWithText (juce::JSON::toString (juce::var (report.get())) + "\n"))
        throw UsageError ("cannot write " + reportFile.getFullPathName().toStdString());

    for (auto& instance : instances)
        instance.plugin->releaseResources();
    instances.clear();
    return 0;
}
} // namespace

int main (int argc, char** argv)
{
    try
    {
        const auto options = parseArguments (argc, argv);
        if (options.selfTest)
            return runAllocationSelfTest();
        if (options.selfTestWaits)
            return runWaitSelfTest();
        return runHost (options);
    }
    catch (const UsageError& e)
    {
        std::fprintf (stderr, "timbrel_rt_host: error: %s\n", e.what());
        return 2;
    }
    catch (const std::exception& e)
    {
        std::fprintf (stderr, "timbrel_rt_host: error: %s\n", e.what());
        return 1;
    }
}
