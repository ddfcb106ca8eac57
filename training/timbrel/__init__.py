"""Timbrel: neural timbre models, their file format, and the real plugin from Python.

Subpackages, by who uses them (docs/architecture.md):
  timbrel.format    the model format: contract, checker, saving, exported descriptor analysis (torch only)
  timbrel.models    building blocks, the harmonic-plus-noise and waveform models, checkpoints
  timbrel.training  datasets, losses, the training loop, export, evaluation and model cards
  timbrel.hosts     the built plugin in pedalboard and DawDreamer, its state, `timbrel render`
Imports run one way: format <- models <- training; hosts use only format's vocabulary.
"""

__version__ = "0.1.0"
