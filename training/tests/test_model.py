"""The streaming VAE's building blocks (PQMF, cached convolutions) and the full WaveformModel:
reconstruction, streaming == offline, the export contract, and that training steps work."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from timbrel.format.save import save_model
from timbrel.models.blocks import (PQMF, Activation, CachedConv1d, CachedConvTranspose1d, CachedSequential,
                                   ResidualBlock)
from timbrel.models.waveform import WaveformConfig, WaveformModel
from timbrel.training.losses import LatentDiscriminator, fader_losses, multiscale_spectral_loss


def snr_db(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    return 10.0 * math.log10(reference.pow(2).mean().item() / (estimate - reference).pow(2).mean().item())


def aligned(pqmf: PQMF, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, synthesis(analysis(x))) trimmed so that sample n of both lines up."""
    pqmf.reset_cache()
    y = pqmf.synthesis(pqmf.analysis(x))
    d = pqmf.delay
    return x[..., : x.shape[-1] - d], y[..., d:]


@pytest.mark.parametrize("bands,taps", [(16, 256), (16, 128), (8, 64)])
def test_pqmf_reconstructs_noise_and_sines_above_50_db(bands, taps):
    pqmf = PQMF(bands, taps)
    generator = torch.Generator().manual_seed(1)
    noise = torch.randn(2, 1, 400 * bands, generator=generator)
    t = torch.arange(400 * bands) / 44100.0
    sines = sum(torch.sin(2 * math.pi * f * t + f) for f in (55.0, 440.0, 3001.0, 15000.0)).reshape(1, 1, -1)
    for x in (noise, sines):
        reference, estimate = aligned(pqmf, x)
        skip = taps  # let the filters' start-up transient pass
        assert snr_db(reference[..., skip:], estimate[..., skip:]) > 50.0


@pytest.mark.parametrize("bands,taps", [(16, 256), (16, 128)])
def test_pqmf_delay_is_measured_by_an_impulse(bands, taps):
    pqmf = PQMF(bands, taps)
    x = torch.zeros(1, 1, 64 * bands)
    x[..., 5 * bands + 3] = 1.0
    y = pqmf.synthesis(pqmf.analysis(x))
    assert int(y.abs().argmax()) - (5 * bands + 3) == pqmf.delay == taps - bands
    assert abs(y.abs().max().item() - 1.0) < 0.05


def test_pqmf_streams_exactly_in_chunks():
    pqmf = torch.jit.script(PQMF(16, 256))
    x = torch.randn(2, 1, 16 * 96, generator=torch.Generator().manual_seed(2))
    pqmf.reset_cache()
    bands = pqmf.analysis(x)
    offline = pqmf.synthesis(bands)
    pqmf.reset_cache()
    chunks_a, chunks_y = [], []
    for start, stop in ((0, 16), (16, 48), (48, 512), (512, 528), (528, 16 * 96)):
        a = pqmf.analysis(x[..., start:stop])
        chunks_a.append(a)
        chunks_y.append(pqmf.synthesis(a))
    assert (torch.cat(chunks_a, -1) - bands).abs().max() <= 1e-6
    assert (torch.cat(chunks_y, -1) - offline).abs().max() <= 1e-6


def _stack():
    return CachedSequential([
        CachedConv1d(4, 8, 5, dilation=2), Activation(), ResidualBlock(8, 3, 3),
        CachedConv1d(8, 12, 8, stride=4), Activation(),
        CachedConvTranspose1d(12, 8, 4), ResidualBlock(8, 3, 1),
        CachedConvTranspose1d(8, 6, 2, kernel_size=6), CachedConv1d(6, 3, 1)])


@torch.no_grad()  # inference, as in the plugin (autodiff graphs may fuse ops differently)
def test_cached_convs_script_and_stream_exactly_like_offline():
    torch.manual_seed(0)
    stack = torch.jit.script(_stack())
    for batch in (1, 3):
        x = torch.randn(batch, 4, 96)
        stack.reset_cache()
        offline = stack(x)
        assert offline.shape == (batch, 3, 96 * 2)
        stack.reset_cache()
        streamed = torch.cat([stack(x[..., i:i + 4]) for i in range(0, 96, 4)], -1)  # one stride per call
        assert (streamed - offline).abs().max() <= 1e-6
        stack.reset_cache()
        assert torch.equal(stack(x), offline)


@torch.no_grad()
def test_time_major_convs_match_channel_major_and_stream_one_frame_at_a_time():
    """The time-major layout (the synth model's) has its own one-frame fast path: it must give
    the channel-major stack's numbers, offline and frame by frame, dilated or not."""
    torch.manual_seed(0)

    def blocks(time_major: bool):
        torch.manual_seed(1)  # the same weights for both layouts
        return CachedSequential([CachedConv1d(5, 8, 3, time_major=time_major), Activation(),
                                 ResidualBlock(8, 3, 1, time_major=time_major),
                                 ResidualBlock(8, 3, 4, time_major=time_major),
                                 CachedConv1d(8, 3, 1, time_major=time_major)])

    channel_major = torch.jit.script(blocks(False))
    time_major = torch.jit.script(blocks(True))
    for batch in (1, 2):
        x = torch.randn(batch, 5, 40)
        channel_major.reset_cache()
        reference = channel_major(x).transpose(1, 2)
        time_major.reset_cache()
        offline = time_major(x.transpose(1, 2))
        assert offline.shape == (batch, 40, 3)
        assert (offline - reference).abs().max() <= 1e-5
        time_major.reset_cache()
        one_by_one = torch.cat([time_major(x[:, :, i:i + 1].transpose(1, 2)) for i in range(40)], 1)
        assert (one_by_one - offline).abs().max() <= 1e-6
        time_major.reset_cache()
        mixed = torch.cat([time_major(x[:, :, a:b].transpose(1, 2)) for a, b in ((0, 1), (1, 7), (7, 8), (8, 40))], 1)
        assert (mixed - offline).abs().max() <= 1e-6


def test_cached_convs_are_causal_and_weight_norm_bakes():
    torch.manual_seed(0)
    stack = _stack()
    x = torch.randn(1, 4, 64)
    stack.reset_cache()
    base = stack(x)
    changed = x.clone()
    changed[..., 40:] += 1.0  # input from frame 40 on: strided block 10 (frames 40..43) onwards
    stack.reset_cache()
    after = stack(changed)
    assert torch.equal(after[..., :80], base[..., :80])  # 40 input frames -> 80 output samples
    assert not torch.equal(after[..., 80:], base[..., 80:])
    stack.reset_cache()
    stack.remove_weight_norm()
    stack.reset_cache()
    assert (stack(x) - base).abs().max() < 1e-5


@pytest.mark.parametrize("preset", ["default", "lowlatency"])
def test_model_passes_the_export_contract(tmp_path, preset):
    torch.manual_seed(0)
    config = WaveformConfig.preset(preset)
    model = WaveformModel(config)
    info = save_model(model, tmp_path / f"{preset}.ts")
    assert info.hop_length == config.hop_length == (512 if preset == "default" else 128)
    assert info.latent_size == 8
    assert info.descriptor_names == ["loudness", "pitch", "centroid", "bandwidth", "flatness"]
    assert info.latency_samples == model.pqmf.delay == config.pqmf_taps - config.bands
    assert model.encode_params.tolist() == [1, 1, 8, config.hop_length]
    assert model.decode_params.tolist() == [13, config.hop_length, 1, 1]


def test_model_descriptors_are_physical_and_normalised_inside():
    torch.manual_seed(0)
    model = WaveformModel(WaveformConfig.preset("default"))
    t = torch.arange(512 * 16) / 44100.0
    x = (0.5 * torch.sin(2 * math.pi * 220.0 * t)).reshape(1, 1, -1)
    model.reset()
    d = model.analyze(x)
    assert d.shape == (1, 5, 16)
    last = d[0, :, -1]
    assert abs(last[1].item() - 57.0) < 0.1                   # 220 Hz = MIDI 57
    # dB(A): a 0.5-amplitude sine reads -9 dB before weighting, A-weighting at 220 Hz is about -11 dB.
    assert -25.0 < last[0].item() < -15.0
    normalised = model.normalise_descriptors(d)
    assert normalised.abs().max() <= 2.0
    # Octave faders are linear shifts for the network: doubling the centroid moves it by a
    # constant amount in the normalised space.
    shifted = d.clone()
    shifted[:, 2] *= 2.0
    delta = model.normalise_descriptors(shifted)[:, 2] - normalised[:, 2]
    assert torch.allclose(delta, delta[:, :1].expand_as(delta), atol=1e-5)


def _sine_noise(seconds: float = 2.0, batch: int = 1) -> torch.Tensor:
    rate = 44100
    length = int(seconds * rate) // 512 * 512
    t = torch.arange(length) / rate
    tone = 0.4 * torch.sin(2 * math.pi * 330.0 * t) + 0.2 * torch.sin(2 * math.pi * 660.0 * t)
    noise = 0.05 * torch.randn(batch, 1, length, generator=torch.Generator().manual_seed(3))
    return tone.reshape(1, 1, -1) + noise


def test_one_training_step_has_finite_gradients():
    torch.manual_seed(0)
    model = WaveformModel(WaveformConfig.preset("lowlatency"))
    disc = LatentDiscriminator(model.latent_size, len(model.descriptor_names))
    x = _sine_noise(0.2, batch=2)
    y, z, d, kl = model.reconstruct(x)
    assert y.shape == x.shape and z.shape == (2, 8, x.shape[-1] // 128) and d.shape == (2, 5, z.shape[-1])
    disc_loss, adv_loss = fader_losses(disc, z, model.normalise_descriptors(d))
    spectral = multiscale_spectral_loss(x, y)
    loss = spectral + 0.1 * kl + 0.1 * adv_loss
    loss.backward()
    disc_loss.backward()
    for name, p in list(model.named_parameters()) + list(disc.named_parameters()):
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in disc.parameters())
    assert torch.isfinite(kl) and kl > 0 and adv_loss.item() >= -1e-5


def test_fader_losses_judge_only_the_chosen_frames():
    torch.manual_seed(0)
    disc = LatentDiscriminator(4, 2)
    z = torch.randn(2, 4, 12)
    normalised = torch.rand(2, 2, 12) * 2 - 1
    frames = torch.zeros(2, 12, dtype=torch.bool)
    frames[0, 3:9] = True
    frames[1, 5:] = True
    disc_loss, adv_loss = fader_losses(disc, z, normalised, frames)
    logits = disc(z)
    target = disc.targets(normalised)
    ce = F.cross_entropy(logits, target, reduction="none")  # [B, D, F]
    adv = -logits.log_softmax(1).mean(1) - math.log(disc.bins)
    chosen = frames.unsqueeze(1).expand_as(ce)
    assert torch.allclose(disc_loss, ce[chosen].mean()) and torch.allclose(adv_loss, adv[chosen].mean())
    # Frames left out get no gradient: changing their z changes neither loss.
    z2 = z.clone()
    z2[0, :, 0] += 5.0
    # The discriminator's convs see neighbours (kernel 3, twice), so frame 0 reaches frames 0..2 only.
    assert torch.allclose(fader_losses(disc, z2, normalised, frames)[0], disc_loss)
    assert not torch.allclose(fader_losses(disc, z2, normalised)[0], fader_losses(disc, z, normalised)[0])


def test_a_few_optimiser_steps_lower_the_spectral_loss():
    torch.manual_seed(0)
    model = WaveformModel(WaveformConfig.preset("default"))
    x = _sine_noise(2.0)
    with torch.no_grad():
        model.reset()
        d = model.analyze(x)  # fixed per clip: analyse once, as a data loader would
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        y, _, _, kl = model.reconstruct(x, d=d)
        loss = multiscale_spectral_loss(x, y)
        optimiser.zero_grad()
        (loss + 1e-3 * kl).backward()
        optimiser.step()
        losses.append(loss.item())
    assert min(losses[-5:]) < 0.8 * losses[0], losses
