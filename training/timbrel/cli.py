"""The `timbrel` command line: each subcommand lives with the code it runs.

  timbrel check MODEL.ts                                         timbrel.format (the contract)
  timbrel dataset fluidr3 --instrument violin --minutes N --out DIR
  timbrel dataset folder PATH --out DIR                          timbrel.training.dataset
  timbrel train DATA --config default|lowlatency|waveform --out RUN [--steps N] [--max-minutes M] [--resume]
                                                                 timbrel.training.loop
  timbrel export RUN --out models/NAME.ts                        timbrel.training.export
  timbrel eval MODEL DATA [--out DIR] [--card]                   timbrel.training.evaluate
  timbrel render IN OUT [--model PATH] [--host dawdreamer|pedalboard] [--set NAME=VALUE ...]
                 [--automate ID=CURVE ...] [--snapshot A=NAME|@FILE]  (IN a file or a folder)   timbrel.hosts.render
  timbrel capture MODEL AUDIO --out FILE                         timbrel.training.timbres

Subcommands import their modules only when parsed, so `timbrel render` does not load torch.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

# TorchScript warns "deprecated" on every call in torch 2.13; the warning is not actionable here.
warnings.filterwarnings("ignore", message=".*TorchScript.*", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=".*torch.jit.*")


def cmd_check(args: argparse.Namespace) -> int:
    from .format.contract import ContractError, load_and_check

    try:
        _, info = load_and_check(args.model)
    except ContractError as error:
        print(f"{args.model}: {error}", file=sys.stderr)
        return 2
    print(f"{args.model}: conforms to model format {info.format_version} "
          f"({info.model_name}, {info.sample_rate} Hz, hop {info.hop_length}, "
          f"descriptors {', '.join(info.descriptor_names)})")
    return 0


def _add_check(subparsers) -> None:
    check = subparsers.add_parser("check", help="check a model file against docs/model-format.md")
    check.add_argument("model", type=Path)
    check.set_defaults(func=cmd_check)


def _lazy(module: str):
    """A parser builder that imports `module` (its add_parser/add_parsers) when called."""
    def add(subparsers) -> None:
        import importlib

        loaded = importlib.import_module(module, __package__)
        (getattr(loaded, "add_parsers", None) or loaded.add_parser)(subparsers)
    return add


# In help order. The training modules import torch, so they are only imported for their own command.
COMMANDS = {
    "render": _lazy(".hosts.render"),
    "check": _add_check,
    "dataset": _lazy(".training.dataset"),
    "train": _lazy(".training.loop"),
    "export": _lazy(".training.export"),
    "eval": _lazy(".training.evaluate"),
    "bench": _lazy(".training.pitch_bench"),
    "capture": _lazy(".training.timbres"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="timbrel", description="Timbrel neural timbre models and plugin harness")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Build only the parser of the command given (all of them for --help or a typo).
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, add in COMMANDS.items():
        if chosen not in COMMANDS or chosen == name:
            add(commands)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
