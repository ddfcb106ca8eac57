"""The Python side of the model contract: the checker, the exporter, and the test model."""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch

from timbrel_tools import model_corpus as testmodels
from timbrel.format.contract import ContractError, check_model, load_and_check
from timbrel.format.save import save_model
from timbrel_tools.model_corpus import FilterGainModel


def test_the_test_model_conforms_and_is_not_an_identity(tmp_path):
    info = save_model(FilterGainModel(), tmp_path / "m.ts")
    assert info.hop_length == 256 and info.latency_samples == 31
    module, _ = load_and_check(tmp_path / "m.ts")
    x = torch.randn(1, 1, 256 * 8) * 0.1
    module.reset()
    assert (module.forward(x) - x).abs().max() > 0.01


@pytest.mark.parametrize("name", sorted(testmodels.BROKEN_MODELS))
def test_each_broken_model_is_rejected_naming_the_problem(name):
    build, expected = testmodels.BROKEN_MODELS[name]
    module = torch.jit.script(build().eval())
    with pytest.raises(ContractError) as error:
        check_model(module)
    assert expected in str(error.value)


class NotStreamable(FilterGainModel):
    """Normalises each call by its own peak: fine offline, wrong when streamed hop by hop."""

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.filtered_hops(x / (x.abs().max() + 1e-3))


def test_a_model_that_does_not_stream_is_rejected():
    with pytest.raises(ContractError, match="streaming hop by hop differs"):
        check_model(torch.jit.script(NotStreamable().eval()))


def test_a_failed_export_leaves_the_existing_file_untouched(tmp_path):
    path = tmp_path / "model.ts"
    save_model(FilterGainModel(), path)
    before = path.read_bytes()
    broken, _ = testmodels.BROKEN_MODELS["unit-mismatch.ts"]
    with pytest.raises(ContractError):
        save_model(broken(), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.ts"]


def test_missing_and_non_torchscript_files(tmp_path):
    with pytest.raises(ContractError, match="model file not found"):
        load_and_check(tmp_path / "absent.ts")
    (tmp_path / "text.ts").write_text("hello")
    with pytest.raises(ContractError, match="not a readable TorchScript model"):
        load_and_check(tmp_path / "text.ts")


def with_timbres(names=("violin", "flute"), latents=None, axes=True) -> FilterGainModel:
    from timbrel.format.save import attach_latent_axes, attach_timbres

    model = FilterGainModel()
    size = int(model.latent_size)
    if names is not None:
        attach_timbres(model, list(names), latents if latents is not None else torch.randn(len(names), size))
    if axes:
        q, _ = torch.linalg.qr(torch.randn(size, size, dtype=torch.float64))
        attach_latent_axes(model, torch.randn(size), q.T.float())
    return model


def test_timbres_and_latent_axes_survive_export_and_read_back(tmp_path):
    model = with_timbres()
    info = save_model(model, tmp_path / "m.ts")
    assert info.timbre_names == ["violin", "flute"]
    torch.testing.assert_close(info.timbre_latents, model.timbre_latents)
    torch.testing.assert_close(info.latent_components, model.latent_components)
    _, again = load_and_check(tmp_path / "m.ts")
    assert again.timbre_names == ["violin", "flute"] and again.latent_mean.shape == (int(model.latent_size),)
    assert again == info  # compared by value, tensors too
    moved = dataclasses.replace(info, timbre_latents=info.timbre_latents + 1.0)
    assert moved != info
    plain = save_model(FilterGainModel(), tmp_path / "plain.ts")  # both pairs are optional
    assert plain.timbre_names == [] and plain.timbre_latents is None and plain.latent_components is None


@pytest.mark.parametrize("build, expected", [
    (lambda: with_timbres(names=("a", "a")), "timbre_names lists a name twice"),
    (lambda: with_timbres(names=("a", "")), "non-empty"),
    (lambda: with_timbres(latents=torch.zeros(2, 3)), "'timbre_latents' has shape"),
    (lambda: with_timbres(latents=torch.full((2, int(FilterGainModel().latent_size)), float("nan"))), "NaN"),
])
def test_bad_timbres_are_rejected_naming_the_field(build, expected):
    with pytest.raises(ContractError, match=expected):
        check_model(torch.jit.script(build().eval()))


def test_one_of_a_pair_and_axes_that_are_not_orthonormal_are_rejected():
    from timbrel.format.save import attach_latent_axes

    lonely = FilterGainModel()
    lonely.timbre_names = ["violin"]
    with pytest.raises(ContractError, match="'timbre_names' needs 'timbre_latents'"):
        check_model(torch.jit.script(lonely.eval()))
    skewed = FilterGainModel()
    size = int(skewed.latent_size)
    attach_latent_axes(skewed, torch.zeros(size), 2.0 * torch.eye(size))
    with pytest.raises(ContractError, match="orthonormal"):
        check_model(torch.jit.script(skewed.eval()))
