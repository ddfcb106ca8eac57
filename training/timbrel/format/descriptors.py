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
    return _flatness_given_mean(power, torch.matmul(power, weights[0].unsqueeze(-1)), weights)


def _flatness_given_mean(floored: torch.Tensor, mean: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Flatness in dB of the power floored at 1e-10, given its mean [..., 1]."""
    return torch.matmul(torch.log(floored / mean), weights[1])


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


# ---------------------------------------------------------------------------------------------
# One real DFT of length N = N1 * N2 in two stages (Cooley-Tukey's four-step split): a DFT over
# N1 as a matrix product, twiddles, then torch.fft over N2. Why: the wheel's MKL plans every
# torch.fft call afresh and computes O(N) twiddles each time, so hop by hop a 2048-point rfft
# or irfft costs about 30 us, mostly planning; a 16-point DFT costs less as a matrix product
# than as a transform call, and a 128-point transform plans in a few us. The constants are
# buffers, which a frozen model folds.
# Layout of one signal's spectrum: [..., N1 // 2 + 1, N2], entry (k1, k2) is bin k1 + N1 * k2
# of the length-N DFT; the bins it leaves out are the conjugates of bins it holds (a real
# signal's spectrum). Measured hop by hop, the shipped analysis's forward and inverse transforms
# cost 46 us this way against 69 us as one rfft and one irfft.


class SplitFFT(torch.nn.Module):
    """Real DFTs of length N (a power of two >= 256) in the split layout, and their inverse's
    first `keep` samples. N1 = 16. Several signals transform together in the row-interleaved
    layout [..., N1, R, N2] (`interleaved`), which makes the first stage one matrix product."""

    def __init__(self, length: int, keep: int):
        super().__init__()
        if length < 256 or length & (length - 1) != 0:
            raise ValueError("SplitFFT: the length must be a power of two of at least 256")
        first, second = 16, length // 16
        half = first // 2 + 1
        self.length = int(length)
        self.first = first
        self.second = second
        self.half = half
        keep_rows = -(-int(keep) // second)
        if not 0 < keep_rows <= first:
            raise ValueError("SplitFFT: keep must be within the length")
        k1 = torch.arange(half, dtype=torch.float64).unsqueeze(-1)
        n1 = torch.arange(first, dtype=torch.float64).unsqueeze(0)
        angle = -2.0 * math.pi * k1 * n1 / first
        # [2 * half, N1]: the real parts' rows, then the imaginary parts'
        self.register_buffer("first_stage", torch.cat([torch.cos(angle), torch.sin(angle)]).float(), persistent=False)
        n2 = torch.arange(second, dtype=torch.float64).unsqueeze(0)
        twiddles = torch.polar(torch.ones(half, second, dtype=torch.float64), -2.0 * math.pi * k1 * n2 / length)
        self.register_buffer("twiddles", twiddles.unsqueeze(1).to(torch.complex64), persistent=False)
        self.register_buffer("inverse_twiddles", twiddles.conj().to(torch.complex64), persistent=False)
        # The inverse's last stage, only the rows kept: a real signal's N1-point inverse DFT from
        # its half spectrum (bins 1 .. N1/2 - 1 count twice, as their conjugates), 1 / N scaled
        # with the 1 / N2 of torch.fft.ifft.
        rows = torch.arange(keep_rows, dtype=torch.float64).unsqueeze(-1)
        bins = torch.arange(half, dtype=torch.float64).unsqueeze(0)
        weight = torch.where((bins == 0) | (bins == first // 2), 1.0, 2.0).double() / first
        self.register_buffer("last_stage", torch.polar(weight.expand(keep_rows, half).contiguous(),
                                                       2.0 * math.pi * rows * bins / first).to(torch.complex64),
                             persistent=False)

    def interleaved(self, rows: torch.Tensor) -> torch.Tensor:
        """Signals [..., R, N] as a view in the row-interleaved layout [..., N1, R, N2]. An
        elementwise op whose first operand is contiguous in that layout (a mask) writes its
        result contiguous in it."""
        return rows.unflatten(-1, [self.first, self.second]).transpose(-3, -2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The DFTs of row-interleaved signals [..., N1, R, N2]: [..., N1 // 2 + 1, R, N2]."""
        stage = torch.matmul(self.first_stage, x.flatten(-2)).unflatten(-1, [x.shape[-2], self.second])
        return torch.fft.fft(torch.complex(stage.narrow(-3, 0, self.half), stage.narrow(-3, self.half, self.half))
                             * self.twiddles, dim=-1)

    @torch.jit.export
    def inverse(self, spectrum: torch.Tensor) -> torch.Tensor:
        """The first `keep` samples (rounded up to whole N2 rows) of the real signal whose
        split-layout spectrum is `spectrum`: [..., N1 // 2 + 1, N2] -> [..., rows * N2]."""
        return torch.matmul(self.last_stage, torch.fft.ifft(spectrum, dim=-1) * self.inverse_twiddles).real.flatten(-2)

    def bins(self, count: int, step: int = 1, row: int = 0, rows: int = 1) -> torch.Tensor:
        """[count]: where bins 0, step, 2 * step, ... of signal `row` of `rows` lie in the
        flattened layout [..., N1 // 2 + 1, R, N2] (a bin past the held half is read from its
        conjugate, which has its magnitude)."""
        k = torch.arange(count, dtype=torch.long) * step
        held = torch.remainder(k, self.first) <= self.first // 2
        k = torch.where(held, k, self.length - k)
        return (torch.remainder(k, self.first) * rows + row) * self.second + torch.div(k, self.first,
                                                                                      rounding_mode="floor")


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
    return yin_choose(normalised, order, search_lags, constants, min_lag, max_lag, threshold, octave_ratio)


def yin_choose(normalised: torch.Tensor, order: torch.Tensor, search_lags: torch.Tensor, constants: torch.Tensor,
               min_lag: int, max_lag: int, threshold: float,
               octave_ratio: float = 0.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """(pitch, voiced) from d' [..., max_lag] (index i: lag i + 1; yin_difference) and
    YinSettings' constants: the trough rule of `pitch_midi`."""
    two, one = constants[0:1], constants[1:2]
    ratio, margin, unit_period_midi = constants[2:3], constants[3:4], constants[4:5]

    # Each searched d' value with its neighbours: a trough, and the parabola through the three
    # (vertex offset and floor). At a trough the vertex lies within half a lag, so its floor is
    # the trough's interpolated depth.
    middle = normalised[..., min_lag - 1: max_lag - 1]
    left, right = normalised[..., min_lag - 2: max_lag - 2], normalised[..., min_lag: max_lag]
    trough = middle < torch.minimum(left, right)  # (an exact tie, which d' in floats hardly has, is none)
    slope = left - right
    curvature = torch.clamp(torch.sub(left + right, middle, alpha=2.0), min=1e-12)
    twice_vertex = slope / curvature  # twice the vertex's offset from the middle lag
    depth = torch.clamp(torch.addcmul(middle, slope, twice_vertex, value=-0.125), min=0.0)
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
    period = torch.add(search_lags, torch.clamp(twice_vertex, -2.0, 2.0), alpha=0.5).gather(-1, chosen).squeeze(-1)
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
        if self.pitch_lowpass > 0 and self.pitch_highpass > 0:
            # both filters in two ops: the input scaled by pitch_highpass / pitch_lowpass
            self.pitch_gain = float(self.pitch_highpass)
        if self.pitch_window % self.pitch_decimation != 0:
            raise ValueError("DescriptorAnalyzer: pitch_window must be a multiple of pitch_decimation")
        # The high-pass's history also serves the low-pass; without one, the low-pass needs its own.
        self.pitch_history = max(self.pitch_highpass, self.pitch_lowpass)
        self.reach = self.pitch_window + self.pitch_history
        self.windows = CausalWindows(hop, window, self.reach)
        like = torch.zeros(1)
        self.register_buffer("freqs", _bin_frequencies_hz(window, sample_rate, like))
        self.register_buffer("weights", loudness_weights(window, sample_rate, like))
        # [bins, 3]: 1, f, f^2 (f in Hz), for the magnitude's moments
        self.register_buffer("frequency_moments", torch.stack([torch.ones_like(self.freqs), self.freqs,
                                                               self.freqs.double().pow(2).float()], -1),
                             persistent=False)
        self.register_buffer("flatness_weights", flatness_weights(window // 2 + 1, like), persistent=False)
        self.register_buffer("power_weights", torch.stack([self.weights, self.flatness_weights[0]], -1),
                             persistent=False)
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
        self.spectral_row_start = self.reach - yin_length  # the padded row's samples in a window
        # The split path (the shipped analysis: newest samples compared, a padded spectrum, a
        # power-of-two length): every transform is a split one (SplitFFT), and YIN's lagged
        # energies come from the transforms too, so the window is neither flipped nor summed.
        self.split_fft = (self.padded_fft and self.pitch_latest and yin_length >= 256
                          and yin_length & (yin_length - 1) == 0)
        masks = yin.masks(like) if yin else torch.zeros(3, window)
        if self.padded_fft:
            masks[2].zero_()
            masks[2, yin_length - window:] = torch.hann_window(window, periodic=True)
        # (unused off the split path: a small one keeps the attribute's type)
        self.split = SplitFFT(yin_length if self.split_fft else 256, self.max_lag + 1 if self.split_fft else 1)
        tail_spectrum = torch.zeros(0, dtype=torch.complex64)
        if self.split_fft:
            # Rows: the newest L samples, the window, its squares, the padded spectrum's samples.
            newest = torch.flip(masks[0], [0])
            masks = self.split.interleaved(torch.stack([newest, masks[1], masks[1], masks[2]])).contiguous()
            tail_spectrum = self.split(self.split.interleaved(newest.unsqueeze(0))).squeeze(-2)
        self.register_buffer("yin_masks", masks if self.shared_fft or self.padded_fft else masks[:2],
                             persistent=False)
        self.register_buffer("yin_tail_spectrum", tail_spectrum, persistent=False)
        # the padded spectrum is row 3 of describe_split's 4
        self.register_buffer("spectral_bins", self.split.bins(window // 2 + 1, self.padded_step, 3, 4)
                             if self.split_fft else torch.zeros(0, dtype=torch.long), persistent=False)
        # YIN's floor (see YinSettings.floor_at_start) on the one square that every lagged
        # window holds and the newest L do not (index N - L - 1 = max_lag - 1): d(tau) then gets
        # it once for every lag.
        square_floor = torch.zeros(yin_length if self.split_fft else 0)
        if self.split_fft:
            square_floor[self.max_lag - 1] = self.yin_floor
        self.register_buffer("yin_square_floor", square_floor, persistent=False)
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
        first with pitch_latest, except on the split path, whose masks pick the newest samples.
        [B, F, pitch_window // pitch_decimation]."""
        pitch_frames = frames
        if self.pitch_history > 0:
            step = self.pitch_decimation
            first = self.pitch_history + step - 1   # the kept samples end with the newest
            sums = torch.cumsum(frames, dim=-1)
            now = sums[..., first::step]
            # The low-pass is the sum of the last pitch_lowpass samples (their mean times
            # pitch_lowpass), so the high-pass subtracts its mean times that.
            low, high = self.pitch_lowpass, self.pitch_highpass
            if low > 0 and high > 0:
                # (now - then_low) - (low / high) * (now - then_high), times high / low (fewer ops;
                # pitch_gain is high): then_high + (high / low - 1) * now - (high / low) * then_low
                ratio = float(high) / float(low)
                pitch_frames = torch.sub(torch.add(sums[..., first - high: self.reach - high: step], now,
                                                   alpha=ratio - 1.0),
                                         sums[..., first - low: self.reach - low: step], alpha=ratio)
            elif low > 0:
                pitch_frames = now - sums[..., first - low: self.reach - low: step]
            else:
                pitch_frames = frames[..., first::step]
                if high > 0:
                    pitch_frames = torch.add(torch.sub(pitch_frames, now, alpha=1.0 / float(high)),
                                             sums[..., first - high: self.reach - high: step], alpha=1.0 / float(high))
        if self.pitch_latest and not self.split_fft:
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
        if self.split_fft:
            return self.describe_split(frames)
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
        return self.spectral(frames, magnitude, pitch, voiced)

    def describe_split(self, frames: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """describe_with_power on the split path (see split_fft in __init__)."""
        pitch_frames = self.pitch_input(frames)
        squares = torch.addcmul(self.yin_square_floor, pitch_frames, pitch_frames)
        rows = torch.stack([pitch_frames, pitch_frames, squares, frames[..., self.spectral_row_start:]], -2)
        spectra = self.split(self.yin_masks * self.split.interleaved(rows))
        newest, whole, square, _ = spectra.unbind(-2)
        # d(tau) = sum over the newest L samples i of (x[i] - x[i - tau])^2: the lagged
        # energies (the squares correlated with the newest-L mask) less twice the correlation;
        # at lag 0 the same sum reads minus the newest L's energy, which d(tau) adds.
        sums = self.split.inverse(torch.addcmul(self.yin_tail_spectrum * torch.conj(square), newest,
                                                torch.conj(whole), value=-2.0))
        difference = torch.clamp(sums[..., 1: self.max_lag + 1] - sums[..., 0:1], min=self.yin_floor)
        normalised = difference * self.yin_lags / torch.cumsum(difference, dim=-1)
        pitch, voiced = yin_choose(normalised, self.yin_order, self.yin_search_lags, self.yin_constants,
                                   self.min_lag, self.max_lag, self.threshold, self.octave_ratio)
        # gather, not index_select: index_select along the last dim of a complex tensor costs
        # 5 us a frame more, which a call of several hops (a low-latency model) pays per hop
        flat = spectra.flatten(-3)
        magnitude = torch.gather(flat, -1, self.spectral_bins.expand(flat.shape[0], flat.shape[1], -1)).abs()
        return self.spectral(frames, magnitude, pitch, voiced)

    def spectral(self, frames: torch.Tensor, magnitude: torch.Tensor, pitch: torch.Tensor,
                 voiced: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The descriptors from the Hann-windowed magnitude spectrum [B, F, window // 2 + 1] and
        the pitch: (descriptors [B, D, F], voiced, power)."""
        power = magnitude * magnitude
        constants = self.spectral_constants
        loudness_floor, db_per_decade, magnitude_floor = constants[0:1], constants[1:2], constants[2:3]
        # Centroid and bandwidth from the magnitude's first three moments, one matrix product
        # (fewer ops per streaming call): bandwidth^2 = E[f^2] - centroid^2.
        centroid = torch.zeros(0)
        bandwidth = torch.zeros(0)
        if self.needs_magnitude:
            moments = torch.matmul(magnitude, self.frequency_moments)
            moments = moments / (moments[..., 0:1] + magnitude_floor)
            centroid = moments[..., 1]
            if "bandwidth" in self.names:
                bandwidth = torch.sqrt(torch.clamp(torch.addcmul(moments[..., 2], centroid, centroid, value=-1.0),
                                                   min=0.0))
        # The loudness's weighted mean square and the flatness's mean power, one matrix product,
        # each with the 1e-10 floor (the flatness's mean: of the power, not of the power floored
        # bin by bin; the same at silence, 1e-10 apart at most).
        power_means = torch.matmul(power, self.power_weights) + loudness_floor
        out: List[torch.Tensor] = []
        for name in self.names:
            if name == "loudness":
                # never below SILENCE_DB: the mean square is a sum of non-negative terms
                out.append(torch.log10(power_means[..., 0]) * db_per_decade)
            elif name == "pitch":
                out.append(pitch)
            elif name == "centroid":
                out.append(centroid)
            elif name == "bandwidth":
                out.append(bandwidth)
            elif name == "flatness":
                out.append(_flatness_given_mean(torch.clamp(power, min=1e-10), power_means[..., 1:2],
                                                self.flatness_weights))
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
           "spectral_flatness_db", "flatness_weights", "pitch_midi", "YinSettings", "yin_pitch", "yin_choose", "SplitFFT", "loudness_weights", "CausalWindows", "DescriptorAnalyzer"]
