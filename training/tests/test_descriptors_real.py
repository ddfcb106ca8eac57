"""The spectral descriptors and the loudness models export, frame by frame on real instrument
audio (pitch-benchmark clips from FluidR3), against independent implementations: librosa's
spectral features and A-weighting, and pyloudnorm's K-weighting (BS.1770) as a second opinion
on loudness. Tolerances are stated per descriptor below."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from timbrel.format.descriptors import DescriptorAnalyzer
from timbrel.training import pitch_bench as bench
from timbrel.training.soundfont import SOUNDFONT_CANDIDATES

pytestmark = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not any(Path(p).exists() for p in SOUNDFONT_CANDIDATES),
    reason="fluidsynth and FluidR3_GM.sf2 are needed (make setup installs them)")

librosa = pytest.importorskip("librosa")
RATE, HOP, WINDOW = bench.SAMPLE_RATE, 512, 1024  # what the shipped models analyse with
NAMES = ["loudness", "centroid", "bandwidth", "flatness"]


@pytest.fixture(scope="module", params=["cello", "flute", "trumpet"])
def clip(request):
    instrument = next(i for i in bench.INSTRUMENTS if i.name == request.param)
    audio = bench.render_clip(instrument, "FluidR3", seconds=6.0).audio
    return audio[: len(audio) // HOP * HOP]


def ours(audio: np.ndarray) -> np.ndarray:
    analyzer = DescriptorAnalyzer(NAMES, RATE, HOP, WINDOW)
    with torch.no_grad():
        return analyzer(torch.from_numpy(audio).reshape(1, 1, -1))[0].double().numpy()


def theirs_spectrum(audio: np.ndarray) -> np.ndarray:
    """librosa's STFT over the same causal windows: each ends at the end of its hop."""
    padded = np.concatenate([np.zeros(WINDOW - HOP, np.float32), audio])
    return np.abs(librosa.stft(padded, n_fft=WINDOW, hop_length=HOP, window="hann", center=False))


def sounding(loudness: np.ndarray) -> np.ndarray:
    return loudness > loudness.max() - 50.0


def test_centroid_bandwidth_and_flatness_match_librosa_frame_by_frame(clip):
    d = ours(clip)
    magnitude = theirs_spectrum(clip)
    assert magnitude.shape[1] == d.shape[1]
    keep = sounding(d[0])
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=RATE, n_fft=WINDOW)[0]
    bandwidth = librosa.feature.spectral_bandwidth(S=magnitude, sr=RATE, n_fft=WINDOW, p=2)[0]
    flatness = 10 * np.log10(librosa.feature.spectral_flatness(S=magnitude, power=2.0)[0])
    # Same definitions, independent code: Hz within 0.1 % (float32 sums), dB within 0.01 dB.
    np.testing.assert_allclose(d[1][keep], centroid[keep], rtol=1e-3, atol=0.5)
    np.testing.assert_allclose(d[2][keep], bandwidth[keep], rtol=1e-3, atol=0.5)
    np.testing.assert_allclose(d[3][keep], flatness[keep], rtol=0, atol=0.01)


def test_loudness_matches_an_a_weighted_level_from_librosa(clip):
    d = ours(clip)
    power = theirs_spectrum(clip) ** 2
    frequencies = librosa.fft_frequencies(sr=RATE, n_fft=WINDOW)
    with np.errstate(divide="ignore"):  # A-weighting is -inf dB at DC
        weights = 10 ** (librosa.A_weighting(frequencies, min_db=None) / 10)
    # One-sided power spectrum to mean square (Parseval with the Hann window's energy).
    sides = np.full(len(frequencies), 2.0)
    sides[0] = sides[-1] = 1.0
    hann = np.hanning(WINDOW + 1)[:WINDOW]
    mean_square = (power * (sides * weights)[:, None]).sum(0) / (WINDOW * (hann ** 2).sum())
    level = np.maximum(10 * np.log10(mean_square + 1e-10), -100.0)
    keep = sounding(d[0])
    # librosa's A-weighting is not renormalised to exactly 0 dB at 1 kHz (ours is): 0.1 dB apart.
    np.testing.assert_allclose(d[0][keep], level[keep], rtol=0, atol=0.2)


def test_loudness_follows_pyloudnorm_k_weighting(clip):
    pyloudnorm = pytest.importorskip("pyloudnorm")
    meter = pyloudnorm.Meter(RATE)
    filtered = clip.astype(np.float64)
    for stage in meter._filters.values():  # BS.1770's K-weighting: the high shelf, then the high pass
        filtered = stage.apply_filter(filtered)
    padded = np.concatenate([np.zeros(WINDOW - HOP), filtered])
    frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[::HOP][: len(clip) // HOP]
    k_weighted = 10 * np.log10((frames ** 2).mean(1) + 1e-10)
    d = ours(clip)
    keep = sounding(d[0])
    # Another weighting (K rises above 1.5 kHz, A falls steeply below 1 kHz), so the levels sit
    # apart by an offset that depends on the spectrum (about 7 dB on a cello, varying by up to
    # 4 dB over its range as A-weighting falls 20 dB from 350 to 65 Hz); the two must rise and
    # fall together: r >= 0.95, and 90 % of frames within 5 dB of the median offset.
    difference = d[0][keep] - k_weighted[keep]
    assert np.corrcoef(d[0][keep], k_weighted[keep])[0, 1] >= 0.95
    assert np.percentile(np.abs(difference - np.median(difference)), 90) <= 5.0


def test_silence_and_noise_read_defined_values():
    silence = ours(np.zeros(HOP * 8, np.float32))
    assert silence[0].max() == -100.0                  # loudness floor
    assert np.all(silence[1:3] == 0.0)                 # no spectrum: centroid and bandwidth 0 Hz
    assert np.all(np.abs(silence[3]) < 1e-4)           # floored flat: 0 dB (the means are float32 sums)
    noise = ours(0.3 * np.random.default_rng(0).standard_normal(HOP * 40).astype(np.float32))[:, 2:]
    assert np.isfinite(noise).all()
    assert abs(np.median(noise[3]) + 2.5) < 0.5        # white noise: about -2.5 dB (exp(-gamma))
    assert abs(np.median(noise[1]) - RATE / 4) < 0.05 * RATE / 4
