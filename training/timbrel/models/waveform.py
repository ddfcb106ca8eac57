"""The waveform model (`--config waveform`, not shipped): a small RAVE-style streaming VAE
(Caillon & Esling) whose decoder generates PQMF band waveforms, conditioned on perceptual
descriptors and made descriptor-invariant in its latent by a Fader-Network adversary (Lample et
al. 2017). Written from scratch on the ideas of RAVE. On a 2-core CPU it did not get past noise
in the time the harmonic-plus-noise model (harmonic_noise.py, what ships) needs.

Signal path (every stage causal and cached, so hop-by-hop streaming equals offline):

    x [B,1,T] --PQMF analysis--> [B,bands,T/bands] --strided cached convs--> mean z [B,latent,F]
    x --causal_frames (window samples ending at each hop's end)--> descriptors d [B,D,F]
    cat(z, d) --normalise d inside decode--> cached convs + causal transposed-conv upsampling
              --> bands waveforms * sigmoid(amplitudes) --PQMF synthesis--> y [B,1,T]

The contract (docs/model-format.md) is met by `WaveformModel`; `torch.jit.script` compiles only
forward/encode/analyze/decode/reset and what they call. The training-only methods
(`encode_distribution`, `reconstruct`) are plain Python next to them; the losses live in
timbrel.training.losses.

Design choices:
- The decoder emits, per PQMF band, a waveform and an amplitude (sigmoid) that gates it.
- Descriptors are normalised inside decode to about [-1, 1] from descriptor_min/max: frequencies
  (unit Hz) in log2 space, so the plugin's octave faders are linear shifts for the network;
  values are clamped to [-2, 2] so extreme fader settings cannot drive the decoder far outside
  what it saw in training.
- Pitch is YIN's estimate for every frame, voiced or not (the contract carries only the listed
  descriptors); the decoder learns to ignore pitch where loudness/flatness say it is noise.
- latency_samples = the PQMF's delay (taps - bands): all convolutions are block-causal with no
  added delay. A training loss that compares waveforms should compare y with x delayed by it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import List, Tuple

import torch
from torch import nn

from ..format import descriptors
from ..format.contract import FORMAT_VERSION
from ..format.vocabulary import DESCRIPTOR_NAMES, DESCRIPTOR_UNITS
from .blocks import (Activation, CachedConv1d, CachedConvTranspose1d, CachedSequential, PQMF,
                     ResidualBlock)
from .conditioning import DEFAULT_MAX, DEFAULT_MIN, DescriptorConditioned, sample_latent


@dataclass
class WaveformConfig:
    """Architecture and metadata of a WaveformModel. hop_length = bands * prod(strides)."""

    name: str = "timbrel"
    sample_rate: int = 44100
    bands: int = 16
    pqmf_taps: int = 256
    strides: List[int] = field(default_factory=lambda: [2, 4, 4])
    channels: List[int] = field(default_factory=lambda: [32, 64, 96, 128])  # len(strides) + 1
    dilations: List[int] = field(default_factory=lambda: [1, 3])             # residual blocks per level
    latent_size: int = 8
    descriptor_names: List[str] = field(default_factory=lambda: list(DESCRIPTOR_NAMES))
    descriptor_units: List[str] = field(default_factory=lambda: list(DESCRIPTOR_UNITS))
    descriptor_min: List[float] = field(default_factory=lambda: list(DEFAULT_MIN))
    descriptor_max: List[float] = field(default_factory=lambda: list(DEFAULT_MAX))
    descriptor_window: int = 2048
    pitch_fmin: float = 40.0
    pitch_fmax: float = 2000.0
    weight_norm: bool = True

    @property
    def hop_length(self) -> int:
        return self.bands * math.prod(self.strides)

    @classmethod
    def preset(cls, name: str = "default", **overrides) -> "WaveformConfig":
        """'default': hop 512 (11.6 ms at 44.1 kHz), 256-tap PQMF; 'lowlatency': hop 128
        (2.9 ms), 128-tap PQMF (delay 112 samples instead of 240)."""
        if name == "default":
            base = dict(name="timbrel-default")
        elif name == "lowlatency":
            base = dict(name="timbrel-lowlatency", strides=[2, 2, 2], pqmf_taps=128)
        else:
            raise ValueError(f"unknown preset '{name}' (default, lowlatency)")
        base.update(overrides)
        return cls(**base)


class WaveformModel(DescriptorConditioned):
    def __init__(self, config: WaveformConfig | None = None):
        super().__init__()
        config = config or WaveformConfig()
        if len(config.channels) != len(config.strides) + 1:
            raise ValueError("WaveformConfig: channels needs one entry more than strides")
        count = len(config.descriptor_names)
        self.config_dict = json.dumps(asdict(config))
        hop = config.hop_length

        # Contract attributes (docs/model-format.md).
        self.format_version = FORMAT_VERSION
        self.sample_rate = int(config.sample_rate)
        self.hop_length = int(hop)
        self.latent_size = int(config.latent_size)
        self._init_descriptors(config.descriptor_names, config.descriptor_units,
                               config.descriptor_min, config.descriptor_max)
        self.model_name = config.name
        self.pqmf = PQMF(config.bands, config.pqmf_taps)
        self.latency_samples = int(self.pqmf.delay)
        self.model_card = json.dumps({
            "name": config.name,
            "kind": "rave-fader-vae",
            "description": "Streaming RAVE-style VAE with Fader-Network descriptor conditioning "
                           "(untrained until a training run replaces this card).",
            "sample_rate": config.sample_rate,
            "hop_length": hop,
            "license": "GPL-3.0-or-later",
            "training_data": "none",
            "config": asdict(config),
        })
        latent_in = config.latent_size + count
        self.register_buffer("encode_params", torch.tensor([1, 1, config.latent_size, hop]))
        self.register_buffer("decode_params", torch.tensor([latent_in, hop, 1, 1]))
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))

        # Descriptor analysis: windows of `window` samples ending at each hop's end.
        self.window = max(int(config.descriptor_window), hop)
        self.pitch_fmin = float(config.pitch_fmin)
        self.pitch_fmax = float(config.pitch_fmax)
        self.analyzer = descriptors.DescriptorAnalyzer(self.descriptor_names, config.sample_rate, hop,
                                                       self.window, self.pitch_fmin, self.pitch_fmax)

        # Encoder: PQMF bands -> strided cached convs -> (mean, scale) of the latent.
        ch, wn = config.channels, config.weight_norm
        enc: List[nn.Module] = [CachedConv1d(config.bands, ch[0], 7, weight_norm=wn)]
        for level, stride in enumerate(config.strides):
            enc += [ResidualBlock(ch[level], 3, d, weight_norm=wn) for d in config.dilations]
            enc += [Activation(), CachedConv1d(ch[level], ch[level + 1], 2 * stride, stride=stride, weight_norm=wn)]
        enc += [Activation(), CachedConv1d(ch[-1], 2 * config.latent_size, 3, weight_norm=wn)]
        self.encoder = CachedSequential(enc)

        # Decoder: z + normalised descriptors -> upsampling cached convs -> bands x (wave, amp).
        dec: List[nn.Module] = [CachedConv1d(latent_in, ch[-1], 3, weight_norm=wn)]
        for level in reversed(range(len(config.strides))):
            dec += [Activation(), CachedConvTranspose1d(ch[level + 1], ch[level], config.strides[level], weight_norm=wn)]
            dec += [ResidualBlock(ch[level], 3, d, weight_norm=wn) for d in config.dilations]
        dec += [Activation(), CachedConv1d(ch[0], 2 * config.bands, 7, weight_norm=wn)]
        self.decoder = CachedSequential(dec)
        self.bands = config.bands

    # -- Python-only helpers ------------------------------------------------------------------

    @torch.jit.ignore
    def remove_weight_norm(self):
        """Bakes the weight normalisation into plain weights (do this before export: fewer ops
        per hop, identical output up to rounding)."""
        self.encoder.remove_weight_norm()
        self.decoder.remove_weight_norm()

    @torch.jit.ignore
    def encode_distribution(self, x: torch.Tensor, draw=None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training: (sampled z, mean, KL divergence to N(0, 1) summed over latent channels and
        averaged over batch and frames), with the reparameterisation trick (`draw`: see sample_latent)."""
        return sample_latent(*self._encoder_output(x), draw=draw)

    @torch.jit.ignore
    def reconstruct(self, x: torch.Tensor, sample: bool = True, d: torch.Tensor | None = None):
        """One training pass from a clean state: returns (y, z, d, kl) with d the physical
        descriptors of x (no gradient; pass them in when precomputed, e.g. by the data
        loader) and kl zero when sample is False."""
        self.reset()
        if sample:
            z, _, kl = self.encode_distribution(x)
        else:
            z, kl = self.encode(x), torch.zeros((), device=x.device)
        if d is None:
            with torch.no_grad():
                d = self.analyze(x)
        y = self.decode(torch.cat([z, d.detach()], 1))
        return y, z, d, kl

    # -- Scripted path -------------------------------------------------------------------------

    def _encoder_output(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out = self.encoder(self.pqmf.analysis(x))
        return out[:, : self.latent_size], out[:, self.latent_size:]

    @torch.jit.export
    def reset(self):
        self.pqmf.reset_cache()
        self.encoder.reset_cache()
        self.decoder.reset_cache()
        self.analyzer.reset()

    @torch.jit.export
    def decode(self, zd: torch.Tensor) -> torch.Tensor:
        z = zd[:, : self.latent_size]
        d = self._normalise(zd[:, self.latent_size:])
        out = self.decoder(torch.cat([z, d], 1))
        wave = out[:, : self.bands] * torch.sigmoid(out[:, self.bands:])
        return self.pqmf.synthesis(wave)
