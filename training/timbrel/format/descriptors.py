"""Perceptual descriptors, frame-aligned with a model's hop and causal: a frame sees only
samples up to the end of its own hop. `frames` gives one hop per frame; `causal_frames` gives
longer windows that end at each hop's end and reach back into carried history, so streaming
hop by hop equals offline analysis. Written in TorchScript-compatible torch so they export
inside the model: the plugin never re-implements them.

Units follow docs/model-format.md: loudness and flatness in dB, pitch in MIDI semitones,
centroid and bandwidth in Hz.
"""

from __future__ import annotations

import math
from typing import List, Tuple

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
    """Magnitude-weighted mean frequency of each Hann-windowed frame: [B, F, N] -> [B, F]."""
    magnitude = _hann_spectrum(frame).abs()
    return _centroid(magnitude, _bin_frequencies_hz(frame.shape[-1], sample_rate, frame))


def db_to_gain(db: torch.Tensor) -> torch.Tensor:
    return torch.pow(10.0, db / 20.0)


# ---------------------------------------------------------------------------------------------
# Longer causal windows. Each window ends at the end of its hop and reaches window - hop samples
# back; the samples before the current block come from `history`, so a stream analysed block by
# block (any whole number of hops per block) gives exactly the frames of the whole signal.


def zero_history(x: torch.Tensor, hop: int, window: int) -> torch.Tensor:
    """The history `causal_frames` starts a stream with: window - hop zeros, [B, 1, window - hop]."""
    return torch.zeros(x.shape[0], 1, window - hop, dtype=x.dtype, device=x.device)


def causal_frames(x: torch.Tensor, hop: int, window: int,
                  history: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """[B, 1, T] -> (frames [B, F, window], new_history [B, 1, window - hop]) with F = T // hop.

    Frame f holds the `window` samples ending at the end of hop f; `history` is the previous
    window - hop samples of the stream (zeros at its start, see `zero_history`). T must be a
    multiple of hop and window >= hop.
    """
    if window < hop:
        raise ValueError("causal_frames: window must be at least hop")
    if x.shape[-1] % hop != 0:
        raise ValueError("causal_frames: the block length must be a multiple of hop")
    joined = torch.cat([history, x], dim=-1)
    windows = joined.unfold(-1, window, hop).squeeze(1)
    new_history = joined[..., joined.shape[-1] - (window - hop):]
    return windows, new_history


# ---------------------------------------------------------------------------------------------
# Spectral descriptors of a Hann-windowed frame of any length (hop- or causal_frames-sized).


def _hann_spectrum(frame: torch.Tensor) -> torch.Tensor:
    """Complex one-sided spectrum of the periodic-Hann-windowed frame: [B, F, N] -> [B, F, N//2+1]."""
    length = frame.shape[-1]
    window = torch.hann_window(length, periodic=True, dtype=frame.dtype, device=frame.device)
    return torch.fft.rfft(frame * window, dim=-1)


def _bin_frequencies_hz(length: int, sample_rate: int, frame: torch.Tensor) -> torch.Tensor:
    """Centre frequency of each rfft bin of a `length`-sample frame (librosa's fft_frequencies)."""
    bins = torch.arange(length // 2 + 1, dtype=frame.dtype, device=frame.device)
    return bins * (float(sample_rate) / float(length))


def _a_weighting_amplitude(squared_hz: torch.Tensor) -> torch.Tensor:
    """R_A(f) = 12194^2 f^4 / ((f^2 + 20.6^2) sqrt((f^2 + 107.7^2)(f^2 + 737.9^2)) (f^2 + 12194^2)),
    written as a product of ratios so float32 never overflows."""
    f2 = squared_hz
    return ((f2 / (f2 + 20.6 ** 2)) * (f2 / torch.sqrt((f2 + 107.7 ** 2) * (f2 + 737.9 ** 2)))
            * (12194.0 ** 2 / (f2 + 12194.0 ** 2)))


def a_weighting_power(freqs_hz: torch.Tensor) -> torch.Tensor:
    """IEC 61672 A-weighting as a power gain, normalised to exactly 1 (0 dB) at 1 kHz."""
    at_1khz = _a_weighting_amplitude(torch.full([1], 1000.0 ** 2, dtype=freqs_hz.dtype, device=freqs_hz.device))
    return (_a_weighting_amplitude(freqs_hz * freqs_hz) / at_1khz).pow(2)


def perceptual_loudness_db(frame: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """A-weighted power of each Hann-windowed frame in dB, floored at SILENCE_DB: [B, F, N] -> [B, F].

    Calibration: the weighted one-sided power spectrum is scaled by Parseval and the window's
    energy so that, with the A-weighting at 0 dB at 1 kHz, a 1 kHz tone reads its mean-square
    level, i.e. the same as `loudness_db`: a full-scale 1 kHz sine reads -3.01 dB, a -20 dBFS
    one -23.01 dB. Other frequencies read lower by the A-weighting (100 Hz: -19.1 dB).
    """
    power = _hann_spectrum(frame).abs().pow(2)
    return _loudness_from_power(power, loudness_weights(frame.shape[-1], sample_rate, frame))


def loudness_weights(length: int, sample_rate: int, like: torch.Tensor) -> torch.Tensor:
    """Per-bin weights that turn a Hann-windowed one-sided power spectrum into A-weighted mean
    square: one-sided doubling, A-weighting, Parseval and the window's energy."""
    window = torch.hann_window(length, periodic=True, dtype=like.dtype, device=like.device)
    # One-sided spectrum: every bin but DC (and Nyquist for even lengths) stands for two.
    sides = torch.full([length // 2 + 1], 2.0, dtype=like.dtype, device=like.device)
    sides[0] = 1.0
    if length % 2 == 0:
        sides[-1] = 1.0
    # Parseval: sum |X|^2 over all bins = N * sum (x w)^2; divide by sum w^2 to undo the window.
    return sides * a_weighting_power(_bin_frequencies_hz(length, sample_rate, like)) / (
        float(length) * window.pow(2).sum())


def _loudness_from_power(power: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    mean_square = (power * weights).sum(-1)
    # Literal -100.0 (SILENCE_DB): TorchScript cannot read module-level floats.
    return torch.clamp(10.0 * torch.log10(mean_square + 1e-10), min=-100.0)


def _centroid(magnitude: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    return (magnitude * freqs).sum(-1) / (magnitude.sum(-1) + 1e-9)


def _bandwidth(magnitude: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    weights = magnitude / (magnitude.sum(-1, keepdim=True) + 1e-9)
    centroid = (weights * freqs).sum(-1, keepdim=True)
    return torch.sqrt((weights * (freqs - centroid).pow(2)).sum(-1))


def flatness_weights(bins: int, like: torch.Tensor) -> torch.Tensor:
    """[2, bins]: 1 / bins (the mean) and (10 / ln 10) / bins (the mean in dB), for matrix
    products: torch's mean divides by a number, which costs an op's worth when streaming."""
    mean = torch.full([bins], 1.0 / float(bins), dtype=like.dtype, device=like.device)
    return torch.stack([mean, mean * (10.0 / math.log(10.0))])


def _flatness_from_power(power: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """weights: flatness_weights(bins). log(geometric mean / arithmetic mean) is the mean log
    of each bin over the mean."""
    power = torch.clamp(power, min=1e-10)
    mean = torch.matmul(power, weights[0].unsqueeze(-1))
    return torch.matmul(torch.log(power / mean), weights[1])


def spectral_bandwidth_hz(frame: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Magnitude-weighted standard deviation of frequency around the spectral centroid of each
    Hann-windowed frame (librosa's spectral_bandwidth with p=2): [B, F, N] -> [B, F]."""
    magnitude = _hann_spectrum(frame).abs()
    return _bandwidth(magnitude, _bin_frequencies_hz(frame.shape[-1], sample_rate, frame))


def spectral_flatness_db(frame: torch.Tensor) -> torch.Tensor:
    """10 log10(geometric mean / arithmetic mean) of the Hann-windowed power spectrum: [B, F, N] -> [B, F].

    Same definition as librosa's spectral_flatness (unnormalised |rfft|^2, each bin floored at
    1e-10, all bins DC to Nyquist). 0 dB is perfectly flat; Gaussian white noise reads about
    -2.5 dB (exp(-Euler gamma) for exponentially distributed bin powers); a sine reads far below
    -30 dB. Silence is floored flat and reads 0 dB, so gate it with a loudness descriptor.
    """
    power = _hann_spectrum(frame).abs().pow(2)
    return _flatness_from_power(power, flatness_weights(power.shape[-1], power))


# ---------------------------------------------------------------------------------------------
# Monophonic pitch (YIN).


def pitch_midi(frame: torch.Tensor, sample_rate: int, fmin: float = 40.0, fmax: float = 2000.0,
               threshold: float = 0.1, octave_ratio: float = 0.0,
               octave_margin: float = 0.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """YIN f0 of each frame: [B, F, N] -> (pitch [B, F] in MIDI semitones, voiced [B, F] in 0..1).

    The difference function d(tau) = sum_{j<L} (x[j] - x[j + tau])^2 over an integration window
    of L = N - tau_max samples is computed for every lag at once from an FFT cross-correlation
    and energy prefix sums, then cumulative-mean normalised (d'). Parabolic interpolation refines
    the chosen trough of d' within [sample_rate / fmax, tau_max]. Which trough:

    - octave_ratio 0 (YIN's rule): the first trough below `threshold` (the first one avoids
      octave-down errors), or the deepest trough when none is below it;
    - octave_ratio r > 0: the first trough no deeper than r * best + octave_margin and below
      `threshold`, where best is the deepest trough (within octave_margin of best when best is
      not below `threshold`). A note whose fundamental is weak (a double bass's low string: odd
      harmonics 20 dB down) has a shallow trough at half its period that YIN's rule takes, an octave up;
      the true period's trough is several times deeper. A periodic sound's trough at twice its
      period is no deeper than at its period, so this does not fall an octave down either.

    Window length: lags up to sample_rate / fmin need N >= 2 * sample_rate / fmin. Longer lags
    than N // 2 are not searched, so the lowest pitch found is max(fmin, 2 * sample_rate / N):
    43.1 Hz for N = 2048 at 44.1 kHz.

    voiced = clamp(1 - d'(period), 0, 1), d' at the parabola's vertex: near 1 for periodic
    frames, typically 0.1-0.3 for noise, 0 for silence (d' is computed as if every d(tau) had a
    -100 dB floor added). Frames with no trough below `threshold` still get the estimate from
    the deepest trough in `pitch`, but voiced is at most 1 - threshold; frames with no trough
    at all in the searched lags (silence, DC, a tone above fmax) read the shortest lag (fmax)
    and voiced 0. Consumers treat voiced < 0.5 as unvoiced.
    """
    yin = YinSettings(frame.shape[-1], float(sample_rate), fmin, fmax, threshold, octave_ratio, octave_margin)
    like = frame.new_zeros(1)
    spectra = torch.fft.rfft(frame.unsqueeze(-2) * yin.masks(like)[:2], dim=-1)
    return yin_pitch(frame, spectra[..., 0, :], spectra[..., 1, :], yin.lags(like), yin.floor_at_start(like),
                     yin.order(like), yin.search_lags(like), yin.constants(like), yin.floor, yin.min_lag, yin.max_lag,
                     yin.threshold, yin.octave_ratio)


class YinSettings:
    """The lag range and constants of YIN on N-sample frames (see `pitch_midi`)."""

    def __init__(self, length: int, sample_rate: float, fmin: float, fmax: float, threshold: float = 0.1,
                 octave_ratio: float = 0.0, octave_margin: float = 0.0, level: float = 1.0):
        self.length = int(length)
        self.sample_rate = float(sample_rate)
        self.max_lag = min(int(math.ceil(float(sample_rate) / fmin)), length // 2)
        self.min_lag = max(int(math.floor(float(sample_rate) / fmax)), 2)
        if self.min_lag > self.max_lag - 2:
            raise ValueError("pitch_midi: the window is too short for fmax")
        self.integration = length - self.max_lag
        # d(tau) is read as if a -100 dB floor were added to every sample's square: silence
        # then reads d' = 1 (unvoiced) instead of 0 / 0. `level`: the gain of the frames YIN is
        # given (the floor follows it, so that a gain left out saves an op and changes nothing).
        self.floor = float(self.integration) * 1e-10 * float(level) ** 2
        self.threshold = float(threshold)
        self.octave_ratio = float(octave_ratio)
        self.octave_margin = float(octave_margin)

    def masks(self, like: torch.Tensor) -> torch.Tensor:
        """[3, N]: the integration head (first L samples), the whole frame, and the periodic Hann
        window, so one rfft of frame * masks gives YIN's two spectra and the descriptors' one."""
        head = torch.zeros(self.length, dtype=like.dtype, device=like.device)
        head[: self.integration] = 1.0
        whole = torch.ones(self.length, dtype=like.dtype, device=like.device)
        hann = torch.hann_window(self.length, periodic=True, dtype=like.dtype, device=like.device)
        return torch.stack([head, whole, hann])

    def lags(self, like: torch.Tensor) -> torch.Tensor:
        return torch.arange(1, self.max_lag + 1, dtype=like.dtype, device=like.device)

    def floor_at_start(self, like: torch.Tensor) -> torch.Tensor:
        """[N]: the floor at the first sample, zeros after. Added to the squares before their
        prefix sum, it reaches the head's energy and cancels from every lagged window's, so
        every d(tau) gets it once without an op of its own."""
        start = torch.zeros(self.length, dtype=like.dtype, device=like.device)
        start[0] = self.floor
        return start

    def order(self, like: torch.Tensor) -> torch.Tensor:
        """Argmin keys of the acceptable troughs: the first (shortest lag) lowest, all below any
        other key (d' >= 0)."""
        searched = self.max_lag - self.min_lag
        return torch.arange(1, searched + 1, dtype=like.dtype, device=like.device) * 1e-4 - 10.0

    def search_lags(self, like: torch.Tensor) -> torch.Tensor:
        """The lag of each searched d' value: min_lag .. max_lag - 1."""
        return torch.arange(self.min_lag, self.max_lag, dtype=like.dtype, device=like.device)

    def constants(self, like: torch.Tensor) -> torch.Tensor:
        """[5]: 2 (what lifts a non-trough's key above every trough's), 1, octave_ratio,
        octave_margin, and the pitch in MIDI of a one-sample period. Tensors rather than Python
        numbers: an op with a number operand converts it to a tensor on every call, which costs
        as much as the op when streaming hop by hop; a frozen model folds their slices."""
        unit_period_midi = 69.0 + 12.0 * math.log(self.sample_rate / 440.0) / math.log(2.0)
        return torch.tensor([2.0, 1.0, self.octave_ratio, self.octave_margin, unit_period_midi],
                            dtype=like.dtype, device=like.device)


def yin_difference(frame: torch.Tensor, head_spectrum: torch.Tensor, spectrum: torch.Tensor, lags: torch.Tensor,
                   max_lag: int, floor_at_start: torch.Tensor, floor: float) -> torch.Tensor:
    """YIN's cumulative-mean-normalised difference d'(tau) for tau = 1..max_lag, [..., max_lag]
    (index i is lag i + 1), given rfft(frame * head mask) and rfft(frame) (YinSettings.masks),
    YinSettings.floor_at_start and YinSettings.floor."""
    length = frame.shape[-1]
    integration = length - max_lag
    # Cross-correlation of the first L samples with the whole frame, lags 1..max_lag. Since
    # L + max_lag = N, no lag wraps around a length-N circular correlation.
    correlation = torch.fft.irfft(torch.conj(head_spectrum) * spectrum, n=length, dim=-1)[..., 1: max_lag + 1]
    # energy[i] = floor + sum of x[j]^2 for j <= i: the head is energy[L - 1], the window lagged
    # by tau is energy[L + tau - 1] - energy[tau - 1] (the floor cancels there).
    energy = torch.cumsum(torch.addcmul(floor_at_start, frame, frame), dim=-1)
    lagged_energy = energy[..., integration: integration + max_lag] - energy[..., :max_lag]
    # d(tau) for tau = 1..max_lag with the floor, never below it; then cumulative mean normalised.
    difference = torch.clamp(torch.sub(lagged_energy + energy[..., integration - 1: integration], correlation,
                                       alpha=2.0), min=floor)
    return difference * lags / torch.cumsum(difference, dim=-1)


def yin_pitch(frame: torch.Tensor, head_spectrum: torch.Tensor, spectrum: torch.Tensor, lags: torch.Tensor,
              floor_at_start: torch.Tensor, order: torch.Tensor, search_lags: torch.Tensor, constants: torch.Tensor,
              floor: float, min_lag: int, max_lag: int, threshold: float,
              octave_ratio: float = 0.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """`pitch_midi` given rfft(frame * head mask), rfft(frame) and YinSettings' constants.
    Written for few ops per call (each costs about a microsecond when streaming hop by hop):
    the parabola through every searched lag is had at once, then one argmin picks the trough
    and two gathers read its period and depth."""
    normalised = yin_difference(frame, head_spectrum, spectrum, lags, max_lag, floor_at_start, floor)  # index i: lag i + 1
    two, one = constants[0:1], constants[1:2]
    ratio, margin, unit_period_midi = constants[2:3], constants[3:4], constants[4:5]

    # Each searched d' value with its neighbours: a trough, and the parabola through the three
    # (vertex offset and floor). At a trough the vertex lies within half a lag, so its floor is
    # the trough's interpolated depth.
    middle = normalised[..., min_lag - 1: max_lag - 1]
    left, right = normalised[..., min_lag - 2: max_lag - 2], normalised[..., min_lag: max_lag]
    trough = (middle < left) & (middle <= right)
    slope = left - right
    curvature = torch.clamp(torch.sub(left + right, middle, alpha=2.0), min=1e-12)
    vertex = slope / (curvature + curvature)  # the vertex's offset from the middle lag
    depth = torch.clamp(torch.addcmul(middle, slope, vertex, value=-0.25), min=0.0)
    # One argmin picks the period: acceptable troughs key by lag below -9.9 (the first lowest),
    # other troughs by depth, other lags by 2 (with no trough, the shortest lag: unvoiced).
    # Depths compare troughs by their interpolated floor: a short period between two whole
    # lags (2 kHz is 22.05 samples) has a shallow sampled trough but a deep true one.
    key = torch.where(trough, depth, two)
    if octave_ratio > 0.0:
        # Within the octave rule's ratio of the deepest, and below the threshold; when no trough
        # is below it, within octave_margin of the deepest (a new note over the last one's tail,
        # both repeating at three of its periods: the deepest trough is there, the new note's
        # own barely shallower).
        best = key.amin(-1, keepdim=True)
        acceptable = key <= torch.minimum(torch.addcmul(margin, best, ratio),
                                          torch.clamp(best + margin, min=threshold))
        chosen = torch.argmin(torch.where(acceptable, order, key), dim=-1, keepdim=True)
    else:
        # YIN's rule on the sampled troughs: the first below the threshold, else the deepest.
        sampled = torch.where(trough, middle, two)
        chosen = torch.argmin(torch.where(sampled < threshold, order, sampled), dim=-1, keepdim=True)

    # Within a lag either side (the vertex of a trough is within half a lag; with no trough the
    # shortest lag is read, whose neighbours need not bracket a vertex).
    period = (search_lags + torch.clamp(vertex, -1.0, 1.0)).gather(-1, chosen).squeeze(-1)
    pitch = torch.sub(unit_period_midi, torch.log2(period), alpha=12.0)
    # Voiced: 1 - the trough's depth; 0 where no trough was found.
    voiced = torch.clamp(one - key.gather(-1, chosen).squeeze(-1), 0.0, 1.0)
    return pitch, voiced


# ---------------------------------------------------------------------------------------------
# What a model's analyze() runs per hop: every descriptor from one spectrum of each causal
# window, with the window, bin frequencies and loudness weights computed once. Same math as the
# functions above (they share the helpers), so the tests of those functions cover it.


class CausalWindows(torch.nn.Module):
    """Streams of causal analysis windows: each hop of a block [B, 1, T] gets the `reach`
    samples ending at its end, [B, F, reach] (reach defaults to `window`, the spectra's length);
    the reach - hop samples before the block are carried in `history` (zeros after `reset()`),
    so streaming equals offline. A reach beyond the window serves a longer pitch analysis; the
    spectra use each frame's last `window` samples."""

    def __init__(self, hop: int, window: int, reach: int = 0):
        super().__init__()
        reach = max(int(reach), int(window))
        if window < hop:
            raise ValueError("CausalWindows: window must be at least hop")
        self.hop = int(hop)
        self.window = int(window)
        self.reach = reach
        self.register_buffer("hann", torch.hann_window(window, periodic=True))
        self.register_buffer("history", torch.zeros(1, 1, reach - hop))

    @torch.jit.export
    def reset(self):
        self.history = torch.zeros(1, 1, self.reach - self.hop, device=self.hann.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.history.shape[0] != x.shape[0] or self.history.dtype != x.dtype or self.history.device != x.device:
            self.history = zero_history(x, self.hop, self.reach)
        frames, history = causal_frames(x, self.hop, self.reach, self.history)
        self.history = history.detach()
        return frames

    @torch.jit.export
    def power_spectrum(self, frames: torch.Tensor) -> torch.Tensor:
        """|rfft|^2 of each frame's last `window` samples, Hann-windowed: [B, F, window // 2 + 1]."""
        if self.reach > self.window:
            frames = frames[..., self.reach - self.window:]
        return torch.fft.rfft(frames * self.hann, dim=-1).abs().pow(2)


class DescriptorAnalyzer(torch.nn.Module):
    """Causal descriptor stream: [B, 1, T] (T a multiple of hop) -> [B, len(names), T // hop],
    every descriptor from one spectrum of each CausalWindows window. Names outside the
    vocabulary read 0. `reset()` clears the history."""

    def __init__(self, names: List[str], sample_rate: int, hop: int, window: int,
                 pitch_fmin: float = 40.0, pitch_fmax: float = 2000.0, pitch_window: int = 0,
                 octave_ratio: float = 0.0, octave_margin: float = 0.0, pitch_highpass: int = 0,
                 pitch_latest: bool = False, pitch_decimation: int = 1):
        super().__init__()
        if len(names) == 0:
            raise ValueError("DescriptorAnalyzer: no descriptors to analyse")
        self.names: List[str] = list(names)
        self.sample_rate = int(sample_rate)
        self.has_pitch = "pitch" in self.names
        # The pitch may look further back than the spectra: low notes need two periods (30 Hz:
        # 2940 samples at 44.1 kHz), the spectral descriptors a short window for time detail.
        self.pitch_window = max(int(pitch_window), int(window)) if self.has_pitch else int(window)
        self.window = int(window)
        # YIN may read the window with its local mean over `pitch_highpass` samples removed (a
        # gentle high-pass: a plucked bass's sub-octave thump no longer looks like a period
        # twice as long); the windows then reach that much further back.
        self.pitch_highpass = int(pitch_highpass) if self.has_pitch else 0
        # YIN compares the first L samples of its window with the window lagged (L = window -
        # the longest lag). With `pitch_latest` the window is read backwards, so the L compared
        # are the newest: a short period (a high note) is read from the last L + period samples,
        # not from the oldest, and a new note is not read through the previous one's release
        # (which repeats with it at three or four of its periods when the leap is a twelfth or
        # two octaves). Long periods still reach back through the whole window.
        self.pitch_latest = bool(pitch_latest) and self.has_pitch
        # YIN may run at 1/pitch_decimation of the rate, on the window low-passed by its mean
        # over 2 * pitch_decimation samples (zeros at multiples of half the decimated rate: 11
        # and 22 kHz for 2 at 44.1 kHz) and sampled at every pitch_decimation-th sample ending
        # with the newest. A pitch window of 4096 then costs FFTs of 4096 / decimation,
        # which is most of the analysis's cost hop by hop.
        self.pitch_decimation = max(int(pitch_decimation), 1) if self.has_pitch else 1
        self.pitch_lowpass = 2 * self.pitch_decimation if self.pitch_decimation > 1 else 0
        # The low-pass sums its samples rather than averaging them (an op saved): the pitch
        # input's gain, which YIN's floor and the high-pass follow.
        self.pitch_gain = float(max(self.pitch_lowpass, 1))
        if self.pitch_window % self.pitch_decimation != 0:
            raise ValueError("DescriptorAnalyzer: pitch_window must be a multiple of pitch_decimation")
        # The high-pass's history also serves the low-pass; without one, the low-pass needs its own.
        self.pitch_history = max(self.pitch_highpass, self.pitch_lowpass)
        self.reach = self.pitch_window + self.pitch_history
        self.windows = CausalWindows(hop, window, self.reach)
        like = torch.zeros(1)
        self.register_buffer("freqs", _bin_frequencies_hz(window, sample_rate, like))
        self.register_buffer("weights", loudness_weights(window, sample_rate, like))
        self.register_buffer("flatness_weights", flatness_weights(window // 2 + 1, like), persistent=False)
        self.needs_magnitude = "centroid" in self.names or "bandwidth" in self.names
        # YIN's constants (derived, so not in checkpoints).
        self.pitch_rate = float(sample_rate) / float(self.pitch_decimation)
        yin_length = self.pitch_window // self.pitch_decimation
        yin = YinSettings(yin_length, self.pitch_rate, pitch_fmin, pitch_fmax, 0.1, octave_ratio,
                          octave_margin, level=self.pitch_gain) if self.has_pitch else None
        self.min_lag = yin.min_lag if yin else 0
        self.max_lag = yin.max_lag if yin else 0
        self.threshold = yin.threshold if yin else 0.0
        self.octave_ratio = yin.octave_ratio if yin else 0.0
        self.octave_margin = yin.octave_margin if yin else 0.0
        self.yin_floor = yin.floor if yin else 0.0
        # How the descriptors' spectrum is had: from YIN's own rfft when the pitch window is the
        # spectra's window ("shared"); as a third row of YIN's rfft when YIN's length is a whole
        # multiple of the window ("padded": the Hann-windowed last `window` samples at the end of
        # a zero row; every (length / window)-th bin is then exactly their window-point DFT);
        # otherwise by an rfft of its own.
        self.shared_fft = self.reach == self.window and self.pitch_decimation == 1
        self.padded_fft = (not self.shared_fft and self.has_pitch and yin_length >= window
                           and yin_length % window == 0)
        self.padded_step = yin_length // window if self.padded_fft else 1
        masks = yin.masks(like) if yin else torch.zeros(3, window)
        if self.padded_fft:
            masks[2].zero_()
            masks[2, yin_length - window:] = torch.hann_window(window, periodic=True)
        self.register_buffer("yin_masks", masks if self.shared_fft or self.padded_fft else masks[:2],
                             persistent=False)
        empty = torch.zeros(0)
        self.register_buffer("yin_lags", yin.lags(like) if yin else empty, persistent=False)
        self.register_buffer("yin_floor_at_start", yin.floor_at_start(like) if yin else empty, persistent=False)
        self.register_buffer("yin_order", yin.order(like) if yin else empty, persistent=False)
        self.register_buffer("yin_search_lags", yin.search_lags(like) if yin else empty, persistent=False)
        self.register_buffer("yin_constants", yin.constants(like) if yin else empty, persistent=False)
        # The spectral descriptors' numbers as tensors (see YinSettings.constants): the loudness
        # floor (1e-10), 10 (dB per decade), the magnitudes' floor (1e-9).
        self.register_buffer("spectral_constants", torch.tensor([1e-10, 10.0, 1e-9]), persistent=False)

    @torch.jit.export
    def reset(self):
        self.windows.reset()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.describe(self.windows(x))[0]

    def pitch_input(self, frames: torch.Tensor) -> torch.Tensor:
        """What YIN reads of causal windows [B, F, reach]: the last pitch_window samples, high-
        passed (less their mean over pitch_highpass samples), low-passed (their mean over
        pitch_lowpass, times pitch_lowpass) and decimated, all from one cumulative sum; newest
        first with pitch_latest. [B, F, pitch_window // pitch_decimation]."""
        pitch_frames = frames
        if self.pitch_history > 0:
            step = self.pitch_decimation
            first = self.pitch_history + step - 1   # the kept samples end with the newest
            sums = torch.cumsum(frames, dim=-1)
            now = sums[..., first::step]
            # The low-pass is the sum of the last pitch_lowpass samples (their mean times
            # pitch_gain), so the high-pass subtracts its mean times that.
            gain = self.pitch_gain
            if self.pitch_lowpass > 0:
                pitch_frames = now - sums[..., first - self.pitch_lowpass: self.reach - self.pitch_lowpass: step]
            else:
                pitch_frames = frames[..., first::step]
            if self.pitch_highpass > 0:
                high = self.pitch_highpass
                # less gain * (now - then) / high, in two ops
                pitch_frames = torch.add(torch.sub(pitch_frames, now, alpha=gain / float(high)),
                                         sums[..., first - high: self.reach - high: step], alpha=gain / float(high))
        if self.pitch_latest:
            pitch_frames = torch.flip(pitch_frames, [-1])
        return pitch_frames

    @torch.jit.export
    def describe(self, frames: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Descriptors [B, D, F] of causal windows [B, F, window], and the pitch voicing [B, F]
        (zeros without a pitch descriptor) from the same YIN pass."""
        descriptors, voiced, _ = self.describe_with_power(frames)
        return descriptors, voiced

    @torch.jit.export
    def describe_with_power(self, frames: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`describe`, plus the Hann-windowed power spectrum [B, F, window // 2 + 1] it measured
        (the same values as windows.power_spectrum(frames)), for a model whose encoder reads it."""
        if self.has_pitch:
            pitch_frames = self.pitch_input(frames)
            if self.padded_fft:
                rows = torch.stack([pitch_frames, pitch_frames, frames[..., self.reach - pitch_frames.shape[-1]:]], -2)
                spectra = torch.fft.rfft(rows * self.yin_masks, dim=-1).unbind(-2)
            else:
                spectra = torch.fft.rfft(pitch_frames.unsqueeze(-2) * self.yin_masks, dim=-1).unbind(-2)
            pitch, voiced = yin_pitch(pitch_frames, spectra[0], spectra[1], self.yin_lags, self.yin_floor_at_start,
                                      self.yin_order, self.yin_search_lags, self.yin_constants, self.yin_floor,
                                      self.min_lag, self.max_lag, self.threshold, self.octave_ratio)
            if self.shared_fft:
                magnitude = spectra[2].abs()
            elif self.padded_fft:
                # abs before the stride: complex abs on a strided view costs twice as much
                magnitude = spectra[2].abs()[..., :: self.padded_step]
            else:
                magnitude = torch.fft.rfft(frames[..., self.reach - self.window:] * self.windows.hann, dim=-1).abs()
        else:
            magnitude = torch.fft.rfft(frames * self.windows.hann, dim=-1).abs()
            pitch = torch.zeros(0)
            voiced = torch.zeros(frames.shape[0], frames.shape[1], dtype=frames.dtype, device=frames.device)
        power = magnitude * magnitude
        constants = self.spectral_constants
        loudness_floor, db_per_decade, magnitude_floor = constants[0:1], constants[1:2], constants[2:3]
        # Centroid and bandwidth share the normalised magnitude and the centroid; matrix
        # products stand in for multiply-and-sum (fewer ops per streaming call, same sums).
        centroid = torch.zeros(0)
        bandwidth = torch.zeros(0)
        if self.needs_magnitude:
            weights = magnitude / (magnitude.sum(-1, keepdim=True) + magnitude_floor)
            centroid = torch.matmul(weights, self.freqs)
            if "bandwidth" in self.names:
                distance = self.freqs - centroid.unsqueeze(-1)
                bandwidth = torch.sqrt((weights * distance * distance).sum(-1))
        out: List[torch.Tensor] = []
        for name in self.names:
            if name == "loudness":
                mean_square = torch.matmul(power, self.weights)
                out.append(torch.clamp(torch.log10(mean_square + loudness_floor) * db_per_decade, min=-100.0))
            elif name == "pitch":
                out.append(pitch)
            elif name == "centroid":
                out.append(centroid)
            elif name == "bandwidth":
                out.append(bandwidth)
            elif name == "flatness":
                out.append(_flatness_from_power(power, self.flatness_weights))
            else:
                out.append(torch.zeros(frames.shape[0], frames.shape[1], dtype=frames.dtype, device=frames.device))
        return torch.stack(out, 1), voiced, power


def pitch_analyzer_like(module) -> DescriptorAnalyzer:
    """A pitch-only analyzer with the analysis settings a model file keeps (window, pitch_fmin,
    pitch_fmax and, in files exported since they exist, pitch_window, octave_ratio,
    octave_margin, pitch_highpass, pitch_latest and pitch_decimation): the voicing that goes
    with the pitch its analyze() returns."""
    def setting(name: str, default):
        return getattr(module, name) if hasattr(module, name) else default

    return DescriptorAnalyzer(["pitch"], int(module.sample_rate), int(module.hop_length), int(module.window),
                              float(module.pitch_fmin), float(module.pitch_fmax), int(setting("pitch_window", 0)),
                              float(setting("octave_ratio", 0.0)), float(setting("octave_margin", 0.0)),
                              int(setting("pitch_highpass", 0)), bool(setting("pitch_latest", False)),
                              int(setting("pitch_decimation", 1)))


__all__ = ["pitch_analyzer_like", "yin_difference", "SILENCE_DB", "frames", "loudness_db", "spectral_centroid_hz", "db_to_gain", "zero_history",
           "causal_frames", "a_weighting_power", "perceptual_loudness_db", "spectral_bandwidth_hz",
           "spectral_flatness_db", "flatness_weights", "pitch_midi", "YinSettings", "yin_pitch", "loudness_weights", "CausalWindows", "DescriptorAnalyzer"]
