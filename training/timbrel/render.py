"""Rendering files through the real plugin (`timbrel render`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from .host import open_host


class RenderError(RuntimeError):
    pass


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """[channels, samples] float32 and the sample rate; mono or stereo only."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except sf.LibsndfileError as error:
        raise RenderError(f"cannot read {path}: {error}") from None
    if audio.shape[1] > 2:
        raise RenderError(f"{path} has {audio.shape[1]} channels; Timbrel takes mono or stereo")
    if audio.shape[0] == 0:
        raise RenderError(f"{path} is empty")
    return np.ascontiguousarray(audio.T), rate


def render_file(input_path, output_path, model=None, host="dawdreamer", settings=None, plugin_path=None) -> str:
    audio, rate = read_audio(input_path)
    plugin = open_host(host, plugin_path, sample_rate=rate)
    if model is not None:
        plugin.load_model(model)
    for name, value in (settings or {}).items():
        plugin.set(name, value)
    # The plugin's status is final only once it knows the session's sample rate and layout.
    output = plugin.process(audio, rate)
    status = plugin.status()
    if not status.ok:
        raise RenderError(status.message or "the plugin is not running a model")
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(output_path, output.T, rate, subtype="FLOAT")
    return (f"{output_path}: {audio.shape[1] / rate:.2f} s, {audio.shape[0]} ch at {rate} Hz through "
            f"{status.model_name} in {host} (latency {status.latency} samples, compensated)")
