"""States saved by earlier releases (tests/fixtures/states/<release>/, written once per release by
`python -m timbrel_tools.state_fixtures`) restore in this build with the same model reference
and every parameter at the same value: a saved session never opens differently after an update.
Parameter IDs are forever; a new parameter may appear (it keeps its default), none may vanish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO
from timbrel.hosts import PedalboardHost, plugin_state

FIXTURES = REPO / "tests" / "fixtures" / "states"
STATES = sorted(FIXTURES.glob("*/*.state"))


def test_every_release_keeps_fixtures():
    releases = {path.parent.name for path in STATES}
    assert "0.1.0" in releases, "the first release's states are missing"
    for state in STATES:
        assert state.with_suffix(".json").exists(), f"{state} has no expected values"


@pytest.fixture(scope="module")
def host(plugin_path):
    return PedalboardHost(plugin_path)


@pytest.mark.parametrize("state_file", STATES, ids=[f"{p.parent.name}/{p.stem}" for p in STATES])
def test_a_saved_state_restores_the_same_session(host, state_file: Path):
    expected = json.loads(state_file.with_suffix(".json").read_text())
    host.plugin.raw_state = plugin_state.with_own_blob(host.plugin.raw_state, state_file.read_bytes())
    status = host.status()
    assert status.model_reference == expected["model_reference"]
    if expected["model_reference"] == "a-model-this-machine-lacks":
        assert "was not found" in status.message  # said, and the reference kept for another machine
    else:
        assert status.ok, status.message
    for parameter, value in expected["parameters"].items():
        assert parameter in host.parameters, f"parameter '{parameter}' of release {expected['release']} is gone"
        actual = host.get(parameter)
        if isinstance(value, str):
            assert actual == value, parameter
        else:
            info = host.parameter(parameter)
            assert actual == pytest.approx(value, abs=1e-5 * (info.maximum - info.minimum)), parameter
