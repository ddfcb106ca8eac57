"""What `timbrel eval` measures of a many-instrument model's timbre space (issue targets in
evaluate.TARGETS), on a dataset that labels its files (`timbrel dataset timbres`):

- transfer: every other instrument's held-out clip decoded with a named timbre's latent and the
  Natural spectral descriptors (natural() at the clip's pitch, moved by whole octaves nearest
  the timbre's own median pitch as a player would with the Pitch fader, and loudness), then
  named by an instrument classifier; the share recognised as the timbre's instrument;
- morph: a clip decoded with z moved from timbre A to timbre B (morph 0, 0.25 .. 1) must read
  more and more as B: the classifier's P(B) / (P(A) + P(B)) non-decreasing; at -0.5 and 1.5
  (extrapolation) the output must stay finite and within 6 dB of the ends' loudness;
- reconstruction per instrument: the multi-scale spectral distance of each instrument's
  held-out clips, for comparison with a single-instrument model on the same clips.

The classifier is a logistic regression on MFCC statistics (librosa, scikit-learn) of 1-second
pieces of the dataset's train/ audio: renders, not the model's output. Its accuracy on the
valid/ audio is reported beside it, so a weak classifier cannot pass for a weak transfer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .losses import frames_with_signal, multiscale_spectral_loss
from .timbres import labelled_clips, read_clip

PIECE_SECONDS = 1.0
MORPH_STEPS = (0.0, 0.25, 0.5, 0.75, 1.0)
MORPH_MONOTONE_SLACK = 0.02  # P(B) share may dip this much between steps (classifier noise)
CLIP_SECONDS = 4.0


def mfcc_features(audio: np.ndarray, rate: int) -> np.ndarray | None:
    """Mean and standard deviation of 20 MFCCs and their deltas over the frames within 30 dB of
    the loudest: [80], or None for a piece without sound."""
    import librosa

    mfcc = librosa.feature.mfcc(y=np.asarray(audio, np.float32), sr=rate, n_mfcc=20)
    rms = librosa.feature.rms(y=np.asarray(audio, np.float32))[0]
    level = 20 * np.log10(rms + 1e-9)
    keep = level > max(level.max() - 30.0, -60.0)
    if keep.sum() < 4:
        return None
    delta = librosa.feature.delta(mfcc)
    parts = [mfcc[:, keep], delta[:, keep]]
    return np.concatenate([np.concatenate([p.mean(1), p.std(1)]) for p in parts])


def _pieces(audio: np.ndarray, rate: int) -> list[np.ndarray]:
    n = int(PIECE_SECONDS * rate)
    return [audio[i: i + n] for i in range(0, len(audio) - n + 1, n)]


class InstrumentClassifier:
    """Names the instrument of audio from MFCC statistics (a logistic regression), fitted on
    labelled audio: (instrument, mono audio at `rate`) pairs, at most `max_pieces` 1-second
    pieces per instrument."""

    def __init__(self, clips, rate: int, max_pieces: int = 60):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        features, labels = [], []
        counts: dict[str, int] = {}
        for name, audio in clips:
            for piece in _pieces(audio, rate):
                if counts.get(name, 0) >= max_pieces:
                    break
                f = mfcc_features(piece, rate)
                if f is not None:
                    features.append(f)
                    labels.append(name)
                    counts[name] = counts.get(name, 0) + 1
        if len(counts) < 2:
            raise ValueError("an instrument classifier needs audio of at least two instruments")
        self.rate = rate
        self.pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5))
        self.pipeline.fit(np.stack(features), labels)
        self.names = list(self.pipeline.classes_)

    @classmethod
    def from_dataset(cls, data: Path, rate: int, max_pieces: int = 60) -> "InstrumentClassifier":
        """Fitted on the train/ split of a dataset that labels its files (`timbrel dataset timbres`);
        files are read as they are needed."""
        return cls(((name, read_clip(path, rate)) for name, path in labelled_clips(data, "train")), rate, max_pieces)

    def probabilities(self, audio: np.ndarray) -> dict[str, float] | None:
        """P(instrument) averaged over the audio's 1-second pieces; None for silence."""
        rows = [f for f in (mfcc_features(p, self.rate) for p in _pieces(audio, self.rate)) if f is not None]
        if not rows:
            return None
        p = self.pipeline.predict_proba(np.stack(rows)).mean(0)
        return dict(zip(self.names, p.tolist()))

    def accuracy(self, clips: list[tuple[str, np.ndarray]]) -> float:
        hits = []
        for name, audio in clips:
            p = self.probabilities(audio)
            if p is not None:
                hits.append(max(p, key=p.get) == name)
        return float(np.mean(hits)) if hits else float("nan")


def _clips(data: Path, split: str, rate: int, seconds: float = CLIP_SECONDS) -> list[tuple[str, np.ndarray]]:
    """One clip per instrument (its first file of the split), its first `seconds`."""
    chosen: dict[str, np.ndarray] = {}
    for name, path in labelled_clips(data, split):
        if name not in chosen:
            chosen[name] = read_clip(path, rate)[: int(seconds * rate)]
    return list(chosen.items())


def _median_pitch(model, audio: np.ndarray) -> float:
    names = list(model.descriptor_names)
    x = torch.from_numpy(audio[: len(audio) // int(model.hop_length) * int(model.hop_length)]).reshape(1, 1, -1)
    with torch.no_grad():
        model.reset()
        d = model.analyze(x)
    loud = frames_with_signal(d[:, names.index("loudness")])[0]
    return float(d[0, names.index("pitch"), loud].median())


def decode_with_timbre(model, audio: np.ndarray, latent: np.ndarray, pitch_target: float | None = None) -> np.ndarray:
    """The audio decoded with z held at `latent`, pitch and loudness from the audio (pitch moved
    by whole octaves nearest `pitch_target` when given) and the spectral descriptors from
    natural(): the plugin's Snapshot source with the faders on their defaults."""
    names = list(model.descriptor_names)
    hop = int(model.hop_length)
    x = torch.from_numpy(np.ascontiguousarray(audio[: len(audio) // hop * hop], np.float32)).reshape(1, 1, -1)
    with torch.no_grad():
        model.reset()
        d = model.analyze(x).clone()
        if pitch_target is not None and "pitch" in names:
            i = names.index("pitch")
            loud = frames_with_signal(d[:, names.index("loudness")])[0]
            octaves = round((pitch_target - float(d[0, i, loud].median())) / 12.0)
            d[:, i] += 12.0 * octaves
        z = torch.as_tensor(np.asarray(latent, np.float32)).reshape(1, -1, 1).expand(1, -1, d.shape[-1])
        zd = torch.cat([z, d], 1)
        if hasattr(model, "natural"):
            natural = model.natural(zd)
            for name in ("centroid", "bandwidth", "flatness"):
                if name in names:
                    d[:, names.index(name)] = natural[:, names.index(name)]
        model.reset()
        return model.decode(torch.cat([z, d], 1))[0, 0].numpy()


def transfer(model, info, data: Path, classifier: InstrumentClassifier) -> dict:
    """{accuracy, per_timbre {name: share}, confusions}: other instruments' held-out clips
    decoded with each named timbre, recognised as that timbre's instrument."""
    rate = int(info.sample_rate)
    clips = _clips(data, "valid", rate)
    train = _clips(data, "train", rate, seconds=20.0)
    median_pitch = {name: _median_pitch(model, audio) for name, audio in train}
    per_timbre, confusions = {}, {}
    for t, name in enumerate(info.timbre_names):
        latent = info.timbre_latents[t].numpy()
        hits = []
        for source, audio in clips:
            if source == name:
                continue
            p = classifier.probabilities(decode_with_timbre(model, audio, latent, median_pitch.get(name)))
            if p is None:
                continue
            heard = max(p, key=p.get)
            hits.append(heard == name)
            if heard != name:
                row = confusions.setdefault(name, {})
                row[heard] = row.get(heard, 0) + 1
        per_timbre[name] = float(np.mean(hits)) if hits else float("nan")
    shares = [v for v in per_timbre.values() if v == v]
    return {"accuracy": float(np.mean(shares)) if shares else float("nan"),
            "worst": float(min(shares)) if shares else float("nan"),
            "per_timbre": per_timbre, "confusions": confusions}


def _rms_db(y: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(y, np.float64) ** 2) + 1e-12))


def morph(model, info, data: Path, classifier: InstrumentClassifier, pairs: int = 8) -> dict:
    """Morphs between `pairs` pairs of named timbres (each timbre to the one `len // 2` after it
    in the model's list), playing one held-out clip of a third instrument: whether P(B)'s share
    rises monotonically over MORPH_STEPS, and the loudness at -0.5 and 1.5 against the ends."""
    rate = int(info.sample_rate)
    clips = _clips(data, "valid", rate)
    names = list(info.timbre_names)
    latents = info.timbre_latents.numpy()
    results = []
    for k in range(min(pairs, len(names))):
        a, b = k, (k + len(names) // 2) % len(names)
        # A third instrument plays (neither end's own notes); with two instruments, the first.
        source, audio = next(((n, c) for n, c in clips if n not in (names[a], names[b])), clips[0])
        shares, levels = [], {}
        for m in (-0.5,) + MORPH_STEPS + (1.5,):
            y = decode_with_timbre(model, audio, latents[a] + m * (latents[b] - latents[a]))
            levels[m] = _rms_db(y) if np.all(np.isfinite(y)) else float("nan")
            if m in MORPH_STEPS:
                p = classifier.probabilities(y) or {}
                pa, pb = p.get(names[a], 0.0), p.get(names[b], 0.0)
                shares.append(pb / (pa + pb) if pa + pb > 0 else 0.5)
        monotone = all(later >= earlier - MORPH_MONOTONE_SLACK for earlier, later in zip(shares, shares[1:]))
        ends_db = max(abs(levels[-0.5] - levels[0.0]), abs(levels[1.5] - levels[1.0]))
        results.append({"a": names[a], "b": names[b], "input": source, "share_b": [round(s, 3) for s in shares],
                        "monotone": monotone, "rises": shares[-1] > shares[0],
                        "extrapolation_db": round(ends_db, 2) if ends_db == ends_db else None,
                        "finite": all(v == v for v in levels.values())})
    return {"pairs": results, "monotone": sum(r["monotone"] and r["rises"] for r in results) / max(1, len(results)),
            "extrapolation_db_max": max((r["extrapolation_db"] or float("inf")) for r in results) if results else None,
            "finite": all(r["finite"] for r in results)}


def reconstruction_by_instrument(model, data: Path, rate: int, skip_hops: int = 2) -> dict[str, float]:
    """The spectral distance of each instrument's held-out (valid/) clips: {name: mean}."""
    hop = int(model.hop_length)
    totals: dict[str, list[float]] = {}
    with torch.no_grad():
        for name, path in labelled_clips(data, "valid"):
            audio = read_clip(path, rate)[: int(20 * rate)]
            x = torch.from_numpy(np.ascontiguousarray(audio[: len(audio) // hop * hop])).reshape(1, 1, -1)
            model.reset()
            y = model.forward(x)
            skip = skip_hops * hop
            totals.setdefault(name, []).append(float(multiscale_spectral_loss(x[..., skip:], y[..., skip:])))
    return {name: round(float(np.mean(v)), 4) for name, v in totals.items()}


def timbre_space(model, info, data: Path) -> dict:
    """Everything above for a model with named timbres on a labelled dataset; {} otherwise."""
    if not info.timbre_names or len(info.timbre_names) < 2:
        return {}
    rate = int(info.sample_rate)
    classifier = InstrumentClassifier.from_dataset(data, rate)
    return {
        "classifier_accuracy_valid": round(classifier.accuracy(_clips(data, "valid", rate)), 3),
        "transfer": transfer(model, info, data, classifier),
        "morph": morph(model, info, data, classifier),
        "reconstruction_by_instrument": reconstruction_by_instrument(model, data, rate),
    }
