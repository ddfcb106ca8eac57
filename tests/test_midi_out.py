"""The effect's tracked pitch as MIDI out (issue 32, item 7), from the real plugin in
timbrel_rt_host (pedalboard and DawDreamer do not hand an effect's MIDI out back): a violin
melody rendered from MIDI with FluidR3 goes in, and the plugin's notes must be the melody's
notes, in order, each starting where its audio plays (the reported latency after the input)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, SAMPLE_RATE
from timbrel_tools.rthost import find_rt_host, model_state, render_native

BEAT = 0.5  # seconds: melody_midi's 120 bpm
# (MIDI note, beats, velocity); -1 is a rest. Leaps, a step, a repeated rest, soft and loud.
MELODY = [(-1, 1.0, 0), (69, 2.0, 100), (-1, 1.0, 0), (72, 2.0, 70), (74, 2.0, 110), (-1, 1.0, 0),
          (67, 3.0, 90), (-1, 2.0, 0)]
ONSET_REACH = 0.12  # seconds after the note's start: the analysis window (4096 samples) and a hop


def _notes() -> list[tuple[int, float, float]]:
    """(note, start, end) in seconds."""
    notes, t = [], 0.0
    for pitch, beats, _ in MELODY:
        if pitch >= 0:
            notes.append((pitch, t, t + beats * BEAT))
        t += beats * BEAT
    return notes


@pytest.fixture(scope="module")
def melody() -> np.ndarray:
    from timbrel.training.soundfont import PROGRAMS, melody_midi, render_midi

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "melody.mid"
        melody_midi(path, MELODY, PROGRAMS["violin"])
        audio = render_midi(path, SAMPLE_RATE)
    seconds = sum(beats for _, beats, _ in MELODY) * BEAT
    return np.pad(audio, (0, max(0, int(seconds * SAMPLE_RATE) - len(audio))))[np.newaxis, : int(seconds * SAMPLE_RATE)]


@pytest.fixture(scope="module")
def violin_state() -> bytes:
    return model_state(REPO / "models" / "violin.ts")


def _render(melody, plugin_path, state, **options) -> tuple[list, dict]:
    _, report = render_native(melody, SAMPLE_RATE, plugin_path=plugin_path, state=state, midi_out=True,
                              host=find_rt_host(), **options)
    return report["midi_out"], report


def _note_ons(events, latency: int) -> list[tuple[int, float]]:
    return [(m.note, (at - latency) / SAMPLE_RATE) for at, m in events if m.type == "note_on" and m.velocity > 0]


def test_midi_out_plays_the_melody_where_its_audio_plays(melody, plugin_path, violin_state):
    events, report = _render(melody, plugin_path, violin_state, block=512, realtime=False)
    latency = report["latency_samples"]
    ons = _note_ons(events, latency)
    played = _notes()
    print(f"\nlatency {latency}; notes out: {[(n, round(t, 3)) for n, t in ons]}")
    assert [n for n, _ in ons] == [n for n, _, _ in played], "the notes out are not the notes played"
    for (note, at), (_, start, end) in zip(ons, played):
        assert start - 0.02 <= at <= start + ONSET_REACH, f"note {note} starts at {at:.3f} s, played at {start:.3f} s"
    # Every note ends once, after it started and before the next one; no note hangs at the end.
    offs = [(m.note, (at - latency) / SAMPLE_RATE) for at, m in events
            if m.type == "note_off" or (m.type == "note_on" and m.velocity == 0)]
    assert [n for n, _ in offs] == [n for n, _ in ons]
    for (note, on), (_, off), (_, start, end) in zip(ons, offs, played):
        assert on < off <= end + 0.25, f"note {note} ends at {off:.3f} s, released at {end:.3f} s"
    # Pitch bend carries the fine pitch (default range 2 semitones): within a quarter tone of the
    # note in each note's steady middle (between notes it follows slides), centred when silent.
    bends = [((at - latency) / SAMPLE_RATE, m.pitch / 8192 * 2.0) for at, m in events if m.type == "pitchwheel"]
    for note, start, end in played:
        steady = [st for t, st in bends if start + 0.15 <= t <= end - 0.1]
        assert all(abs(st) < 0.25 for st in steady), f"note {note} bends by up to {max(map(abs, steady)):.2f} st"
    assert bends[-1][1] == 0


def test_midi_out_is_the_same_in_real_time_and_offline(melody, plugin_path, violin_state):
    offline, _ = _render(melody, plugin_path, violin_state, block=256, realtime=False)
    realtime, report = _render(melody, plugin_path, violin_state, block=256, realtime=True, lockstep=True)
    assert report["status"]["underruns"] == "0"
    assert [(at, m.bytes()) for at, m in realtime] == [(at, m.bytes()) for at, m in offline]


def test_midi_out_switch_and_bypass_silence_it(melody, plugin_path, violin_state):
    off, _ = _render(melody, plugin_path, violin_state, block=512, realtime=False, settings={"midi_out": "Off"})
    assert off == []
    bypassed, _ = _render(melody, plugin_path, violin_state, block=512, realtime=False, settings={"bypass": "On"})
    assert bypassed == []
    # A higher gate drops the soft note (velocity 70) and keeps the others.
    gated, report = _render(melody, plugin_path, violin_state, block=512, realtime=False, settings={"midi_gate": -25})
    everything, _ = _render(melody, plugin_path, violin_state, block=512, realtime=False)
    assert 0 < len(_note_ons(gated, 0)) < len(_note_ons(everything, 0))
