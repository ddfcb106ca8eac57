"""The shipped models (models/*.ts): each conforms to the contract, fits the size budget, has a
card naming its training data and licence (also listed in THIRD_PARTY_NOTICES.md), still
measures what its card says on a fixed phrase, plays through the real plugin exactly as the
Python streaming reference of the same file does, and is re-exported from its source weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import REPO, SAMPLE_RATE
from timbrel.format.contract import load_and_check, probe_signal
from timbrel.hosts import PedalboardHost
from timbrel.training.evaluate import regression_figures
from timbrel.training.export import export_run

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
    from timbrel.training.evaluate import regression_phrase

    module, info = load_and_check(path)
    card = json.loads(path.with_suffix(".json").read_text())
    phrase = regression_phrase(module, card["instrument"])
    host = PedalboardHost(plugin_path, model=path)
    # The card measures re-synthesis from the input's own descriptors: every fader on Input
    # (the spectral ones start on Natural).
    for name in info.descriptor_names:
        host.set(f"{name}_source", "Input")
    rendered = host.process(phrase[np.newaxis], info.sample_rate)[0]
    assert host.status().ok, host.status().message
    assert_matches_card(regression_figures(module, card["instrument"], rendered), card["regression"], info)


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_shipped_model_through_the_plugin_matches_the_python_reference(plugin_path, path):
    from timbrel_tools.reference import StreamingReference
    from timbrel.training.soundfont import demo_phrase

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


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_the_source_checkpoint_re_exports_the_shipped_model(path, tmp_path):
    """models/source/NAME.pt with today's code gives NAME.ts again: the same card and metadata,
    the analysis bit for bit, encode and decode within float rounding (freezing folds the weight
    norm with this CPU's kernels: about 1e-6 apart from a file frozen on another machine)."""
    info = export_run(REPO / "models" / "source" / f"{path.stem}.pt", tmp_path / path.name)
    shipped, shipped_info = load_and_check(path)
    again, again_info = load_and_check(tmp_path / path.name)
    assert again_info == shipped_info
    x = probe_signal(info, 48, batch=2)
    with torch.no_grad():
        outputs = []
        for module in (shipped, again):
            module.reset()
            joined = module.encode_analyze(x)
            module.reset()
            outputs.append((joined, module.analyze(x), module.forward(x)))
    (joined_a, analysis_a, y_a), (joined_b, analysis_b, y_b) = outputs
    assert torch.equal(analysis_a, analysis_b)
    assert (joined_a - joined_b).abs().max() <= 1e-5
    assert (y_a - y_b).abs().max() <= 1e-5
