"""Atomic checkpoints: weights, optimizer, scheduler, RNG states, step and data cursor.

Layout of ``run_dir/checkpoint-000100/``::

    policy/                  policy.save_pretrained (safetensors weights + config)
    policy_ema/              the same with the EMA weights (if EMA is on)
    ema.safetensors          EMA shadow tensors (to continue the average exactly)
    optimizer.safetensors    optimizer tensors; its scalars and param groups in the file's metadata
    rng_state_<rank>.safetensors   torch RNG states per process; python/numpy states in the metadata
    trainer_state.json       step, data cursor, scheduler state, config

Everything is written to a temporary folder next to the target, then renamed into place, so a crash never
leaves a half-written checkpoint under the final name.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from diffrl.policy import FlowPolicy

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
STATE_NAME = "trainer_state.json"


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


def atomic_directory(target: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temp_dir)``, then move the finished folder to ``target`` (replacing any old one)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".{target.name}.tmp.{os.getpid()}"
    old = target.parent / f".{target.name}.old.{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    try:
        write(temp)
        if target.exists():
            os.replace(target, old)
        os.replace(temp, target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target


# --- optimizer ----------------------------------------------------------------------------------------
def save_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> None:
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"state.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    metadata = {"param_groups": json.dumps(state["param_groups"]), "scalars": json.dumps(scalars)}
    save_file(tensors, str(path), metadata=metadata)


def load_optimizer(optimizer: torch.optim.Optimizer, path: Path, device: torch.device | str = "cpu") -> None:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path), device=str(device))
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = tensor
    for name, value in json.loads(metadata["scalars"]).items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata["param_groups"])})


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
    """Exponential moving average of parameters: ``shadow = decay * shadow + (1 - decay) * param``."""

    def __init__(self, parameters: list[torch.nn.Parameter], decay: float) -> None:
        self.parameters, self.decay = parameters, float(decay)
        self.shadow = [p.detach().clone().float() for p in parameters]

    @torch.no_grad()
    def update(self) -> None:
        for shadow, parameter in zip(self.shadow, self.parameters):
            shadow.lerp_(parameter.detach().float(), 1.0 - self.decay)

    @torch.no_grad()
    def swap(self) -> None:
        """Exchange the live parameters and the averages (call twice to undo)."""
        for shadow, parameter in zip(self.shadow, self.parameters):
            live = parameter.detach().clone()
            parameter.copy_(shadow.to(parameter.dtype))
            shadow.copy_(live.float())

    def state(self) -> dict[str, torch.Tensor]:
        return {f"{i:05d}": tensor.cpu().contiguous() for i, tensor in enumerate(self.shadow)}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        if len(state) != len(self.shadow):
            raise ValueError(f"EMA state has {len(state)} tensors, expected {len(self.shadow)}")
        for i, shadow in enumerate(self.shadow):
            shadow.copy_(state[f"{i:05d}"])


# --- whole checkpoints ----------------------------------------------------------------------------------
def save_checkpoint(
    target: str | Path,
    policy: FlowPolicy,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    trainer_state: dict[str, Any],
    rng_states: list[dict[str, Any]],
    ema: EMA | None = None,
) -> Path:
    """Write a checkpoint folder atomically (call on the main process; ``rng_states``: one per rank)."""

    def write(folder: Path) -> None:
        policy.save_pretrained(folder / "policy")
        if ema is not None:
            save_file(ema.state(), str(folder / "ema.safetensors"))
            ema.swap()
            try:
                policy.save_pretrained(folder / "policy_ema")
            finally:
                ema.swap()
        save_optimizer(optimizer, folder / "optimizer.safetensors")
        for rank, state in enumerate(rng_states):
            save_rng(state, folder / f"rng_state_{rank}.safetensors")
        state = dict(trainer_state, scheduler=scheduler.state_dict() if scheduler is not None else None)
        (folder / STATE_NAME).write_text(json.dumps(state, indent=2, default=str))

    return atomic_directory(target, write)


def load_checkpoint(
    folder: str | Path,
    policy: FlowPolicy,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    ema: EMA | None = None,
    rank: int = 0,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Restore what ``save_checkpoint`` wrote into live objects; returns the trainer state dict."""
    folder = Path(folder)
    if not (folder / STATE_NAME).is_file():
        raise ValueError(f"{folder} is not a checkpoint folder (no {STATE_NAME})")
    policy.load_pretrained(folder / "policy")
    state = json.loads((folder / STATE_NAME).read_text())
    if optimizer is not None:
        load_optimizer(optimizer, folder / "optimizer.safetensors", device)
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if ema is not None:
        if not (folder / "ema.safetensors").is_file():
            raise ValueError(f"{folder} has no EMA weights but EMA is on")
        ema.load(load_file(str(folder / "ema.safetensors")))
    rng_path = folder / f"rng_state_{rank}.safetensors"
    if rng_path.is_file():
        restore_rng(rng_path)
    return state


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
    "atomic_directory",
    "checkpoint_name",
    "latest_checkpoint",
    "load_checkpoint",
    "resolve_policy_folder",
    "rng_state",
    "save_checkpoint",
]
