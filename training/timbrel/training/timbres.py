"""A model's named timbres and how well its latent tells instruments apart.

A multi-timbre model's z is made blind to the descriptors (the Fader adversary), so what is left
for it to carry is what tells the instruments apart. A named timbre is the mean z of one
instrument's training audio over its frames with signal; a clip is recognised by the nearest
named timbre to its own mean z. `timbrel dataset timbres` labels every file with its
instrument, which is what both need.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from .losses import frames_with_signal

SIGNAL_RANGE_DB = 30.0  # frames within this of a clip's loudest carry its timbre (as the Fader adversary judges)


def analysed_clip(model, audio: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(z [1, latent, F], d [1, D, F], frames with signal [F]) of one clip, each from a fresh
    stream in one offline call (streaming equals offline for every model)."""
    hop = int(model.hop_length)
    usable = len(audio) // hop * hop
    x = torch.from_numpy(np.ascontiguousarray(audio[:usable], dtype=np.float32)).reshape(1, 1, -1)
    with torch.no_grad():
        model.reset()
        z = model.encode(x)
        model.reset()
        d = model.analyze(x)
    loudness = d[:, list(model.descriptor_names).index("loudness")]
    return z, d, frames_with_signal(loudness, SIGNAL_RANGE_DB)[0]


def latent_frames(analysed: tuple) -> np.ndarray:
    """The latent means [frames with signal, latent_size] of an analysed_clip."""
    z, _, keep = analysed
    return z[0][:, keep].T.numpy().astype(np.float64)


def clip_frames(model, audio: np.ndarray) -> np.ndarray:
    """The latent means [frames with signal, latent_size] of one clip."""
    return latent_frames(analysed_clip(model, audio))


def labelled_clips(data: Path, split: str, single_name: str | None = None) -> list[tuple[str, Path]]:
    """(instrument, path) of every file of `split`: the manifest's label, or `single_name` for a
    dataset of one instrument (without it, a dataset that labels no files is refused)."""
    manifest = json.loads((Path(data) / "dataset.json").read_text())
    labels = manifest.get("labels") or {}
    if not labels and single_name is None:
        raise ValueError(f"{data} labels no files with their instrument: make it with `timbrel dataset timbres`")
    return [(labels[name]["instrument"] if name in labels else single_name, Path(data) / name)
            for name in manifest.get(split, [])]


def read_clip(path: Path, sample_rate: int) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise ValueError(f"{path} is {rate} Hz; the model runs at {sample_rate} Hz")
    return audio.mean(1)


def frames_by_name(model, clips: list[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Each instrument's latent frames with signal over all its clips, [frames, latent_size], in
    the order the instruments first appear."""
    return _frames_by_name([(name, analysed_clip(model, audio)) for name, audio in clips])


def _frames_by_name(analysed: list[tuple[str, tuple]]) -> dict[str, np.ndarray]:
    frames: dict[str, list[np.ndarray]] = {}
    for name, clip in analysed:
        frames.setdefault(name, []).append(latent_frames(clip))
    return {name: np.concatenate(parts) for name, parts in frames.items()}


def named_timbres(model, clips: list[tuple[str, np.ndarray]]) -> tuple[list[str], np.ndarray]:
    """(names, latents [N, latent_size]): each instrument's mean z over the frames with signal of
    all its clips, in the order the instruments first appear."""
    frames = frames_by_name(model, clips)
    return list(frames), np.stack([block.mean(0) for block in frames.values()])


def latent_axes(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [latent_size], components [latent_size, latent_size]): the principal axes of latent
    frames as orthonormal rows, strongest first, each signed so that its largest entry is
    positive (the same axes whatever the solver's sign)."""
    mean = frames.mean(0)
    covariance = np.cov(frames - mean, rowvar=False).reshape(len(mean), len(mean))
    variances, vectors = np.linalg.eigh(covariance)
    components = vectors[:, np.argsort(variances)[::-1]].T
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(1)])
    return mean, components * signs[:, None]


def analysed_dataset(model, data: Path, split: str, single_name: str) -> list[tuple[str, tuple]]:
    """(instrument, analysed_clip) of every file of a dataset's split (labelled_clips names
    them), each file read and analysed once, so its audio is let go before the next is read."""
    rate = int(model.sample_rate)
    return [(name, analysed_clip(model, read_clip(path, rate))) for name, path in labelled_clips(data, split, single_name)]


def dataset_timbres(analysed: list[tuple[str, tuple]]) -> dict:
    """What an export attaches to a model from its analysed training clips (analysed_dataset of
    train/): named timbres (each instrument's mean z) and the latent's principal axes: {names,
    latents, latent_mean, latent_components} as lists."""
    if not analysed:
        raise ValueError("no training files to take the timbres from")
    frames = _frames_by_name(analysed)
    mean, components = latent_axes(np.concatenate(list(frames.values())))
    return {"names": list(frames), "latents": np.stack([block.mean(0) for block in frames.values()]).tolist(),
            "latent_mean": mean.tolist(), "latent_components": components.tolist()}


def recognition(model, names: list[str], latents: np.ndarray, clips: list[tuple[str, np.ndarray]]) -> dict:
    """How often a clip's mean z is nearest (Euclidean) to its own instrument's named timbre:
    {accuracy, clips, per_instrument {name: accuracy}, confusions {true: {predicted: count}}}."""
    hits: dict[str, list[bool]] = {}
    confusions: dict[str, dict[str, int]] = {}
    for name, audio in clips:
        mean = clip_frames(model, audio).mean(0)
        predicted = names[int(np.argmin(((latents - mean) ** 2).sum(1)))]
        hits.setdefault(name, []).append(predicted == name)
        if predicted != name:
            row = confusions.setdefault(name, {})
            row[predicted] = row.get(predicted, 0) + 1
    every = [hit for row in hits.values() for hit in row]
    return {"accuracy": float(np.mean(every)) if every else float("nan"), "clips": len(every),
            "per_instrument": {name: float(np.mean(row)) for name, row in hits.items()},
            "confusions": confusions}


# What the plugin's Capture asks of the input (plugin/engine/src/Timbres.cpp): frames within 30 dB
# of the loudest and above -60 dB, at least half a second of them, and not noise.
CAPTURE_FLOOR_DB = -60.0
CAPTURE_MIN_SECONDS = 0.5
CAPTURE_NOISE_FLATNESS_DB = -15.0  # white noise reads -2.5 dB; 16 instruments -39 to -64 (median)


def capture_latent(model, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The snapshot the plugin's Capture would take from this audio (mono or [channels, n]; the
    first channel, as the plugin captures channel 0): the mean z of its sounding frames.
    Raises ValueError, as the plugin refuses, for silence and for noise."""
    import soxr

    audio = np.asarray(audio, dtype=np.float32)
    audio = audio[0] if audio.ndim == 2 else audio
    rate = int(model.sample_rate)
    if sample_rate != rate:
        audio = soxr.resample(audio, sample_rate, rate, quality="HQ").astype(np.float32)
    z, d, _ = analysed_clip(model, audio)
    names = list(model.descriptor_names)
    frames = np.ones(z.shape[-1], dtype=bool)
    if "loudness" in names:
        loudness = d[0, names.index("loudness")].numpy()
        frames = loudness > max(float(loudness.max()) - SIGNAL_RANGE_DB, CAPTURE_FLOOR_DB)
    seconds = frames.sum() * int(model.hop_length) / rate
    if seconds < CAPTURE_MIN_SECONDS:
        raise ValueError(f"Capture needs {CAPTURE_MIN_SECONDS:.1f} s of sounding input; this audio holds {seconds:.1f} s")
    if "flatness" in names:
        flatness = float(np.median(d[0, names.index("flatness")].numpy()[frames]))
        if flatness > CAPTURE_NOISE_FLATNESS_DB:
            raise ValueError(f"Capture heard noise, not an instrument (flatness {flatness:.1f} dB)")
    return z[0][:, torch.from_numpy(frames)].mean(-1).numpy()


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("capture", help="the timbre snapshot the plugin's Capture would take from a "
                                                   "recording (for `timbrel render --snapshot A=@FILE`)")
    parser.add_argument("model", type=Path)
    parser.add_argument("audio", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="text file: one latent value per line")
    parser.set_defaults(func=cmd_capture)


def cmd_capture(args) -> int:
    import sys

    from ..format.contract import ContractError, load_and_check

    try:
        module, _ = load_and_check(args.model)
        audio, rate = sf.read(args.audio, dtype="float32", always_2d=True)
        latent = capture_latent(module, audio.T, rate)
    except (ContractError, ValueError, RuntimeError) as error:
        print(f"timbrel capture: {error}", file=sys.stderr)
        return 2
    np.savetxt(args.out, latent, fmt="%.9g")
    print(f"{args.out}: {latent.size} latent values from {args.audio}")
    return 0


__all__ = ["capture_latent", "analysed_clip", "latent_frames", "clip_frames", "labelled_clips", "read_clip", "frames_by_name", "named_timbres", "latent_axes",
           "analysed_dataset", "dataset_timbres", "recognition"]
