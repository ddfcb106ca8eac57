#pragma once
// Streaming sample-rate conversion between the host and the model (libsamplerate's sinc
// converter). Its filter delay is fixed, so the engine measures the whole chain's lag once
// and reports it as latency.

#include <memory>
#include <string>

namespace timbrel
{
class Resampler
{
public:
    Resampler();
    ~Resampler();
    Resampler (const Resampler&) = delete;
    Resampler& operator= (const Resampler&) = delete;

    /** Returns an error in plain words, empty on success. Equal rates make a pass-through. */
    std::string prepare (double inputRate, double outputRate, int numChannels, int maxInputSamples);

    bool isPassThrough() const { return passThrough; }

    /** Most output samples one call with `inputSamples` can produce. */
    int maxOutputFor (int inputSamples) const;

    /** Consumes all `n` input samples and writes the output produced so far; returns its count. */
    int process (const float* const* in, int n, float* const* out, int maxOut) noexcept;

    /** Ready for a fresh signal with the same configuration. */
    void reset();

private:
    struct State;
    std::unique_ptr<State> state;
    bool passThrough = true;
    double ratio = 1.0;
    int channels = 0;
};
} // namespace timbrel
