"""Timbrel Synth from Python: a MIDI file (or a list of mido messages) rendered offline through
the real built instrument (dist/TimbrelSynth.vst3) in DawDreamer or pedalboard.

    from timbrel.hosts.synth import render_midi
    audio, status = render_midi("melody.mid", model="timbres", snapshots={"A": "trumpet"},
                                settings={"attack": 0.05, "bend_range": 12})

Settings and the model travel in the plugin's own state (its parameters are plain values there,
so no host's normalisation is involved); named timbres are chosen by name and played by their
number in the model (Timbre A and B; Morph between them). The output is aligned: the plugin's
reported latency is removed, so a note's onset lands at its MIDI time (within one hop).
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import plugin_state
from .dawdreamer_host import raw_state, set_raw_state
from .plugin import PluginError, find_plugin, model_reference

MIDI_SUFFIXES = (".mid", ".midi")
SAMPLE_RATE = 44100
BLOCK = 512
TAIL_SECONDS = 2.0  # rendered past the last MIDI event, so release tails end inside the file


@dataclass
class SynthStatus:
    model_name: str
    message: str
    latency: int
    voices: int
    timbres: list[str]

    @property
    def ok(self) -> bool:
        return not self.message and bool(self.model_name)


def _status(state: ET.Element) -> SynthStatus:
    node = state.find("Status")
    get = (lambda k, d="": node.get(k, d)) if node is not None else (lambda k, d="": d)
    timbres = get("timbres")
    return SynthStatus(get("modelName"), get("message"), int(get("latency", "0") or 0), int(get("voices", "0") or 0),
                       timbres.split("|") if timbres else [])


def midi_messages(path) -> tuple[list, float]:
    """A MIDI file's channel messages with absolute times in seconds (its tempo map applied),
    and its length in seconds."""
    import mido

    song = mido.MidiFile(str(path))
    messages, now = [], 0.0
    for message in song:  # iterating a MidiFile yields delta times in seconds
        now += message.time
        if not message.is_meta and message.type != "sysex":
            messages.append(message.copy(time=now))
    return messages, now


def _write_midi(messages, path: Path) -> Path:
    """Messages with absolute times in seconds -> a one-track MIDI file (120 bpm, 960 ticks a beat)."""
    import mido

    ticks_per_second = 960 * 2
    song = mido.MidiFile(ticks_per_beat=960)
    track = mido.MidiTrack()
    song.tracks.append(track)
    last = 0
    for message in sorted(messages, key=lambda m: m.time):
        tick = int(round(message.time * ticks_per_second))
        track.append(message.copy(time=tick - last))
        last = tick
    song.save(str(path))
    return path


class SynthRenderer:
    """One loaded instrument reused across MIDI files: model, settings and timbres applied once."""

    def __init__(self, model=None, host: str = "dawdreamer", settings: dict | None = None,
                 snapshots: dict | None = None, plugin_path=None, sample_rate: int = SAMPLE_RATE):
        if host not in ("dawdreamer", "pedalboard"):
            raise ValueError(f"unknown host {host!r}: dawdreamer or pedalboard")
        self.host = host
        self.sample_rate = int(sample_rate)
        self.plugin_path = find_plugin(plugin_path, synth=True)
        if host == "dawdreamer":
            import dawdreamer

            self.engine = dawdreamer.RenderEngine(self.sample_rate, BLOCK)
            self.processor = self.engine.make_plugin_processor("synth", str(self.plugin_path))
        else:
            import pedalboard

            self.plugin = pedalboard.load_plugin(str(self.plugin_path))
        state = plugin_state.read(self._raw_state(), plugin="TimbrelSynth")
        if model is not None:
            state.set("model", model_reference(model))
        known = {p.get("id") for p in state.iter("PARAM")}
        for name, value in (settings or {}).items():
            if name not in known:
                raise ValueError(f"Timbrel Synth has no parameter {name!r} (it has {', '.join(sorted(known))})")
            self._set_param(state, name, float(value))
        self._set_raw_state(plugin_state.write(self._raw_state(), state))
        self.status = self._settled()
        if not self.status.ok:
            raise PluginError(self.status.message or "Timbrel Synth is not playing a model")
        if snapshots:
            state = plugin_state.read(self._raw_state(), plugin="TimbrelSynth")
            for slot, timbre in snapshots.items():
                if not isinstance(timbre, str):
                    raise ValueError("Timbrel Synth plays named timbres (a captured latent is the effect's)")
                if timbre not in self.status.timbres:
                    raise ValueError(f"snapshot {slot}: the model {self.status.model_name} has no timbre {timbre!r}"
                                     + (f" (it has {', '.join(self.status.timbres)})" if self.status.timbres
                                        else " (it has no named timbres)"))
                self._set_param(state, f"timbre_{slot.lower()}", float(self.status.timbres.index(timbre) + 1))
            self._set_raw_state(plugin_state.write(self._raw_state(), state))
            self.status = self._settled()

    @staticmethod
    def _set_param(state: ET.Element, name: str, value: float) -> None:
        for node in state.iter("PARAM"):
            if node.get("id") == name:
                node.set("value", repr(value))

    def _raw_state(self) -> bytes:
        if self.host == "pedalboard":
            return bytes(self.plugin.raw_state)
        return raw_state(self.processor)

    def _set_raw_state(self, blob: bytes) -> None:
        if self.host == "pedalboard":
            self.plugin.raw_state = blob
        else:
            set_raw_state(self.processor, blob)

    def _settled(self, timeout: float = 120.0) -> SynthStatus:
        """The status once the plugin's model load has ended (it loads in the background; the
        host's first offline block would wait for it too)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            state = plugin_state.read(self._raw_state(), plugin="TimbrelSynth")
            node = state.find("Status")
            loading = node is not None and node.get("loading") == "1"
            if not loading and node is not None and (node.get("modelName") or node.get("message")):
                return _status(state)
            if time.monotonic() > deadline:
                return _status(state)
            time.sleep(0.02)

    def render(self, midi, seconds: float | None = None) -> np.ndarray:
        """`midi`: a MIDI file path, or mido messages with absolute times in seconds. Returns the
        aligned stereo output [2, samples] of `seconds` (default: the MIDI's length plus a
        release tail)."""
        if isinstance(midi, (str, os.PathLike)):
            messages, length = midi_messages(midi)
        else:
            messages = list(midi)
            length = max((m.time for m in messages), default=0.0)
        seconds = float(seconds if seconds is not None else length + TAIL_SECONDS)
        latency = self.status.latency
        total = int(round(seconds * self.sample_rate)) + latency
        if self.host == "pedalboard":
            audio = self.plugin(messages, duration=total / self.sample_rate, sample_rate=self.sample_rate,
                                num_channels=2, reset=True)
        else:
            # DawDreamer takes MIDI from files (every event, at absolute times).
            with tempfile.TemporaryDirectory() as folder:
                path = midi if isinstance(midi, (str, os.PathLike)) else _write_midi(messages, Path(folder) / "in.mid")
                if not self.processor.load_midi(str(path), clear_previous=True, beats=False, all_events=True):
                    raise PluginError(f"DawDreamer could not read the MIDI file {path}")
            self.engine.load_graph([(self.processor, [])])
            self.engine.render(total / self.sample_rate)
            audio = self.engine.get_audio()
        audio = np.asarray(audio, dtype=np.float32)[:, latency: latency + int(round(seconds * self.sample_rate))]
        return audio


def render_midi(midi, model=None, host: str = "dawdreamer", settings: dict | None = None,
                snapshots: dict | None = None, plugin_path=None, seconds: float | None = None,
                sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, SynthStatus]:
    """One MIDI file (or messages) through Timbrel Synth: (aligned stereo audio, status)."""
    renderer = SynthRenderer(model, host, settings, snapshots, plugin_path, sample_rate)
    return renderer.render(midi, seconds), renderer.status
