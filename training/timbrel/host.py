"""The real Timbrel plugin in real hosts: pedalboard and DawDreamer load the built bundle and
render audio offline. Both put the plugin in non-realtime mode.

Parameters are addressed by their stable plugin IDs (mix, output_gain, bypass,
loudness_shift, ...) and set in their physical units (%, dB, semitones, octaves); choice
parameters take their choice text (case-insensitive) or its index. The IDs are discovered from
the loaded plugin, by the rule the plugin guarantees: the ID is the display name lowercased
with spaces replaced by underscores ("Output Gain" -> output_gain).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import plugin_state

REPO_ROOT = Path(__file__).resolve().parents[2]
HOSTS = ("pedalboard", "dawdreamer")


class PluginError(RuntimeError):
    """The plugin loaded but cannot run the requested model; the message says why."""


def default_plugin_path() -> Path:
    """$TIMBREL_PLUGIN, else the VST3 bundle that `make build` leaves in dist/."""
    path = Path(os.environ.get("TIMBREL_PLUGIN", REPO_ROOT / "dist" / "Timbrel.vst3"))
    if not path.exists():
        raise FileNotFoundError(f"Timbrel plugin not found at {path}: run `make build` or set TIMBREL_PLUGIN")
    return path


def _as_channels_first(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[np.newaxis]
    if audio.ndim != 2 or audio.shape[0] not in (1, 2):
        raise ValueError(f"audio must be [channels, samples] with 1 or 2 channels, got shape {audio.shape}")
    return np.ascontiguousarray(audio)


def parameter_id(display_name: str) -> str:
    """The plugin's stable parameter ID for a display name: "Latent 3 Offset" -> latent_3_offset."""
    return display_name.strip().lower().replace(" ", "_")


_ID_SYNTAX = re.compile(r"^[^\sA-Z=]+$")


def check_parameter_id(name: str) -> str:
    """Checks the syntax of a parameter ID without opening the plugin (whether the plugin has
    it is checked when a host opens it). Returns the name; raises ValueError."""
    if not _ID_SYNTAX.match(name or ""):
        raise ValueError(f"'{name}' is not a parameter ID: IDs are the display name lowercased with "
                         f"underscores for spaces (e.g. {parameter_id(name) if name.strip() else 'output_gain'})")
    return name


_TRUE_TEXTS = ("on", "true", "yes", "1")
_FALSE_TEXTS = ("off", "false", "no", "0")


class UnknownParameter(KeyError):
    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0])


_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def _number(text) -> float | None:
    """The number a parameter text starts with ("-12.0000000", "440 Hz"), else None."""
    match = _NUMBER.match(str(text))
    return float(match.group(1)) if match else None


@dataclass(frozen=True)
class Parameter:
    """One plugin parameter as both hosts describe it. kind: "float", "int" (discrete numeric),
    "bool" or "choice". Plain values: the value in its unit, 0/1 for bool, the index for choices."""

    id: str
    name: str
    kind: str
    minimum: float
    maximum: float
    unit: str = ""
    choices: tuple[str, ...] = ()

    @property
    def stepped(self) -> bool:
        """Automation holds each breakpoint instead of interpolating (bool and choice)."""
        return self.kind in ("bool", "choice")

    def plain(self, value) -> float:
        """A user's value (number, bool, or text) as the plain value; ValueError says why not."""
        if self.kind == "choice":
            number = None
            if isinstance(value, str):
                folded = value.strip().casefold()
                for index, choice in enumerate(self.choices):
                    if choice.casefold() == folded:
                        return float(index)
                try:
                    number = float(value)
                except ValueError:
                    pass
            else:
                number = float(value)
            valid = number is not None and np.isfinite(number) and number == round(number)
            if not valid or not 0 <= number < len(self.choices):
                raise ValueError(f"{self.id}: '{value}' is not one of {', '.join(self.choices)} "
                                 f"(or an index 0..{len(self.choices) - 1})")
            return float(number)
        if self.kind == "bool":
            if isinstance(value, str):
                folded = value.strip().casefold()
                if folded in _TRUE_TEXTS:
                    return 1.0
                if folded in _FALSE_TEXTS:
                    return 0.0
                raise ValueError(f"{self.id}: '{value}' is not on/off")
            return 1.0 if float(value) >= 0.5 else 0.0
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.id}: '{value}' is not a number") from None
        span = self.maximum - self.minimum
        if not np.isfinite(number) or not (self.minimum - 1e-6 * span <= number <= self.maximum + 1e-6 * span):
            raise ValueError(f"{self.id}: {value} is outside {self.minimum:g}..{self.maximum:g}"
                             f"{' ' + self.unit if self.unit else ''}")
        return min(max(number, self.minimum), self.maximum)

    def plain_array(self, values) -> np.ndarray:
        """plain() for an array of values (numbers, or texts as an object array)."""
        values = np.asarray(values)
        if values.dtype.kind in "fiub":
            if self.kind in ("float", "int"):
                span = self.maximum - self.minimum
                low, high = self.minimum - 1e-6 * span, self.maximum + 1e-6 * span
                bad = ~np.isfinite(values) | (values < low) | (values > high)
                if bad.any():
                    self.plain(values[bad][0])  # raises with the message
                return np.clip(values.astype(np.float64), self.minimum, self.maximum)
            if self.kind == "bool":
                return (values.astype(np.float64) >= 0.5).astype(np.float64)
        return np.array([self.plain(v) for v in values.ravel()], dtype=np.float64).reshape(values.shape)


def _unknown(parameter: str, known) -> UnknownParameter:
    return UnknownParameter(f"unknown parameter '{parameter}' (known: {', '.join(sorted(known))})")


def _index_by_id(parameters: list[Parameter]) -> dict[str, Parameter]:
    """The first parameter of each ID wins: JUCE's VST3 wrapper appends a host "Bypass" of its
    own when a plugin does not declare its bypass parameter (Timbrel does)."""
    table = {}
    for parameter in parameters:
        table.setdefault(parameter.id, parameter)
    return table


class PedalboardHost:
    """pedalboard: compensates the reported latency itself (output aligned with input)."""

    name = "pedalboard"

    def __init__(self, plugin_path=None, model: str | os.PathLike | None = None):
        import pedalboard

        self.plugin = pedalboard.load_plugin(str(plugin_path or default_plugin_path()))
        # pedalboard names parameters after their display name plus unit ("output_gain_db");
        # the display name gives the plugin's stable ID.
        self._python_names = {}
        found = []
        for python_name, item in self.plugin.parameters.items():
            found.append(self._describe(item))
            self._python_names.setdefault(found[-1].id, python_name)
        self.parameters = _index_by_id(found)
        if model is not None:
            self.load_model(model)

    def load_model(self, reference) -> plugin_state.Status:
        self.plugin.raw_state = plugin_state.with_model(self.plugin.raw_state, model_reference(reference))
        return self.status()

    def status(self) -> plugin_state.Status:
        return plugin_state.status(self.plugin.raw_state)

    @staticmethod
    def _describe(item) -> Parameter:
        pid = parameter_id(item.name)
        unit = getattr(item, "label", None) or ""
        if item.type is bool:
            return Parameter(pid, item.name, "bool", 0.0, 1.0)
        if item.type is str:
            choices = tuple(str(v) for v in item.valid_values)
            return Parameter(pid, item.name, "choice", 0.0, float(len(choices) - 1), choices=choices)
        lo, hi, step = item.range
        integer = step == 1 and float(lo).is_integer() and float(hi).is_integer()  # AudioParameterInt
        return Parameter(pid, item.name, "int" if integer else "float", float(lo), float(hi), unit)

    def parameter(self, parameter: str) -> Parameter:
        if parameter not in self.parameters:
            raise _unknown(parameter, self.parameters)
        return self.parameters[parameter]

    def set(self, parameter: str, value) -> None:
        """A value in the parameter's unit; bool parameters take True/False, choice parameters
        their text (case-insensitive) or index."""
        info = self.parameter(parameter)
        plain = info.plain(value)
        if info.kind == "choice":
            value = info.choices[int(plain)]
        elif info.kind == "bool":
            value = bool(plain)
        else:
            value = plain
        setattr(self.plugin, self._python_names[parameter], value)

    def get(self, parameter: str):
        """float for numeric and bool parameters (0/1), the text for choice parameters."""
        info = self.parameter(parameter)
        value = getattr(self.plugin, self._python_names[parameter])
        if info.kind == "choice":
            return str(value)
        return (1.0 if bool(value) else 0.0) if info.kind == "bool" else float(value)

    @property
    def latency(self) -> int:
        # The plugin's own report: pedalboard's reported_latency_samples keeps the previous
        # model's value after a state load until the next process() call (JUCE's VST3 host
        # updates it then); the compensation inside process() uses the fresh value.
        return self.status().latency

    def process(self, audio: np.ndarray, sample_rate: float, reset: bool = True,
                buffer_size: int = 8192) -> np.ndarray:
        audio = _as_channels_first(audio)
        if reset:
            # pedalboard reads the plugin's latency before it prepares the plugin for this
            # call, and Timbrel's latency depends on the sample rate, block size (pedalboard
            # prepares for min(buffer_size, length)) and mode: a silent call of the same shape
            # first makes the compensation use the right value.
            block = max(1, min(buffer_size, audio.shape[1]))
            self.plugin.process(np.zeros((audio.shape[0], block), np.float32), sample_rate,
                                buffer_size=buffer_size, reset=True)
        return self.plugin.process(audio, sample_rate, buffer_size=buffer_size, reset=reset)


class DawDreamerHost:
    """DawDreamer: parameters are normalised 0..1 by index, automation is applied once per
    block at the block's first sample, and latency is not compensated: render() aligns the
    output by get_latency_samples() so it lines up with the input."""

    name = "dawdreamer"

    def __init__(self, plugin_path=None, model=None, sample_rate: float = 44100, block_size: int = 512):
        import dawdreamer

        self.sample_rate = sample_rate
        self.block_size = block_size
        self.engine = dawdreamer.RenderEngine(sample_rate, block_size)
        self.processor = self.engine.make_plugin_processor("timbrel", str(plugin_path or default_plugin_path()))
        self._index = {}
        self._tables = {}  # id -> (plain values, normalised values) for non-linear ranges
        self._steps = {}  # id -> the plain value of each step of a discrete numeric parameter
        found = []
        for description in self.processor.get_parameters_description():
            found.append(self._describe(description))
            self._index.setdefault(found[-1].id, int(description["index"]))
        self.parameters = _index_by_id(found)
        if model is not None:
            self.load_model(model)

    def _raw_state(self) -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "state.bin")
            self.processor.save_state(path)
            return Path(path).read_bytes()

    def _set_raw_state(self, blob: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "state.bin")
            Path(path).write_bytes(blob)
            self.processor.load_state(path)

    def load_model(self, reference) -> plugin_state.Status:
        self._set_raw_state(plugin_state.with_model(self._raw_state(), model_reference(reference)))
        return self.status()

    def status(self) -> plugin_state.Status:
        return plugin_state.status(self._raw_state())

    def _texts(self, index: int, points) -> list[str]:
        """The plugin's text for each normalised value (the current value is put back)."""
        current = self.processor.get_parameter(index)
        texts = []
        for point in points:
            self.processor.set_parameter(index, float(point))
            texts.append(self.processor.get_parameter_text(index))
        self.processor.set_parameter(index, current)
        return texts

    def _describe(self, description: dict) -> Parameter:
        # DawDreamer describes a parameter by the texts at 0 and 1 ("min"/"max") and its step
        # count; through JUCE's VST3 host, AudioParameterBool reports isBoolean False (it is
        # discrete with 2 steps, texts Off/On) and no choice reports valueStrings, so discrete
        # parameters are read back value by value.
        name, index = description["name"], int(description["index"])
        pid = parameter_id(name)
        unit = description.get("label") or ""
        steps = int(description["numSteps"])
        if description["isBoolean"]:
            return Parameter(pid, name, "bool", 0.0, 1.0)
        if description["isDiscrete"] and 2 <= steps <= 4096:
            texts = self._texts(index, np.arange(steps) / (steps - 1))
            if steps == 2 and [t.strip().casefold() for t in texts] == ["off", "on"]:
                return Parameter(pid, name, "bool", 0.0, 1.0)
            numbers = [_number(t) for t in texts]
            # Numeric only if each text is a number and at most the unit: "1 Hop", "2 Hops" are
            # a choice's names (pedalboard sees a choice there too).
            if all(n is not None for n in numbers) and all(_NUMBER.sub("", t, count=1).strip() in ("", unit) for t in texts):
                self._steps[pid] = np.array(numbers)
                return Parameter(pid, name, "int", min(numbers), max(numbers), unit)
            return Parameter(pid, name, "choice", 0.0, float(steps - 1), choices=tuple(t.strip() for t in texts))
        lo, hi = _number(description["min"]), _number(description["max"])
        if lo is None or hi is None or lo == hi:
            return Parameter(pid, name, "float", 0.0, 1.0, "normalised")
        # JUCE's VST3 host reports AudioParameterInt as continuous (isDiscrete False, numSteps
        # 2^31-1) with integer texts: min + round(normalised * (max - min)).
        grid = np.linspace(0.0, 1.0, 17)
        texts = self._texts(index, grid)
        if all(re.fullmatch(r"\s*[-+]?\d+\s*", t) for t in texts) and lo < hi and hi - lo <= 65536:
            self._steps[pid] = np.arange(lo, hi + 1)
            return Parameter(pid, name, "int", lo, hi, unit)
        # A skewed range (frequencies, times) is not linear in the normalised value: read the
        # plugin's own mapping back and invert it.
        values = np.array([_number(t) if _number(t) is not None else np.nan for t in texts])
        linear = lo + grid * (hi - lo)
        if np.all(np.isfinite(values)) and np.abs(values - linear).max() > 1e-4 * abs(hi - lo):
            grid = np.linspace(0.0, 1.0, 1025)
            values = np.array([_number(t) if _number(t) is not None else np.nan for t in self._texts(index, grid)])
            if np.all(np.isfinite(values)) and np.all(np.diff(values) * np.sign(hi - lo) >= 0):
                # Texts repeat where the curve is flatter than their precision: keep the first.
                values, first = np.unique(values, return_index=True)
                self._tables[pid] = (values, grid[first])
        return Parameter(pid, name, "float", min(lo, hi), max(lo, hi), unit)

    def parameter(self, parameter: str) -> Parameter:
        if parameter not in self.parameters:
            raise _unknown(parameter, self.parameters)
        return self.parameters[parameter]

    def _normalise(self, parameter: str, value) -> np.ndarray:
        """Plain values in the parameter's unit (texts for choices) -> DawDreamer's 0..1."""
        info = self.parameter(parameter)
        plain = info.plain_array(value)
        if info.kind in ("bool", "choice"):
            normalised = np.rint(plain) / (info.maximum or 1.0)
        elif info.kind == "int":
            # The nearest of the plugin's own steps, at index / (steps - 1).
            steps = self._steps[parameter]
            nearest = np.abs(plain[..., np.newaxis] - steps).argmin(axis=-1)
            normalised = nearest / (len(steps) - 1)
        elif parameter in self._tables:
            values, grid = self._tables[parameter]
            normalised = np.interp(plain, values, grid)
        else:
            normalised = (plain - info.minimum) / (info.maximum - info.minimum)
        return np.clip(normalised, 0.0, 1.0).astype(np.float32)

    def _denormalise(self, parameter: str, normalised: float):
        info = self.parameter(parameter)
        if info.kind == "choice":
            return info.choices[int(round(normalised * (len(info.choices) - 1)))]
        if info.kind == "bool":
            return 1.0 if normalised >= 0.5 else 0.0
        if info.kind == "int":
            steps = self._steps[parameter]
            return float(steps[int(round(normalised * (len(steps) - 1)))])
        if parameter in self._tables:
            values, grid = self._tables[parameter]
            order = np.argsort(grid)
            return float(np.interp(normalised, grid[order], values[order]))
        return float(info.minimum + normalised * (info.maximum - info.minimum))

    def set(self, parameter: str, value) -> None:
        """A value in the parameter's unit; bool parameters take True/False, choice parameters
        their text (case-insensitive) or index."""
        self.processor.set_parameter(self._parameters_index(parameter), float(self._normalise(parameter, value)))

    def get(self, parameter: str):
        """float for numeric and bool parameters (0/1), the text for choice parameters."""
        return self._denormalise(parameter, float(self.processor.get_parameter(self._parameters_index(parameter))))

    def text(self, parameter: str) -> str:
        """The plugin's own display text for the current value."""
        return self.processor.get_parameter_text(self._parameters_index(parameter))

    def automate(self, parameter: str, values) -> None:
        """One value per output sample (DawDreamer reads it at each block's first sample), in
        the parameter's unit (choice parameters: indices or texts)."""
        self.processor.set_automation(self._parameters_index(parameter), self._normalise(parameter, values))

    def _parameters_index(self, parameter: str) -> int:
        return self._index[self.parameter(parameter).id]

    @property
    def latency(self) -> int:
        # The plugin's own report: DawDreamer's get_latency_samples() keeps the old value
        # after a state load changes the latency (JUCE's VST3 host updates it on a message
        # loop that DawDreamer does not run).
        return self.status().latency

    def render_raw(self, audio: np.ndarray, length: int) -> np.ndarray:
        """Renders `length` samples of the plugin's raw (not latency-aligned) output."""
        audio = _as_channels_first(audio)
        channels = audio.shape[0]
        # DawDreamer cannot re-layout a plugin that has a sidechain bus (set_bus fails), so the
        # plugin stays stereo: mono goes in on both channels and comes back from the first.
        # Channels are processed independently, so that is exactly the mono result.
        padded = np.zeros((2, length), dtype=np.float32)
        padded[:, : min(length, audio.shape[1])] = audio[:, :length]
        # One playback processor, refilled: making another with the same name prints a warning.
        if getattr(self, "_playback", None) is None:
            self._playback = self.engine.make_playback_processor("input", padded)
        else:
            self._playback.set_data(padded)
        self.engine.load_graph([(self._playback, []), (self.processor, ["input"])])
        # DawDreamer renders int(seconds * rate) samples: length / rate * rate can land just
        # below `length` (22337 samples at 44.1 kHz gives 22336), so ask for half a sample more.
        self.engine.render((length + 0.5) / self.sample_rate)
        out = np.asarray(self.processor.get_audio(), dtype=np.float32)[:channels, :length]
        if out.shape[1] != length:
            raise RuntimeError(f"DawDreamer rendered {out.shape[1]} samples, not {length}")
        return out

    def process(self, audio: np.ndarray, sample_rate: float, reset: bool = True) -> np.ndarray:
        """Renders and aligns by the reported latency: output[n] lines up with input[n]."""
        if sample_rate != self.sample_rate:
            raise ValueError(f"this DawDreamer engine runs at {self.sample_rate} Hz, audio is {sample_rate} Hz")
        audio = _as_channels_first(audio)
        latency = self.latency
        raw = self.render_raw(audio, audio.shape[1] + latency)
        return raw[:, latency: latency + audio.shape[1]]


def model_reference(model) -> str:
    """A model name stays a name; an existing file becomes an absolute path (the plugin does
    not share the caller's working directory)."""
    return str(Path(model).resolve()) if Path(model).exists() else str(model)


def open_host(host: str, plugin_path=None, model=None, sample_rate: float = 44100, block_size: int = 512):
    if host == "pedalboard":
        return PedalboardHost(plugin_path, model)
    if host == "dawdreamer":
        return DawDreamerHost(plugin_path, model, sample_rate, block_size)
    raise ValueError(f"unknown host '{host}' (choose from {', '.join(HOSTS)})")
