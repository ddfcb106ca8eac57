"""Real instrument audio from General MIDI soundfonts we may ship models of, rendered dry by
fluidsynth from MIDI generated with mido: FluidR3_GM (MIT, Debian fluid-soundfont-gm; training
data) and MuseScore General (MIT, Debian musescore-general-soundfont-lossless; a second sample
set for held-out checks such as the pitch benchmark)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
)
# Soundfonts by name: where Debian installs them, and the package that does.
SOUNDFONTS = {
    "FluidR3": (SOUNDFONT_CANDIDATES, "fluid-soundfont-gm"),
    "MuseScore": (("/usr/share/sounds/sf2/MuseScore_General_Full.sf2",
                   "/usr/share/soundfonts/MuseScore_General_Full.sf2"), "musescore-general-soundfont-lossless"),
}
# General MIDI programs (0-based) of the instruments Timbrel uses.
PROGRAMS = {"violin": 40, "cello": 42, "trumpet": 56, "flute": 73, "choir": 52, "voice": 53}


def find_soundfont(name: str = "FluidR3") -> Path:
    candidates, package = SOUNDFONTS[name]
    for candidate in candidates:
        if Path(candidate).exists():
            return Path(candidate)
    raise FileNotFoundError(f"the {name} soundfont is not installed: install Debian's {package}")


def melody_midi(path: Path, notes: list[tuple[int, float, int]], program: int, tempo_bpm: float = 120.0) -> None:
    """Writes a monophonic MIDI file; notes are (pitch, beats, velocity), pitch < 0 is a rest."""
    ticks = 480
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm)))
    track.append(mido.Message("program_change", program=program, time=0))
    pending_rest = 0
    for pitch, beats, velocity in notes:
        length = int(round(beats * ticks))
        if pitch < 0:
            pending_rest += length
            continue
        track.append(mido.Message("note_on", note=pitch, velocity=velocity, time=pending_rest))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=length))
        pending_rest = 0
    midi = mido.MidiFile(ticks_per_beat=ticks)
    midi.tracks.append(track)
    midi.save(str(path))


def render_midi(midi_path: Path, sample_rate: int = 44100, gain: float = 0.9,
                soundfont: str = "FluidR3") -> np.ndarray:
    """Renders MIDI dry (no reverb, no chorus) with a soundfont; returns mono float32 audio."""
    if shutil.which("fluidsynth") is None:
        raise FileNotFoundError("fluidsynth not found: install Debian's fluidsynth (make setup does)")
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "render.wav"
        subprocess.run(
            ["fluidsynth", "-ni", "-R", "0", "-C", "0", "-g", str(gain), "-F", str(wav), "-r", str(sample_rate),
             str(find_soundfont(soundfont)), str(midi_path)],
            check=True, capture_output=True)
        audio, rate = sf.read(wav, dtype="float32", always_2d=True)
    assert rate == sample_rate
    return audio.mean(axis=1)


def demo_phrase(instrument: str = "flute", sample_rate: int = 44100) -> np.ndarray:
    """A short legato/staccato phrase with dynamics, trimmed of the soundfont's release tail."""
    notes = [
        (72, 1.0, 90), (74, 0.5, 70), (76, 0.5, 70), (77, 1.0, 100), (79, 2.0, 110), (-1, 0.5, 0),
        (81, 0.25, 60), (79, 0.25, 60), (77, 0.25, 60), (76, 0.25, 60), (74, 1.0, 80), (72, 2.5, 95),
        (-1, 0.5, 0), (67, 0.5, 50), (72, 0.5, 70), (76, 0.5, 90), (79, 2.5, 115),
    ]
    with tempfile.TemporaryDirectory() as folder:
        midi = Path(folder) / "phrase.mid"
        melody_midi(midi, notes, PROGRAMS[instrument])
        audio = render_midi(midi, sample_rate)
    return audio[: int(sample_rate * 8.5)]
