"""Training: `timbrel train DATA --config NAME --out runs/NAME [--steps N] [--max-minutes M] [--resume]`.

DATA is a folder written by `timbrel dataset` (train/ and valid/ WAVs at the model's rate).
The run folder gets:
  checkpoint.pt  everything needed to resume (weights, optimisers, RNG states, step, minutes)
  best.pt        the weights with the lowest validation loss so far (what `timbrel export` takes)
  log.csv        one row per logged step: losses, learning rate, validation loss
  run.json       the recipe: data, config, seed, steps, minutes, hardware, torch version
Both .pt files are written to a temporary file and renamed, so killing training at any moment
loses at most the steps since the last checkpoint; `--resume` continues from it.

Objective per step (on random excerpts, augmented with a random gain and spectral tilt so
loudness and brightness vary independently of the notes played):
  multi-scale spectral loss(x, y) + beta * KL(z) + fader_weight * adversarial(z)
    + tracking_weight * tracking(z, shifted d)
and the Fader discriminator learns to predict the descriptors from z in alternation. The
tracking term is what the faders promise: decode z with the spectral descriptors (centroid,
bandwidth, flatness) shifted as a fader would, analyse the output, and penalise the distance
between what it measures and what was asked, in decode's normalised units.

`--init FILE` starts a new run from the weights of a checkpoint (models/source/NAME.pt, a
run's best.pt) with its descriptor ranges: fine-tuning, e.g. to add the tracking term.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from . import descriptors
from .model import LatentDiscriminator, ModelConfig, TimbrelModel, fader_losses, multiscale_spectral_loss
from .synthmodel import HarmonicNoiseModel, SynthConfig

CONFIGS = ("default", "lowlatency", "waveform")
LOG_FIELDS = ["step", "minutes", "loss", "spectral", "kl", "adversarial", "tracking", "discriminator", "lr",
              "valid_spectral", "valid_tracking"]
# The descriptors the tracking term shifts: the spectral shape ones. Pitch and loudness drive the
# synthesiser directly (the fundamental and the level), so they track by construction.
TRACKED = ("centroid", "bandwidth", "flatness")


class TrainError(Exception):
    """A problem with the data, the run folder or the options, said in plain words."""


@dataclass
class TrainConfig:
    steps: int = 6000
    batch: int = 8
    excerpt_seconds: float = 0.6
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-4     # exponential decay to this at `steps`
    kl_weight: float = 0.02
    fader_weight: float = 0.5
    fader_warmup: float = 0.3             # fraction of steps over which the adversary's weight ramps up
    tracking_weight: float = 0.0          # descriptor tracking term (0: off; make models fine-tunes with 2)
    tracking_shift: float = 0.6           # largest fader shift it asks for, in normalised units (range = 2)
    adversary_range_db: float = 30.0      # the adversary judges frames within this of the excerpt's loudest (0: all)
    skip_hops: int = 2                    # the loss ignores the first hops after each reset
    gain_db: tuple = (-18.0, 6.0)         # augmentation ranges
    tilt: float = 0.8
    valid_every: int = 250
    checkpoint_seconds: float = 120.0
    seed: int = 0


def build_model(config_name: str, **overrides):
    """A fresh model for a named config: 'default' and 'lowlatency' are harmonic-plus-noise
    models (what Timbrel ships), 'waveform' the RAVE-style PQMF waveform decoder."""
    if config_name in ("default", "lowlatency"):
        return HarmonicNoiseModel(SynthConfig.preset(config_name, **overrides))
    if config_name == "waveform":
        return TimbrelModel(ModelConfig.preset("default", **overrides))
    raise TrainError(f"unknown config '{config_name}' (choose from {', '.join(CONFIGS)})")


def model_from_checkpoint(state: dict):
    """Rebuilds the model a checkpoint (or best.pt) describes, weights and descriptor ranges loaded."""
    overrides = dict(state["model_config"])
    config_name = state["config_name"]
    if config_name == "waveform":
        model = TimbrelModel(ModelConfig(**overrides))
    else:
        model = HarmonicNoiseModel(SynthConfig(**overrides))
    model.set_descriptor_range(state["descriptor_min"], state["descriptor_max"])
    weights = {k: v for k, v in state["model"].items() if not _is_stream_state(k)}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not _is_stream_state(k)]
    if missing or unexpected:
        raise TrainError(f"the checkpoint does not fit its config (missing {missing}, unexpected {unexpected})")
    model.reset()
    return model


def load_init(path: Path) -> dict:
    """The checkpoint a fine-tuning run starts from (`--init`): a run's best.pt or checkpoint.pt,
    or a shipped model's source weights (models/source/NAME.pt)."""
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"--init: {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated or foreign file: say which
        raise TrainError(f"--init: {path} is not a Timbrel checkpoint ({type(error).__name__})") from None
    missing = [k for k in ("model", "config_name", "model_config", "descriptor_min", "descriptor_max")
               if not isinstance(state, dict) or k not in state]
    if missing:
        raise TrainError(f"--init: {path} is not a Timbrel checkpoint (no {', '.join(missing)})")
    return state


def init_summary(path: Path, state: dict) -> dict:
    """What a fine-tuned run started from, for its recipe and model card: the steps and minutes
    already spent count towards the model's training budget."""
    before = state.get("card", {}).get("training", {})
    recipe = Path(path).parent / "run.json"
    if not before and recipe.exists():  # a run's best.pt: its run.json says what it cost
        before = json.loads(recipe.read_text())
    return {"from": Path(path).name, "steps": before.get("steps", state.get("step")),
            "minutes": before.get("minutes", state.get("minutes")), "hardware": before.get("hardware")}


STREAM_STATE = ("cache", "history", "last_params", "phase", "counter", "analysis_cache", "synthesis_cache")
# Constants that older checkpoints carry and models now rebuild from their config.
DERIVED = ("harmonic_numbers", "harmonic_numbers_float", "ramp", "noise")


def _is_stream_state(key: str) -> bool:
    """Streaming caches are buffers (so TorchScript keeps them) but not weights: their shape
    follows the last batch, so checkpoints skip them. Derived constants are skipped too."""
    return key.rsplit(".", 1)[-1] in STREAM_STATE + DERIVED


# ---------------------------------------------------------------------------------------------
# Data


def load_split(data: Path, split: str, sample_rate: int) -> list[np.ndarray]:
    folder = data / split
    if not folder.is_dir():
        raise TrainError(f"{data} has no {split}/ folder: make it with `timbrel dataset`")
    clips = []
    for path in sorted(folder.glob("*.wav")):
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
    analyzer = descriptors.DescriptorAnalyzer(names, model.sample_rate, hop, model.window,
                                              model.pitch_fmin, model.pitch_fmax)
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
        if model.descriptor_units[i] == "Hz":
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

    def __init__(self, clips: list[np.ndarray], length: int, config: TrainConfig, rng: np.random.Generator):
        self.clips = [c for c in clips if len(c) > length]
        if not self.clips:
            raise TrainError(f"every training clip is shorter than one excerpt ({length} samples)")
        weights = np.array([len(c) - length for c in self.clips], dtype=np.float64)
        self.weights = weights / weights.sum()
        self.length = length
        self.config = config
        self.rng = rng

    def excerpt(self) -> np.ndarray:
        for _ in range(20):
            clip = self.clips[self.rng.choice(len(self.clips), p=self.weights)]
            start = self.rng.integers(0, len(clip) - self.length)
            piece = clip[start: start + self.length].astype(np.float32)
            if np.sqrt(np.mean(piece ** 2)) > 10 ** (-45 / 20):
                break
        tilt = self.rng.uniform(-self.config.tilt, self.config.tilt)
        tilted = piece.copy()
        tilted[1:] += tilt * piece[:-1]
        rms_before, rms_after = np.sqrt(np.mean(piece ** 2)) + 1e-9, np.sqrt(np.mean(tilted ** 2)) + 1e-9
        tilted *= rms_before / rms_after
        gain = 10 ** (self.rng.uniform(*self.config.gain_db) / 20)
        peak = np.abs(tilted).max() * gain
        if peak > 0.99:
            gain *= 0.99 / peak
        return tilted * gain

    def batch(self, size: int) -> torch.Tensor:
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


def frames_with_signal(loudness: torch.Tensor, range_db: float = 30.0) -> torch.Tensor:
    """[B, F] bool: the frames of loudness [B, F] (dB) within range_db of each item's loudest."""
    return loudness > loudness.amax(-1, keepdim=True) - range_db


def adversary_frames(model, d: torch.Tensor, config: TrainConfig) -> torch.Tensor | None:
    """[B, F] bool: the frames the Fader adversary judges, those with signal (adversary_range_db)
    and above the data's quietest useful level. Silence and near-silence carry no timbre, only
    their level: pushing z there to hide the level is noise in the gradient, and the latent
    probe of `timbrel eval` measures the frames with signal."""
    names = list(model.descriptor_names)
    if config.adversary_range_db <= 0 or "loudness" not in names:
        return None
    loudness = d[:, names.index("loudness")]
    return frames_with_signal(loudness, config.adversary_range_db) & (
        loudness > float(model.descriptor_min[names.index("loudness")]))


def tracked_indices(model) -> list[int]:
    return [i for i, name in enumerate(model.descriptor_names) if name in TRACKED]


def shifted_descriptors(model, d: torch.Tensor, shifts: torch.Tensor, tracked: list[int]) -> torch.Tensor:
    """d [B, D, F] with descriptor tracked[j] of item b moved by shifts[b, j] normalised units
    (the whole range is 2 units) as a fader shift moves it: octaves for Hz descriptors."""
    out = d.clone()
    for j, i in enumerate(tracked):
        low, high = float(model.descriptor_min[i]), float(model.descriptor_max[i])
        shift = shifts[:, j: j + 1]
        if model.descriptor_units[i] == "Hz":
            out[:, i] = d[:, i] * torch.exp2(shift * (0.5 * (math.log2(high) - math.log2(low))))
        else:
            out[:, i] = d[:, i] + shift * (0.5 * (high - low))
    return out


def tracking_loss(model, z: torch.Tensor, d: torch.Tensor, shifts: torch.Tensor, skip_hops: int) -> torch.Tensor:
    """Mean |normalise(analyze(decode(z, shifted d))) - normalise(shifted d)| over the tracked
    descriptors, on frames within 30 dB of each item's loudest (the others have no stable
    spectral shape) after the first skip_hops. Resets the model's streams."""
    tracked = tracked_indices(model)
    if not tracked:
        return z.new_zeros(())
    target = shifted_descriptors(model, d, shifts, tracked)
    model.reset()
    y = model.decode(torch.cat([z, target], 1))
    model.reset()
    measured = model.analyze(y)
    model.reset()
    loudness = d[:, model.descriptor_names.index("loudness")]
    mask = frames_with_signal(loudness)[:, skip_hops:].float()
    # Unclamped: an output far outside the range is where the gradient matters most.
    error = (model.normalise_descriptors(measured, clamp=False)
             - model.normalise_descriptors(target, clamp=False))[:, tracked, skip_hops:].abs()
    return (error * mask.unsqueeze(1)).sum() / (mask.sum() * len(tracked) + 1e-9)


def validation_shifts(batch: int, tracked: int, largest: float) -> torch.Tensor:
    """Fixed fader shifts for validation: spread over +-largest, different per descriptor."""
    grid = torch.linspace(-largest, largest, batch)
    return torch.stack([grid.roll(j) for j in range(tracked)], 1)


def validation_loss(model, batches: list[torch.Tensor], skip_hops: int = 2, device=None,
                    tracking_shift: float = 0.0) -> tuple[float, float]:
    """(spectral, tracking): the mean multi-scale spectral loss of the model's offline
    re-synthesis (mean z, no sampling) and, when tracking_shift > 0, the mean tracking loss
    for fixed fader shifts (0 otherwise)."""
    model.eval()
    spectral = tracking = 0.0
    skip = skip_hops * model.hop_length
    tracked = len(tracked_indices(model))
    with torch.no_grad():
        for batch in batches:
            batch = batch.to(device) if device is not None else batch
            model.reset()
            y = model.forward(batch)
            spectral += float(multiscale_spectral_loss(batch[..., skip:], y[..., skip:]))
            if tracking_shift > 0 and tracked:
                model.reset()
                z, d = model.encode(batch), model.analyze(batch)
                shifts = validation_shifts(batch.shape[0], tracked, tracking_shift).to(batch.device)
                tracking += float(tracking_loss(model, z, d, shifts, skip_hops))
    return spectral / len(batches), tracking / len(batches)


# ---------------------------------------------------------------------------------------------
# The loop


def _atomic_save(obj, path: Path) -> None:
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def hardware_description(device: torch.device, threads: int) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {threads} thread{'s' if threads != 1 else ''} (CPU)"


def train(data: Path, config_name: str, out: Path, config: TrainConfig, max_minutes: float | None = None,
          resume: bool = False, threads: int | None = None, device_name: str | None = None,
          progress: bool = True, model_overrides: dict | None = None, steps: int | None = None,
          init: Path | None = None) -> dict:
    """Trains (or resumes) a run; returns the final summary (also written to run.json).

    A resumed run keeps the training config stored in its checkpoint; `steps` (if given)
    replaces the step budget, so a finished run can be extended. `max_minutes` bounds the run's
    total training time, counting the sessions before a resume. `init` (a new run only) starts
    from a checkpoint's weights and descriptor ranges; its config name replaces config_name."""
    data, out = Path(data), Path(out)
    checkpoint_path, best_path = out / "checkpoint.pt", out / "best.pt"
    if resume and not checkpoint_path.exists():
        raise TrainError(f"--resume: {checkpoint_path} does not exist")
    if not resume and checkpoint_path.exists():
        raise TrainError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    if threads:
        torch.set_num_threads(threads)
    threads = torch.get_num_threads()
    device = torch.device(device_name or ("cuda" if torch.cuda.is_available() else "cpu"))

    state = torch.load(checkpoint_path, map_location="cpu", weights_only=False) if resume else None
    if state is not None:
        config = TrainConfig(**{**asdict(TrainConfig()), **state["train_config"]})
        config_name = state["config_name"]
        init_state = None
    else:
        init_state = load_init(init) if init is not None else None
        if init_state is not None:
            config_name = init_state["config_name"]
    if steps is not None:
        config.steps = steps
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    if state is not None or init_state is not None:
        model = model_from_checkpoint(state if state is not None else init_state)
    else:
        model = build_model(config_name, **(model_overrides or {}))
    train_clips = load_split(data, "train", model.sample_rate)
    valid_clips = load_split(data, "valid", model.sample_rate)
    if state is None and init_state is None:
        low, high, stats = descriptor_ranges(model, train_clips)
        model.set_descriptor_range(low, high)
    else:
        stats = (state if state is not None else init_state)["descriptor_stats"]
    hop = model.hop_length
    length = max(int(config.excerpt_seconds * model.sample_rate) // hop, config.skip_hops + 8) * hop
    sampler = ExcerptSampler(train_clips, length, config, rng)
    valid = validation_batches(valid_clips, hop, model.sample_rate)

    discriminator = LatentDiscriminator(model.latent_size, len(model.descriptor_names))
    model.to(device)
    discriminator.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    disc_optimiser = torch.optim.Adam(discriminator.parameters(), lr=config.learning_rate)
    step, minutes, best_valid = 0, 0.0, math.inf
    if state is not None:
        discriminator.load_state_dict(state["discriminator"])
        optimiser.load_state_dict(state["optimiser"])
        disc_optimiser.load_state_dict(state["disc_optimiser"])
        step, minutes, best_valid = state["step"], state["minutes"], state["best_valid"]
        torch.set_rng_state(state["torch_rng"])
        rng.bit_generator.state = state["numpy_rng"]
    decay = (config.final_learning_rate / config.learning_rate) ** (1.0 / max(config.steps, 1))

    dataset_info = {}
    if (data / "dataset.json").exists():
        manifest = json.loads((data / "dataset.json").read_text())
        dataset_info = {k: manifest[k] for k in ("kind", "instrument", "source", "program", "midi_range", "seed",
                                                 "minutes_requested") if k in manifest}
    recipe = {
        "config": config_name, "model_config": json.loads(model.config_dict), "train_config": asdict(config),
        "data": str(data), "dataset": dataset_info,
        "train_minutes_of_audio": round(sum(len(c) for c in train_clips) / model.sample_rate / 60, 2),
        "descriptor_min": model.descriptor_min, "descriptor_max": model.descriptor_max,
        "descriptor_stats": stats, "hardware": hardware_description(device, threads),
        "torch": torch.__version__,
    }
    if state is not None and "init" in state:
        recipe["init"] = state["init"]
    elif init_state is not None:
        recipe["init"] = init_summary(init, init_state)

    log_path = out / "log.csv"
    rows = []
    if resume and log_path.exists():
        with open(log_path) as handle:
            rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= step]
    with open(log_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, LOG_FIELDS)
        writer.writeheader()
        writer.writerows(rows)

    def snapshot() -> dict:
        weights = {k: v for k, v in model.state_dict().items() if not _is_stream_state(k)}
        payload = {"model": weights, "config_name": config_name,
                   "model_config": json.loads(model.config_dict), "descriptor_min": model.descriptor_min,
                   "descriptor_max": model.descriptor_max, "descriptor_stats": stats}
        if "init" in recipe:
            payload["init"] = recipe["init"]
        return payload

    def save_checkpoint() -> None:
        payload = snapshot()
        payload.update({"discriminator": discriminator.state_dict(), "optimiser": optimiser.state_dict(),
                        "disc_optimiser": disc_optimiser.state_dict(), "step": step, "minutes": minutes,
                        "best_valid": best_valid, "best_valid_spectral": best_spectral,
                        "train_config": asdict(config),
                        "torch_rng": torch.get_rng_state(), "numpy_rng": rng.bit_generator.state})
        _atomic_save(payload, checkpoint_path)

    def validate() -> tuple[float, float, float]:
        """(selection loss, spectral, tracking): best.pt keeps the weights with the lowest
        spectral + tracking_weight * tracking on the validation excerpts."""
        spectral, tracking = validation_loss(model, valid, config.skip_hops, device,
                                             config.tracking_shift if config.tracking_weight > 0 else 0.0)
        model.train()
        return spectral + config.tracking_weight * tracking, spectral, tracking

    # A run started from trained weights has a trained encoder: the adversary starts at full weight.
    warmup_steps = 0.0 if "init" in recipe else config.fader_warmup * config.steps
    tracked = len(tracked_indices(model))
    best_spectral = state.get("best_valid_spectral", math.nan) if state is not None else math.nan

    interrupted = {"flag": False}

    def on_signal(signum, frame):
        interrupted["flag"] = True

    previous_handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    budget = max_minutes if max_minutes is not None else math.inf
    from tqdm import tqdm

    bar = tqdm(total=config.steps, initial=step, desc=f"train {out.name}", unit="step",
               disable=not progress, dynamic_ncols=True)
    session_start = time.monotonic()
    minutes_at_start = minutes
    last_checkpoint = time.monotonic()
    stop_reason = "steps"
    model.train()
    try:
        while step < config.steps:
            if interrupted["flag"]:
                stop_reason = "interrupted"
                break
            if minutes >= budget:
                stop_reason = "max-minutes"
                break
            lr = config.learning_rate * decay ** step
            for group in optimiser.param_groups + disc_optimiser.param_groups:
                group["lr"] = lr
            x = sampler.batch(config.batch).to(device)
            model.reset()
            with torch.no_grad():
                d = model.analyze(x)
            z, mean, kl = model.encode_distribution(x)
            y = model.decode(torch.cat([z, d], 1))
            skip = config.skip_hops * hop
            spectral = multiscale_spectral_loss(x[..., skip:], y[..., skip:])
            normalised = model.normalise_descriptors(d)
            disc_loss, adversarial = fader_losses(discriminator, mean, normalised, adversary_frames(model, d, config))
            fader = config.fader_weight * min(1.0, step / max(1.0, warmup_steps))
            loss = spectral + config.kl_weight * kl + fader * adversarial
            tracking = torch.zeros(())
            if config.tracking_weight > 0 and tracked:
                shifts = (torch.rand(x.shape[0], tracked) * 2.0 - 1.0) * config.tracking_shift
                tracking = tracking_loss(model, z, d, shifts.to(device), config.skip_hops)
                loss = loss + config.tracking_weight * tracking
            if not torch.isfinite(loss):
                raise TrainError(f"the loss became {float(loss)} at step {step}: lower --learning-rate")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            disc_optimiser.zero_grad(set_to_none=True)
            disc_loss.backward()
            disc_optimiser.step()
            step += 1
            minutes = minutes_at_start + (time.monotonic() - session_start) / 60.0
            bar.update(1)
            bar.set_postfix(spectral=f"{spectral.item():.3f}", tracking=f"{tracking.item():.3f}",
                            disc=f"{disc_loss.item():.2f}")

            validated = None
            if step % config.valid_every == 0 or step == config.steps:
                validated = validate()
                if validated[0] < best_valid:
                    best_valid, best_spectral = validated[0], validated[1]
                    payload = snapshot()
                    payload.update({"step": step, "valid_loss": validated[0], "valid_spectral": validated[1],
                                    "valid_tracking": validated[2]})
                    _atomic_save(payload, best_path)
            if step % 25 == 0 or validated is not None:
                with open(log_path, "a", newline="") as handle:
                    csv.DictWriter(handle, LOG_FIELDS).writerow({
                        "step": step, "minutes": round(minutes, 3), "loss": round(loss.item(), 5),
                        "spectral": round(spectral.item(), 5), "kl": round(kl.item(), 5),
                        "adversarial": round(adversarial.item(), 5), "tracking": round(tracking.item(), 5),
                        "discriminator": round(disc_loss.item(), 5), "lr": f"{lr:.3g}",
                        "valid_spectral": "" if validated is None else round(validated[1], 5),
                        "valid_tracking": "" if validated is None else round(validated[2], 5)})
            if time.monotonic() - last_checkpoint > config.checkpoint_seconds:
                save_checkpoint()
                last_checkpoint = time.monotonic()
    finally:
        bar.close()
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
    if not best_path.exists():
        validated = validate()
        best_valid, best_spectral = validated[0], validated[1]
        payload = snapshot()
        payload.update({"step": step, "valid_loss": validated[0], "valid_spectral": validated[1],
                        "valid_tracking": validated[2]})
        _atomic_save(payload, best_path)
    save_checkpoint()
    recipe.update({"steps": step, "minutes": round(minutes, 2), "stopped_by": stop_reason,
                   "best_valid_loss": round(best_valid, 5), "best_valid_spectral": round(best_spectral, 5)})
    (out / "run.json").write_text(json.dumps(recipe, indent=2) + "\n")
    return recipe


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a model on a dataset folder")
    parser.add_argument("data", type=Path, help="a folder written by `timbrel dataset`")
    parser.add_argument("--config", default="default", choices=CONFIGS)
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, logs)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"step budget (default {TrainConfig.steps}; with --resume, extends the run)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after this much training time")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--init", type=Path, default=None,
                        help="start a new run from these weights (a best.pt, or models/source/NAME.pt): fine-tuning")
    parser.add_argument("--tracking-weight", type=float, default=TrainConfig.tracking_weight,
                        help="weight of the descriptor tracking term (0 turns it off)")
    parser.add_argument("--fader-weight", type=float, default=TrainConfig.fader_weight,
                        help="weight of the adversarial term that keeps descriptors out of z")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=TrainConfig.batch)
    parser.add_argument("--learning-rate", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    config = TrainConfig(seed=args.seed, batch=args.batch, learning_rate=args.learning_rate,
                         final_learning_rate=args.learning_rate / 10, tracking_weight=args.tracking_weight,
                         fader_weight=args.fader_weight)
    if args.init is not None and args.resume:
        print("timbrel train: --init starts a new run; --resume continues one: choose one", file=sys.stderr)
        return 2
    try:
        summary = train(args.data, args.config, args.out, config, max_minutes=args.max_minutes,
                        resume=args.resume, threads=args.threads, device_name=args.device,
                        progress=not args.quiet, steps=args.steps, init=args.init)
    except TrainError as error:
        print(f"timbrel train: {error}", file=sys.stderr)
        return 2
    print(f"{args.out}: {summary['steps']} steps in {summary['minutes']} min "
          f"(stopped by {summary['stopped_by']}), best validation spectral loss {summary['best_valid_spectral']}")
    return 130 if summary["stopped_by"] == "interrupted" else 0
