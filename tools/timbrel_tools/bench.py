"""`make bench`: figures for docs/benchmarks.md and the issues, printed as a table and written as
JSON. Timings are measured, never asserted (tests do not depend on machine speed).

Everything runs the real built plugin in our native host (timbrel_rt_host) in real-time mode:
per-callback time distributions per mode, model and host block; offline real-time factor;
reported latency at 44.1 and 48 kHz; and underruns during a long render paced like an audio
device (10 minutes unless --paced-seconds says otherwise), once per Threaded Margin in
--paced-margins (1 and 2 hops by default).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from timbrel.hosts.plugin import PROCESSING_MODES, margin_choice

from .checkout import REPO_ROOT, built_plugin
from .rthost import model_state, render_native

SAMPLE_RATE = 44100
BLOCK_SIZES = (32, 64, 128, 512, 2048)
MODES = PROCESSING_MODES


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _load_time_in_fresh_process(plugin: Path) -> float:
    """Seconds from an empty Python process to a plugin ready to play (load + prepare + warm-up),
    without Python's torch imported: the bundle's own libtorch is what loads."""
    code = (
        "import time, numpy as np; t = time.perf_counter(); import pedalboard; "
        f"p = pedalboard.load_plugin({str(plugin)!r}); p.process(np.zeros((2, 512), np.float32), 44100); "
        "print(time.perf_counter() - t)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def _signal(seconds: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    audio = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 331 * t)]).astype(np.float32)
    return audio + 0.01 * rng.standard_normal(audio.shape).astype(np.float32)


def _shipped_models(plugin: Path) -> list[Path]:
    folder = plugin / "Contents" / "Resources" / "models"
    return sorted(p for p in folder.glob("*.ts") if not p.stem.startswith("timbrel-"))


OFFLINE_BLOCKS = (512, 4096)


def run_bench(out: Path, plugin_path=None, seconds: float = 5.0, paced_seconds: float = 600.0,
              models: list[str] | None = None, paced_margins: tuple[int, ...] = (1, 2)) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    plugin = Path(plugin_path or built_plugin())
    model_files = [m for m in _shipped_models(plugin) if not models or m.stem in models]
    audio = _signal(seconds)

    results = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "bundle_bytes": _folder_size(plugin),
        "load_seconds": _load_time_in_fresh_process(plugin),
        "seconds_per_render": seconds,
        "callbacks": [],
        "offline": [],
        "latency": [],
    }

    for model in model_files:
        state = model_state(model)
        for mode in MODES:
            settings = {"processing_mode": mode}
            for rate in (44100, 48000):
                _, report = render_native(_signal(0.1, rate), rate, plugin_path=plugin, block=512, realtime=False,
                                          state=state, settings=settings)
                results["latency"].append({"model": model.stem, "mode": mode, "sample_rate": rate,
                                           "samples": report["latency_samples"],
                                           "ms": 1000.0 * report["latency_samples"] / rate})
            # Offline speed: the whole chain, synchronous, one intra-op thread; the best of three
            # renders (the slower ones measure this machine's other load, not the plugin). Stereo
            # (Dual Mono: the model runs a batch of two streams) and mono (one stream), at a
            # 512-sample block and at 4096 (the hops a block completes go to the model in one call).
            for block in OFFLINE_BLOCKS:
                for channels in (2, 1):
                    start = time.perf_counter()
                    factors = []
                    for _ in range(3):
                        _, report = render_native(audio[:channels], SAMPLE_RATE, plugin_path=plugin, block=block,
                                                  realtime=False, state=state, settings=settings)
                        factors.append(seconds / (report["process_us"]["mean"] * report["timed_blocks"] / 1e6))
                    results["offline"].append({"model": model.stem, "mode": mode, "channels": channels, "block": block,
                                               "realtime_factor": max(factors), "realtime_factor_runs": factors,
                                               "wall_seconds": time.perf_counter() - start})
            # Real-time callbacks, paced like an audio device.
            for block in BLOCK_SIZES:
                _, report = render_native(audio, SAMPLE_RATE, plugin_path=plugin, block=block, realtime=True,
                                          pace=1.0, state=state, settings=settings, warmup_blocks=16)
                us = report["callback_us"]
                results["callbacks"].append({
                    "model": model.stem, "mode": mode, "block": block, "budget_us": report["budget_us"],
                    "mean_us": us["mean"], "p99_us": us["p99"], "p999_us": us["p999"], "max_us": us["max"],
                    "p999_of_budget": us["p999"] / report["budget_us"],
                    "underruns": int(report["status"].get("underruns", 0)),
                    "audio_thread_allocations": report["audio_thread_allocations"],
                })

    default = (plugin / "Contents" / "Resources" / "models" / "DEFAULT").read_text().strip()
    results["synth"] = _synth_speed([m for m in model_files if m.stem in (default, "timbres")], seconds)
    # Written now and again after each paced render, so an interrupted bench keeps what it has.
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    results["paced_renders"] = []
    for margin in (paced_margins if paced_seconds > 0 else ()):
        default_file = next(m for m in model_files + _shipped_models(plugin) if m.stem == default)
        label = margin_choice(margin)
        _, report = render_native(_signal(paced_seconds), SAMPLE_RATE, plugin_path=plugin, block=64, realtime=True,
                                  pace=1.0, state=model_state(default_file),
                                  settings={"processing_mode": "Threaded", "threaded_margin": label},
                                  timeout=1.5 * paced_seconds + 300)
        results["paced_renders"].append({"model": default, "mode": "Threaded", "margin": label, "block": 64,
                                         "seconds": paced_seconds, "latency_samples": report["latency_samples"],
                                         "underruns": int(report["status"].get("underruns", 0)),
                                         "max_callback_us": report["callback_us"]["max"],
                                         "late_blocks": report["late_blocks"]})
        (out / "bench.json").write_text(json.dumps(results, indent=2))

    (out / "bench.json").write_text(json.dumps(results, indent=2))
    _print(results)
    print(f"  written to {out / 'bench.json'}")
    return results


SYNTH_BENCH = REPO_ROOT / "build" / "plugin" / "engine" / "timbrel_synth_bench"
SYNTH_TARGETS = {8: 10.0, 16: 5.0}  # issue 32: x real time, one thread, the default model


def _synth_speed(model_files: list[Path], seconds: float) -> list[dict]:
    """Timbrel Synth's engine, one thread: x real time by voice count (every voice decoded in
    one call) and 8 one-voice engines in turn (tests/synth_bench.cpp)."""
    rows = []
    for model in model_files:
        done = subprocess.run([str(SYNTH_BENCH), str(model), str(seconds)], capture_output=True, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"timbrel_synth_bench failed on {model.name}: {done.stderr.strip()}")
        figures = json.loads(done.stdout)
        rows.append({"model": model.stem, "voices": {int(k): v for k, v in figures["voices"].items()},
                     "eight_separate_engines": figures["eight_separate_engines"]})
    return rows


def _print(results: dict) -> None:
    print(f"Timbrel bench: stereo at {SAMPLE_RATE} Hz, {results['seconds_per_render']:.0f} s per render, "
          f"{results['machine']['cores']} cores, one intra-op thread per instance")
    print(f"  bundle size {results['bundle_bytes'] / 2**20:.1f} MiB; load + warm-up "
          f"{results['load_seconds']:.2f} s (fresh process, pedalboard)")
    print("\n  reported latency            44.1 kHz            48 kHz")
    rows = {}
    for row in results["latency"]:
        rows.setdefault((row["model"], row["mode"]), {})[row["sample_rate"]] = row
    for (model, mode), by_rate in rows.items():
        cells = "  ".join(f"{by_rate[r]['samples']:5d} ({by_rate[r]['ms']:5.1f} ms)" for r in (44100, 48000))
        print(f"  {model:18s} {mode:8s} {cells}")
    print("\n  offline real-time factor (the plugin's own processing time, best of three renders)")
    print("                               block " + "".join(f"{b:>9d} stereo / mono" for b in OFFLINE_BLOCKS))
    offline = {}
    for row in results["offline"]:
        offline.setdefault((row["model"], row["mode"]), {})[(row["block"], row["channels"])] = row["realtime_factor"]
    for (model, mode), cells in offline.items():
        text = "".join(f"    {cells[(b, 2)]:7.1f}x / {cells[(b, 1)]:5.1f}x" for b in OFFLINE_BLOCKS)
        print(f"  {model:18s} {mode:8s}      {text}")
    print("\n  real-time callbacks, paced   block  budget us   mean    p99  p99.9    max  p99.9/budget  underruns  allocs")
    for r in results["callbacks"]:
        print(f"  {r['model']:18s} {r['mode']:8s} {r['block']:5d} {r['budget_us']:9.0f} {r['mean_us']:6.0f} "
              f"{r['p99_us']:6.0f} {r['p999_us']:6.0f} {r['max_us']:6.0f} {r['p999_of_budget']:12.0%} "
              f"{r['underruns']:10d} {r['audio_thread_allocations']:7d}")
    if results.get("synth"):
        print("\n  Timbrel Synth, one thread, x real time by voices sounding (all decoded in one call per hop)")
        print("  model                  1 voice   2      4      8     16    8 as separate engines   targets")
        for r in results["synth"]:
            v = r["voices"]
            met = "  ".join(f"{n} voices >= {t:.0f}x: {'met' if v[n] >= t else 'MISSED'}" for n, t in SYNTH_TARGETS.items())
            print(f"  {r['model']:18s} " + " ".join(f"{v[n]:6.1f}" for n in (1, 2, 4, 8, 16))
                  + f"   {r['eight_separate_engines']:12.1f}x           {met}")
    for p in results.get("paced_renders", []):
        print(f"\n  paced render: {p['seconds'] / 60:.1f} min of {p['model']} in {p['mode']} mode, margin {p['margin']} "
              f"(latency {p['latency_samples']} samples), block {p['block']}: {p['underruns']} underruns, "
              f"worst callback {p['max_callback_us']:.0f} us, {p['late_blocks']} late blocks")
