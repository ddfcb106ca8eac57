"""`timbrel render`: files and folders through the real plugin, with parameter settings and
automation curves."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from ..files import atomic_path
from .parameters import UnknownParameter, check_parameter_id
from .plugin import PluginError, find_plugin


class RenderError(RuntimeError):
    pass


class SettingsError(ValueError):
    """A setting or curve the plugin refuses: it concerns every file, not one."""


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """[channels, samples] float32 and the sample rate; mono or stereo only."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except sf.LibsndfileError as error:
        raise RenderError(f"cannot read {path}: {error.error_string}") from None
    except (RuntimeError, TypeError) as error:
        raise RenderError(f"cannot read {path}: {error}") from None
    if audio.shape[1] > 2:
        raise RenderError(f"{path} has {audio.shape[1]} channels; Timbrel takes mono or stereo")
    if audio.shape[0] == 0:
        raise RenderError(f"{path} is empty")
    return np.ascontiguousarray(audio.T), rate


# ---------------------------------------------------------------------------------------------
# Automation curves: breakpoints (time in seconds, value in the parameter's unit).

def _curve_value(text: str):
    """A breakpoint value: a number, or a choice text kept as text."""
    text = text.strip()
    if not text:
        raise ValueError("empty value")
    try:
        value = float(text)
    except ValueError:
        return text
    if not np.isfinite(value):
        raise ValueError(f"'{text}' is not a finite number")
    return value


def _curve_time(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"time '{text.strip()}' is not a number of seconds") from None
    if not np.isfinite(value):
        raise ValueError(f"time '{text.strip()}' is not finite")
    return value


def _curve_arrays(points: list[tuple[float, object]], source: str) -> tuple[np.ndarray, np.ndarray]:
    if not points:
        raise ValueError(f"{source}: no breakpoints")
    times = np.array([t for t, _ in points], dtype=np.float64)
    if np.any(np.diff(times) < 0):
        at = int(np.argmax(np.diff(times) < 0)) + 1
        raise ValueError(f"{source}: times must not go backwards ({times[at - 1]:g} s then {times[at]:g} s)")
    raw = [v for _, v in points]
    if all(isinstance(v, float) for v in raw):
        values = np.array(raw, dtype=np.float64)
    else:
        values = np.empty(len(raw), dtype=object)
        values[:] = raw
    return times, values


def parse_curve(text_or_path) -> tuple[np.ndarray, np.ndarray]:
    """An automation curve from a CSV file of `time_seconds,value` rows (a header row and
    `#` comments are allowed) or from inline breakpoints `0:0,2:12,4:-12`. Returns the times
    (seconds, non-decreasing) and the values: float64, or an object array when some values
    are choice texts. Raises ValueError naming the problem."""
    text = str(text_or_path).strip()
    path = Path(text)
    if text and path.is_file():
        return _parse_csv(path)
    if not text:
        raise ValueError("empty automation curve")
    if ":" not in text:
        if text.lower().endswith((".csv", ".txt")) or "/" in text or "\\" in text:
            raise ValueError(f"automation curve file not found: {text}")
        raise ValueError(f"'{text}' is neither a curve file nor inline breakpoints TIME:VALUE,TIME:VALUE,...")
    points = []
    for position, item in enumerate(text.split(","), 1):
        time, sep, value = item.partition(":")
        if not sep:
            raise ValueError(f"breakpoint {position} '{item.strip()}' is not TIME:VALUE")
        try:
            points.append((_curve_time(time), _curve_value(value)))
        except ValueError as error:
            raise ValueError(f"breakpoint {position} '{item.strip()}': {error}") from None
    return _curve_arrays(points, "inline curve")


def _parse_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    points = []
    first = True
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 2:
            raise ValueError(f"{path} line {number}: expected time_seconds,value, got '{line}'")
        try:
            time = _curve_time(fields[0])
        except ValueError as error:
            if first and _looks_like_header(fields):  # an optional header row, e.g. time,value
                first = False
                continue
            raise ValueError(f"{path} line {number}: {error}") from None
        first = False
        try:
            points.append((time, _curve_value(fields[1])))
        except ValueError as error:
            raise ValueError(f"{path} line {number}: {error}") from None
    return _curve_arrays(points, str(path))


def _looks_like_header(fields: list[str]) -> bool:
    return all(re.match(r"^[A-Za-z_][\w ()\[\]./-]*$", field) for field in fields)


def curve_samples(times, values, sample_rate: float, n: int, stepped: bool = False) -> np.ndarray:
    """The curve at each of n samples (sample k at k / sample_rate seconds): linear between
    breakpoints (or holding each breakpoint's value until the next when `stepped`), the first
    value before the first breakpoint and the last after the last. Two breakpoints at the same
    time make a jump. Values must be numbers (choice texts are converted by the parameter)."""
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if times.ndim != 1 or times.shape != values.shape or len(times) == 0:
        raise ValueError("a curve needs as many values as times, at least one")
    t = np.arange(n, dtype=np.float64) / sample_rate
    # The last breakpoint at or before t; interpolate towards the next one (strictly later).
    left = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1)
    if stepped or len(times) == 1:
        out = values[left]
    else:
        right = np.minimum(left + 1, len(times) - 1)
        span = times[right] - times[left]
        fraction = np.where(span > 0, (t - times[left]) / np.where(span > 0, span, 1.0), 0.0)
        fraction = np.clip(fraction, 0.0, 1.0)
        out = values[left] + fraction * (values[right] - values[left])
    out = np.where(t < times[0], values[0], out)
    return out.astype(np.float64)


def as_curve(curve) -> tuple[np.ndarray, np.ndarray]:
    """A curve given as text or a CSV path (parse_curve) or as (times, values)."""
    if isinstance(curve, (str, Path)):
        return parse_curve(curve)
    times, values = curve
    if np.ndim(times) != 1 or np.shape(times) != np.shape(values):
        raise ValueError("a curve is (times, values) with one value per time")
    return _curve_arrays([(float(t), v if isinstance(v, str) else float(v)) for t, v in zip(times, values)], "curve")


# ---------------------------------------------------------------------------------------------
# Rendering.

# DawDreamer's host block: with automation, a value applies at the first sample of each block,
# so blocks stay short; without, long blocks let the plugin give the model many hops per call
# (several times faster offline; the output differs only in float rounding).
AUTOMATION_BLOCK = 512
PLAIN_BLOCK = 4096


class Renderer:
    """One loaded plugin reused across files: the model is loaded and the settings applied once
    per sample rate (DawDreamer's engine has a fixed rate, so another rate opens another host).
    Each file is rendered from a reset plugin, aligned with its input."""

    def __init__(self, model=None, host: str = "dawdreamer", settings=None, automation=None, plugin_path=None,
                 snapshots: dict | None = None):
        self.model = model
        # "A"/"B" -> a named timbre (str) or a captured latent (a sequence of floats)
        self.snapshots = dict(snapshots or {})
        self.host_name = host
        self.settings = dict(settings or {})
        self.plugin_path = find_plugin(plugin_path)  # before any work: a missing plugin fails at once
        automation = dict(automation or {})
        for name in list(self.settings) + list(automation):
            check_parameter_id(name)
        if automation and host != "dawdreamer":
            raise ValueError(f"automation needs the DawDreamer host ({host} cannot automate parameters): "
                             f"use --host dawdreamer")
        both = sorted(set(self.settings) & set(automation))
        if both:
            raise ValueError(f"{', '.join(both)}: both set and automated; give one or the other")
        self.automation = {name: as_curve(curve) for name, curve in automation.items()}
        self._hosts = {}

    def host_for(self, sample_rate: int):
        key = sample_rate if self.host_name == "dawdreamer" else None
        if key not in self._hosts:
            block = AUTOMATION_BLOCK if self.automation else PLAIN_BLOCK
            from . import open_host

            plugin = open_host(self.host_name, self.plugin_path, sample_rate=sample_rate, block_size=block)
            # Every name and value must be valid before anything is loaded or rendered.
            try:
                for name, (_, values) in self.automation.items():
                    plugin.parameter(name).plain_array(values)
                for name, value in self.settings.items():
                    plugin.parameter(name).plain(value)
            except ValueError as error:
                raise SettingsError(str(error)) from None
            if self.model is not None:
                plugin.load_model(self.model)
            for name, value in self.settings.items():
                plugin.set(name, value)
            for slot, snapshot in self.snapshots.items():
                named = isinstance(snapshot, str)
                status = plugin.set_snapshot(slot, timbre=snapshot if named else None, latent=None if named else snapshot)
                if status.timbre_message:
                    raise SettingsError(f"snapshot {slot}: {status.timbre_message}")
            self._hosts[key] = plugin
        return self._hosts[key]

    def render(self, audio: np.ndarray, sample_rate: int):
        """(aligned output [channels, samples], the plugin's status); raises RenderError when the
        plugin cannot run the model."""
        plugin = self.host_for(sample_rate)
        if self.automation:
            # DawDreamer renders the input plus the latency; the curve runs on the input's
            # timeline and holds its last value over the tail.
            length = audio.shape[1] + plugin.latency
            for name, (times, values) in self.automation.items():
                parameter = plugin.parameter(name)
                plain = parameter.plain_array(values)
                plugin.automate(name, curve_samples(times, plain, sample_rate, length, stepped=parameter.stepped))
        output = plugin.process(audio, sample_rate)
        # The plugin's status is final only once it knows the session's sample rate and layout.
        status = plugin.status()
        if not status.ok:
            raise RenderError(status.message or "the plugin is not running a model")
        return output, status


def _write(output_path: Path, output: np.ndarray, rate: int) -> None:
    with atomic_path(output_path) as temporary:
        sf.write(temporary, output.T, rate, subtype="FLOAT", format="WAV")


def render_file(input_path, output_path, model=None, host="dawdreamer", settings=None, plugin_path=None,
                automation: dict | None = None, snapshots: dict | None = None) -> str:
    """Renders one file; `settings` maps parameter IDs to values (choice parameters: text or
    index), `automation` maps IDs to curves (a CSV path or inline breakpoints as parse_curve
    reads them, or (times, values)), `snapshots` maps "A"/"B" to a named timbre or a captured
    latent. Returns the report line."""
    renderer = Renderer(model, host, settings, automation, plugin_path, snapshots)
    audio, rate = read_audio(input_path)
    output, status = renderer.render(audio, rate)
    _write(output_path, output, rate)
    return (f"{output_path}: {audio.shape[1] / rate:.2f} s, {audio.shape[0]} ch at {rate} Hz through "
            f"{status.model_name} in {host} (latency {status.latency} samples, compensated){_failures(status)}")


def _failures(status) -> str:
    """Hops the model failed on played dry; say how many and why, in the model's words."""
    return f"; {status.failed_hops} hops failed and played dry: {status.failure}" if status.failed_hops else ""


def render_folder(input_dir, output_dir, model=None, host="dawdreamer", settings=None, plugin_path=None,
                  automation: dict | None = None, log=print, snapshots: dict | None = None) -> tuple[int, int, int]:
    """Renders every audio file under input_dir (recursively, sorted) to the same relative path
    under output_dir as a float WAV, with one loaded plugin. Unreadable files are skipped with
    the reason. Returns (rendered, skipped, failed); failed counts files the plugin could not
    process."""
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"input folder not found: {input_dir}")
    renderer = Renderer(model, host, settings, automation, plugin_path, snapshots)
    inside = output_dir.resolve()
    files = sorted((p for p in input_dir.rglob("*") if p.is_file()), key=lambda p: p.relative_to(input_dir).as_posix())
    rendered = skipped = failed = 0
    targets = {}
    for path in files:
        relative = path.relative_to(input_dir)
        if inside in path.resolve().parents:
            continue  # an earlier render's output inside the input folder
        target = output_dir / relative.with_suffix(".wav")
        if target in targets:
            log(f"skipped {relative}: same output file as {targets[target]}")
            skipped += 1
            continue
        try:
            audio, rate = read_audio(path)
        except (RenderError, FileNotFoundError) as error:
            reason = str(error).replace(f"cannot read {path}: ", "not readable audio: ").replace(f"{path} ", "")
            log(f"skipped {relative}: {reason}")
            skipped += 1
            continue
        try:
            output, status = renderer.render(audio, rate)
        except SettingsError:
            raise
        except (RenderError, PluginError, ValueError) as error:
            log(f"failed  {relative}: {error}")
            failed += 1
            continue
        _write(target, output, rate)
        targets[target] = relative
        rendered += 1
        log(f"{relative} -> {target}: {audio.shape[1] / rate:.2f} s, {audio.shape[0]} ch at {rate} Hz "
            f"({status.model_name}, latency {status.latency} samples, compensated){_failures(status)}")
    log(f"{rendered} rendered, {skipped} skipped" + (f", {failed} failed" if failed else ""))
    return rendered, skipped, failed


# ---------------------------------------------------------------------------------------------
# The command line.

def _parse_settings(pairs: list[str]) -> dict[str, float | str]:
    """--set NAME=VALUE: a number, or a choice parameter's text. Names are checked for syntax
    here and against the loaded plugin when the host opens."""
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise SystemExit(f"--set expects NAME=VALUE, got '{pair}'")
        try:
            check_parameter_id(name)
        except ValueError as error:
            raise SystemExit(f"--set: {error}") from None
        try:
            settings[name] = float(value)
        except ValueError:
            settings[name] = value  # a choice text; the plugin's parameter decides
    return settings


def _parse_automation(pairs: list[str]) -> dict[str, tuple]:
    """--automate ID=CURVE: a CSV file of time_seconds,value rows or inline TIME:VALUE,..."""
    automation = {}
    for pair in pairs:
        name, sep, curve = pair.partition("=")
        name = name.strip()
        if not sep or not curve.strip():
            raise SystemExit(f"--automate expects ID=CURVE (a CSV file or TIME:VALUE,...), got '{pair}'")
        try:
            check_parameter_id(name)
            automation[name] = parse_curve(curve)
        except ValueError as error:
            raise SystemExit(f"--automate {name}: {error}") from None
    return automation


def _parse_snapshots(pairs: list[str]) -> dict:
    """--snapshot SLOT=NAME (a named timbre of the model) or SLOT=@FILE (a latent, the numbers
    `timbrel capture MODEL AUDIO --out FILE` writes: what the plugin's Capture takes)."""
    snapshots = {}
    for pair in pairs:
        slot, sep, value = pair.partition("=")
        slot, value = slot.strip().upper(), value.strip()
        if not sep or not value or slot not in ("A", "B"):
            raise SystemExit(f"--snapshot expects A=NAME, B=NAME or A=@LATENT_FILE, got '{pair}'")
        if not value.startswith("@"):
            snapshots[slot] = value
            continue
        try:
            latent = np.loadtxt(value[1:], dtype=np.float64, ndmin=1)
        except (OSError, ValueError) as error:
            raise SystemExit(f"--snapshot {slot}: cannot read a latent from {value[1:]}: {error}") from None
        if latent.ndim != 1 or not latent.size or not np.all(np.isfinite(latent)):
            raise SystemExit(f"--snapshot {slot}: {value[1:]} must hold one finite number per latent dimension")
        snapshots[slot] = latent.tolist()
    return snapshots


def _is_midi_input(path: Path) -> bool:
    from .synth import MIDI_SUFFIXES

    if path.is_dir():
        return any(p.suffix.lower() in MIDI_SUFFIXES for p in path.rglob("*") if p.is_file())
    return path.suffix.lower() in MIDI_SUFFIXES


def _cmd_render_midi(args: argparse.Namespace, settings: dict, snapshots: dict, automation: dict) -> int:
    """MIDI in: Timbrel Synth plays it (a file, or every MIDI file of a folder, recursively)."""
    from .synth import MIDI_SUFFIXES, SynthRenderer

    if automation:
        print("timbrel render: --automate applies to audio through the effect; for MIDI, move parameters with "
              "MIDI controllers in the file", file=sys.stderr)
        return 2
    numeric = {}
    for name, value in settings.items():
        if not isinstance(value, float):
            print(f"timbrel render: --set {name}: Timbrel Synth's parameters take numbers (mono=1 for On)",
                  file=sys.stderr)
            return 2
        numeric[name] = value
    if args.input.is_dir():
        jobs = [(p, args.output / p.relative_to(args.input).with_suffix(".wav"))
                for p in sorted(args.input.rglob("*")) if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES]
    else:
        jobs = [(args.input, args.output)]
    try:
        renderer = SynthRenderer(args.model, args.host, numeric, snapshots, args.plugin)
        for source, target in jobs:
            audio = renderer.render(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            _write(target, audio, renderer.sample_rate)
            print(f"{source} -> {target}: {audio.shape[1] / renderer.sample_rate:.2f} s through Timbrel Synth "
                  f"({renderer.status.model_name}, {renderer.status.voices} voices, latency "
                  f"{renderer.status.latency} samples, compensated)")
    except (PluginError, FileNotFoundError, ValueError, OSError) as error:
        print(f"timbrel render: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    settings = _parse_settings(args.set)
    snapshots = _parse_snapshots(args.snapshot)
    automation = _parse_automation(args.automate)
    if args.input.exists() and _is_midi_input(args.input):
        return _cmd_render_midi(args, settings, snapshots, automation)
    if automation and args.host != "dawdreamer":
        print(f"timbrel render: --automate needs --host dawdreamer ({args.host} cannot automate parameters)",
              file=sys.stderr)
        return 2
    try:
        if args.input.is_dir():
            if args.output.exists() and not args.output.is_dir():
                raise ValueError(f"{args.output} is a file; a folder input renders into a folder")
            rendered, _, failed = render_folder(args.input, args.output, model=args.model, host=args.host,
                                                settings=settings, plugin_path=args.plugin, automation=automation,
                                                snapshots=snapshots)
            return 0 if rendered and not failed else 2
        report = render_file(args.input, args.output, model=args.model, host=args.host, settings=settings,
                             plugin_path=args.plugin, automation=automation, snapshots=snapshots)
    except (RenderError, PluginError, FileNotFoundError, ValueError, UnknownParameter) as error:
        print(f"timbrel render: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if error.name not in ("pedalboard", "dawdreamer"):
            raise
        # The hosts are an optional extra of the package.
        print(f"timbrel render: {error.name} is not installed (pip install 'timbrel[hosts]')", file=sys.stderr)
        return 2
    print(report)
    return 0


def add_parser(subparsers) -> None:
    render = subparsers.add_parser("render", help="render an audio file (or a folder of them) through the real plugin; "
                                                  "a MIDI file (or folder) plays Timbrel Synth")
    render.add_argument("input", type=Path,
                        help="audio file, or a folder: every readable audio file in it, recursively; a MIDI file "
                             "(.mid), or a folder holding MIDI files, is played by Timbrel Synth")
    render.add_argument("output", type=Path, help="output WAV, or the output folder (same relative paths, .wav)")
    render.add_argument("--model", help="model file or shipped model name (default: the plugin's default)")
    render.add_argument("--host", choices=("dawdreamer", "pedalboard"), default="dawdreamer")
    render.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="parameter in its unit, e.g. loudness_shift=-6, mix=50, output_gain=-3; "
                             "choice parameters take their text or index")
    render.add_argument("--automate", action="append", default=[], metavar="ID=CURVE",
                        help="automate a parameter (DawDreamer only): CURVE is a CSV file of time_seconds,value "
                             "rows or inline breakpoints like 0:0,2:12,4:-12; linear between breakpoints "
                             "(choices step), held before the first and after the last")
    render.add_argument("--snapshot", action="append", default=[], metavar="SLOT=TIMBRE",
                        help="timbre snapshot A or B: a named timbre of the model (A=violin) or @LATENT_FILE, "
                             "the latent `timbrel capture MODEL AUDIO --out FILE` takes from a recording "
                             "(B=@voice.txt); play it with --set timbre_source=Snapshot and --set morph=0..1 "
                             "(or automate morph)")
    render.add_argument("--plugin", type=Path,
                        help="plugin bundle (default: $TIMBREL_PLUGIN, a source checkout's dist/Timbrel.vst3, "
                             "then ~/.vst3, /usr/local/lib/vst3 and /usr/lib/vst3)")
    render.set_defaults(func=cmd_render)
