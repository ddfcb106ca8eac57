"""Modules in nn~'s convention (RAVE's exports) played by the real plugin (docs/model-format.md,
"Other models"). The modules here are the build's test modules (tools/timbrel_tools/
nn_tilde_corpus.py): nn-delay.ts is a pure delay of 700 samples behind encode/decode, so
every figure is exact. tests/test_rave_exports.py plays real RAVE exports."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SAMPLE_RATE, make_signal
from timbrel.hosts import plugin_state
from timbrel.hosts.dawdreamer_host import DawDreamerHost
from timbrel.hosts.pedalboard_host import PedalboardHost
from timbrel_tools.rthost import find_rt_host, model_state, render_native

MODULE_DELAY = 700  # nn_tilde_corpus.DELAY
HOP = 512           # nn_tilde_corpus.RATIO


@pytest.fixture(scope="module")
def pedalboard_host(plugin_path):
    return PedalboardHost(plugin_path)


@pytest.fixture(scope="module")
def nn_delay(models_dir):
    return models_dir / "nn-delay.ts"


def test_an_nn_module_loads_with_its_measured_delay_in_the_reported_latency(pedalboard_host, nn_delay, test_model):
    status = pedalboard_host.load_model(nn_delay)
    assert status.ok, status.message
    assert status.model_kind == "nn~"
    assert status.model_name == "nn-delay"
    assert status.model_delay == MODULE_DELAY
    with_module = status.latency
    identity = pedalboard_host.load_model(test_model.parent / "timbrel-identity.ts")
    assert identity.model_kind == "timbrel"
    # Same buffering arithmetic, a hop of 512 instead of 128, plus the module's own delay.
    assert with_module == identity.latency - 128 + HOP + MODULE_DELAY


def test_pedalboard_plays_an_nn_module_aligned_with_its_input(pedalboard_host, nn_delay):
    pedalboard_host.load_model(nn_delay)
    audio = make_signal(2, 1.0, seed=3)
    out = pedalboard_host.process(audio, SAMPLE_RATE)
    np.testing.assert_allclose(out, audio, atol=1e-6)  # pedalboard compensates the reported latency


def test_dawdreamer_raw_output_is_the_input_delayed_by_the_reported_latency(plugin_path, nn_delay):
    host = DawDreamerHost(plugin_path, model=nn_delay, sample_rate=SAMPLE_RATE, block_size=512)
    assert host.status().ok, host.status().message
    audio = make_signal(2, 1.0, seed=4)
    latency = host.latency
    raw = host.render_raw(audio, audio.shape[1])
    np.testing.assert_allclose(raw[:, latency:], audio[:, : audio.shape[1] - latency], atol=1e-6)
    assert np.abs(raw[:, :latency]).max() < 1e-6


def test_the_first_latent_knob_moves_the_modules_latent(pedalboard_host, nn_delay):
    """nn-delay's latent 0 is its gain: a scale of 0.5 on it halves the output."""
    pedalboard_host.load_model(nn_delay)
    audio = make_signal(2, 0.5, seed=5)
    plain = pedalboard_host.process(audio, SAMPLE_RATE)
    pedalboard_host.set("latent_1_scale", 0.5)
    try:
        halved = pedalboard_host.process(audio, SAMPLE_RATE)
    finally:
        pedalboard_host.set("latent_1_scale", 1.0)
    settled = SAMPLE_RATE // 10  # past the controls' 50 ms glide from the last render's values
    np.testing.assert_allclose(halved[:, settled:], 0.5 * plain[:, settled:], atol=1e-5)


def test_a_users_delay_figure_replaces_the_measured_one_and_stays_in_the_state(pedalboard_host, nn_delay):
    measured = pedalboard_host.load_model(nn_delay)
    status = pedalboard_host.load_model(nn_delay, model_delay=100)
    assert status.model_delay == 100
    assert status.latency == measured.latency - (MODULE_DELAY - 100)
    assert plugin_state.read(pedalboard_host.plugin.raw_state).find("Model").get("latencyOverride") == "100"
    # With the delay under-reported, the output comes 600 samples late after compensation.
    audio = make_signal(2, 0.5, seed=6)
    out = pedalboard_host.process(audio, SAMPLE_RATE)
    np.testing.assert_allclose(out[:, 600:], audio[:, :-600], atol=1e-6)
    # Loading without a figure returns to the measured delay.
    assert pedalboard_host.load_model(nn_delay).model_delay == MODULE_DELAY


def test_a_stereo_module_gets_both_channels_together(pedalboard_host, models_dir):
    status = pedalboard_host.load_model(models_dir / "nn-stereo-swap.ts")
    assert status.ok, status.message
    audio = make_signal(2, 0.5, seed=7)
    out = pedalboard_host.process(audio, SAMPLE_RATE)
    np.testing.assert_allclose(out, audio[::-1], atol=1e-6)


@pytest.mark.parametrize("start, switch_to", [("nn-delay.ts", "timbrel-identity.ts"), ("timbrel-identity.ts", "nn-delay.ts")])
def test_switching_between_an_nn_module_and_a_timbrel_model_while_playing(plugin_path, models_dir, start, switch_to):
    """Real time: the new model is built beside the playing one and crossfaded in; both are
    pure delays, so once the switch has settled the output is the input at the new latency.
    In lockstep with the worker, so a busy machine cannot make it underrun (which plays dry)."""
    audio = make_signal(2, 2.5, seed=9)
    output, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=256, realtime=True,
                                   lockstep=True, state=model_state(models_dir / start), host=find_rt_host(),
                                   events=[(1.0, model_state(models_dir / switch_to))])
    assert report["lockstep_timeouts"] == 0
    assert int(report["status"]["underruns"]) == 0
    assert report["status"]["message"] == ""
    assert report["status"]["modelName"] == switch_to.removesuffix(".ts")
    assert np.isfinite(output).all()
    delay = report["latency_samples"]
    settled = int(1.6 * SAMPLE_RATE)
    n = np.arange(settled, audio.shape[1])
    np.testing.assert_allclose(output[:, n], audio[:, n - delay], atol=1e-6)


def test_generate_plays_the_modules_prior_at_the_temperature(pedalboard_host, models_dir):
    """nn-prior.ts's prior gives gain 0 and an offset of the temperature: generating plays a
    constant of the temperature's value, whatever the input."""
    status = pedalboard_host.load_model(models_dir / "nn-prior.ts")
    assert status.ok, status.message
    audio = make_signal(2, 1.0, seed=10)
    pedalboard_host.set("generate", True)
    pedalboard_host.set("temperature", 0.5)
    try:
        out = pedalboard_host.process(audio, SAMPLE_RATE)
    finally:
        pedalboard_host.set("generate", False)
        pedalboard_host.set("temperature", 1.0)
    np.testing.assert_allclose(out[:, : audio.shape[1] - 2048], 0.5, atol=1e-5)
    # Off again: the input, delayed and compensated.
    np.testing.assert_allclose(pedalboard_host.process(audio, SAMPLE_RATE), audio, atol=1e-5)
