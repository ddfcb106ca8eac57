"""The test-model corpus the build exports for the plugin's tests (CMake runs it):

    python -m timbrel_tools.model_corpus --out build/models

writes timbrel-test.ts (FilterGainModel: a fixed causal low-pass FIR, the "timbre", and a
descriptor-driven gain that restores the requested loudness, ramped across each hop; it proves
the plugin's signal path), timbrel-test-22k.ts (the same at another sample rate),
timbrel-identity.ts (an exact pass-through), timbrel-test-raises.ts and timbrel-test-nan.ts
(valid, but a hop louder than 0.9 raises or returns NaN), and broken/*.ts with broken/MANIFEST.tsv listing,
for each file, a fragment of the error message the loader must give. nn_tilde_corpus adds
modules in the nn~ convention (nn-*.ts), good and broken, and nn-newer-torch.ts (a module whose
archive says a newer PyTorch wrote it).
"""

from __future__ import annotations

import argparse
import json
import os
import zipfile
from pathlib import Path
from typing import List

import numpy as np
import torch
from torch import nn

from timbrel.format import descriptors
from timbrel.format.contract import FORMAT_VERSION
from timbrel.format.save import attach_latent_axes, attach_timbres, save_model
from timbrel_tools import nn_tilde_corpus


def lowpass_taps(num_taps: int, cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """Hamming-windowed sinc low-pass, unity gain at DC."""
    n = np.arange(num_taps) - (num_taps - 1) / 2
    taps = np.sinc(2 * cutoff_hz / sample_rate * n) * np.hamming(num_taps)
    return taps / taps.sum()


class FilterGainModel(nn.Module):
    """Latent = the filtered hop itself (latent_size == hop_length); descriptors = loudness (dB)
    and spectral centroid (Hz). decode() rescales each hop so its loudness matches the
    loudness descriptor, so shifting loudness by +6 dB raises the output by 6 dB."""

    def __init__(self, sample_rate: int = 44100, hop_length: int = 256, num_taps: int = 63,
                 cutoff_hz: float = 3000.0, name: str = "timbrel-test"):
        super().__init__()
        # Contract attributes (docs/model-format.md).
        self.format_version = FORMAT_VERSION
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.latent_size = hop_length
        self.descriptor_names: List[str] = ["loudness", "centroid"]
        self.descriptor_units: List[str] = ["dB", "Hz"]
        self.descriptor_min: List[float] = [-90.0, 50.0]
        self.descriptor_max: List[float] = [0.0, 12000.0]
        self.latency_samples = (num_taps - 1) // 2  # group delay of the linear-phase FIR
        self.model_name = name
        self.model_card = json.dumps({
            "name": name,
            "kind": "test",
            "description": "Fixed causal low-pass FIR plus a loudness-driven gain; proves the plugin's "
                           "signal path. Not a trained model.",
            "sample_rate": sample_rate,
            "hop_length": hop_length,
            "license": "GPL-3.0-or-later",
            "training_data": "none",
        })
        # nn~ convention: a ratio is the method's down-sampling relative to the audio rate.
        self.register_buffer("encode_params", torch.tensor([1, 1, hop_length, hop_length]))
        self.register_buffer("decode_params", torch.tensor([hop_length + 2, hop_length, 1, 1]))
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))

        # Internals.
        self.hop = hop_length
        self.rate = sample_rate
        self.num_taps = num_taps
        kernel = torch.tensor(lowpass_taps(num_taps, cutoff_hz, sample_rate)[::-1].copy(), dtype=torch.float32)
        self.register_buffer("kernel", kernel.reshape(1, 1, num_taps))
        self.register_buffer("fir_history", torch.zeros(1, 1, num_taps - 1))
        self.register_buffer("last_gain", torch.ones(1, 1))

    @torch.jit.export
    def reset(self):
        self.fir_history = torch.zeros(1, 1, self.num_taps - 1)
        self.last_gain = torch.ones(1, 1)

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.filtered_hops(x)

    def filtered_hops(self, x: torch.Tensor) -> torch.Tensor:
        """The FIR-filtered signal, one hop per latent frame: [B, 1, T] -> [B, hop, F]."""
        batch = x.shape[0]
        if self.fir_history.shape[0] != batch:
            self.fir_history = torch.zeros(batch, 1, self.num_taps - 1)
        padded = torch.cat([self.fir_history, x], -1)
        self.fir_history = padded[..., padded.shape[-1] - (self.num_taps - 1):]
        filtered = nn.functional.conv1d(padded, self.kernel)
        return descriptors.frames(filtered, self.hop).transpose(1, 2)

    @torch.jit.export
    def analyze(self, x: torch.Tensor) -> torch.Tensor:
        frame = descriptors.frames(x, self.hop)
        loudness = descriptors.loudness_db(frame)
        centroid = descriptors.spectral_centroid_hz(frame, self.rate)
        return torch.stack([loudness, centroid], 1)

    @torch.jit.export
    def decode(self, zd: torch.Tensor) -> torch.Tensor:
        return self.rescale_hops(zd)

    def rescale_hops(self, zd: torch.Tensor) -> torch.Tensor:
        batch = zd.shape[0]
        frame = zd[:, : self.hop].transpose(1, 2)  # [B, F, hop]
        target_db = zd[:, self.hop]                 # loudness descriptor, [B, F]
        gain = descriptors.db_to_gain(torch.clamp(target_db - descriptors.loudness_db(frame), -40.0, 40.0))
        if self.last_gain.shape[0] != batch:
            self.last_gain = torch.ones(batch, 1)
        previous = torch.cat([self.last_gain, gain[:, :-1]], 1)
        self.last_gain = gain[:, -1:]
        ramp = torch.arange(1, self.hop + 1, dtype=zd.dtype) / self.hop
        gains = previous.unsqueeze(-1) + (gain - previous).unsqueeze(-1) * ramp
        return (frame * gains).reshape(batch, 1, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(torch.cat([self.encode(x), self.analyze(x)], 1))


class NoResetModel(FilterGainModel):
    def reset(self):  # not exported: the saved file lacks the method
        pass


class HalfLengthDecodeModel(FilterGainModel):
    @torch.jit.export
    def decode(self, zd: torch.Tensor) -> torch.Tensor:
        y = self.rescale_hops(zd)
        return y[..., : y.shape[-1] // 2]


class IdentityModel(FilterGainModel):
    """Contract-conforming pass-through: a one-tap filter and a decode that returns the latent
    (the hop's samples) untouched. The plugin around it must then equal a pure delay of its
    reported latency, which makes buffering and resampling measurable exactly."""

    def __init__(self, sample_rate: int = 44100, hop_length: int = 128):
        super().__init__(sample_rate=sample_rate, hop_length=hop_length, num_taps=1, name="timbrel-identity")
        self.kernel = torch.ones(1, 1, 1)

    @torch.jit.export
    def decode(self, zd: torch.Tensor) -> torch.Tensor:
        return zd[:, : self.hop].transpose(1, 2).reshape(zd.shape[0], 1, -1)


class FailsOnLoudInput(FilterGainModel):
    """Valid at load (every probe stays below 0.9), but a hop whose input (its latent: the
    filtered hop) goes above 0.9 makes decode raise, or return NaN: a runtime failure at a
    known place, for the failed-hop path (dry, the reason shown, recovery)."""

    def __init__(self, nan: bool = False):
        super().__init__(name="timbrel-test-nan" if nan else "timbrel-test-raises")
        self.nan = nan

    @torch.jit.export
    def decode(self, zd: torch.Tensor) -> torch.Tensor:
        loud = bool((zd[:, : self.hop].abs() > 0.9).any())
        if loud and not self.nan:
            raise RuntimeError("test failure: a hop above 0.9")
        y = self.rescale_hops(zd)
        return y * float("nan") if loud else y


class WrongEncodeAnalyzeModel(FilterGainModel):
    """Has the optional encode_analyze, but it does not equal cat(encode, analyze)."""

    @torch.jit.export
    def encode_analyze(self, x: torch.Tensor) -> torch.Tensor:
        return 2.0 * torch.cat([self.encode(x), self.analyze(x)], 1) + 1.0


class WrongSignatureModel(FilterGainModel):
    """encode wants a second argument the contract does not pass."""

    @torch.jit.export
    def encode(self, x: torch.Tensor, gain: float) -> torch.Tensor:
        return self.filtered_hops(x) * gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(torch.cat([self.encode(x, 1.0), self.analyze(x)], 1))


class HugeOutputModel(FilterGainModel):
    """decode asks for a 4 TiB tensor: the allocation fails, the load must say so."""

    @torch.jit.export
    def decode(self, zd: torch.Tensor) -> torch.Tensor:
        return torch.empty([1, 1, 1 << 40])


class NeverReturnsModel(FilterGainModel):
    """decode loops forever: the loader must give up on it at its deadline, not hang."""

    @torch.jit.export
    def decode(self, zd: torch.Tensor) -> torch.Tensor:
        while zd.numel() > 0:
            zd = zd + 0.0
        return zd


def _variant(**overrides) -> FilterGainModel:
    model = FilterGainModel()
    for name, value in overrides.items():
        setattr(model, name, value)
    return model


def _without(attribute: str) -> FilterGainModel:
    model = FilterGainModel()
    delattr(model, attribute)
    return model


def _nan_weights() -> FilterGainModel:
    model = FilterGainModel()
    model.kernel[..., 10] = float("nan")
    return model


class NaturalModel(FilterGainModel):
    """The test model with a natural(): the loudness passes through, and the centroid is
    30 Hz per dB above -100 dB of the loudness it is given (louder is brighter, whatever
    centroid it was given; `broken`: 'loudness' changes the loudness too, 'shape' returns one
    descriptor)."""

    def __init__(self, broken: str = ""):
        super().__init__()
        self.broken = broken

    @torch.jit.export
    def natural(self, zd: torch.Tensor) -> torch.Tensor:
        d = zd[:, self.latent_size:]
        if self.broken == "shape":
            return d[:, :1]
        loudness = d[:, :1] + 1.0 if self.broken == "loudness" else d[:, :1]
        return torch.cat([loudness, 30.0 * (d[:, :1] + 100.0)], 1)


def with_timbres(names=("bowed", "blown"), latents=None, components=None, names_only=False) -> FilterGainModel:
    """The test model with named timbres (latents[i, k] = i + k / 1000), latent axes (the
    identity unless `components`) and a natural(), or one of them broken."""
    model = NaturalModel()
    size = int(model.latent_size)
    if latents is None:
        latents = torch.arange(len(names)).float().unsqueeze(1) + torch.arange(size).float() / 1000.0
    if names_only:
        model.timbre_names = list(names)
    else:
        attach_timbres(model, list(names), latents)
    attach_latent_axes(model, torch.zeros(size), torch.eye(size) if components is None else components)
    return model


# file name -> (how to build it, fragment of the loader's error)
BROKEN_MODELS = {
    "missing-attribute.ts": (lambda: _without("hop_length"), "missing attribute 'hop_length'"),
    "wrong-type.ts": (lambda: _variant(sample_rate="44100"), "attribute 'sample_rate' must be an int"),
    "future-version.ts": (lambda: _variant(format_version=2), "format_version is 2"),
    "unit-mismatch.ts": (lambda: _variant(descriptor_units=["LUFS", "Hz"]), "descriptor_units[0] for 'loudness'"),
    "length-mismatch.ts": (lambda: _variant(descriptor_min=[-90.0]), "descriptor_min has 1 entries"),
    "bad-range.ts": (lambda: _variant(descriptor_max=[-95.0, 12000.0]), "descriptor_min/descriptor_max for 'loudness'"),
    "bad-card.ts": (lambda: _variant(model_card="not json"), "model_card"),
    "missing-method.ts": (NoResetModel, "missing method 'reset'"),
    "wrong-shape.ts": (HalfLengthDecodeModel, "decode returned shape"),
    "nan-weights.ts": (_nan_weights, "NaN or Inf"),
    "wrong-encode-analyze.ts": (WrongEncodeAnalyzeModel, "encode_analyze(x) differs"),
    "wrong-signature.ts": (WrongSignatureModel, "the model failed in encode()"),
    "huge-output.ts": (HugeOutputModel, "the model failed in decode()"),
    "timbres-without-latents.ts": (lambda: with_timbres(names_only=True), "'timbre_names' needs 'timbre_latents'"),
    "timbres-named-twice.ts": (lambda: with_timbres(names=("bowed", "bowed")), "timbre_names lists a name twice"),
    "timbres-wrong-shape.ts": (lambda: with_timbres(latents=torch.zeros(2, 3)), "'timbre_latents' has shape"),
    "timbres-nan.ts": (lambda: with_timbres(latents=torch.full((2, 256), float("nan"))), "'timbre_latents' holds NaN"),
    "axes-not-orthonormal.ts": (lambda: with_timbres(components=2.0 * torch.eye(256)), "rows must be orthonormal"),
    "natural-changes-loudness.ts": (lambda: NaturalModel("loudness"), "natural changed the loudness"),
    "natural-wrong-shape.ts": (lambda: NaturalModel("shape"), "natural returned shape"),
}

# Models that never finish loading: kept apart (broken/hangs/) so that only tests that expect
# an abandoned load thread (the engine's deadline test, the fuzzer) meet them.
HANGING_MODELS = {
    "never-returns.ts": (NeverReturnsModel, "did not finish loading within"),
}

NOT_TORCHSCRIPT = "not a readable TorchScript model"


def _with_newer_version(path: Path, out: Path) -> None:
    """A copy of a TorchScript archive whose version record says a future PyTorch wrote it."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for entry in source.infolist():
            data = source.read(entry.filename)
            target.writestr(entry, b"99\n" if entry.filename.endswith("/version") else data)


def export_all(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    good = out / "timbrel-test.ts"
    save_model(FilterGainModel(), good)
    save_model(FilterGainModel(sample_rate=22050, name="timbrel-test-22k"), out / "timbrel-test-22k.ts")
    save_model(IdentityModel(), out / "timbrel-identity.ts")
    save_model(FailsOnLoudInput(), out / "timbrel-test-raises.ts")
    save_model(FailsOnLoudInput(nan=True), out / "timbrel-test-nan.ts")
    save_model(with_timbres(), out / "timbrel-timbres.ts")

    broken = out / "broken"
    broken.mkdir(exist_ok=True)
    manifest = []
    for name, (build, message) in BROKEN_MODELS.items():
        torch.jit.save(torch.jit.script(build().eval()), broken / name)
        manifest.append((name, message))

    for name, build in nn_tilde_corpus.GOOD_MODULES.items():
        torch.jit.save(nn_tilde_corpus.script(build()), out / name)
    for name, (build, message) in nn_tilde_corpus.BROKEN_MODULES.items():
        torch.jit.save(nn_tilde_corpus.script(build()), broken / name)
        manifest.append((name, message))
    _with_newer_version(out / "nn-delay.ts", broken / "nn-newer-torch.ts")
    manifest.append(("nn-newer-torch.ts", "saved by a newer PyTorch"))

    hangs = broken / "hangs"
    hangs.mkdir(exist_ok=True)
    for name, (build, message) in HANGING_MODELS.items():
        torch.jit.save(torch.jit.script(build().eval()), hangs / name)
    (hangs / "MANIFEST.tsv").write_text("".join(f"{name}\t{message}\n" for name, (_, message) in HANGING_MODELS.items()))

    data = good.read_bytes()
    raw_files = {
        "truncated.ts": data[: len(data) // 2],
        "random-bytes.ts": np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "text.ts": b"this is a text file, not a model\n",
        "empty.ts": b"",
    }
    for name, content in raw_files.items():
        (broken / name).write_bytes(content)
        manifest.append((name, NOT_TORCHSCRIPT))

    manifest_text = "".join(f"{name}\t{message}\n" for name, message in manifest)
    (broken / "MANIFEST.tsv").write_text(manifest_text)
    # The build system's output stamp: written last so a failed run is retried.
    os.utime(good)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m timbrel_tools.model_corpus", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    export_all(parser.parse_args().out)


if __name__ == "__main__":
    main()
