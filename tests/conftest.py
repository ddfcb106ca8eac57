"""Shared fixtures: the real built plugin (dist/) and the models exported at build time.
`make test` builds both first; running pytest without them fails loudly instead of skipping."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 44100


@pytest.fixture(scope="session")
def plugin_path() -> Path:
    path = Path(os.environ.get("TIMBREL_PLUGIN", REPO / "dist" / "Timbrel.vst3"))
    assert path.exists(), f"{path} is missing: run `make build` (make test does it for you)"
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    path = REPO / "build" / "models"
    assert (path / "timbrel-test.ts").exists(), f"{path} is missing: run `make build`"
    return path


@pytest.fixture(scope="session")
def test_model(models_dir) -> Path:
    return models_dir / "timbrel-test.ts"


@pytest.fixture(scope="session")
def reference(test_model):
    from timbrel_tools.reference import StreamingReference

    return StreamingReference(test_model)


def make_signal(channels: int = 2, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """Tones with noise, a silent gap and a loud burst: exercises gain ramps and loudness."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    rng = np.random.default_rng(seed)
    rows = []
    for ch in range(channels):
        tone = 0.25 * np.sin(2 * np.pi * (220 + 110 * ch) * t) + 0.1 * np.sin(2 * np.pi * 3100 * t)
        tone += 0.02 * rng.standard_normal(n)
        tone[n // 3: n // 3 + 2000] = 0.0
        tone[n // 2: n // 2 + 3000] *= 3.0
        rows.append(tone)
    return np.asarray(rows, dtype=np.float32)


@pytest.fixture
def signal() -> np.ndarray:
    return make_signal()
