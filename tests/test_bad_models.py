"""Broken model files in the real plugin: a clear message, dry audio, no crash, and a good
model loads again afterwards."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO, SAMPLE_RATE, make_signal
from timbrel.hosts import DawDreamerHost, PedalboardHost


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
