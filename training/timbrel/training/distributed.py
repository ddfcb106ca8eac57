"""Training on whatever the user has: one CPU process, a GPU, or several processes (GPUs or
machines) started by torchrun, with PyTorch's own distributed engine (NCCL on GPUs, gloo on CPU).

    torchrun --nproc_per_node 2 -m timbrel train DATA --out runs/mine

Data parallel, as DistributedDataParallel does it: every rank builds the same model from the
same seed (and takes rank 0's weights to be sure), draws the same global batch of
`--batch x world size` excerpts and trains on its own share of it, and the gradients are
averaged across ranks before every optimiser step, so every rank takes the same step and holds
the same weights. The trainer has several optimisers (the model, the latent adversary, the
identity judge) whose losses reach the model through its methods rather than one forward(), so
the gradients are averaged here, bucket by bucket, instead of by DDP's forward hooks: the
arithmetic is DDP's (sum over ranks, divided by their number). Rank 0 alone writes checkpoints,
logs and TensorBoard; the ranks decide together when to stop, so none waits on a collective
the others left.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import TrainError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def main(self) -> bool:
        """The rank that writes checkpoints, logs and the card."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def choose_device(name: str | None, world: World | None = None) -> torch.device:
    """--device auto|cpu|cuda (None is auto: a GPU when there is one). Under torchrun each rank
    takes the GPU of its local rank. A GPU asked for and absent is an error before any work."""
    name = (name or "auto").lower()
    if name not in ("auto", "cpu", "cuda") and not name.startswith("cuda:"):
        raise TrainError(f"--device {name}: expected auto, cpu or cuda")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainError(f"--device {name}: no CUDA GPU is available to this torch "
                             f"({torch.__version__}; torch.cuda.is_available() is False)")
        if name == "cuda" and world is not None and world.distributed:
            return torch.device("cuda", world.local_rank % torch.cuda.device_count())
    return torch.device(name)


def start_world(device_name: str | None) -> World:
    """The process group torchrun describes in the environment (WORLD_SIZE, RANK, LOCAL_RANK,
    MASTER_ADDR...), or a world of one when it describes none."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    if not dist.is_available():
        raise TrainError("this torch has no distributed support")
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    wants_gpu = (device_name or "auto").lower() != "cpu" and torch.cuda.is_available()
    backend = "nccl" if wants_gpu else "gloo"
    if not dist.is_initialized():
        if wants_gpu:
            torch.cuda.set_device(local_rank % torch.cuda.device_count())
        # A rank that dies leaves the others blocked in a collective: torchrun stops them, and
        # this timeout ends the wait even when it cannot.
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=10))
    return World(rank, size, local_rank, backend)


def end_world(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def shard(world: World, count: int) -> slice:
    """This rank's share of a global batch of count x world size items."""
    return slice(world.rank * count, (world.rank + 1) * count)


def average_gradients(world: World, parameters) -> None:
    """Every rank's gradients replaced by their mean over the ranks (one all-reduce per bucket
    of flattened gradients). Parameters without a gradient on every rank take part as zeros, so
    all ranks reduce the same buckets."""
    if not world.distributed:
        return
    parameters = [p for p in parameters if p.requires_grad]
    for p in parameters:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    by_device: dict = {}
    for p in parameters:
        by_device.setdefault((p.grad.device, p.grad.dtype), []).append(p)
    for group in by_device.values():
        flat = torch.cat([p.grad.reshape(-1) for p in group])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= world.size
        offset = 0
        for p in group:
            n = p.grad.numel()
            p.grad.copy_(flat[offset: offset + n].view_as(p.grad))
            offset += n


def broadcast_state(world: World, *modules) -> None:
    """Rank 0's parameters and buffers on every rank (the same seed builds the same model; this
    makes sure, whatever a rank's kernels did)."""
    if not world.distributed:
        return
    for module in modules:
        if module is None:
            continue
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def gather(world: World, tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's `tensor` (same shape on each), concatenated along dim 0 in rank order."""
    if not world.distributed:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world.size)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


def _collective_device(world: World) -> torch.device:
    """NCCL reduces tensors on the GPU only; gloo on the CPU."""
    return torch.device("cuda", torch.cuda.current_device()) if world.backend == "nccl" else torch.device("cpu")


def any_rank(world: World, flag: bool) -> bool:
    """True on every rank when it is true on any (stopping together)."""
    if not world.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=_collective_device(world))
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def weights_agree(world: World, module: torch.nn.Module) -> bool:
    """Whether every rank holds the same weights as rank 0 (bit for bit): the run checks it at
    its end and records it."""
    if not world.distributed:
        return True
    device = _collective_device(world)
    flat = torch.cat([p.detach().reshape(-1).float().to(device) for p in module.parameters()])
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    differs = torch.tensor([0.0 if torch.equal(flat, reference) else 1.0], device=device)
    dist.all_reduce(differs, op=dist.ReduceOp.MAX)
    return differs.item() == 0.0


# The world the losses' masked means divide by (set by the trainer for the run).
_counting_world = World()


def count_over(world: World) -> None:
    """Masked means (losses over the frames with signal) divide by the count of such frames in
    the whole global batch from now on, each rank by its share: averaged over the ranks they
    are the global batch's mean, as one process would take it."""
    global _counting_world
    _counting_world = world


def shared_count(count: torch.Tensor) -> torch.Tensor:
    """A masked mean's denominator: this rank's count, or with several ranks the global count
    divided by their number (no gradient flows through a count)."""
    world = _counting_world
    if not world.distributed:
        return count
    total = count.detach().to(_collective_device(world), torch.float64).reshape(1).clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return (total / world.size).to(count.device, count.dtype).reshape(count.shape)
