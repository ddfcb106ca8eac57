"""`make bench`: figures for the README and the issues, printed as a table and written as
JSON. Timings are measured, never asserted (tests do not depend on machine speed)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .host import PedalboardHost, default_plugin_path
from .reference import StreamingReference

SAMPLE_RATE = 44100
BLOCK_SIZES = (32, 64, 128, 512, 2048)


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


def run_bench(out: Path, plugin_path=None, seconds: float = 10.0) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    plugin = Path(plugin_path or default_plugin_path())
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    audio = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 331 * t)]).astype(np.float32)
    audio += 0.01 * rng.standard_normal(audio.shape).astype(np.float32)

    results = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "bundle_bytes": _folder_size(plugin),
        "load_seconds": _load_time_in_fresh_process(plugin),
        "renders": [],
    }

    host = PedalboardHost(plugin)
    status = host.status()
    results["model"] = status.model_name
    results["latency_samples"] = status.latency
    results["latency_ms"] = 1000.0 * status.latency / SAMPLE_RATE
    for block in BLOCK_SIZES:
        host.process(audio[:, :SAMPLE_RATE], SAMPLE_RATE)  # warm
        start = time.perf_counter()
        host.plugin.process(audio, SAMPLE_RATE, buffer_size=block, reset=True)
        elapsed = time.perf_counter() - start
        results["renders"].append({"host": "pedalboard", "block": block, "seconds": elapsed,
                                   "realtime_factor": seconds / elapsed})

    reference = StreamingReference(plugin / "Contents" / "Resources" / "models" / f"{status.model_name}.ts")
    start = time.perf_counter()
    reference.model_stream(audio)
    elapsed = time.perf_counter() - start
    results["python_streaming_realtime_factor"] = seconds / elapsed

    (out / "bench.json").write_text(json.dumps(results, indent=2))
    print(f"Timbrel bench: model '{results['model']}', stereo, {seconds:.0f} s of audio at {SAMPLE_RATE} Hz")
    print(f"  bundle size            {results['bundle_bytes'] / 2**20:8.1f} MiB")
    print(f"  load + warm-up         {results['load_seconds']:8.2f} s   (fresh process, pedalboard)")
    print(f"  reported latency       {results['latency_samples']:8d} samples ({results['latency_ms']:.1f} ms)")
    print("  host block   render s   x real time   (pedalboard, one intra-op thread)")
    for row in results["renders"]:
        print(f"  {row['block']:10d} {row['seconds']:10.3f} {row['realtime_factor']:13.1f}")
    print(f"  python hop-by-hop reference: {results['python_streaming_realtime_factor']:.1f}x real time")
    print(f"  written to {out / 'bench.json'}")
    return results
