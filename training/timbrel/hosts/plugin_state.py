"""The plugin's saved state as Python hosts see it.

Timbrel saves a ValueTree as JUCE binary XML (magic "VC2!", size, UTF-8 XML): parameters, a
`Model` node with the model reference, and a read-only `Status` node (docs/plugin-state.md).
pedalboard and DawDreamer both host it through JUCE's VST3 host, which wraps that blob as
base64 inside its own binary XML (`<VST3PluginState><IComponent>`). This module reads and
writes both layers.
"""

from __future__ import annotations

import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

_JUCE_XML_MAGIC = b"VC2!"  # AudioProcessor::copyXmlToBinary
# juce::MemoryBlock::toBase64Encoding: "<size>." then 6-bit groups, least significant first.
_JUCE_BASE64 = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"
_JUCE_BASE64_INDEX = {c: i for i, c in enumerate(_JUCE_BASE64)}


def _unpack_xml(blob: bytes) -> ET.Element:
    if blob[:4] != _JUCE_XML_MAGIC:
        raise ValueError("not a JUCE binary XML state")
    (size,) = struct.unpack_from("<I", blob, 4)
    return ET.fromstring(blob[8: 8 + size].rstrip(b"\0").decode("utf-8"))


def _pack_xml(root: ET.Element) -> bytes:
    text = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\0"
    return _JUCE_XML_MAGIC + struct.pack("<I", len(text)) + text


def _juce_base64_decode(text: str) -> bytes:
    size_text, _, chars = text.strip().partition(".")
    size = int(size_text)
    value = 0
    for i, c in enumerate(chars):
        value |= _JUCE_BASE64_INDEX[c] << (6 * i)
    return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def _juce_base64_encode(data: bytes) -> str:
    value = int.from_bytes(data, "little")
    count = (len(data) * 8 + 5) // 6
    return f"{len(data)}." + "".join(_JUCE_BASE64[(value >> (6 * i)) & 63] for i in range(count))


def _plugin_blob(host_blob: bytes) -> tuple[bytes, ET.Element | None]:
    """Timbrel's own state blob and, when wrapped by a JUCE VST3 host, the wrapper XML."""
    root = _unpack_xml(host_blob)
    if root.tag != "VST3PluginState":
        return host_blob, None
    component = root.find("IComponent")
    if component is None or not component.text:
        raise ValueError("the host state holds no plugin component state")
    return _juce_base64_decode(component.text), root


def read(host_blob: bytes, plugin: str = "Timbrel") -> ET.Element:
    """The state tree of Timbrel (or plugin="TimbrelSynth") from a host's raw state (wrapped or not)."""
    blob, _ = _plugin_blob(host_blob)
    root = _unpack_xml(blob)
    if root.tag != plugin:
        raise ValueError(f"not a {plugin} state (root element {root.tag})")
    return root


def own_blob(host_blob: bytes) -> bytes:
    """Timbrel's own state blob (getStateInformation's), unwrapped from the host's."""
    return _plugin_blob(host_blob)[0]


def with_own_blob(host_blob: bytes, blob: bytes) -> bytes:
    """The host's raw state carrying another Timbrel state blob, e.g. one saved by another host."""
    _, wrapper = _plugin_blob(host_blob)
    if wrapper is None:
        return blob
    wrapper.find("IComponent").text = _juce_base64_encode(blob)
    return _pack_xml(wrapper)


def write(host_blob: bytes, state: ET.Element) -> bytes:
    """The host's raw state with Timbrel's tree replaced by `state`."""
    return with_own_blob(host_blob, _pack_xml(state))


def with_model(host_blob: bytes, reference: str, model_delay: int | None = None) -> bytes:
    """The same state with another model reference (a model name or an absolute path).
    `model_delay` overrides the model's own delay (model-rate samples; nn~ modules declare
    none and the plugin measures it at load); None keeps the model's figure."""
    state = read(host_blob)
    model = state.find("Model")
    if model is None:
        model = ET.SubElement(state, "Model")
    timbres = state.find("Timbre")
    if timbres is not None and model.get("reference") != reference:
        # Another model: the snapshots were the old model's (the plugin starts the new one's
        # afresh, as when a user picks a model).
        state.remove(timbres)
    model.set("reference", reference)
    if model_delay is None:
        model.attrib.pop("latencyOverride", None)
    else:
        model.set("latencyOverride", str(int(model_delay)))
    return write(host_blob, state)


SNAPSHOT_SLOTS = ("A", "B")


def with_snapshot(host_blob: bytes, slot: str, timbre: str | None = None, latent=None,
                  model_name: str = "") -> bytes:
    """The same state with snapshot `slot` ("A" or "B") set to a named timbre of the model
    (`timbre`), or to a captured latent (`latent`: one value per latent dimension, e.g. the mean z
    of a clip; `model_name`: the model it was taken from, which the plugin checks). The plugin
    reads it at once if its model plays, or when the model loads (docs/plugin-state.md)."""
    if slot not in SNAPSHOT_SLOTS:
        raise ValueError(f"snapshot slot must be one of {SNAPSHOT_SLOTS}, got '{slot}'")
    if (timbre is None) == (latent is None):
        raise ValueError("give a snapshot either a timbre name or a latent")
    state = read(host_blob)
    timbres = state.find("Timbre")
    if timbres is None:
        timbres = ET.SubElement(state, "Timbre")
    for node in [n for n in timbres.findall("Snapshot") if n.get("slot") == slot]:
        timbres.remove(node)
    node = ET.SubElement(timbres, "Snapshot")
    node.set("slot", slot)
    if timbre is not None:
        # A named timbre: the plugin takes the model's own latent for the name.
        node.set("name", timbre)
        node.set("captured", "0")
        node.set("model", model_name)
        node.set("latent", "")
    else:
        values = [float(v) for v in latent]
        if not values or not all(v == v and abs(v) != float("inf") for v in values):
            raise ValueError("a captured snapshot needs finite latent values")
        node.set("name", "Captured")
        node.set("captured", "1")
        node.set("model", model_name)
        node.set("latent", " ".join(repr(v) for v in values))
    return write(host_blob, state)


@dataclass
class Status:
    model_reference: str
    model_name: str
    active: bool
    message: str
    latency: int
    failed_hops: int
    failure: str = ""   # the model's words for its last failed hop
    loading: bool = False  # a model load the plugin runs in the background has not finished
    model_kind: str = ""   # "timbrel" or "nn~" (a module in nn~'s convention, e.g. a RAVE export)
    model_delay: int = 0   # the model's own delay in model samples: declared, measured, or the user's
    model_delay_note: str = ""  # nn~ modules: how the plugin measured the delay
    model_streams: bool = True  # False: an nn~ module that keeps no state between calls (hops computed apart)
    timbres: tuple = ()         # the model's named timbres (a model without them: none)
    has_natural: bool = False   # the model's natural() drives the Natural source
    snapshot_a: str = ""        # what the snapshots hold: a timbre's name, or "Captured"
    snapshot_b: str = ""
    timbre_message: str = ""    # why a snapshot could not be restored or captured, "" if nothing

    @property
    def ok(self) -> bool:
        return self.active and not self.message


def status(host_blob: bytes) -> Status:
    state = read(host_blob)
    model = state.find("Model")
    node = state.find("Status")
    if node is None:
        raise ValueError("the plugin state carries no status report")
    return Status(
        model_reference=model.get("reference", "") if model is not None else "",
        model_name=node.get("modelName", ""),
        active=node.get("active", "0") in ("1", "true"),
        message=node.get("message", ""),
        latency=int(node.get("latency", "0")),
        failed_hops=int(node.get("failedHops", "0")),
        failure=node.get("failure", ""),
        loading=node.get("loading", "0") in ("1", "true"),
        model_kind=node.get("modelKind", ""),
        model_delay=int(node.get("modelDelay", "0")),
        model_delay_note=node.get("modelDelayNote", ""),
        model_streams=node.get("modelStreams", "1") in ("1", "true"),
        timbres=tuple(t for t in node.get("timbres", "").split("|") if t),
        has_natural=node.get("hasNatural", "0") in ("1", "true"),
        snapshot_a=node.get("snapshotA", ""),
        snapshot_b=node.get("snapshotB", ""),
        timbre_message=node.get("timbreMessage", ""),
    )


# A model loads in well under a second; a large one on a busy machine, a few seconds.
LOAD_TIMEOUT_SECONDS = 120.0


def settled_status(read_blob: Callable[[], bytes], timeout: float = LOAD_TIMEOUT_SECONDS) -> Status:
    """The status once the plugin has finished the model loads it was asked for. The plugin
    loads on a background thread (a host's UI thread never waits for a model), so a script
    that changed the model asks here before it reads the latency or renders."""
    deadline = time.monotonic() + timeout
    pause = 0.002
    while True:
        current = status(read_blob())
        if not current.loading:
            return current
        if time.monotonic() > deadline:
            raise TimeoutError(f"the plugin was still loading '{current.model_reference}' after {timeout:.0f} s")
        time.sleep(pause)
        pause = min(0.05, pause * 2)
