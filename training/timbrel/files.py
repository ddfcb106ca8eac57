"""Writing files so that a reader never sees half of one: the package's one atomic-write helper.

Every file the package writes to be read whole later (model files, checkpoints, dataset WAVs
and manifests, run recipes, cards, eval reports, renders) goes through `atomic_path`: the
content is written to a temporary file beside the destination, checked if the caller wants,
then renamed over it. A crash, a kill or a failed check leaves the old file (or none), never a
torn one.

Permissions follow the user's umask, like any file they save (0644 under the usual umask 022,
group-readable under 002): mkstemp's private 0600 would hide checkpoints and models from the
user's group and from a plugin run by another account.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside `path`; when the block ends without an exception the
    temporary file gets normal permissions and replaces `path`, otherwise it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(temporary)
        os.chmod(temporary, _file_mode())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_atomically(path: str | os.PathLike, content: bytes | str) -> None:
    """Writes bytes (or UTF-8 text) to `path` through atomic_path."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
