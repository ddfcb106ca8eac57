"""Timbrel: neural timbre models, their export contract, and a harness around the real plugin."""

__version__ = "0.1.0"
