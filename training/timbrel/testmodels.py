"""Exports the test model and a corpus of broken model files for the bad-input tests.

    python -m timbrel.testmodels --out build/models

writes timbrel-test.ts (the default until trained models ship), timbrel-test-22k.ts (a valid
model at another sample rate), timbrel-identity.ts (an exact pass-through), and broken/*.ts with broken/MANIFEST.tsv listing, for each file,
a fragment of the error message the loader must give.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from .export import save_model
from .testmodel import FilterGainModel


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


class WrongEncodeAnalyzeModel(FilterGainModel):
    """Has the optional encode_analyze, but it does not equal cat(encode, analyze)."""

    @torch.jit.export
    def encode_analyze(self, x: torch.Tensor) -> torch.Tensor:
        return 2.0 * torch.cat([self.encode(x), self.analyze(x)], 1) + 1.0


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
}

NOT_TORCHSCRIPT = "not a readable TorchScript model"


def export_all(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    good = out / "timbrel-test.ts"
    save_model(FilterGainModel(), good)
    save_model(FilterGainModel(sample_rate=22050, name="timbrel-test-22k"), out / "timbrel-test-22k.ts")
    save_model(IdentityModel(), out / "timbrel-identity.ts")

    broken = out / "broken"
    broken.mkdir(exist_ok=True)
    manifest = []
    for name, (build, message) in BROKEN_MODELS.items():
        torch.jit.save(torch.jit.script(build().eval()), broken / name)
        manifest.append((name, message))

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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    export_all(parser.parse_args().out)


if __name__ == "__main__":
    main()
