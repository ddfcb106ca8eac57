"""Model cards: the card `timbrel export` embeds in a model file (what it is, what it was
trained on, how), and the MODEL.json / MODEL.md `timbrel eval --card` writes beside the file
with the measured metrics."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from ..files import write_atomically
from ..format.contract import load_and_check


def model_card(run: Path, state: dict, name: str, instrument: str | None, description: str | None,
               parameters: int) -> dict:
    """The card embedded in the model file: what it is, what it was trained on, and how."""
    recipe = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    dataset = recipe.get("dataset", {})
    instrument = instrument or dataset.get("instrument") or "unknown"
    if dataset.get("kind") == "fluidr3":
        data = {"source": "FluidR3_GM.sf2 by Frank Wen (Debian package fluid-soundfont-gm)", "license": "MIT",
                "preset": f"General MIDI program {dataset.get('program')} ({instrument})",
                "generated_by": f"timbrel dataset fluidr3 --instrument {instrument} "
                                f"--minutes {dataset.get('minutes_requested')} --seed {dataset.get('seed')}",
                "minutes": recipe.get("train_minutes_of_audio")}
    elif dataset.get("kind") == "timbres":
        held_out = dataset.get("held_out") or []
        data = {"source": "; ".join(dataset.get("sources") or []), "license": "MIT",
                "preset": f"{len(dataset.get('instruments') or [])} General MIDI instruments: "
                          + ", ".join(dataset.get("instruments") or []),
                "generated_by": f"timbrel dataset timbres --minutes {dataset.get('minutes_each')} "
                                f"--soundfonts {' '.join(dataset.get('soundfonts') or [])} --seed {dataset.get('seed')}"
                                + (f" --hold-out {' '.join(shlex.quote(i) for i in held_out)} --hold-out-soundfont "
                                   f"{dataset.get('heldout_soundfont')}" if held_out else ""),
                "minutes": recipe.get("train_minutes_of_audio")}
    else:
        data = {"source": recipe.get("data", "unknown"), "license": "as the owner of the recordings states",
                "minutes": recipe.get("train_minutes_of_audio")}
    foreign = recipe.get("foreign_data")
    if foreign:  # other instruments' audio the fine-tuning decoded latents of (timbrel train --foreign-data)
        data["foreign"] = {"instruments": foreign.get("instruments"), "sources": foreign.get("sources"),
                           "license": "MIT", "generated_by": (
                               f"timbrel dataset melodies --instruments "
                               f"{' '.join(shlex.quote(i) for i in foreign.get('instruments') or [])} "
                               f"--soundfonts {' '.join(foreign.get('soundfonts') or [])} "
                               f"--seconds {foreign.get('seconds_each')} --seed {foreign.get('seed')}"
                               # older recipes do not say: their melodies had the noise
                               f"{' --noise' if foreign.get('noise_between_phrases', True) else ''}")}
    config = state["model_config"]
    return {
        "name": name, "instrument": instrument,
        "kind": "harmonic-noise-fader-vae" if state["config_name"] != "waveform" else "rave-fader-vae",
        "description": description or f"{instrument.capitalize()} timbre with descriptor faders "
                                      f"({state['config_name']} config).",
        "sample_rate": config["sample_rate"], "hop_length": config.get("hop_length") or None,
        "license": "GPL-3.0-or-later (model weights); training data licence below",
        "training_data": data,
        "training": {k: recipe.get(k) for k in ("config", "steps", "minutes", "hardware", "torch",
                                                 "best_valid_spectral", "stopped_by")}
                    | {"seed": recipe.get("train_config", {}).get("seed"), "checkpoint_step": state.get("step")}
                    | _fine_tuning(recipe),
        "parameters": parameters,
        "descriptor_min": state["descriptor_min"], "descriptor_max": state["descriptor_max"],
        "descriptor_stats": state.get("descriptor_stats"),
        "config": config,
    }


def _fine_tuning(recipe: dict) -> dict:
    """A run started with `timbrel train --init`: what it started from and the total budget."""
    init = recipe.get("init")
    if not init:
        return {}
    total = None
    if init.get("minutes") is not None and recipe.get("minutes") is not None:
        total = round(float(init["minutes"]) + float(recipe["minutes"]), 2)
    config = recipe.get("train_config", {})
    return {"fine_tuned_from": init, "tracking_weight": config.get("tracking_weight"),
            "timbre_weight": config.get("timbre_weight", 0.0), "move_weight": config.get("move_weight", 0.0),
            "total_minutes": total}


def write_card(model_path: Path, report: dict) -> tuple[Path, Path]:
    """MODEL.json (the embedded card plus measured metrics) and a short MODEL.md."""
    _, info = load_and_check(model_path)
    targets = report["targets"]
    card = dict(info.model_card)
    card["metrics"] = {k: report[k] for k in ("held_out_seconds", "spectral_distance", "tracking",
                                              "tracking_foreign", "latent_probe_r2", "timbre_recognition", "timbre_space",
                                              "realtime_factor_one_thread",
                                              "realtime_factor_host_block", "passed") if k in report}
    card["regression"] = report["regression"]
    card["file"] = {"name": model_path.name, "bytes": model_path.stat().st_size}
    json_path = model_path.with_suffix(".json")
    write_atomically(json_path, json.dumps(card, indent=2) + "\n")

    rate, hop = info.sample_rate, info.hop_length
    training = card.get("training", {})
    data = card.get("training_data", {})
    lines = [f"# {info.model_name}", "", card.get("description", ""), "",
             f"- Instrument: {card.get('instrument', 'unknown')}",
             f"- Sample rate {rate} Hz, hop {hop} samples ({1000 * hop / rate:.1f} ms), model latency "
             f"{info.latency_samples} samples; plugin latency in Inline mode = one hop",
             f"- Size: {model_path.stat().st_size / 2 ** 20:.1f} MiB, {card.get('parameters', '?')} parameters",
             f"- Training data: {data.get('source', '?')} ({data.get('license', '?')}), "
             f"{data.get('preset', '')}, {data.get('minutes', '?')} minutes",
             f"- Training: config `{training.get('config')}`, {training.get('steps')} steps, "
             f"{training.get('minutes')} minutes on {training.get('hardware')}, seed {training.get('seed')}, "
             f"torch {training.get('torch')}"]
    if info.timbre_names:
        lines.append(f"- Named timbres: {', '.join(info.timbre_names)} (each its training audio's mean latent)"
                     + ("; the latent's principal axes" if info.latent_components is not None else ""))
    start = training.get("fine_tuned_from")
    if start:
        terms = [f"descriptor tracking weight {training.get('tracking_weight')}"]
        terms += [f"{label} weight {training[key]}" for key, label in (("timbre_weight", "timbre term"),
                                                                       ("move_weight", "morph term"))
                  if training.get(key)]
        lines.append(f"- Fine-tuned ({', '.join(terms)}) from a run of "
                     f"{start.get('steps')} steps and {start.get('minutes')} minutes on {start.get('hardware')}: "
                     f"{training.get('total_minutes')} training minutes in all")
    lines += ["", "| Metric | Value | Target | Met |", "|---|---|---|---|",
             f"| Spectral distance (held-out, lower is better) | {report['spectral_distance']} | - | - |"]
    for name, entry in report["tracking"].items():
        target = targets["tracking_r"].get(name, 0.85)
        lines.append(f"| Tracking r, {name} (MAE {entry['mae']} {entry['mae_unit']}) | {entry['r']} | >= {target} | "
                     f"{'yes' if entry['r'] >= target else 'no'} |")
    foreign = report.get("tracking_foreign") or {}
    if foreign.get("worst_r"):
        others = ", ".join(foreign["instruments"])
        for name, r in foreign["worst_r"].items():
            target = targets["tracking_r"].get(name, 0.85)
            lines.append(f"| Tracking r, {name}, foreign audio (worst of {others}) | {r} | >= {target} | "
                         f"{'yes' if r >= target else 'no'} |")
        # Older reports have no shifted figures.
        for name, r in (foreign.get("shifted") or {}).get("worst_r", {}).items():
            lines.append(f"| Tracking r, {name}, foreign audio shifted into the model's range (worst of the same) "
                         f"| {r} | - | - |")
    for name, r2 in report["latent_probe_r2"].items():
        lines.append(f"| Latent probe R², {name} | {r2} | <= {targets['probe_r2_max']} | "
                     f"{'yes' if r2 <= targets['probe_r2_max'] else 'no'} |")
    for split, result in (report.get("timbre_recognition") or {}).items():
        where = "held-out clips" if split == "valid" else "clips of a soundfont the instrument was not learnt from"
        target = targets.get("timbre_recognition_min", 0.9)
        lines.append(f"| Nearest named timbre is the clip's instrument, {where} ({result['clips']}) | "
                     f"{round(result['accuracy'], 3)} | >= {target} | {'yes' if result['accuracy'] >= target else 'no'} |")
    space = report.get("timbre_space") or {}
    for name, r2 in (space.get("latent_probe_r2_heldout") or {}).items():
        lines.append(f"| Latent probe R², {name}, a soundfont not learnt from | {r2} | <= {targets['probe_r2_max']} | "
                     f"{'yes' if r2 <= targets['probe_r2_max'] else 'no'} |")
    if space:
        transfer, morphs = space["transfer"], space["morph"]
        target = targets.get("transfer_min", 0.9)
        lines.append(f"| Transfer: other instruments decoded with a named timbre and Natural spectral descriptors, "
                     f"recognised as it (mean; worst timbre) | {round(transfer['accuracy'], 3)}; "
                     f"{round(transfer['worst'], 3)} | >= {target} each | {'yes' if transfer['worst'] >= target else 'no'} |")
        lines.append(f"| Instrument classifier (MFCC, trained on train/ renders) on held-out renders | "
                     f"{space['classifier_accuracy_valid']} | - | - |")
        limit = targets.get("morph_extrapolation_db_max", 6.0)
        ok = morphs["monotone"] == 1.0 and morphs["finite"] and morphs["extrapolation_db_max"] <= limit
        lines.append(f"| Morph A to B: pairs whose recognition rises monotonically; loudness change at -0.5 and 1.5 | "
                     f"{round(morphs['monotone'], 3)}; {morphs['extrapolation_db_max']} dB | 1.0; <= {limit} dB | "
                     f"{'yes' if ok else 'no'} |")
        for name, r in (space.get("against_single") or {}).items():
            limit = targets.get("reconstruction_ratio_max", 1.1)
            lines.append(f"| Reconstruction of {name} against the single-instrument model ({r['multi']} vs {r['single']}) | "
                         f"{r['ratio']}x | <= {limit}x | {'yes' if r['ratio'] <= limit else 'no'} |")
    for name, fit in (card.get("natural") or {}).items():
        lines.append(f"| natural() R², {name} (training frames; validation frames) | {fit['r2_train']}; "
                     f"{fit['r2_valid']} | - | - |")
    rtf = report["realtime_factor_one_thread"]
    lines.append(f"| Hop-by-hop streaming, one thread (x real time) | {rtf} | >= {targets['realtime_factor_min']} | "
                 f"{'yes' if rtf >= targets['realtime_factor_min'] else 'no'} |")
    block = report["realtime_factor_host_block"]
    lines.append(f"| Streaming in the plugin at a {block['block']}-sample host buffer ({block['hops_per_call']} "
                 f"hop{'s' if block['hops_per_call'] > 1 else ''} per call), one thread (x real time) | "
                 f"{block['factor']} | - | - |")
    lines += ["", "Measured by `timbrel eval` (timbrel.training.evaluate); the figures in "
                  f"{json_path.name} are what the regression test checks.", ""]
    md_path = model_path.with_suffix(".md")
    write_atomically(md_path, "\n".join(lines))
    return json_path, md_path
