"""Training: `timbrel train DATA --config NAME --out runs/NAME [--steps N] [--max-minutes M] [--resume]`.

DATA is a folder written by `timbrel dataset` (train/ and valid/ WAVs at the model's rate).
The run folder gets:
  checkpoint.pt  everything needed to resume (weights, optimisers, RNG states, step, minutes)
  best.pt        the weights with the lowest validation loss so far (what `timbrel export` takes)
  log.csv        one row per logged step: losses, learning rate, validation loss
  run.json       the recipe: data, config, seed, steps, minutes, hardware, torch version
Every file is written to a temporary file and renamed, so killing training at any moment loses
at most the steps since the last checkpoint; `--resume` continues from it.

The objective (losses.py) runs on random excerpts, augmented with a random gain and spectral
tilt so loudness and brightness vary independently of the notes played.

`--init FILE` starts a new run from the weights of a checkpoint (models/source/NAME.pt, a
run's best.pt) with its descriptor ranges: fine-tuning, e.g. to add the tracking term. With
`--current-analysis` the fine-tuned model gets today's pitch analysis instead of the one its
weights were trained with, so its decoder learns the corrected descriptors.

Reading order: `Trainer.__init__` (setup: new, fine-tuning or resumed), `Trainer.step` (one
optimisation step), `Trainer.validate` and `Trainer.keep_if_best` (validation and best.pt),
`Trainer.save_checkpoint`, then `Trainer.run` (the loop: budget, signals, logging).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..files import write_atomically
from .distributed import (World, any_rank, average_gradients, broadcast_state, choose_device, count_over, end_world,
                          gather, shard, start_world, weights_agree)
from ..models.checkpoint import (CONFIGS, CheckpointError, build_model, load_checkpoint, model_from_checkpoint,
                                 model_payload, save_checkpoint)
from .data import ExcerptSampler, descriptor_ranges, load_split, split_instruments, validation_batches
from .errors import TrainError
from .losses import (InstrumentJudge, InstrumentMeans, LatentDiscriminator, NaturalEstimate, TimbreCentres, adversary_frames, excerpt_means,
                     fader_losses, frames_with_signal, into_range, latent_move_loss, multiscale_spectral_loss,
                     snapshot_loss, tracked_indices, transfer_decode, tracking_loss, validation_shifts)

LOG_FIELDS = ["step", "minutes", "loss", "spectral", "kl", "adversarial", "tracking", "foreign", "timbre",
              "move", "snapshot", "identity", "judge", "discriminator", "lr", "valid_spectral", "valid_tracking", "valid_foreign"]
LOG_EVERY = 25


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
    foreign_weight: float = 0.0           # the tracking term again, with z and descriptors from --foreign-data
    clarity_weight: float = 0.0           # the foreign term's pitch clarity (losses.pitch_clarity_loss)
    adversary_range_db: float = 30.0      # the adversary judges frames within this of the excerpt's loudest (0: all)
    timbre_weight: float = 0.0            # the timbre term (losses.TimbreCentres) on a labelled dataset (0: off)
    move_weight: float = 0.0              # the morph term (losses.latent_move_loss; needs the timbre term)
    snapshot_weight: float = 0.0          # the snapshot term (losses.snapshot_loss; needs the timbre term)
    identity_weight: float = 0.0          # the identity term (losses.InstrumentJudge; needs the timbre term)
    identity_warmup: int = 500            # steps over which it ramps up while the judge learns the instruments
    freeze_encoder: bool = False          # only the decoder learns: a fine-tune that leaves what z holds as it was
    skip_hops: int = 2                    # the loss ignores the first hops after each reset
    gain_db: tuple = (-18.0, 6.0)         # augmentation ranges
    tilt: float = 0.8
    valid_every: int = 250
    checkpoint_seconds: float = 120.0
    seed: int = 0


@dataclass
class StepLosses:
    loss: float
    spectral: float
    kl: float
    adversarial: float
    tracking: float
    discriminator: float
    lr: float
    foreign: float = 0.0
    timbre: float = 0.0
    move: float = 0.0
    snapshot: float = 0.0
    identity: float = 0.0
    judge: float = 0.0


@dataclass
class Validation:
    selection: float   # what best.pt is chosen by: spectral + tracking_weight * tracking + foreign_weight * foreign
    spectral: float
    tracking: float
    foreign: float = 0.0


def validation_tracking(model, batches: list[torch.Tensor], skip_hops: int, device, tracking_shift: float,
                        transpose: bool = False) -> float:
    """The mean tracking loss of fixed fader shifts over the batches (mean z, no sampling); with
    `transpose`, each item's pitch and spectral shape moved into the model's ranges by a fixed
    draw (the foreign term's validation, losses.into_range)."""
    model.eval()
    tracked = len(tracked_indices(model))
    if not tracked or tracking_shift <= 0:
        return 0.0
    total = 0.0
    draws = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for batch in batches:
            batch = batch.to(device) if device is not None else batch
            model.reset()
            z, d = model.encode(batch), model.analyze(batch)
            if transpose:
                d = into_range(model, d, draws)
            shifts = validation_shifts(batch.shape[0], tracked, tracking_shift).to(batch.device)
            total += float(tracking_loss(model, z, d, shifts, skip_hops))
    return total / len(batches)


def validation_loss(model, batches: list[torch.Tensor], skip_hops: int = 2, device=None,
                    tracking_shift: float = 0.0) -> tuple[float, float]:
    """(spectral, tracking): the mean multi-scale spectral loss of the model's offline
    re-synthesis (mean z, no sampling) and, when tracking_shift > 0, the mean tracking loss
    for fixed fader shifts (0 otherwise)."""
    model.eval()
    spectral = 0.0
    skip = skip_hops * model.hop_length
    with torch.no_grad():
        for batch in batches:
            batch = batch.to(device) if device is not None else batch
            model.reset()
            y = model.forward(batch)
            spectral += float(multiscale_spectral_loss(batch[..., skip:], y[..., skip:]))
    return spectral / len(batches), validation_tracking(model, batches, skip_hops, device, tracking_shift)


def init_summary(path: Path, state: dict) -> dict:
    """What a fine-tuned run started from, for its recipe and model card: the steps and minutes
    already spent count towards the model's training budget."""
    before = state.get("card", {}).get("training", {})
    recipe = Path(path).parent / "run.json"
    if not before and recipe.exists():  # a run's best.pt: its run.json says what it cost
        before = json.loads(recipe.read_text())
    summary = {"from": Path(path).name, "steps": before.get("steps", state.get("step")),
               "minutes": before.get("minutes", state.get("minutes")), "hardware": before.get("hardware")}
    earlier = before.get("fine_tuned_from")
    if earlier:  # a fine-tuned model fine-tuned again: the minutes and steps of every stage count
        summary["fine_tuned_from"] = earlier
        if before.get("total_minutes") is not None:
            summary["minutes"] = before["total_minutes"]
        if summary["steps"] is not None and earlier.get("steps") is not None:
            summary["steps"] = int(summary["steps"]) + int(earlier["steps"])
    return summary


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


def _dataset_info(data: Path) -> dict:
    if not (data / "dataset.json").exists():
        return {}
    manifest = json.loads((data / "dataset.json").read_text())
    info = {k: manifest[k] for k in ("kind", "instrument", "source", "program", "midi_range", "seed",
                                     "minutes_requested", "instruments", "soundfonts", "sources", "minutes_each",
                                     "heldout_soundfont") if k in manifest}
    if manifest.get("kind") == "timbres":  # which instruments one soundfont was held out for (the card says)
        labels = manifest.get("labels") or {}
        info["held_out"] = sorted({labels[f]["instrument"] for f in manifest.get("heldout", []) if f in labels})
    return info


class RunLog:
    """log.csv: a row every LOG_EVERY steps and at each validation. A resumed run keeps the
    rows up to its checkpoint's step (later ones were lost with the steps they describe)."""

    def __init__(self, path: Path, resume: bool, step: int):
        self.path = path
        rows = []
        if resume and path.exists():
            with open(path) as handle:
                rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= step]
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, LOG_FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, step: int, minutes: float, losses: StepLosses, validation: Validation | None) -> None:
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, LOG_FIELDS).writerow({
                "step": step, "minutes": round(minutes, 3), "loss": round(losses.loss, 5),
                "spectral": round(losses.spectral, 5), "kl": round(losses.kl, 5),
                "adversarial": round(losses.adversarial, 5), "tracking": round(losses.tracking, 5),
                "foreign": round(losses.foreign, 5), "timbre": round(losses.timbre, 5),
                "move": round(losses.move, 5), "snapshot": round(losses.snapshot, 5),
                "identity": round(losses.identity, 5), "judge": round(losses.judge, 5),
                "discriminator": round(losses.discriminator, 5), "lr": f"{losses.lr:.3g}",
                "valid_spectral": "" if validation is None else round(validation.spectral, 5),
                "valid_tracking": "" if validation is None else round(validation.tracking, 5),
                "valid_foreign": "" if validation is None else round(validation.foreign, 5)})


def _parameters(optimiser: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimiser.param_groups for p in group["params"]]


class Board:
    """TensorBoard logs of a run (rank 0): every loss term, the learning rate and steps per
    second every LOG_EVERY steps; at each validation its figures, and a reconstruction and a
    transfer (the first held-out clip's latent decoded with the second clip's descriptors) of
    fixed held-out clips, as audio and as log-magnitude spectrograms."""

    def __init__(self, logdir: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.logdir = logdir
        self.writer = SummaryWriter(str(logdir))

    def losses(self, step: int, losses: StepLosses, steps_per_second: float) -> None:
        for name, value in asdict(losses).items():
            self.writer.add_scalar("lr" if name == "lr" else f"train/{name}", value, step)
        self.writer.add_scalar("speed/steps_per_second", steps_per_second, step)

    def validation(self, trainer: "Trainer", validation: Validation) -> None:
        step, model = trainer.step_count, trainer.model
        for name, value in asdict(validation).items():
            self.writer.add_scalar(f"valid/{name}", value, step)
        clips = [b[:1] for b in trainer.valid[:2]]
        if not clips:
            return
        if len(clips) < 2:  # one held-out clip: its halves
            hop = trainer.hop
            half = clips[0].shape[-1] // 2 // hop * hop
            clips = [clips[0][..., :half], clips[0][..., half: 2 * half]]
        rate = int(model.sample_rate)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            first, second = clips[0].to(trainer.device), clips[1].to(trainer.device)
            length = min(first.shape[-1], second.shape[-1])
            first, second = first[..., :length], second[..., :length]
            model.reset()
            z = model.encode(first)
            d = model.analyze(first)
            model.reset()
            d_other = model.analyze(second)
            model.reset()
            reconstruction = model.decode(torch.cat([z, d], 1))
            model.reset()
            transfer = model.decode(torch.cat([z, d_other], 1))
        model.train(was_training)
        for name, audio in (("held_out", first), ("reconstruction", reconstruction), ("transfer", transfer)):
            mono = audio.reshape(-1).float().cpu().clamp(-1.0, 1.0)
            self.writer.add_audio(f"audio/{name}", mono, step, sample_rate=rate)
            self.writer.add_image(f"spectrogram/{name}", spectrogram_image(mono), step, dataformats="HW")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def spectrogram_image(audio: torch.Tensor, size: int = 1024) -> torch.Tensor:
    """A log-magnitude spectrogram as an image [frequency, time] in 0..1, low frequencies at the
    bottom (80 dB of range)."""
    window = torch.hann_window(size)
    magnitude = torch.stft(audio, size, size // 4, window=window, return_complex=True).abs()
    db = 20.0 * torch.log10(magnitude + 1e-7)
    db = (db - db.max() + 80.0).clamp_min(0.0) / 80.0
    return db.flip(0)


def open_board(logdir: Path) -> Board:
    """TensorBoard's writer in `logdir`, checked writable before any training."""
    logdir = Path(logdir)
    try:
        logdir.mkdir(parents=True, exist_ok=True)
        probe = logdir / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise TrainError(f"--logdir {logdir} is not writable: {error.strerror or error}") from None
    try:
        return Board(logdir)
    except ImportError:
        raise TrainError("TensorBoard logs need the tensorboard package: pip install tensorboard") from None


class Trainer:
    """A training run in a run folder: a new run, a fine-tuning run (`init`) or a resumed one."""

    def __init__(self, data: Path, out: Path, config: TrainConfig, config_name: str = "default", *,
                 resume: bool = False, init: Path | None = None, steps: int | None = None,
                 threads: int | None = None, device_name: str | None = None, model_overrides: dict | None = None,
                 foreign_data: Path | None = None, current_analysis: bool = False, world: World | None = None,
                 logdir: Path | None = None):
        self.world = world or World()
        count_over(self.world)
        self.data, self.out = Path(data), Path(out)
        self.checkpoint_path, self.best_path = self.out / "checkpoint.pt", self.out / "best.pt"
        if resume and not self.checkpoint_path.exists():
            raise TrainError(f"--resume: {self.checkpoint_path} does not exist")
        if not resume and self.checkpoint_path.exists():
            raise TrainError(f"{self.out} already holds a run: pass --resume to continue it, or choose another --out")
        self.out.mkdir(parents=True, exist_ok=True)
        if threads:
            torch.set_num_threads(threads)
        threads = torch.get_num_threads()
        self.device = choose_device(device_name, self.world)

        try:
            resumed = load_checkpoint(self.checkpoint_path, "--resume") if resume else None
            start = load_checkpoint(init, "--init") if init is not None and resumed is None else None
        except CheckpointError as error:
            raise TrainError(str(error)) from None
        if resumed is not None:  # a resumed run keeps its own training config
            config = TrainConfig(**{**asdict(TrainConfig()), **resumed["train_config"]})
            config_name = resumed["config_name"]
        elif start is not None:
            config_name = start["config_name"]
        if steps is not None:
            config.steps = steps
        self.config, self.config_name = config, config_name

        # Seeds before the model is built: its initial weights come from torch's generator.
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        try:
            weights_from = resumed if resumed is not None else start
            # A resumed run's checkpoint already names the analysis it trains with.
            model = model_from_checkpoint(weights_from, current_analysis and resumed is None) if weights_from \
                else build_model(config_name, **(model_overrides or {}))
        except CheckpointError as error:
            raise TrainError(str(error)) from None
        train_clips = load_split(self.data, "train", model.sample_rate)
        valid_clips = load_split(self.data, "valid", model.sample_rate)
        if weights_from is None:
            low, high, self.stats = descriptor_ranges(model, train_clips)
            model.set_descriptor_range(low, high)
        else:
            self.stats = weights_from["descriptor_stats"]
        self.model = model
        self.hop = model.hop_length
        length = max(int(config.excerpt_seconds * model.sample_rate) // self.hop, config.skip_hops + 8) * self.hop
        # The timbre term's labels: each training file's instrument, as an index into the sorted names.
        self.instruments: list[str] = []
        labels = None
        if config.timbre_weight > 0:
            if config.freeze_encoder:
                raise TrainError("--timbre-weight shapes what z holds; --freeze-encoder keeps it as it was: choose one")
            per_file = split_instruments(self.data, "train")
            self.instruments = sorted(set(per_file))
            if len(self.instruments) < 2:
                raise TrainError(f"--timbre-weight needs at least two instruments; {self.data} labels one")
            labels = [self.instruments.index(name) for name in per_file]
        elif config.move_weight > 0 or config.snapshot_weight > 0 or config.identity_weight > 0:
            raise TrainError("--move-weight, --snapshot-weight or --identity-weight needs --timbre-weight: they "
                             "use the timbre term's instruments")
        self.sampler = ExcerptSampler(train_clips, length, self.rng, config.gain_db, config.tilt, labels)
        self.valid = validation_batches(valid_clips, self.hop, model.sample_rate)
        # Other instruments' audio: the decoder must follow its conditioning from their latents
        # too, since timbre transfer plays any input into the model.
        self.foreign_sampler, self.foreign_valid = None, []
        if config.foreign_weight > 0:
            if foreign_data is None:
                raise TrainError("--foreign-weight needs --foreign-data (a folder of other instruments' audio)")
            foreign = load_split(Path(foreign_data), "train", model.sample_rate)
            self.foreign_sampler = ExcerptSampler(foreign, length, self.rng, config.gain_db, config.tilt)
            self.foreign_valid = validation_batches(foreign[::-1], self.hop, model.sample_rate)

        self.discriminator = LatentDiscriminator(model.latent_size, len(model.descriptor_names))
        model.to(self.device)
        self.discriminator.to(self.device)
        self.timbre = TimbreCentres(len(self.instruments), model.latent_size).to(self.device) \
            if self.instruments else None
        self.named = InstrumentMeans(len(self.instruments), model.latent_size) if self.instruments else None
        self.pitches = InstrumentMeans(len(self.instruments), 1) if self.instruments else None
        # The identity term's helpers, learnt from the real excerpts beside the model: the judge
        # that names instruments and the natural() estimate its transfer decode plays with.
        self.judge = self.natural_estimate = self.judge_optimiser = None
        if self.instruments and config.identity_weight > 0:
            self.judge = InstrumentJudge(len(self.instruments), int(model.sample_rate)).to(self.device)
            self.natural_estimate = NaturalEstimate(model).to(self.device)
            self.judge_optimiser = torch.optim.Adam(
                list(self.judge.parameters()) + list(self.natural_estimate.parameters()), lr=1e-3)
        if config.freeze_encoder:
            # The encoder keeps its weights, so z (and the latent probe) stays as it was; measured:
            # fine-tuning the whole model with the foreign term moved the loudness probe R² of the
            # violin and the choir from 0.06 and below to 0.47 and 0.55.
            for parameter in model.encoder.parameters():
                parameter.requires_grad_(False)
        learnt = [p for p in model.parameters() if p.requires_grad]
        if self.timbre is not None:
            learnt += list(self.timbre.parameters())
        self.optimiser = torch.optim.Adam(learnt, lr=config.learning_rate)
        self.disc_optimiser = torch.optim.Adam(self.discriminator.parameters(), lr=config.learning_rate)
        self.step_count, self.minutes, self.best_valid, self.best_spectral = 0, 0.0, math.inf, math.nan
        if resumed is not None:
            self.discriminator.load_state_dict(resumed["discriminator"])
            if self.timbre is not None:
                self.timbre.load_state_dict(resumed["timbre_centres"])
                if resumed.get("named_timbres") is not None:  # checkpoints before the snapshot term lack it
                    self.named.load_state_dict(resumed["named_timbres"])
                    self.pitches.load_state_dict(resumed["instrument_pitches"])
            if self.judge is not None and resumed.get("judge") is not None:
                self.judge.load_state_dict(resumed["judge"])
                self.natural_estimate.load_state_dict(resumed["natural_estimate"])
                self.judge_optimiser.load_state_dict(resumed["judge_optimiser"])
            self.optimiser.load_state_dict(resumed["optimiser"])
            self.disc_optimiser.load_state_dict(resumed["disc_optimiser"])
            self.step_count, self.minutes = resumed["step"], resumed["minutes"]
            self.best_valid = resumed["best_valid"]
            self.best_spectral = resumed.get("best_valid_spectral", math.nan)
            torch.set_rng_state(resumed["torch_rng"])
            self.rng.bit_generator.state = resumed["numpy_rng"]
        elif self.timbre is not None and start is not None:
            # Trained weights: each centre starts at its instrument's mean z, not at random.
            means = self._instrument_means(train_clips, labels)
            self.timbre.centres.data.copy_(means)
            self.named.start_at(means)  # the instruments' pitches start at their first excerpts
        self.decay = (config.final_learning_rate / config.learning_rate) ** (1.0 / max(config.steps, 1))

        self.recipe = {
            "config": config_name, "model_config": json.loads(model.config_dict), "train_config": asdict(config),
            "data": str(self.data), "dataset": _dataset_info(self.data),
            "train_minutes_of_audio": round(sum(len(c) for c in train_clips) / model.sample_rate / 60, 2),
            "descriptor_min": model.descriptor_min, "descriptor_max": model.descriptor_max,
            "descriptor_stats": self.stats, "hardware": hardware_description(self.device, threads),
            "torch": torch.__version__,
        }
        if self.instruments:
            self.recipe["timbre_term"] = {"instruments": self.instruments}
        if foreign_data is not None and config.foreign_weight > 0:
            manifest = Path(foreign_data) / "dataset.json"
            described = json.loads(manifest.read_text()) if manifest.exists() else {}
            # Melodies written before the field existed had the breath noise between phrases.
            self.recipe["foreign_data"] = {"data": str(foreign_data), "noise_between_phrases": True} | {
                k: described[k] for k in ("kind", "instruments", "soundfonts", "sources", "seconds_each", "seed",
                                          "noise_between_phrases")
                if k in described}
        if resumed is not None and "init" in resumed:
            self.recipe["init"] = resumed["init"]
        elif start is not None:
            self.recipe["init"] = init_summary(init, start)
            if current_analysis:
                self.recipe["init"]["current_analysis"] = True
        # A run started from trained weights has a trained encoder: the adversary starts at full weight.
        self.warmup_steps = 0.0 if "init" in self.recipe else config.fader_warmup * config.steps
        self.tracked = len(tracked_indices(model))
        # Every rank starts from rank 0's weights and state (a resumed run's are the same file's).
        broadcast_state(self.world, model, self.discriminator, self.timbre, self.judge, self.natural_estimate)
        self.recipe["world_size"] = self.world.size
        if self.world.distributed:
            self.recipe["distributed"] = {"world_size": self.world.size, "backend": self.world.backend,
                                          "batch_per_rank": config.batch, "global_batch": config.batch * self.world.size}
        self.log = RunLog(self.out / "log.csv", resume, self.step_count) if self.world.main else None
        self.board = open_board(logdir if logdir is not None else self.out / "tensorboard") if self.world.main else None

    def _instrument_means(self, clips: list[np.ndarray], labels: list[int], seconds: float = 10.0) -> torch.Tensor:
        """[instruments, latent]: each instrument's mean z over the first seconds of its clips,
        frames with signal only (timbres.named_timbres' rule)."""
        from .timbres import frames_by_name

        self.model.eval()
        named = [(labels[i], clip[: int(seconds * self.model.sample_rate)]) for i, clip in enumerate(clips)]
        frames = frames_by_name(self.model, named)
        self.model.train()
        return torch.stack([torch.from_numpy(frames[k].mean(0)).float() for k in range(len(self.instruments))])

    # -- One step -------------------------------------------------------------------------------

    def step(self) -> StepLosses:
        """One optimisation step of the model and one of the adversary, on a fresh batch."""
        config, model = self.config, self.model
        lr = config.learning_rate * self.decay ** self.step_count
        for group in self.optimiser.param_groups + self.disc_optimiser.param_groups:
            group["lr"] = lr
        x, batch_labels = self._draw(self.sampler)
        model.reset()
        with torch.no_grad():
            d = model.analyze(x)
        with torch.set_grad_enabled(not config.freeze_encoder):
            z, mean, kl = model.encode_distribution(x, draw=self._normal_like)
        y = model.decode(torch.cat([z, d], 1))
        skip = config.skip_hops * self.hop
        spectral = multiscale_spectral_loss(x[..., skip:], y[..., skip:])
        loss = spectral
        disc_loss = adversarial = torch.zeros(())
        if not config.freeze_encoder:  # KL and the adversary act on the encoder only
            disc_loss, adversarial = fader_losses(self.discriminator, mean, model.normalise_descriptors(d),
                                                  adversary_frames(model, d, config.adversary_range_db))
            fader = config.fader_weight * min(1.0, self.step_count / max(1.0, self.warmup_steps))
            loss = loss + config.kl_weight * kl + fader * adversarial
        timbre = move = snapshot = identity = judge_loss = torch.zeros(())
        if self.timbre is not None:
            labels = torch.tensor(batch_labels, device=self.device)
            loudness = d[:, list(model.descriptor_names).index("loudness")]
            timbre = self.timbre(mean, frames_with_signal(loudness), labels)
            loss = loss + config.timbre_weight * timbre
            if config.move_weight > 0:
                move = latent_move_loss(model, z, d, labels, self.timbre.centres, config.skip_hops)
                loss = loss + config.move_weight * move
            sounding = frames_with_signal(loudness)
            if config.snapshot_weight > 0 or self.judge is not None:  # the named timbres they decode with
                # The running named timbres follow the whole global batch: the same on every rank.
                every_label = gather(self.world, labels)
                self.named.update(gather(self.world, excerpt_means(mean, sounding).detach()), every_label)
                if "pitch" in model.descriptor_names:
                    pitch = d[:, list(model.descriptor_names).index("pitch")].unsqueeze(1)
                    self.pitches.update(gather(self.world, excerpt_means(pitch, sounding).detach()), every_label)
            decoded = [(y, labels)]
            if config.snapshot_weight > 0:
                snapshot, y_still = snapshot_loss(model, x, d, self.named.of(labels), config.skip_hops)
                loss = loss + config.snapshot_weight * snapshot
                decoded.append((y_still, labels))
            if self.judge is not None:
                # Each excerpt also played with another instrument's named timbre, as a transfer.
                count = len(self.instruments)
                draws = torch.randint(1, count, (labels.shape[0] * self.world.size,))[shard(self.world, labels.shape[0])]
                others = (labels + draws.to(labels.device)) % count
                y_other = transfer_decode(model, d, sounding, self.named.of(others), self.pitches.of(others)[:, 0],
                                          self.natural_estimate)
                decoded.append((y_other, others))
                # Every decoded output named as the instrument it plays.
                identity = torch.stack([self.judge.identity_loss(out[..., skip:], named)
                                        for out, named in decoded]).mean()
                ramp = min(1.0, self.step_count / max(1, config.identity_warmup))
                loss = loss + config.identity_weight * ramp * identity
                judge_loss = self.judge.fit_loss(x[..., skip:], labels) \
                    + self.natural_estimate.fit_loss(model, mean, d, sounding)
        tracking = torch.zeros(())
        if config.tracking_weight > 0 and self.tracked:
            shifts = (self._uniform(x.shape[0], self.tracked) * 2.0 - 1.0) * config.tracking_shift
            tracking = tracking_loss(model, z, d, shifts.to(self.device), config.skip_hops)
            loss = loss + config.tracking_weight * tracking
        foreign = torch.zeros(())
        if self.foreign_sampler is not None and self.tracked:
            xf, _ = self._draw(self.foreign_sampler)
            model.reset()
            with torch.no_grad():
                df = model.analyze(xf)
                # Only the decoder learns here: an encoder pushed by this term would take on the
                # descriptors (measured: the loudness probe R² rose from 0.06 to 0.43).
                zf = model.encode(xf)
                # At the pitches and spectral shapes this model plays (eval's shifted foreign figure
                # asks the same, at mid-range).
                df = into_range(model, df)
            shifts = (self._uniform(xf.shape[0], self.tracked) * 2.0 - 1.0) * config.tracking_shift
            foreign = tracking_loss(model, zf, df, shifts.to(self.device), config.skip_hops, config.clarity_weight)
            loss = loss + config.foreign_weight * foreign
        if not torch.isfinite(loss):
            raise TrainError(f"the loss became {float(loss)} at step {self.step_count}: lower --learning-rate")
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.world, _parameters(self.optimiser))
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        self.optimiser.step()
        if not config.freeze_encoder:
            self.disc_optimiser.zero_grad(set_to_none=True)
            disc_loss.backward()
            average_gradients(self.world, _parameters(self.disc_optimiser))
            self.disc_optimiser.step()
        if self.judge is not None:  # after the model's step: its backward also reached the judge
            self.judge_optimiser.zero_grad(set_to_none=True)
            judge_loss.backward()
            average_gradients(self.world, _parameters(self.judge_optimiser))
            self.judge_optimiser.step()
        self.step_count += 1
        return StepLosses(loss.item(), spectral.item(), kl.item(), adversarial.item(), tracking.item(),
                          disc_loss.item(), lr, foreign.item(), timbre.item(), move.item(), snapshot.item(),
                          identity.item(), judge_loss.item())

    def _draw(self, sampler) -> tuple[torch.Tensor, list[int]]:
        """This rank's share of a global batch (--batch x world size excerpts, drawn alike on
        every rank from the same generator), on the training device, and its labels."""
        size = self.config.batch
        batch = sampler.batch(size * self.world.size)
        part = shard(self.world, size)
        labels = list(sampler.last_labels[part]) if sampler.last_labels else []
        batch = batch[part]
        if self.device.type == "cuda":
            return batch.pin_memory().to(self.device, non_blocking=True), labels
        return batch.to(self.device), labels

    # Random draws per excerpt come from the global batch and each rank takes its share, as
    # the excerpts do: two ranks of batch B draw what one process of batch 2B draws.
    def _normal_like(self, like: torch.Tensor) -> torch.Tensor:
        count = like.shape[0]
        noise = torch.randn((count * self.world.size,) + tuple(like.shape[1:]), dtype=like.dtype)
        return noise[shard(self.world, count)].to(like.device)

    def _uniform(self, count: int, *shape: int) -> torch.Tensor:
        return torch.rand((count * self.world.size,) + shape)[shard(self.world, count)]

    # -- Validation and checkpoints ---------------------------------------------------------------

    def validate(self) -> Validation:
        config = self.config
        spectral, tracking = validation_loss(self.model, self.valid, config.skip_hops, self.device,
                                             config.tracking_shift if config.tracking_weight > 0 else 0.0)
        foreign = 0.0
        if self.foreign_valid:
            foreign = validation_tracking(self.model, self.foreign_valid, config.skip_hops, self.device,
                                          config.tracking_shift, transpose=True)
        self.model.train()
        return Validation(spectral + config.tracking_weight * tracking + config.foreign_weight * foreign,
                          spectral, tracking, foreign)

    def _weights(self) -> dict:
        payload = model_payload(self.model, self.config_name) | {"descriptor_stats": self.stats}
        if "init" in self.recipe:
            payload["init"] = self.recipe["init"]
        return payload

    def keep_if_best(self, validation: Validation, always: bool = False) -> None:
        """Writes best.pt (the only place that does) when this validation beats the best so far."""
        if not (always or validation.selection < self.best_valid):
            return
        self.best_valid, self.best_spectral = validation.selection, validation.spectral
        save_checkpoint(self._weights() | {"step": self.step_count, "valid_loss": validation.selection,
                                           "valid_spectral": validation.spectral,
                                           "valid_tracking": validation.tracking}, self.best_path)

    def save_checkpoint(self) -> None:
        save_checkpoint(self._weights() | {
            "discriminator": self.discriminator.state_dict(), "optimiser": self.optimiser.state_dict(),
            "disc_optimiser": self.disc_optimiser.state_dict(),
            "timbre_centres": None if self.timbre is None else self.timbre.state_dict(),
            "named_timbres": None if self.named is None else self.named.state_dict(),
            "instrument_pitches": None if self.pitches is None else self.pitches.state_dict(),
            "judge": None if self.judge is None else self.judge.state_dict(),
            "natural_estimate": None if self.judge is None else self.natural_estimate.state_dict(),
            "judge_optimiser": None if self.judge is None else self.judge_optimiser.state_dict(),
            "step": self.step_count, "minutes": self.minutes, "world_size": self.world.size,
            "best_valid": self.best_valid, "best_valid_spectral": self.best_spectral,
            "train_config": asdict(self.config),
            "torch_rng": torch.get_rng_state(), "numpy_rng": self.rng.bit_generator.state}, self.checkpoint_path)

    # -- The loop ---------------------------------------------------------------------------------

    def run(self, max_minutes: float | None = None, progress: bool = True) -> dict:
        """Steps until the step budget, `max_minutes` of training in all (sessions before a
        resume included) or SIGINT/SIGTERM; checkpoints every config.checkpoint_seconds and at
        the end. Returns the recipe, also written to run.json."""
        from tqdm import tqdm

        config = self.config
        interrupted = []
        previous_handlers = {s: signal.signal(s, lambda signum, frame: interrupted.append(signum))
                             for s in (signal.SIGINT, signal.SIGTERM)}
        budget = max_minutes if max_minutes is not None else math.inf
        main = self.world.main
        bar = tqdm(total=config.steps, initial=self.step_count, desc=f"train {self.out.name}", unit="step",
                   disable=not (progress and main), dynamic_ncols=True)
        if main:
            print(f"timbrel train: {self.world.size} process{'es' if self.world.size > 1 else ''}"
                  f"{f' ({self.world.backend})' if self.world.distributed else ''} on {self.recipe['hardware']}, "
                  f"batch {config.batch}{f' per rank ({config.batch * self.world.size} in all)' if self.world.distributed else ''}",
                  file=sys.stderr if not progress else sys.stdout, flush=True)
        session_start, minutes_at_start = time.monotonic(), self.minutes
        last_checkpoint = time.monotonic()
        stop_reason = "steps"
        self.model.train()
        try:
            step_clock = time.monotonic()
            while self.step_count < config.steps:
                # The ranks stop together (rank 0's reason is the one recorded).
                if any_rank(self.world, bool(interrupted) or self.minutes >= budget):
                    stop_reason = "interrupted" if interrupted else "max-minutes"
                    break
                losses = self.step()
                self.minutes = minutes_at_start + (time.monotonic() - session_start) / 60.0
                bar.update(1)
                bar.set_postfix(spectral=f"{losses.spectral:.3f}", tracking=f"{losses.tracking:.3f}",
                                disc=f"{losses.discriminator:.2f}")
                if not main:
                    continue
                validation = None
                if self.step_count % config.valid_every == 0 or self.step_count == config.steps:
                    validation = self.validate()
                    self.keep_if_best(validation)
                    if self.board is not None:
                        self.board.validation(self, validation)
                if self.step_count % LOG_EVERY == 0 or validation is not None:
                    self.log.write(self.step_count, self.minutes, losses, validation)
                    if self.board is not None:
                        now = time.monotonic()
                        self.board.losses(self.step_count, losses, LOG_EVERY / max(now - step_clock, 1e-9))
                        step_clock = now
                if time.monotonic() - last_checkpoint > config.checkpoint_seconds:
                    self.save_checkpoint()
                    last_checkpoint = time.monotonic()
        finally:
            bar.close()
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
        agree = weights_agree(self.world, self.model)  # a collective: every rank, before rank 0 writes
        if self.world.distributed:
            self.recipe["distributed"]["ranks_agree"] = agree
            if not agree:
                raise TrainError("the ranks ended with different weights: the distributed run is not consistent")
        if not main:
            return self.recipe
        if not self.best_path.exists():  # stopped before the first validation
            self.keep_if_best(self.validate(), always=True)
        self.save_checkpoint()
        if self.board is not None:
            self.board.close()
        self.recipe.update({"steps": self.step_count, "minutes": round(self.minutes, 2), "stopped_by": stop_reason,
                            "best_valid_loss": round(self.best_valid, 5),
                            "best_valid_spectral": round(self.best_spectral, 5)})
        write_atomically(self.out / "run.json", json.dumps(self.recipe, indent=2) + "\n")
        return self.recipe


def train(data: Path, config_name: str, out: Path, config: TrainConfig, max_minutes: float | None = None,
          resume: bool = False, threads: int | None = None, device_name: str | None = None,
          progress: bool = True, model_overrides: dict | None = None, steps: int | None = None,
          init: Path | None = None, foreign_data: Path | None = None, current_analysis: bool = False,
          logdir: Path | None = None) -> dict:
    """Trains (or resumes) a run; returns the final summary (also written to run.json). Under
    torchrun, every rank calls this: the process group is started and ended here
    (timbrel.training.distributed).

    A resumed run keeps the training config stored in its checkpoint; `steps` (if given)
    replaces the step budget, so a finished run can be extended. `max_minutes` bounds the run's
    total training time, counting the sessions before a resume. `init` (a new run only) starts
    from a checkpoint's weights and descriptor ranges; its config name replaces config_name;
    `current_analysis` gives that model today's pitch analysis."""
    world = start_world(device_name)
    try:
        trainer = Trainer(data, out, config, config_name, resume=resume, init=init, steps=steps, threads=threads,
                          device_name=device_name, model_overrides=model_overrides, foreign_data=foreign_data,
                          current_analysis=current_analysis, world=world, logdir=logdir)
        return trainer.run(max_minutes, progress)
    finally:
        end_world(world)


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
    parser.add_argument("--current-analysis", action="store_true",
                        help="with --init: fine-tune onto today's pitch analysis (the weights' own analysis otherwise)")
    parser.add_argument("--tracking-weight", type=float, default=TrainConfig.tracking_weight,
                        help="weight of the descriptor tracking term (0 turns it off)")
    parser.add_argument("--foreign-data", type=Path, default=None,
                        help="a folder of other instruments' audio (train/ WAVs) for the foreign tracking term")
    parser.add_argument("--foreign-weight", type=float, default=TrainConfig.foreign_weight,
                        help="weight of the tracking term on --foreign-data's latents and descriptors (0: off)")
    parser.add_argument("--clarity-weight", type=float, default=TrainConfig.clarity_weight,
                        help="weight of the pitch clarity of the foreign term's output (0: off)")
    parser.add_argument("--freeze-encoder", action="store_true",
                        help="only the decoder learns (fine-tuning that leaves what z holds as it was)")
    parser.add_argument("--fader-weight", type=float, default=TrainConfig.fader_weight,
                        help="weight of the adversarial term that keeps descriptors out of z")
    parser.add_argument("--kl-weight", type=float, default=TrainConfig.kl_weight,
                        help="weight of the latent's KL term (lower leaves z more room: a many-instrument model's "
                             "timbres)")
    parser.add_argument("--timbre-weight", type=float, default=TrainConfig.timbre_weight,
                        help="weight of the timbre term: each excerpt's mean z nearest its instrument's centre "
                             "(a dataset from `timbrel dataset timbres`; 0: off)")
    parser.add_argument("--move-weight", type=float, default=TrainConfig.move_weight,
                        help="weight of the morph term: z moved between instrument centres (-0.5..1.5) still "
                             "decodes at the loudness and spectral shape asked (needs --timbre-weight; 0: off)")
    parser.add_argument("--snapshot-weight", type=float, default=TrainConfig.snapshot_weight,
                        help="weight of the snapshot term: each excerpt decoded with z held at its instrument's "
                             "running mean z (a named timbre) and its own descriptors is still the excerpt "
                             "(needs --timbre-weight; 0: off)")
    parser.add_argument("--identity-weight", type=float, default=TrainConfig.identity_weight,
                        help="weight of the identity term: decoded outputs named as their excerpt's instrument by "
                             "a small judge of the real excerpts (needs --timbre-weight; 0: off)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=TrainConfig.batch)
    parser.add_argument("--learning-rate", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    parser.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu or cuda; under "
                        "torchrun each rank takes the GPU of its local rank")
    parser.add_argument("--logdir", type=Path, default=None,
                        help="TensorBoard logs (default: OUT/tensorboard): `tensorboard --logdir OUT` to watch")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    config = TrainConfig(seed=args.seed, batch=args.batch, learning_rate=args.learning_rate,
                         final_learning_rate=args.learning_rate / 10, tracking_weight=args.tracking_weight,
                         fader_weight=args.fader_weight, foreign_weight=args.foreign_weight,
                         clarity_weight=args.clarity_weight, freeze_encoder=args.freeze_encoder,
                         kl_weight=args.kl_weight, timbre_weight=args.timbre_weight, move_weight=args.move_weight,
                         snapshot_weight=args.snapshot_weight, identity_weight=args.identity_weight)
    if args.current_analysis and args.init is None:
        print("timbrel train: --current-analysis goes with --init (a new run has today's analysis already)",
              file=sys.stderr)
        return 2
    if args.init is not None and args.resume:
        print("timbrel train: --init starts a new run; --resume continues one: choose one", file=sys.stderr)
        return 2
    try:
        summary = train(args.data, args.config, args.out, config, max_minutes=args.max_minutes,
                        resume=args.resume, threads=args.threads, device_name=args.device,
                        progress=not args.quiet, steps=args.steps, init=args.init, foreign_data=args.foreign_data,
                        current_analysis=args.current_analysis, logdir=args.logdir)
    except TrainError as error:
        print(f"timbrel train: {error}", file=sys.stderr)
        return 2
    if "steps" not in summary:  # a rank other than 0: rank 0 reports
        return 0
    print(f"{args.out}: {summary['steps']} steps in {summary['minutes']} min "
          f"(stopped by {summary['stopped_by']}), best validation spectral loss {summary['best_valid_spectral']}")
    return 130 if summary["stopped_by"] == "interrupted" else 0
