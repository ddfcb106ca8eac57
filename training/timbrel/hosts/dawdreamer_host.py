"""DawDreamer hosting the real plugin: non-realtime, parameters normalised 0..1 by index,
automation applied once per block at the block's first sample, latency not compensated (this
host aligns the output by the plugin's reported latency)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

from . import plugin_state
from .parameters import NUMBER, Parameter, index_by_id, number, parameter_id, unknown_parameter
from .plugin import channels_first, find_plugin, model_reference


def raw_state(processor) -> bytes:
    """A DawDreamer plugin processor's state blob (DawDreamer saves and loads states as files)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "state.bin")
        processor.save_state(path)
        return Path(path).read_bytes()


def set_raw_state(processor, blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "state.bin")
        Path(path).write_bytes(blob)
        processor.load_state(path)


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
        self.processor = self.engine.make_plugin_processor("timbrel", str(find_plugin(plugin_path)))
        self._index = {}
        self._tables = {}  # id -> (plain values, normalised values) for non-linear ranges
        self._steps = {}  # id -> the plain value of each step of a discrete numeric parameter
        found = []
        for description in self.processor.get_parameters_description():
            found.append(self._describe(description))
            self._index.setdefault(found[-1].id, int(description["index"]))
        self.parameters = index_by_id(found)
        if model is not None:
            self.load_model(model)

    def _raw_state(self) -> bytes:
        return raw_state(self.processor)

    def _set_raw_state(self, blob: bytes) -> None:
        set_raw_state(self.processor, blob)

    def load_model(self, reference, model_delay: int | None = None) -> plugin_state.Status:
        """`model_delay`: the model's own delay in model samples, overriding its figure."""
        self._set_raw_state(plugin_state.with_model(self._raw_state(), model_reference(reference), model_delay))
        return self.status()

    def set_snapshot(self, slot: str, timbre: str | None = None, latent=None) -> plugin_state.Status:
        """Snapshot `slot` ("A" or "B") becomes a named timbre of the model, or a captured latent
        (timbrel.training.timbres.capture_latent). Returns the status: its timbre_message says
        why the plugin refused it."""
        model_name = self.status().model_name
        blob = plugin_state.with_snapshot(self._raw_state(), slot, timbre, latent, model_name)
        self._set_raw_state(blob)
        return self.status()

    def status(self) -> plugin_state.Status:
        """After any model load the plugin was running (it loads in the background)."""
        return plugin_state.settled_status(self._raw_state)

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
            numbers = [number(t) for t in texts]
            # Numeric only if each text is a number and at most the unit: "1 Hop", "2 Hops" are
            # a choice's names (pedalboard sees a choice there too).
            if all(n is not None for n in numbers) and all(NUMBER.sub("", t, count=1).strip() in ("", unit) for t in texts):
                self._steps[pid] = np.array(numbers)
                return Parameter(pid, name, "int", min(numbers), max(numbers), unit)
            return Parameter(pid, name, "choice", 0.0, float(steps - 1), choices=tuple(t.strip() for t in texts))
        lo, hi = number(description["min"]), number(description["max"])
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
        values = np.array([number(t) if number(t) is not None else np.nan for t in texts])
        linear = lo + grid * (hi - lo)
        if np.all(np.isfinite(values)) and np.abs(values - linear).max() > 1e-4 * abs(hi - lo):
            grid = np.linspace(0.0, 1.0, 1025)
            values = np.array([number(t) if number(t) is not None else np.nan for t in self._texts(index, grid)])
            if np.all(np.isfinite(values)) and np.all(np.diff(values) * np.sign(hi - lo) >= 0):
                # Texts repeat where the curve is flatter than their precision: keep the first.
                values, first = np.unique(values, return_index=True)
                self._tables[pid] = (values, grid[first])
        return Parameter(pid, name, "float", min(lo, hi), max(lo, hi), unit)

    def parameter(self, parameter: str) -> Parameter:
        if parameter not in self.parameters:
            raise unknown_parameter(parameter, self.parameters)
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
        audio = channels_first(audio)
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
        audio = channels_first(audio)
        latency = self.latency
        raw = self.render_raw(audio, audio.shape[1] + latency)
        return raw[:, latency: latency + audio.shape[1]]
