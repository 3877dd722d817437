"""Environments as reward sources: verify a batch of generated videos against their puzzles.

The reward names match the published recipes: ``maze_success``, ``flowfree_success`` and
``sokoban_success`` score one task with its dense reward; ``combined_success`` scores all three with
their dense rewards; ``combined_pure_success`` scores all three with strict success only (1.0 or 0.0).
``maze_pure_success``, ``flowfree_pure_success`` and ``sokoban_pure_success`` are one task's strict success.
A reward may also be a weighted sum of these names, ``{"maze_success": 1.0, "maze_pure_success": 0.5}``:
each term scores only its own tasks and adds 0 on the others' puzzles.

Scoring runs in-process, or in worker processes (``num_workers > 0``) that receive only puzzle dicts and
uint8 videos, so any row of a dataset can be re-scored the same way later. A sample whose verification
fails (the verifier raises; with workers also: the worker dies, or it runs past ``timeout_s``) is not
scored: its reward is NaN, ``failed`` is True and ``errors`` says why; a dead or hung worker is replaced
and the batch goes on. In-process scoring cannot interrupt a hung verifier: use workers for a timeout.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
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
    "maze_pure_success": (("maze",), False),
    "flowfree_pure_success": (("flowfree",), False),
    "sokoban_pure_success": (("sokoban",), False),
}
assert set(REWARD_TASKS) == set(REWARDS)

Verdict = tuple[float, bool, dict[str, float]]  # (dense reward, strict success, components)


@dataclass
class RewardResult:
    """Scores of B videos. components: name -> (B,) float, NaN where a term does not apply to a sample.

    ``failed``: (B,) bool, True where the sample could not be scored (its reward is NaN); ``errors``: the
    reason per failed sample. Reward functions that never fail may leave both unset."""

    rewards: np.ndarray  # (B,) float64 in [0, 1]
    success: np.ndarray  # (B,) bool
    tasks: list[str]
    components: dict[str, np.ndarray] = field(default_factory=dict)
    failed: np.ndarray | None = None
    errors: dict[int, str] = field(default_factory=dict)


class RewardFunction(Protocol):
    def __call__(self, videos: np.ndarray, items: Sequence[PromptItem]) -> RewardResult:
        """videos: uint8 (B, T, H, W, 3); items: the B puzzles they answer."""


def verify_sample(task: str, puzzle: Any, video: np.ndarray) -> Verdict:
    """The environment's verdict on one video: (dense reward, success, components)."""
    spec = task_spec(task)
    if isinstance(puzzle, dict):
        puzzle = spec.puzzle_from_dict(puzzle)
    verdict = spec.verify(puzzle, video)
    return float(verdict.reward), bool(verdict.success), dict(verdict.components)


def _serve(connection: Connection, verify: Callable[..., Verdict]) -> None:
    """A worker: verify jobs from ``connection`` until it receives None; exceptions are sent back."""
    while (job := connection.recv()) is not None:
        index, args = job
        try:
            connection.send((index, True, verify(*args)))
        except Exception as error:  # noqa: BLE001 - any verifier error is the sample's, not the run's
            connection.send((index, False, f"{type(error).__name__}: {error}"))


class VerifierPool:
    """``num_workers`` spawned processes verifying one sample at a time each; a worker that dies or runs
    past ``timeout_s`` on a sample is killed and replaced, and that sample is reported as failed."""

    def __init__(self, num_workers: int, verify: Callable[..., Verdict], timeout_s: float) -> None:
        self.num_workers, self.verify, self.timeout_s = num_workers, verify, float(timeout_s)
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[tuple[Any, Connection]] = []
        self.restarts = 0

    def _start(self) -> tuple[Any, Connection]:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self.verify), daemon=True)
        process.start()
        child.close()
        return process, parent

    def _replace(self, slot: int) -> None:
        process, connection = self._workers[slot]
        process.kill()
        process.join()
        connection.close()
        self._workers[slot] = self._start()
        self.restarts += 1

    def map(self, jobs: Sequence[tuple]) -> list[tuple[bool, Any]]:
        """(True, verdict) or (False, reason) per job, in order."""
        while len(self._workers) < self.num_workers:
            self._workers.append(self._start())
        pending, results = deque(enumerate(jobs)), [None] * len(jobs)
        busy: dict[int, tuple[int, float]] = {}  # slot -> (job index, start time)
        while pending or busy:
            for slot in range(self.num_workers):
                if slot not in busy and pending:
                    index, args = pending.popleft()
                    try:
                        self._workers[slot][1].send((index, args))
                    except (BrokenPipeError, OSError):  # it died while idle: replace it, try again
                        self._replace(slot)
                        pending.appendleft((index, args))
                        continue
                    busy[slot] = (index, time.monotonic())
            if not busy:
                continue
            connections = {self._workers[slot][1]: slot for slot in busy}
            deadline = min(started for _, started in busy.values()) + self.timeout_s
            for connection in wait(list(connections), timeout=max(0.0, deadline - time.monotonic())):
                slot = connections[connection]
                index, _ = busy.pop(slot)
                try:
                    _, ok, value = connection.recv()
                except (EOFError, OSError):
                    code = self._workers[slot][0].exitcode
                    results[index] = (False, f"reward worker died (exit code {code})")
                    self._replace(slot)
                else:
                    results[index] = (ok, value)
            now = time.monotonic()
            for slot, (index, started) in list(busy.items()):
                if now - started >= self.timeout_s:
                    results[index] = (False, f"verification timed out after {self.timeout_s:g} s")
                    del busy[slot]
                    self._replace(slot)
        return results

    def close(self) -> None:
        for process, connection in self._workers:
            try:
                connection.send(None)
            except (BrokenPipeError, OSError):
                pass
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
            connection.close()
        self._workers = []


def reward_terms(name: str | Mapping[str, float]) -> dict[str, float]:
    """``{reward name: weight}`` of a reward given by name or as a weighted sum (checked)."""
    terms = {name: 1.0} if isinstance(name, str) else dict(name)
    if not terms:
        raise ValueError("a weighted reward needs at least one term")
    for term, weight in terms.items():
        if term not in REWARD_TASKS:
            raise ValueError(f"unknown reward {term!r}; known rewards: {list(REWARD_TASKS)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not np.isfinite(weight):
            raise TypeError(f"the weight of reward {term!r} must be a finite number, got {weight!r}")
    return {term: float(weight) for term, weight in terms.items()}


class EnvReward:
    """Score videos with the environments' verifiers (see the module docstring for names and failures).

    ``verify``: a picklable ``(task, puzzle, video) -> (reward, success, components)`` (default: the
    environments' own, :func:`verify_sample`)."""

    def __init__(
        self,
        name: str | Mapping[str, float],
        num_workers: int = 0,
        timeout_s: float = 300.0,
        verify: Callable[..., Verdict] = verify_sample,
    ) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be an integer >= 0, got {num_workers!r}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        self.name, self.terms = name, reward_terms(name)
        self.tasks = tuple(t for t in TASKS if any(t in REWARD_TASKS[term][0] for term in self.terms))
        for task in self.tasks:
            try:
                task_spec(task)
            except RuntimeError as error:
                raise RuntimeError(f"reward {name!r} needs the {task!r} environment: {error}") from error
        self.num_workers, self.timeout_s, self.verify = num_workers, float(timeout_s), verify
        self._pool: VerifierPool | None = None

    def _scores(self, items: Sequence[PromptItem], videos: np.ndarray) -> list[tuple[bool, Any]]:
        if self.num_workers > 0:
            if self._pool is None:
                self._pool = VerifierPool(self.num_workers, self.verify, self.timeout_s)
            return self._pool.map([(it.task, it.puzzle_dict(), video) for it, video in zip(items, videos)])
        results = []
        for item, video in zip(items, videos):
            try:
                results.append((True, self.verify(item.task, item.puzzle, video)))
            except Exception as error:  # noqa: BLE001 - any verifier error is the sample's, not the run's
                results.append((False, f"{type(error).__name__}: {error}"))
        return results

    def _reward(self, task: str, dense: float, success: bool) -> float:
        return sum(weight * (dense if REWARD_TASKS[term][1] else float(success))
                   for term, weight in self.terms.items() if task in REWARD_TASKS[term][0])

    def __call__(self, videos: np.ndarray, items: Sequence[PromptItem]) -> RewardResult:
        videos = np.asarray(videos)
        if videos.dtype != np.uint8 or videos.ndim != 5 or videos.shape[-1] != 3:
            raise ValueError(f"videos must be uint8 (B, T, H, W, 3), got {videos.dtype} {videos.shape}")
        if len(items) != videos.shape[0]:
            raise ValueError(f"got {videos.shape[0]} videos but {len(items)} puzzles")
        for item in items:
            if item.task not in self.tasks:
                raise ValueError(f"reward {self.name!r} scores {list(self.tasks)}, got a {item.task!r} puzzle")
        count = len(items)
        rewards, success = np.full(count, np.nan), np.zeros(count, dtype=bool)
        failed, errors, components = np.zeros(count, dtype=bool), {}, {}
        for i, (item, (ok, value)) in enumerate(zip(items, self._scores(items, videos))):
            if not ok:
                failed[i], errors[i] = True, str(value)
                continue
            dense, success[i], terms = value
            rewards[i] = self._reward(item.task, dense, success[i])
            for term, term_value in terms.items():
                components.setdefault(f"{item.task}/{term}", np.full(count, np.nan))[i] = term_value
        return RewardResult(rewards=rewards, success=success, tasks=[it.task for it in items],
                            components=components, failed=failed, errors=errors)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def make_reward(name: str | Mapping[str, float], num_workers: int = 0, timeout_s: float = 300.0) -> EnvReward:
    """The reward function of a recipe by name or weighted names (clear error if a needed env is missing)."""
    return EnvReward(name, num_workers, timeout_s)


__all__ = ["EnvReward", "RewardFunction", "RewardResult", "VerifierPool", "make_reward", "reward_terms",
           "verify_sample"]
