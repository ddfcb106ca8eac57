"""The real plugin in DawDreamer: no latency compensation by the host (we align by the
reported latency), parameter automation applied at each block's first sample."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO, SAMPLE_RATE, make_signal
from timbrel.hosts import DawDreamerHost
from timbrel.hosts.plugin import margin_choice
from timbrel_tools.reference import hop_values_from_blocks

TOLERANCE = 1e-5
BLOCK = 512


@pytest.fixture
def host(plugin_path, test_model):
    plugin = DawDreamerHost(plugin_path, model=test_model, sample_rate=SAMPLE_RATE, block_size=BLOCK)
    assert plugin.status().ok, plugin.status().message
    return plugin


def test_reported_latency_matches_the_contract(plugin_path):
    from timbrel_tools.reference import StreamingReference

    default = (REPO / "models" / "DEFAULT").read_text().strip()
    # Threaded (the default) gives the worker one host block or hop, whichever is larger.
    expected = StreamingReference(REPO / "models" / f"{default}.ts").latency_for("Threaded", BLOCK)
    fresh = DawDreamerHost(plugin_path, sample_rate=SAMPLE_RATE, block_size=BLOCK)
    # The default model loads in the background (a host's UI thread never waits for it): the
    # plugin's own report is right once loaded; DawDreamer's copy of it after the first render
    # (JUCE's VST3 host takes latency changes from another thread on a message loop, or at
    # the next prepare, and DawDreamer runs no message loop).
    assert fresh.latency == expected
    fresh.process(np.zeros((2, BLOCK), np.float32), SAMPLE_RATE)
    assert fresh.processor.get_latency_samples() == expected


@pytest.mark.parametrize("mode, margin", [("Threaded", 1), ("Threaded", 2), ("Inline", 1)])
def test_raw_output_is_the_reference_delayed_by_the_reported_latency(host, reference, mode, margin):
    host.set("processing_mode", mode)
    host.set("threaded_margin", margin_choice(margin))
    audio = make_signal(2)
    raw = host.render_raw(audio, audio.shape[1])
    assert host.latency == reference.latency_for(mode, BLOCK, margin_hops=margin)
    expected = reference.plugin_output(audio, latency=host.latency)
    assert np.abs(raw - expected).max() <= TOLERANCE
    # Aligned by the reported latency it lines up with the model's own (delay-free) stream.
    latency = host.latency
    stream = reference.model_stream(audio)
    own = reference.info.latency_samples
    usable = audio.shape[1] - latency
    assert np.abs(raw[:, latency:] - stream[:, own: own + usable]).max() <= TOLERANCE


@pytest.mark.parametrize("block", [64, 500, 2048])
def test_host_block_size_does_not_change_the_output(plugin_path, test_model, reference, block):
    plugin = DawDreamerHost(plugin_path, model=test_model, sample_rate=SAMPLE_RATE, block_size=block)
    audio = make_signal(2, seconds=0.5)
    raw = plugin.render_raw(audio, audio.shape[1])
    assert plugin.latency == reference.latency_for("Threaded", block)
    assert np.abs(raw - reference.plugin_output(audio, latency=plugin.latency)).max() <= TOLERANCE


def test_automated_loudness_shift_follows_the_curve(host, reference):
    audio = make_signal(2, seconds=1.5)
    n = audio.shape[1]
    curve = np.interp(np.arange(n), [0, n // 3, 2 * n // 3, n], [0.0, 12.0, -18.0, -6.0]).astype(np.float32)
    host.automate("loudness_shift", curve)
    raw = host.render_raw(audio, n)

    # The engine reads the value at the start of each host block for the hops completing in it.
    block_values = host._normalise("loudness_shift", curve[::BLOCK]) * 48.0 - 24.0
    per_hop = hop_values_from_blocks(block_values, BLOCK, reference.info.hop_length, n)
    expected = reference.plugin_output(audio, {"loudness": per_hop}, latency=host.latency)
    assert np.abs(raw - expected).max() <= TOLERANCE

    unshifted = reference.plugin_output(audio, latency=host.latency)
    assert np.abs(raw - unshifted).max() > 0.1, "the automation had no effect"


def test_automated_mix_reaches_dry_and_wet(host, reference):
    audio = make_signal(1, seconds=1.0)
    n = audio.shape[1]
    mix = np.where(np.arange(n) < n // 2, 100.0, 0.0).astype(np.float32)
    host.automate("mix", mix)
    raw = host.render_raw(audio, n)
    latency = host.latency
    wet = reference.plugin_output(audio, latency=latency)
    # Settled regions: first half wet, second half the dry input delayed by the latency.
    assert np.abs(raw[:, 1000: n // 2 - 1000] - wet[:, 1000: n // 2 - 1000]).max() <= TOLERANCE
    # The switch is read at the first block starting after n/2 and ramps over that block.
    settled = (n // 2 // BLOCK + 2) * BLOCK
    assert np.abs(raw[:, settled:] - audio[:, settled - latency: n - latency]).max() <= TOLERANCE
