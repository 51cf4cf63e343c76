"""BatchNorm recalibration: a shared BN's running statistics belong to no single subnet.

During supernet training every subnet updates the same running buffers, so before a subnet is
evaluated its statistics are re-estimated on a few training batches. Works on the supernet with an
active arch (its BN layers slice their full-size buffers, so only the active channels change) and on
an extracted static model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[Tensor]) -> int:
    """Re-estimate every BN layer's running mean/var as the plain average over ``batches``.

    Only BN layers run in training mode (dropout and drop-path stay off). Returns the number of
    batches used; the model is left in eval mode.
    """
    layers = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    momenta = [bn.momentum for bn in layers]
    model.eval()
    for bn in layers:
        bn.reset_running_stats()
        bn.train()
    used = 0
    try:
        for used, x in enumerate(batches, start=1):
            # momentum 1/n turns the exponential average into the running mean of the n batches
            for bn in layers:
                bn.momentum = 1.0 / used
            model(x)
    finally:
        for bn, momentum in zip(layers, momenta, strict=True):
            bn.momentum = momentum
        model.eval()
    return used


@contextlib.contextmanager
def preserved_bn_state(model: nn.Module) -> Iterator[None]:
    """Restore every BN buffer on exit, so recalibrating inside leaves the training state intact."""
    saved = {
        name: buf.clone()
        for name, buf in model.named_buffers()
        if isinstance(model.get_submodule(name.rpartition(".")[0]), _BatchNorm)
    }
    try:
        yield
    finally:
        buffers = dict(model.named_buffers())
        with torch.no_grad():
            for name, value in saved.items():
                buffers[name].copy_(value)


@contextlib.contextmanager
def batch_statistics(model: nn.Module) -> Iterator[None]:
    """Eval mode except BN, which normalises with the batch's statistics, running mean/var unchanged.

    The mode in which a subnet is scored on a training batch: the supernet's running buffers mean
    nothing for it, and drop-path noise would blur the comparison between subnets.
    """
    was_training = model.training
    layers = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    momenta = [bn.momentum for bn in layers]
    model.eval()
    for bn in layers:
        bn.train()
        bn.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    try:
        yield
    finally:
        for bn, momentum in zip(layers, momenta, strict=True):
            bn.momentum = momentum
        model.train(was_training)
