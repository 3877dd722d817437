"""What the trainers need to know about how a module is distributed: DDP, FSDP (1 or 2) or plain.

``accelerate`` wraps a module per its config (``accelerator.prepare``); a caller may also hand the trainer
a module it sharded itself (torch FSDP2 ``fully_shard``, or FSDP1), which ``prepare`` then leaves alone.
Checkpoints go through ``torch.distributed.checkpoint``'s state-dict API (see ``diffrl.checkpoint``),
which every one of these wrappers supports, so one code path saves and resumes all of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from accelerate import Accelerator
from torch.distributed.fsdp import FSDPModule
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP1
from torch.distributed.tensor import DTensor


def is_sharded(module: torch.nn.Module) -> bool:
    """True for a module wrapped by torch FSDP (FSDP1) or sharded with FSDP2's ``fully_shard``."""
    return isinstance(module, (FSDPModule, FSDP1))


def prepare_module(accelerator: Accelerator, module: torch.nn.Module) -> torch.nn.Module:
    """``accelerator.prepare(module)``, unless the caller sharded it already (then it is used as given)."""
    return module if is_sharded(module) else accelerator.prepare(module)


@contextmanager
def gradient_sync(module: torch.nn.Module, enabled: bool) -> Iterator[None]:
    """Inside, backward passes of ``module`` reduce gradients across ranks only if ``enabled`` (the
    last micro-batch of an accumulation); the others accumulate locally. DDP and FSDP1: ``no_sync``;
    FSDP2: ``set_requires_gradient_sync``."""
    if enabled:
        yield
    elif isinstance(module, FSDPModule):
        module.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            module.set_requires_gradient_sync(True)
    elif callable(getattr(module, "no_sync", None)):
        with module.no_sync():
            yield
    else:
        yield


def clip_grad_norm(accelerator: Accelerator, parameters: Iterable[torch.nn.Parameter], max_norm: float) -> float:
    """Clip the global gradient norm to ``max_norm``; returns the norm before clipping (NaN if unknown).

    Sharded (DTensor) gradients give a DTensor norm, reduced here to the global value."""
    norm = accelerator.clip_grad_norm_(list(parameters), max_norm)
    if norm is None:
        return math.nan
    if isinstance(norm, DTensor):
        norm = norm.full_tensor()
    return float(norm)


__all__ = ["clip_grad_norm", "gradient_sync", "is_sharded", "prepare_module"]
