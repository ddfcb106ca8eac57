"""Writing model files: script, save to a temporary file, reload, check the contract, then
rename over the destination. A failed check never leaves a half-written or bad file behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

from .contract import ContractError, ModelInfo, check_model


CONTRACT_FIELDS = ("format_version", "sample_rate", "hop_length", "latent_size", "latency_samples",
                   "descriptor_names", "descriptor_units", "descriptor_min", "descriptor_max", "model_name")


# Kept through freezing: the contract's methods and attributes, the nn~ buffers, and the analysis
# settings `timbrel eval` reads.
PRESERVED = ("encode", "analyze", "decode", "reset", "encode_analyze") + CONTRACT_FIELDS + (
    "model_card", "encode_params", "decode_params", "forward_params", "window", "pitch_fmin", "pitch_fmax")


def freeze(scripted: torch.jit.ScriptModule) -> torch.jit.ScriptModule:
    """torch.jit.freeze keeping the contract: weights become constants and submodules are
    inlined, which removes most attribute lookups from each streaming call (about twice as fast
    per hop on these models); the streaming state stays, as mutable attributes."""
    keep = [name for name in PRESERVED if hasattr(scripted, name)]
    return torch.jit.freeze(scripted, preserved_attrs=keep)


def save_model(module: torch.nn.Module, path: str | os.PathLike, check: bool = True,
               frozen: bool = True) -> ModelInfo | None:
    """Scripts `module`, saves it atomically to `path` and (by default) verifies the saved file:
    it reloads it, checks the whole contract (including hop-by-hop streaming against one offline
    call) and that every contract attribute reads back as the module in memory has it. Returns
    the checked metadata; raises ContractError naming the field on a violation."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scripted = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module.eval())
    if frozen:
        scripted = freeze(scripted.eval())
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.jit.save(scripted, temporary)
        info = None
        if check:
            reloaded = torch.jit.load(temporary, map_location="cpu")
            info = check_model(reloaded)
            for name in CONTRACT_FIELDS:
                intended, saved = getattr(scripted, name), getattr(info, name)
                if isinstance(intended, list):
                    intended = list(intended)
                if intended != saved:
                    raise ContractError(f"attribute '{name}' reads back as {saved!r}, not {intended!r}")
            if json.loads(str(scripted.model_card)) != info.model_card:
                raise ContractError("attribute 'model_card' does not read back as written")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        os.replace(temporary, path)
        return info
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


# ---------------------------------------------------------------------------------------------
# `timbrel export RUN --out models/NAME.ts`


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
    else:
        data = {"source": recipe.get("data", "unknown"), "license": "as the owner of the recordings states",
                "minutes": recipe.get("train_minutes_of_audio")}
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
    return {"fine_tuned_from": init, "tracking_weight": recipe.get("train_config", {}).get("tracking_weight"),
            "total_minutes": total}


def export_run(run: Path, out: Path, name: str | None = None, instrument: str | None = None,
               description: str | None = None, use_last: bool = False,
               source_out: Path | None = None) -> ModelInfo:
    """Exports a run folder's best.pt (or checkpoint.pt) or a source checkpoint file
    (models/source/NAME.pt, which carries its card) to a model file; with source_out, also
    writes the weights and card there as the model's source checkpoint."""
    from .train import model_from_checkpoint

    run, out = Path(run), Path(out)
    source = run if run.is_file() else run / ("checkpoint.pt" if use_last else "best.pt")
    if not source.exists():
        raise ContractError(f"{source} does not exist: train the run first (timbrel train ... --out {run})")
    state = torch.load(source, map_location="cpu", weights_only=False)
    model = model_from_checkpoint(state).eval()
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    name = name or out.stem
    if run.is_file():
        if "card" not in state:
            raise ContractError(f"{source} is not a source checkpoint (it has no card): export its run folder")
        card = dict(state["card"], name=name)
        for key, value in (("instrument", instrument), ("description", description)):
            if value:
                card[key] = value
    else:
        card = model_card(run, state, name, instrument, description, parameters)
    if card["hop_length"] is None:
        card["hop_length"] = model.hop_length
    if source_out is not None:
        write_source(state, card, source_out)
    model.remove_weight_norm()
    model.model_name = name
    model.model_card = json.dumps(card)
    model.reset()
    return save_model(model, out)


SOURCE_KEYS = ("model", "config_name", "model_config", "descriptor_min", "descriptor_max", "descriptor_stats", "step")


def write_source(state: dict, card: dict, path: Path) -> None:
    """A shipped model's source checkpoint: the trainable weights (weight-normed, as training
    keeps them), what rebuilds the model, and its card. `timbrel export` re-exports it with
    newer streaming code; `timbrel train --init` fine-tunes it. Written atomically."""
    payload = {k: state[k] for k in SOURCE_KEYS if k in state} | {"card": card}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export a training run to a model file (docs/model-format.md)")
    parser.add_argument("run", type=Path,
                        help="run folder written by `timbrel train`, or a source checkpoint (models/source/NAME.pt)")
    parser.add_argument("--out", type=Path, required=True, help="model file, e.g. models/violin.ts")
    parser.add_argument("--name", help="model_name (default: the file name without .ts)")
    parser.add_argument("--instrument", help="instrument for the card (default: from the dataset)")
    parser.add_argument("--description", help="one line for the card")
    parser.add_argument("--last", action="store_true", help="export the last checkpoint, not the best validated one")
    parser.add_argument("--source", type=Path, default=None,
                        help="also write the weights and card as a source checkpoint here (models/source/NAME.pt)")
    parser.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    import sys

    try:
        info = export_run(args.run, args.out, args.name, args.instrument, args.description, args.last, args.source)
    except ContractError as error:
        print(f"timbrel export: {error}", file=sys.stderr)
        return 2
    size = args.out.stat().st_size / 2 ** 20
    print(f"{args.out}: {info.model_name}, {info.sample_rate} Hz, hop {info.hop_length}, "
          f"{size:.1f} MiB; contract and streaming checks passed")
    return 0
