// timbrel_synth_bench MODEL.ts [SECONDS]: Timbrel Synth's speed, one thread. For 1, 2, 4, 8 and
// 16 voices all sounding (held notes), the real-time factor of one engine that decodes every voice
// in one call per hop; then 8 engines of one voice each, called in turn, so the gain of batching
// is visible. Prints one JSON object (make bench keeps it in bench/synth.json).
#include "timbrel/SynthEngine.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

using namespace timbrel;

namespace
{
constexpr int kBlock = 512;

std::unique_ptr<SynthEngine> engineFor (const std::string& path, int voices)
{
    auto loaded = Model::load (path);
    if (! loaded)
        throw std::runtime_error (loaded.error);
    auto engine = std::make_unique<SynthEngine> (std::move (loaded.model));
    SynthConfig config;
    config.sampleRate = 44100.0;
    config.maxBlockSize = kBlock;
    config.voices.polyphony = voices;
    config.threaded = false; // the model's cost on this thread (Threaded moves the same work to a worker)
    if (auto error = engine->prepare (config); ! error.empty())
        throw std::runtime_error (error);
    return engine;
}

/** Seconds of audio per second of compute, `engines` called in turn for `seconds` of audio,
    each holding `notesEach` notes (a chord from C4 up in thirds and fourths). */
double realtimeFactor (std::vector<std::unique_ptr<SynthEngine>>& engines, int notesEach, double seconds)
{
    std::vector<float> out (kBlock);
    float* channels[1] = { out.data() };
    for (auto& engine : engines)
    {
        std::vector<SynthEvent> chord;
        for (int v = 0; v < notesEach; ++v)
        {
            SynthEvent e;
            e.number = 60 + (v * 7) % 24;
            e.channel = 1 + v % 16;
            e.value = 0.8f;
            chord.push_back (e);
        }
        engine->process (channels, 1, kBlock, chord.data(), static_cast<int> (chord.size()), {});
        for (int warm = 0; warm < 20; ++warm)
            engine->process (channels, 1, kBlock, nullptr, 0, {});
    }
    const int blocks = static_cast<int> (seconds * 44100.0 / kBlock);
    const auto start = std::chrono::steady_clock::now();
    for (int b = 0; b < blocks; ++b)
        for (auto& engine : engines)
            engine->process (channels, 1, kBlock, nullptr, 0, {});
    const double elapsed = std::chrono::duration<double> (std::chrono::steady_clock::now() - start).count();
    return (blocks * kBlock / 44100.0) / elapsed;
}
} // namespace

int main (int argc, char** argv)
{
    if (argc < 2)
    {
        std::fprintf (stderr, "usage: timbrel_synth_bench MODEL.ts [SECONDS]\n");
        return 2;
    }
    const std::string path = argv[1];
    const double seconds = argc > 2 ? std::stod (argv[2]) : 5.0;
    try
    {
        Model::configureCurrentThread();
        std::string json = "{\"model\": \"" + path + "\", \"seconds\": " + std::to_string (seconds) + ", \"voices\": {";
        for (const int voices : { 1, 2, 4, 8, 16 })
        {
            std::vector<std::unique_ptr<SynthEngine>> one;
            one.push_back (engineFor (path, voices));
            const double factor = realtimeFactor (one, voices, seconds);
            json += (voices > 1 ? ", " : "") + std::string ("\"") + std::to_string (voices) + "\": " + std::to_string (factor);
            std::fprintf (stderr, "%2d voices in one call: %6.1fx real time\n", voices, factor);
        }
        std::vector<std::unique_ptr<SynthEngine>> separate;
        for (int e = 0; e < 8; ++e)
            separate.push_back (engineFor (path, 1));
        const double apart = realtimeFactor (separate, 1, seconds);
        std::fprintf (stderr, " 8 voices as 8 one-voice engines: %6.1fx real time\n", apart);
        json += "}, \"eight_separate_engines\": " + std::to_string (apart) + "}";
        std::printf ("%s\n", json.c_str());
    }
    catch (const std::exception& e)
    {
        std::fprintf (stderr, "timbrel_synth_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
