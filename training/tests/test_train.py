"""timbrel train / export / eval on a tiny dataset of synthetic tones: training lowers the
loss, runs resume after an interruption, bad runs and data are refused in plain words, and an
exported run passes the contract and gets a card."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from timbrel.contract import ContractError, load_and_check
from timbrel.evaluate import evaluate, write_card
from timbrel.export import export_run
from timbrel.train import TrainConfig, TrainError, build_model, train, validation_batches, validation_loss, load_split

RATE = 44100


def tone_phrase(seconds: float, seed: int) -> np.ndarray:
    """Notes of a buzzy harmonic tone with vibrato and varied levels, like a simple instrument."""
    rng = np.random.default_rng(seed)
    out = []
    while sum(len(o) for o in out) < seconds * RATE:
        length = int(rng.uniform(0.25, 0.6) * RATE)
        t = np.arange(length) / RATE
        f0 = 220.0 * 2 ** (rng.integers(0, 12) / 12) * (1 + 0.004 * np.sin(2 * np.pi * 5 * t))
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        note = sum(np.sin(k * phase) / k ** 1.5 for k in range(1, 12))
        envelope = np.minimum(1.0, np.minimum(t / 0.03, (t[-1] - t) / 0.05))
        out.append(rng.uniform(0.1, 0.5) * envelope * note)
    return np.concatenate(out)[: int(seconds * RATE)].astype(np.float32)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny_data")
    (root / "train").mkdir()
    (root / "valid").mkdir()
    for i in range(3):
        sf.write(root / "train" / f"tone_{i}.wav", tone_phrase(3.0, i), RATE, subtype="FLOAT")
    sf.write(root / "valid" / "tone_v.wav", tone_phrase(2.5, 99), RATE, subtype="FLOAT")
    return root


def quick_config(**overrides) -> TrainConfig:
    base = dict(steps=30, batch=4, excerpt_seconds=0.3, learning_rate=3e-3, final_learning_rate=1e-3,
                valid_every=10, checkpoint_seconds=0.0, seed=0)
    base.update(overrides)
    return TrainConfig(**base)


def test_a_short_training_run_lowers_the_validation_loss(tiny_data, tmp_path):
    torch.manual_seed(0)
    untrained = build_model("default")
    from timbrel.train import descriptor_ranges

    clips = load_split(tiny_data, "train", RATE)
    untrained.set_descriptor_range(*descriptor_ranges(untrained, clips)[:2])
    valid = validation_batches(load_split(tiny_data, "valid", RATE), untrained.hop_length, RATE)
    before = validation_loss(untrained, valid)

    summary = train(tiny_data, "default", tmp_path / "run", quick_config(), threads=1, progress=False)
    assert summary["steps"] == 30 and summary["stopped_by"] == "steps"
    assert summary["best_valid_spectral"] < 0.85 * before, (summary["best_valid_spectral"], before)
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [int(r["step"]) for r in rows if r["valid_spectral"]] == [10, 20, 30]
    recipe = json.loads((tmp_path / "run" / "run.json").read_text())
    assert recipe["steps"] == 30 and recipe["torch"].startswith("2.13.0")
    assert not list((tmp_path / "run").glob(".*.tmp"))  # atomic writes leave no temporary files


def test_resume_continues_the_same_run(tiny_data, tmp_path):
    run = tmp_path / "run"
    first = train(tiny_data, "default", run, quick_config(steps=10), threads=1, progress=False)
    assert first["steps"] == 10
    with pytest.raises(TrainError, match="--resume"):
        train(tiny_data, "default", run, quick_config(steps=10), threads=1, progress=False)
    second = train(tiny_data, "default", run, quick_config(), resume=True, threads=1, progress=False, steps=20)
    assert second["steps"] == 20
    steps = [int(r["step"]) for r in csv.DictReader(open(run / "log.csv"))]
    assert steps == sorted(steps) and steps[-1] == 20


def test_an_interrupted_run_resumes_from_its_checkpoint(tiny_data, tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "timbrel", "train", str(tiny_data), "--out", str(run), "--steps", "400",
               "--batch", "2", "--threads", "1", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    log = run / "log.csv"
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    stopped_at = state["step"]
    assert 25 <= stopped_at < 400
    resumed = command[:-7] + ["--steps", str(stopped_at + 5), "--resume", "--threads", "1", "--quiet"]
    result = subprocess.run(resumed,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == stopped_at + 5


def test_bad_data_and_runs_are_refused_in_plain_words(tmp_path):
    with pytest.raises(TrainError, match="no train/ folder"):
        train(tmp_path, "default", tmp_path / "run", quick_config(), progress=False)
    (tmp_path / "train").mkdir()
    (tmp_path / "valid").mkdir()
    with pytest.raises(TrainError, match="holds no WAV files"):
        train(tmp_path, "default", tmp_path / "run", quick_config(), progress=False)
    sf.write(tmp_path / "train" / "a.wav", np.zeros(RATE, dtype=np.float32), 22050)
    with pytest.raises(TrainError, match="22050 Hz"):
        train(tmp_path, "default", tmp_path / "run", quick_config(), progress=False)
    with pytest.raises(TrainError, match="does not exist"):
        train(tmp_path, "default", tmp_path / "other", quick_config(), resume=True, progress=False)
    with pytest.raises(TrainError, match="unknown config"):
        build_model("huge")


def test_export_and_eval_write_a_checked_model_and_its_card(tiny_data, tmp_path):
    run = tmp_path / "run"
    train(tiny_data, "default", run, quick_config(steps=10), threads=1, progress=False)
    with pytest.raises(ContractError, match="best.pt"):
        export_run(tmp_path / "nothing", tmp_path / "x.ts")
    out = tmp_path / "models" / "tones.ts"
    info = export_run(run, out, instrument="test tones")
    module, reloaded = load_and_check(out)
    assert reloaded == info and info.model_name == "tones" and info.latency_samples == 0
    card = info.model_card
    assert card["instrument"] == "test tones" and card["training"]["steps"] == 10
    assert card["training"]["torch"].startswith("2.13.0")

    report = evaluate(out, tiny_data, tmp_path / "eval")
    for name in info.descriptor_names:
        assert -1.0 <= report["tracking"][name]["r"] <= 1.0
        assert np.isfinite(report["latent_probe_r2"][name])
    assert report["realtime_factor_one_thread"] > 0
    assert (tmp_path / "eval" / "tracking.png").stat().st_size > 10_000
    assert (tmp_path / "eval" / "spectrogram.png").stat().st_size > 10_000
    json_path, md_path = write_card(out, report)
    written = json.loads(json_path.read_text())
    assert written["metrics"]["spectral_distance"] == report["spectral_distance"]
    assert "Tracking r, pitch" in md_path.read_text()
