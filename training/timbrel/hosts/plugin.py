"""The Timbrel plugin as Python sees it from outside: where it is installed, and the facts of
its behaviour that a harness needs (its parameters, latency and fader smoothing).

These facts are written once here and once in C++ (plugin/source/Parameters.h,
plugin/engine/include/timbrel/StreamingEngine.h, ModelStream.cpp); tests/test_plugin_facts.py
loads the built plugin and checks that it reports exactly these, so the two cannot drift.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from ..format.vocabulary import VOCABULARY

BUNDLE_NAME = "Timbrel.vst3"
SYNTH_BUNDLE_NAME = "TimbrelSynth.vst3"  # the instrument: the same models played from MIDI

# -- Parameters (docs/plugin-state.md) ------------------------------------------------------------
PROCESSING_MODES = ("Threaded", "Inline")
STEREO_MODES = ("Dual Mono", "Linked")
DESCRIPTOR_SOURCES = ("Input", "Sidechain", "Fixed", "Natural")
# The fader source each slot starts on: Natural for the spectral shape (a model with natural()
# plays the timbre's own brightness; one without plays Natural as Input), Input for the rest.
NATURAL_BY_DEFAULT = ("centroid", "bandwidth", "flatness")
TIMBRE_SOURCES = ("Input", "Snapshot")
MORPH_RANGE = (-0.5, 1.5)       # 0 = snapshot A, 1 = B; beyond both ends extrapolates
VARIATION_RANGE = (0.0, 2.0)    # spread of the smoothed random walk around the snapshot, in z units
# Threaded Margin: hops of time the worker gets per hop, each a hop of latency.
THREADED_MARGIN_HOPS = (1, 2, 4)
SPARE_FADER_SLOTS = 2    # faders for a model's descriptors outside the vocabulary: extra_1, extra_2
LATENT_CONTROLS = 8      # latent_1_offset .. latent_8_scale


def margin_choice(hops: int) -> str:
    """The Threaded Margin choice text for a number of hops: "1 Hop", "2 Hops"."""
    return f"{hops} Hop" if hops == 1 else f"{hops} Hops"


def fader_slots() -> list[str]:
    """The plugin's descriptor fader slots in order: the vocabulary, then the spare slots."""
    return list(VOCABULARY) + [f"extra_{k + 1}" for k in range(SPARE_FADER_SLOTS)]


def parameter_ids() -> list[str]:
    """Every parameter ID the plugin has, in its order."""
    ids = ["mix", "output_gain", "bypass", "processing_mode", "stereo_mode", "threaded_margin"]
    for slot in fader_slots():
        ids += [f"{slot}_source", f"{slot}_shift", f"{slot}_fixed"]
    for i in range(LATENT_CONTROLS):
        ids += [f"latent_{i + 1}_offset", f"latent_{i + 1}_scale"]
    return ids + ["generate", "temperature", "timbre_source", "morph", "variation",
                  "midi_out", "midi_bend_range", "midi_gate"]


def default_source(slot: str) -> str:
    """The source a fader slot starts on (NATURAL_BY_DEFAULT)."""
    return "Natural" if slot in NATURAL_BY_DEFAULT else "Input"


# -- Timing -------------------------------------------------------------------------------------------
# A fader move glides over this long, in whole hops (plugin/engine/src/ModelStream.cpp).
RAMP_SECONDS = 0.05


def ramp_hops(hop_length: int, sample_rate: float) -> int:
    """Hops a fader move takes: 50 ms rounded to whole hops (std::lround), at least one."""
    return max(1, int(np.floor(RAMP_SECONDS / (hop_length / sample_rate) + 0.5)))


def latency_samples(hop_length: int, model_latency: int, mode: str = "Threaded", max_block: int = 512,
                    margin_hops: int = 1) -> int:
    """The latency the plugin reports when the host runs at the model's own rate: one hop of
    buffering and the model's own delay (Inline); Threaded gives the worker the larger of a hop
    and a host block on top, plus margin_hops - 1 hops."""
    if mode not in PROCESSING_MODES:
        raise ValueError(f"mode must be one of {PROCESSING_MODES}")
    if margin_hops not in THREADED_MARGIN_HOPS:
        raise ValueError(f"margin_hops must be one of {THREADED_MARGIN_HOPS}")
    latency = hop_length + model_latency
    if mode == "Threaded":
        latency += max(hop_length, max_block) + (margin_hops - 1) * hop_length
    return latency


# -- Finding the plugin ---------------------------------------------------------------------------------

class PluginError(RuntimeError):
    """The plugin loaded but cannot run the requested model; the message says why."""


def _checkout_bundle(bundle_name: str = BUNDLE_NAME) -> Path | None:
    """dist/Timbrel.vst3 (or another bundle) of the source checkout this package runs from (an
    editable install after `make build`); None for an installed package."""
    root = Path(__file__).resolve().parents[3]
    bundle = root / "dist" / bundle_name
    return bundle if (root / "CMakeLists.txt").is_file() and (root / "training" / "timbrel").is_dir() else None


def plugin_locations(bundle_name: str = BUNDLE_NAME) -> list[Path]:
    """Where a VST3 host looks for Timbrel, user folder first (Steinberg's standard locations)."""
    home = Path.home()
    if sys.platform == "darwin":
        folders = [home / "Library/Audio/Plug-Ins/VST3", Path("/Library/Audio/Plug-Ins/VST3")]
    elif sys.platform == "win32":
        folders = [Path(os.environ.get("LOCALAPPDATA", home / "AppData/Local")) / "Programs/Common/VST3",
                   Path(os.environ.get("COMMONPROGRAMFILES", r"C:\Program Files\Common Files")) / "VST3"]
    else:
        folders = [home / ".vst3", Path("/usr/local/lib/vst3"), Path("/usr/lib/vst3")]
    return [folder / bundle_name for folder in folders]


def find_plugin(path: str | os.PathLike | None = None, synth: bool = False) -> Path:
    """The plugin bundle to load: `path` when given (--plugin), else $TIMBREL_PLUGIN
    ($TIMBREL_SYNTH_PLUGIN for the instrument, synth=True), else the source checkout's dist/
    (a development install), else the user's and the system's VST3 folders. Raises
    FileNotFoundError listing where it looked."""
    name, variable_name = (SYNTH_BUNDLE_NAME, "TIMBREL_SYNTH_PLUGIN") if synth else (BUNDLE_NAME, "TIMBREL_PLUGIN")
    label = "Timbrel Synth" if synth else "Timbrel"
    if path is not None:
        chosen = Path(path)
        if not chosen.exists():
            raise FileNotFoundError(f"{label} plugin not found at {chosen}")
        return chosen
    variable = os.environ.get(variable_name)
    if variable:
        chosen = Path(variable)
        if not chosen.exists():
            raise FileNotFoundError(f"{variable_name}={variable}: no plugin there")
        return chosen
    candidates = [c for c in [_checkout_bundle(name)] if c is not None] + plugin_locations(name)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{label} plugin not found (looked in " + ", ".join(str(c) for c in candidates)
                            + "): install it (README, Install), build it with `make build`, pass --plugin PATH "
                              f"or set {variable_name}")


def model_reference(model) -> str:
    """A model name stays a name; an existing file becomes an absolute path (the plugin does
    not share the caller's working directory)."""
    return str(Path(model).resolve()) if Path(model).exists() else str(model)


def channels_first(audio, what: str = "audio") -> np.ndarray:
    """float32 [channels, samples] with 1 or 2 channels (what the plugin takes); 1-D is mono."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[np.newaxis]
    if audio.ndim != 2 or audio.shape[0] not in (1, 2):
        raise ValueError(f"{what} must be [channels, samples] with 1 or 2 channels, got shape {audio.shape}")
    return np.ascontiguousarray(audio)
