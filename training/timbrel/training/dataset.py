"""Training datasets: generated from the FluidR3_GM soundfont, or prepared from a user's folder.

  timbrel dataset fluidr3 --instrument violin --minutes N --out DIR [--seed S]
  timbrel dataset melodies --instruments NAME... --out DIR      (other instruments' audio)
  timbrel dataset timbres --minutes N --out DIR                 (many instruments, labelled)
  timbrel dataset folder PATH --out DIR [--seed S]

Both write 44.1 kHz mono float WAV files into DIR/train and DIR/valid plus DIR/dataset.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from ..files import write_atomically
from . import soundfont

DEFAULT_SAMPLE_RATE = 44100

# Playable MIDI ranges (lowest, highest), kept inside what FluidR3's presets sound well over.
INSTRUMENT_RANGES: dict[str, tuple[int, int]] = {
    "violin": (55, 100),
    "flute": (60, 96),
    "choir": (48, 79),
    "voice": (48, 79),
    "cello": (36, 76),
    "trumpet": (54, 86),
}
FLUIDR3_SOURCE = "FluidR3_GM.sf2 (MIT)"
TARGET_CHUNK_SECONDS = 45.0  # long datasets become many ~45 s files instead of one huge MIDI file
VALID_EVERY = 10  # every 10th chunk / ~10% of files go to validation

TRIM_FRAME = 512
TRIM_RELATIVE_DB = -60.0  # silence is 60 dB below the loudest frame ...
SILENCE_FLOOR_DBFS = -90.0  # ... or below this absolute level (16-bit dither is about -100 dBFS)
MIN_SECONDS = 0.5

# Skip reasons, as stored in dataset.json, and how the summary spells them.
SKIP_REASONS = {
    "unreadable": "unreadable",
    "non_finite": "NaN/Inf samples",
    "silent": "silent",
    "too_short": f"shorter than {MIN_SECONDS} s after trimming silence",
}
# Extensions libsndfile commonly reads; anything else in the folder (text, images) is ignored, not skipped.
AUDIO_EXTENSIONS = {
    ".wav", ".wave", ".aif", ".aiff", ".aifc", ".flac", ".ogg", ".oga", ".opus", ".mp3",
    ".au", ".snd", ".caf", ".w64", ".rf64", ".voc", ".sd2", ".htk", ".mat", ".pvf", ".xi", ".wve",
} | {"." + name.lower() for name in sf.available_formats()}


class DatasetError(Exception):
    """A dataset could not be made; the message says why and what to do."""


@dataclass
class DatasetSummary:
    out: Path
    source: str
    train_files: int = 0
    valid_files: int = 0
    train_seconds: float = 0.0
    valid_seconds: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)
    ignored_files: int = 0  # files that are not audio by their extension

    def __str__(self) -> str:
        text = (f"Wrote {_count(self.train_files, 'train file')} ({_duration(self.train_seconds)}) and "
                f"{_count(self.valid_files, 'valid file')} ({_duration(self.valid_seconds)}) "
                f"of 44.1 kHz mono audio to {self.out} from {self.source}.")
        if self.skipped:
            text += f" Skipped {_count(sum(self.skipped.values()), 'file')}: {describe_skips(self.skipped)}."
        if self.ignored_files:
            text += f" Ignored {_count(self.ignored_files, 'file')} that {'is' if self.ignored_files == 1 else 'are'} not audio."
        return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.1f} s"


def describe_skips(skipped: dict[str, int]) -> str:
    return ", ".join(f"{count} {SKIP_REASONS.get(reason, reason)}" for reason, count in skipped.items() if count)


# ----------------------------------------------------------------------------------------------------------
# Audio helpers


def frame_levels_db(audio: np.ndarray) -> np.ndarray:
    """RMS level of each TRIM_FRAME-sample frame in dBFS (the last frame zero-padded)."""
    frames = -(-len(audio) // TRIM_FRAME)
    padded = np.zeros(frames * TRIM_FRAME, dtype=np.float64)
    padded[: len(audio)] = audio
    rms = np.sqrt(np.mean(padded.reshape(frames, TRIM_FRAME) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-12))


def is_silent(audio: np.ndarray) -> bool:
    return len(audio) == 0 or bool(frame_levels_db(audio).max() <= SILENCE_FLOOR_DBFS)


def trim_silence(audio: np.ndarray) -> np.ndarray:
    """Cuts leading and trailing frames quieter than the threshold; returns an empty array for silence."""
    if len(audio) == 0:
        return audio
    level_db = frame_levels_db(audio)
    threshold_db = max(level_db.max() + TRIM_RELATIVE_DB, SILENCE_FLOOR_DBFS)
    loud = np.flatnonzero(level_db > threshold_db)
    if len(loud) == 0:
        return audio[:0]
    # Keep one frame either side so soft attacks and release tails are not cut at the threshold.
    start = max(loud[0] - 1, 0) * TRIM_FRAME
    end = min((loud[-1] + 2) * TRIM_FRAME, len(audio))
    return audio[start:end]


def float_wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A mono 32-bit float WAV. Written by hand because libsndfile stamps the write time into a PEAK chunk,
    which would make identical datasets differ byte for byte."""
    data = np.ascontiguousarray(audio, dtype="<f4").tobytes()
    frames = len(audio)
    fmt = struct.pack("<HHIIHHH", 3, 1, sample_rate, sample_rate * 4, 4, 32, 0)  # WAVE_FORMAT_IEEE_FLOAT
    chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt
              + b"fact" + struct.pack("<II", 4, frames)
              + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    write_atomically(path, float_wav_bytes(audio, sample_rate))


# ----------------------------------------------------------------------------------------------------------
# Output folder


def _prepare_output(out: Path) -> set[Path]:
    """Returns the WAV files a previous run left in out; refuses a folder that is not a dataset."""
    old_files = {path for split in ("train", "valid", "heldout") if (out / split).is_dir()
                 for path in (out / split).glob("*.wav")}
    if old_files and not (out / "dataset.json").exists():
        raise DatasetError(f"{out} already holds WAV files but no dataset.json; choose an empty --out folder")
    return old_files


def _finish_output(out: Path, manifest: dict, old_files: set[Path]) -> None:
    write_atomically(out / "dataset.json", json.dumps(manifest, indent=2) + "\n")
    # Files of an earlier run into the same folder would otherwise silently join this dataset.
    current = {out / name for name in manifest["train"] + manifest["valid"]}
    for stale in old_files - current:
        stale.unlink(missing_ok=True)


def _progress(iterable, total: int, unit: str, desc: str):
    from tqdm import tqdm

    # disable=None: a bar on a terminal, nothing in logs and tests.
    return tqdm(iterable, total=total, unit=unit, desc=desc, disable=None, leave=False)


# ----------------------------------------------------------------------------------------------------------
# FluidR3 generation

NOTE_BEATS = np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0])
NOTE_BEAT_WEIGHTS = np.array([0.12, 0.24, 0.08, 0.22, 0.1, 0.13, 0.06, 0.05])


def melody_notes(instrument: str, seconds: float, tempo_bpm: float,
                 rng: np.random.Generator, span: tuple[int, int] | None = None) -> list[tuple[int, float, int]]:
    """Monophonic phrases over the instrument's range (INSTRUMENT_RANGES, or `span`), about
    `seconds` long: (pitch, beats, velocity), pitch < 0 is a rest. Phrases vary in dynamics
    shape, articulation, note lengths and leaps."""
    low, high = span if span is not None else INSTRUMENT_RANGES[instrument]
    target_beats = seconds * tempo_bpm / 60.0
    notes: list[tuple[int, float, int]] = []
    beats = 0.0
    pitch = int(rng.integers(low + (high - low) // 4, high - (high - low) // 4 + 1))
    while beats < target_beats:
        length = int(rng.integers(4, 13))
        base_velocity = rng.uniform(40, 110)
        shape = rng.choice(["crescendo", "decrescendo", "swell", "flat"])
        swing = rng.uniform(15, 45)  # how far the phrase's dynamics travel
        articulation = rng.choice(["legato", "staccato", "mixed"], p=[0.5, 0.25, 0.25])
        for index in range(length):
            position = index / max(length - 1, 1)
            offset = {"crescendo": position - 0.5, "decrescendo": 0.5 - position,
                      "swell": 0.5 - abs(position - 0.5) * 2, "flat": 0.0}[shape] * swing
            velocity = int(np.clip(base_velocity + offset + rng.normal(0, 5), 20, 127))
            if rng.random() < 0.12:  # occasional larger leap
                step = int(rng.integers(5, 13)) * (1 if rng.random() < 0.5 else -1)
            else:
                step = int(rng.integers(-4, 5))
            pitch += step
            # Reflect off the range ends so melodies stay playable without piling up at the edges.
            if pitch > high:
                pitch = max(2 * high - pitch, low)
            if pitch < low:
                pitch = min(2 * low - pitch, high)
            note_beats = float(rng.choice(NOTE_BEATS, p=NOTE_BEAT_WEIGHTS))
            staccato = articulation == "staccato" or (articulation == "mixed" and rng.random() < 0.5)
            if staccato:
                sounding = round(note_beats * rng.uniform(0.3, 0.5) * 8) / 8 or 0.125
                notes.append((pitch, sounding, velocity))
                notes.append((-1, note_beats - sounding, 0))
            else:
                notes.append((pitch, note_beats, velocity))
            beats += note_beats
            if beats >= target_beats:
                break
            if rng.random() < 0.05:  # a breath inside the phrase
                rest = float(rng.choice([0.25, 0.5]))
                notes.append((-1, rest, 0))
                beats += rest
        rest = float(rng.choice([0.5, 1.0, 1.5, 2.0, 3.0]))
        notes.append((-1, rest, 0))
        beats += rest
    notes.append((-1, 2.0, 0))  # lets the last release ring before fluidsynth stops
    return notes


def _render_melody(midi: Path, notes: list[tuple[int, float, int]], program: int, tempo: float, sample_rate: int,
                   font: str, what: str) -> np.ndarray:
    """One melody rendered dry with a soundfont, silence trimmed; `what` names it in errors."""
    soundfont.melody_midi(midi, notes, program, tempo_bpm=tempo)
    try:
        audio = trim_silence(soundfont.render_midi(midi, sample_rate, soundfont=font))
    except (FileNotFoundError, subprocess.CalledProcessError) as error:
        raise DatasetError(f"fluidsynth failed on {what}: {error}") from None
    if is_silent(audio):
        raise DatasetError(f"fluidsynth rendered silence for {what}; check the soundfont")
    return audio


def _chunk_plan(minutes: float) -> tuple[int, float, set[int]]:
    """Number of chunks, seconds each, and which chunk indices are validation (at least one)."""
    total = minutes * 60.0
    count = max(2, math.ceil(total / TARGET_CHUNK_SECONDS))
    valid = {index for index in range(count) if index % VALID_EVERY == VALID_EVERY - 1} or {count - 1}
    return count, total / count, valid


def generate_fluidr3(instrument: str, minutes: float, out: Path, seed: int = 0,
                     sample_rate: int = DEFAULT_SAMPLE_RATE) -> DatasetSummary:
    """Renders varied monophonic melodies for `instrument` with FluidR3 into out/train and out/valid."""
    out = Path(out)
    if instrument not in INSTRUMENT_RANGES or instrument not in soundfont.PROGRAMS:
        raise DatasetError(f"unknown instrument '{instrument}' (known: {', '.join(sorted(INSTRUMENT_RANGES))})")
    if not (minutes > 0 and math.isfinite(minutes)):
        raise DatasetError(f"--minutes must be a positive number, got {minutes}")
    try:
        sf2 = soundfont.find_soundfont()
    except FileNotFoundError as error:
        raise DatasetError(str(error)) from None
    old_files = _prepare_output(out)
    count, chunk_seconds, valid_indices = _chunk_plan(minutes)
    summary = DatasetSummary(out=out, source=f"{sf2.name} ({instrument})")
    files: dict[str, list[str]] = {"train": [], "valid": []}
    seconds = {"train": 0.0, "valid": 0.0}
    tempos: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        for index in _progress(range(count), count, "chunk", f"fluidr3 {instrument}"):
            # One generator per chunk: chunk k is the same whatever --minutes is.
            rng = np.random.default_rng([seed, index])
            tempo = float(rng.uniform(66, 140))
            tempos.append(round(tempo, 2))
            audio = _render_melody(Path(scratch) / f"chunk{index}.mid", melody_notes(instrument, chunk_seconds, tempo, rng),
                                   soundfont.PROGRAMS[instrument], tempo, sample_rate, "FluidR3", f"chunk {index}")
            split = "valid" if index in valid_indices else "train"
            name = f"{split}/{instrument}_{index:04d}.wav"
            write_wav(out / name, audio, sample_rate)
            files[split].append(name)
            seconds[split] += len(audio) / sample_rate
    manifest = {
        "kind": "fluidr3",
        "instrument": instrument,
        "source": FLUIDR3_SOURCE,
        "program": soundfont.PROGRAMS[instrument],
        "midi_range": list(INSTRUMENT_RANGES[instrument]),
        "seed": seed,
        "minutes_requested": minutes,
        "sample_rate": sample_rate,
        "tempos_bpm": tempos,
        "train": files["train"],
        "valid": files["valid"],
        "seconds": {split: round(value, 3) for split, value in seconds.items()},
        "skipped": {},
    }
    _finish_output(out, manifest, old_files)
    summary.train_files, summary.valid_files = len(files["train"]), len(files["valid"])
    summary.train_seconds, summary.valid_seconds = seconds["train"], seconds["valid"]
    return summary


# ----------------------------------------------------------------------------------------------------------
# A user's folder


def _split_key(relative: str, seed: int) -> int:
    """A stable hash (Python's hash() changes per process) that decides the split of a file."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{relative}".encode()).digest()[:8], "big")


def _output_name(relative: Path, used: set[str]) -> str:
    """A flat file name that still says where the audio came from: sub/take.flac -> sub__take_flac.wav."""
    stem = relative.as_posix()
    stem = stem[:-4] if stem.lower().endswith(".wav") else stem[: -len(relative.suffix)] + "_" + relative.suffix[1:]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem.replace("/", "__")) + ".wav"
    if name.lower() in used:  # rare collision after sanitising: make it unique, still deterministically
        name = name[:-4] + f"_{_split_key(relative.as_posix(), 0) % 10**8:08d}.wav"
    used.add(name.lower())
    return name


def load_audio(path: Path, sample_rate: int) -> tuple[np.ndarray | None, str | None]:
    """Reads, downmixes, checks and resamples one file; returns (audio, None) or (None, skip reason)."""
    import soxr

    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError):
        return None, "unreadable"
    if audio.size == 0:
        return None, "silent"
    if not np.isfinite(audio).all():
        return None, "non_finite"
    mono = audio.mean(axis=1, dtype=np.float64)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
    mono = mono.astype(np.float32)
    if is_silent(mono):
        return None, "silent"
    mono = trim_silence(mono)
    if len(mono) < MIN_SECONDS * sample_rate:
        return None, "too_short"
    return mono, None


def _audio_candidates(source: Path, out: Path) -> tuple[list[Path], int]:
    """Audio files under source (sorted, relative), and how many other files were ignored."""
    out_resolved = out.resolve()
    candidates, ignored = [], 0
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(source)
        # Hidden files (.DS_Store, macOS ._ resource forks) and our own output are never material.
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.resolve().is_relative_to(out_resolved):
            continue
        if path.suffix.lower() in AUDIO_EXTENSIONS:
            candidates.append(relative)
        else:
            ignored += 1
    return candidates, ignored


def prepare_folder(source: Path, out: Path, sample_rate: int = DEFAULT_SAMPLE_RATE, seed: int = 0) -> DatasetSummary:
    """Turns every usable audio file under `source` into a trimmed mono WAV in out/train or out/valid."""
    source, out = Path(source), Path(out)
    if not source.is_dir():
        raise DatasetError(f"{source} is not a folder")
    candidates, ignored = _audio_candidates(source, out)
    if not candidates:
        raise DatasetError(f"{source} contains no audio files "
                           f"({ignored} other files; readable formats: wav, flac, aiff, ogg, mp3 ...)")
    old_files = _prepare_output(out)

    kept: list[tuple[Path, np.ndarray]] = []
    skipped_files: dict[str, str] = {}
    for relative in _progress(candidates, len(candidates), "file", "dataset folder"):
        audio, reason = load_audio(source / relative, sample_rate)
        if reason is not None:
            skipped_files[relative.as_posix()] = reason
        else:
            kept.append((relative, audio))
    skipped = {reason: count for reason in SKIP_REASONS
               if (count := sum(1 for r in skipped_files.values() if r == reason))}
    if not kept:
        raise DatasetError(f"every audio file in {source} was skipped: {describe_skips(skipped)}")

    # ~10% valid by a stable hash; with two or more files the lowest hash is valid if none fell there,
    # and the highest stays in train so neither split is empty.
    keys = {relative: _split_key(relative.as_posix(), seed) for relative, _ in kept}
    valid = {relative for relative in keys if keys[relative] % 100 < 100 // VALID_EVERY}
    if len(kept) >= 2:
        if not valid:
            valid = {min(keys, key=keys.get)}
        if len(valid) == len(kept):
            valid.discard(max(keys, key=keys.get))

    files: dict[str, list[str]] = {"train": [], "valid": []}
    seconds = {"train": 0.0, "valid": 0.0}
    origins: dict[str, str] = {}
    used_names: set[str] = set()
    for relative, audio in kept:
        split = "valid" if relative in valid else "train"
        name = f"{split}/{_output_name(relative, used_names)}"
        write_wav(out / name, audio, sample_rate)
        files[split].append(name)
        seconds[split] += len(audio) / sample_rate
        origins[name] = relative.as_posix()
    manifest = {
        "kind": "folder",
        "source": str(source.resolve()),
        "seed": seed,
        "sample_rate": sample_rate,
        "train": files["train"],
        "valid": files["valid"],
        "seconds": {split: round(value, 3) for split, value in seconds.items()},
        "origins": origins,
        "skipped": skipped,
        "skipped_files": skipped_files,  # relative path -> reason key, as in "skipped"
        "ignored_non_audio_files": ignored,
    }
    _finish_output(out, manifest, old_files)
    return DatasetSummary(out=out, source=str(source), train_files=len(files["train"]),
                          valid_files=len(files["valid"]), train_seconds=seconds["train"],
                          valid_seconds=seconds["valid"], skipped=skipped, ignored_files=ignored)


# ----------------------------------------------------------------------------------------------------------
# Command line


# ----------------------------------------------------------------------------------------------------------
# Melodies of many instruments (the pitch benchmark's renderer): other instruments' audio for the
# foreign tracking term of `timbrel train --foreign-data`.

SOUNDFONT_SOURCES = {"FluidR3": FLUIDR3_SOURCE,
                     "MuseScore": "MuseScore_General_Full.sf2 by S. Christian Collins (Debian package "
                                  "musescore-general-soundfont-lossless), MIT licence"}
SOUNDFONT_NAMES = tuple(SOUNDFONT_SOURCES)


def generate_melodies(instruments: list[str], soundfonts: list[str], seconds: float, out: Path,
                      seed: int = 1, noise: bool = False) -> DatasetSummary:
    """One melody per instrument and soundfont (vibrato, slides; with `noise`, the pitch
    benchmark's breath noise between phrases), all in train/. The pitch benchmark renders its
    own with seed 0: keep seed != 0 for unseen audio."""
    from . import pitch_bench

    known = {i.name: i for i in pitch_bench.INSTRUMENTS}
    unknown = [name for name in instruments if name not in known]
    if unknown:
        raise DatasetError(f"unknown instrument(s) {', '.join(unknown)} (choose from {', '.join(known)})")
    if seed == 0:
        raise DatasetError("seed 0 renders the pitch benchmark's own melodies: choose another --seed")
    out = Path(out)
    old_files = _prepare_output(out)
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "valid").mkdir(parents=True, exist_ok=True)
    summary = DatasetSummary(out=out, source=", ".join(soundfonts) + f" ({len(instruments)} instruments)")
    files = []
    try:
        for name in instruments:
            for soundfont_name in soundfonts:
                clip = pitch_bench.render_clip(known[name], soundfont_name, seconds, seed=seed, noise=noise)
                file = f"{name.replace(' ', '_')}_{soundfont_name}.wav"
                write_wav(out / "train" / file, clip.audio, pitch_bench.SAMPLE_RATE)
                files.append(f"train/{file}")
                summary.train_files += 1
                summary.train_seconds += len(clip.audio) / pitch_bench.SAMPLE_RATE
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        raise DatasetError(f"rendering failed: {error}") from None
    manifest = {"kind": "melodies", "instruments": instruments, "soundfonts": soundfonts,
                "sources": [SOUNDFONT_SOURCES[name] for name in soundfonts], "seconds_each": seconds, "seed": seed,
                "noise_between_phrases": noise,
                "sample_rate": pitch_bench.SAMPLE_RATE, "train": files, "valid": [],
                "seconds": {"train": round(summary.train_seconds, 3), "valid": 0.0}, "skipped": {}}
    _finish_output(out, manifest, old_files)
    return summary


def generate_timbres(instruments: list[str], soundfonts: list[str], minutes: float, out: Path,
                     seed: int = 2, held_out: list[str] = (), held_out_soundfont: str = "MuseScore",
                     sample_rate: int = DEFAULT_SAMPLE_RATE) -> DatasetSummary:
    """Varied melodies of many instruments (the pitch benchmark's, with their General MIDI
    programs and ranges) from each soundfont, `minutes` per instrument and soundfont, in chunks
    split into train/ and valid/ as `dataset fluidr3` does: a multi-timbre model's data. The
    manifest's `labels` names each file's instrument and soundfont, for the timbres a model
    learns (the mean latent of each instrument) and their evaluation. The pitch benchmark
    renders with seed 0 and `dataset melodies` with 1: keep this one apart from both.

    `held_out` instruments' renders with `held_out_soundfont` go to heldout/ instead (listed as
    the manifest's `heldout`, never trained on): how a model's timbres hold on a soundfont it
    did not learn that instrument from."""
    from . import pitch_bench

    known = {i.name: i for i in pitch_bench.INSTRUMENTS}
    unknown = [name for name in instruments if name not in known]
    if unknown:
        raise DatasetError(f"unknown instrument(s) {', '.join(unknown)} (choose from {', '.join(known)})")
    if not (minutes > 0 and math.isfinite(minutes)):
        raise DatasetError(f"--minutes must be a positive number, got {minutes}")
    if seed in (0, 1):
        raise DatasetError("seeds 0 and 1 render the pitch benchmark's and `dataset melodies`' audio: choose another")
    try:
        for name in soundfonts:
            soundfont.find_soundfont(name)
    except FileNotFoundError as error:
        raise DatasetError(str(error)) from None
    strays = [name for name in held_out if name not in instruments]
    if strays or (held_out and held_out_soundfont not in soundfonts):
        raise DatasetError("held-out instruments must be among --instruments and their soundfont among --soundfonts")
    out = Path(out)
    old_files = _prepare_output(out)
    count, chunk_seconds, valid_indices = _chunk_plan(minutes)
    summary = DatasetSummary(out=out, source=", ".join(soundfonts) + f" ({len(instruments)} instruments)")
    files: dict[str, list[str]] = {"train": [], "valid": [], "heldout": []}
    seconds = {"train": 0.0, "valid": 0.0, "heldout": 0.0}
    labels: dict[str, dict[str, str]] = {}
    jobs = [(name, font, index) for name in instruments for font in soundfonts for index in range(count)]
    with tempfile.TemporaryDirectory() as scratch:
        for name, font, index in _progress(jobs, len(jobs), "chunk", "timbres"):
            instrument = known[name]
            # One generator per chunk: the same chunk whatever else is asked for.
            rng = np.random.default_rng([seed, instrument.program, SOUNDFONT_NAMES.index(font), index])
            tempo = float(rng.uniform(66, 140))
            notes = melody_notes(name, chunk_seconds, tempo, rng, (instrument.low, instrument.high))
            audio = _render_melody(Path(scratch) / "chunk.mid", notes, instrument.program, tempo, sample_rate, font,
                                   f"{name} ({font}) chunk {index}")
            split = "valid" if index in valid_indices else "train"
            if name in held_out and font == held_out_soundfont:
                split = "heldout"
            file = f"{split}/{name.replace(' ', '_')}_{font}_{index:03d}.wav"
            write_wav(out / file, audio, sample_rate)
            files[split].append(file)
            labels[file] = {"instrument": name, "soundfont": font}
            seconds[split] += len(audio) / sample_rate
    manifest = {"kind": "timbres", "instruments": instruments, "soundfonts": soundfonts,
                "sources": [SOUNDFONT_SOURCES[name] for name in soundfonts], "minutes_each": minutes, "seed": seed,
                "sample_rate": sample_rate, "train": files["train"], "valid": files["valid"],
                "heldout": files["heldout"], "heldout_soundfont": held_out_soundfont if held_out else None,
                "labels": labels,
                "seconds": {split: round(value, 3) for split, value in seconds.items()}, "skipped": {}}
    _finish_output(out, manifest, old_files)
    summary.train_files, summary.valid_files = len(files["train"]), len(files["valid"])
    summary.train_seconds, summary.valid_seconds = seconds["train"], seconds["valid"]
    return summary


def _run(job) -> int:
    try:
        summary = job()
    except DatasetError as error:
        print(f"timbrel dataset: {error}", file=sys.stderr)
        return 2
    print(summary)
    return 0


def cmd_fluidr3(args: argparse.Namespace) -> int:
    return _run(lambda: generate_fluidr3(args.instrument, args.minutes, Path(args.out), seed=args.seed))


def cmd_melodies(args: argparse.Namespace) -> int:
    return _run(lambda: generate_melodies(args.instruments, args.soundfonts, args.seconds, Path(args.out), args.seed,
                                          args.noise))


def cmd_timbres(args: argparse.Namespace) -> int:
    from .pitch_bench import INSTRUMENTS

    names = args.instruments or [i.name for i in INSTRUMENTS]
    return _run(lambda: generate_timbres(names, args.soundfonts, args.minutes, Path(args.out), args.seed,
                                         args.hold_out, args.hold_out_soundfont))


def cmd_folder(args: argparse.Namespace) -> int:
    return _run(lambda: prepare_folder(Path(args.path), Path(args.out), seed=args.seed))


def add_parsers(subparsers) -> None:
    """Registers `timbrel dataset fluidr3 ...` and `timbrel dataset folder ...` on the CLI's subparsers."""
    dataset = subparsers.add_parser("dataset", help="make a training dataset (44.1 kHz mono WAV + dataset.json)")
    kinds = dataset.add_subparsers(dest="dataset_command", required=True)

    fluidr3 = kinds.add_parser("fluidr3", help="render varied melodies with the FluidR3_GM soundfont")
    fluidr3.add_argument("--instrument", required=True, choices=sorted(INSTRUMENT_RANGES))
    fluidr3.add_argument("--minutes", required=True, type=float, help="total minutes of audio to render")
    fluidr3.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    fluidr3.add_argument("--seed", type=int, default=0)
    fluidr3.set_defaults(func=cmd_fluidr3)

    melodies = kinds.add_parser("melodies", help="melodies of many instruments from FluidR3 and MuseScore General "
                                                 "(other instruments' audio for train --foreign-data)")
    melodies.add_argument("--instruments", nargs="+", required=True, metavar="NAME")
    melodies.add_argument("--soundfonts", nargs="+", choices=["FluidR3", "MuseScore"], default=["FluidR3", "MuseScore"])
    melodies.add_argument("--seconds", type=float, default=30.0, help="audio per instrument and soundfont")
    melodies.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    melodies.add_argument("--seed", type=int, default=1)
    melodies.add_argument("--noise", action="store_true",
                          help="fill the rests with the pitch benchmark's breath noise (default: the instrument alone)")
    melodies.set_defaults(func=cmd_melodies)

    timbres = kinds.add_parser("timbres", help="varied melodies of many instruments from FluidR3 and MuseScore "
                                               "General, labelled (a multi-timbre model's data)")
    timbres.add_argument("--instruments", nargs="+", metavar="NAME", default=None,
                         help="pitch-benchmark instrument names (default: all of them)")
    timbres.add_argument("--soundfonts", nargs="+", choices=list(SOUNDFONT_NAMES), default=list(SOUNDFONT_NAMES))
    timbres.add_argument("--minutes", required=True, type=float, help="minutes per instrument and soundfont")
    timbres.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    timbres.add_argument("--seed", type=int, default=2)
    timbres.add_argument("--hold-out", nargs="+", default=[], metavar="NAME",
                         help="instruments whose --hold-out-soundfont renders go to heldout/, not to training")
    timbres.add_argument("--hold-out-soundfont", default="MuseScore", choices=list(SOUNDFONT_NAMES))
    timbres.set_defaults(func=cmd_timbres)

    folder = kinds.add_parser("folder", help="prepare a folder of your own recordings")
    folder.add_argument("path", type=Path, help="folder searched recursively for audio files")
    folder.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    folder.add_argument("--seed", type=int, default=0)
    folder.set_defaults(func=cmd_folder)
