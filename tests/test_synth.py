"""Timbrel Synth, the real built instrument (dist/TimbrelSynth.vst3) played from MIDI in
pedalboard and DawDreamer: notes in, the model's sound out at the notes' pitches and times."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET  # noqa: F401 (the state's type)

import librosa
import mido
import numpy as np
import pytest

from conftest import REPO, SAMPLE_RATE
from timbrel.hosts import plugin_state

SYNTH = os.environ.get("TIMBREL_SYNTH_PLUGIN", str(REPO / "dist" / "TimbrelSynth.vst3"))


def state_xml(plugin) -> ET.Element:
    """The plugin's own state (inside the host's VST3 wrapper)."""
    return plugin_state.read(bytes(plugin.raw_state), plugin="TimbrelSynth")


@pytest.fixture(scope="module")
def synth():
    import pedalboard

    plugin = pedalboard.load_plugin(SYNTH)
    assert plugin.is_instrument
    return plugin


def notes(*events) -> list[mido.Message]:
    """(seconds, 'on'|'off', note[, velocity]) -> mido messages with times in seconds."""
    messages = []
    for seconds, kind, note, *velocity in events:
        kind = "note_on" if kind == "on" else "note_off"
        messages.append(mido.Message(kind, note=note, velocity=velocity[0] if velocity else 100, time=seconds))
    return messages


def median_pitch(audio: np.ndarray, start: float, end: float) -> float:
    """pyin's median pitch (MIDI) over [start, end) seconds of a mono signal."""
    f0, voiced, _ = librosa.pyin(audio[int(start * SAMPLE_RATE): int(end * SAMPLE_RATE)], fmin=80, fmax=2000,
                                 sr=SAMPLE_RATE, frame_length=2048)
    return float(np.median(librosa.hz_to_midi(f0[voiced])))


def test_a_melody_in_pedalboard_plays_each_note_at_its_pitch(synth):
    melody = [60, 64, 67, 72, 69]
    events = []
    for i, note in enumerate(melody):
        events += [(0.5 * i, "on", note), (0.5 * i + 0.4, "off", note)]
    audio = synth(notes(*events), duration=3.0, sample_rate=SAMPLE_RATE, num_channels=2)
    assert audio.shape == (2, 3 * SAMPLE_RATE)
    assert np.isfinite(audio).all()
    np.testing.assert_array_equal(audio[0], audio[1])
    status = state_xml(synth).find("Status")
    assert status.get("message") == "" and status.get("modelName") == "violin", status.attrib
    latency = int(status.get("latency"))
    for i, note in enumerate(melody):
        start = 0.5 * i + 0.1 + latency / SAMPLE_RATE
        read = median_pitch(audio[0], start, start + 0.3)
        assert abs(read - note) < 0.5, f"note {note} read as {read:.2f}"
    # The release tail ends: silence well after the last note-off.
    assert np.abs(audio[:, int(2.9 * SAMPLE_RATE):]).max() == 0.0


def test_a_chord_holds_every_note_and_no_other(synth):
    chord = [60, 64, 67]
    audio = synth(notes(*[(0.0, "on", n) for n in chord]), duration=1.5, sample_rate=SAMPLE_RATE, num_channels=2)[0]
    spectrum = np.abs(np.fft.rfft(audio[int(0.4 * SAMPLE_RATE):] * np.hanning(audio.size - int(0.4 * SAMPLE_RATE))))
    freqs = np.fft.rfftfreq(audio.size - int(0.4 * SAMPLE_RATE), 1 / SAMPLE_RATE)

    def level(midi: int) -> float:  # the strongest bin within a quarter tone of the note
        hz = librosa.midi_to_hz(midi)
        band = (freqs > hz * 2 ** (-0.25 / 12)) & (freqs < hz * 2 ** (0.25 / 12))
        return float(spectrum[band].max())

    played = min(level(n) for n in chord)
    unplayed = max(level(n) for n in range(60, 72) if n not in chord)
    assert 20 * np.log10(played / unplayed) > 20.0


def test_pitch_bend_moves_the_note_by_the_bend_range(synth):
    synth.bend_range_st = 12.0
    try:
        messages = notes((0.0, "on", 60)) + [mido.Message("pitchwheel", pitch=8191, time=0.0)]
        audio = synth(messages, duration=1.0, sample_rate=SAMPLE_RATE, num_channels=2)[0]
    finally:
        synth.bend_range_st = 2.0
    assert abs(median_pitch(audio, 0.3, 1.0) - 72.0) < 0.5


def test_dawdreamer_renders_a_midi_file_offline_the_same_twice(tmp_path):
    import dawdreamer as daw

    path = tmp_path / "melody.mid"
    song = mido.MidiFile()
    track = mido.MidiTrack()
    song.tracks.append(track)
    for note in (57, 62, 65):
        track += [mido.Message("note_on", note=note, velocity=90, time=0),
                  mido.Message("note_off", note=note, velocity=0, time=240)]
    song.save(path)

    def render() -> np.ndarray:
        engine = daw.RenderEngine(SAMPLE_RATE, 512)
        synth = engine.make_plugin_processor("synth", SYNTH)
        assert synth.load_midi(str(path), clear_previous=True, beats=False)
        engine.load_graph([(synth, [])])
        engine.render(2.0)
        return engine.get_audio()

    first, second = render(), render()
    assert np.isfinite(first).all() and np.abs(first).max() > 1e-3
    np.testing.assert_array_equal(first, second)


def write_midi(path, notes_at: list[tuple[float, float, int]]) -> None:
    """(start seconds, end seconds, note) -> a MIDI file at 120 bpm."""
    events = sorted([(start, "note_on", note) for start, _, note in notes_at] + [(end, "note_off", note) for _, end, note in notes_at])
    song = mido.MidiFile(ticks_per_beat=960)
    track = mido.MidiTrack()
    song.tracks.append(track)
    last = 0
    for seconds, kind, note in events:
        tick = int(round(seconds * 1920))
        track.append(mido.Message(kind, note=note, velocity=100, time=tick - last))
        last = tick
    song.save(path)


def test_timbrel_render_plays_a_midi_file_with_a_named_timbre_onsets_in_time(tmp_path):
    """`timbrel render melody.mid out.wav --model timbres --snapshot A=trumpet`: the real synth in
    DawDreamer, latency compensated: the first note starts within one hop (and its attack) of
    0.5 s, at its pitch; another timbre changes the sound, not the notes."""
    import soundfile

    from timbrel.cli import main

    write_midi(tmp_path / "melody.mid", [(0.5, 1.0, 62), (1.0, 1.5, 69)])
    outputs = {}
    for timbre in ("trumpet", "flute"):
        out = tmp_path / f"{timbre}.wav"
        assert main(["render", str(tmp_path / "melody.mid"), str(out), "--model", "timbres",
                     "--snapshot", f"A={timbre}", "--set", "attack=0.01"]) == 0
        audio, rate = soundfile.read(out, always_2d=True)
        outputs[timbre] = audio[:, 0].astype(np.float32)
        assert rate == SAMPLE_RATE and np.isfinite(audio).all()
    for audio in outputs.values():
        loud = np.flatnonzero(np.abs(audio) > 1e-3 * np.abs(audio).max())
        onset = loud[0] / SAMPLE_RATE
        assert 0.5 <= onset <= 0.5 + (512 + 512) / SAMPLE_RATE, onset  # a hop, and the attack's first hop
        assert abs(median_pitch(audio, 0.65, 0.95) - 62) < 0.5
        assert abs(median_pitch(audio, 1.15, 1.45) - 69) < 0.5
    a, b = outputs["trumpet"], outputs["flute"]
    assert np.sqrt(np.mean((a - b) ** 2)) > 0.1 * np.sqrt(np.mean(a ** 2)), "the timbre changed nothing"


def test_timbrel_render_renders_a_folder_of_midi_files_and_refuses_a_timbre_the_model_lacks(tmp_path, capsys):
    from timbrel.cli import main

    (tmp_path / "in" / "sub").mkdir(parents=True)
    write_midi(tmp_path / "in" / "a.mid", [(0.0, 0.5, 60)])
    write_midi(tmp_path / "in" / "sub" / "b.mid", [(0.0, 0.5, 67)])
    assert main(["render", str(tmp_path / "in"), str(tmp_path / "out"), "--host", "pedalboard"]) == 0
    assert (tmp_path / "out" / "a.wav").exists() and (tmp_path / "out" / "sub" / "b.wav").exists()
    assert main(["render", str(tmp_path / "in" / "a.mid"), str(tmp_path / "x.wav"), "--model", "timbres",
                 "--snapshot", "A=kazoo"]) == 2
    assert "has no timbre 'kazoo'" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


def _midi_file(path, events) -> str:
    """(seconds, 'on'|'off', note) -> a MIDI file (note-offs before note-ons at the same time)."""
    from timbrel.hosts.synth import _write_midi

    return str(_write_midi(notes(*sorted(events, key=lambda e: (e[0], e[1] == "on"))), path))


def test_a_model_switch_while_notes_sound_fades_them_and_the_new_model_plays_the_next(tmp_path):
    # In real time (timbrel_rt_host, in lockstep so the load lands at a known block on any
    # machine): a chord held on the violin, the flute chosen at 1.0 s while it sounds, a new
    # note at 2.0 s.
    from timbrel_tools.rthost import find_rt_host, render_native, synth_model_state

    midi = _midi_file(tmp_path / "switch.mid", [(0.2, "on", 60), (0.2, "on", 64), (0.2, "on", 67),
                                                 (2.0, "on", 72), (3.0, "off", 60), (3.0, "off", 64),
                                                 (3.0, "off", 67), (3.0, "off", 72)])
    silence = np.zeros((2, int(3.6 * SAMPLE_RATE)), np.float32)
    output, report = render_native(silence, SAMPLE_RATE, plugin_path=SYNTH, block=256, realtime=True, lockstep=True,
                                   state=synth_model_state("violin"), events=[(1.0, synth_model_state("flute"))],
                                   midi_in=midi, host=find_rt_host())
    assert report["lockstep_timeouts"] == 0
    assert report["status"]["modelName"] == "flute", report["status"]
    assert not report["status"]["message"]
    mono = output.mean(0)
    assert np.isfinite(mono).all()

    def level(start, end):
        piece = mono[int(start * SAMPLE_RATE): int(end * SAMPLE_RATE)]
        return 20 * np.log10(np.sqrt(np.mean(piece ** 2)) + 1e-12)

    chord, gap, new_note = level(0.5, 1.0), level(1.3, 1.95), level(2.3, 2.9)
    print(f"\nchord {chord:.1f} dB, after the switch {gap:.1f} dB, the next note {new_note:.1f} dB")
    assert chord > -40
    assert gap < chord - 50, "the notes held across the switch must fade, not carry on"
    assert new_note > -40, "the new model must play the next note"
    # The fade is a fade, not a cut: no sample-to-sample step near the switch beyond what the
    # chord itself makes.
    switch = slice(int(0.9 * SAMPLE_RATE), int(1.3 * SAMPLE_RATE))
    assert np.abs(np.diff(mono[switch])).max() <= np.abs(np.diff(mono[int(0.5 * SAMPLE_RATE): int(0.9 * SAMPLE_RATE)])).max() * 1.5
    # The next note is at its pitch (pyin): the flute plays C5.
    assert abs(median_pitch(mono, 2.3, 2.9) - 72) < 0.5


def test_threaded_synth_never_allocates_on_the_audio_thread(tmp_path):
    # Threaded (the default), the model runs on the worker: what the counter sees inside
    # processBlock must be exactly what the plugin costs with no model at all (JUCE's VST3
    # wrapper allocates a little around each call). Chords are played throughout, so voices
    # start, steal and release while it is counted. Inline runs libtorch in the callback: the
    # counter sees it, which shows the count can fail.
    from timbrel_tools.rthost import find_rt_host, render_native, synth_model_state

    events = []
    for k, chord in enumerate([(60, 64, 67), (62, 65, 69, 72), (55, 59, 62, 65, 67), (60, 67)]):
        for note in chord:
            events += [(0.1 + 0.5 * k, "on", note), (0.5 + 0.5 * k, "off", note)]
    midi = _midi_file(tmp_path / "chords.mid", events)
    silence = np.zeros((2, int(2.5 * SAMPLE_RATE)), np.float32)
    common = dict(plugin_path=SYNTH, block=128, realtime=True, pace=2.0, warmup_blocks=64, midi_in=midi,
                  host=find_rt_host())
    _, baseline = render_native(silence, SAMPLE_RATE, state=synth_model_state(tmp_path / "no-such-model.ts"), **common)
    assert "no model" in baseline["status"]["message"]
    _, threaded = render_native(silence, SAMPLE_RATE, state=synth_model_state("violin"), **common)
    assert threaded["status"]["modelName"] == "violin" and not threaded["status"]["message"]
    print(f"\nper callback: no model {baseline['audio_thread_allocations'] / baseline['timed_blocks']:.2f}, "
          f"Threaded {threaded['audio_thread_allocations'] / threaded['timed_blocks']:.2f} allocations; "
          f"underruns {threaded['status']['underruns']}")
    for key in ("audio_thread_allocations", "audio_thread_frees"):
        assert threaded[key] * baseline["timed_blocks"] == baseline[key] * threaded["timed_blocks"], key
    _, inline = render_native(silence, SAMPLE_RATE, state=synth_model_state("violin"),
                              **{**common, "settings": {"processing_mode": "Inline"}})
    assert inline["audio_thread_allocations"] > baseline["audio_thread_allocations"] + inline["timed_blocks"] // 8


def test_a_state_saved_by_the_previous_build_restores_and_plays_threaded(tmp_path):
    # Timbrel Synth as first released (stop 33) saved no processing_mode and a shorter Status:
    # its settings come back, the new parameter takes its default (Threaded), and it plays.
    import xml.etree.ElementTree as ET

    from timbrel_tools.rthost import find_rt_host, render_native

    root = ET.Element("TimbrelSynth", model="flute")
    for name, value in (("polyphony", "4"), ("mono", "0"), ("attack", "0.05"), ("release", "0.2"), ("morph", "0.0")):
        ET.SubElement(root, "PARAM", id=name, value=value)
    ET.SubElement(root, "Status", message="", loading="0", latency="0", voices="4", sounding="0",
                  modelName="flute", timbres="flute")
    midi = _midi_file(tmp_path / "note.mid", [(0.2, "on", 72), (1.0, "off", 72)])
    silence = np.zeros((2, int(1.6 * SAMPLE_RATE)), np.float32)
    output, report = render_native(silence, SAMPLE_RATE, plugin_path=SYNTH, block=512, realtime=False,
                                   state=plugin_state._pack_xml(root), midi_in=midi, host=find_rt_host())
    status = report["status"]
    assert status["modelName"] == "flute" and not status["message"] and status["voices"] == "4"
    # Threaded: the latency holds the worker's hop and block beyond the model's own delay.
    assert int(status["latency"]) >= 512
    mono = output.mean(0)
    latency = report["latency_samples"]
    assert abs(median_pitch(mono[latency:], 0.4, 0.9) - 72) < 0.5
