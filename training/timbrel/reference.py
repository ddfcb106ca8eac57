"""The plugin's signal path re-run in Python on the same model file: hop-by-hop streaming,
descriptor shifts applied between analyze() and decode() exactly as the engine does, one hop
of buffering. The harness compares the real plugin against this."""

from __future__ import annotations

import numpy as np
import torch

from .contract import VOCABULARY, ModelInfo, load_and_check


def apply_shift(kind: str, value: torch.Tensor, shift: float) -> torch.Tensor:
    """Same float32 arithmetic as timbrel::applyShift (the factor is computed in double and
    rounded once)."""
    if kind == "octaves":
        return value * torch.tensor(np.float32(2.0 ** float(np.float32(shift))))
    return value + torch.tensor(np.float32(shift))


class StreamingReference:
    """Streams a model hop by hop. `shifts` maps a vocabulary name to either one value or one
    value per hop."""

    def __init__(self, model_path):
        self.module, self.info = load_and_check(model_path)

    @property
    def plugin_latency(self) -> int:
        """What the plugin reports: one hop of buffering plus the model's own delay."""
        return self.info.hop_length + self.info.latency_samples

    def model_stream(self, audio: np.ndarray, shifts: dict | None = None) -> np.ndarray:
        """audio [channels, n] -> the model's streamed output [channels, n] (channels as batch),
        with the model's own latency_samples still in it."""
        info: ModelInfo = self.info
        hop = info.hop_length
        channels, length = audio.shape
        hops = -(-length // hop)
        padded = np.zeros((channels, hops * hop), dtype=np.float32)
        padded[:, :length] = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
        x = torch.from_numpy(padded).unsqueeze(1)

        per_hop = {}
        for name, value in (shifts or {}).items():
            if name not in VOCABULARY:
                raise ValueError(f"unknown descriptor '{name}'")
            if name in info.descriptor_names:
                values = np.broadcast_to(np.asarray(value, dtype=np.float32), (hops,))
                per_hop[info.descriptor_names.index(name)] = (VOCABULARY[name][1], values)

        out = np.zeros_like(padded)
        with torch.no_grad():
            self.module.reset()
            for h in range(hops):
                frame = x[..., h * hop:(h + 1) * hop]
                z = self.module.encode(frame)
                d = self.module.analyze(frame).clone()
                for index, (kind, values) in per_hop.items():
                    d[:, index] = apply_shift(kind, d[:, index], float(values[h]))
                out[:, h * hop:(h + 1) * hop] = self.module.decode(torch.cat([z, d], 1))[:, 0].numpy()
        return out[:, :length]

    def plugin_output(self, audio: np.ndarray, shifts: dict | None = None) -> np.ndarray:
        """What the plugin writes (mix 100 %, gain 0 dB): the model stream one hop late."""
        stream = self.model_stream(audio, shifts)
        hop = self.info.hop_length
        delayed = np.zeros_like(stream)
        delayed[:, hop:] = stream[:, :-hop] if stream.shape[1] > hop else 0.0
        return delayed


def hop_values_from_blocks(block_values: np.ndarray, block_size: int, hop: int, length: int) -> np.ndarray:
    """Per-hop parameter values when a host sets a parameter once per block: the engine reads
    controls at the start of each block and applies them to the hops that complete in it."""
    hops = -(-length // hop)
    last_sample = (np.arange(hops) + 1) * hop - 1
    return np.asarray(block_values)[last_sample // block_size]
