"""`timbrel eval MODEL DATA [--out DIR] [--card]`: measure a model file on held-out audio.

Metrics (all on DATA/valid, the split training never sees):
- spectral distance: the multi-scale spectral loss between each held-out excerpt and the
  model's re-synthesis of it (the training objective; lower is better);
- descriptor tracking on foreign audio: the same with z and the other descriptors taken from
  six other instruments (FluidR3 renders of melodies from the pitch benchmark), each alone;
  the card gives each descriptor's worst r over them;
- descriptor tracking: each descriptor in turn is swept through `decode` as a staircase over
  the central 80% of the model's range (log-frequency for Hz descriptors), with z and the other
  descriptors taken from loud held-out frames; `analyze` measures the output. Pearson r and mean
  absolute error between target and measured, on the settled part of each step (pitch: frames
  the analysis finds voiced). Hz descriptors are compared in octaves;
- latent invariance: R^2 of a ridge probe (on z, its squares and pairwise products) that
  predicts each descriptor from z, fitted on one half of the loud held-out frames and scored on
  the other; near 0 means z carries no descriptor;
- real-time factor of hop-by-hop streaming (encode, analyze, decode per hop, as the plugin calls
  them) on one CPU thread;
- regression figures on a fixed FluidR3 phrase (what the regression test recomputes).
Writes DIR/eval.json, DIR/spectrogram.png and DIR/tracking.png; with --card also the model
card MODEL.json and MODEL.md beside the model file.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..files import write_atomically
from ..format import descriptors
from ..format.contract import ContractError, load_and_check
from ..format.vocabulary import fader_unit, from_fader_space, in_octaves, to_fader_space
from .card import write_card
from .data import load_split
from .errors import TrainError
from .losses import multiscale_spectral_loss

TARGETS = {
    "tracking_r": {"loudness": 0.95, "pitch": 0.95, "centroid": 0.95, "bandwidth": 0.85, "flatness": 0.85},
    "probe_r2_max": 0.1,
    "realtime_factor_min": 20.0,
    "timbre_recognition_min": 0.9,   # held-out clips whose nearest named timbre is their instrument's
    "transfer_min": 0.9,             # every named timbre: other instruments decoded with it, recognised as it
    "morph_extrapolation_db_max": 6.0,  # loudness at morph -0.5 / 1.5 against morph 0 / 1
    "reconstruction_ratio_max": 1.1,    # per instrument, against a single-instrument model (--single)
}
HOLD_SECONDS = 0.25   # each step of the tracking staircase
STEPS = 8             # levels up, then the same down
SKIP_HOPS = 2


def _voicing(model, y: torch.Tensor) -> np.ndarray:
    """Voicing of each of the model's analysis frames of y (the windows analyze uses)."""
    analyzer = descriptors.pitch_analyzer_like(model)
    return analyzer.describe(analyzer.windows(y))[1][0].numpy()


def load_valid(data: Path, sample_rate: int, hop: int, max_seconds: float = 30.0) -> list[torch.Tensor]:
    clips = load_split(Path(data), "valid", sample_rate)
    out, total = [], 0
    for clip in clips:
        length = min(len(clip), int((max_seconds - total / sample_rate) * sample_rate)) // hop * hop
        if length <= 0:
            break
        out.append(torch.from_numpy(clip[:length].copy()).reshape(1, 1, -1))
        total += length
    return out


def labelled_split_clips(data: Path, split: str, sample_rate: int, hop: int,
                         seconds_each: float = 4.0) -> list[torch.Tensor]:
    """The first seconds of every file of a labelled dataset's split, so that every instrument
    takes part (valid/; heldout/: another soundfont than the one its instruments were learnt
    from)."""
    from .timbres import labelled_clips, read_clip

    out = []
    for _, path in labelled_clips(data, split):
        clip = read_clip(path, sample_rate)
        length = min(len(clip), int(seconds_each * sample_rate)) // hop * hop
        if length > 0:
            out.append(torch.from_numpy(clip[:length].copy()).reshape(1, 1, -1))
    return out


def spectral_distance(model, clips: list[torch.Tensor]) -> tuple[float, list[torch.Tensor]]:
    hop = int(model.hop_length)
    outputs, total = [], 0.0
    with torch.no_grad():
        for x in clips:
            model.reset()
            y = model.forward(x)
            outputs.append(y)
            total += float(multiscale_spectral_loss(x[..., SKIP_HOPS * hop:], y[..., SKIP_HOPS * hop:]))
    return total / len(clips), outputs


def _loud_frames(model, clips, per_clip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """z [F, latent] and d [F, D] of the held-out frames within 30 dB of the loudest (of each
    clip's loudest with `per_clip`: clips of several instruments, each played at its own level)."""
    zs, ds = [], []
    names = list(model.descriptor_names)
    with torch.no_grad():
        for x in clips:
            model.reset()
            z, d = model.encode(x)[0].T.numpy(), model.analyze(x)[0].T.numpy()
            if per_clip:
                loud = d[:, names.index("loudness")]
                z, d = z[loud > loud.max() - 30.0], d[loud > loud.max() - 30.0]
            zs.append(z)
            ds.append(d)
    z, d = np.concatenate(zs), np.concatenate(ds)
    loud = d[:, names.index("loudness")]
    keep = loud > loud.max() - 30.0 if not per_clip else np.ones(len(loud), dtype=bool)
    return z[keep], d[keep]


def descriptor_tracking(model, z: np.ndarray, d: np.ndarray) -> tuple[dict, dict]:
    names, units = list(model.descriptor_names), list(model.descriptor_units)
    hop, rate = int(model.hop_length), int(model.sample_rate)
    hold = max(4, int(round(HOLD_SECONDS * rate / hop)))
    # A step has settled once the analysis windows no longer reach into the step before (the
    # pitch may look back further than the spectra).
    reach = int(descriptors.pitch_analyzer_like(model).reach) if hasattr(model, "pitch_fmin") else hop
    hold = max(hold, 3 * math.ceil(reach / hop))
    settle = max(hold // 3, math.ceil(reach / hop))
    levels = np.concatenate([np.linspace(0.1, 0.9, STEPS), np.linspace(0.9, 0.1, STEPS)])
    frames = hold * len(levels)
    # A context of loud frames (repeated as needed) supplies z and the other descriptors.
    order = np.arange(frames) % len(z)
    context_z, context_d = z[order], d[order].copy()
    results, curves = {}, {}
    for i, (name, unit) in enumerate(zip(names, units)):
        low = to_fader_space(np.array(model.descriptor_min[i]), unit)
        high = to_fader_space(np.array(model.descriptor_max[i]), unit)
        target_fader = np.repeat(low + levels * (high - low), hold)
        swept = context_d.copy()
        swept[:, i] = from_fader_space(target_fader, unit)
        zd = torch.from_numpy(np.concatenate([context_z, swept], 1).T.copy()).float().unsqueeze(0)
        with torch.no_grad():
            model.reset()
            y = model.decode(zd)
            model.reset()
            measured = model.analyze(y)[0, i].numpy()
        measured_fader = to_fader_space(measured, unit)
        mask = np.zeros(frames, dtype=bool)
        for step in range(len(levels)):
            mask[step * hold + settle: (step + 1) * hold] = True
        if name == "pitch":
            mask &= _voicing(model, y) >= 0.5
        if mask.sum() < 4 or np.std(measured_fader[mask]) == 0:
            r = 0.0
        else:
            r = float(np.corrcoef(target_fader[mask], measured_fader[mask])[0, 1])
        mae = float(np.mean(np.abs(target_fader[mask] - measured_fader[mask]))) if mask.any() else float("nan")
        results[name] = {"r": round(r, 4), "mae": round(mae, 4),
                         "mae_unit": fader_unit(unit),
                         "frames": int(mask.sum())}
        curves[name] = (target_fader, measured_fader, mask)
    return results, curves


# Instruments unlike the ones Timbrel's models are trained on, in order of preference; a model's
# own instrument is skipped. Rendered from FluidR3 melodies of the pitch benchmark.
FOREIGN_INSTRUMENTS = ("cello", "clarinet", "trumpet", "alto sax", "bassoon", "oboe", "flute", "violin", "choir")
FOREIGN_COUNT = 6


def foreign_tracking(model, own_instrument: str, seconds: float = 8.0) -> dict:
    """descriptor_tracking with z and the other descriptors taken from other instruments'
    audio (timbre transfer: playing a cello into a violin model), one instrument at a time;
    "worst_r" is each descriptor's lowest r over them.

    "shifted" measures the same with the other instrument's pitch, centroid, bandwidth and
    flatness shifted (their contours kept) so that each one's median sits mid-way in the
    model's range, as a user would set the shift faders. Its figures tell a decoder that cannot
    follow from a request that cannot be met: descriptors are not independent (a bassoon's
    sub-1 kHz centroid held while the flatness fader asks for -24 dB: noise that flat has its
    centroid above 2 kHz), and a 60-harmonic decoder at a bassoon's 87 Hz reaches 5.2 kHz.

    The melodies are the pitch benchmark's without its breath noise between phrases: that noise
    is 40 dB below the peak, but an A-weighted level reads a bassoon's notes 20 dB and more
    lower than its flat level, so a third of the bassoon's frames within 30 dB of its loudest
    were noise, not bassoon (a noise's centroid and flatness asked of a violin)."""
    from .losses import into_range
    from .pitch_bench import INSTRUMENTS, SAMPLE_RATE, render_clip

    if int(model.sample_rate) != SAMPLE_RATE:
        return {}
    hop = int(model.hop_length)
    names = [name for name in FOREIGN_INSTRUMENTS if name != own_instrument][:FOREIGN_COUNT]
    per_instrument, shifted = {}, {}
    for instrument in (i for i in INSTRUMENTS if i.name in names):
        audio = render_clip(instrument, "FluidR3", seconds, noise=False).audio
        x = torch.from_numpy(audio[: len(audio) // hop * hop].copy()).reshape(1, 1, -1)
        z, d = _loud_frames(model, [x])
        per_instrument[instrument.name] = descriptor_tracking(model, z, d)[0]
        # margin 0.5: each median lands exactly mid-range (no random point)
        centred = into_range(model, torch.from_numpy(d.T.copy()).unsqueeze(0), margin=0.5)[0].T.numpy()
        shifted[instrument.name] = descriptor_tracking(model, z, centred)[0]
    descriptor_names = list(model.descriptor_names)

    def worst(results: dict) -> dict:
        return {name: min(result[name]["r"] for result in results.values()) for name in descriptor_names}
    return {"instruments": per_instrument, "worst_r": worst(per_instrument),
            "shifted": {"instruments": shifted, "worst_r": worst(shifted)},
            "soundfont": "FluidR3", "seconds_each": seconds}


def _quadratic_features(z: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(z.shape[1])
    return np.concatenate([z, z[:, i] * z[:, j]], 1)


def latent_probe(model, z: np.ndarray, d: np.ndarray, ridge: float = 1e-2) -> dict:
    """R^2 on the second half of the frames of a ridge regression fitted on the first half."""
    names, units = list(model.descriptor_names), list(model.descriptor_units)
    features = _quadratic_features((z - z.mean(0)) / (z.std(0) + 1e-6))
    half = len(features) // 2
    train_x, test_x = features[:half], features[half:]
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    train_x = np.concatenate([train_x, np.ones((len(train_x), 1))], 1)
    test_x = np.concatenate([test_x, np.ones((len(test_x), 1))], 1)
    out = {}
    for i, (name, unit) in enumerate(zip(names, units)):
        target = to_fader_space(d[:, i], unit)
        train_y, test_y = target[:half], target[half:]
        weights = np.linalg.solve(train_x.T @ train_x + ridge * len(train_x) * np.eye(train_x.shape[1]),
                                  train_x.T @ train_y)
        residual = test_y - test_x @ weights
        variance = np.var(test_y)
        out[name] = round(float(1.0 - np.mean(residual ** 2) / variance) if variance > 0 else 0.0, 4)
    return out


# The host buffer the card's second speed figure assumes: the plugin gives the model every hop a
# host block completes in one call, so a model of hop 128 gets four hops per call here.
TYPICAL_HOST_BLOCK = 512


def best_streaming_seconds(call, length: int, calls: int, repeats: int = 3, reset=None) -> float:
    """The best of `repeats` wall times of `calls` calls of `call`, each on the next `length`
    samples of fixed noise, on one thread in inference mode after 20 warm-up calls (timeit's
    rule: the slower runs measure the machine's other load, not the code). `reset`, when
    given, restarts the stream before the warm-up, before each run and after the last."""
    x = 0.1 * torch.randn(1, 1, calls * length, generator=torch.Generator().manual_seed(0))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    best = math.inf
    try:
        with torch.inference_mode():
            if reset is not None:
                reset()
            for i in range(20):
                call(x[..., i * length:(i + 1) * length])
            for _ in range(repeats):
                if reset is not None:
                    reset()
                start = time.perf_counter()
                for i in range(calls):
                    call(x[..., i * length:(i + 1) * length])
                best = min(best, time.perf_counter() - start)
            if reset is not None:
                reset()
    finally:
        torch.set_num_threads(previous)
    return best


def streaming_realtime_factor(model, seconds: float = 6.0, repeats: int = 5, hops_per_call: int = 1) -> float:
    """Streaming encode/analyze/decode on one thread, `hops_per_call` hops per call (1: hop by
    hop), in inference mode as the plugin runs it (encode_analyze where the model has it); the
    best of `repeats` runs of `seconds` each."""
    rate = int(model.sample_rate)
    length = int(model.hop_length) * hops_per_call  # samples per call
    calls = int(seconds * rate / length)
    joined = hasattr(model, "encode_analyze")

    def call(block: torch.Tensor) -> torch.Tensor:
        if joined:
            return model.decode(model.encode_analyze(block))
        return model.decode(torch.cat([model.encode(block), model.analyze(block)], 1))

    return calls * length / rate / best_streaming_seconds(call, length, calls, repeats, model.reset)


def regression_phrase(model, instrument: str) -> np.ndarray:
    """The fixed FluidR3 phrase of the regression figures, a whole number of hops long."""
    from .soundfont import PROGRAMS, demo_phrase

    phrase = demo_phrase(instrument if instrument in PROGRAMS else "flute", int(model.sample_rate))
    hop = int(model.hop_length)
    return np.ascontiguousarray(phrase[: len(phrase) // hop * hop], dtype=np.float32)


def regression_figures(model, instrument: str, rendered: np.ndarray | None = None) -> dict:
    """Figures the regression test recomputes: the model on a fixed FluidR3 phrase. `rendered`
    (the phrase through the plugin, aligned with it) replaces the model's own forward()."""
    x = torch.from_numpy(regression_phrase(model, instrument)).reshape(1, 1, -1)
    hop = int(model.hop_length)
    with torch.no_grad():
        model.reset()
        if rendered is None:
            y = model.forward(x)
        else:
            y = torch.from_numpy(np.ascontiguousarray(rendered, dtype=np.float32)).reshape(1, 1, -1)
        model.reset()
        d = model.analyze(y)[0].numpy()
    names = list(model.descriptor_names)
    loud = d[names.index("loudness")]
    gate = loud > loud.max() - 30.0
    figures = {"phrase": f"soundfont.demo_phrase('{instrument}')",
               "spectral_distance": round(float(multiscale_spectral_loss(x[..., SKIP_HOPS * hop:], y[..., SKIP_HOPS * hop:])), 4),
               "output_rms_db": round(float(20 * np.log10(np.sqrt(np.mean(y.numpy() ** 2)) + 1e-12)), 3)}
    for i, name in enumerate(names):
        figures[f"output_{name}_median"] = round(float(np.median(d[i][gate])), 3)
    return figures


def plot(out: Path, x: torch.Tensor, y: torch.Tensor, rate: int, curves: dict, model) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = min(6.0, x.shape[-1] / rate)
    length = int(seconds * rate)
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for ax, signal, title in ((axes[0], x, "held-out input"), (axes[1], y, f"{model.model_name} output")):
        ax.specgram(signal[0, 0, :length].numpy(), NFFT=2048, Fs=rate, noverlap=1536, cmap="magma", vmin=-140)
        ax.set_ylim(0, 8000)
        ax.set_ylabel("Hz")
        ax.set_title(title)
    axes[1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(out / "spectrogram.png", dpi=90)
    plt.close(fig)

    names = list(curves)
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.2 * len(names)), sharex=True)
    hop_seconds = model.hop_length / rate
    for ax, name in zip(np.atleast_1d(axes), names):
        target, measured, mask = curves[name]
        t = np.arange(len(target)) * hop_seconds
        unit = model.descriptor_units[list(model.descriptor_names).index(name)]
        ax.plot(t, target, label="fader target", color="black")
        ax.plot(t, np.where(mask, measured, np.nan), label="measured on output", color="tab:orange")
        ax.set_ylabel(f"{name}\n({'octaves (log2 Hz)' if in_octaves(unit) else unit})")
        ax.legend(loc="upper right", fontsize=7)
    np.atleast_1d(axes)[-1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(out / "tracking.png", dpi=90)
    plt.close(fig)


def timbre_recognition(model, info, data: Path) -> dict:
    """For a model with named timbres and a dataset that labels its files (`timbrel dataset
    timbres`): how often a held-out clip's mean z is nearest its own instrument's named timbre,
    on valid/ and on heldout/ (another soundfont than the one the instrument was learnt from).
    Empty otherwise."""
    from .timbres import labelled_clips, read_clip, recognition

    manifest = json.loads((Path(data) / "dataset.json").read_text()) if (Path(data) / "dataset.json").exists() else {}
    if not info.timbre_names or not manifest.get("labels"):
        return {}
    latents = info.timbre_latents.double().numpy()
    result = {}
    for split in ("valid", "heldout"):
        clips = [(name, read_clip(path, info.sample_rate)) for name, path in labelled_clips(data, split)]
        if clips:
            result[split] = recognition(model, list(info.timbre_names), latents, clips)
    return result


def compare_single(model, info, data: Path, singles: dict[str, Path], mine: dict[str, float]) -> dict:
    """{instrument: {multi, single, ratio}}: held-out reconstruction of the many-instrument model
    against a single-instrument model of that instrument, on the same labelled clips."""
    from .timbre_eval import reconstruction_by_instrument

    result = {}
    for name, path in singles.items():
        if name not in mine:
            raise ContractError(f"--single {name}: {data}/valid has no '{name}' clips")
        single, single_info = load_and_check(path)
        theirs = reconstruction_by_instrument(single, data, single_info.sample_rate).get(name)
        result[name] = {"multi": mine[name], "single": theirs, "single_model": str(path),
                        "ratio": round(mine[name] / theirs, 3)}
    return result


def evaluate(model_path: Path, data: Path, out: Path, singles: dict[str, Path] | None = None) -> dict:
    model, info = load_and_check(model_path)
    out.mkdir(parents=True, exist_ok=True)
    clips = load_valid(data, info.sample_rate, info.hop_length)
    if not clips:
        raise ContractError(f"{data}/valid has no audio")
    distance, outputs = spectral_distance(model, clips)
    z, d = _loud_frames(model, clips)
    tracking, curves = descriptor_tracking(model, z, d)
    probe = latent_probe(model, z, d)
    rtf = streaming_realtime_factor(model)
    block_hops = max(1, TYPICAL_HOST_BLOCK // info.hop_length)
    rtf_block = rtf if block_hops == 1 else streaming_realtime_factor(model, hops_per_call=block_hops)
    instrument = info.model_card.get("instrument", "flute")
    foreign = foreign_tracking(model, instrument)
    regression = regression_figures(model, instrument)
    timbres = timbre_recognition(model, info, data)
    space = {}
    if timbres:
        from .timbre_eval import timbre_space

        space = timbre_space(model, info, data)
        # The probe over every instrument (the first 30 s of valid/ hold only two or three of them),
        # and out of distribution: the soundfont these instruments were not learnt from.
        every = labelled_split_clips(data, "valid", info.sample_rate, info.hop_length)
        probe = latent_probe(model, *_loud_frames(model, every, per_clip=True))
        heldout = labelled_split_clips(data, "heldout", info.sample_rate, info.hop_length)
        if heldout:
            space["latent_probe_r2_heldout"] = latent_probe(model, *_loud_frames(model, heldout, per_clip=True))
        if singles:
            space["against_single"] = compare_single(model, info, data, singles, space["reconstruction_by_instrument"])
    plot(out, clips[0], outputs[0], info.sample_rate, curves, model)
    passed = {
        "tracking": {n: tracking[n]["r"] >= TARGETS["tracking_r"].get(n, 0.85) for n in tracking},
        "tracking_foreign": {n: r >= TARGETS["tracking_r"].get(n, 0.85) for n, r in foreign.get("worst_r", {}).items()},
        "probe": {n: probe[n] <= TARGETS["probe_r2_max"] for n in probe},
        "realtime": rtf >= TARGETS["realtime_factor_min"],
    }
    if timbres:
        passed["timbres"] = {split: r["accuracy"] >= TARGETS["timbre_recognition_min"] for split, r in timbres.items()}
    if space:
        passed["transfer"] = space["transfer"]["worst"] >= TARGETS["transfer_min"]
        if "latent_probe_r2_heldout" in space:
            passed["probe_heldout"] = {n: v <= TARGETS["probe_r2_max"] for n, v in space["latent_probe_r2_heldout"].items()}
        morphs = space["morph"]
        passed["morph"] = (morphs["monotone"] == 1.0 and morphs["finite"]
                           and morphs["extrapolation_db_max"] <= TARGETS["morph_extrapolation_db_max"])
        if "against_single" in space:
            passed["reconstruction"] = {n: r["ratio"] <= TARGETS["reconstruction_ratio_max"]
                                        for n, r in space["against_single"].items()}
    report = {
        "model": str(model_path), "model_name": info.model_name, "data": str(data),
        "held_out_seconds": round(sum(c.shape[-1] for c in clips) / info.sample_rate, 2),
        "spectral_distance": round(distance, 4), "tracking": tracking, "tracking_foreign": foreign,
        "latent_probe_r2": probe, "timbre_recognition": timbres, "timbre_space": space,
        "realtime_factor_one_thread": round(rtf, 2),
        "realtime_factor_host_block": {"block": TYPICAL_HOST_BLOCK, "hops_per_call": block_hops,
                                       "factor": round(rtf_block, 2)},
        "latency_samples": info.latency_samples,
        "hop_length": info.hop_length, "targets": TARGETS, "passed": passed, "regression": regression,
        "torch": torch.__version__,
    }
    write_atomically(out / "eval.json", json.dumps(report, indent=2) + "\n")
    return report


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="measure a model on held-out audio; write JSON, PNGs, card")
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path, help="a folder written by `timbrel dataset` (its valid/ split is used)")
    parser.add_argument("--out", type=Path, help="report folder (default: MODEL without .ts + '-eval')")
    parser.add_argument("--card", action="store_true", help="also write MODEL.json and MODEL.md beside the model")
    parser.add_argument("--single", action="append", default=[], metavar="INSTRUMENT=MODEL",
                        help="a many-instrument model: compare its held-out reconstruction of INSTRUMENT with this "
                             "single-instrument model's, on the same clips (repeatable)")
    parser.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    out = args.out or args.model.with_name(args.model.stem + "-eval")
    try:
        singles = {}
        for pair in args.single:
            name, sep, path = pair.partition("=")
            if not sep:
                raise ContractError(f"--single expects INSTRUMENT=MODEL, got '{pair}'")
            singles[name.strip()] = Path(path)
        report = evaluate(args.model, args.data, out, singles)
    except (ContractError, TrainError) as error:
        print(f"timbrel eval: {error}", file=sys.stderr)
        return 2
    tracking = ", ".join(f"{n} {v['r']:.3f}" for n, v in report["tracking"].items())
    probe = ", ".join(f"{n} {v:.3f}" for n, v in report["latent_probe_r2"].items())
    print(f"{report['model_name']}: spectral distance {report['spectral_distance']:.3f}; tracking r: {tracking}; "
          f"probe R²: {probe}; streaming {report['realtime_factor_one_thread']:.1f}x real time (1 thread; "
          f"{report['realtime_factor_host_block']['factor']:.1f}x at {report['realtime_factor_host_block']['block']}-sample "
          f"host blocks)")
    if report["tracking_foreign"]:
        worst = ", ".join(f"{n} {r:.3f}" for n, r in report["tracking_foreign"]["worst_r"].items())
        print(f"tracking r on foreign audio (worst of {', '.join(report['tracking_foreign']['instruments'])}): {worst}")
        shifted = ", ".join(f"{n} {r:.3f}" for n, r in report["tracking_foreign"]["shifted"]["worst_r"].items())
        print(f"  the same shifted into the model's range (pitch and spectral medians mid-range): {shifted}")
    space = report["timbre_space"]
    if space:
        transfer, morphs = space["transfer"], space["morph"]
        print(f"timbre transfer: {transfer['accuracy']:.2f} of other instruments recognised as the timbre "
              f"(worst timbre {transfer['worst']:.2f}; classifier {space['classifier_accuracy_valid']:.2f} on held-out "
              f"renders); morph monotone for {morphs['monotone']:.2f} of pairs, extrapolation within "
              f"{morphs['extrapolation_db_max']} dB")
        for name, r in space.get("against_single", {}).items():
            print(f"  {name}: reconstruction {r['multi']:.3f} against the single-instrument model's {r['single']:.3f} "
                  f"({r['ratio']:.2f}x)")
    print(f"wrote {out}/eval.json, spectrogram.png, tracking.png")
    if args.card:
        json_path, md_path = write_card(args.model, report)
        print(f"wrote {json_path} and {md_path}")
    return 0
