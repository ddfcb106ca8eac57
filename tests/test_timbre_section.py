"""The timbre section through the real plugin (docs/model-format.md, "Timbres"): snapshots A and
B of named or captured timbres, Morph, the Natural source, the state, and models without any
of it. The model is the corpus's timbrel-timbres.ts: its latent is the filtered hop, so a
snapshot is audible exactly, and natural() sets the centroid from the loudness."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import SAMPLE_RATE, make_signal
from timbrel.format.contract import load_and_check
from timbrel.hosts import DawDreamerHost, PedalboardHost, plugin_state
from timbrel.training.timbres import capture_latent

TOLERANCE = 1e-5


@pytest.fixture(scope="session")
def timbres_model(models_dir):
    return models_dir / "timbrel-timbres.ts"


@pytest.fixture(scope="session")
def timbres_reference(timbres_model):
    from timbrel_tools.reference import StreamingReference

    return StreamingReference(timbres_model)


@pytest.fixture
def host(plugin_path, timbres_model):
    plugin = PedalboardHost(plugin_path, model=timbres_model)
    assert plugin.status().ok, plugin.status().message
    return plugin


def aligned(reference, audio, **kwargs):
    """The reference's stream with the model's delay taken out, as a latency-compensating host
    returns it; its last `delay` samples (the plugin's tail) are not compared (`usable`)."""
    stream = reference.model_stream(audio, **kwargs)
    delay = reference.info.latency_samples
    return stream[:, delay:]


def usable(out: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return out[:, : expected.shape[1]]


def latents_of(reference) -> dict[str, np.ndarray]:
    info = reference.info
    return {name: np.asarray(info.timbre_latents[i], dtype=np.float32) for i, name in enumerate(info.timbre_names)}


def test_the_plugin_reports_the_model_timbres_and_starts_on_its_first_two(host):
    status = host.status()
    assert status.timbres == ("bowed", "blown")
    assert status.has_natural
    assert (status.snapshot_a, status.snapshot_b) == ("bowed", "blown")
    assert status.timbre_message == ""
    assert host.get("timbre_source") == "Input"
    assert host.get("centroid_source") == "Natural" and host.get("loudness_source") == "Input"


def test_natural_source_plays_what_natural_gives_and_matches_the_reference(host, timbres_reference):
    audio = make_signal(2)
    natural = host.process(audio, SAMPLE_RATE)
    expected = aligned(timbres_reference, audio)
    assert np.abs(usable(natural, expected) - expected).max() <= TOLERANCE
    host.set("centroid_source", "Input")
    own = host.process(audio, SAMPLE_RATE)
    expected = aligned(timbres_reference, audio, sources={"centroid": "Input"})
    assert np.abs(usable(own, expected) - expected).max() <= TOLERANCE
    # natural() asks for another centroid than the input's: this model's decode ignores the
    # centroid, so the audio is the same; the targets differ (the engine's own tests check them).
    assert np.abs(own - natural).max() <= TOLERANCE


@pytest.mark.parametrize("morph", [0.0, 0.5, 1.0, 1.5, -0.5])
def test_snapshot_morph_plays_the_latent_between_and_beyond_a_and_b(host, timbres_reference, morph):
    audio = make_signal(2)
    host.set("timbre_source", "Snapshot")
    host.set("morph", morph)
    out = host.process(audio, SAMPLE_RATE)
    latents = latents_of(timbres_reference)
    a, b = latents["bowed"], latents["blown"]
    snapshot = a + np.float32(morph) * (b - a)
    expected = aligned(timbres_reference, audio, snapshot=snapshot)
    assert np.abs(usable(out, expected) - expected).max() <= TOLERANCE
    assert np.all(np.isfinite(out))


def test_a_snapshot_set_by_name_or_captured_is_played_and_kept_in_the_state(host, plugin_path, timbres_model,
                                                                             timbres_reference):
    audio = make_signal(2)
    host.set("timbre_source", "Snapshot")
    status = host.set_snapshot("A", timbre="blown")
    assert status.snapshot_a == "blown" and status.timbre_message == ""
    blown = aligned(timbres_reference, audio, snapshot=latents_of(timbres_reference)["blown"])
    assert np.abs(usable(host.process(audio, SAMPLE_RATE), blown) - blown).max() <= TOLERANCE

    captured = np.linspace(-0.2, 0.2, timbres_reference.info.latent_size).astype(np.float32)
    status = host.set_snapshot("B", latent=captured)
    assert status.snapshot_b == "Captured" and status.timbre_message == ""
    host.set("morph", 1.0)
    host.set("output_gain", -3.0)
    saved = host.plugin.raw_state

    again = PedalboardHost(plugin_path)
    again.plugin.raw_state = saved  # a session reopened: the model, its snapshots and parameters
    status = again.status()
    assert (status.snapshot_a, status.snapshot_b) == ("blown", "Captured")
    assert again.get("output_gain") == pytest.approx(-3.0, abs=0.05)
    expected = aligned(timbres_reference, audio, snapshot=captured) * np.float32(10 ** (-3 / 20))
    assert np.abs(usable(again.process(audio, SAMPLE_RATE), expected) - expected).max() <= 1e-4


def test_a_snapshot_of_another_latent_size_falls_back_to_the_first_timbre_and_keeps_the_rest(host, plugin_path):
    host.set("output_gain", 2.0)
    blob = plugin_state.with_snapshot(host.plugin.raw_state, "A", latent=[0.1] * 16, model_name="timbrel-timbres")
    again = PedalboardHost(plugin_path)
    again.plugin.raw_state = blob
    status = again.status()
    assert status.ok
    assert status.snapshot_a == "bowed"
    assert "latent size 16" in status.timbre_message and "it is now 'bowed'" in status.timbre_message
    assert again.get("output_gain") == pytest.approx(2.0, abs=0.05)  # pedalboard sets in steps
    assert status.snapshot_b == "blown"

    refused = again.set_snapshot("B", timbre="trumpet")
    assert "'trumpet' is not one of this model's" in refused.timbre_message


def test_a_model_without_timbres_or_natural_plays_as_before(plugin_path, test_model, reference):
    plain = PedalboardHost(plugin_path, model=test_model)
    status = plain.status()
    assert status.timbres == () and not status.has_natural
    audio = make_signal(2)
    before = plain.process(audio, SAMPLE_RATE)
    plain.set("timbre_source", "Snapshot")  # nothing to morph to: the input's latent plays
    plain.set("centroid_source", "Natural")  # no natural(): plays as Input
    plain.set("morph", 1.5)
    assert np.array_equal(plain.process(audio, SAMPLE_RATE), before)
    expected = aligned(reference, audio)
    assert np.abs(usable(before, expected) - expected).max() <= TOLERANCE


def test_capture_takes_the_mean_latent_of_sounding_audio_and_refuses_silence_and_noise(timbres_model):
    module, info = load_and_check(timbres_model)
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    tone[: SAMPLE_RATE // 2] = 0.0  # a silent start the gate leaves out
    latent = capture_latent(module, tone, SAMPLE_RATE)
    assert latent.shape == (info.latent_size,)
    hop = info.hop_length
    module.reset()
    z = module.encode(torch.from_numpy(tone[: len(tone) // hop * hop]).reshape(1, 1, -1))[0].numpy()
    assert np.allclose(latent, z[:, SAMPLE_RATE // 2 // hop + 1:].mean(-1), atol=0.05)

    with pytest.raises(ValueError, match="sounding input"):
        capture_latent(module, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)


def test_capture_refuses_noise_on_a_model_that_measures_flatness():
    from conftest import REPO

    module, _ = load_and_check(REPO / "models" / "violin.ts")
    noise = 0.1 * np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE).astype(np.float32)
    with pytest.raises(ValueError, match="noise"):
        capture_latent(module, noise, SAMPLE_RATE)
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    note = sum(0.2 / k * np.sin(2 * np.pi * 440 * k * t) for k in range(1, 8)).astype(np.float32)
    assert np.all(np.isfinite(capture_latent(module, note, SAMPLE_RATE)))


def test_render_plays_named_and_captured_snapshots(tmp_path, timbres_model, timbres_reference):
    audio = make_signal(1, 1.0)
    source, out = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(source, audio[0], SAMPLE_RATE, subtype="FLOAT")
    run = subprocess.run([sys.executable, "-m", "timbrel", "render", str(source), str(out), "--model", str(timbres_model),
                          "--host", "pedalboard", "--snapshot", "A=blown", "--set", "timbre_source=Snapshot"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rendered, _ = sf.read(out, dtype="float32", always_2d=True)
    expected = aligned(timbres_reference, audio, snapshot=latents_of(timbres_reference)["blown"])
    assert np.abs(usable(rendered.T, expected) - expected).max() <= TOLERANCE

    # A capture from a recording (timbrel capture), played as snapshot B.
    voice = tmp_path / "voice.wav"
    sf.write(voice, make_signal(1, 2.0, seed=3)[0], SAMPLE_RATE, subtype="FLOAT")
    latent_file = tmp_path / "voice.txt"
    taken = subprocess.run([sys.executable, "-m", "timbrel", "capture", str(timbres_model), str(voice), "--out",
                            str(latent_file)], capture_output=True, text=True, timeout=300)
    assert taken.returncode == 0, taken.stderr
    captured = np.loadtxt(latent_file, dtype=np.float32)
    assert captured.shape == (timbres_reference.info.latent_size,)
    run = subprocess.run([sys.executable, "-m", "timbrel", "render", str(source), str(out), "--model", str(timbres_model),
                          "--host", "pedalboard", "--snapshot", f"B=@{latent_file}", "--set", "timbre_source=Snapshot",
                          "--set", "morph=1"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rendered, _ = sf.read(out, dtype="float32", always_2d=True)
    expected = aligned(timbres_reference, audio, snapshot=captured)
    assert np.abs(usable(rendered.T, expected) - expected).max() <= 1e-4

    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    refused = subprocess.run([sys.executable, "-m", "timbrel", "capture", str(timbres_model), str(silence), "--out",
                              str(tmp_path / "nothing.txt")], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "sounding input" in refused.stderr
    assert not (tmp_path / "nothing.txt").exists()

    unknown = subprocess.run([sys.executable, "-m", "timbrel", "render", str(source), str(out), "--model",
                              str(timbres_model), "--host", "pedalboard", "--snapshot", "A=trumpet"],
                             capture_output=True, text=True, timeout=300)
    assert unknown.returncode == 2 and "'trumpet' is not one of this model's" in unknown.stderr


def test_morph_automates_in_dawdreamer(plugin_path, timbres_model):
    host = DawDreamerHost(plugin_path, timbres_model, SAMPLE_RATE, 512)
    host.set("timbre_source", "Snapshot")
    audio = make_signal(2, 1.0)
    n = audio.shape[1] + host.latency
    host.automate("morph", np.linspace(-0.5, 1.5, n).astype(np.float32))
    out = host.process(audio, SAMPLE_RATE)
    assert np.all(np.isfinite(out)) and np.sqrt(np.mean(out ** 2)) > 1e-3
