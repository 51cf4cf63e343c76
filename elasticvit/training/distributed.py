"""Data parallelism without DDP's wrapper: identical subnets on every rank, gradients all-reduced.

Every rank builds its sampler with the same seed, so all ranks train the same subnets at each step
and a parameter has a gradient on one rank exactly when it has one on all. That lets us average the
accumulated gradients with one all-reduce per step (over the parameters that have a gradient),
instead of DDP with ``find_unused_parameters=True``, which would search the autograd graph and
synchronise after every one of the step's several backward passes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.distributed as dist
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn


class DistContext(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    owns_group: bool = False  # we initialised the process group, so we tear it down

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str) -> DistContext:
    """Join the process group that ``torchrun`` describes in the environment (if any).

    ``device``: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N". Ranks use gloo on CPU and
    NCCL on CUDA, one GPU per local rank.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError(f"training.device={device!r} but CUDA is not available")
    if use_cuda:
        explicit = ":" in device and world_size == 1
        dev = torch.device(device) if explicit else torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    owns_group = world_size > 1 and not dist.is_initialized()
    if owns_group:
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world_size)
    return DistContext(rank=rank, world_size=world_size, device=dev, owns_group=owns_group)


def average_gradients(params: Sequence[nn.Parameter], ctx: DistContext) -> None:
    """Average the gradients over ranks in one flat all-reduce."""
    if not ctx.distributed:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= ctx.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def average_buffers(model: nn.Module, ctx: DistContext) -> None:
    """Average floating-point buffers (BN statistics differ per rank: each sees its own batches)."""
    if not ctx.distributed:
        return
    for buf in model.buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf)
            buf /= ctx.world_size


def mean_over_ranks(values: Tensor, ctx: DistContext) -> Tensor:
    if not ctx.distributed:
        return values
    values = values.clone()
    dist.all_reduce(values)
    return values / ctx.world_size


def gather_objects(obj: object, ctx: DistContext) -> list[object]:
    if not ctx.distributed:
        return [obj]
    out: list[object] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: object, ctx: DistContext) -> object:
    """Rank 0's ``obj`` on every rank."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()
