"""timbrel.hosts: the real Timbrel plugin in Python, for rendering and testing through it.

    from timbrel.hosts import DawDreamerHost, PedalboardHost, open_host
    plugin = DawDreamerHost(model="models/violin.ts")   # finds the installed plugin (hosts.plugin.find_plugin)
    out = plugin.process(audio, 44100)                  # [channels, samples], latency-aligned

- plugin:        finding the installed plugin, and the facts of its behaviour (parameters, latency, ramps)
- parameters:    parameter IDs and values in their units
- plugin_state:  the plugin's saved state (model reference, status) as hosts see it
- pedalboard_host, dawdreamer_host: the two hosts (optional dependencies: pip install 'timbrel[hosts]')
- render:        `timbrel render`, files and folders with settings and automation

Needs neither torch nor the rest of the package beyond timbrel.format.vocabulary.
"""

from __future__ import annotations

from .dawdreamer_host import DawDreamerHost
from .parameters import Parameter, UnknownParameter, check_parameter_id, parameter_id
from .pedalboard_host import PedalboardHost
from .plugin import PluginError, find_plugin

HOSTS = ("pedalboard", "dawdreamer")


def open_host(host: str, plugin_path=None, model=None, sample_rate: float = 44100, block_size: int = 512):
    if host == "pedalboard":
        return PedalboardHost(plugin_path, model)
    if host == "dawdreamer":
        return DawDreamerHost(plugin_path, model, sample_rate, block_size)
    raise ValueError(f"unknown host '{host}' (choose from {', '.join(HOSTS)})")


__all__ = ["HOSTS", "DawDreamerHost", "PedalboardHost", "Parameter", "PluginError", "UnknownParameter",
           "check_parameter_id", "find_plugin", "open_host", "parameter_id"]
