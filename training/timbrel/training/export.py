"""`timbrel export RUN --out models/NAME.ts`: a training run (or a shipped model's source
checkpoint) to a model file that passes the contract, with its card embedded."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..format.contract import ContractError, ModelInfo
from ..format.save import attach_latent_axes, attach_timbres, save_model
from ..models.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint, write_source
from .card import model_card


def export_run(run: Path, out: Path, name: str | None = None, instrument: str | None = None,
               description: str | None = None, use_last: bool = False,
               source_out: Path | None = None, current_analysis: bool = False,
               timbres_data: Path | None = None) -> ModelInfo:
    """Exports a run folder's best.pt (or checkpoint.pt) or a source checkpoint file
    (models/source/NAME.pt, which carries its card) to a model file; with source_out, also
    writes the weights and card there as the model's source checkpoint. With current_analysis
    the model gets today's pitch analysis instead of the one it was trained with (the card and
    the source checkpoint say so). With timbres_data (the training dataset), the model gets its
    named timbres and latent axes from that data (timbrel.training.timbres); a source checkpoint
    keeps them, so that a later re-export without the data carries them too."""
    run, out = Path(run), Path(out)
    source = run if run.is_file() else run / ("checkpoint.pt" if use_last else "best.pt")
    if not source.exists():
        raise ContractError(f"{source} does not exist: train the run first (timbrel train ... --out {run})")
    try:
        state = load_checkpoint(source)
        model = model_from_checkpoint(state, current_analysis).eval()
    except CheckpointError as error:
        raise ContractError(str(error)) from None
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
    if current_analysis and state["config_name"] != "waveform":
        config = json.loads(model.config_dict)
        if config != state["model_config"]:
            state = dict(state, model_config=config)
            card["config"] = config
            card["analysis"] = "re-exported with the current pitch analysis (timbrel export --current-analysis)"
    if timbres_data is not None:
        from .natural import fit_natural
        from .timbres import analysed_dataset, dataset_timbres

        single = card.get("instrument") or name
        try:  # each clip analysed once, for both
            train = analysed_dataset(model, timbres_data, "train", single)
            valid = analysed_dataset(model, timbres_data, "valid", single)
            timbres = dataset_timbres(train)
            latent_of = dict(zip(timbres["names"], timbres["latents"]))
            natural = fit_natural(model, [clip for _, clip in train], [clip for _, clip in valid],
                                  named=[latent_of[name] for name, _ in train])
        except (OSError, ValueError, KeyError) as error:
            raise ContractError(f"--timbres {timbres_data}: {error}") from None
        state = dict(state, timbres=timbres, natural=natural)
    if "timbres" in state:
        card["timbres"] = list(state["timbres"]["names"])
    if "natural" in state:
        from .natural import load_head

        load_head(model, state["natural"]["head"])
        card["natural"] = {name: {"r2_train": round(train_r2, 4), "r2_valid": round(valid_r2, 4)}
                           for name, train_r2, valid_r2 in zip(state["natural"]["names"], state["natural"]["r2_train"],
                                                               state["natural"]["r2_valid"])}
    if source_out is not None:
        write_source(state, card, source_out)
    if "timbres" in state:
        attach_timbres(model, state["timbres"]["names"], torch.tensor(state["timbres"]["latents"]))
        attach_latent_axes(model, torch.tensor(state["timbres"]["latent_mean"]),
                           torch.tensor(state["timbres"]["latent_components"]))
    model.remove_weight_norm()
    model.model_name = name
    model.model_card = json.dumps(card)
    model.reset()
    return save_model(model, out)


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
    parser.add_argument("--current-analysis", action="store_true",
                        help="give the model today's pitch analysis, not the one it was trained with")
    parser.add_argument("--timbres", type=Path, default=None, metavar="DATA",
                        help="the training dataset: give the model its named timbres (each instrument's mean "
                             "latent) and its latent's principal axes")
    parser.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    try:
        info = export_run(args.run, args.out, args.name, args.instrument, args.description, args.last, args.source,
                          args.current_analysis, args.timbres)
    except ContractError as error:
        print(f"timbrel export: {error}", file=sys.stderr)
        return 2
    size = args.out.stat().st_size / 2 ** 20
    print(f"{args.out}: {info.model_name}, {info.sample_rate} Hz, hop {info.hop_length}, "
          f"{size:.1f} MiB; contract and streaming checks passed")
    return 0
