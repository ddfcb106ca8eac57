"""The package installs on its own: `pip install ./training` (not editable) into a fresh venv
with the pinned torch, then check, dataset, train, export and eval run from a folder outside
the checkout; with the `hosts` extra added, `timbrel render` finds the plugin where a user
installs it (~/.vst3), not through the checkout.

Slow (a venv and its wheels: about a minute with pip's cache warm), so one test walks the whole
path: check, dataset, train, export (a run and a shipped source checkpoint), eval, render."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO, SAMPLE_RATE


def run(command: list, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, command))} exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result


def recordings(folder: Path) -> None:
    """A few seconds of a buzzy harmonic tone at several pitches and levels, as a user's files."""
    folder.mkdir()
    rng = np.random.default_rng(1)
    for index in range(4):
        t = np.arange(int(3.0 * 48000)) / 48000  # another rate: dataset resamples
        f0 = 196.0 * 2 ** (rng.integers(0, 12) / 12)
        note = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 10))
        envelope = np.minimum(1.0, np.minimum(t / 0.05, (t[-1] - t) / 0.1))
        sf.write(folder / f"take{index}.wav", (0.2 * envelope * note).astype(np.float32), 48000)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict, Path]:
    """A fresh venv with timbrel installed from a copy of ./training (no extras), an
    environment whose home holds the built plugin in the user's VST3 folder, and the copy."""
    root = tmp_path_factory.mktemp("install")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    home = root / "home"
    (home / ".vst3").mkdir(parents=True)
    (home / ".vst3" / "Timbrel.vst3").symlink_to(REPO / "dist" / "Timbrel.vst3")
    env = {key: value for key, value in os.environ.items()
           if key not in ("TIMBREL_PLUGIN", "PYTHONPATH", "VIRTUAL_ENV")}
    env["HOME"] = str(home)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    # From a copy: pip builds a local project in place, and the checkout stays as it is.
    source = root / "training"
    shutil.copytree(REPO / "training", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    run([python, "-m", "pip", "install", "-q", "-c", REPO / "constraints.txt", source], cwd=root, env=env,
        timeout=1200)
    return venv, env, source


def test_the_package_runs_outside_the_checkout(installed, tmp_path):
    venv, env, source = installed
    timbrel = venv / "bin" / "timbrel"
    work = tmp_path / "work"
    work.mkdir()
    # The installed copy, not the checkout's.
    where = run([venv / "bin" / "python", "-c", "import timbrel; print(timbrel.__file__)"], work, env).stdout
    assert str(venv) in where and str(REPO) not in where, where
    tools = subprocess.run([venv / "bin" / "python", "-c", "import timbrel_tools"], cwd=work, env=env)
    assert tools.returncode != 0  # the checkout's tools are not part of the package

    check = run([timbrel, "check", REPO / "models" / "violin.ts"], work, env)
    assert "conforms to model format" in check.stdout

    recordings(work / "recordings")
    run([timbrel, "dataset", "folder", "recordings", "--out", "data"], work, env)
    assert (work / "data" / "dataset.json").exists() and list((work / "data" / "train").glob("*.wav"))

    run([timbrel, "train", "data", "--out", "run", "--steps", "4", "--batch", "2", "--threads", "1", "--quiet"],
        work, env)
    assert (work / "run" / "best.pt").exists()
    run([timbrel, "export", "run", "--out", "mine.ts", "--instrument", "tone"], work, env)
    run([timbrel, "export", REPO / "models" / "source" / "violin.pt", "--out", "violin-again.ts"], work, env)
    evaluation = run([timbrel, "eval", "mine.ts", "data", "--out", "eval", "--card"], work, env)
    assert "spectral distance" in evaluation.stdout and (work / "mine.md").exists()

    audio = (0.3 * np.sin(2 * np.pi * 330 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)).astype(np.float32)
    sf.write(work / "in.wav", audio, SAMPLE_RATE)
    # render needs the hosts extra, and says so.
    without = subprocess.run([timbrel, "render", "in.wav", "out.wav"], cwd=work, env=env, capture_output=True,
                             text=True, timeout=120)
    assert without.returncode == 2 and "timbrel[hosts]" in without.stderr, without.stderr
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", "-c", REPO / "constraints.txt", f"{source}[hosts]"],
        work, env)
    rendered = run([timbrel, "render", "in.wav", "out.wav", "--model", "violin-again.ts"], work, env)
    assert "through violin-again" in rendered.stdout, rendered.stdout
    out, rate = sf.read(work / "out.wav")
    assert rate == SAMPLE_RATE and len(out) == len(audio) and np.sqrt(np.mean(out ** 2)) > 1e-3

    # Without the user's copy, render says where it looked.
    (Path(env["HOME"]) / ".vst3" / "Timbrel.vst3").unlink()
    try:
        missing = subprocess.run([timbrel, "render", "in.wav", "out2.wav"], cwd=work, env=env, capture_output=True,
                                 text=True, timeout=120)
    finally:
        (Path(env["HOME"]) / ".vst3" / "Timbrel.vst3").symlink_to(REPO / "dist" / "Timbrel.vst3")
    assert missing.returncode == 2 and ".vst3/Timbrel.vst3" in missing.stderr and "--plugin" in missing.stderr
    assert not (work / "out2.wav").exists()
