"""`make bench-soak`: stress and soak figures, measured and printed, never asserted.

Stress: 16 instances in one native host process (timbrel_rt_host), real-time paced, mixed
models and modes (each shipped model in Threaded margin 1 and 2, Inline, and Linked stereo):
no crash, the callback distribution of all 16 in one audio callback, memory per instance.

Soak: the default model in Threaded mode at margin 2, paced for an hour (--minutes): underruns,
callback p99.9 and resident memory over time, printed and plotted (bench/soak.png, soak.json).
Targets (a quiet machine): 0 underruns, RSS growth under 1 MB per hour. On a virtual machine
the soak also reads the time the hypervisor took the CPUs away (steal, /proc/stat) each second:
a stall the host process cannot see or prevent, printed per minute beside the underruns.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from timbrel.hosts.plugin import PROCESSING_MODES, STEREO_MODES, THREADED_MARGIN_HOPS, margin_choice

from .bench import SAMPLE_RATE, _shipped_models, _signal
from .checkout import built_plugin
from .rthost import model_state, render_native

STRESS_MODES = (
    {"processing_mode": "Threaded", "threaded_margin": margin_choice(1)},
    {"processing_mode": "Threaded", "threaded_margin": margin_choice(2)},
    {"processing_mode": "Inline"},
    {"processing_mode": "Threaded", "stereo_mode": "Linked"},
)


def _state(model: Path, settings: dict) -> bytes:
    """A state naming `model` with choice parameters set by their text (saved as their index)."""
    import xml.etree.ElementTree as ET

    from timbrel.hosts import plugin_state

    choices = {"processing_mode": PROCESSING_MODES, "stereo_mode": STEREO_MODES,
               "threaded_margin": tuple(margin_choice(h) for h in THREADED_MARGIN_HOPS)}
    blob = model_state(model)
    state = plugin_state.read(blob)
    for parameter, text in settings.items():
        ET.SubElement(state, "PARAM", id=parameter, value=str(float(choices[parameter].index(text))))
    return plugin_state.write(blob, state)


def run_stress(out: Path, plugin_path=None, instances: int = 16, seconds: float = 20.0, block: int = 256) -> dict:
    plugin = Path(plugin_path or built_plugin())
    models = _shipped_models(plugin)
    states, labels = [], []
    for k in range(instances):
        model, settings = models[k % len(models)], STRESS_MODES[(k // len(models)) % len(STRESS_MODES)]
        states.append(_state(model, settings))
        labels.append(f"{model.stem} {' '.join(str(v) for v in settings.values())}")
    _, report = render_native(_signal(seconds), SAMPLE_RATE, plugin_path=plugin, block=block, realtime=True, pace=1.0,
                              instances=instances, instance_states=states, timeout=seconds * 3 + 300)
    us = report["callback_us"]
    result = {
        "instances": instances, "block": block, "seconds": seconds, "instance_setups": labels,
        "rss_mb_before": report["rss_mb_before_instances"], "rss_mb_after": report["rss_mb_after_instances"],
        "mb_per_instance": (report["rss_mb_after_instances"] - report["rss_mb_before_instances"]) / instances,
        "budget_us": report["budget_us"], "callback_mean_us": us["mean"], "callback_p999_us": us["p999"],
        "callback_max_us": us["max"], "late_blocks": report["late_blocks"], "blocks": report["timed_blocks"],
        "underruns_instance_0": int(report["status"].get("underruns", 0)),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "stress.json").write_text(json.dumps(result, indent=2))
    print(f"stress: {instances} instances ({len(set(labels))} model and mode setups), paced, block {block}, "
          f"{seconds:.0f} s: no crash; {result['mb_per_instance']:.1f} MB per instance "
          f"({result['rss_mb_before']:.0f} -> {result['rss_mb_after']:.0f} MB); callback mean {us['mean']:.0f} us, "
          f"p99.9 {us['p999']:.0f} us, max {us['max']:.0f} us of {report['budget_us']:.0f}; late blocks "
          f"{report['late_blocks']}/{report['timed_blocks']}; underruns (instance 0) {result['underruns_instance_0']}")
    return result


class StealSampler:
    """The machine's steal time (/proc/stat, all CPUs) each `interval` seconds in a thread:
    per second of wall time since start, the milliseconds stolen. Empty where /proc/stat has
    no steal column (not Linux, or not virtualised)."""

    def __init__(self, interval: float = 1.0):
        self.interval, self.samples = interval, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _steal_ms() -> float | None:
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()
            return int(fields[8]) * 1000.0 / 100.0 if len(fields) > 8 else None  # USER_HZ is 100 on Linux
        except (OSError, ValueError, IndexError):
            return None

    def _run(self) -> None:
        start, last = time.monotonic(), self._steal_ms()
        while last is not None and not self._stop.wait(self.interval):
            now = self._steal_ms()
            self.samples.append((time.monotonic() - start, now - last))
            last = now

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def per_minute(self, minutes: int) -> list[dict]:
        """[{total_ms, worst_second_ms}] for each wall-clock minute since start."""
        rows = []
        for m in range(minutes):
            inside = [ms for t, ms in self.samples if m * 60 <= t < (m + 1) * 60]
            rows.append({"total_ms": round(sum(inside), 1), "worst_second_ms": round(max(inside, default=0.0), 1)})
        return rows


def run_soak(out: Path, plugin_path=None, minutes: float = 60.0, margin: int = 2, block: int = 256,
             interval: float = 60.0) -> dict:
    plugin = Path(plugin_path or built_plugin())
    default = (plugin / "Contents" / "Resources" / "models" / "DEFAULT").read_text().strip()
    model = next(m for m in _shipped_models(plugin) if m.stem == default)
    state = _state(model, {"processing_mode": "Threaded", "threaded_margin": margin_choice(margin)})
    seconds = minutes * 60.0
    with StealSampler() as steal:
        _, report = render_native(_signal(30.0), SAMPLE_RATE, plugin_path=plugin, block=block, realtime=True,
                                  pace=1.0, state=state, duration=seconds, timeline_seconds=min(interval, seconds),
                                  warmup_blocks=16, timeout=seconds * 1.5 + 300)
    timeline = report["timeline"]
    # Wall-clock minutes from the host's start (its model load shifts them by a few seconds).
    for row, stolen in zip(timeline, steal.per_minute(len(timeline))):
        row["steal_ms"], row["steal_worst_second_ms"] = stolen["total_ms"], stolen["worst_second_ms"]
    first, last = timeline[0], timeline[-1]
    hours = max(1e-9, (last["seconds"] - first["seconds"]) / 3600.0)
    result = {
        "model": default, "margin": margin_choice(margin), "block": block, "minutes": minutes,
        "underruns": int(report["status"].get("underruns", 0)), "late_blocks": report["late_blocks"],
        "callback_p999_us": report["callback_us"]["p999"], "callback_max_us": report["callback_us"]["max"],
        "budget_us": report["budget_us"], "rss_mb_first": first["rss_mb"], "rss_mb_last": last["rss_mb"],
        "rss_growth_mb_per_hour": (last["rss_mb"] - first["rss_mb"]) / hours, "timeline": timeline,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(result, indent=2))
    _plot(result, out / "soak.png")
    print(f"soak: {minutes:g} min of {default}, Threaded margin {margin}, block {block}, paced")
    print("     minute   RSS MB  underruns  p99.9 us    max us  late  steal ms (worst second)")
    for row in timeline:
        print(f"  {row['seconds'] / 60:9.1f} {row['rss_mb']:8.1f} {int(row['underruns']):10d} "
              f"{row['callback_p999_us'] or 0:9.0f} {row['callback_max_us'] or 0:9.0f} {row['late_blocks']:5d}"
              f"  {row.get('steal_ms', 0):8.0f} ({row.get('steal_worst_second_ms', 0):.0f})")
    print(f"  underruns {result['underruns']} (target 0); RSS {first['rss_mb']:.1f} -> {last['rss_mb']:.1f} MB, "
          f"{result['rss_growth_mb_per_hour']:+.2f} MB per hour (target < 1); written to {out / 'soak.json'}, soak.png")
    return result


def _plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [row["seconds"] / 60 for row in result["timeline"]]
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    axes[0].plot(minutes, [row["rss_mb"] for row in result["timeline"]])
    axes[0].set_ylabel("resident MB")
    axes[1].plot(minutes, [row["callback_p999_us"] or 0 for row in result["timeline"]], label="p99.9")
    axes[1].plot(minutes, [row["callback_max_us"] or 0 for row in result["timeline"]], label="max")
    axes[1].axhline(result["budget_us"], color="grey", linestyle="--", label="budget")
    axes[1].set_ylabel("callback us")
    axes[1].legend()
    axes[2].step(minutes, [int(row["underruns"]) for row in result["timeline"]], where="post")
    axes[2].set_ylabel("underruns (total)")
    axes[2].set_xlabel("minutes")
    fig.suptitle(f"Timbrel soak: {result['model']}, Threaded margin {result['margin']}, block {result['block']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
