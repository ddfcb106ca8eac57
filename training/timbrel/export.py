"""Writing model files: script, save to a temporary file, reload, check the contract, then
rename over the destination. A failed check never leaves a half-written or bad file behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from .contract import ModelInfo, check_model


def save_model(module: torch.nn.Module, path: str | os.PathLike, check: bool = True) -> ModelInfo | None:
    """Scripts `module`, saves it atomically to `path` and (by default) verifies the saved file
    against the contract. Returns the checked metadata; raises ContractError on a violation."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scripted = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.script(module.eval())
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.jit.save(scripted, temporary)
        info = None
        if check:
            reloaded = torch.jit.load(temporary, map_location="cpu")
            info = check_model(reloaded)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        os.replace(temporary, path)
        return info
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
