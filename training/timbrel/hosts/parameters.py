"""Plugin parameters as both Python hosts see them, addressed by the plugin's stable IDs.

The ID of a parameter is its display name lowercased with spaces as underscores ("Output Gain"
-> output_gain): the plugin guarantees it (plugin/source/Parameters.h), so IDs are read from
the loaded plugin. Values are set in their physical units (%, dB, semitones, octaves); choice
parameters take their text (case-insensitive) or index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


def parameter_id(display_name: str) -> str:
    """The plugin's stable parameter ID for a display name: "Latent 3 Offset" -> latent_3_offset."""
    return display_name.strip().lower().replace(" ", "_")


_ID_SYNTAX = re.compile(r"^[^\sA-Z=]+$")


def check_parameter_id(name: str) -> str:
    """Checks the syntax of a parameter ID without opening the plugin (whether the plugin has
    it is checked when a host opens it). Returns the name; raises ValueError."""
    if not _ID_SYNTAX.match(name or ""):
        raise ValueError(f"'{name}' is not a parameter ID: IDs are the display name lowercased with "
                         f"underscores for spaces (e.g. {parameter_id(name) if name.strip() else 'output_gain'})")
    return name


_TRUE_TEXTS = ("on", "true", "yes", "1")
_FALSE_TEXTS = ("off", "false", "no", "0")


class UnknownParameter(KeyError):
    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0])


NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def number(text) -> float | None:
    """The number a parameter text starts with ("-12.0000000", "440 Hz"), else None."""
    match = NUMBER.match(str(text))
    return float(match.group(1)) if match else None


@dataclass(frozen=True)
class Parameter:
    """One plugin parameter as both hosts describe it. kind: "float", "int" (discrete numeric),
    "bool" or "choice". Plain values: the value in its unit, 0/1 for bool, the index for choices."""

    id: str
    name: str
    kind: str
    minimum: float
    maximum: float
    unit: str = ""
    choices: tuple[str, ...] = ()

    @property
    def stepped(self) -> bool:
        """Automation holds each breakpoint instead of interpolating (bool and choice)."""
        return self.kind in ("bool", "choice")

    def plain(self, value) -> float:
        """A user's value (number, bool, or text) as the plain value; ValueError says why not."""
        if self.kind == "choice":
            number = None
            if isinstance(value, str):
                folded = value.strip().casefold()
                for index, choice in enumerate(self.choices):
                    if choice.casefold() == folded:
                        return float(index)
                try:
                    number = float(value)
                except ValueError:
                    pass
            else:
                number = float(value)
            valid = number is not None and np.isfinite(number) and number == round(number)
            if not valid or not 0 <= number < len(self.choices):
                raise ValueError(f"{self.id}: '{value}' is not one of {', '.join(self.choices)} "
                                 f"(or an index 0..{len(self.choices) - 1})")
            return float(number)
        if self.kind == "bool":
            if isinstance(value, str):
                folded = value.strip().casefold()
                if folded in _TRUE_TEXTS:
                    return 1.0
                if folded in _FALSE_TEXTS:
                    return 0.0
                raise ValueError(f"{self.id}: '{value}' is not on/off")
            return 1.0 if float(value) >= 0.5 else 0.0
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.id}: '{value}' is not a number") from None
        span = self.maximum - self.minimum
        if not np.isfinite(number) or not (self.minimum - 1e-6 * span <= number <= self.maximum + 1e-6 * span):
            raise ValueError(f"{self.id}: {value} is outside {self.minimum:g}..{self.maximum:g}"
                             f"{' ' + self.unit if self.unit else ''}")
        return min(max(number, self.minimum), self.maximum)

    def plain_array(self, values) -> np.ndarray:
        """plain() for an array of values (numbers, or texts as an object array)."""
        values = np.asarray(values)
        if values.dtype.kind in "fiub":
            if self.kind in ("float", "int"):
                span = self.maximum - self.minimum
                low, high = self.minimum - 1e-6 * span, self.maximum + 1e-6 * span
                bad = ~np.isfinite(values) | (values < low) | (values > high)
                if bad.any():
                    self.plain(values[bad][0])  # raises with the message
                return np.clip(values.astype(np.float64), self.minimum, self.maximum)
            if self.kind == "bool":
                return (values.astype(np.float64) >= 0.5).astype(np.float64)
        return np.array([self.plain(v) for v in values.ravel()], dtype=np.float64).reshape(values.shape)


def unknown_parameter(parameter: str, known) -> UnknownParameter:
    return UnknownParameter(f"unknown parameter '{parameter}' (known: {', '.join(sorted(known))})")


def index_by_id(parameters: list[Parameter]) -> dict[str, Parameter]:
    """The first parameter of each ID wins: JUCE's VST3 wrapper appends a host "Bypass" of its
    own when a plugin does not declare its bypass parameter (Timbrel does)."""
    table = {}
    for parameter in parameters:
        table.setdefault(parameter.id, parameter)
    return table
