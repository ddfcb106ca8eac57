"""The plugin's signal path re-run in Python on the same model file: hop-by-hop streaming,
descriptor shifts smoothed per hop and applied between analyze() and decode() exactly as the
engine does, and the engine's buffering delay. The harness compares the real plugin against
this (at the model's own sample rate; resampling is tested in the engine's unit tests)."""

from __future__ import annotations

import numpy as np
import torch

from timbrel.format.contract import ModelInfo, load_and_check
from timbrel.format.vocabulary import VOCABULARY
from timbrel.hosts.plugin import default_source, latency_samples, ramp_hops


def apply_shift(kind: str, value: torch.Tensor, shift: float) -> torch.Tensor:
    """Same float32 arithmetic as timbrel::applyShift (the factor is computed in double and
    rounded once)."""
    if kind == "octaves":
        return value * torch.tensor(np.float32(2.0 ** float(np.float32(shift))))
    return value + torch.tensor(np.float32(shift))


def smooth_per_hop(values: np.ndarray, steps: int) -> np.ndarray:
    """timbrel::LinearRamp driven once per hop in float32: the first hop lands on its target,
    later changes glide linearly over `steps` hops and land exactly."""
    values = np.asarray(values, dtype=np.float32)
    out = np.empty_like(values)
    current = target = step = np.float32(0.0)
    remaining = 0
    for h, value in enumerate(values):
        if h == 0:
            current = target = value
        else:
            if value != target:
                target = value
                remaining = max(1, steps)
                step = np.float32((target - current) / np.float32(remaining))
            if remaining > 0:
                remaining -= 1
                current = target if remaining == 0 else np.float32(current + step)
        out[h] = current
    return out


class StreamingReference:
    """Streams a model hop by hop. `shifts` maps a vocabulary name to either one value or one
    value per hop; `sources` maps a vocabulary name to its fader source, "Input" or "Natural"
    (default: the plugin's, hosts.plugin.default_source; Natural plays as Input on a model
    without natural()); `snapshot` is a latent the plugin's Snapshot source plays in place of the
    input's (timbre_source Snapshot, held from the first hop)."""

    def __init__(self, model_path):
        self.module, self.info = load_and_check(model_path)

    @property
    def plugin_latency(self) -> int:
        """What the plugin reports in Inline mode: one hop of buffering plus the model's own delay."""
        return latency_samples(self.info.hop_length, self.info.latency_samples, "Inline")

    def latency_for(self, mode: str = "Threaded", max_block: int = 512, margin_hops: int = 1) -> int:
        """The plugin's latency at the model's rate: Threaded mode gives the worker the larger of
        a hop and a host block on top of Inline's, plus margin_hops - 1 hops (Threaded Margin)."""
        return latency_samples(self.info.hop_length, self.info.latency_samples, mode, max_block, margin_hops)

    def model_stream(self, audio: np.ndarray, shifts: dict | None = None, sources: dict | None = None,
                     snapshot=None) -> np.ndarray:
        """audio [channels, n] -> the model's streamed output [channels, n] (channels as batch),
        with the model's own latency_samples still in it."""
        info: ModelInfo = self.info
        hop = info.hop_length
        channels, length = audio.shape
        hops = -(-length // hop)
        padded = np.zeros((channels, hops * hop), dtype=np.float32)
        padded[:, :length] = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
        x = torch.from_numpy(padded).unsqueeze(1)

        per_hop = {}
        for name, value in (shifts or {}).items():
            if name not in VOCABULARY:
                raise ValueError(f"unknown descriptor '{name}'")
            if name in info.descriptor_names:
                values = np.broadcast_to(np.asarray(value, dtype=np.float32), (hops,))
                values = smooth_per_hop(values, ramp_hops(hop, info.sample_rate))
                per_hop[info.descriptor_names.index(name)] = (VOCABULARY[name].shift_kind, values)
        has_natural = hasattr(self.module, "natural")
        natural = []  # (index, shift kind, shifts per hop) of the descriptors played from natural()
        for name in info.descriptor_names:
            if name not in VOCABULARY:
                continue
            source = (sources or {}).get(name, default_source(name))
            if source not in ("Input", "Natural"):
                raise ValueError(f"the reference plays the Input and Natural sources, not '{source}'")
            if source == "Natural" and has_natural:
                index = info.descriptor_names.index(name)
                kind, values = per_hop.get(index, (VOCABULARY[name].shift_kind, np.zeros(hops, np.float32)))
                natural.append((index, kind, values))
        held = None if snapshot is None else torch.as_tensor(np.asarray(snapshot, np.float32)).reshape(1, -1, 1)

        out = np.zeros_like(padded)
        joined = hasattr(self.module, "encode_analyze")  # what the plugin calls when the model has it
        latent = info.latent_size
        with torch.no_grad():
            self.module.reset()
            for h in range(hops):
                frame = x[..., h * hop:(h + 1) * hop]
                if joined:
                    zd = self.module.encode_analyze(frame)
                    z, d = zd[:, :latent], zd[:, latent:].clone()
                else:
                    z = self.module.encode(frame)
                    d = self.module.analyze(frame).clone()
                for index, (kind, values) in per_hop.items():
                    d[:, index] = apply_shift(kind, d[:, index], float(values[h]))
                if held is not None:
                    z = z + (held - z)  # the engine's z + weight * (snapshot - z) at weight 1
                if natural:
                    # As the engine: natural() reads the targets just formed, then replaces its own.
                    values = self.module.natural(torch.cat([z, d], 1))
                    for index, kind, shifts_per_hop in natural:
                        d[:, index] = apply_shift(kind, values[:, index], float(shifts_per_hop[h]))
                out[:, h * hop:(h + 1) * hop] = self.module.decode(torch.cat([z, d], 1))[:, 0].numpy()
        return out[:, :length]

    def plugin_output(self, audio: np.ndarray, shifts: dict | None = None, latency: int | None = None,
                      sources: dict | None = None, snapshot=None) -> np.ndarray:
        """What the plugin writes (mix 100 %, gain 0 dB) when it reports `latency` (default:
        Inline's): the model stream delayed by the buffering part of that latency."""
        stream = self.model_stream(audio, shifts, sources, snapshot)
        delay = (self.plugin_latency if latency is None else latency) - self.info.latency_samples
        delayed = np.zeros_like(stream)
        if stream.shape[1] > delay:
            delayed[:, delay:] = stream[:, : stream.shape[1] - delay]
        return delayed


def hop_values_from_blocks(block_values: np.ndarray, block_size: int, hop: int, length: int) -> np.ndarray:
    """Per-hop parameter values when a host sets a parameter once per block: the engine reads
    controls at the start of each block and applies them to the hops that complete in it."""
    hops = -(-length // hop)
    last_sample = (np.arange(hops) + 1) * hop - 1
    return np.asarray(block_values)[last_sample // block_size]
