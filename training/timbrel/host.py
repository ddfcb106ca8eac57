"""The real Timbrel plugin in real hosts: pedalboard and DawDreamer load the built bundle and
render audio offline. Both put the plugin in non-realtime mode.

Parameters are addressed by their stable plugin IDs (mix, output_gain, bypass,
loudness_shift, ...) and set in their physical units (%, dB, semitones, octaves).
"""

from __future__ import annotations

import os
import tempfile
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


class PedalboardHost:
    """pedalboard: compensates the reported latency itself (output aligned with input)."""

    name = "pedalboard"

    def __init__(self, plugin_path=None, model: str | os.PathLike | None = None):
        import pedalboard

        self.plugin = pedalboard.load_plugin(str(plugin_path or default_plugin_path()))
        # pedalboard names parameters after their display name plus unit ("output_gain_db"):
        # map the plugin's stable IDs onto them.
        self._names = {}
        for python_name in self.plugin.parameters:
            for plugin_id in _PARAMETER_IDS:
                if python_name == plugin_id or python_name.startswith(plugin_id + "_"):
                    self._names[plugin_id] = python_name
        if model is not None:
            self.load_model(model)

    def load_model(self, reference) -> plugin_state.Status:
        self.plugin.raw_state = plugin_state.with_model(self.plugin.raw_state, model_reference(reference))
        return self.status()

    def status(self) -> plugin_state.Status:
        return plugin_state.status(self.plugin.raw_state)

    def set(self, parameter: str, value: float) -> None:
        if parameter not in self._names:
            raise KeyError(f"unknown parameter '{parameter}' (known: {', '.join(sorted(self._names))})")
        setattr(self.plugin, self._names[parameter], value)

    def get(self, parameter: str) -> float:
        return float(getattr(self.plugin, self._names[parameter]))

    @property
    def latency(self) -> int:
        # The plugin's own report: pedalboard's reported_latency_samples keeps the previous
        # model's value after a state load until the next process() call (JUCE's VST3 host
        # updates it then); the compensation inside process() uses the fresh value.
        return self.status().latency

    def process(self, audio: np.ndarray, sample_rate: float, reset: bool = True) -> np.ndarray:
        return self.plugin.process(_as_channels_first(audio), sample_rate, reset=reset)


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
        self._parameters = {}
        descriptions = self.processor.get_parameters_description()
        for description in descriptions:
            for plugin_id, display_name in _PARAMETER_IDS.items():
                if description["name"] == display_name:
                    self._parameters[plugin_id] = description
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

    def _normalise(self, parameter: str, value) -> np.ndarray:
        if parameter not in self._parameters:
            raise KeyError(f"unknown parameter '{parameter}' (known: {', '.join(sorted(self._parameters))})")
        description = self._parameters[parameter]
        if description["isBoolean"]:
            return (np.asarray(value, dtype=np.float32) >= 0.5).astype(np.float32)
        lo, hi = float(description["min"]), float(description["max"])
        return np.clip((np.asarray(value, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)

    def set(self, parameter: str, value: float) -> None:
        self.processor.set_parameter(self._parameters_index(parameter), float(self._normalise(parameter, value)))

    def automate(self, parameter: str, values: np.ndarray) -> None:
        """One value per output sample (DawDreamer reads it at each block's first sample)."""
        self.processor.set_automation(self._parameters_index(parameter), self._normalise(parameter, values))

    def _parameters_index(self, parameter: str) -> int:
        self._normalise(parameter, 0.0)  # raises for unknown names
        return int(self._parameters[parameter]["index"])

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
        playback = self.engine.make_playback_processor("input", padded)
        self.engine.load_graph([(playback, []), (self.processor, ["input"])])
        self.engine.render(length / self.sample_rate)
        return np.asarray(self.processor.get_audio(), dtype=np.float32)[:channels, :length]

    def process(self, audio: np.ndarray, sample_rate: float, reset: bool = True) -> np.ndarray:
        """Renders and aligns by the reported latency: output[n] lines up with input[n]."""
        if sample_rate != self.sample_rate:
            raise ValueError(f"this DawDreamer engine runs at {self.sample_rate} Hz, audio is {sample_rate} Hz")
        audio = _as_channels_first(audio)
        latency = self.latency
        raw = self.render_raw(audio, audio.shape[1] + latency)
        return raw[:, latency: latency + audio.shape[1]]


# Stable parameter ID -> display name (plugin/source/Parameters.h).
_PARAMETER_IDS = {
    "mix": "Mix",
    "output_gain": "Output Gain",
    "bypass": "Bypass",
    "loudness_shift": "Loudness Shift",
    "pitch_shift": "Pitch Shift",
    "centroid_shift": "Centroid Shift",
    "bandwidth_shift": "Bandwidth Shift",
    "flatness_shift": "Flatness Shift",
}
PARAMETER_IDS = tuple(_PARAMETER_IDS)


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
