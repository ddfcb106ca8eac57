"""Timbrel's neural timbre model: a small RAVE-style streaming VAE (Caillon & Esling) whose
decoder is conditioned on perceptual descriptors, made descriptor-invariant in its latent by a
Fader-Network adversary (Lample et al. 2017). Written from scratch on the ideas of RAVE.

Signal path (every stage causal and cached, so hop-by-hop streaming equals offline):

    x [B,1,T] --PQMF analysis--> [B,bands,T/bands] --strided cached convs--> mean z [B,latent,F]
    x --causal_frames (window samples ending at each hop's end)--> descriptors d [B,D,F]
    cat(z, d) --normalise d inside decode--> cached convs + causal transposed-conv upsampling
              --> bands waveforms * sigmoid(amplitudes) --PQMF synthesis--> y [B,1,T]

The contract (docs/model-format.md) is met by `TimbrelModel`; `torch.jit.script` compiles only
forward/encode/analyze/decode/reset and what they call. The training-only parts
(`encode_distribution`, `reconstruct`, `LatentDiscriminator`, `multiscale_spectral_loss`,
`fader_losses`) are plain Python next to it.

Design choices:
- Waveform branch only (no DDSP harmonic-plus-noise branch): the decoder emits, per PQMF band, a
  waveform and an amplitude (sigmoid) that gates it. A noise branch would need streaming-exact
  deterministic noise (e.g. a hash of the sample index) to keep the contract's "bit-identical
  after reset" rule; left for later.
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
from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from . import descriptors
from .modules import (Activation, CachedConv1d, CachedConvTranspose1d, CachedSequential, PQMF,
                      ResidualBlock)

DEFAULT_DESCRIPTORS = ["loudness", "pitch", "centroid", "bandwidth", "flatness"]
DEFAULT_UNITS = ["dB", "semitones", "Hz", "Hz", "dB"]
# Placeholder ranges until training data sets them (set_descriptor_range): loudness in dB(A),
# pitch MIDI 24..96 (C1..C7), centroid and bandwidth in Hz, flatness in dB.
DEFAULT_MIN = [-80.0, 24.0, 60.0, 40.0, -60.0]
DEFAULT_MAX = [0.0, 96.0, 12000.0, 8000.0, 0.0]


@dataclass
class ModelConfig:
    """Architecture and metadata of a TimbrelModel. hop_length = bands * prod(strides)."""

    name: str = "timbrel"
    sample_rate: int = 44100
    bands: int = 16
    pqmf_taps: int = 256
    strides: List[int] = field(default_factory=lambda: [2, 4, 4])
    channels: List[int] = field(default_factory=lambda: [32, 64, 96, 128])  # len(strides) + 1
    dilations: List[int] = field(default_factory=lambda: [1, 3])             # residual blocks per level
    latent_size: int = 8
    descriptor_names: List[str] = field(default_factory=lambda: list(DEFAULT_DESCRIPTORS))
    descriptor_units: List[str] = field(default_factory=lambda: list(DEFAULT_UNITS))
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
    def preset(cls, name: str = "default", **overrides) -> "ModelConfig":
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


def sample_latent(mean: torch.Tensor, scale: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """VAE reparameterisation shared by the model kinds: (sampled z, mean, KL divergence to
    N(0, 1) summed over latent channels and averaged over batch and frames); the encoder's
    `scale` output becomes a standard deviation through softplus."""
    std = F.softplus(scale) + 1e-4
    var = std * std
    z = mean + std * torch.randn_like(mean)
    kl = 0.5 * (mean * mean + var - torch.log(var) - 1.0).sum(1).mean()
    return z, mean, kl


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
            is_log = unit == "Hz"
            if is_log:
                lo, hi = math.log2(max(lo, 1e-3)), math.log2(max(hi, 2e-3))
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
        logged = torch.where(self.norm_log, torch.log2(torch.clamp(d, min=1e-3)), d)
        return torch.addcmul(self.norm_offset, logged, self.norm_gain)

    def _normalise(self, d: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self._unclamped_normalise(d), -2.0, 2.0)

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


class TimbrelModel(DescriptorConditioned):
    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        config = config or ModelConfig()
        if len(config.channels) != len(config.strides) + 1:
            raise ValueError("ModelConfig: channels needs one entry more than strides")
        count = len(config.descriptor_names)
        self.config_dict = json.dumps(asdict(config))
        hop = config.hop_length

        # Contract attributes (docs/model-format.md).
        self.format_version = 1
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
    def encode_distribution(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training: (sampled z, mean, KL divergence to N(0, 1) summed over latent channels and
        averaged over batch and frames), with the reparameterisation trick."""
        return sample_latent(*self._encoder_output(x))

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


# ---------------------------------------------------------------------------------------------
# Training-only parts (not exported)


class LatentDiscriminator(nn.Module):
    """Fader-Network adversary: predicts each (normalised) descriptor from the latent z, as a
    distribution over `bins` equal bins of [-1, 1] (classification, as the Fader Network does
    for its attributes; bounded adversarial loss). `predict` gives the expected normalised value."""

    def __init__(self, latent_size: int, descriptors: int, hidden: int = 128, bins: int = 16):
        super().__init__()
        self.descriptors = descriptors
        self.bins = bins
        self.net = nn.Sequential(
            nn.Conv1d(latent_size, hidden, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, hidden, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, descriptors * bins, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """[B, latent, F] -> logits [B, bins, D, F]."""
        logits = self.net(z)
        return logits.reshape(z.shape[0], self.descriptors, self.bins, -1).transpose(1, 2)

    def targets(self, normalised: torch.Tensor) -> torch.Tensor:
        """Normalised descriptors [B, D, F] (about -1..1) -> bin indices [B, D, F]."""
        position = (normalised.clamp(-1.0, 1.0) + 1.0) * 0.5 * self.bins
        return position.long().clamp(0, self.bins - 1)

    def predict(self, z: torch.Tensor) -> torch.Tensor:
        """Expected normalised descriptor [B, D, F]."""
        centres = (torch.arange(self.bins, dtype=z.dtype, device=z.device) + 0.5) / self.bins * 2.0 - 1.0
        return (self(z).softmax(1) * centres.reshape(1, -1, 1, 1)).sum(1)


def fader_losses(discriminator: LatentDiscriminator, z: torch.Tensor, normalised: torch.Tensor,
                 frames: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """(discriminator loss, encoder adversarial loss). The discriminator learns the descriptor
    bins from z.detach(); the encoder is pushed towards latents from which the discriminator's
    prediction is uniform (cross-entropy to the uniform distribution minus log(bins): 0 at best).
    `frames` [B, F] (bool), when given, limits both losses to those frames: the training loop
    passes the frames with signal, since silence has no timbre to keep apart from its level.
    Weight the adversarial term and warm it up as the Fader Network does."""
    target = discriminator.targets(normalised.detach())
    disc_each = F.cross_entropy(discriminator(z.detach()), target, reduction="none")  # [B, D, F]
    adv_each = -discriminator(z).log_softmax(1).mean(1) - math.log(discriminator.bins)  # [B, D, F]
    if frames is None:
        return disc_each.mean(), adv_each.mean()
    weight = frames.to(z.dtype).unsqueeze(1).expand_as(disc_each)
    count = weight.sum().clamp(min=1.0)
    return (disc_each * weight).sum() / count, (adv_each * weight).sum() / count


def multiscale_spectral_loss(x: torch.Tensor, y: torch.Tensor,
                             scales: Sequence[int] = (2048, 1024, 512, 256, 128),
                             eps: float = 1e-7) -> torch.Tensor:
    """Sum over FFT sizes of L1(|X| - |Y|) + L1(log|X| - log|Y|), Hann windows, 75% overlap;
    x and y are [B, 1, T] (or [B, T])."""
    x = x.reshape(-1, x.shape[-1])
    y = y.reshape(-1, y.shape[-1])
    total = x.new_zeros(())
    for n in scales:
        window = torch.hann_window(n, dtype=x.dtype, device=x.device)
        sx = torch.stft(x, n, n // 4, window=window, return_complex=True).abs()
        sy = torch.stft(y, n, n // 4, window=window, return_complex=True).abs()
        total = total + (sx - sy).abs().mean() + (torch.log(sx + eps) - torch.log(sy + eps)).abs().mean()
    return total


def parameter_count(module: nn.Module) -> int:
    """Trainable parameters that the forward pass uses (weight-norm gains counted once)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def streaming_speed(module, seconds: float = 4.0, threads: int = 1) -> float:
    """Hop-by-hop forward() speed of a (scripted) model in multiples of real time."""
    import time

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        hop, rate = int(module.hop_length), int(module.sample_rate)
        hops = max(1, int(seconds * rate / hop))
        x = 0.1 * torch.randn(1, 1, hops * hop, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():  # as the plugin runs it
            module.reset()
            for i in range(min(hops, 20)):  # warm up the TorchScript profiling executor
                module.forward(x[..., i * hop:(i + 1) * hop])
            module.reset()
            start = time.perf_counter()
            for i in range(hops):
                module.forward(x[..., i * hop:(i + 1) * hop])
            elapsed = time.perf_counter() - start
        return hops * hop / rate / elapsed
    finally:
        torch.set_num_threads(previous)


def _main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m timbrel.model")
    parser.add_argument("--speed", action="store_true", help="print parameters, latency and streaming speed")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    if not args.speed:
        parser.print_help()
        return 0
    for preset in ("default", "lowlatency"):
        torch.manual_seed(0)
        model = TimbrelModel(ModelConfig.preset(preset)).eval()
        params = parameter_count(model)
        model.remove_weight_norm()
        scripted = torch.jit.script(model)
        speed = streaming_speed(scripted, args.seconds)
        print(f"{preset:10s} hop {model.hop_length:4d}  params {params:8d}  latency_samples "
              f"{model.latency_samples:4d}  hop-by-hop forward, 1 thread: {speed:6.1f}x real time")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
