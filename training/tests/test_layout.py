"""The package's layout rule (docs/architecture.md): imports run one way.

    files  <-  format  <-  models  <-  training
                  ^
                  +-- hosts (the vocabulary only)

format needs torch and nothing above it; hosts need neither torch nor models nor training; no
module of the installable package imports the checkout's tools (timbrel_tools)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "timbrel"

# Which parts of the package each layer may import (by dotted prefix).
ALLOWED = {
    "timbrel.files": (),
    "timbrel.format": ("timbrel.files", "timbrel.format"),
    "timbrel.models": ("timbrel.files", "timbrel.format", "timbrel.models"),
    "timbrel.training": ("timbrel.files", "timbrel.format", "timbrel.models", "timbrel.training"),
    "timbrel.hosts": ("timbrel.files", "timbrel.format.vocabulary", "timbrel.hosts"),
}
# The entry points import what they dispatch to.
ENTRY_POINTS = ("timbrel", "timbrel.__main__", "timbrel.cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module name, at module level) for every import in the file; `from . import x`
    counts as importing the package and x."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.append((module, id(node) in top_level))
            if node.module is None or node.level:
                found += [(f"{module}.{alias.name}", id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            continue  # cli's lazy dispatch; it is an entry point
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def layer(name: str) -> str | None:
    return next((prefix for prefix in ALLOWED if name == prefix or name.startswith(prefix + ".")), None)


def test_every_module_belongs_to_a_layer():
    strays = [module_name(p) for p in MODULES if layer(module_name(p)) is None and module_name(p) not in ENTRY_POINTS]
    assert not strays, f"modules outside format/models/training/hosts/files: {strays}"


def violations(name: str, imported: list[str]) -> list[str]:
    """The imports of module `name` that break the rule."""
    allowed = ALLOWED[layer(name)]
    wrong = []
    for module in imported:
        if module.split(".")[0] == "timbrel_tools":
            wrong.append(module)  # the package must not need the checkout's tools
        elif module.startswith("timbrel.") and not any(module == a or module.startswith(a + ".") for a in allowed):
            wrong.append(module)
    return wrong


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_imports_run_one_way(path):
    name = module_name(path)
    if name in ENTRY_POINTS:
        return
    wrong = violations(name, [m for m, _ in imports(path)])
    assert not wrong, f"{name} imports {wrong}; {layer(name)} may import only {ALLOWED[layer(name)]}"


def test_the_rule_reads_relative_imports_and_catches_wrong_ones():
    loop = [m for m, _ in imports(PACKAGE / "training" / "loop.py")]
    assert "timbrel.models.checkpoint" in loop and "timbrel.training.data" in loop  # `from ..models.checkpoint`
    assert violations("timbrel.format.contract",
                      ["timbrel.format.vocabulary", "timbrel.training.loop", "timbrel_tools.reference"]) == [
        "timbrel.training.loop", "timbrel_tools.reference"]
    assert violations("timbrel.hosts.render", ["timbrel.format.vocabulary", "timbrel.format.contract"]) == [
        "timbrel.format.contract"]


def third_party(path: Path, module_level_only: bool) -> set[str]:
    roots = {m.split(".")[0] for m, top in imports(path) if top or not module_level_only}
    return {r for r in roots if r not in sys.stdlib_module_names and r not in ("timbrel", "__future__")}


def test_the_format_needs_torch_only():
    for path in PACKAGE.joinpath("format").rglob("*.py"):
        assert third_party(path, module_level_only=True) <= {"torch"}, path
        # numpy only inside functions that are handed numpy arrays (vocabulary.to_fader_space)
        assert third_party(path, module_level_only=False) <= {"torch", "numpy"}, path


def test_the_hosts_need_no_torch():
    for path in PACKAGE.joinpath("hosts").rglob("*.py"):
        assert "torch" not in third_party(path, module_level_only=False), path
    code = ("import sys, timbrel.hosts, timbrel.hosts.render, timbrel.cli; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
