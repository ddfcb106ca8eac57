"""`make demo`: a FluidR3 flute phrase through the real plugin with the default model, with
the loudness fader automated, written as WAVs and a spectrogram PNG; and a melody with chords
played by Timbrel Synth with the same model (synth.wav)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from timbrel.hosts import open_host
from timbrel.hosts.synth import render_midi
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
    synth = Path(plugin_path or built_plugin()).parent / "TimbrelSynth.vst3"
    if synth.exists():
        played, synth_status = render_midi(demo_melody(), host=host, plugin_path=synth)
        sf.write(out / "synth.wav", played.T, SAMPLE_RATE, subtype="FLOAT")
        report["synth"] = {"model": synth_status.model_name, "voices": synth_status.voices,
                           "latency_samples": synth_status.latency, "seconds": played.shape[1] / SAMPLE_RATE,
                           "output_peak": float(np.abs(played).max())}
        report["files"].append("synth.wav")
    (out / "demo.json").write_text(json.dumps(report, indent=2))
    print(f"demo: {out}/output.wav and {out}/spectrogram.png ({report['seconds']:.1f} s through "
          f"'{status.model_name}' in {host}, latency {status.latency} samples)")
    if "synth" in report:
        print(f"demo: {out}/synth.wav (a melody with chords played by Timbrel Synth, "
              f"'{report['synth']['model']}', {report['synth']['voices']} voices)")
    return report


def demo_melody() -> list:
    """A few bars for the synth: a line over held chords, with a bend and a slide (MIDI times in seconds)."""
    import mido

    events = []

    def note(start: float, length: float, pitch: int, velocity: int = 90) -> None:
        events.append(mido.Message("note_on", note=pitch, velocity=velocity, time=start))
        events.append(mido.Message("note_off", note=pitch, velocity=0, time=start + length))

    for start, chord in ((0.0, (55, 59, 62)), (2.0, (57, 60, 64)), (4.0, (53, 57, 60))):
        for pitch in chord:
            note(start, 1.9, pitch, 60)
    for i, pitch in enumerate((67, 69, 71, 72, 74, 72, 71, 69, 67, 64, 65, 67)):
        note(0.5 * i, 0.45, pitch, 100)
    events.append(mido.Message("pitchwheel", pitch=0, time=5.5))
    return sorted(events, key=lambda m: m.time)
