"""The editor, rendered headlessly by the plugin's own code (tests/native/editor_snapshot.cpp):
it is not blank, its plots move with the audio and the faders, and it says in plain words what
the model offers and what went wrong. docs/screenshot.png is made the same way (make screenshot)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "build" / "tests" / "native" / "timbrel_editor_snapshot"
# Colours of the plot curves (TimbrelLook): target amber, output green.
TARGET = np.array([0xF2, 0xB3, 0x3D]) / 255.0
OUTPUT = np.array([0x4F, 0xD1, 0xA1]) / 255.0


@dataclass
class Snapshot:
    pixels: np.ndarray  # [height, width, rgb] in 0..1
    plots: np.ndarray   # [height, width] bool: inside an active descriptor plot


def run_tool(tmp_path: Path, *args: str, env: dict | None = None, tool: Path = TOOL) -> tuple[np.ndarray, list[str]]:
    """The tool's picture ([height, width, rgb] in 0..1) and every line it printed."""
    assert tool.exists(), f"{tool} is missing: run `make build`"
    out = tmp_path / "editor.png"
    done = subprocess.run([str(tool), "--out", str(out), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return image.imread(out)[..., :3], done.stdout.splitlines()


def shown_texts(lines: list[str]) -> list[str]:
    """What the editor shows in words: labels, combo boxes, text fields and toggles."""
    return [line.split(": ", 1)[1] for line in lines if line.startswith(("label: ", "combo: ", "text: ", "toggle: "))]


@dataclass
class MapLayout:
    bounds: tuple[float, float, float, float]           # x, y, w, h in the editor
    dots: dict[str, tuple[float, float]]                 # timbre name: where its dot is
    names: list[tuple[str, tuple[float, float, float, float]]]  # names drawn and their rectangles


def timbre_map(lines: list[str]) -> MapLayout:
    (bounds,) = [tuple(float(v) for v in line.split()[1:5]) for line in lines if line.startswith("map: ")]
    dots, names = {}, []
    for line in lines:
        if line.startswith("map dot: "):
            x, y, name = line[len("map dot: "):].split(" ", 2)
            dots[name] = (float(x), float(y))
        elif line.startswith("map name: "):
            x, y, w, h, name = line[len("map name: "):].split(" ", 4)
            names.append((name, (float(x), float(y), float(w), float(h))))
    return MapLayout(bounds, dots, names)


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Area two rectangles (x, y, w, h) share."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(width, 0.0) * max(height, 0.0)


def snapshot(tmp_path: Path, *args: str, env: dict | None = None) -> tuple[Snapshot, list[str]]:
    picture, lines = run_tool(tmp_path, *args, env=env)
    labels = shown_texts(lines)
    # Keep only the active descriptor plots: curves are counted there, not in knobs or text.
    plots = np.zeros(picture.shape[:2], dtype=bool)
    for line in lines:
        if line.startswith("plot: "):
            x, y, w, h = (int(v) for v in line.split()[1:])
            plots[y: y + h, x: x + w] = True
    return Snapshot(picture, plots), labels


def pixels_near(picture: Snapshot, colour: np.ndarray, tolerance: float = 0.08) -> int:
    """Pixels of a curve's colour inside the plots (not in knobs or text)."""
    return int(((np.abs(picture.pixels - colour).max(-1) < tolerance) & picture.plots).sum())


@pytest.fixture(scope="module")
def violin() -> Path:
    return REPO / "models" / "violin.ts"


def test_editor_with_a_model_is_drawn_and_its_plots_are_alive(tmp_path, violin):
    picture, labels = snapshot(tmp_path, "--model", str(violin), "--set", "pitch_shift=5")
    assert picture.pixels.shape == (720, 1240, 3)
    assert picture.pixels.std() > 0.05           # not blank
    assert picture.plots.sum() > 5 * 100 * 50         # five active plots
    assert pixels_near(picture, TARGET) > 400         # target curves (the output drawn over them where it follows)
    assert pixels_near(picture, OUTPUT) > 200         # and the output measured on the model's output
    # The card summary, every descriptor labelled with its unit and range, the shifted fader.
    assert any(label.startswith("violin") and "hop 512" in label and "latency" in label for label in labels)
    for name in ("Loudness", "Pitch", "Centroid", "Bandwidth", "Flatness"):
        assert name in labels
    assert any(label.startswith("semitones") and " to " in label for label in labels)
    assert "+5.00 st" in labels
    assert "not in this model: no effect" not in labels
    assert any(label.startswith("Latency") and "Ready" in label for label in labels)


def test_plots_stay_flat_without_audio_and_move_with_it(tmp_path, violin):
    silent, _ = snapshot(tmp_path, "--model", str(violin), "--seconds", "0")
    playing, _ = snapshot(tmp_path, "--model", str(violin))
    assert pixels_near(silent, OUTPUT) == 0 and pixels_near(silent, TARGET) == 0
    assert pixels_near(playing, OUTPUT) > 200 and pixels_near(playing, TARGET) > 200


def test_a_model_with_fewer_descriptors_greys_out_and_labels_the_rest(tmp_path, test_model):
    _, labels = snapshot(tmp_path, "--model", str(test_model))
    assert labels.count("not in this model: no effect") == 3  # pitch, bandwidth, flatness
    assert any(label.startswith("dB") for label in labels)    # loudness is active


def test_no_model_found_says_so_and_the_editor_stays_usable(tmp_path):
    picture, labels = snapshot(tmp_path, env={"XDG_DATA_HOME": str(tmp_path / "empty")})
    assert picture.pixels.std() > 0.05
    assert picture.plots.sum() == 0
    assert "No model is playing: audio passes through dry" in labels
    assert any(label.startswith("no models found") for label in labels)


def test_a_broken_model_is_reported_in_plain_words(tmp_path, models_dir):
    _, labels = snapshot(tmp_path, "--model", str(models_dir / "broken" / "truncated.ts"))
    assert any("could not load" in label and "audio passes dry" in label for label in labels)


def test_picking_a_broken_model_keeps_the_previous_one_playing(tmp_path, violin, models_dir):
    picture, labels = snapshot(tmp_path, "--model", str(violin), "--switch-to", str(models_dir / "broken" / "nan-weights.ts"))
    assert any("could not load" in label and "kept the previous model" in label for label in labels)
    assert any(label.startswith("violin") and "hop 512" in label for label in labels)
    assert pixels_near(picture, OUTPUT) > 200  # still playing and measured


def test_picking_another_model_switches_card_and_faders(tmp_path, violin, test_model):
    _, labels = snapshot(tmp_path, "--model", str(violin), "--switch-to", str(test_model))
    assert any(label.startswith("timbrel-test") and "hop 256" in label for label in labels)
    assert labels.count("not in this model: no effect") == 3


def test_an_nn_module_shows_its_measured_delay_no_descriptors_and_its_prior(tmp_path, models_dir):
    _, labels = snapshot(tmp_path, "--model", str(models_dir / "nn-prior.ts"))
    assert any(label.startswith("nn-prior") and "hop 512" in label for label in labels)
    assert any("nn~ module played through encode/decode" in label and "Delay 700 samples" in label for label in labels)
    assert labels.count("nn~ module: it has no descriptors") == 5
    assert "(700 (measured))" in labels  # the Model delay field, empty: the measured figure shows
    assert "Generate" in labels and "Generate [disabled]" not in labels  # the module has a prior


def test_a_timbrel_model_shows_its_declared_delay_and_no_generate(tmp_path, test_model):
    _, labels = snapshot(tmp_path, "--model", str(test_model))
    assert "(31 (declared))" in labels
    assert "Generate [disabled]" in labels


def test_picking_an_unplayable_rave_file_keeps_the_previous_model(tmp_path, violin, models_dir):
    _, labels = snapshot(tmp_path, "--model", str(violin), "--switch-to", str(models_dir / "broken" / "nn-prior-only.ts"))
    assert any("has only a prior" in label and "kept the previous model" in label for label in labels)
    assert any(label.startswith("violin") and "hop 512" in label for label in labels)


def test_the_timbre_section_shows_the_model_timbres_or_says_it_is_off(tmp_path, violin):
    models = REPO / "build" / "models"
    _, labels = snapshot(tmp_path, "--model", str(models / "timbrel-timbres.ts"), "--set", "timbre_source=1",
                         "--set", "morph=0.5")
    assert "Timbre" in labels and "Snapshot" in labels
    assert "bowed" in labels and "blown" in labels          # A and B start on the first two timbres
    assert "PC1 +" in labels                                 # knobs move along the principal axes
    assert not any("timbre section is off" in label for label in labels)
    _, plain = snapshot(tmp_path, "--model", str(models / "timbrel-test.ts"))
    assert "This model has no named timbres: the timbre section is off" in plain
    assert "Z1 +" in plain


def test_capture_takes_the_playing_timbre_and_refuses_silence(tmp_path):
    models = REPO / "build" / "models"
    picture, labels = snapshot(tmp_path, "--model", str(models / "timbrel-timbres.ts"), "--capture", "B")
    assert "Captured" in labels  # the B picker shows the capture
    import soundfile as sf

    quiet = tmp_path / "silence.wav"
    sf.write(quiet, np.zeros((2 * 44100, 2), np.float32), 44100)
    _, silent = snapshot(tmp_path, "--model", str(models / "timbrel-timbres.ts"), "--input", str(quiet),
                         "--seconds", "2", "--capture", "A")
    assert "Captured" not in silent
    assert any("sounding input" in label and "unchanged" in label for label in silent)


def test_the_timbre_map_spreads_the_timbres_and_its_names_never_overlap(tmp_path):
    # The many-instrument model: sixteen timbres, most of them close together on the axes.
    timbres = json.loads((REPO / "models" / "timbres.json").read_text())["timbres"]
    names = [t if isinstance(t, str) else t["name"] for t in timbres]
    _, lines = run_tool(tmp_path, "--model", str(REPO / "models" / "timbres.ts"))
    layout = timbre_map(lines)
    x, y, w, h = layout.bounds
    assert sorted(layout.dots) == sorted(names)
    # The dots are scaled to their own extent: they span most of the map both ways.
    xs = [p[0] for p in layout.dots.values()]
    ys = [p[1] for p in layout.dots.values()]
    assert max(xs) - min(xs) > 0.7 * w and max(ys) - min(ys) > 0.7 * h
    # Names drawn: inside the map, no two sharing a pixel, and none covering another timbre's dot.
    assert len(layout.names) >= len(names) // 2
    for i, (name, rect) in enumerate(layout.names):
        assert rect[0] >= x and rect[1] >= y and rect[0] + rect[2] <= x + w and rect[1] + rect[3] <= y + h, name
        for other, other_rect in layout.names[i + 1:]:
            assert overlap(rect, other_rect) == 0.0, (name, other)
        for dot_name, (dx, dy) in layout.dots.items():
            if dot_name != name:
                assert overlap(rect, (dx - 2.5, dy - 2.5, 5.0, 5.0)) == 0.0, (name, dot_name)
    # The timbres A and B hold are always named.
    chosen = [text for text in shown_texts(lines) if text in names]
    assert chosen and all(any(drawn == timbre for drawn, _ in layout.names) for timbre in chosen)


def plot_axes(lines: list[str]) -> list[tuple[str, str]]:
    return [tuple(line[len("axis: "):].split(" | ")) for line in lines if line.startswith("axis: ")]


@pytest.mark.parametrize("model", ["timbres", "violin"])
def test_no_plot_axis_reads_a_negative_frequency(tmp_path, model):
    _, lines = run_tool(tmp_path, "--model", str(REPO / "models" / f"{model}.ts"))
    card = json.loads((REPO / "models" / f"{model}.json").read_text())
    axes = plot_axes(lines)
    assert len(axes) == 5
    frequencies = [(top, bottom) for top, bottom in axes if top.endswith(" Hz")]
    assert len(frequencies) == 2  # centroid and bandwidth
    for (top, bottom), low, high in zip(frequencies, card["descriptor_min"][2:4], card["descriptor_max"][2:4]):
        top_hz, bottom_hz = float(top.split()[0]), float(bottom.split()[0])
        # Above 0 Hz, and still around the model's range with a margin on both sides.
        assert 0.0 < bottom_hz < low and top_hz > high


def test_the_model_description_can_be_read_whole(tmp_path):
    card = json.loads((REPO / "models" / "timbres.json").read_text())
    _, lines = run_tool(tmp_path, "--model", str(REPO / "models" / "timbres.ts"))
    # The label shows what fits (wrapped, an ellipsis where it stops); the tooltip has every word.
    assert "label: " + card["description"] in lines
    assert "label tooltip: " + card["description"] in lines
    assert "tooltip window" in lines  # without one, the editor shows no tooltip at all
