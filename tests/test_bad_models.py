"""Broken model files in the real plugin: a clear message, dry audio, no crash, and a good
model loads again afterwards."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from conftest import REPO, SAMPLE_RATE, make_signal
from timbrel.hosts import DawDreamerHost, PedalboardHost
from timbrel.hosts.render import render_file


def broken_corpus():
    manifest = REPO / "build" / "models" / "broken" / "MANIFEST.tsv"
    assert manifest.exists(), "run `make build` to export the broken-model corpus"
    rows = [line.split("\t") for line in manifest.read_text().splitlines() if line]
    return [(name, message) for name, message in rows]


@pytest.fixture(scope="module")
def pedalboard_host(plugin_path):
    return PedalboardHost(plugin_path)


@pytest.mark.parametrize("name,expected", broken_corpus())
def test_broken_model_is_reported_and_audio_passes_dry(pedalboard_host, models_dir, test_model, name, expected):
    signal = make_signal()
    status = pedalboard_host.load_model(models_dir / "broken" / name)
    assert not status.active
    assert expected in status.message
    assert "audio passes dry" in status.message
    out = pedalboard_host.process(signal, SAMPLE_RATE)
    assert np.array_equal(out, signal)
    assert pedalboard_host.latency == 0

    status = pedalboard_host.load_model(test_model)
    assert status.ok, status.message
    assert not np.array_equal(pedalboard_host.process(signal, SAMPLE_RATE), signal)


def test_missing_model_file_is_reported(pedalboard_host, tmp_path):
    missing = tmp_path / "no-such-model.ts"
    status = pedalboard_host.load_model(missing)
    assert not status.active
    assert f"model file not found: {missing}" in status.message


def test_unknown_model_name_is_reported(pedalboard_host):
    status = pedalboard_host.load_model("no-such-model")
    assert "'no-such-model' was not found in the model folders" in status.message


def test_broken_model_in_dawdreamer(plugin_path, models_dir):
    host = DawDreamerHost(plugin_path)
    status = host.load_model(models_dir / "broken" / "nan-weights.ts")
    assert "NaN or Inf" in status.message
    signal = make_signal()
    assert np.array_equal(host.process(signal, SAMPLE_RATE), signal)


def test_models_in_the_user_folder_load_by_name(pedalboard_host, test_model, tmp_path, monkeypatch):
    folder = tmp_path / "Timbrel" / "models"
    folder.mkdir(parents=True)
    (folder / "my-own-model.ts").write_bytes(test_model.read_bytes())
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    status = pedalboard_host.load_model("my-own-model")
    assert status.ok, status.message
    assert status.model_reference == "my-own-model"


@pytest.mark.parametrize("name, words", [("timbrel-test-raises.ts", "test failure: a hop above 0.9"),
                                         ("timbrel-test-nan.ts", "the model returned NaN or Inf")])
def test_a_failing_hop_plays_dry_says_why_and_the_model_recovers(plugin_path, models_dir, name, words, tmp_path):
    # The model is valid at load; hops louder than 0.9 raise (or give NaN) at run time.
    rate = 44100
    t = np.arange(rate) / rate
    quiet = 0.3 * np.sin(2 * np.pi * 200 * t)
    loud = 0.95 * np.sin(2 * np.pi * 200 * t[: rate // 2])
    audio = np.concatenate([quiet, loud, quiet]).astype(np.float32)[np.newaxis]
    host = PedalboardHost(plugin_path, model=models_dir / name)
    host.set("loudness_shift", -12.0)  # wet is the input 12 dB down; dry is the input
    out = host.process(audio, rate)[0]
    status = host.status()
    assert status.ok and status.failed_hops > 0 and words in status.failure, status
    assert np.isfinite(out).all()

    def gain(start: float, end: float) -> float:
        a, b = int(start * rate), int(end * rate)
        return float(np.sqrt(np.mean(out[a:b] ** 2) / np.mean(audio[0, a:b] ** 2)))

    assert gain(0.5, 0.9) == pytest.approx(0.25, abs=0.03)      # wet before
    assert gain(1.15, 1.35) == pytest.approx(1.0, abs=0.03)     # dry while the model fails
    assert gain(1.8, 2.4) == pytest.approx(0.25, abs=0.03)      # wet again: it recovered

    # timbrel render says it too, in the model's words.
    soundfile.write(tmp_path / "in.wav", audio[0], rate)
    report = render_file(tmp_path / "in.wav", tmp_path / "out.wav", model=models_dir / name, host="pedalboard",
                         plugin_path=plugin_path)
    assert "hops failed and played dry" in report and words in report
