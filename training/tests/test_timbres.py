"""Named timbres and recognition by the nearest one, on a real (untrained) model and two sounds
that differ only in their spectral shape."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from timbrel.models.checkpoint import build_model
from timbrel.training import timbres

RATE = 44100


def tone(f0: float, seconds: float, odd_only: bool, seed: int) -> np.ndarray:
    """A tone of 20 harmonics with a slow vibrato: all harmonics, or the odd ones only."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))) / RATE
    harmonics = [k for k in range(1, 21) if k % 2 == 1 or not odd_only]
    audio = sum(np.sin(k * phase + rng.uniform(0, 6.28)) / k for k in harmonics)
    return (0.2 * audio / np.abs(audio).max()).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("timbres").eval()


def test_the_nearest_named_timbre_tells_two_spectra_apart(model):
    train = [("full", tone(f, 1.5, False, i)) for i, f in enumerate([196.0, 262.0, 330.0])]
    train += [("odd", tone(f, 1.5, True, i)) for i, f in enumerate([196.0, 262.0, 330.0])]
    names, latents = timbres.named_timbres(model, train)
    assert names == ["full", "odd"] and latents.shape == (2, int(model.latent_size))
    assert np.isfinite(latents).all() and np.abs(latents[0] - latents[1]).max() > 0
    unseen = [("full", tone(233.0, 1.5, False, 7)), ("odd", tone(233.0, 1.5, True, 7)),
              ("full", tone(294.0, 1.5, False, 8)), ("odd", tone(294.0, 1.5, True, 8))]
    result = timbres.recognition(model, names, latents, unseen)
    assert result["clips"] == 4 and result["accuracy"] == 1.0, result
    # swapped labels: every clip is then nearest the other name
    swapped = timbres.recognition(model, names[::-1], latents, unseen)
    assert swapped["accuracy"] == 0.0 and swapped["confusions"]["full"] == {"odd": 2}


def test_clip_frames_keep_only_frames_with_signal(model):
    audio = np.concatenate([tone(220.0, 1.0, False, 0), np.zeros(RATE, np.float32)])
    frames = timbres.clip_frames(model, audio)
    hop = int(model.hop_length)
    assert frames.shape[1] == int(model.latent_size)
    assert RATE // hop * 0.8 < frames.shape[0] <= (RATE + 4096) // hop  # the tone's frames, not the silence's


def test_labelled_clips_read_the_manifest_and_refuse_unlabelled_data(tmp_path):
    (tmp_path / "train").mkdir()
    sf.write(tmp_path / "train" / "a.wav", tone(220.0, 0.5, False, 0), RATE, subtype="FLOAT")
    manifest = {"train": ["train/a.wav"], "valid": [], "labels": {"train/a.wav": {"instrument": "oboe"}}}
    (tmp_path / "dataset.json").write_text(json.dumps(manifest))
    assert timbres.labelled_clips(tmp_path, "train") == [("oboe", tmp_path / "train" / "a.wav")]
    assert timbres.labelled_clips(tmp_path, "heldout") == []
    (tmp_path / "dataset.json").write_text(json.dumps({"train": ["train/a.wav"]}))
    with pytest.raises(ValueError, match="timbrel dataset timbres"):
        timbres.labelled_clips(tmp_path, "train")


def test_eval_recognises_labelled_clips_by_the_model_files_own_timbres(tmp_path):
    from timbrel.format.contract import load_and_check
    from timbrel.format.save import attach_timbres, save_model
    from timbrel.training.evaluate import timbre_recognition

    torch.manual_seed(0)
    model = build_model("timbres").eval()
    train = [(kind, tone(f, 1.5, odd, i)) for i, f in enumerate([196.0, 262.0, 330.0])
             for kind, odd in (("full", False), ("odd", True))]
    names, latents = timbres.named_timbres(model, train)
    for split in ("valid", "heldout"):
        (tmp_path / split).mkdir()
    labels = {}
    for split, f0 in (("valid", 233.0), ("heldout", 294.0)):
        for kind, odd in (("full", False), ("odd", True)):
            name = f"{split}/{kind}.wav"
            sf.write(tmp_path / name, tone(f0, 1.5, odd, 3), RATE, subtype="FLOAT")
            labels[name] = {"instrument": kind}
    manifest = {"train": [], "valid": ["valid/full.wav", "valid/odd.wav"],
                "heldout": ["heldout/full.wav", "heldout/odd.wav"], "labels": labels}
    (tmp_path / "dataset.json").write_text(json.dumps(manifest))
    attach_timbres(model, names, torch.from_numpy(latents).float())
    save_model(model, tmp_path / "m.ts")
    module, info = load_and_check(tmp_path / "m.ts")
    result = timbre_recognition(module, info, tmp_path)
    assert set(result) == {"valid", "heldout"}
    assert result["valid"]["accuracy"] == 1.0 and result["heldout"]["clips"] == 2
    (tmp_path / "dataset.json").write_text(json.dumps(dict(manifest, labels={})))
    assert timbre_recognition(module, info, tmp_path) == {}  # unlabelled data: nothing to recognise
