"""The macOS and Windows build paths, checked on Linux (docs/platforms.md).

No Mac or Windows machine has built Timbrel. What can be checked here is:
- cmake/TimbrelPlatform.cmake's facts for each platform (formats, bundled libraries, rpath or
  loader, bundle layouts), asked with `cmake -P` and a forced platform name, against one another,
  the Linux scripts and plugin/source/ModelLocator.cpp's search folders;
- scripts/assemble_dist.cmake run on fake artefacts for a macOS and a Windows layout;
- the CI workflows (actionlint) and every shell script (shellcheck);
- with TIMBREL_PLATFORM_WHEELS=1 (`make check-platforms`): the pinned torch wheels for macOS arm64
  and Windows x64, downloaded once into build/platform-wheels (about 230 MB), hold what each
  platform's CMake path and installer expect: TorchConfig.cmake and every file its targets name,
  the headers, and the libraries the bundles carry, with their dependencies (Mach-O load commands,
  PE import tables) inside that set.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLATFORMS = ("Linux", "Darwin", "Windows")
PLUGINS = ("Timbrel", "TimbrelSynth")
TORCH_VERSION = "2.13.0"
WHEELS = {  # platform -> pip's --platform; Python 3.12 (3.11 does not resolve for these)
    "Darwin": "macosx_14_0_arm64",
    "Windows": "win_amd64",
}


def facts(platform: str, tmp_path: Path) -> dict:
    out = tmp_path / f"facts-{platform}.json"
    result = subprocess.run(["cmake", f"-DPLATFORM={platform}", f"-DOUT={out}", "-P",
                             str(REPO / "tests" / "cmake" / "check_platform.cmake")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def all_facts(tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("facts")
    return {platform: facts(platform, tmp) for platform in PLATFORMS}


def layout(f: dict, fmt: str, name: str = "Timbrel") -> dict[str, str]:
    return {k: v.replace("<NAME>", name) for k, v in f["LAYOUTS"][fmt].items()}


def binary_folder(entry: dict[str, str]) -> str:
    return posixpath.dirname(entry["BINARY"]) or "."


# ---- cmake/TimbrelPlatform.cmake, through cmake -P ---------------------------------------------

def test_formats_per_platform(all_facts):
    assert set(all_facts["Linux"]["FORMATS"]) == {"VST3", "Standalone", "LV2"}
    assert set(all_facts["Darwin"]["FORMATS"]) == {"VST3", "AU", "Standalone"}
    assert set(all_facts["Windows"]["FORMATS"]) == {"VST3", "Standalone"}
    for f in all_facts.values():
        assert set(f["LAYOUTS"]) == set(f["FORMATS"])


def test_unknown_platform_is_refused(tmp_path):
    result = subprocess.run(["cmake", "-DPLATFORM=BeOS", f"-DOUT={tmp_path / 'x.json'}", "-P",
                             str(REPO / "tests" / "cmake" / "check_platform.cmake")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "unknown platform 'BeOS'" in result.stderr


def test_linux_facts_match_the_linux_scripts(all_facts):
    """Linux builds exactly as before: the module only states what assemble_dist.sh and
    plugin/CMakeLists.txt do."""
    f = all_facts["Linux"]
    script = (REPO / "scripts" / "assemble_dist.sh").read_text()
    libs = re.search(r"^libs=\(([^)]*)\)", script, re.M).group(1).split()
    assert f["TORCH_LIBS"] == libs
    assert f["RPATH"] == "$ORIGIN" and f["RPATH_TOOL"] == "patchelf"
    assert "origin='$ORIGIN'" in script and 'patchelf --set-rpath "$origin"' in script
    plugin_cmake = (REPO / "plugin" / "CMakeLists.txt").read_text()
    assert f'"{f["KEEP_LOADED_LINK_OPTION"]}"' in plugin_cmake  # dropped off Linux by the module
    assert f["SIGN"] == "" and f["DELAYLOAD"] == [] and f["SOURCES"] == []
    vst3 = layout(f, "VST3")
    assert vst3["BINARY"] == "Contents/x86_64-linux/Timbrel.so" and vst3["LIBDIR"] == "Contents/x86_64-linux"


def test_darwin_rpath_reaches_the_bundled_libraries(all_facts):
    f = all_facts["Darwin"]
    assert f["RPATH"] == "@loader_path/../Frameworks" and f["RPATH_TOOL"] == "install_name_tool"
    assert {"libtorch_cpu.dylib", "libc10.dylib", "libomp.dylib"} <= set(f["TORCH_LIBS"])
    assert f["SIGN"] == "codesign --force --deep --sign -"
    for fmt in f["FORMATS"]:
        entry = layout(f, fmt)
        target = posixpath.normpath(posixpath.join(binary_folder(entry), f["RPATH"].removeprefix("@loader_path/")))
        assert target == entry["LIBDIR"], fmt
        assert entry["ROOT"] == entry["DEST"] and entry["BINARY"] == "Contents/MacOS/Timbrel"
    assert {layout(f, fmt)["ROOT"] for fmt in f["FORMATS"]} == {"Timbrel.vst3", "Timbrel.component", "Timbrel.app"}


def test_windows_dlls_sit_beside_the_binary(all_facts):
    f = all_facts["Windows"]
    assert f["RPATH"] == "" and f["SIGN"] == ""
    assert {"torch_cpu.dll", "c10.dll", "libiomp5md.dll"} <= set(f["TORCH_LIBS"])
    assert set(f["DELAYLOAD"]) <= set(f["TORCH_LIBS"])
    for fmt in f["FORMATS"]:
        entry = layout(f, fmt)
        assert posixpath.normpath(entry["LIBDIR"]) == binary_folder(entry), fmt
    assert layout(f, "VST3")["BINARY"] == "Contents/x86_64-win/Timbrel.vst3"


def test_platform_sources_exist(all_facts):
    for f in all_facts.values():
        for source in f["SOURCES"]:
            assert (REPO / source).is_file(), source
    assert (REPO / "plugin" / "platform" / "WindowsVst3Loader.cpp").is_file()
    assert "WindowsDllPath.cpp" in " ".join(all_facts["Windows"]["SOURCES"])


def test_models_folder_is_where_the_plugin_looks(all_facts):
    """plugin/source/ModelLocator.cpp: <binary folder>/../Resources/models or <binary folder>/models."""
    locator = (REPO / "plugin" / "source" / "ModelLocator.cpp").read_text()
    assert 'getSiblingFile ("Resources").getChildFile ("models")' in locator
    assert 'binaryFolder.getChildFile ("models")' in locator
    for platform, f in all_facts.items():
        for fmt in f["FORMATS"]:
            entry = layout(f, fmt)
            folder = binary_folder(entry)
            candidates = {posixpath.normpath(posixpath.join(folder, "..", "Resources", "models")),
                          posixpath.normpath(posixpath.join(folder, "models"))}
            assert posixpath.normpath(entry["MODELS"]) in candidates, (platform, fmt)


def test_installers_take_the_assembled_bundles(all_facts):
    iss = (REPO / "installer" / "windows" / "timbrel.iss").read_text()
    pkg = (REPO / "installer" / "macos" / "build_pkg.sh").read_text()
    for name in PLUGINS:
        for fmt in all_facts["Windows"]["FORMATS"]:
            root = layout(all_facts["Windows"], fmt, name)["ROOT"].replace("/", "\\")
            assert f'"{{#Dist}}\\{root}\\*"' in iss, root
    assert "scripts/assemble_dist.cmake" in pkg and "for name in Timbrel TimbrelSynth" in pkg
    for fmt in all_facts["Darwin"]["FORMATS"]:
        root = layout(all_facts["Darwin"], fmt, "$name")["ROOT"]
        assert f'"$dist/{root}"' in pkg, root


# ---- scripts/assemble_dist.cmake on fake artefacts ------------------------------------------------

def fake_build(tmp_path: Path, f: dict) -> tuple[Path, Path]:
    build, torch_lib = tmp_path / "build", tmp_path / "torch-lib"
    for name in PLUGINS:
        for fmt in f["FORMATS"]:
            entry = layout(f, fmt, name)
            artefact = build / "plugin" / f"{name}_artefacts" / "Release" / fmt / entry["ARTEFACT"]
            # The artefact is the bundle (binary inside it) or, for a bare Standalone, the binary.
            binary = artefact / entry["BINARY"] if entry["DEST"] == entry["ROOT"] else artefact
            binary.parent.mkdir(parents=True, exist_ok=True)
            binary.write_bytes(b"binary")
            if f["platform"] == "Windows" and fmt == "VST3":  # the loader stub's real plugin
                (binary.parent / f"{name}Impl.dll").write_bytes(b"implementation")
    torch_lib.mkdir()
    for lib in f["TORCH_LIBS"]:
        (torch_lib / lib).write_bytes(lib.encode())
    (build / "models").mkdir(parents=True)
    (build / "models" / "timbrel-test.ts").write_bytes(b"test model")
    return build, torch_lib


@pytest.mark.parametrize("platform", ["Darwin", "Windows"])
def test_assemble_dist_layout(platform, all_facts, tmp_path):
    f = all_facts[platform]
    build, torch_lib = fake_build(tmp_path, f)
    dist = tmp_path / "dist"
    result = subprocess.run(["cmake", f"-DBUILD_DIR={build}", f"-DDIST_DIR={dist}", f"-DTORCH_LIB={torch_lib}",
                             f"-DPLATFORM={platform}", "-DRUN_TOOLS=OFF", "-P", str(REPO / "scripts" / "assemble_dist.cmake")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    shipped = {p.name for p in (REPO / "models").iterdir() if p.suffix in (".ts", ".json", ".md") or p.name == "DEFAULT"}
    roots = set()
    for name in PLUGINS:
        for fmt in f["FORMATS"]:
            entry = layout(f, fmt, name)
            root = dist / entry["ROOT"]
            roots.add(root)
            assert (root / entry["BINARY"]).read_bytes() == b"binary", (name, fmt)
            assert sorted(p.name for p in (root / entry["LIBDIR"]).iterdir() if p.name in f["TORCH_LIBS"]) == sorted(f["TORCH_LIBS"])
            models = {p.name for p in (root / entry["MODELS"]).iterdir()}
            assert shipped | {"timbrel-test.ts"} <= models, (name, fmt)
            if platform == "Windows" and fmt == "VST3":
                assert (root / entry["LIBDIR"] / f"{name}Impl.dll").exists()
    assert {p for p in dist.iterdir()} == roots  # nothing else: no staging folders left
    assert not (tmp_path / "dist.tmp").exists()
    signs = re.findall(r"would run: codesign --force --deep --sign - (\S+)", result.stdout + result.stderr)
    if platform == "Darwin":
        # Signed in the staging folder, the last step before it becomes dist.
        assert {Path(s) for s in signs} == {tmp_path / "dist.tmp" / r.name for r in roots}
        assert result.stdout.count("would copy the non-system libraries") == len(roots)
    else:
        assert signs == []


# ---- linters ------------------------------------------------------------------------------------

def tool(name: str) -> str | None:
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else shutil.which(name)


def shell_scripts() -> list[Path]:
    scripts = []
    for folder in ("scripts", "installer", ".ci"):
        for path in sorted((REPO / folder).rglob("*")):
            if not path.is_file():
                continue
            first = path.read_bytes()[:64].split(b"\n")[0]
            if path.suffix == ".sh" or (first.startswith(b"#!") and re.search(rb"\b(ba)?sh\b", first)):
                scripts.append(path)
    return scripts


# Findings accepted per file (none today): {path: [codes]}.
SHELLCHECK_KNOWN: dict[str, list[str]] = {}


def test_shellcheck_scripts():
    shellcheck = tool("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (make setup installs it: scripts/setup_apt.sh)")
    scripts = shell_scripts()
    assert REPO / ".ci" / "run" in scripts and REPO / "installer" / "macos" / "build_pkg.sh" in scripts
    failures = []
    for script in scripts:
        relative = script.relative_to(REPO).as_posix()
        excluded = SHELLCHECK_KNOWN.get(relative, [])
        command = [shellcheck, "--shell=bash", "--external-sources"] + ([f"--exclude={','.join(excluded)}"] if excluded else [])
        result = subprocess.run([*command, relative], capture_output=True, text=True, cwd=REPO, timeout=120)
        if result.returncode != 0:
            failures.append(result.stdout + result.stderr)
    assert not failures, "\n".join(failures)


def test_actionlint_workflows():
    actionlint = tool("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (make setup installs it: requirements.txt)")
    workflows = sorted((REPO / ".github" / "workflows").glob("*.yml"))
    assert {w.name for w in workflows} >= {"linux.yml", "macos.yml", "windows.yml", "release.yml"}
    env = dict(os.environ)
    if tool("shellcheck"):  # actionlint checks the run: scripts with shellcheck when it finds one
        env["PATH"] = str(Path(tool("shellcheck")).parent) + os.pathsep + env.get("PATH", "")
    result = subprocess.run([actionlint, *[w.relative_to(REPO).as_posix() for w in workflows]],
                            capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_run_what_the_issue_asks():
    flows = {name: (REPO / ".github" / "workflows" / name).read_text()
             for name in ("linux.yml", "macos.yml", "windows.yml", "release.yml")}
    assert "make test" in flows["linux.yml"]
    assert "auval -v aufx Tmb1 Tmbl" in flows["macos.yml"] and "auval -v aumu Tmb2 Tmbl" in flows["macos.yml"]
    for flow in ("macos.yml", "windows.yml"):
        assert "--strictness-level 10" in flows[flow] and "scripts/assemble_dist.cmake" in flows[flow]
        assert "TIMBREL_DOWNLOAD_CACHE" in flows[flow] and "cache: pip" in flows[flow]
    assert "installer/macos/build_pkg.sh" in flows["macos.yml"]
    assert "installer/windows/timbrel.iss" in flows["windows.yml"]
    assert 'tags: ["v*"]' in flows["release.yml"]
    plugin_cmake = (REPO / "plugin" / "CMakeLists.txt").read_text()
    assert "PLUGIN_MANUFACTURER_CODE Tmbl" in plugin_cmake
    assert "PLUGIN_CODE Tmb1" in plugin_cmake and "PLUGIN_CODE Tmb2" in plugin_cmake


# ---- the pinned torch wheels of macOS and Windows (opt-in: make check-platforms) ----------------

WHEEL_CACHE = REPO / "build" / "platform-wheels"
needs_wheels = pytest.mark.skipif(
    os.environ.get("TIMBREL_PLATFORM_WHEELS") != "1",
    reason="downloads the macOS and Windows torch wheels (~230 MB): run `make check-platforms` "
           "(TIMBREL_PLATFORM_WHEELS=1)")


def wheel(platform: str) -> zipfile.ZipFile:
    folder = WHEEL_CACHE / platform.lower()
    pattern = f"torch-{TORCH_VERSION}-*.whl"
    if not list(folder.glob(pattern)):
        folder.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                                 "--platform", WHEELS[platform], "--python-version", "3.12", "-d", str(folder),
                                 f"torch=={TORCH_VERSION}"], capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            unreachable = ("Could not fetch", "NewConnectionError", "Temporary failure", "Name or service not known",
                           "No matching distribution", "ConnectionError", "Network is unreachable")
            if any(s in result.stdout + result.stderr for s in unreachable):
                pytest.skip(f"the package registry cannot be reached or has no {WHEELS[platform]} wheel: "
                            f"{(result.stderr.strip().splitlines() or ['?'])[-1]}")
            pytest.fail(result.stdout + result.stderr)
    return zipfile.ZipFile(next(folder.glob(pattern)))


@pytest.fixture(scope="module", params=["Darwin", "Windows"])
def platform_wheel(request, all_facts):
    with wheel(request.param) as zf:
        yield request.param, zf, all_facts[request.param]


def wheel_names(zf: zipfile.ZipFile) -> set[str]:
    return set(zf.namelist())


@needs_wheels
def test_wheel_has_cmake_config_and_headers(platform_wheel):
    platform, zf, _ = platform_wheel
    names = wheel_names(zf)
    for required in ("torch/share/cmake/Torch/TorchConfig.cmake", "torch/share/cmake/Torch/TorchConfigVersion.cmake",
                     "torch/share/cmake/Caffe2/Caffe2Config.cmake", "torch/share/cmake/Caffe2/Caffe2Targets.cmake",
                     "torch/include/torch/script.h", "torch/include/torch/csrc/api/include/torch/torch.h",
                     "torch/include/ATen/Parallel.h", "torch/include/c10/core/CPUAllocator.h"):
        assert required in names, f"{platform}: {required}"
    version = zf.read("torch/share/cmake/Torch/TorchConfigVersion.cmake").decode()
    assert f'PACKAGE_VERSION "{TORCH_VERSION}"' in version
    # Every file the imported targets name must exist, or find_package(Torch) fails on that platform.
    targets = zf.read("torch/share/cmake/Caffe2/Caffe2Targets-release.cmake").decode()
    imported = re.findall(r'"\$\{_IMPORT_PREFIX\}/([^"]+)"', targets)
    assert imported, platform
    for path in imported:
        assert f"torch/{path}" in names, f"{platform}: Caffe2Targets-release.cmake names {path}"
    for include in re.findall(r'include\("\$\{CMAKE_CURRENT_LIST_DIR\}/([^"]+)"\)',
                              zf.read("torch/share/cmake/Caffe2/Caffe2Config.cmake").decode()):
        assert f"torch/share/cmake/Caffe2/{include}" in names, f"{platform}: Caffe2Config.cmake includes {include}"


# Mach-O: load commands of a 64-bit image (LC_ID_DYLIB, LC_LOAD_DYLIB and kin, LC_RPATH).
LC_STRING_COMMANDS = {0xC: "load", 0xD: "id", 0x18 | 0x80000000: "load", 0x1F | 0x80000000: "load",
                      0x1C | 0x80000000: "rpath"}
CPU_TYPE_ARM64 = 0x0100000C


def macho(zf: zipfile.ZipFile, member: str) -> dict:
    with zf.open(member) as stream:
        header = stream.read(32)
        magic, cputype, _, _, ncmds, sizeofcmds = struct.unpack_from("<IiIIII", header)
        assert magic == 0xFEEDFACF, f"{member}: not a 64-bit Mach-O image"
        commands = stream.read(sizeofcmds)
    info = {"cpu": cputype, "id": None, "load": [], "rpath": []}
    offset = 0
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", commands, offset)
        if cmd in LC_STRING_COMMANDS:
            (name_offset,) = struct.unpack_from("<I", commands, offset + 8)
            text = commands[offset + name_offset: offset + size].split(b"\0")[0].decode()
            kind = LC_STRING_COMMANDS[cmd]
            if kind == "id":
                info["id"] = text
            else:
                info[kind].append(text)
        offset += size
    return info


# PE: the DLL names in the import table (and the machine).
def pe_imports(data: bytes) -> tuple[int, list[str]]:
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    assert data[pe:pe + 4] == b"PE\0\0"
    machine, sections, _, _, _, optional_size, _ = struct.unpack_from("<HHIIIHH", data, pe + 4)
    optional = pe + 24
    assert struct.unpack_from("<H", data, optional)[0] == 0x20B, "PE32+ expected"
    import_rva, _ = struct.unpack_from("<II", data, optional + 112 + 8)  # data directory 1
    table = optional + optional_size
    spans = [struct.unpack_from("<IIII", data, table + 40 * i + 8) for i in range(sections)]

    def at(rva: int) -> int:
        for virtual_size, address, raw_size, raw in spans:
            if address <= rva < address + max(virtual_size, raw_size):
                return raw + rva - address
        raise ValueError(f"RVA {rva:#x} outside the sections")

    names, offset = [], at(import_rva)
    while True:
        name_rva = struct.unpack_from("<5I", data, offset)[3]
        if name_rva == 0:
            break
        start = at(name_rva)
        names.append(data[start:data.index(b"\0", start)].decode())
        offset += 20
    return machine, names


@needs_wheels
def test_wheel_libraries_are_self_contained(platform_wheel):
    """The libraries each bundle carries exist in the wheel, and what they load from torch/lib is
    among them (so a bundle never reaches for a library it lacks)."""
    platform, zf, f = platform_wheel
    names = wheel_names(zf)
    in_lib = {n.removeprefix("torch/lib/") for n in names if n.startswith("torch/lib/") and n.count("/") == 2}
    carried = set(f["TORCH_LIBS"])
    assert carried <= in_lib, f"{platform}: missing from torch/lib: {carried - in_lib}"
    if platform == "Darwin":
        for lib in sorted(carried):
            info = macho(zf, f"torch/lib/{lib}")
            assert info["cpu"] == CPU_TYPE_ARM64, lib
            for dependency in info["load"]:
                if dependency.startswith("@"):
                    assert dependency.startswith("@rpath/") or dependency.startswith("@loader_path/"), (lib, dependency)
                    assert posixpath.basename(dependency) in carried, f"{lib} loads {dependency}, not bundled"
                else:
                    assert dependency.startswith(("/usr/lib/", "/System/")), f"{lib} loads {dependency}"
            # Each finds its siblings in its own folder (Contents/Frameworks).
            assert any(r.rstrip("/") == "@loader_path" for r in info["rpath"]), (lib, info["rpath"])
            if lib != "libomp.dylib":  # libomp's own id is a build path; torch loads it as @rpath/libomp.dylib
                assert info["id"] == f"@rpath/{lib}", (lib, info["id"])
    else:
        for lib in ("torch.lib", "torch_cpu.lib", "c10.lib"):
            assert lib in in_lib, lib
        lower = {n.lower(): n for n in in_lib}
        for dll in sorted(carried):
            machine, imports = pe_imports(zf.read(f"torch/lib/{dll}"))
            assert machine == 0x8664, dll
            for imported in imports:
                if imported.lower() in lower:  # one of torch/lib's own: it must travel too
                    assert lower[imported.lower()] in carried, f"{dll} imports {imported}, not bundled"
