"""Descriptors against signals with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from timbrel import descriptors

RATE = 44100
HOP = 1024


def sine(freq: float, amplitude: float, hops: int = 4) -> torch.Tensor:
    t = torch.arange(HOP * hops, dtype=torch.float64) / RATE
    return (amplitude * torch.sin(2 * math.pi * freq * t)).float().reshape(1, 1, -1)


def test_loudness_of_a_minus_20_dbfs_sine():
    # Peak 0.1 (-20 dBFS): mean square 0.005, i.e. -23.01 dB.
    frames = descriptors.frames(sine(23 * RATE / HOP, 0.1), HOP)  # whole periods per frame
    assert descriptors.loudness_db(frames) == pytest.approx(torch.full((1, 4), -23.0103), abs=0.02)


def test_loudness_of_silence_is_floored():
    frames = descriptors.frames(torch.zeros(1, 1, HOP * 2), HOP)
    assert descriptors.loudness_db(frames).tolist() == [[-100.0, -100.0]]


@pytest.mark.parametrize("bin_index", [20, 46, 150])
def test_centroid_of_a_sine_is_its_frequency(bin_index):
    freq = bin_index * RATE / HOP  # on a bin centre
    frames = descriptors.frames(sine(freq, 0.5), HOP)
    centroid = descriptors.spectral_centroid_hz(frames, RATE)
    assert centroid == pytest.approx(torch.full((1, 4), freq), rel=0.01)


def test_centroid_of_white_noise_is_near_a_quarter_of_the_rate():
    noise = torch.randn(1, 1, HOP * 16, generator=torch.Generator().manual_seed(0))
    centroid = descriptors.spectral_centroid_hz(descriptors.frames(noise, HOP), RATE)
    assert centroid.mean().item() == pytest.approx(RATE / 4, rel=0.05)
