"""The shipped models (models/*.ts): each conforms to the contract, fits the size budget, has a
card naming its training data and licence (also listed in THIRD_PARTY_NOTICES.md), still
measures what its card says on a fixed phrase, and plays through the real plugin exactly as
the Python streaming reference of the same file does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, SAMPLE_RATE
from timbrel.contract import load_and_check
from timbrel.evaluate import regression_figures
from timbrel.host import PedalboardHost

MODELS = sorted((REPO / "models").glob("*.ts"))
MAX_BYTES = 20 * 2 ** 20


def test_models_ship_and_the_default_is_one_of_them():
    assert len(MODELS) >= 4, "expected violin, flute, choir and a low-latency model in models/"
    default = (REPO / "models" / "DEFAULT").read_text().strip()
    assert (REPO / "models" / f"{default}.ts").exists()
    hops = {load_and_check(p)[1].hop_length for p in MODELS}
    assert min(hops) <= 128 and max(hops) <= 512


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_shipped_model_conforms_and_has_a_card(path):
    _, info = load_and_check(path)
    assert path.stat().st_size <= MAX_BYTES
    assert info.model_name == path.stem
    card = json.loads(path.with_suffix(".json").read_text())
    assert path.with_suffix(".md").exists()
    assert card["training_data"]["license"] and card["training_data"]["source"]
    assert card["training"]["steps"] > 0 and card["training"]["hardware"]
    assert set(card["metrics"]["tracking"]) == set(info.descriptor_names)
    notices = (REPO / "THIRD_PARTY_NOTICES.md").read_text()
    assert f"models/{path.name}" in notices


def assert_matches_card(measured: dict, expected: dict, info) -> None:
    assert measured["spectral_distance"] == pytest.approx(expected["spectral_distance"], rel=0.02)
    assert measured["output_rms_db"] == pytest.approx(expected["output_rms_db"], abs=0.3)
    tolerances = {"loudness": 0.5, "pitch": 0.3, "centroid": 0.03, "bandwidth": 0.03, "flatness": 0.5}
    for name in info.descriptor_names:
        key = f"output_{name}_median"
        if name in ("centroid", "bandwidth"):
            assert measured[key] == pytest.approx(expected[key], rel=tolerances[name]), key
        else:
            assert measured[key] == pytest.approx(expected[key], abs=tolerances[name]), key


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_shipped_model_still_measures_what_its_card_says(path):
    module, info = load_and_check(path)
    card = json.loads(path.with_suffix(".json").read_text())
    assert_matches_card(regression_figures(module, card["instrument"]), card["regression"], info)


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_shipped_model_rendered_by_the_plugin_measures_what_its_card_says(plugin_path, path):
    # The same figures, but from the real plugin in a host (Threaded mode, latency compensated
    # by pedalboard) instead of the model's own forward().
    from timbrel.evaluate import regression_phrase

    module, info = load_and_check(path)
    card = json.loads(path.with_suffix(".json").read_text())
    phrase = regression_phrase(module, card["instrument"])
    host = PedalboardHost(plugin_path, model=path)
    rendered = host.process(phrase[np.newaxis], info.sample_rate)[0]
    assert host.status().ok, host.status().message
    assert_matches_card(regression_figures(module, card["instrument"], rendered), card["regression"], info)


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_shipped_model_through_the_plugin_matches_the_python_reference(plugin_path, path):
    from timbrel.reference import StreamingReference
    from timbrel.synth import demo_phrase

    reference = StreamingReference(path)
    phrase = demo_phrase("flute", SAMPLE_RATE)[: 3 * SAMPLE_RATE]
    audio = np.stack([phrase, 0.5 * phrase]).astype(np.float32)
    host = PedalboardHost(plugin_path, model=path)
    status = host.status()
    assert status.ok, status.message
    assert status.model_name == path.stem
    out = host.process(audio, SAMPLE_RATE)
    assert host.latency == reference.latency_for("Threaded", 8192)  # pedalboard's default buffer
    stream = reference.model_stream(audio)
    delay = reference.info.latency_samples
    usable = audio.shape[1] - delay
    expected = stream[:, delay:delay + usable]
    assert np.abs(out[:, :usable] - expected).max() <= 1e-4
    assert np.sqrt(np.mean(out ** 2)) > 1e-3  # it plays
