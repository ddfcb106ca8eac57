"""`make package` (scripts/package.sh): the .deb and the .tar.gz, each unpacked into a temporary
root and the plugin loaded from there in pedalboard with an empty environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import REPO
from test_bundle import LOAD_SCRIPT, _unresolved_and_torch

DEFAULT = (REPO / "models" / "DEFAULT").read_text().strip()

# Timbrel Synth from an unpacked package: a note in, the default model's sound out.
SYNTH_LOAD_SCRIPT = r"""
import json, sys
import mido
import numpy as np
import pedalboard
from timbrel.hosts import plugin_state
synth = pedalboard.load_plugin(sys.argv[1])
out = synth([mido.Message("note_on", note=69, velocity=100, time=0.0)], duration=0.5, sample_rate=44100, num_channels=2)
status = plugin_state.read(bytes(synth.raw_state), plugin="TimbrelSynth").find("Status")
libtorch = [line.split(maxsplit=5)[-1].strip() for line in open("/proc/self/maps") if "libtorch_cpu.so" in line]
print(json.dumps({"libtorch": sorted(set(libtorch)), "message": status.get("message"), "model": status.get("modelName"),
                  "peak": float(np.abs(out).max())}))
"""


@pytest.fixture(scope="module")
def packages(plugin_path, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("packages")
    subprocess.run(["bash", str(REPO / "scripts" / "package.sh"), str(plugin_path.parent), str(out)],
                   check=True, capture_output=True, text=True, timeout=1200)
    return {"deb": next(out.glob("timbrel_*_amd64.deb")), "tar": next(out.glob("timbrel-*-linux-x86_64.tar.gz"))}


def load_in_pedalboard(vst3: Path, cwd: Path, env: dict[str, str], script: str = LOAD_SCRIPT) -> dict:
    result = subprocess.run(["env", "-i", *[f"{k}={v}" for k, v in env.items()], sys.executable, "-c", script, str(vst3)],
                            capture_output=True, text=True, cwd=cwd, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_deb_layout_and_metadata(packages, tmp_path):
    info = subprocess.run(["dpkg-deb", "-f", str(packages["deb"]), "Package", "Architecture", "Depends"],
                          capture_output=True, text=True, check=True).stdout
    assert "Package: timbrel" in info and "Architecture: amd64" in info
    assert "libc6" in info and "libstdc++6" in info
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(packages["deb"]), str(root)], check=True)
    usr = root / "usr"
    assert (usr / "lib" / "lv2" / "Timbrel.lv2" / "manifest.ttl").exists()
    assert (usr / "share" / "timbrel" / "models" / f"{DEFAULT}.ts").exists()
    assert (usr / "bin" / "timbrel").resolve() == (usr / "lib" / "timbrel" / "Timbrel").resolve()
    assert (usr / "bin" / "timbrel-synth").resolve() == (usr / "lib" / "timbrel" / "TimbrelSynth").resolve()
    assert (usr / "lib" / "lv2" / "TimbrelSynth.lv2" / "manifest.ttl").exists()
    # libtorch once, in /usr/lib/timbrel; every binary finds it there through a relative RUNPATH.
    assert len(list(root.rglob("libtorch_cpu.so"))) == 1
    for binary in (usr / "lib" / "vst3" / "Timbrel.vst3" / "Contents" / "x86_64-linux" / "Timbrel.so",
                   usr / "lib" / "lv2" / "Timbrel.lv2" / "libTimbrel.so", usr / "lib" / "timbrel" / "Timbrel",
                   usr / "lib" / "vst3" / "TimbrelSynth.vst3" / "Contents" / "x86_64-linux" / "TimbrelSynth.so",
                   usr / "lib" / "lv2" / "TimbrelSynth.lv2" / "libTimbrelSynth.so", usr / "lib" / "timbrel" / "TimbrelSynth"):
        missing, torch = _unresolved_and_torch(binary)
        assert missing == [], f"{binary}: {missing}"
        assert Path(torch).resolve() == (usr / "lib" / "timbrel" / "libtorch_cpu.so").resolve()
    # The plugins find the shipped models through relative links into /usr/share/timbrel/models.
    for models in (usr / "lib" / "vst3" / "Timbrel.vst3" / "Contents" / "Resources" / "models",
                   usr / "lib" / "lv2" / "Timbrel.lv2" / "models", usr / "lib" / "timbrel" / "models",
                   usr / "lib" / "vst3" / "TimbrelSynth.vst3" / "Contents" / "Resources" / "models",
                   usr / "lib" / "lv2" / "TimbrelSynth.lv2" / "models"):
        assert (models / "DEFAULT").read_text().strip() == DEFAULT


def test_deb_plugin_loads_from_a_temporary_root_with_an_empty_environment(packages, tmp_path):
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(packages["deb"]), str(root)], check=True)
    report = load_in_pedalboard(root / "usr" / "lib" / "vst3" / "Timbrel.vst3", tmp_path, {})
    assert report["ok"], report["message"]
    assert report["model"] == DEFAULT
    assert report["libtorch"] == [str(root / "usr" / "lib" / "timbrel" / "libtorch_cpu.so")]
    assert report["peak"] > 0.01
    synth = load_in_pedalboard(root / "usr" / "lib" / "vst3" / "TimbrelSynth.vst3", tmp_path, {}, SYNTH_LOAD_SCRIPT)
    assert synth["message"] == "" and synth["model"] == DEFAULT, synth
    assert synth["libtorch"] == [str(root / "usr" / "lib" / "timbrel" / "libtorch_cpu.so")]
    assert synth["peak"] > 0.01


def test_tarball_installs_for_the_user_and_the_plugin_finds_the_user_models(packages, tmp_path):
    with tarfile.open(packages["tar"]) as archive:
        archive.extractall(tmp_path / "unpacked", filter="tar")
    unpacked = next((tmp_path / "unpacked").iterdir())
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(["env", "-i", f"HOME={home}", f"PATH={os.environ['PATH']}", "bash", str(unpacked / "install.sh")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    vst3 = home / ".vst3" / "Timbrel.vst3"
    assert (home / ".lv2" / "Timbrel.lv2" / "libTimbrel.so").exists()
    assert (home / ".local" / "bin" / "timbrel").resolve() == (home / ".local" / "lib" / "timbrel" / "Timbrel")
    models = home / ".local" / "share" / "Timbrel" / "models"
    assert (models / f"{DEFAULT}.ts").exists()
    # The archive's bundles carry no models: the plugin finds them in the user folder.
    assert not (vst3 / "Contents" / "Resources" / "models").exists()
    # The second bundle shares libtorch with the first (hard link) instead of another 440 MB.
    lv2_torch = home / ".lv2" / "Timbrel.lv2" / "libtorch_cpu.so"
    assert lv2_torch.stat().st_ino == (vst3 / "Contents" / "x86_64-linux" / "libtorch_cpu.so").stat().st_ino

    report = load_in_pedalboard(vst3, tmp_path, {"HOME": str(home)})
    assert report["ok"], report["message"]
    assert report["model"] == DEFAULT
    assert report["peak"] > 0.01
    # Timbrel Synth beside it, its libtorch hard-linked from the first bundle placed.
    synth_vst3 = home / ".vst3" / "TimbrelSynth.vst3"
    assert (synth_vst3 / "Contents" / "x86_64-linux" / "libtorch_cpu.so").stat().st_ino == lv2_torch.stat().st_ino
    assert (home / ".local" / "bin" / "timbrel-synth").resolve() == (home / ".local" / "lib" / "timbrel-synth" / "TimbrelSynth")
    synth = load_in_pedalboard(synth_vst3, tmp_path, {"HOME": str(home)}, SYNTH_LOAD_SCRIPT)
    assert synth["message"] == "" and synth["model"] == DEFAULT and synth["peak"] > 0.01, synth

    done = subprocess.run(["env", "-i", f"HOME={home}", f"PATH={os.environ['PATH']}", "bash", str(unpacked / "install.sh"), "--uninstall"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not vst3.exists() and not synth_vst3.exists() and not (models / f"{DEFAULT}.ts").exists()
    assert not (home / ".local" / "bin" / "timbrel-synth").exists()
