"""The FlowFree puzzle: a frozen dataclass holding the board and its oracle solution."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from videorlvr.envs.flowfree.constants import END_FRACTION, MAX_SIZE, MIN_SIZE, MOVES_PER_FRAME, PALETTE
from videorlvr.envs.types import Cell, check_pace

EMPTY = -1  # label of an empty cell in every colour grid of this package


@dataclass(frozen=True)
class FlowFreePuzzle:
    """One ``size x size`` FlowFree board with its oracle solution.

    paths: one pipe per colour (colour ``k`` is ``PALETTE[k]``), the cells from its first endpoint
    ``paths[k][0]`` to its second ``paths[k][-1]``. The pipes together cover every cell exactly
    once; the endpoints alone are the puzzle, the whole paths are the oracle solution (unique for
    generated puzzles). seed / difficulty: how it was generated.
    """

    seed: int
    difficulty: str
    size: int
    paths: tuple[tuple[Cell, ...], ...]

    def __post_init__(self) -> None:
        try:  # normalise lists / numpy ints to tuples of int pairs, so puzzles hash and compare by value
            paths = tuple(tuple((int(r), int(c)) for r, c in path) for path in self.paths)
        except (TypeError, ValueError) as error:
            raise ValueError(f"paths must be sequences of (row, col) pairs: {error}") from error
        object.__setattr__(self, "paths", paths)
        if not isinstance(self.size, (int, np.integer)) or not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"size must be an int in [{MIN_SIZE}, {MAX_SIZE}], got {self.size!r}")
        if not 1 <= len(self.paths) <= len(PALETTE):
            raise ValueError(f"need 1 to {len(PALETTE)} colours, got {len(self.paths)}")
        seen = np.zeros((self.size, self.size), dtype=bool)
        for colour, path in enumerate(self.paths):
            if len(path) < 2:
                raise ValueError(f"path of colour {colour} has {len(path)} cell(s), need at least 2")
            for index, (r, c) in enumerate(path):
                if not (0 <= r < self.size and 0 <= c < self.size):
                    raise ValueError(f"cell {(r, c)} of colour {colour} is outside the {self.size}x{self.size} board")
                if seen[r, c]:
                    raise ValueError(f"cell {(r, c)} is covered twice (colour {colour})")
                seen[r, c] = True
                if index and abs(r - path[index - 1][0]) + abs(c - path[index - 1][1]) != 1:
                    raise ValueError(f"path of colour {colour} jumps from {path[index - 1]} to {(r, c)}")
        if not seen.all():
            missing = [tuple(int(v) for v in cell) for cell in np.argwhere(~seen)[:3]]
            raise ValueError(f"the paths leave cells uncovered, e.g. {missing}")

    @property
    def num_colors(self) -> int:
        return len(self.paths)

    @property
    def endpoints(self) -> tuple[tuple[Cell, Cell], ...]:
        """The puzzle: ``(first, second)`` endpoint per colour."""
        return tuple((path[0], path[-1]) for path in self.paths)

    @cached_property
    def solution_grid(self) -> np.ndarray:
        """int8 (size, size): the colour of every cell in the solved board."""
        grid = np.full((self.size, self.size), EMPTY, dtype=np.int8)
        for colour, path in enumerate(self.paths):
            rows, cols = zip(*path)
            grid[list(rows), list(cols)] = colour
        grid.setflags(write=False)
        return grid

    @cached_property
    def start_grid(self) -> np.ndarray:
        """int8 (size, size): the endpoints' colours, EMPTY elsewhere (the board as first shown)."""
        grid = np.full((self.size, self.size), EMPTY, dtype=np.int8)
        for colour, (a, b) in enumerate(self.endpoints):
            grid[a] = grid[b] = colour
        grid.setflags(write=False)
        return grid

    @property
    def endpoint_mask(self) -> np.ndarray:
        """bool (size, size): endpoint cells."""
        return self.start_grid != EMPTY

    @property
    def fill_cells(self) -> int:
        """Cells the pipes must fill besides the endpoints."""
        return self.size * self.size - 2 * self.num_colors

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: ``{"seed", "difficulty", "size", "paths": [[[r, c], ...], ...]}``."""
        return {
            "seed": int(self.seed),
            "difficulty": str(self.difficulty),
            "size": int(self.size),
            "paths": [[[int(r), int(c)] for r, c in path] for path in self.paths],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlowFreePuzzle:
        """Rebuild (and validate) a puzzle from :meth:`to_dict` output."""
        if not isinstance(data, Mapping):
            raise TypeError(f"puzzle data must be a mapping, got {type(data).__name__}")
        missing = {"seed", "difficulty", "size", "paths"} - set(data)
        if missing:
            raise ValueError(f"puzzle data lacks {sorted(missing)}")
        try:
            seed, size = int(data["seed"]), int(data["size"])
        except (TypeError, ValueError) as error:
            raise ValueError(f"seed and size must be integers: {error}") from error
        paths = data["paths"]
        if isinstance(paths, (str, bytes)) or not isinstance(paths, (list, tuple)):
            raise TypeError(f"paths must be a list of paths, got {type(paths).__name__}")
        return cls(seed=seed, difficulty=str(data["difficulty"]), size=size, paths=paths)


def end_window(num_frames: int) -> int:
    """Frames at the end of a T-frame video that must all show the solved board: max(2, ceil(T / 10))."""
    return max(2, math.ceil(END_FRACTION * num_frames - 1e-9))


def frames_needed(fill_cells: int) -> int:
    """The fewest frames T in which ``fill_cells`` cells can be filled at ``MOVES_PER_FRAME`` per frame
    from the puzzle in frame 0, with the solved board still left for the last ``end_window(T)`` frames:
    the least T with ``T - end_window(T) >= ceil(fill_cells / MOVES_PER_FRAME)``."""
    moves = math.ceil(fill_cells / MOVES_PER_FRAME)
    frames = moves + 2
    while frames - end_window(frames) < moves:
        frames += 1
    return frames


def min_frames(puzzle: FlowFreePuzzle) -> int:
    """The fewest frames a video of this puzzle needs (:func:`frames_needed` of its cells to fill)."""
    return frames_needed(puzzle.fill_cells)


def growth_schedule(
    puzzle: FlowFreePuzzle, num_frames: int, pace: str = "steady"
) -> list[tuple[int, int, Cell, Cell]]:
    """The oracle's drawing plan: ``(frame, colour, a, b)`` for every pipe segment, in drawing order.

    Pipes are drawn one colour after another, each from its first endpoint to its second; the cells
    to fill are spread evenly over frames ``1 .. T - end_window(T)`` (``pace="steady"``) or filled one per
    frame from frame 1 (``"eager"``, see :data:`videorlvr.envs.types.PACES`), so from
    ``min_frames(puzzle)`` frames on every frame adds at most one cell (a closing segment into the second
    endpoint is drawn with the pipe's last cell) and the last ``end_window(T)`` frames show the solved
    board. Shorter videos get several cells per frame (and cannot succeed).
    """
    check_pace(pace)
    if num_frames < 2:
        raise ValueError(f"num_frames must be at least 2, got {num_frames}")
    to_fill = max(1, puzzle.fill_cells)
    growth_frames = max(1, num_frames - end_window(num_frames))
    if pace == "eager":
        growth_frames = min(growth_frames, to_fill)
    events: list[tuple[int, int, Cell, Cell]] = []
    filled = 0
    for colour, path in enumerate(puzzle.paths):
        for j in range(1, len(path)):
            if j < len(path) - 1:
                filled += 1
            frame = 1 + ((max(filled, 1) - 1) * growth_frames) // to_fill
            events.append((frame, colour, path[j - 1], path[j]))
    return events


def oracle_states(puzzle: FlowFreePuzzle, num_frames: int, pace: str = "steady") -> np.ndarray:
    """The oracle video's cell-colour state per frame (``pace``: :func:`growth_schedule`), without pixels:
    int8 (T, size, size)."""
    states = np.empty((num_frames, puzzle.size, puzzle.size), dtype=np.int8)
    grid = puzzle.start_grid.copy()
    events = growth_schedule(puzzle, num_frames, pace)
    index = 0
    for t in range(num_frames):
        while index < len(events) and events[index][0] <= t:
            _, colour, _, cell = events[index]
            grid[cell] = colour
            index += 1
        states[t] = grid
    return states
