"""The bundles in dist/ are self-contained: libtorch and the models travel inside them, and
they load from any path with an empty environment."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

LOAD_SCRIPT = r"""
import json, sys
import numpy as np
import pedalboard
from timbrel.hosts import plugin_state
plugin = pedalboard.load_plugin(sys.argv[1])
tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(8192) / 44100)
out = plugin.process(np.stack([tone, tone]).astype(np.float32), 44100)
libtorch = [line.split(maxsplit=5)[-1].strip() for line in open("/proc/self/maps") if "libtorch_cpu.so" in line]
status = plugin_state.status(plugin.raw_state)
print(json.dumps({"libtorch": sorted(set(libtorch)), "ok": status.ok, "message": status.message,
                  "model": status.model_name, "torch_imported": "torch" in sys.modules,
                  "peak": float(np.abs(out).max())}))
"""


def test_vst3_loads_from_another_path_with_an_empty_environment(plugin_path, tmp_path):
    moved = tmp_path / "some folder" / "Timbrel.vst3"
    shutil.copytree(plugin_path, moved, copy_function=shutil.copy)
    result = subprocess.run(
        ["env", "-i", sys.executable, "-c", LOAD_SCRIPT, str(moved)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"], report["message"]
    assert report["model"] == (REPO / "models" / "DEFAULT").read_text().strip()
    assert not report["torch_imported"]
    assert report["libtorch"] == [str(moved / "Contents" / "x86_64-linux" / "libtorch_cpu.so")]
    assert report["peak"] > 0.01


def _unresolved_and_torch(binary: Path) -> tuple[list[str], str]:
    lines = subprocess.run(["env", "-i", "ldd", str(binary)], capture_output=True, text=True, check=True).stdout.splitlines()
    missing = [line.strip() for line in lines if "not found" in line]
    torch = next(line.split("=>")[1].split("(")[0].strip() for line in lines if "libtorch_cpu.so" in line)
    return missing, torch


def test_every_format_resolves_libtorch_from_its_own_folder():
    dist = REPO / "dist"
    binaries = [
        dist / "Timbrel.vst3" / "Contents" / "x86_64-linux" / "Timbrel.so",
        dist / "Timbrel.lv2" / "libTimbrel.so",
        dist / "Timbrel" / "Timbrel",
    ]
    for binary in binaries:
        assert binary.exists(), binary
        missing, torch = _unresolved_and_torch(binary)
        assert missing == [], f"{binary}: {missing}"
        assert Path(torch) == binary.parent / "libtorch_cpu.so"


def test_every_bundle_carries_the_models():
    dist = REPO / "dist"
    for models in (dist / "Timbrel.vst3" / "Contents" / "Resources" / "models",
                   dist / "Timbrel.lv2" / "models", dist / "Timbrel" / "models"):
        default = (models / "DEFAULT").read_text().strip()
        assert (models / f"{default}.ts").exists(), models


def test_lv2_manifest_names_the_plugin_binary():
    manifest = (REPO / "dist" / "Timbrel.lv2" / "manifest.ttl").read_text()
    assert "libTimbrel.so" in manifest
