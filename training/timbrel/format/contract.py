"""The model contract (docs/model-format.md), checked in Python. The plugin's loader
(plugin/engine/src/Model.cpp) checks the same rules in C++; keep the two in step with the doc.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields

import torch

from .vocabulary import LOG2_FLOOR_HZ, VOCABULARY, fader_unit, in_octaves

FORMAT_VERSION = 1

REQUIRED_METHODS = ("encode", "analyze", "decode", "forward", "reset")
# Optional: encode_analyze(x) = cat(encode(x), analyze(x), 1) in one call, which a model may
# compute with shared work; a host that finds it calls it instead of the two (_check_encode_analyze).
NN_TILDE_BUFFERS = ("encode_params", "decode_params", "forward_params")
STREAMING_TOLERANCE = 1e-5
# How far two analyses of the same audio may read apart and still count as the same analysis,
# in each descriptor's fader unit (vocabulary.fader_unit: dB, semitones, octaves for Hz): an
# export on another CPU (its constants, such as windows and twiddles, come from that CPU's
# torch kernels and differ in their last bits), or another split of the same hops into calls.
# Far below what a fader or an ear resolves: 0.01 dB, a hundredth of a semitone, a thousandth
# of an octave (0.07 % in Hz). Other units: relative to 1 + |value|.
DESCRIPTOR_TOLERANCE = {"dB": 0.01, "semitones": 0.01, "octaves": 0.001}
RELATIVE_DESCRIPTOR_TOLERANCE = 1e-5
# Optional, in pairs (both or neither): the model's named timbres (a mean z each), and the
# principal axes of z over its training data (rows, strongest first) with the mean they centre.
TIMBRE_FIELDS = ("timbre_names", "timbre_latents")
LATENT_AXES_FIELDS = ("latent_mean", "latent_components")
AXES_TOLERANCE = 1e-3  # how far latent_components' rows may be from orthonormal
# Optional method natural(zd) -> [B, D, F]: these descriptors pass through it unchanged.
PASSED_BY_NATURAL = ("pitch", "loudness")


class ContractError(ValueError):
    """A model file violates the contract; the message names the field or method."""


@dataclass
class ModelInfo:
    format_version: int
    sample_rate: int
    hop_length: int
    latent_size: int
    latency_samples: int
    descriptor_names: list[str]
    descriptor_units: list[str]
    descriptor_min: list[float]
    descriptor_max: list[float]
    model_name: str
    model_card: dict = field(default_factory=dict)
    timbre_names: list[str] = field(default_factory=list)
    timbre_latents: torch.Tensor | None = None      # [len(timbre_names), latent_size]
    latent_mean: torch.Tensor | None = None         # [latent_size]
    latent_components: torch.Tensor | None = None   # [latent_size, latent_size], rows are axes

    @property
    def num_descriptors(self) -> int:
        return len(self.descriptor_names)

    def __eq__(self, other) -> bool:
        """Field by field, tensors by value (the generated comparison cannot compare them)."""
        if not isinstance(other, ModelInfo):
            return NotImplemented

        def same(a, b) -> bool:
            if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
                return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
            return a == b

        return all(same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))


def _attr(module, name: str, kind: type, kind_name: str):
    if not hasattr(module, name):
        raise ContractError(f"missing attribute '{name}'")
    value = getattr(module, name)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ContractError(f"attribute '{name}' must be {kind_name}, found {type(value).__name__}")
    return value


def _list_attr(module, name: str, item: type, kind_name: str) -> list:
    value = _attr(module, name, list, kind_name)
    if not all(isinstance(v, item) for v in value):
        raise ContractError(f"attribute '{name}' must be {kind_name}")
    return list(value)


def read_info(module) -> ModelInfo:
    """Reads and checks the metadata attributes; raises ContractError naming the first bad field."""
    version = _attr(module, "format_version", int, "an int")
    if version != FORMAT_VERSION:
        raise ContractError(f"format_version is {version}, this contract is version {FORMAT_VERSION}")
    info = ModelInfo(
        format_version=version,
        sample_rate=_attr(module, "sample_rate", int, "an int"),
        hop_length=_attr(module, "hop_length", int, "an int"),
        latent_size=_attr(module, "latent_size", int, "an int"),
        latency_samples=_attr(module, "latency_samples", int, "an int"),
        descriptor_names=_list_attr(module, "descriptor_names", str, "a List[str]"),
        descriptor_units=_list_attr(module, "descriptor_units", str, "a List[str]"),
        descriptor_min=[float(v) for v in _list_attr(module, "descriptor_min", float, "a List[float]")],
        descriptor_max=[float(v) for v in _list_attr(module, "descriptor_max", float, "a List[float]")],
        model_name=_attr(module, "model_name", str, "a str"),
    )
    card_text = _attr(module, "model_card", str, "a str")

    if not 8000 <= info.sample_rate <= 384000:
        raise ContractError(f"sample_rate {info.sample_rate} is outside 8000..384000 Hz")
    if not 1 <= info.hop_length <= 8192:
        raise ContractError(f"hop_length {info.hop_length} is outside 1..8192 samples")
    if info.latent_size < 1:
        raise ContractError(f"latent_size must be at least 1, got {info.latent_size}")
    if info.latency_samples < 0:
        raise ContractError(f"latency_samples must not be negative, got {info.latency_samples}")
    count = len(info.descriptor_names)
    for name in ("descriptor_units", "descriptor_min", "descriptor_max"):
        if len(getattr(info, name)) != count:
            raise ContractError(
                f"{name} has {len(getattr(info, name))} entries but descriptor_names has {count}")
    if len(set(info.descriptor_names)) != count:
        raise ContractError("descriptor_names lists a name twice")
    for i, (name, unit) in enumerate(zip(info.descriptor_names, info.descriptor_units)):
        if not name:
            raise ContractError(f"descriptor_names[{i}] is empty")
        spec = VOCABULARY.get(name)
        if spec is not None and unit != spec.unit:
            raise ContractError(
                f"descriptor_units[{i}] for '{name}' is '{unit}', the contract requires '{spec.unit}'")
        lo, hi = info.descriptor_min[i], info.descriptor_max[i]
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ContractError(f"descriptor_min/descriptor_max for '{name}' must be finite with min < max")
    if not info.model_name:
        raise ContractError("model_name is empty")
    try:
        info.model_card = json.loads(card_text)
    except json.JSONDecodeError as error:
        raise ContractError(f"model_card is not valid JSON: {error}") from None
    if not isinstance(info.model_card, dict):
        raise ContractError("model_card must be a JSON object")
    _read_timbres(module, info)
    _read_latent_axes(module, info)
    return info


def _pair(module, fields: tuple[str, str]) -> bool:
    """Whether the model has an optional pair of attributes; one without the other is an error."""
    present = [hasattr(module, name) for name in fields]
    if any(present) and not all(present):
        missing, given = (fields[1], fields[0]) if present[0] else (fields[0], fields[1])
        raise ContractError(f"attribute '{given}' needs '{missing}' beside it")
    return all(present)


def _float_tensor(module, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    value = getattr(module, name)
    if not isinstance(value, torch.Tensor) or value.dtype != torch.float32:
        raise ContractError(f"attribute '{name}' must be a float32 Tensor")
    if tuple(value.shape) != shape:
        raise ContractError(f"attribute '{name}' has shape {list(value.shape)}, expected {list(shape)}")
    if not torch.isfinite(value).all():
        raise ContractError(f"attribute '{name}' holds NaN or Inf")
    return value.detach().clone()


def _read_timbres(module, info: ModelInfo) -> None:
    if not _pair(module, TIMBRE_FIELDS):
        return
    names = _list_attr(module, "timbre_names", str, "a List[str]")
    if not names or not all(names):
        raise ContractError("timbre_names must list at least one non-empty name")
    if len(set(names)) != len(names):
        raise ContractError("timbre_names lists a name twice")
    info.timbre_names = names
    info.timbre_latents = _float_tensor(module, "timbre_latents", (len(names), info.latent_size))


def _read_latent_axes(module, info: ModelInfo) -> None:
    if not _pair(module, LATENT_AXES_FIELDS):
        return
    size = info.latent_size
    info.latent_mean = _float_tensor(module, "latent_mean", (size,))
    components = _float_tensor(module, "latent_components", (size, size))
    gram = components.double() @ components.double().T
    if (gram - torch.eye(size, dtype=torch.float64)).abs().max().item() > AXES_TOLERANCE:
        raise ContractError("latent_components' rows must be orthonormal (unit-length principal axes)")
    info.latent_components = components


def _check_shape(name: str, tensor: torch.Tensor, expected: tuple[int, ...]) -> None:
    if tuple(tensor.shape) != expected:
        raise ContractError(f"{name} returned shape {list(tensor.shape)}, expected {list(expected)}")


def probe_signal(info: ModelInfo, hops: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """A deterministic probe: a swept tone with noise and a silent gap, [batch, 1, hops*hop]."""
    length = hops * info.hop_length
    t = torch.arange(length, dtype=torch.float64) / info.sample_rate
    sweep = torch.sin(2 * math.pi * (110.0 * t + 400.0 * t * t))
    generator = torch.Generator().manual_seed(seed)
    noise = 0.05 * torch.randn(batch, 1, length, generator=generator, dtype=torch.float64)
    x = 0.3 * sweep.expand(batch, 1, length) + noise
    x[..., length // 3: length // 3 + info.hop_length] = 0.0
    return x.float()


def _check_encode_analyze(module, x: torch.Tensor, expected: torch.Tensor, hop: int) -> None:
    """encode_analyze(x) equals cat(encode(x), analyze(x)) in one call and hop by hop, and
    leaves both streams where the two calls would (a later encode and analyze continue them).
    Relative tolerance: descriptors in Hz are thousands, and float32 sums differ in their last
    bits between one call and hop-by-hop calls."""
    def error(got: torch.Tensor) -> float:
        return ((got - expected).abs() / (1.0 + expected.abs())).max().item()

    module.reset()
    joined = module.encode_analyze(x)
    _check_shape("encode_analyze", joined, tuple(expected.shape))
    if error(joined) > STREAMING_TOLERANCE:
        raise ContractError(f"encode_analyze(x) differs from cat(encode(x), analyze(x)) by {error(joined):.3g} "
                            f"(relative tolerance {STREAMING_TOLERANCE})")
    module.reset()
    hops = x.shape[-1] // hop
    half = hops // 2
    pieces = [module.encode_analyze(x[..., i * hop:(i + 1) * hop]) for i in range(half)]
    rest = x[..., half * hop:]
    pieces.append(torch.cat([module.encode(rest), module.analyze(rest)], 1))
    streamed = torch.cat(pieces, -1)
    if error(streamed) > STREAMING_TOLERANCE:
        raise ContractError(f"encode_analyze hop by hop, then encode and analyze, differ from one offline "
                            f"call by {error(streamed):.3g} (relative tolerance {STREAMING_TOLERANCE})")


def _check_natural(module, info: ModelInfo, zd: torch.Tensor) -> None:
    """natural(zd) (optional): one value per descriptor and frame, finite, and the pitch and
    loudness it was given passed through unchanged."""
    natural = _run(module, "natural", zd)
    _check_shape("natural", natural, (zd.shape[0], info.num_descriptors, zd.shape[-1]))
    if not torch.isfinite(natural).all():
        raise ContractError("natural produced NaN or Inf on the test signal")
    for name in PASSED_BY_NATURAL:
        if name in info.descriptor_names:
            index = info.descriptor_names.index(name)
            if not torch.equal(natural[:, index], zd[:, info.latent_size + index]):
                raise ContractError(f"natural changed the {name} it was given (it must pass through)")


def _run(module, method: str, *args):
    """Calls a method of the model; its own failure becomes a ContractError naming the method,
    as the plugin's loader says it ("the model failed in decode(): ...")."""
    try:
        return getattr(module, method)(*args)
    except (RuntimeError, MemoryError) as error:
        text = str(error).strip()
        first_line = text.splitlines()[0] if text else type(error).__name__
        raise ContractError(f"the model failed in {method}(): {first_line}") from None


def check_model(module, hops: int = 16) -> ModelInfo:
    """Checks a loaded TorchScript module against the whole contract: metadata, methods,
    nn~ buffers, shapes, finite output, determinism, and streaming == offline."""
    info = read_info(module)
    for name in REQUIRED_METHODS:
        if not hasattr(module, name):
            raise ContractError(f"missing method '{name}'")
    for name in NN_TILDE_BUFFERS:
        buffer = getattr(module, name, None)
        if not isinstance(buffer, torch.Tensor) or buffer.numel() != 4:
            raise ContractError(f"missing nn~ buffer '{name}' (4 ints)")

    hop, latent, count = info.hop_length, info.latent_size, info.num_descriptors
    with torch.no_grad():
        for batch in (1, 2):
            x = probe_signal(info, hops, batch)
            _run(module, "reset")
            z = _run(module, "encode", x)
            _check_shape("encode", z, (batch, latent, hops))
            d = _run(module, "analyze", x)
            _check_shape("analyze", d, (batch, count, hops))
            y = _run(module, "decode", torch.cat([z, d], 1))
            _check_shape("decode", y, (batch, 1, hops * hop))
            for name, t in (("encode", z), ("analyze", d), ("decode", y)):
                if not torch.isfinite(t).all():
                    raise ContractError(f"{name} produced NaN or Inf on the test signal")

            module.reset()
            offline = _run(module, "forward", x)
            _check_shape("forward", offline, (batch, 1, hops * hop))
            if not torch.allclose(offline, y, atol=STREAMING_TOLERANCE, rtol=0):
                raise ContractError("forward(x) differs from decode(cat(encode(x), analyze(x)))")

            module.reset()
            again = module.forward(x)
            if not torch.equal(again, offline):
                raise ContractError("forward is not deterministic after reset()")

            module.reset()
            streamed = torch.cat([module.forward(x[..., i * hop:(i + 1) * hop]) for i in range(hops)], -1)
            error = (streamed - offline).abs().max().item()
            if error > STREAMING_TOLERANCE:
                raise ContractError(
                    f"streaming hop by hop differs from one offline call by {error:.3g} "
                    f"(tolerance {STREAMING_TOLERANCE})")

            if hasattr(module, "encode_analyze"):
                _check_encode_analyze(module, x, torch.cat([z, d], 1), hop)
            if hasattr(module, "natural"):
                _check_natural(module, info, torch.cat([z, d], 1))
        module.reset()
    return info


def load_and_check(path) -> tuple[torch.jit.ScriptModule, ModelInfo]:
    """Loads a model file and checks it; raises ContractError with a plain message."""
    import os

    if not os.path.isfile(path):
        raise ContractError(f"model file not found: {path}")
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as error:  # torch raises RuntimeError or others for non-TorchScript files
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ContractError(f"not a readable TorchScript model (truncated or wrong file type): {first_line}") from None
    module.eval()
    return module, check_model(module)


def descriptor_differences(a: torch.Tensor, b: torch.Tensor, units: list[str]) -> list[float]:
    """The largest difference between two analyses [B, D, F] of the same audio, per descriptor,
    in its fader unit (octaves for Hz: log2 of values floored at LOG2_FLOOR_HZ), or relative to
    1 + |value| for units outside the vocabulary's."""
    differences = []
    for index, unit in enumerate(units):
        x, y = a[:, index].double(), b[:, index].double()
        if in_octaves(unit):
            gap = (x.clamp_min(LOG2_FLOOR_HZ).log2() - y.clamp_min(LOG2_FLOOR_HZ).log2()).abs()
        elif fader_unit(unit) in DESCRIPTOR_TOLERANCE:
            gap = (x - y).abs()
        else:
            gap = (x - y).abs() / (1.0 + y.abs())
        differences.append(gap.max().item() if gap.numel() else 0.0)
    return differences


def descriptors_agree(a: torch.Tensor, b: torch.Tensor, units: list[str]) -> list[str]:
    """What exceeds DESCRIPTOR_TOLERANCE between two analyses, in words ([] when they agree)."""
    problems = []
    for index, (unit, gap) in enumerate(zip(units, descriptor_differences(a, b, units))):
        limit = DESCRIPTOR_TOLERANCE.get(fader_unit(unit), RELATIVE_DESCRIPTOR_TOLERANCE)
        if not gap <= limit:
            problems.append(f"descriptor {index} differs by {gap:.3g} {fader_unit(unit)} (tolerance {limit})")
    return problems
