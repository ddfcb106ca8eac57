"""Our models in Max/Pd's nn~: the checks nn~ makes when it loads a module and plays a method,
reproduced on every shipped model (nn_tilde's src/backend/backend.cpp, read, not installed: its
package pins torch 2.5).

nn~ lists a module's methods with its `get_methods()` when it has one, else every method that
has a `<method>_params` attribute. Each params tensor holds [in_channels, in_ratio,
out_channels, out_ratio]. To play a method on a buffer of n samples (n a multiple of the largest
ratio), nn~ keeps every in_ratio-th sample of each of in_channels inputs, calls the method on a
[batch, in_channels, n / in_ratio] tensor, and repeats each output frame out_ratio times: the
result must be [batch, out_channels, n / out_ratio] frames, or nn~ says "model output size is not
consistent" and outputs nothing.
"""

from __future__ import annotations

import pytest
import torch

from conftest import REPO

MODELS = sorted((REPO / "models").glob("*.ts"))
BATCH = 2


def nn_tilde_methods(module: torch.jit.ScriptModule) -> list[str]:
    if hasattr(module, "get_methods"):
        return list(module.get_methods())
    # The module's TorchScript methods, as libtorch's Module::get_methods() lists them.
    return [name for name in module._c._method_names() if hasattr(module, f"{name}_params")]


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_shipped_models_play_in_nn_tilde(path):
    module = torch.jit.load(str(path)).eval()
    methods = nn_tilde_methods(module)
    assert {"forward", "encode", "decode"} <= set(methods), methods
    params = {m: [int(v) for v in getattr(module, f"{m}_params").tolist()] for m in methods}
    for method, values in params.items():
        assert len(values) == 4 and min(values) >= 1, f"{method}_params {values}"
    largest = max(max(p[1], p[3]) for p in params.values())
    n = 8 * largest  # nn~'s buffer: a power of two at least the largest ratio; several hops here
    assert n % largest == 0
    latent = None
    for method in ("encode", "decode", "forward"):
        in_channels, in_ratio, out_channels, out_ratio = params[method]
        module.reset()
        if method == "decode":
            # What encode gave, as nn~ would route it (its own latents, frame rate n / in_ratio).
            x = torch.cat([latent, module.analyze(audio)], 1)
        else:
            audio = 0.3 * torch.sin(torch.arange(n, dtype=torch.float32) * 2 * torch.pi * 220 / module.sample_rate)
            audio = audio.expand(BATCH, in_channels, n).contiguous()
            x = audio[..., in_ratio - 1:: in_ratio]  # nn~ keeps the last sample of each ratio group
        assert x.shape == (BATCH, in_channels, n // in_ratio), (method, tuple(x.shape))
        with torch.no_grad():
            y = getattr(module, method)(x)
        assert y.shape == (BATCH, out_channels, n // out_ratio), \
            f"{method}: nn~ expects {(BATCH, out_channels, n // out_ratio)} from {method}_params {params[method]}, got {tuple(y.shape)}"
        assert torch.isfinite(y).all()
        if method == "encode":
            latent = y
