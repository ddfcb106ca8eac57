"""Real RAVE exports in the real plugin. `make rave-exports` makes them (scripts/rave/: untrained,
seeded, small RAVE models built from RAVE 2.3.1's own configs and exported by its own
`rave export`, in a venv of their own) into build/rave/: v2_small streaming and not (one
checkpoint), v1 streaming, a stereo v2_small streaming export, and the v2_small streaming
export with an untrained prior (`--prior`).

An untrained RAVE answers its input very quietly under a sound of its own, so alignment is
judged on the input's effect: the same render with and without the input (same state, same
seed) subtracted, as the plugin's own probe does, but against the offline export's forward,
the model without streaming delay."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO, SAMPLE_RATE
from timbrel.hosts.dawdreamer_host import DawDreamerHost
from timbrel.hosts.pedalboard_host import PedalboardHost
from timbrel_tools.rthost import find_rt_host, model_state, render_native

EXPORTS = REPO / "build" / "rave"


@pytest.fixture(scope="module")
def exports() -> dict:
    listing = EXPORTS / "exports.json"
    if not listing.exists():
        pytest.fail(f"{listing} is missing: run `make rave-exports` (make test does)")
    return json.loads(listing.read_text())


@pytest.fixture(scope="module")
def host(plugin_path) -> PedalboardHost:
    return PedalboardHost(plugin_path)


def phrase(seconds: float = 3.0, channels: int = 2) -> np.ndarray:
    """Notes with attacks and gaps (a tone and its octave under a decaying envelope), so the
    input's effect has an envelope to align."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    out = np.zeros((channels, t.size), np.float32)
    for c in range(channels):
        for start, freq in [(0.2, 220.0), (0.9, 330.0), (1.35, 262.0), (2.2, 196.0)]:
            s = t - start - 0.01 * c
            note = (s >= 0) * np.exp(-np.clip(s, 0, None) * 6.0) * np.clip(s * 200.0, 0, 1)
            out[c] += (0.3 * note * (np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(4 * np.pi * freq * t))).astype(np.float32)
    return out


def envelope(x: np.ndarray, window: int = 220) -> np.ndarray:
    return np.convolve(x.astype(np.float64) ** 2, np.ones(window), "full")[: x.size]


def best_lag(reference: np.ndarray, delayed: np.ndarray, span: int) -> int:
    """The lag in [-span, span] by which `delayed`'s envelope best follows `reference`'s."""
    a, b = envelope(reference), envelope(delayed)
    lags = np.arange(-span, span + 1, 4)
    scores = [np.dot(a[max(0, -lag): a.size - max(0, lag)], b[max(0, lag): b.size - max(0, -lag)]) for lag in lags]
    return int(lags[int(np.argmax(scores))])


def offline_effect(path: Path, audio: np.ndarray) -> np.ndarray:
    """The offline export's forward on `audio` minus on silence, one channel at a time, each
    from the same seed (RAVE samples its posterior and decoder noise)."""
    module = torch.jit.load(str(path))
    length = audio.shape[1] // 512 * 512
    outs = []
    for signal in (audio[:, :length], np.zeros_like(audio[:, :length])):
        torch.manual_seed(0)
        with torch.no_grad():
            outs.append(module.forward(torch.from_numpy(signal).unsqueeze(1)).squeeze(1).numpy())
    return outs[0] - outs[1]


def test_every_export_loads_as_an_nn_module_with_its_ratio_and_a_measured_delay(host, exports):
    assert len(exports["files"]) == 5
    for name in exports["files"]:
        status = host.load_model(EXPORTS / name)
        assert status.ok, f"{name}: {status.message}"
        assert status.model_kind == "nn~"
        assert "measured at load" in status.model_delay_note, status.model_delay_note
        assert status.model_streams == ("streaming" in name), f"{name}: model_streams {status.model_streams}"
        if "streaming" in name:
            assert status.model_delay > 2048, f"{name}: a streaming RAVE delays by thousands of samples, measured {status.model_delay}"
        else:
            assert status.model_delay == 0, f"{name}: an offline export has no streaming delay"
        print(f"{name}: delay {status.model_delay} samples ({status.model_delay_note}), latency {status.latency}")


def test_the_streaming_export_lines_up_with_the_offline_export_after_the_reported_latency(host):
    """pedalboard shifts the output back by the reported latency: the streaming export's
    effect must then sit where the offline export's does, within one hop (512 samples: RAVE's
    latent frames put the streaming output at another sub-frame phase than the offline one)."""
    status = host.load_model(EXPORTS / "rave_streaming.ts")
    assert status.ok, status.message
    audio = phrase()
    played = host.process(audio, SAMPLE_RATE)
    silent = host.process(np.zeros_like(audio), SAMPLE_RATE)
    effect = played - silent
    assert np.isfinite(played).all() and np.abs(effect).max() > 0
    reference = offline_effect(EXPORTS / "rave_offline.ts", audio)
    for channel in range(2):
        lag = best_lag(reference[channel], effect[channel, : reference.shape[1]], span=4096)
        print(f"channel {channel}: the plugin's output follows the offline export's by {lag} samples")
        assert abs(lag) <= 512, f"misaligned by {lag} samples after the reported latency {status.latency}"


def test_an_offline_render_of_a_rave_export_repeats_exactly(host):
    """A reset restores the module's buffers and the random seed: the same render twice is
    the same audio, though RAVE draws random numbers in encode and decode."""
    assert host.load_model(EXPORTS / "rave_streaming.ts").ok
    audio = phrase(1.5)
    np.testing.assert_array_equal(host.process(audio, SAMPLE_RATE), host.process(audio, SAMPLE_RATE))


def test_a_stereo_export_plays_a_stereo_track_with_both_channels(host):
    status = host.load_model(EXPORTS / "rave_stereo_streaming.ts")
    assert status.ok, status.message
    audio = phrase(2.0)
    audio[1] *= 0.25  # a quieter right channel: a module fed each channel apart would still differ
    out = host.process(audio, SAMPLE_RATE)
    assert out.shape == audio.shape and np.isfinite(out).all()
    assert np.abs(out[0] - out[1]).max() > 1e-4, "the two output channels are the same"


def test_dawdreamer_raw_output_lines_up_with_the_offline_export_at_the_reported_latency(plugin_path):
    """DawDreamer does not compensate latency: the raw output shifted by the reported latency
    must put the streaming export's effect where the offline export's is (within a hop)."""
    plugin = DawDreamerHost(plugin_path, model=EXPORTS / "rave_streaming.ts", sample_rate=SAMPLE_RATE, block_size=512)
    status = plugin.status()
    assert status.ok, status.message
    assert plugin.latency == status.latency
    audio = phrase()
    length = audio.shape[1] + plugin.latency
    played = plugin.render_raw(audio, length)
    silent = plugin.render_raw(np.zeros_like(audio), length)
    assert np.isfinite(played).all()
    effect = (played - silent)[:, plugin.latency:]
    reference = offline_effect(EXPORTS / "rave_offline.ts", audio)
    for channel in range(2):
        lag = best_lag(reference[channel], effect[channel, : reference.shape[1]], span=4096)
        print(f"DawDreamer, channel {channel}: {lag} samples from the offline export")
        assert abs(lag) <= 512, f"misaligned by {lag} samples after the reported latency {plugin.latency}"
    v1 = DawDreamerHost(plugin_path, model=EXPORTS / "rave_v1_streaming.ts", sample_rate=SAMPLE_RATE, block_size=512)
    assert v1.status().ok and v1.latency > 2048 * 2
    assert np.isfinite(v1.render_raw(phrase(1.0), SAMPLE_RATE + v1.latency)).all()


@pytest.mark.parametrize("start, switch_to", [("rave", "timbrel"), ("timbrel", "rave")])
def test_switching_between_a_rave_export_and_a_timbrel_model_while_playing(plugin_path, models_dir, start, switch_to):
    models = {"rave": EXPORTS / "rave_streaming.ts", "timbrel": models_dir / "timbrel-identity.ts"}
    audio = phrase(3.0)
    output, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin_path, block=256, realtime=True, pace=1.0,
                                   state=model_state(models[start]), host=find_rt_host(),
                                   events=[(1.2, model_state(models[switch_to]))])
    status = report["status"]
    assert status["message"] == ""
    assert status["modelName"] == models[switch_to].stem
    assert np.isfinite(output).all()
    assert np.abs(output[:, int(2.0 * SAMPLE_RATE):]).max() > 0


def test_a_rave_export_in_threaded_mode_never_allocates_on_the_audio_thread(plugin_path, tmp_path):
    """As for Timbrel's models (tests/test_realtime.py): per callback, exactly what JUCE's VST3
    wrapper allocates with no model at all."""
    audio = phrase(1.0)
    common = dict(plugin_path=plugin_path, block=64, realtime=True, pace=2.0, warmup_blocks=32, host=find_rt_host())
    _, baseline = render_native(audio, SAMPLE_RATE, state=model_state(tmp_path / "no-such-model.ts"), **common)
    _, report = render_native(audio, SAMPLE_RATE, state=model_state(EXPORTS / "rave_streaming.ts"),
                              settings={"processing_mode": "Threaded"}, **common)
    assert report["status"]["active"] == "1", report["status"]["message"]
    for key in ("audio_thread_allocations", "audio_thread_frees"):
        assert report[key] * baseline["timed_blocks"] == baseline[key] * report["timed_blocks"], key


def test_generate_plays_a_rave_exports_prior_in_stereo_and_repeats_offline(host):
    """RAVE's exported prior runs for a batch of one: the plugin generates one stream of latents
    for both channels of a Dual Mono stereo track, with no failed hop."""
    status = host.load_model(EXPORTS / "rave_prior_streaming.ts")
    assert status.ok, status.message
    audio = phrase(2.0)
    encoded = host.process(audio, SAMPLE_RATE)
    host.set("generate", True)
    try:
        generated = host.process(audio, SAMPLE_RATE)
        again = host.process(audio, SAMPLE_RATE)
        status = host.status()
    finally:
        host.set("generate", False)
    assert status.failed_hops == 0, status.failure
    assert np.isfinite(generated).all() and np.abs(generated).max() > 1e-3
    assert np.abs(generated - encoded).max() > 1e-3, "Generate changed nothing"
    np.testing.assert_array_equal(generated, again)
