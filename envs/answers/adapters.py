"""Reward functions in the shapes that text-RL trainers call.

- TRL's ``GRPOTrainer(reward_funcs=[trl_reward])``: called as ``trl_reward(prompts=..., completions=...,
  completion_ids=..., **dataset_columns)``; the dataset needs a ``task`` and a ``puzzle`` column (the
  puzzle dict or its JSON). Completions may be plain strings or chat messages. Returns dense rewards.
- verl's custom reward (``custom_reward_function.path`` / ``name: compute_score``): called as
  ``compute_score(data_source, solution_str, ground_truth, extra_info)``; ``ground_truth`` is
  ``{"task", "puzzle"}`` (or its JSON), or the bare puzzle with ``data_source`` ``"videorlvr/<task>"``.
  Returns ``{"score", "success", <components>}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from videorlvr.envs.answers import score_answer


def completion_text(completion: Any) -> str:
    """The text of one completion: a string, or the last message's ``content`` of a chat completion."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        content = completion[-1].get("content", "")
        if isinstance(content, list):  # multimodal message: the text parts
            return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
        return str(content)
    if isinstance(completion, Mapping):
        return str(completion.get("content", ""))
    return ""


def trl_reward(prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (), **columns: Any) -> list[float]:
    """Dense rewards for a TRL batch: one float per completion (see the module docstring)."""
    for required in ("task", "puzzle"):
        if required not in columns:
            raise ValueError(f"trl_reward needs a {required!r} column in the dataset, got {sorted(columns)}")
    tasks, puzzles = columns["task"], columns["puzzle"]
    if not len(tasks) == len(puzzles) == len(completions):
        raise ValueError(f"{len(completions)} completions for {len(tasks)} tasks and {len(puzzles)} puzzles")
    return [
        score_answer(task, completion_text(completion), puzzle).reward
        for task, puzzle, completion in zip(tasks, puzzles, completions)
    ]


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None
) -> dict[str, float]:
    """verl's custom reward: ``{"score": dense reward, "success": 0/1, <each component>}``."""
    truth = json.loads(ground_truth) if isinstance(ground_truth, str) else ground_truth
    if not isinstance(truth, Mapping):
        raise TypeError(f"ground_truth must be a dict or JSON text, got {type(ground_truth).__name__}")
    if "puzzle" in truth:
        task, puzzle = truth.get("task") or str(data_source).rsplit("/", 1)[-1], truth["puzzle"]
    else:
        task, puzzle = str(data_source).rsplit("/", 1)[-1], truth
    verdict = score_answer(task, solution_str, puzzle)
    return {"score": verdict.reward, "success": float(verdict.success), **verdict.components}
