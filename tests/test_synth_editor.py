"""Timbrel Synth's editor, rendered headlessly by the synth's own code
(tests/native/synth_editor_snapshot.cpp): it is drawn, names every group of controls, counts the
voices that sound and shows the keys held, its keyboard plays the synth, and its status line says
what the model plays and what went wrong. docs/screenshot-synth.png is made the same way
(make screenshot)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from test_editor import REPO, run_tool, shown_texts, timbre_map

TOOL = REPO / "build" / "tests" / "native" / "timbrel_synth_editor_snapshot"


def synth_editor(tmp_path: Path, *args: str) -> tuple:
    picture, lines = run_tool(tmp_path, *args, tool=TOOL)
    return picture, lines, shown_texts(lines)


def keys_shown_down(lines: list[str]) -> list[int]:
    (line,) = [line for line in lines if line.startswith("keys shown down:")]
    return [int(v) for v in line.split(":", 1)[1].split()]


def peak(lines: list[str]) -> float:
    (line,) = [line for line in lines if line.startswith("peak: ")]
    return float(line.split()[1])


def note_name(pitch: float) -> str:
    """A MIDI note's name with middle C (60) as C4."""
    note = round(pitch)
    return ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"][note % 12] + str(note // 12 - 1)


def card(model: str) -> dict:
    return json.loads((REPO / "models" / f"{model}.json").read_text())


def model(name: str) -> str:
    return str(REPO / "models" / f"{name}.ts")


def test_the_editor_is_drawn_and_names_every_group_of_controls(tmp_path):
    picture, lines, texts = synth_editor(tmp_path, "--model", model("violin"))
    assert picture.shape == (560, 1160, 3)
    assert picture.std() > 0.05  # not blank
    for group in ("Envelope", "Glide", "Vibrato", "Voices", "Expression", "Shift", "Output", "Timbre"):
        assert group in texts, group
    for control in ("Attack", "Decay", "Sustain", "Release", "Glide time", "Mono", "Rate", "Depth", "Delay",
                    "Polyphony", "Bend range", "Velocity", "Pressure", "Pitch", "Loudness", "Centroid", "Bandwidth",
                    "Flatness", "Gain", "Morph A to B"):
        assert control in texts, control
    assert "Timbrel Synth" in texts
    assert "0 of 8 voices" in texts
    assert any(text.startswith("violin") and "hop 512" in text for text in texts)  # the card
    assert any(line.startswith("combo: violin") for line in lines)  # the model chooser
    # What the model plays, from its card: the pitch range in note names.
    low, high = card("violin")["descriptor_min"][1], card("violin")["descriptor_max"][1]
    assert any(text.startswith(f"Plays notes {note_name(low)} to {note_name(high)}") and "natural" in text
               for text in texts)
    assert keys_shown_down(lines) == []


def test_held_notes_are_counted_as_voices_and_shown_on_the_keyboard(tmp_path):
    _, lines, texts = synth_editor(tmp_path, "--model", model("violin"), "--notes", "60,64,67", "--seconds", "1")
    assert "3 of 8 voices" in texts
    assert keys_shown_down(lines) == [60, 64, 67]
    assert peak(lines) > 1e-3
    _, lines, texts = synth_editor(tmp_path, "--model", model("violin"), "--notes", "62", "--set", "polyphony=4")
    assert "1 of 4 voices" in texts
    assert keys_shown_down(lines) == [62]


def test_the_on_screen_keyboard_plays_the_synth(tmp_path):
    _, silent, texts = synth_editor(tmp_path, "--model", model("violin"))
    assert peak(silent) == 0.0 and "0 of 8 voices" in texts
    _, lines, texts = synth_editor(tmp_path, "--model", model("violin"), "--keys", "62,69")
    assert peak(lines) > 1e-3  # the keys reached the audio thread
    assert "2 of 8 voices" in texts
    assert keys_shown_down(lines) == [62, 69]


def test_notes_beyond_the_model_range_are_reported_as_clamped(tmp_path):
    lowest = card("violin")["descriptor_min"][1]
    below = int(lowest) - 12
    _, _, texts = synth_editor(tmp_path, "--model", model("violin"), "--notes", f"{below},{below + 2}")
    assert any("2 notes outside" in text and "clamped" in text for text in texts)
    _, _, inside = synth_editor(tmp_path, "--model", model("violin"), "--notes", "72")
    assert not any("clamped" in text for text in inside)


def test_a_model_that_cannot_play_notes_or_is_missing_is_said_in_words(tmp_path):
    _, _, texts = synth_editor(tmp_path, "--model", str(tmp_path / "nowhere.ts"))
    assert any("no model named" in text.lower() and "silent" in text for text in texts)
    assert "No model is playing: the synth is silent" in texts


def test_a_model_without_natural_says_its_spectral_descriptors_are_fixed(tmp_path):
    from timbrel_tools.model_corpus import _variant, save_model

    # The test model given pitch in place of its centroid: it plays notes, and has no natural().
    notes = tmp_path / "notes-without-natural.ts"
    save_model(_variant(descriptor_names=["loudness", "pitch"], descriptor_units=["dB", "semitones"],
                        descriptor_min=[-90.0, 40.0], descriptor_max=[0.0, 90.0]), notes)
    _, _, texts = synth_editor(tmp_path, "--model", str(notes))
    assert any(text.startswith("Plays notes E2 to F#6") and "has no natural()" in text for text in texts)
    assert "This model has no named timbres: Timbre A, B and Morph do nothing" in texts
    _, _, natural = synth_editor(tmp_path, "--model", model("violin"))
    assert not any("has no natural()" in text for text in natural)


def test_the_timbre_section_follows_timbre_a_b_and_morph(tmp_path):
    names = [t if isinstance(t, str) else t["name"] for t in card("timbres")["timbres"]]
    _, lines, texts = synth_editor(tmp_path, "--model", model("timbres"), "--set", "timbre_a=3", "--set", "timbre_b=6",
                                   "--set", "morph=0.5")
    assert names[2] in texts and names[5] in texts  # the pickers: Timbre A and B count from 1
    layout = timbre_map(lines)
    assert sorted(layout.dots) == sorted(names)
    drawn = [name for name, _ in layout.names]
    assert names[2] in drawn and names[5] in drawn
    assert "0.50" in texts  # the morph's value
    _, _, single = synth_editor(tmp_path, "--model", model("violin"))
    assert not any("no named timbres" in text for text in single)  # violin names one timbre


def test_the_keyboard_draws_held_keys_in_the_accent_colour(tmp_path):
    picture, _, _ = synth_editor(tmp_path, "--model", model("violin"), "--notes", "60,64,67,71")
    quiet, _, _ = synth_editor(tmp_path, "--model", model("violin"))
    accent = np.array([0xF2, 0xB3, 0x3D]) / 255.0
    keyboard = slice(picture.shape[0] - 26 - 86, picture.shape[0] - 26)  # above the status line

    def lit(p: np.ndarray) -> int:
        return int((np.abs(p[keyboard] - accent).max(-1) < 0.12).sum())

    assert lit(picture) > lit(quiet) + 200
