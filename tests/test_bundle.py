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


LV2_URI = "https://timbrel.invalid/lv2/timbrel"  # plugin/CMakeLists.txt: TIMBREL_LV2_URI


def lilv(tool: str, *args: str, lv2_path: Path) -> str:
    if shutil.which(tool) is None:
        raise AssertionError(f"{tool} not found: install Debian's lilv-utils (make setup does)")
    result = subprocess.run([tool, *args], capture_output=True, text=True, timeout=60,
                            env={"LV2_PATH": str(lv2_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_lv2_bundle_has_its_configured_uri_wherever_it_is_installed(tmp_path):
    # Read as LV2 hosts read it (lilv): the URI is the configured absolute one from any folder, so
    # a session saved with the plugin in ~/.lv2 finds it in /usr/lib/lv2.
    seen = set()
    for place in ("home/.lv2", "usr/lib/lv2"):
        folder = tmp_path / place
        folder.mkdir(parents=True)
        (folder / "Timbrel.lv2").symlink_to(REPO / "dist" / "Timbrel.lv2")
        seen |= set(lilv("lv2ls", lv2_path=folder).split())
    assert seen == {LV2_URI}
    info = lilv("lv2info", LV2_URI, lv2_path=tmp_path / "usr/lib/lv2")
    assert "Author Homepage:   https://timbrel.invalid/" in info and "Author Email:      mailto:" in info
    assert "Has latency:       yes, reported by port" in info
    ports = info.split("\n\tPort ")[1:]
    symbols = [line.split(":", 1)[1].strip() for port in ports for line in port.splitlines() if "Symbol:" in line]
    assert {"audio_in_1", "audio_in_2", "audio_out_1", "audio_out_2", "latency"} <= set(symbols)
    # Every parameter is a port-less LV2 parameter named by its stable ID (plug:mix, ...).
    dsp = (REPO / "dist" / "Timbrel.lv2" / "dsp.ttl").read_text()
    assert f"@prefix plug:  <{LV2_URI}:> ." in dsp and "plug:loudness_shift" in dsp
    assert 'rdfs:label "Default"' in (REPO / "dist" / "Timbrel.lv2" / "manifest.ttl").read_text()
