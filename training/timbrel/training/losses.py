"""The training objective's terms: the multi-scale spectral loss, the Fader-Network adversary
and its losses, and the descriptor tracking term (what the faders promise).

Per step the loop combines them as
  spectral(x, y) + kl_weight * KL(z) + fader_weight * adversarial(z) + tracking_weight * tracking
  + timbre_weight * timbre(z) + move_weight * latent_move(z) + snapshot_weight * snapshot(z held still)
  + identity_weight * identity(decoded outputs named as their instrument by InstrumentJudge)
while the adversary learns, in alternation, to predict the descriptors from z.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from ..format.vocabulary import in_octaves
from .distributed import shared_count

# The descriptors the tracking term shifts: the spectral shape ones. Pitch and loudness drive the
# harmonic-plus-noise synthesiser directly (the fundamental and the level), so they track by construction.
TRACKED = ("centroid", "bandwidth", "flatness")


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
    count = shared_count(weight.sum()).clamp(min=1.0)
    return (disc_each * weight).sum() / count, (adv_each * weight).sum() / count


class TimbreCentres(nn.Module):
    """The timbre term of a labelled (many-instrument) dataset: one learnt centre per instrument
    in latent space. An excerpt's mean z over its frames with signal is classified by its
    distance to the centres (softmax of minus the squared distance), and the loss is the
    cross-entropy with its instrument: it asks exactly what `timbrel eval` measures (the clip's
    mean z nearest to its own instrument's mean), while the adversary keeps the descriptors out.
    Without it the Fader model has no reason to keep instruments apart in z; measured on 16
    instruments, a clip was nearest its own named timbre for 58-88% of clips."""

    def __init__(self, instruments: int, latent_size: int):
        super().__init__()
        self.centres = nn.Parameter(torch.randn(instruments, latent_size) * 0.1)

    def forward(self, z: torch.Tensor, frames: Optional[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        """z [B, latent, F], frames [B, F] bool (None: all), labels [B] -> the mean cross-entropy."""
        means = excerpt_means(z, frames)                                                        # [B, latent]
        logits = -(means.unsqueeze(1) - self.centres.unsqueeze(0)).pow(2).sum(-1)               # [B, N]
        return F.cross_entropy(logits, labels)


def excerpt_means(z: torch.Tensor, frames: Optional[torch.Tensor]) -> torch.Tensor:
    """[B, latent]: each excerpt's mean z [B, latent, F] over its frames with signal [B, F] (None: all)."""
    weight = torch.ones_like(z[:, 0]) if frames is None else frames.to(z.dtype)
    return (z * weight.unsqueeze(1)).sum(-1) / weight.sum(-1, keepdim=True).clamp(min=1.0)


class InstrumentMeans:
    """A running mean per instrument of a per-excerpt value, followed during training: the mean z
    over each excerpt's frames with signal (what the export will name as the instrument's
    timbre: timbres.named_timbres takes the same mean over the training audio), or the mean
    pitch. An instrument starts at its first excerpt's value unless start_at gives them all."""

    def __init__(self, instruments: int, size: int, momentum: float = 0.98):
        self.momentum = momentum
        self.means = torch.zeros(instruments, size)
        self.seen = torch.zeros(instruments, dtype=torch.bool)

    def start_at(self, means: torch.Tensor) -> None:
        self.means = means.detach().float().cpu().clone()
        self.seen[:] = True

    def update(self, means: torch.Tensor, labels: torch.Tensor) -> None:
        """means [B, latent] of excerpts labelled [B]; one moving-average step per excerpt."""
        for mean, label in zip(means.detach().float().cpu(), labels.tolist()):
            if self.seen[label]:
                self.means[label].mul_(self.momentum).add_(mean, alpha=1.0 - self.momentum)
            else:
                self.means[label], self.seen[label] = mean, True

    def of(self, labels: torch.Tensor) -> torch.Tensor:
        return self.means[labels.cpu()].to(labels.device)

    def state_dict(self) -> dict:
        return {"means": self.means, "seen": self.seen}

    def load_state_dict(self, state: dict) -> None:
        self.means, self.seen = state["means"].clone(), state["seen"].clone()


def latent_move_loss(model, z: torch.Tensor, d: torch.Tensor, labels: torch.Tensor, centres: torch.Tensor,
                     skip_hops: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """What a morph asks of the decoder: z [B, latent, F] moved along the line from its own
    instrument's centre towards another's (z + m (c_other - c_own), m uniform in -0.5..1.5, the
    plugin's Morph range, centres [N, latent] detached) still decodes at the loudness and the
    spectral shape its descriptors d ask for. Mean |normalised error| of loudness and the
    tracked descriptors on the frames with signal after `skip_hops`. Without it, a latent
    beyond the named timbres decoded up to 16 dB quieter at the same loudness descriptor.
    Resets the model's streams."""
    names = list(model.descriptor_names)
    indices = [names.index("loudness")] + tracked_indices(model) if "loudness" in names else tracked_indices(model)
    batch, count = z.shape[0], centres.shape[0]
    others = (labels + torch.randint(1, count, (batch,), generator=generator).to(labels.device)) % count
    m = (torch.rand(batch, 1, 1, generator=generator) * 2.0 - 0.5).to(z.device)
    centres = centres.detach()
    moved = z + m * (centres[others] - centres[labels]).unsqueeze(-1)
    model.reset()
    y = model.decode(torch.cat([moved, d], 1))
    if y.requires_grad:
        # A moved latent can decode exact silence, where the bandwidth's square root has an
        # infinite slope: those frames are masked out, but 0 * inf would still reach the weights.
        y.register_hook(lambda grad: torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0))
    model.reset()
    measured = model.analyze(y)
    model.reset()
    mask = frames_with_signal(d[:, names.index("loudness")])[:, skip_hops:].to(z.dtype)
    error = (model.normalise_descriptors(measured, clamp=False)
             - model.normalise_descriptors(d, clamp=False))[:, indices, skip_hops:].abs()
    return (error * mask.unsqueeze(1)).sum() / (shared_count(mask.sum()) * len(indices) + 1e-9)


class InstrumentJudge(nn.Module):
    """Names an excerpt's instrument from its log-mel spectrogram (2048-point frames, 64 mels,
    level removed), pooled over time as mean and spread of a small convolutional stack: the
    identity term's judge. It learns from the real excerpts only (`fit_loss`); the decoder is
    asked (`identity_loss`) that its output be named as the excerpt's instrument. Measured on
    the many-instrument model before this term: its own reconstructions of held-out violin,
    viola, bassoon, alto sax and choir clips were named as trumpet or trombone by an MFCC
    classifier of the renders, though their spectral distance matched the single-instrument
    models', whose reconstructions it named right. The spectral loss does not ask for what
    tells neighbouring instruments apart; this term does."""

    def __init__(self, instruments: int, sample_rate: int, window: int = 2048, mels: int = 64, hidden: int = 128):
        super().__init__()
        from ..models.harmonic_noise import mel_filterbank

        self.window = window
        self.register_buffer("filters", mel_filterbank(sample_rate, window, mels))
        self.register_buffer("hann", torch.hann_window(window))
        self.net = nn.Sequential(
            nn.Conv1d(mels, hidden, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, hidden, 3, padding=1), nn.LeakyReLU(0.2))
        self.out = nn.Linear(2 * hidden, instruments)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio [B, 1, T] -> logits [B, instruments]."""
        x = audio.reshape(audio.shape[0], -1)
        power = torch.stft(x, self.window, self.window // 4, window=self.hann, return_complex=True).abs().pow(2)
        logmel = torch.log(torch.einsum("bkf,km->bmf", power, self.filters) + 1e-8)
        logmel = logmel - logmel.mean((1, 2), keepdim=True)  # the level is the loudness fader's, not the timbre's
        h = self.net(logmel)
        return self.out(torch.cat([h.mean(-1), h.std(-1)], 1))

    def fit_loss(self, audio: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self(audio.detach()), labels)

    def identity_loss(self, decoded: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self(decoded), labels)


class NaturalEstimate(nn.Module):
    """natural() learnt during training, for the transfer decode: the exported head's shape (one
    hidden layer from z and the normalised pitch and loudness to the normalised spectral
    descriptors), fitted online to the real excerpts' frames with signal. The export fits the
    model's own head afresh after training (training.natural)."""

    def __init__(self, model):
        super().__init__()
        from ..models.conditioning import NATURAL_DESCRIPTORS, NATURAL_HIDDEN

        self.predicted = [i for i, name in enumerate(model.descriptor_names) if name in NATURAL_DESCRIPTORS]
        self.net = nn.Sequential(nn.Linear(int(model.latent_size) + 2, NATURAL_HIDDEN), nn.LeakyReLU(0.2),
                                 nn.Linear(NATURAL_HIDDEN, len(self.predicted)))

    def fit_loss(self, model, z: torch.Tensor, d: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Mean squared error on the frames with signal [B, F]; z [B, latent, F] and d [B, D, F]
        are inputs only."""
        features = model.natural_features(torch.cat([z.detach(), d], 1))        # [B, F, latent + 2]
        target = model.normalise_descriptors(d)[:, self.predicted].transpose(1, 2)
        error = (self.net(features) - target).pow(2).mean(-1)                   # [B, F]
        weight = frames.to(error.dtype)
        return (error * weight).sum() / shared_count(weight.sum()).clamp(min=1.0)

    @torch.no_grad()
    def descriptors(self, model, z: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """d [B, D, F] with the spectral descriptors the timbre z [B, latent, F] naturally has
        there, in physical units (model.natural's rule)."""
        predicted = torch.clamp(self.net(model.natural_features(torch.cat([z, d], 1))).transpose(1, 2), -2.0, 2.0)
        normalised = model.normalise_descriptors(d, clamp=False).clone()
        normalised[:, self.predicted] = predicted
        out = d.clone()
        out[:, self.predicted] = model._denormalise(normalised)[:, self.predicted]
        return out


def transfer_decode(model, d: torch.Tensor, frames: torch.Tensor, latents: torch.Tensor, pitches: torch.Tensor,
                    natural: NaturalEstimate) -> torch.Tensor:
    """What a transfer plays (timbre_eval.decode_with_timbre's rule): each excerpt's loudness and
    pitch, the pitch moved by whole octaves nearest another instrument's mean pitch (pitches
    [B]), decoded with z held at that instrument's named timbre (latents [B, latent]) and the
    spectral descriptors `natural` gives that timbre there. Conditioning without gradient; the
    decoder's output [B, 1, T] with it. Resets the model's streams."""
    names = list(model.descriptor_names)
    d = d.detach().clone()
    if "pitch" in names:
        i = names.index("pitch")
        own = excerpt_means(d[:, i: i + 1], frames)[:, 0]
        d[:, i] = d[:, i] + 12.0 * torch.round((pitches - own) / 12.0).unsqueeze(-1)
    z = _held_still(latents, d)
    return _decode(model, z, natural.descriptors(model, z, d))


def _held_still(latents: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """latents [B, latent] as a z [B, latent, F] that stays put over d's frames, without gradient."""
    return latents.detach().unsqueeze(-1).expand(-1, -1, d.shape[-1])


def _decode(model, z: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """model.decode of z and d from a fresh stream, leaving the streams reset."""
    model.reset()
    y = model.decode(torch.cat([z, d], 1))
    model.reset()
    return y


def snapshot_loss(model, x: torch.Tensor, d: torch.Tensor, latents: torch.Tensor,
                  skip_hops: int) -> tuple[torch.Tensor, torch.Tensor]:
    """What the plugin's Snapshot source asks of the decoder: each excerpt x [B, 1, T] decoded
    with z held still at its own instrument's named timbre (latents [B, latent], the running
    mean z of that instrument, no gradient) and its own descriptors d must still be the excerpt
    (the multi-scale spectral loss after `skip_hops`). The decoder otherwise only ever sees the
    frame-by-frame z of real audio, never the constant mean it is given by a snapshot, a morph
    or a transfer. Returns (loss, the decoded audio). Resets the model's streams."""
    y = _decode(model, _held_still(latents, d), d)
    skip = skip_hops * int(model.hop_length)
    return multiscale_spectral_loss(x[..., skip:], y[..., skip:]), y


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


def frames_with_signal(loudness: torch.Tensor, range_db: float = 30.0) -> torch.Tensor:
    """[B, F] bool: the frames of loudness [B, F] (dB) within range_db of each item's loudest."""
    return loudness > loudness.amax(-1, keepdim=True) - range_db


def adversary_frames(model, d: torch.Tensor, range_db: float) -> torch.Tensor | None:
    """[B, F] bool: the frames the Fader adversary judges, those with signal (within range_db)
    and above the data's quietest useful level. Silence and near-silence carry no timbre, only
    their level: pushing z there to hide the level is noise in the gradient, and the latent
    probe of `timbrel eval` measures the frames with signal."""
    names = list(model.descriptor_names)
    if range_db <= 0 or "loudness" not in names:
        return None
    loudness = d[:, names.index("loudness")]
    return frames_with_signal(loudness, range_db) & (
        loudness > float(model.descriptor_min[names.index("loudness")]))


def tracked_indices(model) -> list[int]:
    return [i for i, name in enumerate(model.descriptor_names) if name in TRACKED]


def shifted_descriptors(model, d: torch.Tensor, shifts: torch.Tensor, tracked: list[int]) -> torch.Tensor:
    """d [B, D, F] with descriptor tracked[j] of item b moved by shifts[b, j] normalised units
    (the whole range is 2 units) as a fader shift moves it: octaves for Hz descriptors."""
    out = d.clone()
    for j, i in enumerate(tracked):
        low, high = float(model.descriptor_min[i]), float(model.descriptor_max[i])
        shift = shifts[:, j: j + 1]
        if in_octaves(model.descriptor_units[i]):
            out[:, i] = d[:, i] * torch.exp2(shift * (0.5 * (math.log2(high) - math.log2(low))))
        else:
            out[:, i] = d[:, i] + shift * (0.5 * (high - low))
    return out


def tracking_loss(model, z: torch.Tensor, d: torch.Tensor, shifts: torch.Tensor, skip_hops: int,
                  clarity_weight: float = 0.0) -> torch.Tensor:
    """Mean |normalise(analyze(decode(z, shifted d))) - normalise(shifted d)| over the tracked
    descriptors, on frames within 30 dB of each item's loudest (the others have no stable
    spectral shape) after the first skip_hops; plus clarity_weight * pitch_clarity_loss of the
    same output. Resets the model's streams."""
    tracked = tracked_indices(model)
    if not tracked:
        return z.new_zeros(())
    target = shifted_descriptors(model, d, shifts, tracked)
    model.reset()
    y = model.decode(torch.cat([z, target], 1))
    clarity = z.new_zeros(())
    if clarity_weight > 0 and "pitch" in model.descriptor_names:
        loudness = d[:, model.descriptor_names.index("loudness")]
        clarity = pitch_clarity_loss(y, target[:, model.descriptor_names.index("pitch")],
                                     frames_with_signal(loudness), int(model.hop_length), int(model.sample_rate),
                                     skip_hops)
    model.reset()
    measured = model.analyze(y)
    model.reset()
    loudness = d[:, model.descriptor_names.index("loudness")]
    mask = frames_with_signal(loudness)[:, skip_hops:].float()
    # Unclamped: an output far outside the range is where the gradient matters most.
    error = (model.normalise_descriptors(measured, clamp=False)
             - model.normalise_descriptors(target, clamp=False))[:, tracked, skip_hops:].abs()
    return (error * mask.unsqueeze(1)).sum() / (shared_count(mask.sum()) * len(tracked) + 1e-9) + clarity_weight * clarity


CLARITY_DIVISORS = (2, 3, 4, 5, 6)
CLARITY_FLOOR = 0.3
CLARITY_CEILING = 0.2


def pitch_clarity_loss(y: torch.Tensor, pitch: torch.Tensor, frames: torch.Tensor, hop: int, sample_rate: int,
                       skip_hops: int, window: int = 2048) -> torch.Tensor:
    """How far the output y [B, 1, T] is from reading as the pitch its descriptor asks for
    (pitch [B, F] in MIDI, on `frames` [B, F]), in YIN's normalised difference d':
    - d' at the asked period should stay below CLARITY_CEILING: the harmonics, not the noise,
      carry the sound. Asked for a centroid below a high pitch (a cello's brightness at a
      violin's top notes), a decoder can meet the centroid with low noise bands and drop the
      harmonics; every pitch analysis then reads the noise.
    - d' at period / k for k in CLARITY_DIVISORS should stay above CLARITY_FLOOR, or the
      analysis hears k times the asked pitch (a decoder that leaves all the energy in one upper
      harmonic).
    The synthesiser puts the fundamental where it is told, so both are the decoder's doing.
    Differentiable in y."""
    from ..format.descriptors import YinSettings, causal_frames, yin_difference, zero_history

    windows, _ = causal_frames(y, hop, window, zero_history(y, hop, window))  # [B, F, window]
    lags_max = window // 2
    yin = YinSettings(window, sample_rate, sample_rate / lags_max, sample_rate / 2.0)
    spectra = torch.fft.rfft(windows.unsqueeze(-2) * yin.masks(windows)[:2], dim=-1)
    normalised = yin_difference(windows, spectra[..., 0, :], spectra[..., 1, :], yin.lags(windows), lags_max,
                                yin.floor_at_start(windows), yin.floor)
    period = sample_rate / (440.0 * torch.pow(2.0, (pitch - 69.0) / 12.0))           # samples, [B, F]

    def at_lag(lag: torch.Tensor) -> torch.Tensor:
        """d' at fractional lags (linear interpolation; index i of d' is lag i + 1)."""
        lag = torch.clamp(lag, 2.0, float(lags_max - 1))
        low = lag.floor().long()
        fraction = lag - low.to(lag.dtype)
        return (normalised.gather(-1, (low - 1).unsqueeze(-1)).squeeze(-1) * (1 - fraction)
                + normalised.gather(-1, low.unsqueeze(-1)).squeeze(-1) * fraction)

    penalties = [torch.relu(CLARITY_FLOOR - at_lag(period / k)) for k in CLARITY_DIVISORS]
    penalty = torch.stack(penalties, 0).mean(0) + torch.relu(at_lag(period) - CLARITY_CEILING)
    mask = frames[:, skip_hops:].to(y.dtype)
    return (penalty[:, skip_hops:] * mask).sum() / (shared_count(mask.sum()) + 1e-9)


def into_range(model, d: torch.Tensor, generator: torch.Generator | None = None, margin: float = 0.1,
               names: Sequence[str] = ("pitch",) + TRACKED) -> torch.Tensor:
    """d [B, D, F] with each item's `names` descriptors moved (their contour kept: transposed,
    or scaled in octaves for Hz descriptors) so that each one's median over the item's frames
    with signal (frames_with_signal of its loudness) lands at a random point of the model's
    range for it, `margin` in from either end (margin 0.5: mid-range, eval's shifted foreign
    figure). Other instruments' audio then asks for what this model is asked to play: a cello's
    brightness contour at a violin's pitches and centroids. (Moving
    only half the descriptors, so that a violin's centroids are also asked for at a cello's
    pitches, measured worse on the violin and the choir: centroid r from cello, bassoon and
    alto sax about 0, against 0.46 to 0.65.)"""
    frames = frames_with_signal(d[:, model.descriptor_names.index("loudness")])
    out = d.clone()
    for name in names:
        if name not in model.descriptor_names:
            continue
        i = model.descriptor_names.index(name)
        octaves = in_octaves(model.descriptor_units[i])
        low, high = float(model.descriptor_min[i]), float(model.descriptor_max[i])
        value = torch.log2(torch.clamp(d[:, i], min=1e-3)) if octaves else d[:, i]
        if octaves:
            low, high = math.log2(max(low, 1e-3)), math.log2(max(high, 1e-3))
        median = torch.stack([v[m].median() if m.any() else v.median() for v, m in zip(value, frames)])
        where = torch.rand(d.shape[0], generator=generator).to(d.device)
        centre = low + (high - low) * (margin + (1.0 - 2.0 * margin) * where)
        moved = value + (centre - median).unsqueeze(-1)
        out[:, i] = torch.exp2(moved) if octaves else moved
    return out


def validation_shifts(batch: int, tracked: int, largest: float) -> torch.Tensor:
    """Fixed fader shifts for validation: spread over +-largest, different per descriptor."""
    grid = torch.linspace(-largest, largest, batch)
    return torch.stack([grid.roll(j) for j in range(tracked)], 1)
