"""Named timbres and recognition by the nearest one, on a real (untrained) model and two sounds
that differ only in their spectral shape."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from timbrel.models.checkpoint import build_model
from timbrel.training import timbres

RATE = 44100


def tone(f0: float, seconds: float, odd_only: bool, seed: int) -> np.ndarray:
    """A tone of 20 harmonics with a slow vibrato: all harmonics, or the odd ones only."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))) / RATE
    harmonics = [k for k in range(1, 21) if k % 2 == 1 or not odd_only]
    audio = sum(np.sin(k * phase + rng.uniform(0, 6.28)) / k for k in harmonics)
    return (0.2 * audio / np.abs(audio).max()).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("timbres").eval()


def test_the_nearest_named_timbre_tells_two_spectra_apart(model):
    train = [("full", tone(f, 1.5, False, i)) for i, f in enumerate([196.0, 262.0, 330.0])]
    train += [("odd", tone(f, 1.5, True, i)) for i, f in enumerate([196.0, 262.0, 330.0])]
    names, latents = timbres.named_timbres(model, train)
    assert names == ["full", "odd"] and latents.shape == (2, int(model.latent_size))
    assert np.isfinite(latents).all() and np.abs(latents[0] - latents[1]).max() > 0
    unseen = [("full", tone(233.0, 1.5, False, 7)), ("odd", tone(233.0, 1.5, True, 7)),
              ("full", tone(294.0, 1.5, False, 8)), ("odd", tone(294.0, 1.5, True, 8))]
    result = timbres.recognition(model, names, latents, unseen)
    assert result["clips"] == 4 and result["accuracy"] == 1.0, result
    # swapped labels: every clip is then nearest the other name
    swapped = timbres.recognition(model, names[::-1], latents, unseen)
    assert swapped["accuracy"] == 0.0 and swapped["confusions"]["full"] == {"odd": 2}


def test_clip_frames_keep_only_frames_with_signal(model):
    audio = np.concatenate([tone(220.0, 1.0, False, 0), np.zeros(RATE, np.float32)])
    frames = timbres.clip_frames(model, audio)
    hop = int(model.hop_length)
    assert frames.shape[1] == int(model.latent_size)
    assert RATE // hop * 0.8 < frames.shape[0] <= (RATE + 4096) // hop  # the tone's frames, not the silence's


def test_labelled_clips_read_the_manifest_and_refuse_unlabelled_data(tmp_path):
    (tmp_path / "train").mkdir()
    sf.write(tmp_path / "train" / "a.wav", tone(220.0, 0.5, False, 0), RATE, subtype="FLOAT")
    manifest = {"train": ["train/a.wav"], "valid": [], "labels": {"train/a.wav": {"instrument": "oboe"}}}
    (tmp_path / "dataset.json").write_text(json.dumps(manifest))
    assert timbres.labelled_clips(tmp_path, "train") == [("oboe", tmp_path / "train" / "a.wav")]
    assert timbres.labelled_clips(tmp_path, "heldout") == []
    (tmp_path / "dataset.json").write_text(json.dumps({"train": ["train/a.wav"]}))
    with pytest.raises(ValueError, match="timbrel dataset timbres"):
        timbres.labelled_clips(tmp_path, "train")


def test_eval_recognises_labelled_clips_by_the_model_files_own_timbres(tmp_path):
    from timbrel.format.contract import load_and_check
    from timbrel.format.save import attach_timbres, save_model
    from timbrel.training.evaluate import timbre_recognition

    torch.manual_seed(0)
    model = build_model("timbres").eval()
    train = [(kind, tone(f, 1.5, odd, i)) for i, f in enumerate([196.0, 262.0, 330.0])
             for kind, odd in (("full", False), ("odd", True))]
    names, latents = timbres.named_timbres(model, train)
    for split in ("valid", "heldout"):
        (tmp_path / split).mkdir()
    labels = {}
    for split, f0 in (("valid", 233.0), ("heldout", 294.0)):
        for kind, odd in (("full", False), ("odd", True)):
            name = f"{split}/{kind}.wav"
            sf.write(tmp_path / name, tone(f0, 1.5, odd, 3), RATE, subtype="FLOAT")
            labels[name] = {"instrument": kind}
    manifest = {"train": [], "valid": ["valid/full.wav", "valid/odd.wav"],
                "heldout": ["heldout/full.wav", "heldout/odd.wav"], "labels": labels}
    (tmp_path / "dataset.json").write_text(json.dumps(manifest))
    attach_timbres(model, names, torch.from_numpy(latents).float())
    save_model(model, tmp_path / "m.ts")
    module, info = load_and_check(tmp_path / "m.ts")
    result = timbre_recognition(module, info, tmp_path)
    assert set(result) == {"valid", "heldout"}
    assert result["valid"]["accuracy"] == 1.0 and result["heldout"]["clips"] == 2
    (tmp_path / "dataset.json").write_text(json.dumps(dict(manifest, labels={})))
    assert timbre_recognition(module, info, tmp_path) == {}  # unlabelled data: nothing to recognise


def labelled_tones(root, seconds: float = 3.0):
    """train/ and valid/ of two 'instruments' that differ only in their spectra, labelled."""
    labels, manifest = {}, {"train": [], "valid": []}
    for split, seeds in (("train", (0, 3, 6, 9)), ("valid", (5,))):
        (root / split).mkdir(parents=True)
        for seed in seeds:
            for kind, odd in (("full", False), ("odd", True)):
                name = f"{split}/{kind}_{seed}.wav"
                f0 = 196.0 * 2 ** (seed / 12)
                sf.write(root / name, tone(f0, seconds, odd, seed), RATE, subtype="FLOAT")
                labels[name] = {"instrument": kind}
                manifest[split].append(name)
    (root / "dataset.json").write_text(json.dumps(dict(manifest, labels=labels, kind="timbres")))
    return root


def test_the_timbre_term_is_low_when_each_mean_is_nearest_its_centre_and_teaches_both():
    from timbrel.training.losses import TimbreCentres

    term = TimbreCentres(2, 3)
    with torch.no_grad():
        term.centres.copy_(torch.tensor([[2.0, 0.0, 0.0], [-2.0, 0.0, 0.0]]))
    z = torch.zeros(2, 3, 5)
    z[0, 0], z[1, 0] = 2.0, -2.0
    labels = torch.tensor([0, 1])
    with torch.no_grad():
        right, wrong = term(z, None, labels), term(z, None, labels.flip(0))
        assert float(right) < 1e-3 and float(wrong) > 10.0
    # Frames without signal do not count: a silent frame far away changes nothing.
    frames = torch.ones(2, 5, dtype=torch.bool)
    frames[:, -1] = False
    far = z.clone()
    far[:, 0, -1] = 100.0
    with torch.no_grad():
        assert torch.isclose(term(far, frames, labels), right, atol=1e-6)
    z.requires_grad_(True)
    term(z, None, labels.flip(0)).backward()
    assert z.grad.abs().sum() > 0 and term.centres.grad.abs().sum() > 0


def test_training_with_the_timbre_term_logs_it_resumes_and_needs_labels(tmp_path):
    from timbrel.training.loop import TrainConfig, TrainError, train

    data = labelled_tones(tmp_path / "data")
    config = dict(steps=20, batch=4, excerpt_seconds=0.3, learning_rate=3e-3, final_learning_rate=1e-3,
                  valid_every=10, checkpoint_seconds=0.0, seed=0, timbre_weight=1.0)
    run = tmp_path / "run"
    first = train(data, "timbres", run, TrainConfig(**config), threads=1, progress=False, steps=10)
    assert first["timbre_term"] == {"instruments": ["full", "odd"]}
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert all(float(r["timbre"]) > 0 for r in rows)
    assert torch.load(run / "checkpoint.pt", weights_only=False)["timbre_centres"]["centres"].shape == (2, 16)
    second = train(data, "timbres", run, TrainConfig(**config), resume=True, threads=1, progress=False, steps=20)
    assert second["steps"] == 20

    unlabelled = tmp_path / "plain"
    (unlabelled / "train").mkdir(parents=True)
    (unlabelled / "valid").mkdir()
    for split in ("train", "valid"):
        sf.write(unlabelled / split / "a.wav", tone(220.0, 2.0, False, 0), RATE, subtype="FLOAT")
    with pytest.raises(TrainError, match="timbrel dataset timbres"):
        train(unlabelled, "timbres", tmp_path / "run2", TrainConfig(**config), threads=1, progress=False)


def test_timbre_space_measures_transfer_and_morph_with_a_classifier_of_the_renders(tmp_path, model):
    from timbrel.format.contract import load_and_check
    from timbrel.format.save import attach_latent_axes, attach_timbres, save_model
    from timbrel.training import timbre_eval

    data = labelled_tones(tmp_path / "data", seconds=4.0)
    classifier = timbre_eval.InstrumentClassifier.from_dataset(data, RATE)
    valid = [(name, timbres.read_clip(path, RATE)) for name, path in timbres.labelled_clips(data, "valid")]
    assert classifier.accuracy(valid) == 1.0  # odd against all harmonics: MFCCs tell them apart
    assert classifier.probabilities(np.zeros(RATE, np.float32)) is None

    clips = [(n, timbres.read_clip(p, RATE)) for n, p in timbres.labelled_clips(data, "train")]
    names, latents = timbres.named_timbres(model, clips)
    attach_timbres(model, names, torch.from_numpy(latents).float())
    attach_latent_axes(model, torch.zeros(latents.shape[1]), torch.eye(latents.shape[1]))
    save_model(model, tmp_path / "m.ts")
    module, info = load_and_check(tmp_path / "m.ts")
    y = timbre_eval.decode_with_timbre(module, valid[0][1], latents[1], pitch_target=60.0)
    assert y.shape[0] == len(valid[0][1]) // info.hop_length * info.hop_length and np.isfinite(y).all()
    space = timbre_eval.timbre_space(module, info, data)
    assert set(space["transfer"]["per_timbre"]) == {"full", "odd"}
    assert 0.0 <= space["transfer"]["accuracy"] <= 1.0
    pair = space["morph"]["pairs"][0]
    assert len(pair["share_b"]) == len(timbre_eval.MORPH_STEPS) and pair["finite"]
    assert set(space["reconstruction_by_instrument"]) == {"full", "odd"}


def test_the_morph_term_asks_moved_latents_for_the_loudness_asked_and_starts_from_instrument_means(tmp_path):
    from timbrel.training.losses import latent_move_loss
    from timbrel.training.loop import TrainConfig, TrainError, train

    data = labelled_tones(tmp_path / "data")
    config = dict(steps=6, batch=4, excerpt_seconds=0.3, learning_rate=3e-3, final_learning_rate=1e-3,
                  valid_every=3, checkpoint_seconds=0.0, seed=0, timbre_weight=1.0)
    first = tmp_path / "first"
    train(data, "timbres", first, TrainConfig(**config), threads=1, progress=False)
    with pytest.raises(TrainError, match="needs --timbre-weight"):
        train(data, "timbres", tmp_path / "x", TrainConfig(**dict(config, timbre_weight=0.0, move_weight=1.0)),
              threads=1, progress=False)
    second = tmp_path / "second"
    train(data, "timbres", second, TrainConfig(**dict(config, move_weight=1.0)), threads=1, progress=False,
          init=first / "best.pt")
    rows = list(csv.DictReader(open(second / "log.csv")))
    assert all(float(r["move"]) > 0 for r in rows)
    # Started from trained weights, each centre begins at its instrument's mean z.
    from timbrel.training.loop import Trainer

    trainer = Trainer(data, tmp_path / "third", TrainConfig(**dict(config, move_weight=1.0)), init=first / "best.pt",
                      threads=1)
    clips = [(name, timbres.read_clip(path, RATE)) for name, path in timbres.labelled_clips(data, "train")]
    names, means = timbres.named_timbres(trainer.model.eval(), clips)
    assert names == trainer.instruments == ["full", "odd"]
    assert torch.allclose(trainer.timbre.centres, torch.from_numpy(means).float(), atol=1e-4)

    from timbrel.models.checkpoint import load_checkpoint, model_from_checkpoint

    model = model_from_checkpoint(load_checkpoint(second / "best.pt")).eval()
    x = torch.from_numpy(tone(220.0, 1.0, False, 0)[: 80 * 512]).reshape(1, 1, -1)
    with torch.no_grad():
        model.reset()
        z, d = model.encode(x), model.analyze(x)
        centres = torch.stack([z[0].mean(-1), z[0].mean(-1) + 1.0])
        value = latent_move_loss(model, z, d, torch.tensor([0]), centres, 2, torch.Generator().manual_seed(0))
    assert torch.isfinite(value) and float(value) > 0


def test_running_timbres_follow_each_instruments_mean_and_survive_a_resume():
    from timbrel.training.losses import InstrumentMeans

    running = InstrumentMeans(2, 3, momentum=0.5)
    running.update(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([1]))
    assert torch.equal(running.means[1], torch.tensor([2.0, 0.0, 0.0]))  # first excerpt: taken as it is
    assert not running.seen[0]
    running.update(torch.tensor([[0.0, 0.0, 0.0], [4.0, 2.0, 0.0]]), torch.tensor([0, 1]))
    assert torch.equal(running.means[1], torch.tensor([3.0, 1.0, 0.0]))
    assert torch.equal(running.of(torch.tensor([1, 0])), torch.tensor([[3.0, 1.0, 0.0], [0.0, 0.0, 0.0]]))
    restored = InstrumentMeans(2, 3)
    restored.load_state_dict(running.state_dict())
    assert torch.equal(restored.means, running.means) and torch.equal(restored.seen, running.seen)


def test_the_snapshot_term_decodes_a_still_latent_against_the_excerpt_and_teaches_the_decoder_only(tmp_path):
    from timbrel.models.checkpoint import load_checkpoint, model_from_checkpoint
    from timbrel.training.losses import multiscale_spectral_loss, snapshot_loss
    from timbrel.training.loop import TrainConfig, TrainError, train

    data = labelled_tones(tmp_path / "data")
    config = dict(steps=6, batch=4, excerpt_seconds=0.3, learning_rate=3e-3, final_learning_rate=1e-3,
                  valid_every=3, checkpoint_seconds=0.0, seed=0, timbre_weight=1.0)
    with pytest.raises(TrainError, match="needs --timbre-weight"):
        train(data, "timbres", tmp_path / "x", TrainConfig(**dict(config, timbre_weight=0.0, snapshot_weight=1.0)),
              threads=1, progress=False)
    run = tmp_path / "run"
    train(data, "timbres", run, TrainConfig(**dict(config, snapshot_weight=1.0)), threads=1, progress=False)
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert rows and all(float(r["snapshot"]) > 0 for r in rows)
    saved = torch.load(run / "checkpoint.pt", weights_only=False)["named_timbres"]
    assert saved["seen"].all() and torch.isfinite(saved["means"]).all()

    model = model_from_checkpoint(load_checkpoint(run / "best.pt")).train()
    x = torch.from_numpy(tone(220.0, 1.0, False, 0)[: 40 * 512]).reshape(1, 1, -1)
    with torch.no_grad():
        model.reset()
        d = model.analyze(x)
    still = torch.randn(1, model.latent_size)
    value, decoded = snapshot_loss(model, x, d, still, 2)
    # The same as decoding the constant latent by hand and comparing after the skipped hops.
    with torch.no_grad():
        model.reset()
        y = model.decode(torch.cat([still.unsqueeze(-1).expand(-1, -1, d.shape[-1]), d], 1))
    assert value.item() == pytest.approx(multiscale_spectral_loss(x[..., 1024:], y[..., 1024:]).item(), rel=1e-4)
    value.backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoder.parameters())
    assert decoded.shape == x.shape


def test_the_identity_term_names_decoded_outputs_by_a_judge_of_the_real_excerpts_and_resumes(tmp_path):
    from timbrel.training.losses import InstrumentJudge
    from timbrel.training.loop import TrainConfig, train

    data = labelled_tones(tmp_path / "data")
    config = dict(steps=6, batch=4, excerpt_seconds=0.3, learning_rate=3e-3, final_learning_rate=1e-3,
                  valid_every=3, checkpoint_seconds=0.0, seed=0, timbre_weight=1.0, snapshot_weight=1.0,
                  identity_weight=1.0, identity_warmup=2)
    run = tmp_path / "run"
    train(data, "timbres", run, TrainConfig(**config), threads=1, progress=False)
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert rows and all(float(r["identity"]) > 0 and float(r["judge"]) > 0 for r in rows)
    saved = torch.load(run / "checkpoint.pt", weights_only=False)
    assert saved["judge"] is not None and saved["judge_optimiser"] is not None and saved["natural_estimate"]
    assert saved["instrument_pitches"]["seen"].all()
    # Both instruments play MIDI 55 to 64 (labelled_tones): their running mean pitches lie there.
    assert all(54.5 < p < 64.5 for p in saved["instrument_pitches"]["means"][:, 0].tolist())
    assert train(data, "timbres", run, TrainConfig(**config), resume=True, threads=1, progress=False,
                 steps=9)["steps"] == 9

    # The judge tells two instruments apart once it has learnt them: all harmonics against odd ones.
    torch.manual_seed(0)
    judge = InstrumentJudge(2, RATE)
    optimiser = torch.optim.Adam(judge.parameters(), lr=3e-3)
    full, odd = (torch.from_numpy(tone(f, 0.5, o, 0)).reshape(1, 1, -1) for f, o in ((220.0, False), (330.0, True)))
    batch, labels = torch.cat([full, odd]), torch.tensor([0, 1])
    for _ in range(30):
        optimiser.zero_grad()
        judge.fit_loss(batch, labels).backward()
        optimiser.step()
    assert judge(batch).argmax(1).tolist() == [0, 1]
    assert judge.identity_loss(batch, labels).item() < 0.1


def test_a_transfer_decode_moves_the_pitch_by_octaves_and_plays_the_natural_spectral_shape(model):
    from timbrel.training.losses import NaturalEstimate, transfer_decode

    names = list(model.descriptor_names)
    pitch, centroid = names.index("pitch"), names.index("centroid")
    x = torch.from_numpy(tone(220.0, 1.0, False, 0)[: 40 * 512]).reshape(1, 1, -1)
    with torch.no_grad():
        model.reset()
        d = model.analyze(x)
    frames = torch.ones(1, d.shape[-1], dtype=torch.bool)
    natural = NaturalEstimate(model)
    seen = []
    decode = model.decode
    model.decode = lambda zd: seen.append(zd.clone()) or decode(zd)  # what the decoder is given
    try:
        latent = torch.randn(1, model.latent_size)
        y = transfer_decode(model, d, frames, latent, torch.tensor([57.0 + 24.0 + 5.0]), natural)
    finally:
        del model.decode
    zd = seen[0]
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert torch.allclose(zd[0, : model.latent_size], latent[0].unsqueeze(-1).expand(-1, d.shape[-1]))
    moved = zd[:, model.latent_size + pitch] - d[:, pitch]
    assert torch.allclose(moved, torch.full_like(moved, 24.0))  # whole octaves nearest 86: two up
    asked = d.clone()
    asked[:, pitch] += 24.0
    expected = natural.descriptors(model, zd[:, : model.latent_size], asked)
    assert torch.allclose(zd[:, model.latent_size + centroid], expected[:, centroid])
    assert not torch.allclose(expected[:, centroid], d[:, centroid])  # natural's value, not the input's


def test_natural_learns_a_named_timbre_as_the_snapshot_plays_it():
    # Frames whose z scatter either side of their instrument's mean, with a centroid that rises
    # with |z| (a curved map): a head fitted on the frames alone reads the mean z, where no frame
    # lies, as the darkest; learnt a second time with z held at the mean (fit_natural's
    # `named`), it reads the instrument's own mean centroid there.
    from timbrel.training.natural import fit_natural

    torch.manual_seed(0)
    model = build_model("timbres").eval()  # its own: fitting sets the head
    generator = torch.Generator().manual_seed(0)
    names = list(model.descriptor_names)
    centroid = names.index("centroid")
    clips, named = [], []
    for clip in range(6):
        frames = 200
        z = torch.zeros(1, model.latent_size, frames)
        z[0, 0] = torch.where(torch.rand(frames, generator=generator) < 0.5, -1.0, 1.0) * (
            0.5 + 0.5 * torch.rand(frames, generator=generator))
        d = torch.zeros(1, len(names), frames)
        d[0, names.index("loudness")] = -20.0
        d[0, names.index("pitch")] = 60.0 + 12.0 * torch.rand(frames, generator=generator)
        d[0, centroid] = 1000.0 + 2000.0 * z[0, 0].abs()
        clips.append((z, d, torch.ones(frames, dtype=torch.bool)))
        named.append(torch.zeros(model.latent_size))
    expected = torch.cat([c[1][0, centroid] for c in clips]).mean()

    def natural_centroid_at_the_mean() -> float:
        z = torch.zeros(1, model.latent_size, 50)
        d = clips[0][1][..., :50]
        with torch.no_grad():
            return model.natural(torch.cat([z, d], 1))[0, centroid].mean().item()

    fit_natural(model, clips, [], steps=600)
    frames_only = natural_centroid_at_the_mean()
    fit_natural(model, clips, [], steps=600, named=named)
    held = natural_centroid_at_the_mean()
    assert abs(held - expected) < 0.5 * abs(frames_only - expected), (frames_only, held, expected.item())
    assert abs(held - expected) < 200.0
