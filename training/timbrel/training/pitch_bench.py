"""`timbrel bench pitch`: how well a pitch analysis holds on instruments it never saw.

Unseen melodies are rendered from MIDI with two General MIDI soundfonts (FluidR3 and MuseScore
General, both MIT) for 16 instruments from a 5-string bass's low B to the flute's top, with
sustained vibrato and legato slides written as pitch bends, and breath-like noise between
phrases. The truth comes from the MIDI: each note's pitch plus its bend, at every analysis
frame's centre. Each estimator is scored with mir_eval's melody metrics, beside librosa.pyin
(Mauch & Dixon 2014) on the same audio:

- raw pitch accuracy (RPA): voiced frames whose estimate is within 50 cents of the truth;
- raw chroma accuracy (RCA): the same, octaves folded;
- octave errors: voiced frames off by whole octaves (RCA - RPA);
- voicing recall and false alarm: voiced frames called voiced, unvoiced frames called voiced.

Frames are left out where the truth is not one pitch over the analysis window: within half the
longest window (plus 40 ms of attack) of a note's start or end, and in release tails between the
note's end and the tail's decay below -50 dB. Unvoiced truth is noise or silence.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

SAMPLE_RATE = 44100
HOP = 512
BEND_RANGE = 2.0          # semitones: fluidsynth's default pitch-bend sensitivity
GUARD_SECONDS = 0.040     # attack transients left out after each note start
TARGETS = {"raw_pitch": 0.98, "octave_errors": 0.005}


@dataclass(frozen=True)
class Instrument:
    name: str
    program: int   # General MIDI, 0-based
    low: int       # MIDI range of the melody
    high: int


INSTRUMENTS = (
    Instrument("violin", 40, 55, 88), Instrument("viola", 41, 48, 76), Instrument("cello", 42, 36, 69),
    Instrument("contrabass", 43, 28, 55), Instrument("electric bass", 33, 23, 50),
    Instrument("flute", 73, 60, 93), Instrument("oboe", 68, 58, 89), Instrument("clarinet", 71, 50, 84),
    Instrument("bassoon", 70, 34, 67), Instrument("alto sax", 65, 49, 80), Instrument("trumpet", 56, 54, 82),
    Instrument("horn", 60, 41, 74), Instrument("trombone", 57, 40, 70), Instrument("tuba", 58, 28, 58),
    Instrument("choir", 52, 48, 79), Instrument("male voice", 53, 40, 60),
)
SOUNDFONT_NAMES = ("FluidR3", "MuseScore")


@dataclass
class Clip:
    """Rendered audio and its truth per sample: `pitch` (MIDI, NaN where no note sounds by
    intent), `state` 1 voiced, 0 unvoiced, -1 left out (attacks, release tails)."""
    instrument: str
    soundfont: str
    audio: np.ndarray
    pitch: np.ndarray
    state: np.ndarray
    boundaries: np.ndarray   # note starts and ends, in samples


# ---------------------------------------------------------------------------------------------
# The corpus


def _phrase(instrument: Instrument, seconds: float, rng: np.random.Generator) -> list[dict]:
    """Notes with onset, duration, pitch, velocity and an optional bend: vibrato on long notes,
    a legato slide into some next notes, rests filled with noise later."""
    notes, t = [], 0.3
    pitch = int(rng.integers(instrument.low, instrument.high + 1))
    while t < seconds - 1.0:
        duration = float(rng.choice([0.35, 0.5, 0.7, 1.0, 1.4, 2.0], p=[0.15, 0.25, 0.2, 0.2, 0.1, 0.1]))
        bend = None
        if duration >= 1.0 and rng.random() < 0.6:
            bend = ("vibrato", float(rng.uniform(0.15, 0.3)), float(rng.uniform(4.5, 6.5)))  # depth st, rate Hz
        elif rng.random() < 0.2:
            bend = ("slide", float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, BEND_RANGE)), 0.2)  # st, seconds
        notes.append({"start": t, "duration": duration, "pitch": pitch, "velocity": int(rng.integers(50, 120)),
                      "bend": bend})
        t += duration
        if rng.random() < 0.3:
            t += float(rng.uniform(0.6, 1.2))  # a rest: release tail, then noise
        step = int(rng.choice([-7, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 7, 12, -12]))
        pitch = int(np.clip(pitch + step, instrument.low, instrument.high))
    return notes


def _bend_curve(note: dict, times: np.ndarray) -> np.ndarray:
    """Semitones of bend at `times` (seconds from the note's start)."""
    kind = note["bend"][0] if note["bend"] else None
    if kind == "vibrato":
        _, depth, rate = note["bend"]
        onset = np.clip((times - 0.25) / 0.25, 0.0, 1.0)  # vibrato fades in after 250 ms
        return depth * onset * np.sin(2 * np.pi * rate * np.maximum(times - 0.25, 0.0))
    if kind == "slide":
        _, size, length = note["bend"]
        start = note["duration"] - length
        return size * np.clip((times - start) / length, 0.0, 1.0)
    return np.zeros_like(times)


def _midi(notes: list[dict], program: int, path: Path) -> None:
    import mido

    ticks, tempo = 960, 500000  # 120 bpm: one beat 0.5 s, so a tick is 0.5 / 960 s
    events = []  # (seconds, message)
    for note in notes:
        events.append((note["start"], mido.Message("note_on", note=note["pitch"], velocity=note["velocity"])))
        if note["bend"]:
            for t in np.arange(0.0, note["duration"], 0.01):
                value = int(round(_bend_curve(note, np.array([t]))[0] / BEND_RANGE * 8191))
                events.append((note["start"] + t, mido.Message("pitchwheel", pitch=max(-8192, min(8191, value)))))
        events.append((note["start"] + note["duration"], mido.Message("note_off", note=note["pitch"], velocity=0)))
        events.append((note["start"] + note["duration"], mido.Message("pitchwheel", pitch=0)))
    events.sort(key=lambda e: (e[0], e[1].type != "note_off"))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo),
                            mido.Message("program_change", program=program, time=0)])
    now = 0
    for seconds, message in events:
        tick = int(round(seconds / 0.5 * ticks))
        track.append(message.copy(time=tick - now))
        now = tick
    midi = mido.MidiFile(ticks_per_beat=ticks)
    midi.tracks.append(track)
    midi.save(str(path))


def _level(audio: np.ndarray) -> np.ndarray:
    """RMS over 1024 samples around each sample."""
    return np.sqrt(np.convolve(audio.astype(np.float64) ** 2, np.ones(1024) / 1024, mode="same"))


def _harmonic_f0(audio: np.ndarray, nominal_hz: float) -> float | None:
    """f0 of a steady tone from its harmonics' peaks in one long spectrum (parabolic
    interpolation of the log magnitude; each harmonic k gives peak / k, weighted by its level).
    Independent of every estimator under test."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)))) + 1e-12
    bin_hz = SAMPLE_RATE / len(audio)
    estimates, weights = [], []
    for k in range(1, 11):
        centre = k * nominal_hz / bin_hz
        low, high = int(centre * 2 ** (-0.5 / 12)) - 1, int(centre * 2 ** (0.5 / 12)) + 2
        if high + 1 >= len(spectrum):
            break
        peak = low + int(np.argmax(spectrum[low:high]))
        a, b, c = np.log(spectrum[peak - 1: peak + 2])
        offset = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
        estimates.append((peak + offset) * bin_hz / k)
        weights.append(spectrum[peak])
    weights = np.array(weights)
    keep = weights > weights.max() * 10 ** (-30 / 20)
    return float(np.average(np.array(estimates)[keep], weights=weights[keep])) if keep.any() else None


def key_tuning(instrument: Instrument, soundfont: str, keys: list[int]) -> dict[int, float]:
    """Semitones each key of the soundfont's instrument sounds off its MIDI pitch (some samples
    are tuned tens of cents flat), measured on a steady 1.5 s note of each key rendered alone."""
    from .soundfont import render_midi

    notes = [{"start": 0.5 + 2.0 * i, "duration": 1.5, "pitch": key, "velocity": 90, "bend": None}
             for i, key in enumerate(keys)]
    with tempfile.TemporaryDirectory() as folder:
        _midi(notes, instrument.program, Path(folder) / "keys.mid")
        audio = render_midi(Path(folder) / "keys.mid", SAMPLE_RATE, soundfont=soundfont)
    tuning = {}
    for note in notes:
        start = int((note["start"] + 0.4) * SAMPLE_RATE)
        piece = audio[start: start + SAMPLE_RATE]
        nominal = 440.0 * 2 ** ((note["pitch"] - 69) / 12)
        f0 = _harmonic_f0(piece, nominal) if len(piece) == SAMPLE_RATE else None
        offset = 12 * math.log2(f0 / nominal) if f0 else 0.0
        tuning[note["pitch"]] = offset if abs(offset) < 0.5 else 0.0  # beyond that: not a tuning, trust MIDI
    return tuning


def render_clip(instrument: Instrument, soundfont: str, seconds: float = 20.0, seed: int = 0,
                noise: bool = True) -> Clip:
    """The clip is the sum of two renders, even-numbered and odd-numbered notes (fluidsynth's
    voices add), so each frame knows how loud the note it is in is against the release of the
    note before: a frame where another note still sounds within 20 dB is left out. The truth is
    each note's MIDI pitch and bend, plus the key's measured tuning in that soundfont. With
    `noise` (the benchmark's voicing test) the rests between phrases are breath-like noise;
    without, the clip is the instrument alone."""
    from .soundfont import render_midi

    rng = np.random.default_rng(seed * 1000 + instrument.program)
    notes = _phrase(instrument, seconds, rng)
    tuning = key_tuning(instrument, soundfont, sorted({note["pitch"] for note in notes}))
    length = int(seconds * SAMPLE_RATE)
    stems = []
    with tempfile.TemporaryDirectory() as folder:
        for parity in (0, 1):
            _midi(notes[parity::2], instrument.program, Path(folder) / f"{parity}.mid")
            stem = render_midi(Path(folder) / f"{parity}.mid", SAMPLE_RATE, soundfont=soundfont)
            stems.append(np.pad(stem, (0, max(0, length - len(stem))))[:length])
    clean = stems[0] + stems[1]
    levels = [_level(stem) for stem in stems]
    peak = np.abs(clean).max()
    pitch = np.full(length, np.nan)
    state = np.where(np.maximum(*levels) > peak * 10 ** (-50 / 20), -1, 0).astype(np.int8)  # tails out, silence 0
    in_note = np.zeros(length, bool)
    boundaries = []
    for index, note in enumerate(notes):
        start = int(note["start"] * SAMPLE_RATE)
        end = min(length, int((note["start"] + note["duration"]) * SAMPLE_RATE))
        times = np.arange(end - start) / SAMPLE_RATE
        pitch[start:end] = note["pitch"] + tuning[note["pitch"]] + _bend_curve(note, times)
        own, other = levels[index % 2][start:end], levels[1 - index % 2][start:end]
        state[start:end] = np.where(own > 10 * other, 1, -1)  # the other note 20 dB down or more
        in_note[start:end] = True
        boundaries += [start, end]
    audio = clean
    if noise:  # between phrases: breath-like (low-passed white noise) 40 dB below the peak
        breath = np.convolve(rng.standard_normal(length), np.ones(8) / 8, mode="same")
        breath *= peak * 10 ** (-40 / 20) / (np.sqrt(np.mean(breath ** 2)) + 1e-12)
        audio = clean + np.where(in_note, 0.0, breath)
    audio = audio.astype(np.float32)
    return Clip(instrument.name, soundfont, audio, pitch, state, np.array(boundaries))


# ---------------------------------------------------------------------------------------------
# Estimators: audio -> (frame centres in samples, pitch in MIDI per frame, voicing 0..1 per frame)

Estimate = tuple[np.ndarray, np.ndarray, np.ndarray]


def pyin_estimator(audio: np.ndarray, fmin: float = 30.0, fmax: float = 2000.0, frame: int = 4096) -> Estimate:
    import librosa

    f0, voiced, probability = librosa.pyin(audio, fmin=fmin, fmax=fmax, sr=SAMPLE_RATE, frame_length=frame,
                                           hop_length=HOP, center=True)
    centres = np.arange(len(f0)) * HOP
    unvoiced = np.isnan(f0)  # pyin gives no pitch there: those frames count as misses in RPA
    pitch = np.where(unvoiced, 0.0, librosa.hz_to_midi(np.where(unvoiced, 1.0, f0)))
    return centres, pitch, voiced.astype(float)


def analyzer_estimator(window: int, fmin: float, fmax: float = 2000.0, octave_ratio: float = 0.0,
                       octave_margin: float = 0.0, highpass: int = 0, hop: int = HOP,
                       latest: bool = False, decimation: int = 1) -> Callable[[np.ndarray], Estimate]:
    """The causal analysis a model exports (timbrel.format.descriptors) with these settings:
    pitch over `window` samples."""
    def estimate(audio: np.ndarray) -> Estimate:
        import torch

        from ..format.descriptors import DescriptorAnalyzer

        analyzer = DescriptorAnalyzer(["pitch"], SAMPLE_RATE, hop, min(window, 1024), fmin, fmax, window,
                                      octave_ratio, octave_margin, highpass, latest, decimation)
        usable = len(audio) // hop * hop
        with torch.no_grad():
            frames = analyzer.windows(torch.from_numpy(audio[:usable]).reshape(1, 1, -1))
            d, voiced = analyzer.describe(frames)
        centres = (np.arange(d.shape[-1]) + 1) * hop - window // 2
        return centres, d[0, 0].numpy().astype(float), voiced[0].numpy().astype(float)
    return estimate


def model_estimator(path: Path) -> Callable[[np.ndarray], Estimate]:
    """A model file's own analyze() (pitch row), with the voicing of the same analysis settings
    (the contract's analyze carries no voicing row)."""
    def estimate(audio: np.ndarray) -> Estimate:
        import torch

        from ..format.contract import load_and_check
        from ..format.descriptors import pitch_analyzer_like

        module, info = load_and_check(path)
        if info.sample_rate != SAMPLE_RATE:
            raise ValueError(f"{path} runs at {info.sample_rate} Hz; the benchmark renders at {SAMPLE_RATE} Hz")
        hop = info.hop_length
        usable = len(audio) // hop * hop
        with torch.no_grad():
            module.reset()
            d = module.analyze(torch.from_numpy(audio[:usable]).reshape(1, 1, -1))[0]
            analyzer = pitch_analyzer_like(module)
            voiced = analyzer.describe(analyzer.windows(torch.from_numpy(audio[:usable]).reshape(1, 1, -1)))[1]
        reach = int(analyzer.pitch_window)
        centres = (np.arange(d.shape[-1]) + 1) * hop - reach // 2
        return centres, d[info.descriptor_names.index("pitch")].numpy().astype(float), voiced[0].numpy().astype(float)
    return estimate


# ---------------------------------------------------------------------------------------------
# Cost per hop


def analysis_cost_us(analyze: Callable, hop: int, seconds: float = 3.0, repeats: int = 3) -> float:
    """Microseconds per hop of `analyze` fed hop by hop (as the plugin streams at a buffer of one
    hop), one thread, inference mode; the best of `repeats` runs (timbrel eval's timing)."""
    from .evaluate import best_streaming_seconds

    calls = int(seconds * SAMPLE_RATE / hop)
    return 1e6 * best_streaming_seconds(analyze, hop, calls, repeats) / calls


def legacy_analyzer_like(module, info):
    """The analysis the first shipped models exported (LEGACY_ANALYSIS: YIN from 90 Hz over the
    1024-sample window) at a model's rate, hop and descriptors, frozen as an export freezes it,
    in today's code."""
    import torch

    from ..format.descriptors import DescriptorAnalyzer
    from ..models.harmonic_noise import LEGACY_ANALYSIS

    legacy = DescriptorAnalyzer(list(info.descriptor_names), info.sample_rate, info.hop_length,
                                int(getattr(module, "window", 1024)), LEGACY_ANALYSIS["pitch_fmin"],
                                float(getattr(module, "pitch_fmax", 2000.0)))
    return torch.jit.freeze(torch.jit.script(legacy.eval()))


def analysis_costs(models: list[Path], references: list[Path] = (), rounds: int = 3) -> tuple[dict, dict]:
    """Microseconds per hop of each model file's analyze() and of the legacy analysis at its hop
    (legacy_analyzer_like), and of each reference file's analyze() (an earlier release's model,
    whose analysis ran in its own code): ({stem: {hop, model_us, legacy_us}}, {path: {hop, us}}).
    The subjects take turns, `rounds` times, and each keeps its best: on a shared machine the
    load moves between runs, and turns give every subject the same chances."""
    from ..format.contract import load_and_check

    subjects: dict[tuple[str, str], tuple[Callable, int]] = {}
    for path in list(models) + list(references):
        module, info = load_and_check(path)
        module.reset()
        if path in models:
            subjects[(path.stem, "model_us")] = (module.analyze, info.hop_length)
            subjects[(path.stem, "legacy_us")] = (legacy_analyzer_like(module, info), info.hop_length)
        else:
            subjects[(str(path), "us")] = (module.analyze, info.hop_length)
    best: dict[tuple[str, str], float] = {}
    for _ in range(rounds):
        for key, (analyze, hop) in subjects.items():
            best[key] = min(best.get(key, math.inf), analysis_cost_us(analyze, hop, repeats=1))
    costs: dict[str, dict] = {}
    others: dict[str, dict] = {}
    for (name, field), (_, hop) in subjects.items():
        target = others if field == "us" else costs
        target.setdefault(name, {"hop": hop})[field] = best[(name, field)]
    return costs, others


# ---------------------------------------------------------------------------------------------
# Scoring


def score(clip: Clip, estimate: Estimate, exclude_seconds: float) -> dict:
    """mir_eval's melody metrics on the frames whose truth is defined (see the module doc)."""
    import mir_eval

    centres, pitch, voicing = estimate
    inside = (centres >= 0) & (centres < len(clip.audio))
    centres, pitch, voicing = centres[inside].astype(int), pitch[inside], voicing[inside]
    state = clip.state[centres]
    near = np.zeros(len(centres), bool)
    reach = int((exclude_seconds / 2 + GUARD_SECONDS) * SAMPLE_RATE)
    for boundary in clip.boundaries:
        near |= np.abs(centres - boundary) < reach
    keep = (state >= 0) & ~near
    ref_voicing = (state[keep] == 1).astype(float)
    ref_cent = np.where(ref_voicing > 0, 100.0 * (np.nan_to_num(clip.pitch[centres[keep]]) - 69.0)
                        + 1200.0 * math.log2(440.0 / 10.0), 0.0)
    est_cent = 100.0 * (pitch[keep] - 69.0) + 1200.0 * math.log2(440.0 / 10.0)
    est_voicing = (voicing[keep] >= 0.5).astype(float)
    rpa = mir_eval.melody.raw_pitch_accuracy(ref_voicing, ref_cent, est_voicing, est_cent)
    rca = mir_eval.melody.raw_chroma_accuracy(ref_voicing, ref_cent, est_voicing, est_cent)
    recall, false_alarm = mir_eval.melody.voicing_measures(ref_voicing, est_voicing)
    return {"raw_pitch": rpa, "raw_chroma": rca, "octave_errors": rca - rpa, "voicing_recall": recall,
            "voicing_false_alarm": false_alarm, "voiced_frames": int(ref_voicing.sum()),
            "unvoiced_frames": int((1 - ref_voicing).sum())}


def run(estimators: dict[str, Callable[[np.ndarray], Estimate]], instruments=INSTRUMENTS,
        soundfonts=SOUNDFONT_NAMES, seconds: float = 20.0, exclude_seconds: float = 4096 / SAMPLE_RATE,
        log=print) -> dict:
    """{instrument: {estimator: metrics}}, each instrument's clips from every soundfont pooled
    (frame-weighted)."""
    results = {}
    for instrument in instruments:
        pooled: dict[str, list] = {name: [] for name in estimators}
        for soundfont in soundfonts:
            clip = render_clip(instrument, soundfont, seconds)
            for name, estimator in estimators.items():
                pooled[name].append(score(clip, estimator(clip.audio), exclude_seconds))
        results[instrument.name] = {name: _pool(scores) for name, scores in pooled.items()}
        log(_row(instrument.name, results[instrument.name]))
    return results


def _pool(scores: list[dict]) -> dict:
    voiced = sum(s["voiced_frames"] for s in scores)
    unvoiced = sum(s["unvoiced_frames"] for s in scores)
    pooled = {}
    for key in ("raw_pitch", "raw_chroma", "octave_errors", "voicing_recall"):
        pooled[key] = sum(s[key] * s["voiced_frames"] for s in scores) / max(voiced, 1)
    pooled["voicing_false_alarm"] = sum(s["voicing_false_alarm"] * s["unvoiced_frames"] for s in scores) / max(unvoiced, 1)
    pooled["voiced_frames"], pooled["unvoiced_frames"] = voiced, unvoiced
    return pooled


def _row(instrument: str, by_estimator: dict) -> str:
    cells = "  ".join(f"{name}: RPA {m['raw_pitch']:6.1%} RCA {m['raw_chroma']:6.1%} oct {m['octave_errors']:5.1%} "
                      f"rec {m['voicing_recall']:5.1%} FA {m['voicing_false_alarm']:5.1%}"
                      for name, m in by_estimator.items())
    return f"{instrument:14s} {cells}"


def _meets(metrics: dict) -> bool:
    return metrics["raw_pitch"] >= TARGETS["raw_pitch"] and metrics["octave_errors"] <= TARGETS["octave_errors"]


def summary(results: dict, reference: str = "pyin") -> list[str]:
    """Per estimator: on how many instruments it meets the targets, and where its raw pitch
    accuracy is below the reference's (pyin decodes with the future in view; ours is causal)."""
    lines = []
    for name in next(iter(results.values())):
        if name == reference:
            continue
        missed = [instrument for instrument, row in results.items() if not _meets(row[name])]
        line = (f"{name}: targets (raw pitch >= {TARGETS['raw_pitch']:.0%}, octave errors <= "
                f"{TARGETS['octave_errors']:.1%}) met on {len(results) - len(missed)} of {len(results)} instruments"
                + (f", missed on {', '.join(missed)}" if missed else ""))
        below = [f"{instrument} ({100 * (row[reference]['raw_pitch'] - row[name]['raw_pitch']):.1f} points)"
                 for instrument, row in results.items()
                 if reference in row and row[name]["raw_pitch"] < row[reference]["raw_pitch"]]
        if any(reference in row for row in results.values()):
            line += f"; raw pitch below {reference} on {len(below)}" + (f": {', '.join(below)}" if below else "")
        lines.append(line)
    return lines


def add_parser(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="benchmarks of the package's analysis")
    kinds = bench.add_subparsers(dest="kind", required=True)
    pitch = kinds.add_parser("pitch", help="pitch and voicing on unseen soundfont melodies, beside librosa.pyin")
    pitch.add_argument("models", nargs="*", type=Path,
                       help="model files whose exported analysis to measure too (the package's own is always measured)")
    pitch.add_argument("--instruments", nargs="+", choices=[i.name for i in INSTRUMENTS], metavar="NAME",
                       help=f"default: all {len(INSTRUMENTS)}")
    pitch.add_argument("--soundfonts", nargs="+", choices=SOUNDFONT_NAMES, default=list(SOUNDFONT_NAMES))
    pitch.add_argument("--seconds", type=float, default=20.0, help="audio per instrument and soundfont")
    pitch.add_argument("--no-pyin", action="store_true", help="skip librosa.pyin (it is the slow part)")
    pitch.add_argument("--cost-against", nargs="+", type=Path, default=[], metavar="MODEL",
                       help="model files (an earlier release's) whose analyze() cost to measure beside, in turns")
    pitch.add_argument("--out", type=Path, help="also write the figures as JSON here")
    pitch.set_defaults(func=cmd_bench_pitch)


def cmd_bench_pitch(args: argparse.Namespace) -> int:
    from ..files import write_atomically
    from ..models.harmonic_noise import HarmonicNoiseConfig

    config = HarmonicNoiseConfig()  # the analysis new models are trained and exported with
    estimators: dict[str, Callable[[np.ndarray], Estimate]] = {
        "timbrel": analyzer_estimator(max(config.pitch_window, config.window), config.pitch_fmin, config.pitch_fmax,
                                      config.octave_ratio, config.octave_margin, config.pitch_highpass,
                                      latest=config.pitch_latest, decimation=config.pitch_decimation)}
    for path in list(args.models) + list(args.cost_against):
        if not path.is_file():
            print(f"timbrel bench pitch: model file not found: {path}", file=sys.stderr)
            return 2
    for path in args.models:
        estimators[path.stem] = model_estimator(path)
    if not args.no_pyin:
        estimators["pyin"] = pyin_estimator
    instruments = [i for i in INSTRUMENTS if not args.instruments or i.name in args.instruments]
    try:
        results = run(estimators, instruments, args.soundfonts, args.seconds)
    except FileNotFoundError as error:  # a soundfont or fluidsynth is missing
        print(f"timbrel bench pitch: {error}", file=sys.stderr)
        return 2
    for line in summary(results):
        print(line)
    costs, references = analysis_costs(args.models, args.cost_against)
    for name, cost in costs.items():
        print(f"{name}: analysis {cost['model_us']:.0f} us per hop of {cost['hop']} (one thread, hop by hop); "
              f"the first shipped analysis's settings (YIN from 90 Hz) in today's code {cost['legacy_us']:.0f} us "
              "at the same hop")
    for name, cost in references.items():
        print(f"{name}: analysis {cost['us']:.0f} us per hop of {cost['hop']} (its own exported code)")
    if args.out:
        write_atomically(args.out, json.dumps({"targets": TARGETS, "seconds": args.seconds,
                                               "soundfonts": args.soundfonts, "results": results,
                                               "analysis_cost": costs, "analysis_cost_against": references},
                                              indent=2) + "\n")
    return 0
