"""Perceptual descriptors, frame-aligned with a model's hop and causal (each frame sees only
its own hop). Written in TorchScript-compatible torch so they export inside the model: the
plugin never re-implements them.

Units follow docs/model-format.md: loudness and flatness in dB, pitch in MIDI semitones,
centroid and bandwidth in Hz.
"""

from __future__ import annotations


import torch

SILENCE_DB = -100.0


def frames(x: torch.Tensor, hop: int) -> torch.Tensor:
    """[B, 1, T] -> [B, F, hop] with F = T // hop (T must be a multiple of hop)."""
    batch = x.shape[0]
    return x.reshape(batch, -1, hop)


def loudness_db(frame: torch.Tensor) -> torch.Tensor:
    """Mean-square level of each frame in dB, floored at SILENCE_DB: [B, F, hop] -> [B, F]."""
    power = frame.pow(2).mean(dim=-1)
    return 10.0 * torch.log10(power + 1e-10)


def spectral_centroid_hz(frame: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Magnitude-weighted mean frequency of each Hann-windowed frame: [B, F, hop] -> [B, F]."""
    hop = frame.shape[-1]
    window = torch.hann_window(hop, periodic=True, dtype=frame.dtype, device=frame.device)
    magnitude = torch.fft.rfft(frame * window, dim=-1).abs()
    freqs = torch.linspace(0.0, sample_rate / 2.0, magnitude.shape[-1], dtype=frame.dtype, device=frame.device)
    return (magnitude * freqs).sum(-1) / (magnitude.sum(-1) + 1e-9)


def db_to_gain(db: torch.Tensor) -> torch.Tensor:
    return torch.pow(10.0, db / 20.0)


__all__ = ["SILENCE_DB", "frames", "loudness_db", "spectral_centroid_hz", "db_to_gain"]
