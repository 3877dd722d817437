"""Prompt sources: where the trainer's puzzles come from (fresh seeded puzzles, or rows of a metadata CSV).

A source is an endless, deterministic sequence: ``item(i)`` is the same puzzle on every machine and every
run, so the data cursor (an int) is all a checkpoint needs to resume the data stream exactly. Sources also
render what the trainer needs at the policy's resolution: first frames (GRPO) and oracle videos (SFT).
Environments are used only through their public plain functions (``videorlvr.envs.get_task(name)``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from diffrl.config import TASKS, DataConfig


@dataclass(frozen=True)
class PromptItem:
    """One puzzle to prompt with: ``puzzle`` is the task's Puzzle object (or any object for custom sources)."""

    task: str
    puzzle: Any
    prompt: str
    index: int  # position in the source's sequence

    def puzzle_dict(self) -> dict[str, Any]:
        return self.puzzle.to_dict() if hasattr(self.puzzle, "to_dict") else dict(self.puzzle)


class PromptSource(Protocol):
    def __len__(self) -> int:
        """Items in one epoch (the number of distinct seeds or rows)."""

    def item(self, index: int) -> PromptItem:
        """The ``index``-th item of the endless sequence (deterministic)."""

    def first_frames(self, items: Sequence[PromptItem], height: int, width: int) -> np.ndarray:
        """uint8 (B, height, width, 3)."""

    def solution_videos(self, items: Sequence[PromptItem], height: int, width: int, num_frames: int) -> np.ndarray:
        """uint8 (B, num_frames, height, width, 3): the demonstrations SFT regresses on."""


@cache
def task_spec(name: str) -> Any:
    """The environment's :class:`videorlvr.envs.types.TaskSpec`, with a clear error if that env is not available."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {list(TASKS)}")
    try:
        from videorlvr import envs

        return envs.get_task(name)
    except (ImportError, AttributeError) as error:
        raise RuntimeError(
            f"the {name!r} environment (videorlvr.envs.{name}) is not available in this installation: {error}"
        ) from error


class EnvPromptSource:
    """Shared rendering for sources whose items are environment puzzles; demonstrations are the oracle's
    videos at ``pace`` (see :data:`videorlvr.envs.types.PACES`)."""

    pace: str = "steady"

    def first_frames(self, items: Sequence[PromptItem], height: int, width: int) -> np.ndarray:
        return np.stack([task_spec(it.task).render_first_frame(it.puzzle, height, width) for it in items])

    def solution_videos(self, items: Sequence[PromptItem], height: int, width: int, num_frames: int) -> np.ndarray:
        return np.stack([
            task_spec(it.task).render_solution(it.puzzle, height, width, num_frames, self.pace) for it in items
        ])


class SeedPromptSource(EnvPromptSource):
    """Fresh puzzles: item ``i`` is task ``tasks[i % len(tasks)]`` with a seed drawn from ``seed_range``
    by a generator keyed on ``(run_seed, i)``."""

    def __init__(
        self,
        tasks: Sequence[str],
        difficulty: str,
        seed_range: tuple[int, int],
        run_seed: int = 0,
        task_kwargs: dict[str, dict[str, Any]] | None = None,
        pace: str = "steady",
    ) -> None:
        self.tasks, self.difficulty, self.pace = list(tasks), difficulty, pace
        self.seed_range = (int(seed_range[0]), int(seed_range[1]))
        self.run_seed, self.task_kwargs = int(run_seed), dict(task_kwargs or {})
        for task in self.tasks:
            task_spec(task)  # fail now, with a clear message, if an env is missing

    def __len__(self) -> int:
        return self.seed_range[1] - self.seed_range[0]

    def seed(self, index: int) -> int:
        return int(np.random.default_rng([self.run_seed, index]).integers(*self.seed_range))

    def item(self, index: int) -> PromptItem:
        task = self.tasks[index % len(self.tasks)]
        spec = task_spec(task)
        puzzle = spec.generate(self.seed(index), self.difficulty, **self.task_kwargs.get(task, {}))
        return PromptItem(task=task, puzzle=puzzle, prompt=spec.prompt(puzzle), index=index)


class CsvPromptSource(EnvPromptSource):
    """Rows of a metadata CSV as :mod:`videorlvr.envs.export` writes it: columns ``task_type`` (or ``task``) and
    ``puzzle`` (the puzzle's JSON dict) at least; ``prompt``, if present, overrides the task's prompt;
    ``video`` (a path relative to the CSV's folder), if present, is the demonstration SFT regresses on
    (resized, and its frames resampled evenly to the policy's count). Epoch ``e`` visits the rows in a
    permutation keyed on ``(run_seed, e)``."""

    def __init__(
        self, path: str | Path, run_seed: int = 0, tasks: Sequence[str] | None = None, pace: str = "steady"
    ) -> None:
        path, self.pace = Path(path), pace
        if not path.is_file():
            raise ValueError(f"metadata CSV not found: {path}")
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            raise ValueError(f"metadata CSV {path} has no rows")
        self.task_column = "task_type" if "task_type" in rows[0] else "task"
        missing = {self.task_column, "puzzle"} - set(rows[0])
        if missing:
            raise ValueError(f"metadata CSV {path} lacks column(s) {sorted(missing)} (has {sorted(rows[0])})")
        if tasks is not None:
            rows = [row for row in rows if row[self.task_column] in tasks]
            if not rows:
                raise ValueError(f"metadata CSV {path} has no rows of tasks {list(tasks)}")
        self.root, self.rows, self.run_seed = path.parent, rows, int(run_seed)
        self._order: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, index: int) -> dict[str, str]:
        epoch, position = divmod(index, len(self.rows))
        if epoch not in self._order:
            self._order = {epoch: np.random.default_rng([self.run_seed, epoch]).permutation(len(self.rows))}
        return self.rows[int(self._order[epoch][position])]

    def item(self, index: int) -> PromptItem:
        row = self.row(index)
        spec = task_spec(row[self.task_column])
        puzzle = spec.puzzle_from_dict(json.loads(row["puzzle"]))
        prompt = row.get("prompt") or spec.prompt(puzzle)
        return PromptItem(task=row[self.task_column], puzzle=puzzle, prompt=prompt, index=index)

    def solution_videos(self, items: Sequence[PromptItem], height: int, width: int, num_frames: int) -> np.ndarray:
        from videorlvr.envs.video import read_video

        videos = []
        for item in items:
            name = self.row(item.index).get("video")
            if not name:
                videos.append(super().solution_videos([item], height, width, num_frames)[0])
                continue
            video = read_video(self.root / name, height, width)  # fitted frame by frame (the scorer's rule)
            frames = np.round(np.linspace(0, len(video) - 1, num_frames)).astype(np.int64)
            videos.append(video[frames])
        return np.stack(videos)


def build_prompt_source(data: DataConfig, run_seed: int) -> PromptSource:
    """The prompt source a config's ``data`` section describes."""
    if data.source == "seeds":
        return SeedPromptSource(
            data.tasks, data.difficulty, tuple(data.seed_range), run_seed, data.task_kwargs, data.pace
        )
    return CsvPromptSource(data.metadata_csv, run_seed, data.tasks, data.pace)


__all__ = ["CsvPromptSource", "PromptItem", "PromptSource", "SeedPromptSource", "build_prompt_source", "task_spec"]
