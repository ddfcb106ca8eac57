"""Training data: the WAV splits `timbrel dataset` writes, the descriptor ranges measured on
them, random augmented excerpts for training steps and fixed excerpts for validation."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from ..format.vocabulary import in_octaves
from .errors import TrainError


def split_files(data: Path, split: str) -> list[Path]:
    folder = data / split
    if not folder.is_dir():
        raise TrainError(f"{data} has no {split}/ folder: make it with `timbrel dataset`")
    return sorted(folder.glob("*.wav"))


def split_instruments(data: Path, split: str) -> list[str]:
    """The instrument of each file of `split`, in load_split's order, from the labels `timbrel
    dataset timbres` writes into dataset.json."""
    manifest = data / "dataset.json"
    labels = json.loads(manifest.read_text()).get("labels", {}) if manifest.exists() else {}
    files = split_files(data, split)
    missing = [p.name for p in files if f"{split}/{p.name}" not in labels]
    if missing:
        raise TrainError(f"{data}: {len(missing)} {split}/ files have no instrument label (e.g. {missing[0]}); "
                         "the timbre term needs a dataset made by `timbrel dataset timbres`")
    return [labels[f"{split}/{p.name}"]["instrument"] for p in files]


def load_split(data: Path, split: str, sample_rate: int) -> list[np.ndarray]:
    folder = data / split
    clips = []
    for path in split_files(data, split):
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        if rate != sample_rate:
            raise TrainError(f"{path} is {rate} Hz; the model runs at {sample_rate} Hz (re-run `timbrel dataset`)")
        audio = audio.mean(1)
        if not np.all(np.isfinite(audio)):
            raise TrainError(f"{path} contains NaN or Inf samples")
        clips.append(audio)
    if not clips:
        raise TrainError(f"{folder} holds no WAV files")
    return clips


def descriptor_ranges(model, clips: list[np.ndarray]) -> tuple[list[float], list[float], dict]:
    """Useful range of each descriptor on the training audio: 1st..99th percentile over frames
    within 50 dB of the loudest (pitch: over voiced frames), widened by 5% each side."""
    names = model.descriptor_names
    hop = model.hop_length
    analyzer = copy.deepcopy(model.analyzer).cpu()  # the model's own analysis, its stream untouched
    values, voiced = [], []
    with torch.no_grad():
        for clip in clips:
            usable = len(clip) // hop * hop
            if usable == 0:
                continue
            x = torch.from_numpy(clip[:usable]).reshape(1, 1, -1)
            analyzer.reset()
            d, v = analyzer.describe(analyzer.windows(x))  # one windowing and one YIN pass per clip
            values.append(d[0].numpy())
            voiced.append(v[0].numpy())
    values = np.concatenate(values, 1)
    voiced = np.concatenate(voiced)
    loud = values[names.index("loudness")] if "loudness" in names else np.zeros(values.shape[1])
    gate = loud > loud.max() - 50.0
    low, high, stats = [], [], {}
    for i, name in enumerate(names):
        chosen = values[i][gate & (voiced >= 0.5)] if name == "pitch" else values[i][gate]
        if chosen.size < 10:
            raise TrainError(f"too little usable audio to measure the '{name}' range")
        lo, hi = np.percentile(chosen, [1.0, 99.0])
        if in_octaves(model.descriptor_units[i]):
            lo, hi = math.log2(max(lo, 1.0)), math.log2(max(hi, 2.0))
            pad = 0.05 * (hi - lo)
            lo, hi = 2.0 ** (lo - pad), 2.0 ** (hi + pad)
        else:
            pad = 0.05 * (hi - lo)
            lo, hi = lo - pad, hi + pad
        if not hi > lo:
            hi = lo + 1.0
        low.append(round(float(lo), 3))
        high.append(round(float(hi), 3))
        stats[name] = {"median": round(float(np.median(chosen)), 3), "frames": int(chosen.size)}
    return low, high, stats


class ExcerptSampler:
    """Random excerpts of the training clips (weighted by length, mostly-silent ones redrawn),
    augmented with a spectral tilt (first-order filter) and a gain, peak kept below 0.99."""

    def __init__(self, clips: list[np.ndarray], length: int, rng: np.random.Generator,
                 gain_db: tuple[float, float] = (-18.0, 6.0), tilt: float = 0.8, labels: list[int] | None = None):
        kept = [i for i, c in enumerate(clips) if len(c) > length]
        self.clips = [clips[i] for i in kept]
        self.labels = None if labels is None else [labels[i] for i in kept]
        self.last_labels: list[int] = []  # the labels of the last batch's excerpts
        if not self.clips:
            raise TrainError(f"every training clip is shorter than one excerpt ({length} samples)")
        weights = np.array([len(c) - length for c in self.clips], dtype=np.float64)
        self.weights = weights / weights.sum()
        self.length = length
        self.gain_db = gain_db
        self.tilt = tilt
        self.rng = rng

    def excerpt(self) -> np.ndarray:
        for _ in range(20):
            index = self.rng.choice(len(self.clips), p=self.weights)
            clip = self.clips[index]
            start = self.rng.integers(0, len(clip) - self.length)
            piece = clip[start: start + self.length].astype(np.float32)
            if np.sqrt(np.mean(piece ** 2)) > 10 ** (-45 / 20):
                break
        tilt = self.rng.uniform(-self.tilt, self.tilt)
        tilted = piece.copy()
        tilted[1:] += tilt * piece[:-1]
        rms_before, rms_after = np.sqrt(np.mean(piece ** 2)) + 1e-9, np.sqrt(np.mean(tilted ** 2)) + 1e-9
        tilted *= rms_before / rms_after
        gain = 10 ** (self.rng.uniform(*self.gain_db) / 20)
        peak = np.abs(tilted).max() * gain
        if peak > 0.99:
            gain *= 0.99 / peak
        if self.labels is not None:
            self.last_labels.append(self.labels[index])
        return tilted * gain

    def batch(self, size: int) -> torch.Tensor:
        self.last_labels = []
        return torch.from_numpy(np.stack([self.excerpt() for _ in range(size)])).unsqueeze(1)


def validation_batches(clips: list[np.ndarray], hop: int, sample_rate: int, seconds: float = 2.0, count: int = 16) -> list[torch.Tensor]:
    """Fixed validation excerpts: consecutive 2 s pieces of the validation clips."""
    length = int(seconds * sample_rate) // hop * hop
    pieces = []
    for clip in clips:
        for start in range(0, len(clip) - length, length):
            piece = clip[start: start + length]
            if np.sqrt(np.mean(piece ** 2)) > 10 ** (-45 / 20):
                pieces.append(piece)
            if len(pieces) == count:
                break
        if len(pieces) == count:
            break
    if not pieces:
        raise TrainError("the validation split has no 2-second excerpt with sound in it")
    batches = [torch.from_numpy(np.stack(pieces[i: i + 4])).unsqueeze(1) for i in range(0, len(pieces), 4)]
    return batches
