"""python -m timbrel_tools demo|bench|soak|synth-eval: the checkout's demo and benchmarks (make demo,
make bench, make bench-soak, make bench-synth)."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from timbrel.hosts.plugin import THREADED_MARGIN_HOPS

warnings.filterwarnings("ignore", message=".*TorchScript.*", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=".*torch.jit.*")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m timbrel_tools")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="render a FluidR3 phrase through the plugin with the default model")
    demo.add_argument("--out", default="demo")
    demo.add_argument("--plugin", type=Path)

    bench = commands.add_parser("bench", help="measure latency, callback times and speed of the plugin")
    bench.add_argument("--out", default="bench")
    bench.add_argument("--plugin", type=Path)
    bench.add_argument("--seconds", type=float, default=5.0, help="audio per measured render")
    bench.add_argument("--paced-seconds", type=float, default=600.0,
                       help="length of the real-time paced underrun render (0 skips it)")
    bench.add_argument("--paced-margins", type=int, nargs="+", default=[1, 2], choices=THREADED_MARGIN_HOPS,
                       help="Threaded Margin settings (hops) to run the paced render with (default: 1 2)")
    bench.add_argument("--models", nargs="*", help="shipped model names to measure (default: all)")

    soak = commands.add_parser("soak", help="16 instances at once, then an hour paced: underruns, callbacks, memory")
    soak.add_argument("--out", default="bench")
    soak.add_argument("--plugin", type=Path)
    soak.add_argument("--minutes", type=float, default=60.0, help="length of the paced soak (0 skips it)")
    soak.add_argument("--instances", type=int, default=16, help="instances in the stress run (0 skips it)")
    soak.add_argument("--stress-seconds", type=float, default=20.0)

    from .synth_eval import add_parser as add_synth_eval

    add_synth_eval(commands)

    args = parser.parse_args(argv)
    if args.command == "synth-eval":
        return args.func(args)
    if args.command == "soak":
        from .soak import run_soak, run_stress

        if args.instances > 0:
            run_stress(Path(args.out), plugin_path=args.plugin, instances=args.instances, seconds=args.stress_seconds)
        if args.minutes > 0:
            run_soak(Path(args.out), plugin_path=args.plugin, minutes=args.minutes)
        return 0
    if args.command == "demo":
        from .demo import run_demo

        run_demo(Path(args.out), plugin_path=args.plugin)
    else:
        from .bench import run_bench

        run_bench(Path(args.out), plugin_path=args.plugin, seconds=args.seconds, paced_seconds=args.paced_seconds,
                  models=args.models, paced_margins=tuple(args.paced_margins))
    return 0


if __name__ == "__main__":
    sys.exit(main())
