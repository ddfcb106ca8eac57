"""timbrel.format: the model format the plugin loads (docs/model-format.md), for anyone who
writes a model for Timbrel. Needs torch and nothing else from this package.

    from timbrel.format import save_model, load_and_check
    save_model(my_module, "my-model.ts")     # scripts, freezes, checks the contract, writes atomically
    module, info = load_and_check("my-model.ts")

- vocabulary:  descriptor names, their units and how the plugin's faders move them (no torch)
- contract:    the contract checker (metadata, methods, shapes, streaming == offline)
- save:        writing a model file that passes the checker
- descriptors: the causal descriptor analysis (loudness, pitch, centroid, bandwidth, flatness)
               that models export inside the file, so the plugin never re-implements it

Attributes load lazily, so importing the vocabulary does not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "VOCABULARY": "vocabulary", "DescriptorSpec": "vocabulary",
    "FORMAT_VERSION": "contract", "ContractError": "contract", "ModelInfo": "contract",
    "check_model": "contract", "load_and_check": "contract", "read_info": "contract",
    "save_model": "save", "freeze": "save", "attach_timbres": "save", "attach_latent_axes": "save",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'timbrel.format' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
