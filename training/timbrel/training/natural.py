"""Fitting a model's natural(): the centroid, bandwidth and flatness its timbres have at each
pitch and loudness, learnt from the training data after training.

For every frame with signal of the training audio, the features are the encoder's mean z and the
normalised pitch and loudness (DescriptorConditioned.natural_features) and the targets the
normalised spectral descriptors the analysis measured; a one-hidden-layer network (NaturalHead)
is fitted by least squares. What it learns is the average sound of each timbre: a violin's
centroid rises with its pitch and loudness, a flute's less so.
"""

from __future__ import annotations

import torch

from ..models.conditioning import NATURAL_DESCRIPTORS, NATURAL_HIDDEN

HEAD_TENSORS = ("w1", "b1", "w2", "b2")


def clip_features(model, analysed: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """(features [frames, latent + 2], normalised descriptors [frames, D]) of one clip's frames
    with signal, from its analysed_clip."""
    z, d, keep = analysed
    with torch.no_grad():
        features = model.natural_features(torch.cat([z, d], 1))[0]
        targets = model._normalise(d)[0].T
    return features[keep], targets[keep]


def gather(model, clips: list[tuple]) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = [clip_features(model, analysed) for analysed in clips]
    return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])


def r_squared(predicted: torch.Tensor, target: torch.Tensor) -> list[float]:
    residual = ((predicted - target) ** 2).sum(0)
    total = ((target - target.mean(0)) ** 2).sum(0)
    return (1.0 - residual / total.clamp(min=1e-12)).tolist()


def with_latent(analysed: tuple, latent) -> tuple:
    """An analysed clip with z held at `latent` [latent_size] in every frame."""
    z, d, keep = analysed
    held = torch.as_tensor(latent, dtype=z.dtype).reshape(1, -1, 1).expand_as(z)
    return held, d, keep


def fit_natural(model, train: list[tuple], valid: list[tuple], steps: int = 4000, seed: int = 0,
                named: list | None = None) -> dict:
    """Fits the model's natural head on the train clips (timbres.analysed_clip of each; frames
    with signal), sets has_natural,
    and returns {names, r2_train, r2_valid, frames} for the predicted descriptors (R² in the
    normalised units decode reads). `named`, when given, holds each train clip's named timbre
    (its instrument's mean z): its frames are learnt a second time with z held there, as the
    Snapshot source decodes them. A head that has only seen each frame's z answers for a mean z
    what no frame asked it (a mean in a curved map is not the map's mean: natural() read a
    viola's named timbre 160 Hz darker than the viola, a male voice's 190 Hz)."""
    names = list(model.descriptor_names)
    predicted = [i for i, name in enumerate(names) if name in NATURAL_DESCRIPTORS]
    if not predicted or "loudness" not in names:
        raise ValueError("natural() needs a loudness descriptor and one of " + ", ".join(NATURAL_DESCRIPTORS))
    if named is not None:
        train = list(train) + [with_latent(analysed, latent) for analysed, latent in zip(train, named)]
    x, y = gather(model, train)
    if len(x) < 100:
        raise ValueError(f"only {len(x)} frames with signal to learn natural() from")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], NATURAL_HIDDEN), torch.nn.LeakyReLU(0.2),
                              torch.nn.Linear(NATURAL_HIDDEN, len(names)))
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    mask = torch.zeros(len(names), dtype=torch.bool)
    mask[predicted] = True
    for _ in range(steps):
        rows = torch.randint(0, len(x), (min(2048, len(x)),), generator=generator)
        loss = ((net(x[rows]) - y[rows])[:, mask] ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    head = model.natural_head
    with torch.no_grad():
        head.w1.copy_(net[0].weight)
        head.b1.copy_(net[0].bias)
        head.w2.copy_(net[2].weight)
        head.b2.copy_(net[2].bias)
    model.has_natural = True
    with torch.no_grad():
        r2_train = r_squared(head(x)[:, mask], y[:, mask])
        vx, vy = gather(model, valid) if valid else (x, y)
        r2_valid = r_squared(head(vx)[:, mask], vy[:, mask])
    return {"names": [names[i] for i in predicted], "r2_train": r2_train, "r2_valid": r2_valid, "frames": len(x),
            "head": {key: getattr(head, key).clone() for key in HEAD_TENSORS}}


def load_head(model, head: dict) -> None:
    """Gives a model the natural head a source checkpoint kept."""
    with torch.no_grad():
        for key, value in head.items():
            getattr(model.natural_head, key).copy_(value)
    model.has_natural = True


__all__ = ["fit_natural", "load_head", "clip_features", "r_squared"]
