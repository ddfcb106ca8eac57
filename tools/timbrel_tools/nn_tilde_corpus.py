"""Test modules in the nn~ convention (Max/Pd's nn~, RAVE's exports) for the plugin's "Other
models" loader (docs/model-format.md). model_corpus exports them beside the Timbrel test models:

- nn-delay.ts: encode/decode/forward like a RAVE export. encode delays the audio by DELAY
  samples (a cached_conv-style buffer), keeps it for decode, and returns per frame of RATIO
  samples a latent: dimension 0 a gain of 1, dimension 1 an offset of 0, dimension 2 the
  frame's RMS; decode plays the kept audio times latent 0 plus latent 1. So the output is the
  input delayed by DELAY, the first latent knob is a gain and the second a DC offset.
- nn-prior.ts: nn-delay with a prior, as RAVE exports one: prior(temperature) gives gain 0 and
  offset = temperature, so generating plays a constant of the temperature's value.
- nn-forward-only.ts: forward only, ratio 1 declared, but it takes only whole blocks of
  FORWARD_BLOCK samples (as a streaming model does): the loader must find that hop.
- nn-stereo-swap.ts: a two-channel forward that swaps left and right, delayed by DELAY.
- nn-stateless.ts: a forward that halves its input and keeps no state (as a RAVE export made
  without --streaming keeps none): the loader must say it does not stream.

Each keeps its streaming state in buffers and has no reset method, as nn~ modules do.
"""

from __future__ import annotations

from typing import List

import torch
from torch import nn

SAMPLE_RATE = 44100
RATIO = 512
LATENT_SIZE = 4
DELAY = 700
FORWARD_DELAY = 300
FORWARD_BLOCK = 1024
MAX_BATCH = 8  # cached_conv sizes its caches for a fixed most batch, too


class CachedDelay(nn.Module):
    """A streaming delay: the last `delay` samples wait in a buffer for the next call."""

    def __init__(self, channels: int, delay: int):
        super().__init__()
        self.delay = delay
        self.register_buffer("cache", torch.zeros(MAX_BATCH, channels, delay))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        joined = torch.cat([self.cache[:batch], x], -1)
        self.cache[:batch].copy_(joined[..., -self.delay:])
        return joined[..., : x.shape[-1]]


def _params(in_channels: int, in_ratio: int, out_channels: int, out_ratio: int) -> torch.Tensor:
    return torch.tensor([in_channels, in_ratio, out_channels, out_ratio], dtype=torch.int32)


class NnDelayModule(nn.Module):
    def __init__(self, channels: int = 1, methods: List[str] = ["encode", "decode", "forward"]):
        super().__init__()
        self.sr = SAMPLE_RATE
        self.ratio = RATIO
        self.latent_size = LATENT_SIZE
        self.channels = channels
        self.methods: List[str] = list(methods)
        self.delay = CachedDelay(channels, DELAY)
        self.register_buffer("kept", torch.zeros(MAX_BATCH, channels, 16 * RATIO))
        self.register_buffer("encode_params", _params(channels, 1, LATENT_SIZE, RATIO))
        self.register_buffer("decode_params", _params(LATENT_SIZE, RATIO, channels, 1))
        self.register_buffer("forward_params", _params(channels, 1, channels, 1))

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return self.methods

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return []

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        batch, length = x.shape[0], x.shape[-1]
        delayed = self.delay(x)
        self.kept[:batch, :, :length].copy_(delayed)
        frames = length // self.ratio
        rms = delayed.reshape(batch, self.channels, frames, self.ratio).pow(2).mean(-1).mean(1).sqrt()
        z = torch.zeros(batch, self.latent_size, frames)
        z[:, 0] = 1.0
        z[:, 2] = rms
        return z

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        batch, frames = z.shape[0], z.shape[-1]
        gain = z[:, 0].repeat_interleave(self.ratio, -1).unsqueeze(1)
        offset = z[:, 1].repeat_interleave(self.ratio, -1).unsqueeze(1)
        return self.kept[:batch, :, : frames * self.ratio] * gain + offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class NnPriorModule(NnDelayModule):
    def __init__(self):
        super().__init__(methods=["encode", "decode", "forward", "prior"])
        self.register_buffer("prior_params", _params(1, RATIO, LATENT_SIZE, RATIO))

    @torch.jit.export
    def prior(self, temperature: torch.Tensor) -> torch.Tensor:
        z = torch.zeros(temperature.shape[0], self.latent_size, temperature.shape[-1])
        z[:, 1] = temperature[:, 0]
        return z


class NnForwardOnlyModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.sr = SAMPLE_RATE
        self.block = FORWARD_BLOCK
        self.delay = CachedDelay(1, FORWARD_DELAY)
        self.register_buffer("forward_params", _params(1, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.block != 0:
            raise RuntimeError("this module takes whole blocks of 1024 samples")
        return self.delay(x)


class NnStereoSwapModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.sr = SAMPLE_RATE
        self.delay = CachedDelay(2, DELAY)
        self.register_buffer("forward_params", _params(2, 1, 2, 1))

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return ["forward"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.delay(x.flip(1))


class NnStatelessModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.sr = SAMPLE_RATE
        self.register_buffer("forward_params", _params(1, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x


# Broken modules -------------------------------------------------------------------------


class NoParamsModule(NnDelayModule):
    def __init__(self):
        super().__init__()
        del self.encode_params
        del self.decode_params
        del self.forward_params


class PriorOnlyModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.sr = SAMPLE_RATE
        self.latent_size = LATENT_SIZE
        self.register_buffer("prior_params", _params(1, RATIO, LATENT_SIZE, RATIO))

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return ["prior"]

    @torch.jit.export
    def prior(self, temperature: torch.Tensor) -> torch.Tensor:
        return torch.randn(temperature.shape[0], self.latent_size, temperature.shape[-1]) * temperature


class WrongShapeForwardModule(NnForwardOnlyModule):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., : x.shape[-1] // 2]


class NoSampleRateModule(NnDelayModule):
    def __init__(self):
        super().__init__()
        del self.sr


class ThreeChannelModule(NnStereoSwapModule):
    def __init__(self):
        super().__init__()
        self.forward_params = _params(3, 1, 3, 1)


class InconsistentRatiosModule(NnDelayModule):
    def __init__(self):
        super().__init__(methods=["encode", "decode"])
        self.decode_params = _params(LATENT_SIZE, 2 * RATIO, 1, 1)


GOOD_MODULES = {
    "nn-delay.ts": NnDelayModule,
    "nn-prior.ts": NnPriorModule,
    "nn-forward-only.ts": NnForwardOnlyModule,
    "nn-stereo-swap.ts": NnStereoSwapModule,
    "nn-stateless.ts": NnStatelessModule,
}

# file name -> (how to build it, fragment of the loader's error)
BROKEN_MODULES = {
    "nn-no-params.ts": (NoParamsModule, "_params' buffer"),
    "nn-prior-only.ts": (PriorOnlyModule, "has only a prior"),
    "nn-wrong-shape.ts": (WrongShapeForwardModule, "kept the length of no block"),
    "nn-no-sr.ts": (NoSampleRateModule, "no int attribute 'sr'"),
    "nn-three-channels.ts": (ThreeChannelModule, "Timbrel plays mono and stereo modules"),
    "nn-inconsistent-ratios.ts": (InconsistentRatiosModule, "do not make an audio-to-audio path"),
}


def script(module: nn.Module) -> torch.jit.ScriptModule:
    return torch.jit.script(module.eval())
