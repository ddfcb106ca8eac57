#pragma once
// What a model file declares about itself (docs/model-format.md), plus the fixed descriptor
// vocabulary the plugin's faders are built from. No torch, no JUCE: safe to include anywhere.

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace timbrel
{
inline constexpr int kSupportedFormatVersion = 1;

/** Which contract a file follows: Timbrel's own (docs/model-format.md), or nn~'s convention
    (Max/Pd's nn~ and RAVE's exports: "Other models" in the same document). */
enum class ModelKind
{
    timbrel,
    nnTilde
};

struct ModelInfo
{
    ModelKind kind = ModelKind::timbrel;
    int formatVersion = 0;
    int sampleRate = 0;
    int hopLength = 0;
    int latentSize = 0;
    int latencySamples = 0;
    std::vector<std::string> descriptorNames;
    std::vector<std::string> descriptorUnits;
    std::vector<float> descriptorMin;
    std::vector<float> descriptorMax;
    std::string modelName;
    std::string modelCard; // JSON text
    std::string path;

    // Optional, each pair both or neither (docs/model-format.md, "Timbres"): the model's named
    // timbres (a mean z each) and the principal axes of its latent over the training data.
    std::vector<std::string> timbreNames;
    std::vector<float> timbreLatents;    // row-major [timbreNames.size(), latentSize]
    std::vector<float> latentMean;       // [latentSize]; empty when the model has no axes
    std::vector<float> latentComponents; // row-major [latentSize, latentSize]: row i is axis i, strongest first
    bool hasNatural = false;             // the optional natural(zd) method (checked by the load-time probe)

    // nn~ modules only. They declare no descriptors and no latency: latencySamples is what
    // the load-time probe measured (latencyMeasured), and the hop is the module's own ratio.
    int modelChannels = 1;        // audio channels the module takes and gives
    std::string playPath;         // "encode/decode" (latent controls act) or "forward"
    bool latencyMeasured = false;
    bool hasPrior = false;        // a prior method the plugin plays as a generation mode
    bool streams = true;          // keeps state from call to call (false: a RAVE export made without --streaming)
    std::string latencyNote;      // how sure the probe was, in words
    std::vector<std::string> moduleMethods; // the methods the module lists

    int numDescriptors() const { return static_cast<int> (descriptorNames.size()); }
    /** Index of a descriptor in the model's output, or nullopt when the model lacks it. */
    std::optional<int> descriptorIndex (const std::string& name) const;
};

/** How a fader's shift acts on a descriptor value in its physical unit. */
enum class ShiftKind
{
    add,       // value + shift (dB, semitones)
    octaves    // value * 2^shift (frequencies in Hz: shift in octaves)
};

/** One entry of the fixed descriptor vocabulary. Parameter IDs derive from `name` and never change. */
struct VocabularyEntry
{
    const char* name;
    const char* unit;       // unit the contract requires for this descriptor
    const char* shiftUnit;  // unit of the fader's shift
    ShiftKind shiftKind;
    float shiftRange;       // fader spans [-shiftRange, +shiftRange]
};

// The Python copy is timbrel.format.vocabulary; tests/test_plugin_facts.py checks the built
// plugin's faders against it.
inline constexpr std::array<VocabularyEntry, 5> kDescriptorVocabulary { {
    { "loudness",  "dB",        "dB",  ShiftKind::add,     24.0f },
    { "pitch",     "semitones", "st",  ShiftKind::add,     24.0f },
    { "centroid",  "Hz",        "oct", ShiftKind::octaves,  3.0f },
    { "bandwidth", "Hz",        "oct", ShiftKind::octaves,  3.0f },
    { "flatness",  "dB",        "dB",  ShiftKind::add,     30.0f },
} };

inline constexpr int kVocabularySize = static_cast<int> (kDescriptorVocabulary.size());

/** Vocabulary entry with this name, or nullptr for a descriptor outside the vocabulary. */
const VocabularyEntry* findVocabularyEntry (const std::string& name);

/** Shift applied to one descriptor value; done in double and rounded once so the Python
    reference (timbrel_tools.reference) reproduces it bit for bit. */
float applyShift (ShiftKind kind, float value, float shift);

/** Checks the metadata half of the contract; returns the first violation, naming the field. */
std::optional<std::string> validateMetadata (const ModelInfo& info);

/** The optional timbres and latent axes (part of validateMetadata): names non-empty and unique,
    sizes that fit latentSize, finite values, orthonormal axes. */
std::optional<std::string> validateTimbres (const ModelInfo& info);
} // namespace timbrel
