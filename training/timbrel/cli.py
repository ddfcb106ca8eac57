"""The `timbrel` command line.

  timbrel render IN OUT --model PATH [--host dawdreamer|pedalboard] [--set NAME=VALUE ...]
                 [--automate ID=CURVE ...]     (IN a file or a folder)
  timbrel check MODEL.ts
  timbrel dataset fluidr3 --instrument violin --minutes N --out DIR
  timbrel dataset folder PATH --out DIR
  timbrel export RUN --out models/NAME.ts
  timbrel eval MODEL DATA [--out DIR] [--card]
  timbrel train DATA --config default|lowlatency|waveform --out RUN [--steps N] [--max-minutes M] [--resume]
  timbrel demo --out DIR
  timbrel bench --out DIR [--seconds S] [--paced-seconds S] [--paced-margins HOPS ...] [--models NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

# TorchScript warns "deprecated" on every call in torch 2.13; the warning is not actionable here.
warnings.filterwarnings("ignore", message=".*TorchScript.*", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=".*torch.jit.*")


def _parse_settings(pairs: list[str]) -> dict[str, float | str]:
    """--set NAME=VALUE: a number, or a choice parameter's text. Names are checked for syntax
    here and against the loaded plugin when the host opens."""
    from .host import check_parameter_id

    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise SystemExit(f"--set expects NAME=VALUE, got '{pair}'")
        try:
            check_parameter_id(name)
        except ValueError as error:
            raise SystemExit(f"--set: {error}") from None
        try:
            settings[name] = float(value)
        except ValueError:
            settings[name] = value  # a choice text; the plugin's parameter decides
    return settings


def _parse_automation(pairs: list[str]) -> dict[str, tuple]:
    """--automate ID=CURVE: a CSV file of time_seconds,value rows or inline TIME:VALUE,..."""
    from .host import check_parameter_id
    from .render import parse_curve

    automation = {}
    for pair in pairs:
        name, sep, curve = pair.partition("=")
        name = name.strip()
        if not sep or not curve.strip():
            raise SystemExit(f"--automate expects ID=CURVE (a CSV file or TIME:VALUE,...), got '{pair}'")
        try:
            check_parameter_id(name)
            automation[name] = parse_curve(curve)
        except ValueError as error:
            raise SystemExit(f"--automate {name}: {error}") from None
    return automation


def cmd_render(args) -> int:
    from .host import PluginError, UnknownParameter
    from .render import RenderError, render_file, render_folder

    settings = _parse_settings(args.set)
    automation = _parse_automation(args.automate)
    if automation and args.host != "dawdreamer":
        print(f"timbrel render: --automate needs --host dawdreamer ({args.host} cannot automate parameters)",
              file=sys.stderr)
        return 2
    try:
        if args.input.is_dir():
            if args.output.exists() and not args.output.is_dir():
                raise ValueError(f"{args.output} is a file; a folder input renders into a folder")
            rendered, _, failed = render_folder(args.input, args.output, model=args.model, host=args.host,
                                                settings=settings, plugin_path=args.plugin, automation=automation)
            return 0 if rendered and not failed else 2
        report = render_file(args.input, args.output, model=args.model, host=args.host, settings=settings,
                             plugin_path=args.plugin, automation=automation)
    except (RenderError, PluginError, FileNotFoundError, ValueError, UnknownParameter) as error:
        print(f"timbrel render: {error}", file=sys.stderr)
        return 2
    print(report)
    return 0


def cmd_check(args) -> int:
    from .contract import ContractError, load_and_check

    try:
        _, info = load_and_check(args.model)
    except ContractError as error:
        print(f"{args.model}: {error}", file=sys.stderr)
        return 2
    print(f"{args.model}: conforms to model format {info.format_version} "
          f"({info.model_name}, {info.sample_rate} Hz, hop {info.hop_length}, "
          f"descriptors {', '.join(info.descriptor_names)})")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(Path(args.out), plugin_path=args.plugin)
    return 0


def cmd_bench(args) -> int:
    from .bench import run_bench

    run_bench(Path(args.out), plugin_path=args.plugin, seconds=args.seconds, paced_seconds=args.paced_seconds,
              models=args.models, paced_margins=tuple(args.paced_margins))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="timbrel", description="Timbrel neural timbre models and plugin harness")
    commands = parser.add_subparsers(dest="command", required=True)

    render = commands.add_parser("render", help="render an audio file (or a folder of them) through the real plugin")
    render.add_argument("input", type=Path,
                        help="audio file, or a folder: every readable audio file in it, recursively")
    render.add_argument("output", type=Path, help="output WAV, or the output folder (same relative paths, .wav)")
    render.add_argument("--model", help="model file or shipped model name (default: the plugin's default)")
    render.add_argument("--host", choices=("dawdreamer", "pedalboard"), default="dawdreamer")
    render.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="parameter in its unit, e.g. loudness_shift=-6, mix=50, output_gain=-3; "
                             "choice parameters take their text or index")
    render.add_argument("--automate", action="append", default=[], metavar="ID=CURVE",
                        help="automate a parameter (DawDreamer only): CURVE is a CSV file of time_seconds,value "
                             "rows or inline breakpoints like 0:0,2:12,4:-12; linear between breakpoints "
                             "(choices step), held before the first and after the last")
    render.add_argument("--plugin", type=Path, help="plugin bundle (default: dist/Timbrel.vst3)")
    render.set_defaults(func=cmd_render)

    check = commands.add_parser("check", help="check a model file against docs/model-format.md")
    check.add_argument("model", type=Path)
    check.set_defaults(func=cmd_check)

    demo = commands.add_parser("demo", help="render a FluidR3 phrase through the plugin with the default model")
    demo.add_argument("--out", default="demo")
    demo.add_argument("--plugin", type=Path)
    demo.set_defaults(func=cmd_demo)

    bench = commands.add_parser("bench", help="measure latency, callback times and speed of the plugin")
    bench.add_argument("--out", default="bench")
    bench.add_argument("--plugin", type=Path)
    bench.add_argument("--seconds", type=float, default=5.0, help="audio per measured render")
    bench.add_argument("--paced-seconds", type=float, default=600.0,
                       help="length of the real-time paced underrun render (0 skips it)")
    bench.add_argument("--paced-margins", type=int, nargs="+", default=[1, 2], choices=[1, 2, 4],
                       help="Threaded Margin settings (hops) to run the paced render with (default: 1 2)")
    bench.add_argument("--models", nargs="*", help="shipped model names to measure (default: all)")
    bench.set_defaults(func=cmd_bench)

    from .dataset import add_parsers as add_dataset_parsers

    add_dataset_parsers(commands)

    from .train import add_parser as add_train_parser

    add_train_parser(commands)

    from .export import add_parser as add_export_parser

    add_export_parser(commands)

    from .evaluate import add_parser as add_eval_parser

    add_eval_parser(commands)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
