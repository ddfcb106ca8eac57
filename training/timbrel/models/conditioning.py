"""What every Timbrel model kind shares: the descriptor metadata of the contract, the
normalisation decode applies to physical descriptors, the contract methods built on each kind's
encoder and decoder, and the VAE's reparameterisation."""

from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from ..format.vocabulary import LOG2_FLOOR_HZ, in_octaves

# Placeholder ranges until training data sets them (set_descriptor_range), one per entry of the
# vocabulary: loudness in dB(A), pitch MIDI 24..96 (C1..C7), centroid and bandwidth in Hz,
# flatness in dB.
DEFAULT_MIN = [-80.0, 24.0, 60.0, 40.0, -60.0]
DEFAULT_MAX = [0.0, 96.0, 12000.0, 8000.0, 0.0]


def sample_latent(mean: torch.Tensor, scale: torch.Tensor, draw=None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """VAE reparameterisation shared by the model kinds: (sampled z, mean, KL divergence to
    N(0, 1) summed over latent channels and averaged over batch and frames); the encoder's
    `scale` output becomes a standard deviation through softplus. `draw(like)` gives the
    standard normal noise (default torch.randn_like; distributed training draws a global
    batch's noise and takes its rank's share)."""
    std = F.softplus(scale) + 1e-4
    var = std * std
    z = mean + std * (draw(mean) if draw is not None else torch.randn_like(mean))
    kl = 0.5 * (mean * mean + var - torch.log(var) - 1.0).sum(1).mean()
    return z, mean, kl


# The descriptors natural() predicts; the others (pitch, loudness, names outside the vocabulary)
# pass through it unchanged.
NATURAL_DESCRIPTORS = ("centroid", "bandwidth", "flatness")
NATURAL_HIDDEN = 64


class NaturalHead(nn.Module):
    """Per frame, normalised (z, pitch, loudness) -> normalised descriptors: one hidden layer,
    fitted after training (timbrel.training.natural). Its tensors are buffers that checkpoints
    do not carry (a source checkpoint keeps them apart), so models trained before it load."""

    def __init__(self, inputs: int, outputs: int, hidden: int = NATURAL_HIDDEN):
        super().__init__()
        self.register_buffer("w1", torch.zeros(hidden, inputs), persistent=False)
        self.register_buffer("b1", torch.zeros(hidden), persistent=False)
        self.register_buffer("w2", torch.zeros(outputs, hidden), persistent=False)
        self.register_buffer("b2", torch.zeros(outputs), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.leaky_relu(F.linear(x, self.w1, self.b1), 0.2), self.w2, self.b2)


class DescriptorConditioned(nn.Module):
    """What every Timbrel model shares: the descriptor metadata of the contract and the
    normalisation decode applies to physical descriptors (about [-1, 1] over descriptor_min..max,
    frequencies in log2 space so octave faders are linear shifts, clamped to [-2, 2] so extreme
    fader settings cannot drive a decoder far outside what it saw in training)."""

    def _init_descriptors(self, names: Sequence[str], units: Sequence[str],
                          minimum: Sequence[float], maximum: Sequence[float]) -> None:
        count = len(names)
        for label, values in (("descriptor_units", units), ("descriptor_min", minimum), ("descriptor_max", maximum)):
            if len(values) != count:
                raise ValueError(f"model config: {label} must have one entry per descriptor")
        self.descriptor_names: List[str] = list(names)
        self.descriptor_units: List[str] = list(units)
        self.descriptor_min: List[float] = [float(v) for v in minimum]
        self.descriptor_max: List[float] = [float(v) for v in maximum]
        self.register_buffer("norm_low", torch.zeros(1, count, 1))
        self.register_buffer("norm_scale", torch.ones(1, count, 1))
        self.register_buffer("norm_log", torch.zeros(1, count, 1, dtype=torch.bool))
        self.register_buffer("norm_gain", torch.ones(1, count, 1), persistent=False)
        self.register_buffer("norm_offset", torch.zeros(1, count, 1), persistent=False)
        self.set_descriptor_range(self.descriptor_min, self.descriptor_max)
        # natural(): what the timbre in z has at a pitch and loudness. The head reads pitch and
        # loudness (index -1 when absent: zeros) and writes NATURAL_DESCRIPTORS; has_natural
        # says whether it was fitted (an export keeps the method only then).
        self.has_natural = False
        self.natural_inputs: List[int] = [self.descriptor_names.index(name) if name in self.descriptor_names else -1
                                          for name in ("pitch", "loudness")]
        self.register_buffer("natural_keep", torch.tensor(
            [name not in NATURAL_DESCRIPTORS for name in self.descriptor_names], dtype=torch.bool).reshape(1, count, 1),
            persistent=False)
        self.natural_head = NaturalHead(int(getattr(self, "latent_size")) + 2, count)

    @torch.jit.ignore
    def set_descriptor_range(self, minimum: Sequence[float], maximum: Sequence[float]):
        """Sets descriptor_min/max (contract attributes) and the normalisation used by decode."""
        minimum, maximum = [float(v) for v in minimum], [float(v) for v in maximum]
        if len(minimum) != len(self.descriptor_names) or len(maximum) != len(self.descriptor_names):
            raise ValueError("set_descriptor_range: one min and one max per descriptor")
        low, scale, log = [], [], []
        for name, unit, lo, hi in zip(self.descriptor_names, self.descriptor_units, minimum, maximum):
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"set_descriptor_range: '{name}' needs finite min < max")
            is_log = in_octaves(unit)
            if is_log:
                lo, hi = math.log2(max(lo, LOG2_FLOOR_HZ)), math.log2(max(hi, 2 * LOG2_FLOOR_HZ))
            low.append(lo)
            scale.append(1.0 / (hi - lo))
            log.append(is_log)
        self.descriptor_min, self.descriptor_max = minimum, maximum
        count = len(low)
        device = self.norm_low.device
        self.norm_low = torch.tensor(low, dtype=torch.float32, device=device).reshape(1, count, 1)
        self.norm_scale = torch.tensor(scale, dtype=torch.float32, device=device).reshape(1, count, 1)
        self.norm_log = torch.tensor(log, dtype=torch.bool, device=device).reshape(1, count, 1)
        # The same map as one multiply-add: (v - low) * scale * 2 - 1 = v * gain + offset.
        self.norm_gain = 2.0 * self.norm_scale
        self.norm_offset = -2.0 * self.norm_low * self.norm_scale - 1.0

    @torch.jit.ignore
    def normalise_descriptors(self, d: torch.Tensor, clamp: bool = True) -> torch.Tensor:
        """decode's normalisation; clamp=False leaves values beyond [-2, 2] (and their gradients)
        as they are, for losses on what a decoder produced."""
        return self._normalise(d) if clamp else self._unclamped_normalise(d)

    def _unclamped_normalise(self, d: torch.Tensor) -> torch.Tensor:
        # 1e-3 is vocabulary.LOG2_FLOOR_HZ: TorchScript takes no float globals (test_layout checks it).
        logged = torch.where(self.norm_log, torch.log2(torch.clamp(d, min=1e-3)), d)
        return torch.addcmul(self.norm_offset, logged, self.norm_gain)

    def _normalise(self, d: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self._unclamped_normalise(d), -2.0, 2.0)

    def _denormalise(self, n: torch.Tensor) -> torch.Tensor:
        """The inverse of _unclamped_normalise: normalised [B, D, F] -> physical units."""
        value = (n - self.norm_offset) / self.norm_gain
        return torch.where(self.norm_log, torch.exp2(value), value)

    def natural_features(self, zd: torch.Tensor) -> torch.Tensor:
        """[B, latent + D, F] -> [B, F, latent + 2]: z and the normalised pitch and loudness, per frame."""
        z = zd[:, : self.latent_size]
        normalised = self._normalise(zd[:, self.latent_size:])
        columns = [z]
        for index in self.natural_inputs:
            columns.append(normalised[:, index: index + 1] if index >= 0 else torch.zeros_like(z[:, :1]))
        return torch.cat(columns, 1).transpose(1, 2)

    @torch.jit.export
    def natural(self, zd: torch.Tensor) -> torch.Tensor:
        """[B, latent + D, F] -> [B, D, F]: the descriptors the timbre in z naturally has at the
        pitch and loudness in zd, in physical units; pitch, loudness and descriptors outside
        NATURAL_DESCRIPTORS pass through. Per frame, so streaming needs no state."""
        d = zd[:, self.latent_size:]
        predicted = self.natural_head(self.natural_features(zd)).transpose(1, 2)
        return torch.where(self.natural_keep, d, self._denormalise(torch.clamp(predicted, -2.0, 2.0)))

    # The contract's methods that every model kind implements the same way: its own
    # `_encoder_output`, `analyzer` and `decode` supply the differences.
    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._encoder_output(x)[0]

    @torch.jit.export
    def analyze(self, x: torch.Tensor) -> torch.Tensor:
        return self.analyzer(x)

    @torch.jit.export
    def encode_analyze(self, x: torch.Tensor) -> torch.Tensor:
        """cat(encode(x), analyze(x), 1) in one call (optional in the contract; the plugin uses
        it when present). Model kinds that can share work between the two override it."""
        return torch.cat([self.encode(x), self.analyze(x)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(torch.cat([self.encode(x), self.analyze(x)], 1))
