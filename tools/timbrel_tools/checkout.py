"""Where the tools find the build tree: the checkout they live in, and its built plugin."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def built_plugin() -> Path:
    """$TIMBREL_PLUGIN, else the VST3 bundle `make build` leaves in dist/."""
    path = Path(os.environ.get("TIMBREL_PLUGIN", REPO_ROOT / "dist" / "Timbrel.vst3"))
    if not path.exists():
        raise FileNotFoundError(f"Timbrel plugin not found at {path}: run `make build` or set TIMBREL_PLUGIN")
    return path
