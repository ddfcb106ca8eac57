"""Plugin states saved by a release, kept as fixtures: every later build must restore them with
the same parameter values and model reference (tests/test_state_fixtures.py), so a session a
user saved never opens differently after an update. Like chowdsp's old-state fixtures.

Run once per release, with the plugin of that release built (make build), and commit the result:

    python -m timbrel_tools.state_fixtures --release 0.1.0

Each case gives tests/fixtures/states/<release>/<case>.state (the plugin's own state blob, as
getStateInformation returns it, before any host wraps it) and <case>.json (what restoring it
must give: the model reference and every parameter's value in its own unit, choices as text).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from timbrel.hosts import PedalboardHost, plugin_state

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "states"

# A few sessions as users save them: defaults, moved faders, every mode, sources, latent knobs,
# and a model that is not installed (the reference must survive anyway).
CASES: dict[str, dict] = {
    "default": {"model": None, "settings": {}},
    "violin-faders": {"model": "violin", "settings": {
        "pitch_shift": -5.0, "centroid_shift": 0.5, "loudness_source": "Fixed", "loudness_fixed": -30.0,
        "flatness_shift": -0.25, "mix": 80.0, "output_gain": -3.0}},
    "flute-inline-linked": {"model": "flute", "settings": {
        "processing_mode": "Inline", "stereo_mode": "Linked", "bypass": True, "bandwidth_source": "Sidechain"}},
    "choir-latent-margin": {"model": "choir", "settings": {
        "threaded_margin": "4 hops", "latent_1_offset": 1.5, "latent_3_scale": 2.5, "latent_8_offset": -4.0,
        "pitch_source": "Fixed", "pitch_fixed": 57.0}},
    "missing-model": {"model": "a-model-this-machine-lacks", "settings": {"mix": 25.0}},
}


def expected_values(host: PedalboardHost) -> dict[str, object]:
    return {pid: host.get(pid) for pid in sorted(host.parameters)}


def write_release(release: str, plugin_path=None) -> Path:
    folder = FIXTURES / release
    folder.mkdir(parents=True, exist_ok=True)
    for case, spec in CASES.items():
        host = PedalboardHost(plugin_path)
        if spec["model"] is not None:
            host.load_model(spec["model"])
        for parameter, value in spec["settings"].items():
            host.set(parameter, value)
        state = plugin_state.read(host.plugin.raw_state)
        own_blob = plugin_state.own_blob(host.plugin.raw_state)
        (folder / f"{case}.state").write_bytes(own_blob)
        model = state.find("Model")
        expected = {"release": release, "model_reference": model.get("reference") if model is not None else "",
                    "parameters": expected_values(host)}
        (folder / f"{case}.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m timbrel_tools.state_fixtures", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", required=True, help="this release's version, e.g. 0.1.0")
    parser.add_argument("--plugin", help="the plugin bundle (default: dist/Timbrel.vst3 or $TIMBREL_PLUGIN)")
    args = parser.parse_args()
    print(write_release(args.release, args.plugin))


if __name__ == "__main__":
    main()
