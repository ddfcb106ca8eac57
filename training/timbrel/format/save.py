"""Writing model files: script, freeze, save to a temporary file, reload, check the contract,
then rename over the destination. A failed check never leaves a half-written or bad file behind.
This is all a model author needs to produce a file the plugin loads (docs/model-format.md)."""

from __future__ import annotations

import json
import os

import torch

from ..files import atomic_path
from .contract import ContractError, ModelInfo, check_model


CONTRACT_FIELDS = ("format_version", "sample_rate", "hop_length", "latent_size", "latency_samples",
                   "descriptor_names", "descriptor_units", "descriptor_min", "descriptor_max", "model_name")


# Kept through freezing: the contract's methods and attributes, the nn~ buffers, and the analysis
# settings `timbrel eval` reads.
PRESERVED = ("encode", "analyze", "decode", "reset", "encode_analyze") + CONTRACT_FIELDS + (
    "model_card", "encode_params", "decode_params", "forward_params", "window", "pitch_fmin", "pitch_fmax",
    "pitch_window", "octave_ratio", "octave_margin", "pitch_highpass", "pitch_latest", "pitch_decimation",
    "timbre_names", "timbre_latents", "latent_mean", "latent_components")


def attach_timbres(module: torch.nn.Module, names: list[str], latents: torch.Tensor) -> None:
    """Gives a model its named timbres (docs/model-format.md): `latents` [len(names), latent_size],
    each a mean z. Kept through scripting and freezing, checked by save_model."""
    module.timbre_names = [str(name) for name in names]
    _set_buffer(module, "timbre_latents", latents)


def attach_latent_axes(module: torch.nn.Module, mean: torch.Tensor, components: torch.Tensor) -> None:
    """Gives a model the principal axes of its latent: `mean` [latent_size] and `components`
    [latent_size, latent_size], orthonormal rows, strongest first."""
    _set_buffer(module, "latent_mean", mean)
    _set_buffer(module, "latent_components", components)


def _set_buffer(module: torch.nn.Module, name: str, value: torch.Tensor) -> None:
    value = torch.as_tensor(value, dtype=torch.float32).detach().clone().contiguous()
    if name in module._buffers:
        module._buffers[name] = value
    else:
        # Not persistent: checkpoints keep weights; these come from the data at export.
        module.register_buffer(name, value, persistent=False)


def freeze(scripted: torch.jit.ScriptModule) -> torch.jit.ScriptModule:
    """torch.jit.freeze keeping the contract: weights become constants and submodules are
    inlined, which removes most attribute lookups from each streaming call (about twice as fast
    per hop on these models); the streaming state stays, as mutable attributes."""
    keep = [name for name in PRESERVED if hasattr(scripted, name)]
    # natural() is optional: a model class may define it and say whether it is fitted.
    if hasattr(scripted, "natural") and bool(getattr(scripted, "has_natural", True)):
        keep.append("natural")
    return torch.jit.freeze(scripted, preserved_attrs=keep)


def save_model(module: torch.nn.Module, path: str | os.PathLike, check: bool = True,
               frozen: bool = True) -> ModelInfo | None:
    """Scripts `module`, saves it atomically to `path` and (by default) verifies the saved file:
    it reloads it, checks the whole contract (including hop-by-hop streaming against one offline
    call) and that every contract attribute reads back as the module in memory has it. Returns
    the checked metadata; raises ContractError naming the field on a violation."""
    scripted = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module.eval())
    if frozen:
        scripted = freeze(scripted.eval())
    with atomic_path(path) as temporary:
        torch.jit.save(scripted, str(temporary))
        if not check:
            return None
        info = check_model(torch.jit.load(str(temporary), map_location="cpu"))
        for name in CONTRACT_FIELDS:
            intended, saved = getattr(scripted, name), getattr(info, name)
            if isinstance(intended, list):
                intended = list(intended)
            if intended != saved:
                raise ContractError(f"attribute '{name}' reads back as {saved!r}, not {intended!r}")
        if json.loads(str(scripted.model_card)) != info.model_card:
            raise ContractError("attribute 'model_card' does not read back as written")
        if hasattr(scripted, "timbre_names") and list(scripted.timbre_names) != info.timbre_names:
            raise ContractError("attribute 'timbre_names' does not read back as written")
    return info
