"""`make demo`: a FluidR3 flute phrase through the real plugin with the default model, with
the loudness fader automated, written as WAVs and a spectrogram PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from timbrel.hosts import open_host
from timbrel.training.soundfont import demo_phrase

from .checkout import built_plugin

SAMPLE_RATE = 44100


def loudness_automation(length: int, sample_rate: int) -> np.ndarray:
    """0 dB, then a slow swell to +9 dB and a dip to -12 dB: the fader a producer would draw."""
    t = np.arange(length) / sample_rate
    return np.interp(t, [0.0, 2.0, 4.0, 6.0, 7.5, t[-1] + 1e-9], [0.0, 0.0, 9.0, -12.0, 0.0, 0.0]).astype(np.float32)


def plot(path: Path, dry: np.ndarray, wet: np.ndarray, automation: np.ndarray, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True, gridspec_kw={"height_ratios": [3, 3, 1]})
    for ax, signal, label in ((axes[0], dry, "input (FluidR3 flute)"), (axes[1], wet, "output (Timbrel)")):
        with np.errstate(divide="ignore"):  # digital silence has no dB value
            ax.specgram(signal, NFFT=2048, noverlap=1536, Fs=SAMPLE_RATE, cmap="magma", vmin=-140, vmax=-20)
        ax.set_ylim(0, 12000)
        ax.set_ylabel("Hz")
        ax.set_title(label)
    t = np.arange(len(automation)) / SAMPLE_RATE
    axes[2].plot(t, automation, color="tab:blue")
    axes[2].set_ylabel("loudness\nshift (dB)")
    axes[2].set_xlabel("seconds")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_demo(out: Path, plugin_path=None) -> dict:
    # DawDreamer, because it automates parameters sample-accurately per block; pedalboard has
    # no automation, and its chunked streaming is not sample-continuous for plugins that
    # report latency (it flushes the latency at the end of the first chunk).
    host = "dawdreamer"
    out.mkdir(parents=True, exist_ok=True)
    dry = demo_phrase("flute", SAMPLE_RATE)
    stereo = np.stack([dry, dry])

    plugin = open_host(host, plugin_path or built_plugin(), sample_rate=SAMPLE_RATE)
    status = plugin.status()
    if not status.ok:
        raise SystemExit(f"the plugin's default model is not running: {status.message}")

    automation = loudness_automation(stereo.shape[1], SAMPLE_RATE)
    # The automation covers the rendered length, latency included.
    plugin.automate("loudness_shift", np.concatenate([automation, np.full(plugin.latency, automation[-1], np.float32)]))
    wet = plugin.process(stereo, SAMPLE_RATE)
    status = plugin.status()

    sf.write(out / "input.wav", dry, SAMPLE_RATE, subtype="FLOAT")
    sf.write(out / "output.wav", wet.T, SAMPLE_RATE, subtype="FLOAT")
    plot(out / "spectrogram.png", dry, wet[0], automation,
         f"Timbrel demo: model '{status.model_name}', {host}, latency {status.latency} samples (compensated)")
    report = {
        "model": status.model_name,
        "host": host,
        "latency_samples": status.latency,
        "seconds": stereo.shape[1] / SAMPLE_RATE,
        "input_peak": float(np.abs(dry).max()),
        "output_peak": float(np.abs(wet).max()),
        "files": ["input.wav", "output.wav", "spectrogram.png"],
    }
    (out / "demo.json").write_text(json.dumps(report, indent=2))
    print(f"demo: {out}/output.wav and {out}/spectrogram.png ({report['seconds']:.1f} s through "
          f"'{status.model_name}' in {host}, latency {status.latency} samples)")
    return report
