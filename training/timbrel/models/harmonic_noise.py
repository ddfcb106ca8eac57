"""The model kind Timbrel ships: a descriptor-conditioned harmonic-plus-noise VAE.

A Fader-Network VAE (Lample et al. 2017) like `waveform.WaveformModel`, but the decoder drives a
differentiable harmonic-plus-noise synthesiser (the DDSP idea, Engel et al. 2020) instead of
generating PQMF band waveforms. On a 2-core CPU this trains to a recognisable instrument in
minutes where the waveform decoder needs hours, and the descriptors map onto the synthesiser
directly: pitch is the fundamental, loudness sets the level, the network only shapes spectra.

    x [B,1,T] --causal windows--> log-mel (level removed) --cached convs--> z [B,latent,F]
    x --DescriptorAnalyzer (same windows)--> d [B,D,F] in physical units
    cat(z, d) --normalise d--> cached residual convs --> per frame: harmonic distribution,
        harmonic level and noise-band levels (both relative to the loudness descriptor)
        --> linear interpolation to audio rate across each hop --> sum of harmonics of the
        pitch descriptor + band-filtered noise --> y [B,1,T]

Everything is causal at hop granularity, so latency_samples = 0: the plugin's latency is one hop.
Streaming equals offline: the phase accumulates in float64 and is wrapped per harmonic, the
noise comes from a fixed, seeded, circularly band-filtered table read at a running sample
counter, and every interpolation carries the previous frame's parameters.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import List, Tuple

import numpy as np
import torch
from torch import nn

from ..format.contract import FORMAT_VERSION
from ..format.descriptors import CausalWindows, DescriptorAnalyzer
from ..format.vocabulary import DESCRIPTOR_NAMES, DESCRIPTOR_UNITS
from .blocks import Activation, CachedConv1d, CachedSequential, ResidualBlock
from .conditioning import DEFAULT_MAX, DEFAULT_MIN, DescriptorConditioned, sample_latent

TWO_PI = 2.0 * math.pi


LEGACY_ANALYSIS = {"pitch_fmin": 90.0, "pitch_window": 0, "octave_ratio": 0.0, "octave_margin": 0.0,
                   "pitch_highpass": 0, "pitch_latest": False, "pitch_decimation": 1}
ANALYSIS_FIELDS = tuple(LEGACY_ANALYSIS)


@dataclass
class HarmonicNoiseConfig:
    """Architecture and metadata of a HarmonicNoiseModel."""

    name: str = "timbrel-default"
    sample_rate: int = 44100
    hop_length: int = 512
    window: int = 1024            # causal analysis window of the encoder and the descriptors
    latent_size: int = 8
    mels: int = 40
    hidden: int = 128
    encoder_dilations: List[int] = field(default_factory=lambda: [1, 2])
    decoder_dilations: List[int] = field(default_factory=lambda: [1, 2, 4])
    harmonics: int = 60
    noise_bands: int = 16
    noise_table: int = 32768      # samples of each band's noise loop (0.74 s at 44.1 kHz)
    noise_seed: int = 20261121
    descriptor_names: List[str] = field(default_factory=lambda: list(DESCRIPTOR_NAMES))
    descriptor_units: List[str] = field(default_factory=lambda: list(DESCRIPTOR_UNITS))
    descriptor_min: List[float] = field(default_factory=lambda: list(DEFAULT_MIN))
    descriptor_max: List[float] = field(default_factory=lambda: list(DEFAULT_MAX))
    # The pitch analysis (timbrel.format.descriptors.pitch_midi): YIN over pitch_window samples
    # (at least 2 * sample_rate / pitch_fmin) with its local mean over pitch_highpass samples
    # removed, and the octave rule of octave_ratio and octave_margin (0: YIN's first-below-
    # threshold rule); with pitch_latest, YIN compares the newest samples of the window with
    # older ones rather than the oldest with newer ones (descriptors.DescriptorAnalyzer); with
    # pitch_decimation 2, YIN runs at half the rate on the window low-passed (its FFTs are half
    # as long: 15% less analysis per hop, the same pitch within 4 cents on 99% of frames). The
    # search reaches 28 Hz so that a 30 Hz period has a trough inside it.
    # LEGACY_ANALYSIS is what models trained before these fields existed were analysed with.
    # `timbrel bench pitch` measures it.
    pitch_fmin: float = 28.0
    pitch_fmax: float = 2000.0
    pitch_window: int = 4096
    octave_ratio: float = 2.0
    octave_margin: float = 0.02
    pitch_highpass: int = 200     # samples at the model's rate (4.5 ms at 44.1 kHz)
    pitch_latest: bool = True
    pitch_decimation: int = 2
    weight_norm: bool = True

    @classmethod
    def preset(cls, name: str = "default", **overrides) -> "HarmonicNoiseConfig":
        """'default': hop 512 (11.6 ms at 44.1 kHz); 'lowlatency': hop 128 (2.9 ms) with a
        longer dilated decoder so it sees the same time span in frames; 'timbres': the default
        with a latent twice as wide, for a model of many instruments whose z tells them apart."""
        if name == "default":
            base: dict = dict(name="timbrel-default")
        elif name == "lowlatency":
            base = dict(name="timbrel-lowlatency", hop_length=128, hidden=96,
                        encoder_dilations=[1, 2, 4], decoder_dilations=[1, 2, 4, 8])
        elif name == "timbres":
            base = dict(name="timbrel-timbres", latent_size=16)
        else:
            raise ValueError(f"unknown preset '{name}' (default, lowlatency, timbres)")
        base.update(overrides)
        return cls(**base)


def mel_filterbank(sample_rate: int, window: int, mels: int) -> torch.Tensor:
    """[window // 2 + 1, mels] Slaney mel filters (librosa), for power spectra."""
    import librosa

    filters = librosa.filters.mel(sr=sample_rate, n_fft=window, n_mels=mels, fmin=30.0,
                                  fmax=sample_rate / 2.0)
    return torch.from_numpy(np.ascontiguousarray(filters.T)).float()


def band_noise_table(sample_rate: int, bands: int, length: int, seed: int) -> torch.Tensor:
    """[bands, length] seeded white noise split into `bands` log-spaced bands (30 Hz to Nyquist,
    raised-cosine overlapping so the bands sum to white). Filtering is circular, so each row
    loops seamlessly; each band has unit mean square times its share of the spectrum."""
    generator = np.random.default_rng(seed)
    spectrum = np.fft.rfft(generator.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1.0 / sample_rate)
    edges = np.geomspace(30.0, sample_rate / 2.0, bands + 1)
    position = np.interp(np.log(np.maximum(freqs, 1e-3)), np.log(edges), np.arange(bands + 1))
    table = np.zeros((bands, length))
    for band in range(bands):
        # Triangular (in band-index space) crossovers: weights of neighbouring bands sum to 1.
        weight = np.clip(1.0 - np.abs(position - (band + 0.5)), 0.0, 1.0)
        if band == 0:
            weight[position < 0.5] = 1.0
        if band == bands - 1:
            weight[position > bands - 0.5] = 1.0
        table[band] = np.fft.irfft(spectrum * np.sqrt(weight), n=length)
    table /= np.sqrt((table.sum(0) ** 2).mean())  # the bands together: unit mean square
    return torch.from_numpy(table).float()


class HarmonicNoiseModel(DescriptorConditioned):
    def __init__(self, config: HarmonicNoiseConfig | None = None):
        super().__init__()
        config = config or HarmonicNoiseConfig()
        names = list(config.descriptor_names)
        if "pitch" not in names or "loudness" not in names:
            raise ValueError("HarmonicNoiseModel needs the 'pitch' and 'loudness' descriptors")
        if max(config.window, config.pitch_window) < 2 * config.sample_rate / config.pitch_fmin:
            raise ValueError("HarmonicNoiseConfig: pitch_window too short for pitch_fmin (needs 2 * sample_rate / fmin)")
        self.config_dict = json.dumps(asdict(config))
        hop = int(config.hop_length)

        # Contract attributes (docs/model-format.md).
        self.format_version = FORMAT_VERSION
        self.sample_rate = int(config.sample_rate)
        self.hop_length = hop
        self.latent_size = int(config.latent_size)
        self._init_descriptors(names, config.descriptor_units, config.descriptor_min, config.descriptor_max)
        self.latency_samples = 0
        self.model_name = config.name
        self.model_card = json.dumps({
            "name": config.name, "kind": "harmonic-noise-fader-vae",
            "description": "Untrained harmonic-plus-noise Fader VAE (a training run replaces this card).",
            "sample_rate": config.sample_rate, "hop_length": hop, "license": "GPL-3.0-or-later",
            "training_data": "none", "config": asdict(config)})
        count = len(names)
        self.register_buffer("encode_params", torch.tensor([1, 1, config.latent_size, hop]))
        self.register_buffer("decode_params", torch.tensor([config.latent_size + count, hop, 1, 1]))
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))

        # Analysis: descriptors and the encoder's spectra over the same causal windows (two
        # streams, because the contract calls encode and analyze separately on the same audio).
        self.window = int(config.window)
        self.pitch_fmin = float(config.pitch_fmin)
        self.pitch_fmax = float(config.pitch_fmax)
        self.analyzer = DescriptorAnalyzer(names, config.sample_rate, hop, config.window, config.pitch_fmin,
                                           config.pitch_fmax, config.pitch_window, config.octave_ratio,
                                           config.octave_margin, config.pitch_highpass, config.pitch_latest,
                                           config.pitch_decimation)
        self.pitch_window = self.analyzer.pitch_window
        self.octave_ratio = float(config.octave_ratio)
        self.octave_margin = float(config.octave_margin)
        self.pitch_highpass = int(config.pitch_highpass)
        self.pitch_latest = bool(config.pitch_latest)
        self.pitch_decimation = int(config.pitch_decimation)
        self.encoder_frames = CausalWindows(hop, config.window)
        self.register_buffer("mel", mel_filterbank(config.sample_rate, config.window, config.mels))
        self.loudness_index = names.index("loudness")
        self.pitch_index = names.index("pitch")
        # f0 = 440 * 2 ** ((pitch - 69) / 12) = 2 ** (pitch / 12 + f0_exponent), with pitch
        # clamped to the range whose fundamental lies in 10 Hz .. Nyquist.
        self.f0_exponent = math.log2(440.0) - 69.0 / 12.0
        # Numbers the streaming path combines with tensors, held as tensors: an op with a number
        # operand converts it on every call (as costly as the op, hop by hop). A frozen model
        # folds the slices. mel floor; 1/12 and f0_exponent; nepers per dB and the level of a
        # 0 dB sine; the logit of an inaudible harmonic; 0.
        self.register_buffer("synth_constants", torch.tensor(
            [1e-4, 1.0 / 12.0, self.f0_exponent, math.log(10.0) / 20.0, 3.0 * math.log(10.0) / 20.0, -1.0e4, 0.0]),
            persistent=False)
        self.register_buffer("mel_mean", torch.full([config.mels, 1], 1.0 / config.mels), persistent=False)
        self.pitch_low = 69.0 + 12.0 * math.log2(10.0 / 440.0)
        self.pitch_high = 69.0 + 12.0 * math.log2(0.5 * config.sample_rate / 440.0)

        # Time-major conv stacks ([B, frames, channels]): the spectra come in that layout and the
        # synthesiser takes its parameters in it, so no call transposes activations.
        wn, hidden = config.weight_norm, config.hidden
        encoder: List[nn.Module] = [CachedConv1d(config.mels, hidden, 3, weight_norm=wn, time_major=True)]
        encoder += [ResidualBlock(hidden, 3, d, weight_norm=wn, time_major=True) for d in config.encoder_dilations]
        encoder += [Activation(), CachedConv1d(hidden, 2 * config.latent_size, 1, weight_norm=wn, time_major=True)]
        self.encoder = CachedSequential(encoder)

        self.harmonics = int(config.harmonics)
        self.noise_bands = int(config.noise_bands)
        outputs = self.harmonics + 1 + self.noise_bands
        decoder: List[nn.Module] = [CachedConv1d(config.latent_size + count, hidden, 3, weight_norm=wn, time_major=True)]
        decoder += [ResidualBlock(hidden, 3, d, weight_norm=wn, time_major=True) for d in config.decoder_dilations]
        decoder += [Activation(), CachedConv1d(hidden, outputs, 1, weight_norm=wn, time_major=True)]
        self.decoder = CachedSequential(decoder)

        # Synthesiser constants. Buffers other than streaming state are derived from the config,
        # so checkpoints do not carry them (train.model_from_checkpoint skips them).
        sr = float(config.sample_rate)
        harmonic_numbers = torch.arange(1, self.harmonics + 1, dtype=torch.float32)
        self.register_buffer("harmonic_numbers", harmonic_numbers.reshape(-1, 1), persistent=False)
        # Harmonic k is audible while f0 < (sample_rate / 2) / k.
        self.register_buffer("audible_below_hz", 0.5 * sr / harmonic_numbers, persistent=False)
        # Log amplitudes relative to the loudness descriptor: harmonic level, then the noise bands 3 nepers lower.
        self.register_buffer("level_offsets", torch.cat([torch.zeros(1), torch.full([self.noise_bands], -3.0)]),
                             persistent=False)
        self.register_buffer("ramp", torch.arange(1, hop + 1, dtype=torch.float32) / hop, persistent=False)
        self.register_buffer("ramp64", self.ramp.double(), persistent=False)
        # The noise loop twice over, so any read of up to one loop is one contiguous view.
        noise = band_noise_table(config.sample_rate, self.noise_bands, config.noise_table, config.noise_seed)
        self.register_buffer("noise", torch.cat([noise, noise], 1), persistent=False)
        self.noise_length = int(config.noise_table)
        self.noise_offset = 7919  # batch item b reads the loop b * 7919 samples on: stereo is not dual-mono noise
        self.radians_per_sample_per_hz = 2.0 * math.pi / sr
        # Streaming state: the previous frame's parameters, the fundamental's phase (float64 so
        # hop-by-hop accumulation equals one long cumsum) and the read position in the noise loop.
        self.register_buffer("last_params", torch.zeros(1, 1, outputs))
        self.register_buffer("phase", torch.zeros(1, 1, dtype=torch.float64))
        self.noise_position = 0

    # -- Python-only helpers ------------------------------------------------------------------

    @torch.jit.ignore
    def remove_weight_norm(self):
        self.encoder.remove_weight_norm()
        self.decoder.remove_weight_norm()

    @torch.jit.ignore
    def encode_distribution(self, x: torch.Tensor, draw=None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training: (sampled z, mean, KL to N(0, 1) summed over latent channels, averaged over
        batch and frames), with the reparameterisation trick (`draw`: see sample_latent)."""
        return sample_latent(*self._encoder_output(x), draw=draw)

    # -- Scripted path -------------------------------------------------------------------------

    def _encoder_output(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self._encoder_from_power(self.encoder_frames.power_spectrum(self.encoder_frames(x)))

    def _encoder_from_power(self, power: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(mean, scale parameter) of the latent from the Hann power spectra [B, F, bins]."""
        mel = torch.log(torch.matmul(power, self.mel) + self.synth_constants[0:1])
        mel = mel - torch.matmul(mel, self.mel_mean)  # less the mean: the level is the loudness descriptor's job
        out = self.encoder(mel).transpose(1, 2)
        return out[:, : self.latent_size], out[:, self.latent_size:]

    @torch.jit.export
    def encode_analyze(self, x: torch.Tensor) -> torch.Tensor:
        """cat(encode(x), analyze(x), 1) from one windowing and one FFT: the encoder reads the
        power spectrum the analyzer measured (the same windows, so the same values). Both
        streams advance as the two calls would: the encode stream's history is the analyzer's,
        since both have seen the same audio."""
        frames = self.analyzer.windows(x)
        history = self.analyzer.windows.history  # reaches back pitch_window - hop samples
        self.encoder_frames.history = history[..., history.shape[-1] - (self.window - self.hop_length):]
        descriptors, _, power = self.analyzer.describe_with_power(frames)
        return torch.cat([self._encoder_from_power(power)[0], descriptors], 1)

    def _synth_parameters(self, zd: torch.Tensor) -> torch.Tensor:
        """[B, latent + D, F] -> [B, F, 1 + harmonics + bands]: per frame, the pitch (clamped to
        fundamentals of 10 Hz .. Nyquist), the harmonic amplitudes and the noise-band amplitudes."""
        physical = zd[:, self.latent_size:]
        out = self.decoder(torch.cat([zd[:, : self.latent_size], self._normalise(physical)], 1).transpose(1, 2))
        per_frame = physical.transpose(1, 2)
        pitch = torch.clamp(per_frame[..., self.pitch_index: self.pitch_index + 1], self.pitch_low, self.pitch_high)
        constants = self.synth_constants
        f0 = torch.exp2(torch.addcmul(constants[2:3], pitch, constants[1:2]))
        # Log amplitude of a sine that reads the loudness descriptor (a -3 dB read for amplitude
        # 1): (loudness + 3) * ln(10) / 20.
        level = torch.addcmul(constants[4:5], per_frame[..., self.loudness_index: self.loudness_index + 1],
                              constants[3:4])
        levels = torch.exp(torch.clamp(out[..., self.harmonics:] + (level + self.level_offsets), max=1.5))
        audible = f0 < self.audible_below_hz
        distribution = torch.where(audible, torch.softmax(torch.where(audible, out[..., : self.harmonics],
                                                                      constants[5:6]), -1), constants[6:7])
        return torch.cat([pitch, distribution * levels[..., :1], levels[..., 1:]], -1)

    def _synthesise(self, params: torch.Tensor) -> torch.Tensor:
        """[B, F, parameters] -> [B, 1, F * hop]. Every parameter ramps linearly from the
        previous frame's value to its frame's value across the hop; the sum over harmonics and
        bands is linear in the amplitudes, so it runs on the two ends of the ramp (two small
        matrix products) and the ramp is applied once to the mix."""
        batch, count = params.shape[0], params.shape[1]
        if self.last_params.shape[0] != batch or self.last_params.device != params.device:
            self.last_params = torch.zeros(batch, 1, params.shape[2], device=params.device)
        joined = torch.cat([self.last_params, params], 1)
        self.last_params = joined[:, count:].detach()
        ends = joined.unfold(1, 2, 1).transpose(-1, -2)  # [B, F, 2 (previous, this frame), parameters]
        # The fundamental at both ends in float64: the phase integrates it, so a one-ulp float32
        # difference (a few-element exp2 rounds differently from a many-element one) would grow
        # into a drift between hop-by-hop and one-call synthesis.
        f0_ends = torch.exp2(ends[..., 0].double() * (1.0 / 12.0) + self.f0_exponent)  # [B, F, 2]
        f0 = torch.lerp(f0_ends[..., 0:1], f0_ends[..., 1:2], self.ramp64)  # [B, F, hop]
        if self.phase.shape[0] != batch or self.phase.device != params.device:
            self.phase = torch.zeros(batch, 1, dtype=torch.float64, device=params.device)
        radians = f0.reshape(batch, -1) * self.radians_per_sample_per_hz
        # The running phase is one float64 cumulative sum whatever the block size (the carried
        # sum is its first term, and CPU cumsum adds in order), so hop-by-hop phases are
        # bit-identical to one long call's; re-wrapping the carried phase every call would round
        # differently. Unwrapped, float64 still resolves the phase finer than float32 resolves
        # the wrapped one (5e-7 rad) after a day at a 2 kHz fundamental.
        unwrapped = torch.cumsum(torch.cat([self.phase, radians], 1), -1)
        self.phase = unwrapped[:, unwrapped.shape[1] - 1:]
        phase = torch.remainder(unwrapped[:, 1:], 2.0 * math.pi)
        # Phase wrapped in float64 before the float32 multiply, so rounding cannot accumulate.
        waves = torch.sin(self.harmonic_numbers * phase.float().reshape(batch, count, 1, -1))  # [B, F, H, hop]
        mix = (torch.matmul(ends[..., 1: 1 + self.harmonics], waves)
               + torch.matmul(ends[..., 1 + self.harmonics:], self._noise(batch, count)))  # [B, F, 2, hop]
        return torch.lerp(mix[:, :, 0], mix[:, :, 1], self.ramp).reshape(batch, 1, -1)

    def _noise(self, batch: int, count: int) -> torch.Tensor:
        """The next `count` hops of the band-noise loop, [B, count, bands, hop], as a view where
        it can be; batch items read it `noise_offset` apart."""
        hop, loop = self.hop_length, self.noise_length
        length = count * hop
        start = self.noise_position
        self.noise_position = (start + length) % loop
        if length + self.noise_offset * (batch - 1) <= loop:
            # Every item's read lies inside the doubled loop: one strided view, no copy.
            return torch.as_strided(self.noise, [batch, count, self.noise_bands, hop],
                                    [self.noise_offset, hop, 2 * loop, 1], self.noise.storage_offset() + start)
        items: List[torch.Tensor] = []
        for b in range(batch):
            position = (start + self.noise_offset * b) % loop
            pieces: List[torch.Tensor] = []
            remaining = length
            while remaining > 0:
                take = min(remaining, loop)
                pieces.append(self.noise[:, position: position + take])
                remaining -= take
                position = (position + take) % loop
            items.append(pieces[0] if len(pieces) == 1 else torch.cat(pieces, -1))
        return torch.stack(items, 0).reshape(batch, self.noise_bands, count, hop).transpose(1, 2)

    @torch.jit.export
    def reset(self):
        self.analyzer.reset()
        self.encoder_frames.reset()
        self.encoder.reset_cache()
        self.decoder.reset_cache()
        device = self.ramp.device
        self.last_params = torch.zeros(1, 1, self.harmonics + 1 + self.noise_bands, device=device)
        self.phase = torch.zeros(1, 1, dtype=torch.float64, device=device)
        self.noise_position = 0

    @torch.jit.export
    def decode(self, zd: torch.Tensor) -> torch.Tensor:
        return self._synthesise(self._synth_parameters(zd))


__all__ = ["HarmonicNoiseConfig", "HarmonicNoiseModel", "mel_filterbank", "band_noise_table"]
