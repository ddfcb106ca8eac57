"""pedalboard hosting the real plugin: it puts the plugin in non-realtime mode, compensates the
reported latency itself, and has no automation (process in chunks and set parameters between)."""

from __future__ import annotations

import os

import numpy as np

from . import plugin_state
from .parameters import Parameter, index_by_id, parameter_id, unknown_parameter
from .plugin import channels_first, find_plugin, model_reference


class PedalboardHost:
    """pedalboard: compensates the reported latency itself (output aligned with input)."""

    name = "pedalboard"

    def __init__(self, plugin_path=None, model: str | os.PathLike | None = None):
        import pedalboard

        self.plugin = pedalboard.load_plugin(str(find_plugin(plugin_path)))
        # pedalboard names parameters after their display name plus unit ("output_gain_db");
        # the display name gives the plugin's stable ID.
        self._python_names = {}
        found = []
        for python_name, item in self.plugin.parameters.items():
            found.append(self._describe(item))
            self._python_names.setdefault(found[-1].id, python_name)
        self.parameters = index_by_id(found)
        if model is not None:
            self.load_model(model)

    def load_model(self, reference, model_delay: int | None = None) -> plugin_state.Status:
        """`model_delay`: the model's own delay in model samples, overriding its figure."""
        self.plugin.raw_state = plugin_state.with_model(self.plugin.raw_state, model_reference(reference), model_delay)
        return self.status()

    def set_snapshot(self, slot: str, timbre: str | None = None, latent=None) -> plugin_state.Status:
        """Snapshot `slot` ("A" or "B") becomes a named timbre of the model, or a captured latent
        (timbrel.training.timbres.capture_latent). Returns the status: its timbre_message says
        why the plugin refused it."""
        model_name = self.status().model_name
        blob = plugin_state.with_snapshot(self.plugin.raw_state, slot, timbre, latent, model_name)
        self.plugin.raw_state = blob
        return self.status()

    def status(self) -> plugin_state.Status:
        """After any model load the plugin was running (it loads in the background)."""
        return plugin_state.settled_status(lambda: self.plugin.raw_state)

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
            raise unknown_parameter(parameter, self.parameters)
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
        audio = channels_first(audio)
        if reset:
            # pedalboard reads the plugin's latency before it prepares the plugin for this
            # call, and Timbrel's latency depends on the sample rate, block size (pedalboard
            # prepares for min(buffer_size, length)) and mode: a silent call of the same shape
            # first makes the compensation use the right value.
            block = max(1, min(buffer_size, audio.shape[1]))
            self.plugin.process(np.zeros((audio.shape[0], block), np.float32), sample_rate,
                                buffer_size=buffer_size, reset=True)
        return self.plugin.process(audio, sample_rate, buffer_size=buffer_size, reset=reset)
