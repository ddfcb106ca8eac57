"""The facts the Python side writes once (timbrel.format.vocabulary, timbrel.hosts.plugin) are
what the built plugin reports: its parameter list, their ranges, units and choices, and its
latency. The C++ side writes each once too (ModelInfo.h, StreamingEngine.h, Parameters.h);
this is where the two meet, so neither can drift alone. (The fader ramp, RAMP_SECONDS, is
checked by the reference comparisons with automation in test_dawdreamer.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SAMPLE_RATE
from timbrel.format.vocabulary import VOCABULARY
from timbrel.hosts import DawDreamerHost, PedalboardHost
from timbrel.hosts.plugin import (DESCRIPTOR_SOURCES, PROCESSING_MODES, STEREO_MODES, THREADED_MARGIN_HOPS,
                                  fader_slots, latency_samples, margin_choice, parameter_ids)


@pytest.fixture(scope="module", params=["pedalboard", "dawdreamer"])
def host(request, plugin_path):
    if request.param == "pedalboard":
        return PedalboardHost(plugin_path)
    return DawDreamerHost(plugin_path, sample_rate=SAMPLE_RATE)


def test_the_plugin_has_exactly_the_parameters_python_lists(host):
    assert sorted(host.parameters) == sorted(parameter_ids())
    assert len(parameter_ids()) == len(set(parameter_ids()))


def test_each_vocabulary_fader_has_the_range_unit_and_sources_python_knows(host):
    for name, spec in VOCABULARY.items():
        shift = host.parameters[f"{name}_shift"]
        assert (shift.kind, shift.minimum, shift.maximum) == ("float", -spec.shift_range, spec.shift_range), name
        assert shift.unit == spec.shift_unit, name
        assert host.parameters[f"{name}_fixed"].unit == spec.unit, name
    for slot in fader_slots():
        assert host.parameters[f"{slot}_source"].choices == DESCRIPTOR_SOURCES, slot


def test_the_choices_are_the_ones_python_names(host):
    assert host.parameters["processing_mode"].choices == PROCESSING_MODES
    assert host.parameters["stereo_mode"].choices == STEREO_MODES
    assert host.parameters["threaded_margin"].choices == tuple(margin_choice(h) for h in THREADED_MARGIN_HOPS)


@pytest.mark.parametrize("block", [64, 1000])
def test_the_reported_latency_follows_the_python_formula(plugin_path, models_dir, block):
    # The test model runs at the host's rate, hop 256, its own delay 31 samples.
    plugin = DawDreamerHost(plugin_path, model=models_dir / "timbrel-test.ts", sample_rate=SAMPLE_RATE,
                            block_size=block)
    silence = np.zeros((2, 4 * block), np.float32)
    seen = set()
    for mode in PROCESSING_MODES:
        for hops in THREADED_MARGIN_HOPS:
            plugin.set("processing_mode", mode)
            plugin.set("threaded_margin", margin_choice(hops))
            plugin.process(silence, SAMPLE_RATE)
            expected = latency_samples(256, 31, mode, block, hops)
            assert plugin.latency == expected, (mode, hops)
            seen.add(expected)
    assert len(seen) == 1 + len(THREADED_MARGIN_HOPS)  # Inline ignores the margin; each margin differs
