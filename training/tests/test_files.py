"""The package's one way of writing files: all or nothing, with the permissions of any file the
user saves."""

from __future__ import annotations

import os

import pytest

from timbrel.files import atomic_path, write_atomically


@pytest.fixture
def umask_002():
    previous = os.umask(0o002)
    yield 0o664
    os.umask(previous)


def test_a_written_file_gets_the_umask_permissions_not_mkstemps_private_ones(tmp_path, umask_002):
    write_atomically(tmp_path / "a" / "card.json", "{}\n")
    path = tmp_path / "a" / "card.json"
    assert path.read_text() == "{}\n"
    assert path.stat().st_mode & 0o777 == umask_002  # group-readable and writable under umask 002


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "model.ts"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as temporary:
            temporary.write_bytes(b"half of a new")
            raise RuntimeError("the check failed")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ts"]
