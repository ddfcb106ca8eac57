"""A small contract-conforming model that proves the plugin's signal path until trained models
ship: a fixed causal low-pass FIR (the "timbre") and a descriptor-driven gain that restores
the requested loudness, ramped across each hop. Streaming state: the FIR history and the last
gain, both per batch item and cleared by reset().
"""

from __future__ import annotations

import json
import math
from typing import List

import numpy as np
import torch
from torch import nn

from . import descriptors


def lowpass_taps(num_taps: int, cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """Hamming-windowed sinc low-pass, unity gain at DC."""
    n = np.arange(num_taps) - (num_taps - 1) / 2
    taps = np.sinc(2 * cutoff_hz / sample_rate * n) * np.hamming(num_taps)
    return taps / taps.sum()


class FilterGainModel(nn.Module):
    """Latent = the filtered hop itself (latent_size == hop_length); descriptors = loudness (dB)
    and spectral centroid (Hz). decode() rescales each hop so its loudness matches the
    loudness descriptor, so shifting loudness by +6 dB raises the output by 6 dB."""

    def __init__(self, sample_rate: int = 44100, hop_length: int = 256, num_taps: int = 63,
                 cutoff_hz: float = 3000.0, name: str = "timbrel-test"):
        super().__init__()
        # Contract attributes (docs/model-format.md).
        self.format_version = 1
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.latent_size = hop_length
        self.descriptor_names: List[str] = ["loudness", "centroid"]
        self.descriptor_units: List[str] = ["dB", "Hz"]
        self.descriptor_min: List[float] = [-90.0, 50.0]
        self.descriptor_max: List[float] = [0.0, 12000.0]
        self.latency_samples = (num_taps - 1) // 2  # group delay of the linear-phase FIR
        self.model_name = name
        self.model_card = json.dumps({
            "name": name,
            "kind": "test",
            "description": "Fixed causal low-pass FIR plus a loudness-driven gain; proves the plugin's "
                           "signal path. Not a trained model.",
            "sample_rate": sample_rate,
            "hop_length": hop_length,
            "license": "GPL-3.0-or-later",
            "training_data": "none",
        })
        # nn~ convention: a ratio is the method's down-sampling relative to the audio rate.
        self.register_buffer("encode_params", torch.tensor([1, 1, hop_length, hop_length]))
        self.register_buffer("decode_params", torch.tensor([hop_length + 2, hop_length, 1, 1]))
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))

        # Internals.
        self.hop = hop_length
        self.rate = sample_rate
        self.num_taps = num_taps
        kernel = torch.tensor(lowpass_taps(num_taps, cutoff_hz, sample_rate)[::-1].copy(), dtype=torch.float32)
        self.register_buffer("kernel", kernel.reshape(1, 1, num_taps))
        self.register_buffer("fir_history", torch.zeros(1, 1, num_taps - 1))
        self.register_buffer("last_gain", torch.ones(1, 1))

    @torch.jit.export
    def reset(self):
        self.fir_history = torch.zeros(1, 1, self.num_taps - 1)
        self.last_gain = torch.ones(1, 1)

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.filtered_hops(x)

    def filtered_hops(self, x: torch.Tensor) -> torch.Tensor:
        """The FIR-filtered signal, one hop per latent frame: [B, 1, T] -> [B, hop, F]."""
        batch = x.shape[0]
        if self.fir_history.shape[0] != batch:
            self.fir_history = torch.zeros(batch, 1, self.num_taps - 1)
        padded = torch.cat([self.fir_history, x], -1)
        self.fir_history = padded[..., padded.shape[-1] - (self.num_taps - 1):]
        filtered = nn.functional.conv1d(padded, self.kernel)
        return descriptors.frames(filtered, self.hop).transpose(1, 2)

    @torch.jit.export
    def analyze(self, x: torch.Tensor) -> torch.Tensor:
        frame = descriptors.frames(x, self.hop)
        loudness = descriptors.loudness_db(frame)
        centroid = descriptors.spectral_centroid_hz(frame, self.rate)
        return torch.stack([loudness, centroid], 1)

    @torch.jit.export
    def decode(self, zd: torch.Tensor) -> torch.Tensor:
        return self.rescale_hops(zd)

    def rescale_hops(self, zd: torch.Tensor) -> torch.Tensor:
        batch = zd.shape[0]
        frame = zd[:, : self.hop].transpose(1, 2)  # [B, F, hop]
        target_db = zd[:, self.hop]                 # loudness descriptor, [B, F]
        gain = descriptors.db_to_gain(torch.clamp(target_db - descriptors.loudness_db(frame), -40.0, 40.0))
        if self.last_gain.shape[0] != batch:
            self.last_gain = torch.ones(batch, 1)
        previous = torch.cat([self.last_gain, gain[:, :-1]], 1)
        self.last_gain = gain[:, -1:]
        ramp = torch.arange(1, self.hop + 1, dtype=zd.dtype) / self.hop
        gains = previous.unsqueeze(-1) + (gain - previous).unsqueeze(-1) * ramp
        return (frame * gains).reshape(batch, 1, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(torch.cat([self.encode(x), self.analyze(x)], 1))
