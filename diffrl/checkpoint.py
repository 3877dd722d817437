"""Atomic, sharding-aware checkpoints: weights, optimizer, EMA, scheduler, RNG states, step and cursor.

Layout of ``run_dir/checkpoint-000100/``::

    state/                   torch.distributed.checkpoint: trainable weights, optimizer states and EMA
                             averages, as each rank holds them (sharded under FSDP); --resume reads this
    policy/                  consolidated export, policy.save_pretrained (loads in the stock pipeline)
    policy_ema/              the same with the EMA weights (if EMA is on)
    rng_state_<rank>.safetensors   torch RNG states per process; python/numpy states in the metadata
    trainer_state.json       step, data cursor, scheduler state, config

Every rank takes part in a save (the state-dict API is collective under FSDP). Everything goes to
``.checkpoint-<step>.tmp`` first and is renamed into place, so a crash never leaves a half-written
checkpoint under the final name; temporaries a kill left behind are removed when the next run starts.
Resuming needs the same number of processes (one RNG state per rank).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)

from diffrl.policy import FlowPolicy

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
TEMP_PATTERN = re.compile(r"^\.checkpoint-\d+\.(tmp|old)$")
STATE_NAME = "trainer_state.json"
STATE_DIR = "state"
SHARDED = StateDictOptions(ignore_frozen_params=True)
FULL = StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=True)


def checkpoint_name(step: int) -> str:
    return f"checkpoint-{step:06d}"


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The highest-step ``checkpoint-*`` folder in ``directory`` (or ``directory`` itself if it is one)."""
    directory = Path(directory)
    if (directory / STATE_NAME).is_file():
        return directory
    found = [(int(m.group(1)), p) for p in directory.glob("checkpoint-*") if (m := CHECKPOINT_PATTERN.match(p.name))]
    found = [(step, path) for step, path in found if (path / STATE_NAME).is_file()]
    return max(found)[1] if found else None


# --- RNG ----------------------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """This process's RNG states (python, numpy, torch CPU and CUDA)."""
    numpy_state = np.random.get_state()
    state = {
        "python": json.dumps(random.getstate()),
        "numpy": json.dumps([numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return state


def save_rng(state: dict[str, Any], path: Path) -> None:
    tensors = {key: value for key, value in state.items() if torch.is_tensor(value)}
    save_file(tensors, str(path), metadata={key: value for key, value in state.items() if isinstance(value, str)})


def restore_rng(path: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path))
    version, *rest = json.loads(metadata["python"])
    random.setstate((version, tuple(rest[0]), rest[1]))
    name, keys, *numpy_rest = json.loads(metadata["numpy"])
    np.random.set_state((name, np.array(keys, dtype=np.uint32), *numpy_rest))
    torch.set_rng_state(tensors["torch"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(tensors["cuda"]))


# --- EMA ----------------------------------------------------------------------------------------------
class EMA:
    """Exponential moving average of parameters: ``shadow = decay * shadow + (1 - decay) * param``.

    The shadow is float32 and is never rounded to the parameters' dtype; with sharded parameters each
    rank averages its own shards."""

    def __init__(self, parameters: list[torch.nn.Parameter], decay: float) -> None:
        self.parameters, self.decay = parameters, float(decay)
        self.shadow = [p.detach().clone().float() for p in parameters]

    @torch.no_grad()
    def update(self) -> None:
        for shadow, parameter in zip(self.shadow, self.parameters):
            shadow.lerp_(parameter.detach().float(), 1.0 - self.decay)

    @contextmanager
    @torch.no_grad()
    def applied(self) -> Iterator[None]:
        """Inside, the parameters hold the averages; the live values come back exactly on exit."""
        live = [parameter.detach().clone() for parameter in self.parameters]
        try:
            for shadow, parameter in zip(self.shadow, self.parameters):
                parameter.copy_(shadow)
            yield
        finally:
            for saved, parameter in zip(live, self.parameters):
                parameter.copy_(saved)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {f"{i:05d}": tensor for i, tensor in enumerate(self.shadow)}


# --- whole checkpoints ----------------------------------------------------------------------------------
def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


@contextmanager
def _single_process_ok() -> Iterator[None]:
    """DCP warns that it assumes one process when torch.distributed is not initialised: that is intended."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        yield


def remove_stale_temporaries(run_dir: str | Path) -> list[Path]:
    """Delete the temporary folders a kill during a checkpoint write left in ``run_dir``; returns them."""
    stale = [p for p in Path(run_dir).glob(".checkpoint-*") if TEMP_PATTERN.match(p.name) and p.is_dir()]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def rotate_checkpoints(run_dir: str | Path, keep: int | None) -> list[Path]:
    """Delete all but the ``keep`` highest-step checkpoints in ``run_dir`` (none if ``keep`` is None)."""
    if keep is None:
        return []
    found = sorted((int(m.group(1)), p) for p in Path(run_dir).glob("checkpoint-*")
                   if (m := CHECKPOINT_PATTERN.match(p.name)))
    removed = [path for _, path in found[:-keep]] if keep > 0 else [path for _, path in found]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def _state(module: torch.nn.Module, optimizer: torch.optim.Optimizer, ema: EMA | None) -> dict[str, Any]:
    """The resumable tensors, sharded as they are trained (DCP reads and writes each rank's shards)."""
    model_state, optimizer_state = get_state_dict(module, optimizer, options=SHARDED)
    state = {"model": model_state, "optimizer": optimizer_state}
    if ema is not None:
        state["ema"] = ema.state_dict()
    return state


def full_trainable_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The trainable weights of ``module`` as whole CPU tensors by name (collective; empty off rank 0)."""
    return get_model_state_dict(module, options=FULL)


def save_checkpoint(
    target: str | Path,
    policy: FlowPolicy,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    trainer_state: dict[str, Any],
    ema: EMA | None = None,
) -> Path:
    """Write a checkpoint folder atomically. Collective: call on every rank, with the same ``target``.

    Rank 0 prepares ``.<name>.tmp``; every rank writes its shards of weights, optimizer and EMA
    (``state/``) and its RNG states; the consolidated ``policy/`` (and ``policy_ema/``) folders are
    gathered and written by rank 0, which renames the folder into place once every rank has written."""
    target = Path(target)
    temp, old = target.parent / f".{target.name}.tmp", target.parent / f".{target.name}.old"
    rank, optimizer = _rank(), getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper -> torch's
    if rank == 0:
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir(parents=True)
    _barrier()
    with _single_process_ok():
        dcp.save(_state(policy.module, optimizer, ema), checkpoint_id=temp / STATE_DIR)
    save_rng(rng_state(), temp / f"rng_state_{rank}.safetensors")
    exports = {"policy": full_trainable_state(policy.module)}
    if ema is not None:
        with ema.applied():
            exports["policy_ema"] = full_trainable_state(policy.module)
    _barrier()  # every rank's files are in the folder before rank 0 renames it (DDP gathers nothing above)
    if rank == 0:
        for name, state_dict in exports.items():
            policy.save_pretrained(temp / name, state_dict=state_dict)
        state = dict(trainer_state, scheduler=scheduler.state_dict() if scheduler is not None else None)
        (temp / STATE_NAME).write_text(json.dumps(state, indent=2, default=str))
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(temp, target)
        shutil.rmtree(old, ignore_errors=True)
    _barrier()
    return target


@contextmanager
def _reading(path: Path, what: str) -> Iterator[None]:
    """Turn a failure to read ``path`` (missing, truncated, corrupt) into a ValueError that names it."""
    try:
        yield
    except (OSError, ValueError, EOFError, RuntimeError, SafetensorError, CheckpointException) as error:
        raise ValueError(f"cannot read the checkpoint's {what} in {path}: {type(error).__name__}: {error}") from error


def load_checkpoint(
    folder: str | Path,
    policy: FlowPolicy,
    optimizer: torch.optim.Optimizer,
    scheduler: Any = None,
    ema: EMA | None = None,
) -> dict[str, Any]:
    """Restore what ``save_checkpoint`` wrote into live objects (collective); returns the trainer state.
    A missing, truncated or corrupt file raises a ValueError that names it."""
    folder = Path(folder)
    if not (folder / STATE_NAME).is_file() or not (folder / STATE_DIR).is_dir():
        raise ValueError(f"{folder} is not a checkpoint folder (no {STATE_NAME} and {STATE_DIR}/)")
    with _reading(folder / STATE_NAME, "trainer state"):
        trainer_state = json.loads((folder / STATE_NAME).read_text())
    rng_path = folder / f"rng_state_{_rank()}.safetensors"
    if not rng_path.is_file():
        raise ValueError(f"{folder} has no RNG state for rank {_rank()} (saved with fewer processes?)")
    optimizer = getattr(optimizer, "optimizer", optimizer)
    state = _state(policy.module, optimizer, ema)
    with _reading(folder / STATE_DIR, "weights and optimizer states"):
        keys = dcp_keys(folder / STATE_DIR)
    if ema is not None and "ema" not in keys:
        raise ValueError(f"{folder} has no EMA weights but EMA is on")
    with _reading(folder / STATE_DIR, "weights and optimizer states"), _single_process_ok():
        dcp.load(state, checkpoint_id=folder / STATE_DIR)
    set_state_dict(policy.module, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"],
                   options=SHARDED)
    if scheduler is not None and trainer_state.get("scheduler") is not None:
        scheduler.load_state_dict(trainer_state["scheduler"])
    with _reading(rng_path, "RNG state"):
        restore_rng(rng_path)
    return trainer_state


def dcp_keys(path: Path) -> set[str]:
    """Top-level keys of a ``torch.distributed.checkpoint`` folder."""
    metadata = dcp.FileSystemReader(str(path)).read_metadata()
    return {key.split(".", 1)[0] for key in metadata.state_dict_metadata}


def resolve_policy_folder(path: str | Path) -> Path:
    """A policy folder from a path that is one, or a checkpoint (its EMA policy if it has one)."""
    path = Path(path)
    checkpoint = latest_checkpoint(path) if path.is_dir() else None
    if checkpoint is not None:
        return checkpoint / ("policy_ema" if (checkpoint / "policy_ema").is_dir() else "policy")
    if not path.is_dir():
        raise ValueError(f"policy folder not found: {path}")
    return path


__all__ = [
    "EMA",
    "checkpoint_name",
    "dcp_keys",
    "full_trainable_state",
    "latest_checkpoint",
    "load_checkpoint",
    "remove_stale_temporaries",
    "resolve_policy_folder",
    "rng_state",
    "rotate_checkpoints",
    "save_checkpoint",
]
