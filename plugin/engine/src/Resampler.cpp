#include "timbrel/Resampler.h"

#include <samplerate.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace timbrel
{
// libsamplerate's medium sinc: images and aliases below -110 dB, flat to 19 kHz at 44.1 kHz,
// and a streaming delay of about 50 samples per direction. (libsoxr's DFT stages buffer
// 200 to 1000 samples, too many for the low-latency target; measured in docs/engine.md.)
struct Resampler::State
{
    SRC_STATE* src = nullptr;
    std::vector<float> interleavedIn, interleavedOut;
    ~State()
    {
        if (src != nullptr)
            src_delete (src);
    }
};

Resampler::Resampler() = default;
Resampler::~Resampler() = default;

std::string Resampler::prepare (double inputRate, double outputRate, int numChannels, int maxInputSamples)
{
    state.reset();
    channels = numChannels;
    ratio = outputRate / inputRate;
    passThrough = inputRate == outputRate;
    if (passThrough)
        return {};

    int error = 0;
    auto s = std::make_unique<State>();
    s->src = src_new (SRC_SINC_MEDIUM_QUALITY, numChannels, &error);
    if (s->src == nullptr)
        return std::string ("the resampler could not be created: ") + src_strerror (error);
    s->interleavedIn.assign (static_cast<size_t> (numChannels * std::max (1, maxInputSamples)), 0.0f);
    s->interleavedOut.assign (static_cast<size_t> (numChannels * maxOutputFor (std::max (1, maxInputSamples))), 0.0f);
    state = std::move (s);
    return {};
}

int Resampler::maxOutputFor (int inputSamples) const
{
    return passThrough ? inputSamples : static_cast<int> (std::ceil (inputSamples * ratio)) + 16;
}

int Resampler::process (const float* const* in, int n, float* const* out, int maxOut) noexcept
{
    if (passThrough)
    {
        const int count = std::min (n, maxOut);
        for (int ch = 0; ch < channels; ++ch)
            if (out[ch] != in[ch])
                std::memmove (out[ch], in[ch], sizeof (float) * static_cast<size_t> (count));
        return count;
    }
    if (state == nullptr)
        return 0;

    const int capacityIn = static_cast<int> (state->interleavedIn.size()) / channels;
    const int capacityOut = static_cast<int> (state->interleavedOut.size()) / channels;
    int consumed = 0, produced = 0;
    while (consumed < n && produced < maxOut)
    {
        const int take = std::min (n - consumed, capacityIn);
        for (int i = 0; i < take; ++i)
            for (int ch = 0; ch < channels; ++ch)
                state->interleavedIn[static_cast<size_t> (i * channels + ch)] = in[ch][consumed + i];
        SRC_DATA data {};
        data.data_in = state->interleavedIn.data();
        data.input_frames = take;
        data.data_out = state->interleavedOut.data();
        data.output_frames = std::min (capacityOut, maxOut - produced);
        data.src_ratio = ratio;
        data.end_of_input = 0;
        if (src_process (state->src, &data) != 0)
            break;
        for (long i = 0; i < data.output_frames_gen; ++i)
            for (int ch = 0; ch < channels; ++ch)
                out[ch][produced + i] = state->interleavedOut[static_cast<size_t> (i * channels + static_cast<long> (ch))];
        consumed += static_cast<int> (data.input_frames_used);
        produced += static_cast<int> (data.output_frames_gen);
        if (data.input_frames_used == 0 && data.output_frames_gen == 0)
            break;
    }
    return produced;
}

void Resampler::reset()
{
    if (state != nullptr)
        src_reset (state->src);
}
} // namespace timbrel
