"""Dataset preparation: FluidR3 generation, a user's folder with good and bad files, and the CLI entry."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from timbrel.training import dataset
from timbrel.training.dataset import DatasetError, generate_fluidr3, prepare_folder

RATE = 44100
needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not any(Path(p).exists() for p in dataset.soundfont.SOUNDFONT_CANDIDATES),
    reason="fluidsynth and FluidR3_GM.sf2 are needed (make setup installs them)")


def sine(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * rate / len(audio))


def manifest(out: Path) -> dict:
    return json.loads((out / "dataset.json").read_text())


# ----------------------------------------------------------------------------------------------------------
# FluidR3


@pytest.fixture(scope="module")
def violin(tmp_path_factory) -> tuple[Path, dataset.DatasetSummary]:
    out = tmp_path_factory.mktemp("violin")
    return out, generate_fluidr3("violin", 0.3, out, seed=0)


@needs_fluidsynth
def test_fluidr3_writes_real_audio_in_both_splits(violin):
    out, summary = violin
    info = manifest(out)
    assert info["instrument"] == "violin" and info["source"] == "FluidR3_GM.sf2 (MIT)"
    assert info["seed"] == 0 and info["sample_rate"] == RATE
    assert len(info["train"]) >= 1 and len(info["valid"]) >= 1
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.wav")) == sorted(info["train"] + info["valid"])
    total = {"train": 0.0, "valid": 0.0}
    for split in ("train", "valid"):
        for name in info[split]:
            assert name.startswith(f"{split}/")
            audio, rate = sf.read(out / name, dtype="float32")
            assert rate == RATE and audio.ndim == 1
            assert np.isfinite(audio).all() and np.abs(audio).max() < 1.0
            assert np.sqrt(np.mean(audio ** 2)) > 0.005, f"{name} is (nearly) silent"
            # Trimmed: the file starts and ends within a few frames of sound, not in long silence.
            assert np.abs(audio[:4096]).max() > 1e-3 and np.abs(audio[-4096:]).max() > 1e-4
            total[split] += len(audio) / rate
    assert info["seconds"] == pytest.approx(total, abs=0.01)
    assert 0.3 * 60 * 0.8 < sum(total.values()) < 0.3 * 60 * 1.6  # about what was asked (plus release tails)
    assert (summary.train_files, summary.valid_files) == (len(info["train"]), len(info["valid"]))
    assert "train file" in str(summary) and "valid file" in str(summary)
    assert not list(out.rglob("*.tmp")), "temporary files left behind"


@needs_fluidsynth
def test_fluidr3_is_deterministic_per_seed(violin, tmp_path):
    out, _ = violin
    first = manifest(out)["train"][0]
    generate_fluidr3("violin", 0.3, tmp_path / "same", seed=0)
    generate_fluidr3("violin", 0.3, tmp_path / "other", seed=1)
    assert (tmp_path / "same" / first).read_bytes() == (out / first).read_bytes()
    assert (tmp_path / "other" / first).read_bytes() != (out / first).read_bytes()


@pytest.mark.parametrize("instrument", sorted(dataset.INSTRUMENT_RANGES))
def test_melodies_stay_in_range_and_vary(instrument):
    low, high = dataset.INSTRUMENT_RANGES[instrument]
    rng = np.random.default_rng(7)
    notes = dataset.melody_notes(instrument, 120.0, 100.0, rng)
    pitches = [pitch for pitch, _, _ in notes if pitch >= 0]
    velocities = [velocity for pitch, _, velocity in notes if pitch >= 0]
    assert all(low <= pitch <= high for pitch in pitches)
    assert all(1 <= velocity <= 127 for velocity in velocities)
    assert max(pitches) - min(pitches) >= (high - low) // 2, "melodies should cover much of the range"
    assert max(velocities) - min(velocities) >= 40, "dynamics should vary"
    assert any(pitch < 0 for pitch, _, _ in notes), "there should be rests"
    assert any(abs(b - a) >= 5 for a, b in zip(pitches, pitches[1:])), "there should be leaps"
    assert len({beats for pitch, beats, _ in notes if pitch >= 0}) >= 5, "note lengths should vary"
    total_seconds = sum(beats for _, beats, _ in notes) * 60 / 100.0
    assert 120 <= total_seconds < 140


def test_fluidr3_rejects_bad_arguments(tmp_path):
    with pytest.raises(DatasetError, match="unknown instrument"):
        generate_fluidr3("banjo", 1, tmp_path)
    with pytest.raises(DatasetError, match="positive"):
        generate_fluidr3("violin", 0, tmp_path)


def test_chunk_plan_has_a_valid_chunk_and_long_sets_are_chunked():
    count, seconds, valid = dataset._chunk_plan(0.3)
    assert count == 2 and valid == {1}
    count, seconds, valid = dataset._chunk_plan(30)
    assert 30 <= seconds <= 60 and count * seconds == pytest.approx(1800)
    assert len(valid) == count // 10 and all(index % 10 == 9 for index in valid)


# ----------------------------------------------------------------------------------------------------------
# A user's folder

KEPT = {"stereo48.wav", "takes/mono22.flac", "takes/deep/quad.wav"}
EXPECTED_SKIPS = {"unreadable": 1, "non_finite": 1, "silent": 1, "too_short": 1}


def make_user_folder(root: Path) -> Path:
    (root / "takes" / "deep").mkdir(parents=True)
    gap = np.zeros((int(0.2 * 48000), 2), dtype=np.float32)
    stereo = np.stack([sine(440, 1.0, 48000), sine(440, 1.0, 48000)], axis=1)
    sf.write(root / "stereo48.wav", np.concatenate([gap, stereo, gap]), 48000)  # 0.2 s silence either side
    sf.write(root / "takes" / "mono22.flac", sine(330, 1.0, 22050), 22050)
    quad = np.stack([sine(550, 0.8, RATE, amplitude) for amplitude in (0.1, 0.2, 0.3, 0.4)], axis=1)
    sf.write(root / "takes" / "deep" / "quad.wav", quad, RATE)
    (root / "takes" / "x.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    broken = sine(440, 1.0, RATE)
    broken[100:200] = np.nan
    sf.write(root / "nan.wav", broken, RATE, subtype="FLOAT")
    sf.write(root / "silent.wav", np.zeros(RATE, dtype=np.float32), RATE)
    sf.write(root / "short.wav", sine(440, 0.1, RATE), RATE)
    (root / "notes.txt").write_text("recorded on a Tuesday\n")
    return root


def test_folder_keeps_good_files_as_44k1_mono_and_counts_skips(tmp_path):
    source = make_user_folder(tmp_path / "source")
    out = tmp_path / "out"
    summary = prepare_folder(source, out)
    info = manifest(out)

    assert set(info["origins"].values()) == KEPT
    assert info["skipped"] == EXPECTED_SKIPS and summary.skipped == EXPECTED_SKIPS
    assert info["skipped_files"] == {"takes/x.wav": "unreadable", "nan.wav": "non_finite",
                                     "silent.wav": "silent", "short.wav": "too_short"}
    assert info["ignored_non_audio_files"] == 1 and summary.ignored_files == 1
    assert len(info["valid"]) >= 1 and len(info["train"]) >= 1
    assert (summary.train_files, summary.valid_files) == (len(info["train"]), len(info["valid"]))
    assert "4 files" in str(summary) and "1 unreadable" in str(summary)

    by_origin = {origin: name for name, origin in info["origins"].items()}
    for origin, (freq, seconds, rms) in {"stereo48.wav": (440, 1.0, 0.5 / np.sqrt(2)),
                                         "takes/mono22.flac": (330, 1.0, 0.5 / np.sqrt(2)),
                                         "takes/deep/quad.wav": (550, 0.8, 0.25 / np.sqrt(2))}.items():
        audio, rate = sf.read(out / by_origin[origin], dtype="float32", always_2d=True)
        assert rate == RATE and audio.shape[1] == 1
        audio = audio[:, 0]
        # Resampled, not relabelled: pitch and length survive; the silence around stereo48 is trimmed.
        assert dominant_frequency(audio, RATE) == pytest.approx(freq, abs=3)
        # Trimming keeps one 512-sample frame either side of the sound and works in whole frames.
        assert seconds - 0.005 <= len(audio) / RATE <= seconds + 3 * dataset.TRIM_FRAME / RATE
        assert np.sqrt(np.mean(audio ** 2)) == pytest.approx(rms, rel=0.05)  # quad: mean of the 4 channels
    assert not list(out.rglob("*.tmp"))


def test_folder_split_is_deterministic(tmp_path):
    source = make_user_folder(tmp_path / "source")
    prepare_folder(source, tmp_path / "a")
    prepare_folder(source, tmp_path / "b")
    first, second = manifest(tmp_path / "a"), manifest(tmp_path / "b")
    assert (first["train"], first["valid"]) == (second["train"], second["valid"])
    for name in first["train"] + first["valid"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_split_is_about_ten_percent_and_stable():
    names = [f"take_{index:03d}.wav" for index in range(1000)]
    valid = [name for name in names if dataset._split_key(name, 0) % 100 < 10]
    assert 70 < len(valid) < 130
    assert dataset._split_key("a/b.wav", 3) == dataset._split_key("a/b.wav", 3) != dataset._split_key("a/b.wav", 4)


def test_rerun_into_same_folder_drops_stale_files_and_foreign_folder_is_refused(tmp_path):
    source = make_user_folder(tmp_path / "source")
    out = tmp_path / "out"
    prepare_folder(source, out)
    (source / "stereo48.wav").unlink()
    prepare_folder(source, out)
    assert len(list(out.glob("*/*.wav"))) == 2
    foreign = tmp_path / "foreign"
    (foreign / "train").mkdir(parents=True)
    sf.write(foreign / "train" / "mine.wav", sine(440, 1.0, RATE), RATE)
    with pytest.raises(DatasetError, match="no dataset.json"):
        prepare_folder(source, foreign)


def test_missing_folder_raises(tmp_path):
    with pytest.raises(DatasetError, match="not a folder"):
        prepare_folder(tmp_path / "nowhere", tmp_path / "out")


def test_folder_without_audio_raises(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no audio files"):
        prepare_folder(tmp_path / "empty", tmp_path / "out")
    (tmp_path / "empty" / "readme.txt").write_text("nothing here")
    with pytest.raises(DatasetError, match="no audio files"):
        prepare_folder(tmp_path / "empty", tmp_path / "out")


def test_folder_where_every_file_is_skipped_lists_the_counts(tmp_path):
    source = tmp_path / "bad"
    source.mkdir()
    (source / "x.wav").write_bytes(b"definitely not audio" * 50)
    (source / "y.flac").write_bytes(b"")
    sf.write(source / "silent.wav", np.zeros(RATE, dtype=np.float32), RATE)
    with pytest.raises(DatasetError) as error:
        prepare_folder(source, tmp_path / "out")
    assert "every audio file" in str(error.value)
    assert "2 unreadable" in str(error.value) and "1 silent" in str(error.value)
    assert not (tmp_path / "out" / "dataset.json").exists()


# ----------------------------------------------------------------------------------------------------------
# Command line


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="timbrel")
    dataset.add_parsers(root.add_subparsers(dest="command", required=True))
    return root


def test_cli_folder_prints_summary(tmp_path, capsys):
    source = make_user_folder(tmp_path / "source")
    args = parser().parse_args(["dataset", "folder", str(source), "--out", str(tmp_path / "out"), "--seed", "3"])
    assert args.func(args) == 0
    assert "Wrote" in capsys.readouterr().out
    assert manifest(tmp_path / "out")["seed"] == 3


def test_cli_errors_go_to_stderr_with_status_2(tmp_path, capsys):
    args = parser().parse_args(["dataset", "folder", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    assert args.func(args) == 2
    assert capsys.readouterr().err.startswith("timbrel dataset: ")
    args = parser().parse_args(["dataset", "fluidr3", "--instrument", "violin", "--minutes", "-1",
                                "--out", str(tmp_path / "out")])
    assert args.func(args) == 2
    assert "positive" in capsys.readouterr().err


def test_cli_fluidr3_arguments():
    args = parser().parse_args(["dataset", "fluidr3", "--instrument", "cello", "--minutes", "2.5", "--out", "d"])
    assert (args.instrument, args.minutes, args.out, args.seed) == ("cello", 2.5, Path("d"), 0)
    assert args.func is dataset.cmd_fluidr3
    with pytest.raises(SystemExit):
        parser().parse_args(["dataset", "fluidr3", "--instrument", "banjo", "--minutes", "1", "--out", "d"])
    with pytest.raises(SystemExit):
        parser().parse_args(["dataset"])


@needs_fluidsynth
def test_melodies_of_other_instruments_for_the_foreign_term(tmp_path):
    summary = dataset.generate_melodies(["cello", "oboe"], ["FluidR3"], 3.0, tmp_path / "m", seed=1)
    manifest = json.loads((tmp_path / "m" / "dataset.json").read_text())
    assert manifest["kind"] == "melodies" and manifest["instruments"] == ["cello", "oboe"]
    assert manifest["sources"] == ["FluidR3_GM.sf2 (MIT)"]
    assert sorted(manifest["train"]) == ["train/cello_FluidR3.wav", "train/oboe_FluidR3.wav"]
    assert summary.train_files == 2 and (tmp_path / "m" / "train" / "cello_FluidR3.wav").exists()
    assert manifest["noise_between_phrases"] is False  # the instrument alone unless --noise
    with pytest.raises(DatasetError, match="seed 0"):
        dataset.generate_melodies(["cello"], ["FluidR3"], 3.0, tmp_path / "n", seed=0)
    with pytest.raises(DatasetError, match="unknown instrument"):
        dataset.generate_melodies(["kazoo"], ["FluidR3"], 3.0, tmp_path / "n", seed=1)


@needs_fluidsynth
def test_timbres_label_every_file_and_keep_held_out_renders_out_of_training(tmp_path):
    from timbrel.training import pitch_bench

    if not any(Path(p).exists() for p in dataset.soundfont.SOUNDFONTS["MuseScore"][0]):
        pytest.skip("MuseScore General is needed (make setup installs it)")
    out = tmp_path / "t"
    summary = dataset.generate_timbres(["contrabass", "oboe"], ["FluidR3", "MuseScore"], 0.5, out, seed=2,
                                       held_out=["oboe"], held_out_soundfont="MuseScore")
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["kind"] == "timbres" and manifest["heldout_soundfont"] == "MuseScore"
    every = manifest["train"] + manifest["valid"] + manifest["heldout"]
    assert sorted(manifest["labels"]) == sorted(every) and all((out / f).exists() for f in every)
    # oboe from MuseScore only in heldout/, and heldout/ holds nothing else
    assert {tuple(manifest["labels"][f].values()) for f in manifest["heldout"]} == {("oboe", "MuseScore")}
    trained = {tuple(manifest["labels"][f].values()) for f in manifest["train"] + manifest["valid"]}
    assert trained == {("contrabass", "FluidR3"), ("contrabass", "MuseScore"), ("oboe", "FluidR3")}
    assert summary.train_files == len(manifest["train"]) >= 3 and summary.valid_files >= 3
    # each instrument's melodies stay in its range: the contrabass is low, the oboe high
    contrabass = next(i for i in pitch_bench.INSTRUMENTS if i.name == "contrabass")
    oboe = next(i for i in pitch_bench.INSTRUMENTS if i.name == "oboe")
    low = sf.read(out / next(f for f in manifest["train"] if "contrabass" in f))[0]
    high = sf.read(out / next(f for f in manifest["train"] if "oboe" in f))[0]
    hz = lambda midi: 440.0 * 2 ** ((midi - 69) / 12)
    assert dominant_frequency(low, RATE) < hz(contrabass.high) * 4 and dominant_frequency(high, RATE) > hz(oboe.low) * 0.9
    with pytest.raises(DatasetError, match="seeds 0 and 1"):
        dataset.generate_timbres(["oboe"], ["FluidR3"], 0.5, tmp_path / "u", seed=1)
    with pytest.raises(DatasetError, match="held-out"):
        dataset.generate_timbres(["oboe"], ["FluidR3"], 0.5, tmp_path / "u", held_out=["cello"])
