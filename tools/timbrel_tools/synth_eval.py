"""`make bench-synth` (python -m timbrel_tools synth-eval): Timbrel Synth playing melodies no model
saw, through the real built instrument (DawDreamer), measured against issue 32's targets. It needs
the built plugin and the package's training code both, so it lives with the checkout's tools:

- pitch: raw pitch accuracy (mir_eval, 50 cents) of librosa.pyin on the output against the MIDI
  (each note's pitch plus its bend), >= 98 % per timbre. Frames within reach of a note's start
  or end (half pyin's window plus 40 ms of attack) and between notes are left out, as in
  `timbrel bench pitch`. pyin's own accuracy on a FluidR3 render of the same MIDI is printed
  beside it, so an estimator's miss is not read as the synth's;
- timbre: each melody clip is named by the project's instrument classifier
  (timbre_eval.InstrumentClassifier: MFCC statistics, logistic regression) fitted on soundfont
  renders of other melodies (or on a `timbrel dataset timbres` folder's train split with
  --data); the share of clips named as the timbre's instrument, >= 90 % per timbre.

Melodies come from `timbrel bench pitch`'s generator (vibrato and slides as pitch bends, rests)
with seeds no dataset uses, in each instrument's range within the model's pitch range (a note
outside it is clamped by design: that is not following the note). The synth plays them in mono (one note
at a time, as written) with its other settings at their defaults and the bend range at the
MIDI's 2 semitones. A single-instrument model plays its own instrument; the many-instrument
model plays each named timbre that is one of the benchmark's instruments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrel.training import pitch_bench
from timbrel.training.pitch_bench import BEND_RANGE, INSTRUMENTS, SAMPLE_RATE, Instrument

TARGETS = {"raw_pitch": 0.98, "recognised": 0.90}
MELODY_SEED = 7100           # melodies: seeds 7100.. (datasets use small seeds, the pitch bench 0)
CLASSIFIER_SEED = 7300       # the classifier's soundfont renders: other melodies again
SINGLE_INSTRUMENT = {"violin": "violin", "violin-lowlatency": "violin", "flute": "flute", "choir": "choir"}
DEFAULT_MODELS = ("timbres", "violin", "violin-lowlatency", "flute", "choir")
BY_NAME = {instrument.name: instrument for instrument in INSTRUMENTS}


@dataclass
class Melody:
    notes: list[dict]
    seconds: float

    def truth(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per sample: pitch (MIDI with bend), state (1 in a note, -1 elsewhere: left out), and the
        notes' starts and ends in samples."""
        length = int(self.seconds * SAMPLE_RATE)
        pitch = np.full(length, np.nan)
        state = np.full(length, -1, np.int8)
        boundaries = []
        for note in self.notes:
            start = int(note["start"] * SAMPLE_RATE)
            end = min(length, int((note["start"] + note["duration"]) * SAMPLE_RATE))
            times = np.arange(end - start) / SAMPLE_RATE
            pitch[start:end] = note["pitch"] + pitch_bench._bend_curve(note, times)
            state[start:end] = 1
            boundaries += [start, end]
        return pitch, state, np.array(boundaries)


def model_file(model, plugin_path) -> Path:
    """The file the plugin plays for `model`: a path, or a name in the bundle's or the user's
    model folder (the plugin's ModelLocator)."""
    if Path(model).is_file():
        return Path(model)
    folders = [Path(plugin_path) / "Contents" / "Resources" / "models",
               Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "Timbrel" / "models"]
    for folder in folders:
        if (folder / f"{model}.ts").is_file():
            return folder / f"{model}.ts"
    raise FileNotFoundError(f"no model {model!r} in {', '.join(map(str, folders))}")


def playable(instrument: Instrument, low: float, high: float) -> Instrument:
    """The instrument's melody range within the model's pitch range (whole notes, a semitone of
    bend room at either end)."""
    narrowed = dataclasses.replace(instrument, low=max(instrument.low, math.ceil(low) + 1),
                                   high=min(instrument.high, math.floor(high) - 1))
    if narrowed.high - narrowed.low < 7:
        raise ValueError(f"{instrument.name}: the model plays MIDI {low:.0f}..{high:.0f}, "
                         f"too little of the instrument's {instrument.low}..{instrument.high}")
    return narrowed


def melody(instrument: Instrument, index: int, seconds: float) -> Melody:
    rng = np.random.default_rng((MELODY_SEED + index) * 1000 + instrument.program)
    return Melody(pitch_bench._phrase(instrument, seconds + 1.0, rng), seconds)


def pyin_in_range(audio: np.ndarray, instrument: Instrument) -> pitch_bench.Estimate:
    """pyin searching an octave either side of the instrument's range (it costs by the octave)."""
    import librosa

    fmin = float(librosa.midi_to_hz(instrument.low - 13))
    fmax = float(librosa.midi_to_hz(instrument.high + 13))
    return pitch_bench.pyin_estimator(audio, fmin=max(fmin, 25.0), fmax=min(fmax, 4000.0))


def pitch_score(audio: np.ndarray, truth: Melody, instrument: Instrument) -> dict:
    pitch, state, boundaries = truth.truth()
    audio = np.pad(audio, (0, max(0, len(pitch) - len(audio))))[: len(pitch)]
    clip = pitch_bench.Clip(instrument.name, "synth", audio.astype(np.float32), pitch, state, boundaries)
    return pitch_bench.score(clip, pyin_in_range(clip.audio, instrument), 4096 / SAMPLE_RATE)


def reference_score(truth: Melody, instrument: Instrument) -> dict:
    """pyin on a FluidR3 render of the same notes: how far the estimator itself can be trusted."""
    from timbrel.training.soundfont import render_midi

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "melody.mid"
        pitch_bench._midi(truth.notes, instrument.program, path)
        audio = render_midi(path, SAMPLE_RATE, soundfont="FluidR3")
    tuning = pitch_bench.key_tuning(instrument, "FluidR3", sorted({n["pitch"] for n in truth.notes}))
    shifted = Melody([{**n, "pitch": n["pitch"] + tuning[n["pitch"]]} for n in truth.notes], truth.seconds)
    return pitch_score(audio, shifted, instrument)


def soundfont_classifier(instruments: list[Instrument], seconds: float = 40.0):
    """The instrument classifier fitted on FluidR3 and MuseScore renders of melodies the synth
    does not play (every benchmark instrument, so a wrong answer has somewhere to go)."""
    from timbrel.training.timbre_eval import InstrumentClassifier

    clips = []
    for instrument in instruments:
        for soundfont in pitch_bench.SOUNDFONT_NAMES:
            clip = pitch_bench.render_clip(instrument, soundfont, seconds, seed=CLASSIFIER_SEED, noise=False)
            clips.append((instrument.name, clip.audio))
    return InstrumentClassifier(clips, SAMPLE_RATE, max_pieces=2 * int(seconds))


def evaluate_timbre(renderer, instrument: Instrument, classifier, clips: int, seconds: float,
                    reference: bool, log=print) -> dict:
    scores, references, named = [], [], []
    for index in range(clips):
        truth = melody(instrument, index, seconds)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "melody.mid"
            pitch_bench._midi(truth.notes, 0, path)
            stereo = renderer.render(path, seconds=seconds)
        audio = stereo.mean(0)
        if not np.isfinite(audio).all():
            raise RuntimeError(f"Timbrel Synth wrote non-finite samples playing {instrument.name}")
        scores.append(pitch_score(audio, truth, instrument))
        if reference:
            references.append(reference_score(truth, instrument))
        p = classifier.probabilities(audio)
        named.append(max(p, key=p.get) if p else "silence")
    result = {"pitch": pitch_bench._pool(scores), "named_as": named,
              "recognised": float(np.mean([n == instrument.name for n in named]))}
    if references:
        result["pyin_on_fluidr3"] = pitch_bench._pool(references)
    log(_row(instrument.name, result))
    return result


def _row(name: str, r: dict) -> str:
    ref = f" (pyin on FluidR3 {r['pyin_on_fluidr3']['raw_pitch']:6.1%})" if "pyin_on_fluidr3" in r else ""
    others = sorted({n for n in r["named_as"] if n != name})
    return (f"  {name:14s} raw pitch {r['pitch']['raw_pitch']:6.1%}{ref}  octave errors "
            f"{r['pitch']['octave_errors']:5.1%}  recognised {r['recognised']:4.0%}"
            + (f" (else {', '.join(others)})" if others else ""))


def _meets(r: dict) -> tuple[bool, bool]:
    return r["pitch"]["raw_pitch"] >= TARGETS["raw_pitch"], r["recognised"] >= TARGETS["recognised"]


def run(models: list[str], clips: int = 8, seconds: float = 6.0, timbres: list[str] | None = None,
        data: Path | None = None, reference: bool = True, host: str = "dawdreamer", plugin_path=None,
        log=print) -> dict:
    from timbrel.format.contract import load_and_check
    from timbrel.hosts.plugin import find_plugin
    from timbrel.hosts.synth import SynthRenderer
    from timbrel.training.timbre_eval import InstrumentClassifier

    if data is not None:
        classifier = InstrumentClassifier.from_dataset(data, SAMPLE_RATE)
        source = f"the train split of {data}"
    else:
        classifier = soundfont_classifier(list(INSTRUMENTS))
        source = "FluidR3 and MuseScore renders of other melodies"
    log(f"instrument classifier: {len(classifier.names)} instruments, fitted on {source}")
    settings = {"mono": 1.0, "bend_range": BEND_RANGE}
    results: dict = {}
    for model in models:
        base = Path(model).stem
        _, info = load_and_check(model_file(model, find_plugin(plugin_path, synth=True)))
        pitch = info.descriptor_names.index("pitch")
        low, high = info.descriptor_min[pitch], info.descriptor_max[pitch]
        renderer = SynthRenderer(model, host, settings, plugin_path=plugin_path)
        if renderer.status.timbres:
            names = [n for n in renderer.status.timbres if n in BY_NAME and (not timbres or n in timbres)]
        elif base in SINGLE_INSTRUMENT:
            names = [SINGLE_INSTRUMENT[base]]
        else:
            log(f"{base}: no named timbre and no known instrument; skipped")
            continue
        log(f"{base} ({renderer.status.model_name}, MIDI {low:.1f} to {high:.1f}): {clips} melodies of "
            f"{seconds:g} s per timbre")
        results[base] = {}
        for name in names:
            if renderer.status.timbres:
                renderer = SynthRenderer(model, host, settings, snapshots={"A": name}, plugin_path=plugin_path)
            instrument = playable(BY_NAME[name], low, high)
            results[base][name] = evaluate_timbre(renderer, instrument, classifier, clips, seconds, reference, log)
            results[base][name]["melody_range"] = [instrument.low, instrument.high]
    return {"targets": TARGETS, "clips": clips, "seconds": seconds, "classifier": source, "results": results}


def summary(report: dict) -> list[str]:
    lines = []
    for model, by_timbre in report["results"].items():
        pitch_met = [n for n, r in by_timbre.items() if _meets(r)[0]]
        named_met = [n for n, r in by_timbre.items() if _meets(r)[1]]
        both = [n for n, r in by_timbre.items() if all(_meets(r))]
        lines.append(f"{model}: raw pitch >= {TARGETS['raw_pitch']:.0%} on {len(pitch_met)} of {len(by_timbre)}, "
                     f"recognised >= {TARGETS['recognised']:.0%} on {len(named_met)} of {len(by_timbre)}, "
                     f"both on {len(both)}" + (f" ({', '.join(both)})" if 0 < len(both) < len(by_timbre) else ""))
    many = {m: r for m, r in report["results"].items() if len(r) > 1}
    singles = {m: r for m, r in report["results"].items() if len(r) == 1}
    parts = []
    if many:
        met = all(sum(all(_meets(r)) for r in by_timbre.values()) >= 6 for by_timbre in many.values())
        parts.append(f"6 named timbres of {', '.join(many)}: {'met' if met else 'NOT met'}")
    if singles:
        missed = [m for m, by_timbre in singles.items() if not all(all(_meets(r)) for r in by_timbre.values())]
        parts.append(f"every single-instrument model measured ({', '.join(singles)}): "
                     + ("met" if not missed else f"NOT met ({', '.join(missed)})"))
    if parts:
        lines.append("targets: " + "; ".join(parts))
    return lines


def add_parser(commands) -> None:
    synth = commands.add_parser("synth-eval", help="Timbrel Synth on unseen melodies: pitch (mir_eval) and timbre recognition")
    synth.add_argument("models", nargs="*", default=list(DEFAULT_MODELS),
                       help=f"model names or files (default: {' '.join(DEFAULT_MODELS)})")
    synth.add_argument("--timbres", nargs="+", metavar="NAME", help="named timbres to play (default: every one "
                       "that is a benchmark instrument)")
    synth.add_argument("--clips", type=int, default=8, help="melodies per timbre")
    synth.add_argument("--seconds", type=float, default=6.0, help="length of each melody")
    synth.add_argument("--data", type=Path, help="fit the classifier on this `timbrel dataset timbres` folder instead")
    synth.add_argument("--no-reference", action="store_true", help="skip pyin on FluidR3 renders of the same MIDI")
    synth.add_argument("--host", choices=("dawdreamer", "pedalboard"), default="dawdreamer")
    synth.add_argument("--out", type=Path, help="also write the figures as JSON here")
    synth.set_defaults(func=cmd_bench_synth)


def cmd_bench_synth(args: argparse.Namespace) -> int:
    from timbrel.files import write_atomically
    from timbrel.hosts.plugin import PluginError

    unknown = [t for t in args.timbres or [] if t not in BY_NAME]
    if unknown:
        print(f"timbrel_tools synth-eval: not a benchmark instrument: {', '.join(unknown)} "
              f"(choose from {', '.join(BY_NAME)})", file=sys.stderr)
        return 2
    if args.clips < 1 or not math.isfinite(args.seconds) or args.seconds < 2.0:
        print("timbrel_tools synth-eval: --clips must be at least 1 and --seconds at least 2", file=sys.stderr)
        return 2
    try:
        report = run(args.models, args.clips, args.seconds, args.timbres, args.data, not args.no_reference, args.host)
    except (PluginError, FileNotFoundError, ValueError) as error:
        print(f"timbrel_tools synth-eval: {error}", file=sys.stderr)
        return 2
    for line in summary(report):
        print(line)
    if args.out:
        write_atomically(args.out, json.dumps(report, indent=2) + "\n")
    return 0
