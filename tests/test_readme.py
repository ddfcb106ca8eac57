"""The README's code blocks, checked, so the README cannot drift from the code (issue 29).

Every command line in a fenced shell block of README.md (```sh, ```bash, ```shell, ```console
or a bare ```) must be one of:
  - `make [VAR=VALUE ...] TARGET ...`: each TARGET a rule or .PHONY name of the Makefile, each VAR
    a variable the Makefile reads;
  - a `timbrel` command (`timbrel`, `.venv/bin/timbrel`, `python -m timbrel`): its subcommand's
    `--help` exits 0 and names every option the line uses (and a choice option's value is one
    of its choices);
  - an install line for what `make package` writes (`sudo apt install ./packages/...deb`,
    `tar xzf packages/...tar.gz`, `.../install.sh [--option]`): the path is the one
    scripts/package.sh writes, at the version CMakeLists.txt declares;
  - a command in NOT_RUN below, with the reason it is not run here.
Anything else fails. Python blocks compile, and every module they import imports, with the
names they take from it. The README stays under 200 lines and its relative links resolve.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO

README = REPO / "README.md"
MAX_LINES = 200

# Commands a README may show that this test does not run. Each says why; keep it short.
NOT_RUN = {
    "tensorboard": "starts a web server that runs until it is stopped (the logs it reads are tested in "
                   "training/tests/test_distributed.py)",
    "pip": "installs from PyPI into a venv: needs the network, and would change the venv the tests "
           "run in (test_install.py installs the package alone in a fresh venv)",
}

SHELL_LANGUAGES = {"", "sh", "bash", "shell", "console"}
OTHER_LANGUAGES = {"python", "text"}  # text: output or diagrams, never commands
SEPARATORS = {";", "&&", "||", "|", "&"}


@dataclass(frozen=True)
class Block:
    language: str
    line: int  # of the first line inside the fence
    text: str


@dataclass(frozen=True)
class Command:
    line: int
    text: str
    tokens: tuple[str, ...]


def code_blocks(text: str) -> list[Block]:
    blocks, fence, language, start, body = [], None, "", 0, []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if fence is None:
            match = re.match(r"^(`{3,}|~{3,})\s*([\w+-]*)", stripped)
            if match:
                fence, language, start, body = match.group(1), match.group(2).lower(), number + 1, []
        elif stripped.startswith(fence) and not stripped[len(fence):].strip():
            blocks.append(Block(language, start, "\n".join(body)))
            fence = None
        else:
            body.append(line)
    assert fence is None, f"README.md: the code block opened before line {start} is never closed"
    return blocks


def split_commands(line: str) -> list[list[str]]:
    """One shell line -> its simple commands (split at ; && || | &), comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands, current = [], []
    for token in lexer:
        if token in SEPARATORS:
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    # Leading VAR=value assignments belong to the environment, not the command.
    commands = [[t for i, t in enumerate(c) if not (re.match(r"^\w+=", t) and all(
        re.match(r"^\w+=", p) for p in c[:i + 1]))] for c in commands]
    return [c for c in commands if c]


def shell_commands(block: Block) -> list[Command]:
    lines = block.text.splitlines()
    if block.language == "console":  # only the prompted lines are commands, the rest is output
        lines = [line[2:] if line.startswith("$ ") else "" for line in lines]
    commands, pending, pending_line = [], "", 0
    for offset, line in enumerate(lines):
        if not pending:
            pending_line = block.line + offset
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined, pending = pending + line, ""
        for tokens in split_commands(joined):
            commands.append(Command(pending_line, joined.strip(), tuple(tokens)))
    assert not pending, f"README.md:{pending_line}: a line continuation runs off the end of its block"
    return commands


README_TEXT = README.read_text(encoding="utf-8")
BLOCKS = code_blocks(README_TEXT)
COMMANDS = [c for b in BLOCKS if b.language in SHELL_LANGUAGES for c in shell_commands(b)]
PYTHON_BLOCKS = [b for b in BLOCKS if b.language == "python"]


# ----------------------------------------------------------------------------------------------
# What the checkout says: Makefile targets, the package file names, the CLI's help


@functools.lru_cache(maxsize=None)
def makefile() -> str:
    return (REPO / "Makefile").read_text()


@functools.lru_cache(maxsize=None)
def make_targets() -> frozenset[str]:
    targets = set()
    for line in makefile().splitlines():
        if not line.strip() or line.startswith(("\t", "#", " ")):
            continue
        if line.startswith(".PHONY"):
            targets.update(line.split(":", 1)[1].split())
            continue
        match = re.match(r"^([^:=#\s?+][^:=#?+]*?)\s*::?(?!=)", line)
        if match:
            targets.update(t for t in match.group(1).split() if "$" not in t and "%" not in t)
    return frozenset(t for t in targets if not t.startswith("."))


@functools.lru_cache(maxsize=None)
def package_outputs() -> dict[str, str]:
    """What `make package` writes: {'deb': 'packages/timbrel_V_amd64.deb', 'tarball': ...,
    'folder': the tarball's top folder}, read from the Makefile, scripts/package.sh and the
    version in CMakeLists.txt."""
    version = re.search(r"^project\(Timbrel VERSION ([0-9.]+)", (REPO / "CMakeLists.txt").read_text(), re.M)
    rule = re.search(r"^package:.*\n\tbash scripts/package\.sh \S+ (\S+)\s*$", makefile(), re.M)
    assert version and rule, "CMakeLists.txt's version or the Makefile's package rule is not where this test reads it"
    script = (REPO / "scripts" / "package.sh").read_text()
    variables = {"version": version.group(1)}
    name = re.search(r'^name="([^"]+)"', script, re.M)
    if name:
        variables["name"] = name.group(1)

    def expand(text: str) -> str:
        for _ in range(3):
            text = re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m.group(1), m.group(0)), text)
        return text

    outputs = {}
    for written in re.findall(r'"\$out/([^"\s]+)"', script):
        path = f"{rule.group(1)}/{expand(written)}"
        if path.endswith(".deb"):
            outputs["deb"] = path
        elif path.endswith(".tar.gz"):
            outputs["tarball"] = path
    if "name" in variables:
        outputs["folder"] = expand(variables["name"])
    assert {"deb", "tarball", "folder"} <= outputs.keys(), f"scripts/package.sh: found only {outputs}"
    assert "installer/linux/install.sh" in script, "scripts/package.sh no longer puts install.sh in the tarball"
    return outputs


@functools.lru_cache(maxsize=None)
def timbrel_help(path: tuple[str, ...]) -> tuple[int, str]:
    result = subprocess.run([sys.executable, "-m", "timbrel", *path, "--help"], capture_output=True,
                            text=True, timeout=120, cwd=REPO)
    return result.returncode, result.stdout + result.stderr


def subcommands(help_text: str) -> set[str]:
    """argparse lists a subparser's choices on a line of their own: `  {fluidr3,folder}`."""
    return {name for group in re.findall(r"^\s+\{([\w,-]+)\}\s*$", help_text, re.M) for name in group.split(",")}


def option_choices(help_text: str) -> dict[str, set[str]]:
    return {option: set(choices.split(","))
            for option, choices in re.findall(r"(--[\w-]+) \{([\w,.-]+)\}", help_text)}


# ----------------------------------------------------------------------------------------------
# The checks, one per kind of command


def check_make(args: list[str]) -> list[str]:
    problems = []
    for arg in args:
        if arg.startswith("-"):
            continue
        variable = re.match(r"^(\w+)=", arg)
        if variable:
            if not re.search(rf"\$[({{]{variable.group(1)}[)}}]|^{variable.group(1)}\s*[?:]?=",
                             makefile(), re.M):
                problems.append(f"the Makefile does not read {variable.group(1)}")
        elif arg not in make_targets():
            problems.append(f"`make {arg}`: no target {arg!r} in the Makefile "
                            f"(targets: {', '.join(sorted(make_targets()))})")
    return problems


def torchrun_problems(options: list[str]) -> list[str]:
    """torchrun's own options in a README line, checked against its --help."""
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--help"], capture_output=True, text=True,
                          timeout=120)
    return [f"torchrun has no option {o}" for o in options
            if o.startswith("--") and o.split("=")[0] not in done.stdout]


def timbrel_args(tokens: tuple[str, ...]) -> list[str] | None:
    if tokens[0] == "timbrel" or tokens[0].endswith("/bin/timbrel"):
        return list(tokens[1:])
    if tokens[0] == "torchrun" or tokens[0].endswith("/bin/torchrun"):  # torchrun [its options] -m timbrel ...
        for i in range(1, len(tokens) - 1):
            if tokens[i:i + 2] == ("-m", "timbrel"):
                problems = torchrun_problems(list(tokens[1:i]))
                assert not problems, problems
                return list(tokens[i + 2:])
        return None
    if re.fullmatch(r"(\S*/)?python3?(\.\d+)?", tokens[0]) and tokens[1:3] == ("-m", "timbrel"):
        return list(tokens[3:])
    return None


def check_timbrel(args: list[str]) -> list[str]:
    if not args or args[0].startswith("-"):
        return ["`timbrel` without a subcommand"]
    path: tuple[str, ...] = ()
    i = 0
    while i < len(args) and not args[i].startswith("-"):
        if path:
            choices = subcommands(timbrel_help(path)[1])
            if not choices:
                break  # the rest are the subcommand's positional arguments
            if args[i] not in choices:
                return [f"`timbrel {' '.join(path)}` has no subcommand {args[i]!r} (it has {sorted(choices)})"]
        path += (args[i],)
        i += 1
        code, text = timbrel_help(path)
        if code != 0:
            return [f"`python -m timbrel {' '.join(path)} --help` exited {code}:\n{text[-2000:]}"]
    text = timbrel_help(path)[1]
    problems = []
    choices = option_choices(text)
    rest = args[i:]
    for j, arg in enumerate(rest):
        if not arg.startswith("-") or re.fullmatch(r"-\d.*", arg):
            continue
        option, _, inline = arg.partition("=")
        if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text):
            problems.append(f"`timbrel {' '.join(path)}` has no option {option} (see its --help)")
            continue
        if option in choices:
            value = inline or (rest[j + 1] if j + 1 < len(rest) else "")
            if value not in choices[option]:
                problems.append(f"`timbrel {' '.join(path)} {option}` takes one of {sorted(choices[option])}, "
                                f"not {value!r}")
    return problems


def check_install(tokens: tuple[str, ...]) -> list[str] | None:
    """Install lines for what `make package` writes; None when the command is not one."""
    words = list(tokens[1:] if tokens[0] == "sudo" else tokens)
    outputs = package_outputs()
    problems = [] if "package" in make_targets() else ["the Makefile has no `package` target"]

    def same(path: str, expected: str) -> bool:
        return path.removeprefix("./") == expected

    if words[:2] in (["apt", "install"], ["apt-get", "install"]) or words[:2] == ["dpkg", "-i"]:
        paths = [w for w in words[2:] if not w.startswith("-")]
        if not paths or not all(same(p, outputs["deb"]) for p in paths):
            problems.append(f"installs {paths}, but `make package` writes ./{outputs['deb']}")
        return problems
    if words[0] == "tar" and len(words) >= 3 and re.fullmatch(r"-?x[zvf]*", words[1]):
        if not same(words[2], outputs["tarball"]):
            problems.append(f"unpacks {words[2]}, but `make package` writes {outputs['tarball']}")
        return problems
    if words[0].endswith("install.sh"):
        if words[0].removeprefix("./") not in ("install.sh", f"{outputs['folder']}/install.sh"):
            problems.append(f"{words[0]}: the tarball unpacks to {outputs['folder']}/install.sh")
        script = (REPO / "installer" / "linux" / "install.sh").read_text()
        known = set(re.findall(r"^\s*(--[\w-]+)\)", script, re.M))
        problems += [f"install.sh has no option {w} (it has {sorted(known)})"
                     for w in words[1:] if w not in known]
        return problems
    return None


def check_not_run(tokens: tuple[str, ...]) -> list[str] | None:
    """Allow-listed commands: not run, but what they name must exist."""
    words = list(tokens)
    if re.fullmatch(r"(\S*/)?python3?(\.\d+)?", words[0]) and words[1:3] == ["-m", "pip"]:
        words = ["pip"] + words[3:]
    if words[0].startswith(".venv/bin/"):  # the venv's own tools: that make setup installs them
        tool = words[0].removeprefix(".venv/bin/")
        if tool in NOT_RUN and not (REPO / ".venv" / "bin" / tool).exists():
            return [f"{words[0]}: make setup installs no such tool"]
        words[0] = tool
    if words[0] not in NOT_RUN:
        return None
    problems = []
    if words[0] == "pip":
        for flag, value in zip(words, words[1:]):
            if flag in ("-c", "-r") and not (REPO / value).is_file():
                problems.append(f"pip {flag} {value}: no such file")
        for spec in words[2:]:
            local = re.fullmatch(r"(\./[\w./-]+)(?:\[([\w,-]+)\])?", spec)
            if not local:
                continue
            folder = REPO / local.group(1)
            if not (folder / "pyproject.toml").is_file():
                problems.append(f"pip install {spec}: {local.group(1)} has no pyproject.toml")
                continue
            project = (folder / "pyproject.toml").read_text()
            problems += [f"pip install {spec}: {local.group(1)} has no extra {extra!r}"
                         for extra in (local.group(2) or "").split(",")
                         if extra and not re.search(rf"^{re.escape(extra)}\s*=", project, re.M)]
    return problems


def check_command(command: Command) -> list[str]:
    tokens = command.tokens
    if tokens[0] == "make":
        return check_make(list(tokens[1:]))
    args = timbrel_args(tokens)
    if args is not None:
        return check_timbrel(args)
    for check in (check_install, check_not_run):
        problems = check(tokens)
        if problems is not None:
            return problems
    return [f"unknown command {tokens[0]!r}: make it a Makefile target or a `timbrel` command, or add it "
            f"to NOT_RUN in tests/test_readme.py with the reason it cannot run here"]


# ----------------------------------------------------------------------------------------------
# The tests


def test_readme_is_short():
    lines = README_TEXT.splitlines()
    assert len(lines) < MAX_LINES, f"README.md has {len(lines)} lines: under {MAX_LINES}, move detail to docs/"


def test_code_blocks_are_known_languages():
    assert BLOCKS, "README.md has no code blocks"
    unknown = [f"line {b.line}: ```{b.language}" for b in BLOCKS if b.language not in SHELL_LANGUAGES | OTHER_LANGUAGES]
    assert not unknown, f"code blocks this test does not check: {unknown}"


def test_the_two_commands_are_the_ones_ci_runs():
    shown = {c.tokens for c in COMMANDS}
    assert ("make", "demo") in shown and ("make", "test") in shown, "the README must show `make demo` and `make test`"
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run no longer runs `make test`, which the README calls the tests"


@pytest.mark.parametrize("command", COMMANDS, ids=[f"L{c.line}:{' '.join(c.tokens)[:60]}" for c in COMMANDS])
def test_command(command):
    problems = check_command(command)
    assert not problems, f"README.md:{command.line}: `{command.text}`\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[f"L{b.line}" for b in PYTHON_BLOCKS])
def test_python_block(block):
    code = block.text
    compile(code, f"README.md:{block.line}", "exec")
    modules: dict[str, object] = {}  # names bound by `import X` -> the module
    problems = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                try:
                    module = importlib.import_module(alias.name)
                except ImportError as error:
                    problems.append(f"import {alias.name}: {error}")
                    continue
                top = alias.asname or alias.name.split(".")[0]
                modules[top] = module if alias.asname else importlib.import_module(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level or not node.module:
                problems.append(f"line {node.lineno}: relative import")
                continue
            try:
                module = importlib.import_module(node.module)
            except ImportError as error:
                problems.append(f"from {node.module}: {error}")
                continue
            for alias in node.names:
                if alias.name != "*" and not hasattr(module, alias.name) \
                        and importlib.util.find_spec(f"{node.module}.{alias.name}") is None:
                    problems.append(f"from {node.module} import {alias.name}: no such name")
    # module.attribute on an imported module must exist (pedalboard.load_plugin, mido.Message).
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            if not hasattr(modules[node.value.id], node.attr):
                problems.append(f"{node.value.id}.{node.attr}: no such attribute")
    assert not problems, f"README.md:{block.line}: python block\n  " + "\n  ".join(problems)


def test_there_is_something_to_check():
    assert COMMANDS and PYTHON_BLOCKS, "the parser found no commands or no Python blocks in README.md"


def test_relative_links_resolve():
    links = re.findall(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", README_TEXT)
    links += re.findall(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", README_TEXT, re.M)
    relative = [link for link in links if not re.match(r"^[a-zA-Z][\w+.-]*:", link) and not link.startswith("#")]
    assert relative, "no relative links found in README.md (the parser is broken?)"
    missing = [link for link in relative if not (REPO / link.split("#")[0]).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"
