"""The Python side of the model contract: the checker, the exporter, and the test model."""

from __future__ import annotations

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
