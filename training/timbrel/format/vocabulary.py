"""The descriptor vocabulary of the model format (docs/model-format.md): the descriptor names
the plugin gives faders, the unit each must be in, and how its fader moves it.

This is the one Python copy of these facts; the C++ copy is kDescriptorVocabulary in
plugin/engine/include/timbrel/ModelInfo.h, and tests/test_plugin_facts.py checks the built
plugin's parameters against this one. Plain Python: hosts import it without torch.

One rule ties units to faders: a descriptor in Hz moves in octaves on its fader (value * 2^shift),
so every frequency is handled in log2 space (`in_octaves`); the others move by adding the shift
in their own unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FREQUENCY_UNIT = "Hz"
# Frequencies at or below this read as this in log2 space (a silent frame's centroid is 0 Hz).
LOG2_FLOOR_HZ = 1e-3


@dataclass(frozen=True)
class DescriptorSpec:
    name: str
    unit: str           # the unit the contract requires
    shift_unit: str     # the unit of the plugin's Shift fader (its parameter label)
    shift_range: float  # the Shift fader spans -shift_range..+shift_range

    @property
    def shift_kind(self) -> str:
        """"octaves" (value * 2^shift) for frequencies, "add" (value + shift) otherwise."""
        return "octaves" if in_octaves(self.unit) else "add"


VOCABULARY: dict[str, DescriptorSpec] = {spec.name: spec for spec in (
    DescriptorSpec("loudness", "dB", "dB", 24.0),
    DescriptorSpec("pitch", "semitones", "st", 24.0),
    DescriptorSpec("centroid", "Hz", "oct", 3.0),
    DescriptorSpec("bandwidth", "Hz", "oct", 3.0),
    DescriptorSpec("flatness", "dB", "dB", 30.0),
)}

# What a model gets when its config names no descriptors: the whole vocabulary, in this order.
DESCRIPTOR_NAMES: list[str] = list(VOCABULARY)
DESCRIPTOR_UNITS: list[str] = [spec.unit for spec in VOCABULARY.values()]


def in_octaves(unit: str) -> bool:
    """Whether a descriptor in this unit lives in log2 space: its fader shifts octaves, decode
    normalises its log2, and metrics compare it in octaves."""
    return unit == FREQUENCY_UNIT


def to_fader_space(values, unit: str):
    """A float or numpy array in the descriptor's unit -> the space its fader moves linearly in
    (log2 Hz for frequencies, the unit itself otherwise)."""
    if not in_octaves(unit):
        return values
    if isinstance(values, (int, float)):
        return math.log2(max(float(values), LOG2_FLOOR_HZ))
    import numpy as np

    return np.log2(np.maximum(values, LOG2_FLOOR_HZ))


def from_fader_space(values, unit: str):
    """The inverse of to_fader_space."""
    if not in_octaves(unit):
        return values
    return 2.0 ** values


def fader_unit(unit: str) -> str:
    """The unit distances in fader space are in: octaves for frequencies."""
    return "octaves" if in_octaves(unit) else unit
