"""timbrel train / export / eval on a tiny dataset of synthetic tones: training lowers the
loss, runs resume after an interruption, bad runs and data are refused in plain words, and an
exported run passes the contract and gets a card."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from timbrel.format.contract import ContractError, load_and_check
from timbrel.training.card import write_card
from timbrel.training.evaluate import evaluate
from timbrel.training.export import export_run
from timbrel.models.checkpoint import CheckpointError, build_model
from timbrel.training.data import load_split, validation_batches
from timbrel.training.losses import adversary_frames
from timbrel.training.loop import TrainConfig, TrainError, train, validation_loss

RATE = 44100


def tone_phrase(seconds: float, seed: int) -> np.ndarray:
    """Notes of a buzzy harmonic tone with vibrato and varied levels, like a simple instrument."""
    rng = np.random.default_rng(seed)
    out = []
    while sum(len(o) for o in out) < seconds * RATE:
        length = int(rng.uniform(0.25, 0.6) * RATE)
        t = np.arange(length) / RATE
        f0 = 220.0 * 2 ** (rng.integers(0, 12) / 12) * (1 + 0.004 * np.sin(2 * np.pi * 5 * t))
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        note = sum(np.sin(k * phase) / k ** 1.5 for k in range(1, 12))
        envelope = np.minimum(1.0, np.minimum(t / 0.03, (t[-1] - t) / 0.05))
        out.append(rng.uniform(0.1, 0.5) * envelope * note)
    return np.concatenate(out)[: int(seconds * RATE)].astype(np.float32)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny_data")
    (root / "train").mkdir()
    (root / "valid").mkdir()
    for i in range(3):
        sf.write(root / "train" / f"tone_{i}.wav", tone_phrase(3.0, i), RATE, subtype="FLOAT")
    sf.write(root / "valid" / "tone_v.wav", tone_phrase(2.5, 99), RATE, subtype="FLOAT")
    return root


def quick_config(**overrides) -> TrainConfig:
    base = dict(steps=30, batch=4, excerpt_seconds=0.3, learning_rate=3e-3, final_learning_rate=1e-3,
                valid_every=10, checkpoint_seconds=0.0, seed=0)
    base.update(overrides)
    return TrainConfig(**base)


def test_a_short_training_run_lowers_the_validation_loss(tiny_data, tmp_path):
    torch.manual_seed(0)
    untrained = build_model("default")
    from timbrel.training.data import descriptor_ranges

    clips = load_split(tiny_data, "train", RATE)
    untrained.set_descriptor_range(*descriptor_ranges(untrained, clips)[:2])
    valid = validation_batches(load_split(tiny_data, "valid", RATE), untrained.hop_length, RATE)
    before, _ = validation_loss(untrained, valid)

    summary = train(tiny_data, "default", tmp_path / "run", quick_config(), threads=1, progress=False)
    assert summary["steps"] == 30 and summary["stopped_by"] == "steps"
    assert summary["best_valid_spectral"] < 0.85 * before, (summary["best_valid_spectral"], before)
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [int(r["step"]) for r in rows if r["valid_spectral"]] == [10, 20, 30]
    recipe = json.loads((tmp_path / "run" / "run.json").read_text())
    assert recipe["steps"] == 30 and recipe["torch"].startswith("2.13.0")
    assert not list((tmp_path / "run").glob(".*.tmp"))  # atomic writes leave no temporary files
    umask = os.umask(0)
    os.umask(umask)
    for name in ("checkpoint.pt", "best.pt", "run.json"):  # readable like any file the user saves
        assert (tmp_path / "run" / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_resume_continues_the_same_run(tiny_data, tmp_path):
    run = tmp_path / "run"
    first = train(tiny_data, "default", run, quick_config(steps=10), threads=1, progress=False)
    assert first["steps"] == 10
    with pytest.raises(TrainError, match="--resume"):
        train(tiny_data, "default", run, quick_config(steps=10), threads=1, progress=False)
    second = train(tiny_data, "default", run, quick_config(), resume=True, threads=1, progress=False, steps=20)
    assert second["steps"] == 20
    steps = [int(r["step"]) for r in csv.DictReader(open(run / "log.csv"))]
    assert steps == sorted(steps) and steps[-1] == 20


def test_an_interrupted_run_resumes_from_its_checkpoint(tiny_data, tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "timbrel", "train", str(tiny_data), "--out", str(run), "--steps", "400",
               "--batch", "2", "--threads", "1", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    log = run / "log.csv"
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    stopped_at = state["step"]
    assert 25 <= stopped_at < 400
    resumed = command[:-7] + ["--steps", str(stopped_at + 5), "--resume", "--threads", "1", "--quiet"]
    result = subprocess.run(resumed,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == stopped_at + 5


def test_bad_data_and_runs_are_refused_in_plain_words(tmp_path):
    with pytest.raises(TrainError, match="no train/ folder"):
        train(tmp_path, "default", tmp_path / "run", quick_config(), progress=False)
    (tmp_path / "train").mkdir()
    (tmp_path / "valid").mkdir()
    with pytest.raises(TrainError, match="holds no WAV files"):
        train(tmp_path, "default", tmp_path / "run", quick_config(), progress=False)
    sf.write(tmp_path / "train" / "a.wav", np.zeros(RATE, dtype=np.float32), 22050)
    with pytest.raises(TrainError, match="22050 Hz"):
        train(tmp_path, "default", tmp_path / "run", quick_config(), progress=False)
    with pytest.raises(TrainError, match="does not exist"):
        train(tmp_path, "default", tmp_path / "other", quick_config(), resume=True, progress=False)
    with pytest.raises(CheckpointError, match="unknown config"):
        build_model("huge")


def test_export_and_eval_write_a_checked_model_and_its_card(tiny_data, tmp_path):
    run = tmp_path / "run"
    train(tiny_data, "default", run, quick_config(steps=10), threads=1, progress=False)
    with pytest.raises(ContractError, match="best.pt"):
        export_run(tmp_path / "nothing", tmp_path / "x.ts")
    out = tmp_path / "models" / "tones.ts"
    info = export_run(run, out, instrument="test tones")
    module, reloaded = load_and_check(out)
    assert reloaded == info and info.model_name == "tones" and info.latency_samples == 0
    card = info.model_card
    assert card["instrument"] == "test tones" and card["training"]["steps"] == 10
    assert card["training"]["torch"].startswith("2.13.0")

    report = evaluate(out, tiny_data, tmp_path / "eval")
    # Ten steps of training track nothing yet (test_tracking_tells_... checks the measure itself).
    assert set(report["tracking"]) == set(report["latent_probe_r2"]) == set(info.descriptor_names)
    for name in info.descriptor_names:
        assert report["tracking"][name]["frames"] > 0 and np.isfinite(report["tracking"][name]["mae"])
        assert np.isfinite(report["latent_probe_r2"][name])
    foreign = report["tracking_foreign"]
    assert len(foreign["instruments"]) == 6 and "test tones" not in foreign["instruments"]
    assert foreign["worst_r"]["loudness"] == min(entry["loudness"]["r"] for entry in foreign["instruments"].values())
    shifted = foreign["shifted"]
    assert set(shifted["instruments"]) == set(foreign["instruments"])
    assert shifted["worst_r"]["flatness"] == min(entry["flatness"]["r"] for entry in shifted["instruments"].values())
    block = report["realtime_factor_host_block"]
    assert block["hops_per_call"] == max(1, 512 // info.hop_length)
    assert (tmp_path / "eval" / "tracking.png").stat().st_size > 10_000
    assert (tmp_path / "eval" / "spectrogram.png").stat().st_size > 10_000
    json_path, md_path = write_card(out, report)
    written = json.loads(json_path.read_text())
    assert written["metrics"]["spectral_distance"] == report["spectral_distance"]
    assert written["metrics"]["realtime_factor_one_thread"] == report["realtime_factor_one_thread"]
    assert written["metrics"]["tracking_foreign"]["worst_r"] == foreign["worst_r"]
    text = md_path.read_text()
    assert "Tracking r, pitch" in text and "Tracking r, pitch, foreign audio (worst of cello" in text
    assert "Tracking r, centroid, foreign audio shifted into the model's range" in text


def test_the_tracking_term_shifts_like_a_fader_and_trains_the_decoder(tiny_data):
    from timbrel.training.losses import shifted_descriptors, tracked_indices, tracking_loss

    torch.manual_seed(0)
    model = build_model("default")
    clips = load_split(tiny_data, "train", RATE)
    from timbrel.training.data import descriptor_ranges

    model.set_descriptor_range(*descriptor_ranges(model, clips)[:2])
    x = torch.from_numpy(clips[0][: 40 * model.hop_length]).reshape(1, 1, -1).repeat(2, 1, 1)
    tracked = tracked_indices(model)
    assert [model.descriptor_names[i] for i in tracked] == ["centroid", "bandwidth", "flatness"]
    model.reset()
    d = model.analyze(x)
    # +1 normalised unit is half the range: octaves for Hz descriptors, dB otherwise.
    shifts = torch.tensor([[1.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    moved = shifted_descriptors(model, d, shifts, tracked)
    centroid, flatness = tracked[0], tracked[2]
    half_octaves = 0.5 * (np.log2(model.descriptor_max[centroid]) - np.log2(model.descriptor_min[centroid]))
    assert torch.allclose(torch.log2(moved[0, centroid] / d[0, centroid]), torch.tensor(half_octaves).float(), atol=1e-4)
    half_db = 0.25 * (model.descriptor_max[flatness] - model.descriptor_min[flatness])
    assert torch.allclose(moved[0, flatness] - d[0, flatness], torch.tensor(half_db).float(), atol=1e-3)
    assert torch.equal(moved[1], d[1])
    untouched = [i for i in range(d.shape[1]) if i not in tracked]
    assert torch.equal(moved[:, untouched], d[:, untouched])

    model.reset()
    z = model.encode(x)
    loss = tracking_loss(model, z.detach(), d, shifts, skip_hops=2)
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    decoder_grad = sum(float(p.grad.abs().sum()) for p in model.decoder.parameters() if p.grad is not None)
    assert decoder_grad > 0  # the term reaches the decoder through the analysis of its output


def test_fine_tuning_starts_from_the_given_weights_and_records_them(tiny_data, tmp_path):
    base = tmp_path / "base"
    train(tiny_data, "default", base, quick_config(steps=10), threads=1, progress=False)
    tuned = tmp_path / "tuned"
    config = quick_config(steps=10, valid_every=5, tracking_weight=2.0, learning_rate=1e-9, final_learning_rate=1e-9)
    summary = train(tiny_data, "lowlatency", tuned, config, threads=1, progress=False, init=base / "best.pt")
    # The config name and descriptor ranges come from the initial weights, not the argument.
    assert summary["config"] == "default"
    start = torch.load(base / "best.pt", weights_only=False)
    assert summary["descriptor_min"] == start["descriptor_min"]
    assert summary["init"]["from"] == "best.pt" and summary["init"]["steps"] == 10
    # With a negligible learning rate the weights stay those of the initial checkpoint.
    end = torch.load(tuned / "checkpoint.pt", weights_only=False)
    for key, value in start["model"].items():
        assert torch.allclose(end["model"][key], value, atol=1e-5), key
    rows = list(csv.DictReader(open(tuned / "log.csv")))
    assert all(float(r["tracking"]) > 0 for r in rows)
    assert [r["valid_tracking"] != "" for r in rows if r["valid_spectral"]] == [True, True]
    with pytest.raises(TrainError, match="does not exist"):
        train(tiny_data, "default", tmp_path / "x", quick_config(), progress=False, init=tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(TrainError, match="not a Timbrel checkpoint"):
        train(tiny_data, "default", tmp_path / "y", quick_config(), progress=False, init=tmp_path / "junk.pt")


def test_a_source_checkpoint_re_exports_the_same_model_with_its_card(tiny_data, tmp_path):
    run = tmp_path / "run"
    train(tiny_data, "default", run, quick_config(steps=10), threads=1, progress=False)
    first = export_run(run, tmp_path / "a.ts", instrument="tones", source_out=tmp_path / "source" / "a.pt")
    again = export_run(tmp_path / "source" / "a.pt", tmp_path / "b.ts")
    assert again.model_card == dict(first.model_card, name="b")
    a, _ = load_and_check(tmp_path / "a.ts")
    b, _ = load_and_check(tmp_path / "b.ts")
    x = torch.from_numpy(tone_phrase(1.0, 5)[: 80 * a.hop_length]).reshape(1, 1, -1)
    a.reset()
    b.reset()
    assert torch.equal(a.forward(x), b.forward(x))
    with pytest.raises(ContractError, match="no card"):
        export_run(run / "best.pt", tmp_path / "c.ts")


def test_encode_analyze_equals_encode_and_analyze_and_keeps_both_streams(tiny_data):
    torch.manual_seed(0)
    model = build_model("default").eval()
    x = torch.from_numpy(tone_phrase(1.0, 3)[: 30 * model.hop_length]).reshape(1, 1, -1).repeat(2, 1, 1)
    hop = model.hop_length
    with torch.no_grad():
        model.reset()
        expected = torch.cat([model.encode(x), model.analyze(x)], 1)
        model.reset()
        joined = torch.cat([model.encode_analyze(x[..., i * hop:(i + 1) * hop]) for i in range(10)]
                           + [torch.cat([model.encode(x[..., 10 * hop:]), model.analyze(x[..., 10 * hop:])], 1)], -1)
    assert torch.allclose(joined, expected, rtol=1e-5, atol=1e-5)


def test_the_adversary_judges_only_frames_with_signal():
    model = build_model("default")
    loud = model.descriptor_names.index("loudness")
    low, high = list(model.descriptor_min), list(model.descriptor_max)
    low[loud] = -80.0
    model.set_descriptor_range(low, high)
    d = torch.zeros(2, len(model.descriptor_names), 6)
    d[0, loud] = torch.tensor([-100.0, -90.0, -50.0, -20.0, -10.0, -45.0])
    d[1, loud] = torch.tensor([-95.0, -85.0, -84.0, -83.0, -82.0, -100.0])  # a quiet excerpt: all below the floor
    frames = adversary_frames(model, d, TrainConfig().adversary_range_db)
    assert frames.tolist() == [[False, False, False, True, True, False], [False] * 6]
    wider = adversary_frames(model, d, 60.0)
    assert wider[0].tolist() == [False, False, True, True, True, True]
    assert adversary_frames(model, d, 0.0) is None


def test_the_foreign_term_decodes_other_instruments_latents(tiny_data, tmp_path):
    # Other "instruments": hollow square-like tones (odd harmonics only), unlike the training tones.
    foreign = tmp_path / "foreign"
    (foreign / "train").mkdir(parents=True)
    rng = np.random.default_rng(3)
    t = np.arange(int(3.0 * RATE)) / RATE
    for i in range(2):
        f0 = float(rng.uniform(110, 330))
        tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 16, 2))
        sf.write(foreign / "train" / f"odd_{i}.wav", (0.2 * tone).astype(np.float32), RATE, subtype="FLOAT")
    with pytest.raises(TrainError, match="--foreign-data"):
        train(tiny_data, "default", tmp_path / "x", quick_config(foreign_weight=1.0), progress=False)
    run = tmp_path / "run"
    summary = train(tiny_data, "default", run, quick_config(steps=10, valid_every=5, foreign_weight=1.0),
                    threads=1, progress=False, foreign_data=foreign)
    assert summary["train_config"]["foreign_weight"] == 1.0
    rows = list(csv.DictReader(open(run / "log.csv")))
    validated = [r for r in rows if r["valid_spectral"]]
    assert all(float(r["foreign"]) > 0 for r in rows)
    assert len(validated) == 2 and all(float(r["valid_foreign"]) > 0 for r in validated)


CLARITY_HOP, CLARITY_FRAMES = 512, 12


def clarity_case(f0: float, harmonics: int):
    """Times, the asked pitch on every frame, every frame counted, and a tone at f0 with
    `harmonics` harmonics falling as 1/k: what pitch_clarity_loss should not penalise."""
    t = torch.arange(CLARITY_HOP * CLARITY_FRAMES, dtype=torch.float64) / RATE
    pitch = torch.full((1, CLARITY_FRAMES), 69.0 + 12 * np.log2(f0 / 440.0))
    everywhere = torch.ones(1, CLARITY_FRAMES, dtype=torch.bool)
    tone = sum(torch.sin(2 * np.pi * k * f0 * t) / k for k in range(1, harmonics + 1)).float().reshape(1, 1, -1)
    return t, pitch, everywhere, tone


def test_pitch_clarity_penalises_an_output_that_sounds_a_harmonic_up():
    from timbrel.training.losses import pitch_clarity_loss

    hop, f0 = CLARITY_HOP, 220.0
    t, pitch, everywhere, rich = clarity_case(f0, 9)
    assert pitch_clarity_loss(rich, pitch, everywhere, hop, RATE, 2).item() == 0.0
    # Nearly all the energy in the 6th harmonic: any pitch analysis hears 6 * f0.
    upper = (torch.sin(2 * np.pi * 6 * f0 * t) + 0.05 * torch.sin(2 * np.pi * f0 * t)).float().reshape(1, 1, -1)
    upper.requires_grad_(True)
    loss = pitch_clarity_loss(upper, pitch, everywhere, hop, RATE, 2)
    loss.backward()
    assert loss.item() > 0.1 and upper.grad.abs().sum().item() > 0


def test_pitch_clarity_penalises_noise_in_place_of_the_harmonics():
    # A decoder asked for a cello's low centroid at a violin's top notes can meet it with low
    # noise bands and no harmonics: the analysis then reads the noise, not the asked pitch.
    from timbrel.training.losses import pitch_clarity_loss

    hop = CLARITY_HOP
    _, pitch, everywhere, tone = clarity_case(880.0, 5)
    noise = torch.randn(1, 1, hop * CLARITY_FRAMES, generator=torch.Generator().manual_seed(1))
    assert pitch_clarity_loss(tone, pitch, everywhere, hop, RATE, 2).item() == 0.0
    noisy = (0.05 * tone + noise).requires_grad_(True)
    loss = pitch_clarity_loss(noisy, pitch, everywhere, hop, RATE, 2)
    loss.backward()
    assert loss.item() > 0.3 and noisy.grad.abs().sum().item() > 0


def test_into_range_moves_each_contour_into_the_model_range_and_keeps_its_shape():
    from timbrel.training.losses import into_range

    model = build_model("default")
    model.set_descriptor_range([-80.0, 55.0, 1000.0, 40.0, -60.0], [0.0, 91.0, 8000.0, 8000.0, 0.0])
    melody = torch.tensor([36.0, 38.0, 40.0, 41.0, 43.0, 20.0])  # a cello's low notes; the last frame silent
    brightness = torch.tensor([400.0, 500.0, 600.0, 700.0, 800.0, 100.0])
    d = torch.zeros(64, 5, 6)
    d[:, 1], d[:, 2] = melody, brightness
    d[:, 0, :5], d[:, 0, 5] = -20.0, -90.0
    moved = into_range(model, d, torch.Generator().manual_seed(0))  # medians over the frames with signal
    medians = moved[:, 1, :5].median(-1).values
    assert medians.min() >= 55.0 + 0.1 * 36 - 1e-4 and medians.max() <= 91.0 - 0.1 * 36 + 1e-4
    assert medians.max() - medians.min() > 15.0  # spread over the range, not one point
    assert torch.allclose(moved[:, 1] - moved[:, 1, :1], (melody - melody[0]).expand(64, 6))
    # Hz descriptors move in octaves: the median lands inside 1 to 8 kHz, the ratios stay.
    octaves = torch.log2(moved[:, 2, :5].median(-1).values)
    assert octaves.min() >= math.log2(1000.0) + 0.3 - 1e-4 and octaves.max() <= math.log2(8000.0) - 0.3 + 1e-4
    torch.testing.assert_close(moved[:, 2] / moved[:, 2, :1], (brightness / brightness[0]).expand(64, 6))
    assert torch.equal(moved[:, 0], d[:, 0])  # loudness is left as played


def test_a_frozen_encoder_keeps_its_weights_while_the_decoder_learns(tiny_data, tmp_path):
    source = Path(__file__).resolve().parents[2] / "models" / "source" / "violin.pt"
    run = tmp_path / "frozen"
    train(tiny_data, "default", run, quick_config(steps=3, valid_every=3, freeze_encoder=True, tracking_weight=1.0),
          threads=1, progress=False, init=source)
    before = torch.load(source, weights_only=False)["model"]
    after = torch.load(run / "checkpoint.pt", weights_only=False)["model"]
    encoder = [k for k in before if k.startswith("encoder.")]
    decoder = [k for k in before if k.startswith("decoder.") and before[k].is_floating_point()]
    assert encoder and all(torch.equal(before[k], after[k]) for k in encoder)
    assert any(not torch.equal(before[k], after[k]) for k in decoder)
    assert json.loads((run / "run.json").read_text())["train_config"]["freeze_encoder"] is True


def test_init_with_current_analysis_fine_tunes_onto_todays_pitch_analysis(tiny_data, tmp_path):
    from timbrel.models.harmonic_noise import LEGACY_ANALYSIS, HarmonicNoiseConfig

    # A checkpoint from before the analysis fields existed (the first shipped models' sources).
    shipped = torch.load(Path(__file__).resolve().parents[2] / "models" / "source" / "violin.pt", weights_only=False)
    config = {k: v for k, v in shipped["model_config"].items() if k not in LEGACY_ANALYSIS}
    source = tmp_path / "violin-first-analysis.pt"
    torch.save(dict(shipped, model_config=config | {"pitch_fmin": LEGACY_ANALYSIS["pitch_fmin"]}), source)
    kept = tmp_path / "kept"
    train(tiny_data, "default", kept, quick_config(steps=1, valid_every=1), threads=1, progress=False, init=source)
    moved = tmp_path / "moved"
    train(tiny_data, "default", moved, quick_config(steps=1, valid_every=1), threads=1, progress=False, init=source,
          current_analysis=True)
    today = HarmonicNoiseConfig()
    kept_config = torch.load(kept / "best.pt", weights_only=False)["model_config"]
    moved_state = torch.load(moved / "best.pt", weights_only=False)
    assert all(kept_config[k] == LEGACY_ANALYSIS[k] for k in LEGACY_ANALYSIS)
    assert all(moved_state["model_config"][k] == getattr(today, k) for k in LEGACY_ANALYSIS)
    init = json.loads((moved / "run.json").read_text())["init"]
    assert init["current_analysis"] is True
    # violin.pt was itself fine-tuned: every stage's minutes and steps count towards the budget.
    card = torch.load(source, weights_only=False)["card"]["training"]
    assert init["minutes"] == card["total_minutes"]
    assert init["steps"] == card["steps"] + card["fine_tuned_from"]["steps"]


def test_tracking_tells_a_decoder_that_obeys_from_one_that_ignores(tiny_data):
    # The test model's decode restores the loudness it is given (within its +-40 dB gain) and
    # ignores the centroid.
    from timbrel.training.evaluate import _loud_frames, descriptor_tracking, load_valid
    from timbrel_tools.model_corpus import FilterGainModel

    model = torch.jit.script(FilterGainModel().eval())
    z, d = _loud_frames(model, load_valid(tiny_data, RATE, int(model.hop_length)))
    results, _ = descriptor_tracking(model, z, d)
    assert results["loudness"]["r"] > 0.9
    assert results["centroid"]["r"] < 0.9  # far from the 0.95 target: eval does not pass a deaf decoder



def test_export_attaches_named_timbres_and_latent_axes_from_the_data(tiny_data, tmp_path):
    from timbrel.training import timbres

    run = tmp_path / "run"
    train(tiny_data, "default", run, quick_config(steps=10), threads=1, progress=False)
    data = tmp_path / "labelled"
    shutil.copytree(tiny_data, data)
    files = sorted(f"train/{p.name}" for p in (data / "train").glob("*.wav"))
    labels = {f: {"instrument": "low" if i < 2 else "high"} for i, f in enumerate(files)}
    (data / "dataset.json").write_text(json.dumps({"train": files, "valid": [], "labels": labels}))
    info = export_run(run, tmp_path / "a.ts", instrument="tones", source_out=tmp_path / "a.pt", timbres_data=data)
    assert info.timbre_names == ["low", "high"] and info.model_card["timbres"] == ["low", "high"]
    module, _ = load_and_check(tmp_path / "a.ts")
    # each named timbre is its instrument's mean z, measured again on the exported file
    clips = [(labels[f]["instrument"], timbres.read_clip(data / f, RATE)) for f in files]
    names, latents = timbres.named_timbres(module, clips)
    assert names == ["low", "high"]
    np.testing.assert_allclose(info.timbre_latents.numpy(), latents, atol=1e-4)
    # the axes: the strongest first, so the projections' variance falls along them
    frames = np.concatenate(list(timbres.frames_by_name(module, clips).values()))
    spread = ((frames - info.latent_mean.numpy()) @ info.latent_components.numpy().T).var(0)
    assert np.all(np.diff(spread) <= 1e-6) and spread[0] > 0
    # the source checkpoint keeps them: a re-export without the data carries the same
    again = export_run(tmp_path / "a.pt", tmp_path / "b.ts")
    assert again.timbre_names == ["low", "high"] and torch.equal(again.timbre_latents, info.timbre_latents)
    # one unlabelled instrument: one timbre, named after it
    (data / "dataset.json").write_text(json.dumps({"train": files, "valid": []}))
    single = export_run(run, tmp_path / "c.ts", instrument="tones", timbres_data=data)
    assert single.timbre_names == ["tones"] and single.timbre_latents.shape == (1, info.latent_size)
    with pytest.raises(ContractError, match="--timbres"):
        export_run(run, tmp_path / "d.ts", timbres_data=tmp_path / "nowhere")


def test_export_fits_natural_descriptors_that_follow_the_data(tiny_data, tmp_path):
    """The tones' harmonics fall off alike at every note, so their centroid follows their pitch:
    natural() has to learn that from pitch alone (an untrained z carries nothing useful)."""
    run = tmp_path / "run"
    train(tiny_data, "default", run, quick_config(steps=10), threads=1, progress=False)
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    files = sorted(f"{split}/{p.name}" for split in ("train", "valid") for p in (data / split).glob("*.wav"))
    (data / "dataset.json").write_text(json.dumps({"train": [f for f in files if f.startswith("train/")],
                                                   "valid": [f for f in files if f.startswith("valid/")]}))
    info = export_run(run, tmp_path / "a.ts", instrument="tones", source_out=tmp_path / "a.pt", timbres_data=data)
    natural = info.model_card["natural"]
    assert set(natural) == {"centroid", "bandwidth", "flatness"}
    assert natural["centroid"]["r2_valid"] > 0.5, natural
    module, _ = load_and_check(tmp_path / "a.ts")
    names = list(module.descriptor_names)
    x = torch.from_numpy(tone_phrase(2.0, 42)[: 150 * module.hop_length]).reshape(1, 1, -1)
    module.reset()
    zd = module.encode_analyze(x)
    d = zd[:, module.latent_size:]
    out = module.natural(zd)
    for name in ("pitch", "loudness"):  # pass through
        assert torch.equal(out[:, names.index(name)], d[:, names.index(name)])
    # a note an octave higher: a brighter natural centroid, the measured one's direction
    up = zd.clone()
    up[:, module.latent_size + names.index("pitch")] += 12.0
    centroid = names.index("centroid")
    assert (module.natural(up)[:, centroid] > out[:, centroid]).float().mean() > 0.9
    again = export_run(tmp_path / "a.pt", tmp_path / "b.ts")  # the source checkpoint keeps the head
    b, _ = load_and_check(tmp_path / "b.ts")
    assert torch.equal(b.natural(zd), out) and again.model_card["natural"] == natural
    plain = export_run(run, tmp_path / "c.ts")
    c, _ = load_and_check(tmp_path / "c.ts")
    assert not hasattr(c, "natural") and "natural" not in plain.model_card


def test_the_card_of_a_many_instrument_model_names_its_data(tmp_path):
    from timbrel.training.card import model_card

    dataset = {"kind": "timbres", "seed": 2, "instruments": ["violin", "alto sax"], "soundfonts": ["FluidR3", "MuseScore"],
               "sources": ["FluidR3_GM.sf2 (MIT)", "MuseScore_General_Full.sf2 (MIT)"], "minutes_each": 4.0,
               "heldout_soundfont": "MuseScore", "held_out": ["alto sax"]}
    (tmp_path / "run.json").write_text(json.dumps({"dataset": dataset, "train_minutes_of_audio": 10.0}))
    state = {"model_config": {"sample_rate": 44100, "hop_length": 512}, "config_name": "timbres",
             "descriptor_min": [], "descriptor_max": []}
    data = model_card(tmp_path, state, "timbres", "2 instruments", None, 1)["training_data"]
    assert data["license"] == "MIT" and "MuseScore_General_Full.sf2" in data["source"]
    assert data["generated_by"] == ("timbrel dataset timbres --minutes 4.0 --soundfonts FluidR3 MuseScore --seed 2 "
                                    "--hold-out 'alto sax' --hold-out-soundfont MuseScore")
