"""Checkpoints: the files training writes and reads (run folders' checkpoint.pt and best.pt,
shipped models' source weights in models/source/NAME.pt), and rebuilding a model from one.

A checkpoint is a plain dict saved with torch.save: the weights ("model"), what rebuilds the
model ("config_name", "model_config", "descriptor_min", "descriptor_max"), and whatever its
writer adds (training state, a card). Streaming caches are not weights and are left out.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..files import atomic_path
from .harmonic_noise import ANALYSIS_FIELDS, LEGACY_ANALYSIS, HarmonicNoiseConfig, HarmonicNoiseModel
from .waveform import WaveformConfig, WaveformModel

# Model configs by name: 'default' and 'lowlatency' are harmonic-plus-noise models (what
# Timbrel ships), 'waveform' the RAVE-style PQMF waveform decoder.
CONFIGS = ("default", "lowlatency", "timbres", "waveform")
REBUILD_KEYS = ("model", "config_name", "model_config", "descriptor_min", "descriptor_max")
# What a shipped model's source checkpoint keeps (plus its card).
SOURCE_KEYS = REBUILD_KEYS + ("descriptor_stats", "step", "timbres", "natural")

STREAM_STATE = ("cache", "history", "last_params", "phase", "counter", "analysis_cache", "synthesis_cache")
# Constants that older checkpoints carry and models now rebuild from their config.
DERIVED = ("harmonic_numbers", "harmonic_numbers_float", "ramp", "noise")


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or does not fit its config; says which."""


def build_model(config_name: str, **overrides):
    """A fresh, untrained model of a named config."""
    if config_name in ("default", "lowlatency", "timbres"):
        return HarmonicNoiseModel(HarmonicNoiseConfig.preset(config_name, **overrides))
    if config_name == "waveform":
        return WaveformModel(WaveformConfig.preset("default", **overrides))
    raise CheckpointError(f"unknown config '{config_name}' (choose from {', '.join(CONFIGS)})")


def is_stream_state(key: str) -> bool:
    """Streaming caches are buffers (so TorchScript keeps them) but not weights: their shape
    follows the last batch, so checkpoints skip them. Derived constants are skipped too."""
    return key.rsplit(".", 1)[-1] in STREAM_STATE + DERIVED


def weights(model) -> dict:
    """The model's state_dict without its streaming state: what a checkpoint keeps."""
    return {k: v for k, v in model.state_dict().items() if not is_stream_state(k)}


def model_payload(model, config_name: str) -> dict:
    """What rebuilds `model`: weights, config and descriptor ranges."""
    import json

    return {"model": weights(model), "config_name": config_name, "model_config": json.loads(model.config_dict),
            "descriptor_min": model.descriptor_min, "descriptor_max": model.descriptor_max}


def model_from_checkpoint(state: dict, current_analysis: bool = False):
    """Rebuilds the model a checkpoint describes, weights and descriptor ranges loaded. A
    harmonic-plus-noise model keeps the pitch analysis it was trained with (checkpoints from
    before the analysis fields existed get LEGACY_ANALYSIS), unless `current_analysis` gives it
    today's defaults (`timbrel export --current-analysis`)."""
    overrides = dict(state["model_config"])
    if state["config_name"] == "waveform":
        model = WaveformModel(WaveformConfig(**overrides))
    else:
        if current_analysis:
            defaults = HarmonicNoiseConfig()
            overrides.update({name: getattr(defaults, name) for name in ANALYSIS_FIELDS})
        else:
            overrides = {**LEGACY_ANALYSIS, **overrides}
        model = HarmonicNoiseModel(HarmonicNoiseConfig(**overrides))
    model.set_descriptor_range(state["descriptor_min"], state["descriptor_max"])
    missing, unexpected = model.load_state_dict(
        {k: v for k, v in state["model"].items() if not is_stream_state(k)}, strict=False)
    missing = [k for k in missing if not is_stream_state(k)]
    if missing or unexpected:
        raise CheckpointError(f"the checkpoint does not fit its config (missing {missing}, unexpected {unexpected})")
    model.reset()
    return model


def load_checkpoint(path: str | os.PathLike, what: str = "checkpoint") -> dict:
    """Reads a checkpoint and checks that it can rebuild a model; `what` names it in errors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what}: {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated or foreign file: say which
        raise CheckpointError(f"{what}: {path} is not a Timbrel checkpoint ({type(error).__name__})") from None
    missing = [k for k in REBUILD_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{what}: {path} is not a Timbrel checkpoint (no {', '.join(missing)})")
    return state


def save_checkpoint(payload: dict, path: str | os.PathLike) -> None:
    """torch.save through the package's atomic write: a kill mid-save keeps the previous file."""
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)


def write_source(state: dict, card: dict, path: str | os.PathLike) -> None:
    """A shipped model's source checkpoint: the trainable weights (weight-normed, as training
    keeps them), what rebuilds the model, and its card. `timbrel export` re-exports it with
    newer streaming code; `timbrel train --init` fine-tunes it."""
    save_checkpoint({k: state[k] for k in SOURCE_KEYS if k in state} | {"card": card}, path)
