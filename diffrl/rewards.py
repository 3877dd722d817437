"""Environments as reward sources: verify a batch of generated videos against their puzzles.

The reward names match the published recipes: ``maze_success``, ``flowfree_success`` and
``sokoban_success`` score one task with its dense reward; ``combined_success`` scores all three with
their dense rewards; ``combined_pure_success`` scores all three with strict success only (1.0 or 0.0).
Scoring runs in-process, or in a pool of worker processes (``num_workers > 0``) that receive only
puzzle dicts and uint8 videos, so any row of a dataset can be re-scored the same way later.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from diffrl.config import REWARDS, TASKS
from diffrl.data import PromptItem, task_spec

REWARD_TASKS: dict[str, tuple[tuple[str, ...], bool]] = {  # name -> (tasks it scores, dense?)
    "maze_success": (("maze",), True),
    "flowfree_success": (("flowfree",), True),
    "sokoban_success": (("sokoban",), True),
    "combined_success": (TASKS, True),
    "combined_pure_success": (TASKS, False),
}
assert set(REWARD_TASKS) == set(REWARDS)


@dataclass
class RewardResult:
    """Scores of B videos. components: name -> (B,) float, NaN where a term does not apply to a sample."""

    rewards: np.ndarray  # (B,) float64 in [0, 1]
    success: np.ndarray  # (B,) bool
    tasks: list[str]
    components: dict[str, np.ndarray] = field(default_factory=dict)


class RewardFunction(Protocol):
    def __call__(self, videos: np.ndarray, items: Sequence[PromptItem]) -> RewardResult:
        """videos: uint8 (B, T, H, W, 3); items: the B puzzles they answer."""


def _verify_one(task: str, puzzle: Any, video: np.ndarray) -> tuple[float, bool, dict[str, float]]:
    spec = task_spec(task)
    if isinstance(puzzle, dict):
        puzzle = spec.puzzle_from_dict(puzzle)
    verdict = spec.verify(puzzle, video)
    return float(verdict.reward), bool(verdict.success), dict(verdict.components)


def _verify_packed(args: tuple[str, dict, np.ndarray]) -> tuple[float, bool, dict[str, float]]:
    return _verify_one(*args)


class EnvReward:
    """Score videos with the environments' verifiers (see the module docstring for the names)."""

    def __init__(self, name: str, num_workers: int = 0) -> None:
        if name not in REWARD_TASKS:
            raise ValueError(f"unknown reward {name!r}; known rewards: {list(REWARD_TASKS)}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        self.name = name
        self.tasks, self.dense = REWARD_TASKS[name]
        for task in self.tasks:
            try:
                task_spec(task)
            except RuntimeError as error:
                raise RuntimeError(f"reward {name!r} needs the {task!r} environment: {error}") from error
        self.num_workers = num_workers
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.num_workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def __call__(self, videos: np.ndarray, items: Sequence[PromptItem]) -> RewardResult:
        videos = np.asarray(videos)
        if videos.dtype != np.uint8 or videos.ndim != 5 or videos.shape[-1] != 3:
            raise ValueError(f"videos must be uint8 (B, T, H, W, 3), got {videos.dtype} {videos.shape}")
        if len(items) != videos.shape[0]:
            raise ValueError(f"got {videos.shape[0]} videos but {len(items)} puzzles")
        for item in items:
            if item.task not in self.tasks:
                raise ValueError(f"reward {self.name!r} scores {list(self.tasks)}, got a {item.task!r} puzzle")
        if self.num_workers > 0:
            jobs = [(it.task, it.puzzle_dict(), video) for it, video in zip(items, videos)]
            results = list(self._executor().map(_verify_packed, jobs))
        else:
            results = [_verify_one(it.task, it.puzzle, video) for it, video in zip(items, videos)]
        success = np.array([ok for _, ok, _ in results], dtype=bool)
        dense = np.array([reward for reward, _, _ in results], dtype=np.float64)
        components: dict[str, np.ndarray] = {}
        for i, (item, (_, _, terms)) in enumerate(zip(items, results)):
            for term, value in terms.items():
                components.setdefault(f"{item.task}/{term}", np.full(len(items), np.nan))[i] = value
        rewards = dense if self.dense else success.astype(np.float64)
        return RewardResult(rewards=rewards, success=success, tasks=[it.task for it in items], components=components)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def make_reward(name: str, num_workers: int = 0) -> EnvReward:
    """The reward function of a recipe by name (raises a clear error if a needed env is missing)."""
    return EnvReward(name, num_workers)


__all__ = ["EnvReward", "RewardFunction", "RewardResult", "make_reward"]
