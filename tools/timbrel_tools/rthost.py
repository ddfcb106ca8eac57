"""The plugin in real-time mode: a thin wrapper around timbrel_rt_host (tests/native), the
project's own native host. pedalboard and DawDreamer put the plugin in non-realtime mode; this
host keeps it in real-time mode, calls it from an audio thread paced like an audio device,
times every callback and counts the heap allocations made on the audio thread.

The executable is $TIMBREL_RT_HOST, else the newest of the CMake build folders' copies
(build/ from `make build`, build-rt/ from a separate configure).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from timbrel.hosts import plugin_state
from timbrel.hosts.plugin import channels_first, model_reference

from .checkout import REPO_ROOT, built_plugin
_BUILD_FOLDERS = ("build", "build-rt")
_CONFIGS = ("Release", "RelWithDebInfo", "MinSizeRel", "Debug")
_ARTEFACTS = Path("tests") / "native" / "timbrel_rt_host_artefacts"


class RtHostError(RuntimeError):
    """timbrel_rt_host failed; the message carries its stderr."""


def find_rt_host() -> Path:
    """$TIMBREL_RT_HOST, else the most recently built timbrel_rt_host under the repo's build folders."""
    env = os.environ.get("TIMBREL_RT_HOST")
    if env:
        path = Path(env)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise FileNotFoundError(f"TIMBREL_RT_HOST={env} is not an executable file")
        return path
    candidates = [REPO_ROOT / build / _ARTEFACTS / config / "timbrel_rt_host"
                  for build in _BUILD_FOLDERS for config in _CONFIGS]
    found = [path for path in candidates if path.is_file() and os.access(path, os.X_OK)]
    if not found:
        raise FileNotFoundError("timbrel_rt_host not found (looked in "
                                + ", ".join(str(REPO_ROOT / b / _ARTEFACTS) for b in _BUILD_FOLDERS)
                                + "): run `make build` or set TIMBREL_RT_HOST")
    return max(found, key=lambda path: path.stat().st_mtime)


def model_state(model) -> bytes:
    """A plugin state that selects `model` (a model name, or a file, made absolute) and leaves
    every parameter at its default; pass it as render_native(..., state=...)."""
    root = ET.Element("Timbrel")
    ET.SubElement(root, "Model", reference=model_reference(model))
    return plugin_state._pack_xml(root)


def synth_model_state(model) -> bytes:
    """model_state for Timbrel Synth (its state names the model in an attribute)."""
    return plugin_state._pack_xml(ET.Element("TimbrelSynth", model=model_reference(model)))


def _channels_first(audio, what: str) -> np.ndarray:
    audio = channels_first(audio, what)
    if audio.shape[1] == 0:
        raise ValueError(f"{what} is empty")
    return audio


def _setting_text(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float, np.number)):
        return repr(float(value))
    return str(value)


def _run(arguments: list[str], timeout: float | None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(arguments, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        raise RtHostError(f"timbrel_rt_host timed out after {timeout} s: {' '.join(arguments)}") from error


def render_native(audio: np.ndarray, sample_rate: float, *, plugin_path=None, block: int = 128,
                  block_pattern=None, realtime: bool = True, pace: float = 1.0, lockstep: bool = False,
                  settings: dict[str, str | float] | None = None, state: bytes | None = None,
                  sidechain: np.ndarray | None = None, instances: int = 1, warmup_blocks: int = 0,
                  events=None, resets=(), wait_for_loads: bool = True, instance_states=None,
                  duration: float = 0.0, timeline_seconds: float = 0.0, midi_in=None, midi_out: bool = False, host=None,
                  timeout: float | None = 600) -> tuple[np.ndarray, dict]:
    """Renders `audio` [channels, n] through the plugin in timbrel_rt_host.

    Returns (output, report): the raw output [channels, n + latency] (not latency-aligned:
    output[:, latency + i] lines up with audio[:, i]) and the host's report (latency_samples,
    callback_us, audio_thread_allocations, status, ...; tests/native/rt_host.cpp lists it).
    realtime=False renders offline (setNonRealtime, unpaced); pace 0 keeps real-time mode
    unpaced. lockstep=True: real-time mode, unpaced, each callback waiting (outside the counted
    scopes) until the plugin's worker has computed every block it was given and no model load
    is under way, so no underrun can happen on a busy machine and an event's load ends before
    the next block: for tests of the real-time path's logic (pace is ignored). settings: parameter ID -> value in its own units or choice text, applied before
    playback. state: a plugin state blob (e.g. model_state(...)) loaded before prepareToPlay.
    events: [(seconds, change)] applied from the message thread while playing, once the audio
    has passed `seconds`: a change is "PARAM_ID=VALUE" or a state blob (a preset load).
    resets: times (seconds) at which the audio thread calls reset() before its block.
    wait_for_loads=False starts playback while the plugin may still be loading its model.
    instance_states: state blobs, instance k restoring instance_states[k % len] (mixed models).
    duration: play this many seconds, looping the input (a soak; the output holds one pass).
    timeline_seconds: the report's "timeline" gets memory, underruns and callbacks this often.
    midi_in: a MIDI file played into the plugin (an instrument's notes), its times in seconds.
    midi_out: the report's "midi_out" gets the plugin's MIDI output as (sample, mido message),
    the sample counted like the raw output's (the latency included).
    """
    audio = _channels_first(audio, "audio")
    executable = Path(host) if host is not None else find_rt_host()
    plugin = Path(plugin_path) if plugin_path is not None else built_plugin()
    import soundfile

    with tempfile.TemporaryDirectory(prefix="timbrel-rt-") as folder:
        folder = Path(folder)
        rate = float(sample_rate)
        soundfile.write(folder / "in.wav", audio.T, int(round(rate)), subtype="FLOAT")
        arguments = [str(executable), "--plugin", str(plugin), "--input", str(folder / "in.wav"),
                     "--output", str(folder / "out.wav"), "--report", str(folder / "report.json"),
                     "--sample-rate", repr(rate), "--instances", str(int(instances)),
                     "--warmup-blocks", str(int(warmup_blocks))]
        if block_pattern is not None:
            arguments += ["--block-pattern", ",".join(str(int(n)) for n in block_pattern)]
        else:
            arguments += ["--block", str(int(block))]
        if realtime and lockstep:
            arguments += ["--lockstep"]
        elif realtime:
            arguments += ["--pace", repr(float(pace))]
        else:
            arguments += ["--offline"]
        for parameter, value in (settings or {}).items():
            arguments += ["--set", f"{parameter}={_setting_text(value)}"]
        if state is not None:
            (folder / "state.bin").write_bytes(bytes(state))
            arguments += ["--state", str(folder / "state.bin")]
        for index, (seconds, change) in enumerate(events or []):
            if isinstance(change, (bytes, bytearray)):
                (folder / f"event{index}.bin").write_bytes(bytes(change))
                arguments += ["--state-at", f"{float(seconds)!r}:{folder / f'event{index}.bin'}"]
            else:
                arguments += ["--at", f"{float(seconds)!r}:{change}"]
        if instance_states:
            paths = []
            for index, blob in enumerate(instance_states):
                paths.append(folder / f"instance{index}.bin")
                paths[-1].write_bytes(bytes(blob))
            arguments += ["--instance-states", ",".join(str(p) for p in paths)]
        if duration > 0:
            arguments += ["--duration", repr(float(duration))]
        if timeline_seconds > 0:
            arguments += ["--timeline-seconds", repr(float(timeline_seconds))]
        for seconds in resets:
            arguments += ["--reset-at", repr(float(seconds))]
        if not wait_for_loads:
            arguments += ["--no-wait-load"]
        if midi_in is not None:
            arguments += ["--midi-in", str(Path(midi_in).resolve())]
        if midi_out:
            arguments += ["--midi-out", str(folder / "out.mid")]
        if sidechain is not None:
            sidechain = _channels_first(sidechain, "sidechain")
            soundfile.write(folder / "sidechain.wav", sidechain.T, int(round(rate)), subtype="FLOAT")
            arguments += ["--sidechain", str(folder / "sidechain.wav")]

        result = _run(arguments, timeout)
        if result.returncode != 0:
            message = result.stderr.strip() or result.stdout.strip() or "(no output)"
            raise RtHostError(f"timbrel_rt_host exited with {result.returncode}: {message}")
        output, _ = soundfile.read(folder / "out.wav", dtype="float32", always_2d=True)
        report = json.loads((folder / "report.json").read_text())
        if midi_out:
            report["midi_out"] = _midi_events(folder / "out.mid", rate)
    return np.ascontiguousarray(output.T), report


def _midi_events(path: Path, rate: float) -> list:
    """(sample, message) of the host's MIDI file."""
    from timbrel.hosts.synth import midi_messages

    return [(int(round(message.time * rate)), message) for message in midi_messages(path)[0]]


def _selftest(option: str, host=None) -> dict:
    executable = Path(host) if host is not None else find_rt_host()
    result = _run([str(executable), option], timeout=60)
    if result.returncode not in (0, 1) or not result.stdout.strip():
        raise RtHostError(f"timbrel_rt_host {option} exited with {result.returncode}: {result.stderr.strip()}")
    report = json.loads(result.stdout)
    report["ok"] = result.returncode == 0
    return report


def selftest_alloc(host=None) -> dict:
    """Runs `timbrel_rt_host --selftest-alloc`: a deliberate malloc, operator new and strdup
    (which allocates inside libc) in the counted scope must be counted, allocations outside it
    or on another thread must not, and every replaced symbol must be the exported one.
    Returns its JSON with "ok" (exit code 0) added."""
    return _selftest("--selftest-alloc", host)


def selftest_waits(host=None) -> dict:
    """Runs `timbrel_rt_host --selftest-waits`: a contended lock, a condition wait, a sleep
    and a yield in the counted scope are counted; an uncontended lock and waits outside the
    scope or on another thread are not. Returns its JSON with "ok" added."""
    return _selftest("--selftest-waits", host)
