"""The real plugin in pedalboard (which compensates the reported latency itself)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO, SAMPLE_RATE, make_signal
from timbrel.hosts import PedalboardHost

TOLERANCE = 1e-5


@pytest.fixture
def host(plugin_path, test_model):
    plugin = PedalboardHost(plugin_path, model=test_model)
    assert plugin.status().ok, plugin.status().message
    return plugin


def aligned_reference(reference, audio, shifts=None):
    """The model's streamed output with its own delay removed: what a latency-compensating
    host should return (the plugin's extra hop of buffering is compensated by the host)."""
    stream = reference.model_stream(audio, shifts)
    delay = reference.info.latency_samples
    out = np.zeros_like(stream)
    out[:, : stream.shape[1] - delay] = stream[:, delay:]
    return out


def test_default_model_loads_without_being_asked(plugin_path):
    status = PedalboardHost(plugin_path).status()
    assert status.ok, status.message
    default = (REPO / "models" / "DEFAULT").read_text().strip()
    assert status.model_name == default
    assert status.model_reference == default


def test_reported_latency_is_buffering_plus_model_delay(host, reference):
    # Threaded (default): a hop of buffering, plus a host block (or hop) for the worker.
    host.process(make_signal(2, 0.05), SAMPLE_RATE, buffer_size=1024)
    assert host.latency == reference.latency_for("Threaded", 1024) == 256 + 1024 + 31
    assert host.plugin.reported_latency_samples == host.latency  # what pedalboard compensates
    # The Threaded margin adds hops of latency (it buys the worker time on a busy machine).
    host.set("threaded_margin", "4 Hops")
    host.process(make_signal(2, 0.05), SAMPLE_RATE, buffer_size=1024)
    assert host.latency == reference.latency_for("Threaded", 1024, margin_hops=4) == 256 + 1024 + 3 * 256 + 31
    assert host.plugin.reported_latency_samples == host.latency
    host.set("processing_mode", "Inline")  # no worker, no margin
    host.process(make_signal(2, 0.05), SAMPLE_RATE, buffer_size=1024)
    assert host.latency == reference.latency_for("Inline") == 256 + 31
    assert host.plugin.reported_latency_samples == host.latency


@pytest.mark.parametrize("mode", ["Threaded", "Inline"])
@pytest.mark.parametrize("channels", [1, 2])
def test_output_matches_python_streaming_reference(host, reference, channels, mode):
    host.set("processing_mode", mode)
    audio = make_signal(channels)
    out = host.process(audio, SAMPLE_RATE)
    expected = aligned_reference(reference, audio)
    usable = audio.shape[1] - reference.info.latency_samples
    assert out.shape == audio.shape
    assert np.abs(out[:, :usable] - expected[:, :usable]).max() <= TOLERANCE
    # The model changes the sound: this is not a pass-through.
    assert np.abs(out - audio).max() > 0.05


def test_loudness_shift_parameter_changes_output_as_reference(host, reference, signal):
    host.set("loudness_shift", -6.0)
    assert host.get("loudness_shift") == pytest.approx(-6.0)
    out = host.process(signal, SAMPLE_RATE)
    expected = aligned_reference(reference, signal, {"loudness": -6.0})
    usable = signal.shape[1] - reference.info.latency_samples
    assert np.abs(out[:, :usable] - expected[:, :usable]).max() <= TOLERANCE
    unshifted = aligned_reference(reference, signal)
    ratio_db = 20 * np.log10(np.sqrt(np.mean(out[:, 5000:usable] ** 2) / np.mean(unshifted[:, 5000:usable] ** 2)))
    assert ratio_db == pytest.approx(-6.0, abs=0.1)


def test_mix_zero_and_bypass_give_the_input_back_exactly(host, signal):
    host.set("mix", 0.0)
    assert np.array_equal(host.process(signal, SAMPLE_RATE), signal)
    host.set("mix", 100.0)
    host.set("bypass", True)
    assert np.array_equal(host.process(signal, SAMPLE_RATE), signal)


def test_half_mix_blends_dry_and_wet(host, reference, signal):
    host.set("mix", 50.0)
    out = host.process(signal, SAMPLE_RATE)
    expected = 0.5 * aligned_reference(reference, signal) + 0.5 * signal
    usable = signal.shape[1] - reference.info.latency_samples
    assert np.abs(out[:, :usable] - expected[:, :usable]).max() <= TOLERANCE


def test_output_gain(host, reference, signal):
    host.set("output_gain", -6.0)
    out = host.process(signal, SAMPLE_RATE)
    expected = aligned_reference(reference, signal) * 10 ** (-6.0 / 20)
    usable = signal.shape[1] - reference.info.latency_samples
    assert np.abs(out[:, :usable] - expected[:, :usable]).max() <= TOLERANCE


def test_nan_and_inf_input_give_finite_output(host, signal):
    signal[0, 1000] = np.nan
    signal[1, 20000:20010] = np.inf
    out = host.process(signal, SAMPLE_RATE)
    assert np.isfinite(out[:, 1000 + 600:]).all()
    # Recovers: well after the bad samples the output is the normal model output again.
    clean = host.process(make_signal(), SAMPLE_RATE)
    assert np.abs(out[:, 30000:] - clean[:, 30000:]).max() <= TOLERANCE


@pytest.mark.parametrize("rate", [48000, 96000])
def test_other_sample_rates_run_resampled_and_stay_aligned(plugin_path, models_dir, rate):
    # Through the identity model the plugin is a pure delay, which pedalboard compensates: at any
    # host rate the output must be the input again (resampled in and out, exactly aligned).
    host = PedalboardHost(plugin_path, model=models_dir / "timbrel-identity.ts")
    t = np.arange(rate) / rate
    audio = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 5000 * t)]).astype(np.float32)
    out = host.process(audio, rate)
    assert host.status().ok, host.status().message
    assert np.abs(out[:, rate // 10: -200] - audio[:, rate // 10: -200]).max() < 1e-3


def test_state_round_trip_restores_model_and_parameters(plugin_path, host, test_model, reference, signal):
    host.set("loudness_shift", 3.0)
    host.set("mix", 80.0)
    host.set("output_gain", -2.5)
    fresh = PedalboardHost(plugin_path, model="timbrel-test-missing-so-not-default")
    assert not fresh.status().ok
    fresh.plugin.raw_state = host.plugin.raw_state
    status = fresh.status()
    assert status.ok, status.message
    assert status.model_reference == str(test_model)
    for name, value in (("loudness_shift", 3.0), ("mix", 80.0), ("output_gain", -2.5)):
        # pedalboard sets values through the parameter's text, to about 0.01 of its range.
        assert fresh.get(name) == host.get(name) == pytest.approx(value, abs=0.01)
    assert np.array_equal(fresh.process(signal, SAMPLE_RATE), host.process(signal, SAMPLE_RATE))


def test_sample_rate_changes_between_renders_keep_it_running(plugin_path, models_dir):
    # One instance, the host's rate changing from render to render: re-prepared every time, the
    # identity model's output stays the (compensated) input at each rate.
    host = PedalboardHost(plugin_path, model=models_dir / "timbrel-identity.ts")
    for rate in (44100, 48000, 22050, 44100):
        t = np.arange(rate // 2) / rate
        audio = (0.3 * np.sin(2 * np.pi * 440 * t))[np.newaxis].astype(np.float32)
        out = host.process(audio, rate)
        status = host.status()
        assert status.ok, status.message
        assert np.abs(out[:, rate // 10: -200] - audio[:, rate // 10: -200]).max() < 1e-3, rate
