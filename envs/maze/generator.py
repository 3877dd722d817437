"""Seeded perfect mazes with a start, a goal and the oracle path, in bounded time.

A perfect maze is a spanning tree of the grid: exactly one path joins any two cells, so the
oracle path is unique and the distance between two cells is their distance in the tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from videorlvr.envs.maze.constants import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    MAX_MAZE_TRIES,
    MAX_SIDE,
    MIN_SIDE,
    PRESETS,
    STARTS_PER_MAZE,
    TASK_NAME,
)
from videorlvr.envs.types import Cell


@dataclass(frozen=True)
class MazePuzzle:
    """One maze. ``open_right[r][c] == "1"``: no wall between (r, c) and (r, c+1) (``rows`` strings of
    ``cols-1`` chars); ``open_down[r][c] == "1"``: none between (r, c) and (r+1, c). ``solution``: the
    oracle path from ``start`` to ``goal``, both included."""

    seed: int
    difficulty: str
    rows: int
    cols: int
    open_right: tuple[str, ...]
    open_down: tuple[str, ...]
    start: Cell
    goal: Cell
    solution: tuple[Cell, ...]
    algorithm: str = DEFAULT_ALGORITHM

    @property
    def path_length(self) -> int:
        """Moves on the oracle path."""
        return len(self.solution) - 1

    @cached_property
    def right(self) -> np.ndarray:
        """bool (rows, cols-1): open passage to the right."""
        return _bits(self.open_right, self.rows, self.cols - 1)

    @cached_property
    def down(self) -> np.ndarray:
        """bool (rows-1, cols): open passage downwards."""
        return _bits(self.open_down, self.rows - 1, self.cols)

    def in_grid(self, cell: Cell) -> bool:
        return 0 <= cell[0] < self.rows and 0 <= cell[1] < self.cols

    def is_open(self, a: Cell, b: Cell) -> bool:
        """True when ``a`` and ``b`` are adjacent grid cells with no wall between them."""
        if not (self.in_grid(a) and self.in_grid(b)):
            return False
        (r0, c0), (r1, c1) = sorted((tuple(a), tuple(b)))
        if r0 == r1 and c1 == c0 + 1:
            return self.open_right[r0][c0] == "1"
        if c0 == c1 and r1 == r0 + 1:
            return self.open_down[r0][c0] == "1"
        return False

    @cached_property
    def _tree(self) -> tuple[list[int], list[int]]:
        """(parent, depth) of every cell index in the maze tree rooted at the start."""
        neighbours = _neighbours(self.open_right, self.open_down, self.rows, self.cols)
        root = self.start[0] * self.cols + self.start[1]
        parent, depth = [-1] * (self.rows * self.cols), [-1] * (self.rows * self.cols)
        depth[root] = 0
        queue = [root]
        for cell in queue:  # BFS: every cell is appended once
            for other in neighbours[cell]:
                if depth[other] < 0:
                    depth[other], parent[other] = depth[cell] + 1, cell
                    queue.append(other)
        return parent, depth

    def path_between(self, a: Cell, b: Cell) -> list[Cell]:
        """The unique passage from ``a`` to ``b`` (both included), through the maze tree."""
        parent, depth = self._tree
        i, j = a[0] * self.cols + a[1], b[0] * self.cols + b[1]
        head, tail = [i], [j]
        while depth[i] > depth[j]:
            i = parent[i]
            head.append(i)
        while depth[j] > depth[i]:
            j = parent[j]
            tail.append(j)
        while i != j:
            i, j = parent[i], parent[j]
            head.append(i)
            tail.append(j)
        cells = head + tail[-2::-1]
        return [divmod(index, self.cols) for index in cells]

    @cached_property
    def goal_distance(self) -> np.ndarray:
        """int (rows, cols): moves from every cell to the goal."""
        neighbours = _neighbours(self.open_right, self.open_down, self.rows, self.cols)
        goal = self.goal[0] * self.cols + self.goal[1]
        return np.asarray(_distances(neighbours, goal)).reshape(self.rows, self.cols)

    def distance(self, a: Cell, b: Cell) -> int:
        """Moves along open passages from ``a`` to ``b``."""
        return len(self.path_between(a, b)) - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": TASK_NAME,
            "seed": self.seed,
            "difficulty": self.difficulty,
            "rows": self.rows,
            "cols": self.cols,
            "algorithm": self.algorithm,
            "open_right": list(self.open_right),
            "open_down": list(self.open_down),
            "start": list(self.start),
            "goal": list(self.goal),
            "solution": [list(cell) for cell in self.solution],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MazePuzzle:
        """Rebuild (and validate) a puzzle from :meth:`to_dict` output."""
        if not isinstance(data, Mapping):
            raise TypeError(f"puzzle must be a mapping, got {type(data).__name__}")
        if data.get("task", TASK_NAME) != TASK_NAME:
            raise ValueError(f"puzzle is for task {data.get('task')!r}, not {TASK_NAME!r}")
        missing = {
            "seed",
            "difficulty",
            "rows",
            "cols",
            "open_right",
            "open_down",
            "start",
            "goal",
            "solution",
        }
        missing -= set(data)
        if missing:
            raise ValueError(f"maze puzzle dict lacks {sorted(missing)}")
        puzzle = cls(
            seed=int(data["seed"]),
            difficulty=str(data["difficulty"]),
            rows=int(data["rows"]),
            cols=int(data["cols"]),
            open_right=tuple(str(row) for row in data["open_right"]),
            open_down=tuple(str(row) for row in data["open_down"]),
            start=_cell(data["start"]),
            goal=_cell(data["goal"]),
            solution=tuple(_cell(cell) for cell in data["solution"]),
            algorithm=str(data.get("algorithm", DEFAULT_ALGORITHM)),
        )
        _validate(puzzle)
        return puzzle


def _cell(value: Any) -> Cell:
    row, col = value
    return int(row), int(col)


def _bits(rows: tuple[str, ...], height: int, width: int) -> np.ndarray:
    return np.frombuffer("".join(rows).encode(), dtype=np.uint8).reshape(height, width) == ord("1")


def _validate(puzzle: MazePuzzle) -> None:
    """Raise ValueError unless the puzzle is a perfect maze with a valid oracle path."""
    rows, cols = puzzle.rows, puzzle.cols
    if not (MIN_SIDE <= rows <= MAX_SIDE and MIN_SIDE <= cols <= MAX_SIDE):
        raise ValueError(f"maze size must be within {MIN_SIDE}..{MAX_SIDE} per side, got {rows}x{cols}")
    shapes = (
        (puzzle.open_right, rows, cols - 1, "open_right"),
        (puzzle.open_down, rows - 1, cols, "open_down"),
    )
    for strings, height, width, name in shapes:
        if len(strings) != height or any(len(s) != width or set(s) - {"0", "1"} for s in strings):
            raise ValueError(f"{name} must be {height} strings of {width} '0'/'1' characters")
    if int(puzzle.right.sum() + puzzle.down.sum()) != rows * cols - 1:
        raise ValueError("walls do not form a perfect maze (a spanning tree needs rows*cols-1 passages)")
    if min(puzzle._tree[1]) < 0:
        raise ValueError("walls do not form a perfect maze (some cells are unreachable)")
    if not (puzzle.in_grid(puzzle.start) and puzzle.in_grid(puzzle.goal)):
        raise ValueError("start and goal must lie inside the grid")
    if list(puzzle.solution) != puzzle.path_between(puzzle.start, puzzle.goal):
        raise ValueError("solution is not the maze's path from start to goal")
    if puzzle.algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {puzzle.algorithm!r}")


@lru_cache(maxsize=64)
def _grid_neighbours(rows: int, cols: int) -> tuple[tuple[int, ...], ...]:
    """Grid neighbours (up, down, left, right order) of every cell index."""
    table = []
    for index in range(rows * cols):
        r, c = divmod(index, cols)
        candidates = (
            (r > 0, index - cols),
            (r < rows - 1, index + cols),
            (c > 0, index - 1),
            (c < cols - 1, index + 1),
        )
        table.append(tuple(other for ok, other in candidates if ok))
    return tuple(table)


@lru_cache(maxsize=64)
def _grid_edges(rows: int, cols: int) -> tuple[tuple[int, int], ...]:
    right = [(i, i + 1) for i in range(rows * cols) if i % cols < cols - 1]
    return tuple(right + [(i, i + cols) for i in range(rows * cols - cols)])


def _neighbours(
    open_right: tuple[str, ...], open_down: tuple[str, ...], rows: int, cols: int
) -> list[list[int]]:
    neighbours: list[list[int]] = [[] for _ in range(rows * cols)]
    for r, line in enumerate(open_right):
        for c in (c for c, bit in enumerate(line) if bit == "1"):
            neighbours[r * cols + c].append(r * cols + c + 1)
            neighbours[r * cols + c + 1].append(r * cols + c)
    for r, line in enumerate(open_down):
        for c in (c for c, bit in enumerate(line) if bit == "1"):
            neighbours[r * cols + c].append((r + 1) * cols + c)
            neighbours[(r + 1) * cols + c].append(r * cols + c)
    return neighbours


def _carve_dfs(rows: int, cols: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Randomized depth-first search with an explicit stack: the passages (cell index pairs)."""
    grid = _grid_neighbours(rows, cols)
    visited = bytearray(rows * cols)
    first = int(rng.integers(rows * cols))
    visited[first] = 1
    stack, passages = [first], []
    draws = rng.random(rows * cols).tolist()  # one draw per carved passage
    while stack:  # each cell is pushed once and popped once
        cell = stack[-1]
        options = [other for other in grid[cell] if not visited[other]]
        if not options:
            stack.pop()
            continue
        other = options[int(draws[len(passages)] * len(options))]
        visited[other] = 1
        passages.append((cell, other))
        stack.append(other)
    return passages


def _carve_kruskal(rows: int, cols: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Randomized Kruskal: shuffled grid edges joined by union-find when they link two trees."""
    edges = _grid_edges(rows, cols)
    root = list(range(rows * cols))
    passages = []
    for index in rng.permutation(len(edges)).tolist():
        a, b = edges[index]
        while root[a] != a:
            root[a] = a = root[root[a]]
        while root[b] != b:
            root[b] = b = root[root[b]]
        if a != b:
            root[a] = b
            passages.append(edges[index])
    return passages


def _distances(neighbours: list[list[int]], source: int) -> list[int]:
    distance = [-1] * len(neighbours)
    distance[source] = 0
    queue = [source]
    for cell in queue:
        for other in neighbours[cell]:
            if distance[other] < 0:
                distance[other] = distance[cell] + 1
                queue.append(other)
    return distance


def path_bucket(difficulty: str, rows: int, cols: int) -> tuple[int, int]:
    """The preset's path-length bucket, scaled by cell count when the size differs from the preset."""
    preset = PRESETS[difficulty]
    low, high = preset.path_lengths
    if (rows, cols) != preset.size:
        scale = rows * cols / (preset.size[0] * preset.size[1])
        low, high = max(1, round(low * scale)), max(1, round(high * scale))
    return low, max(low, high)


def generate(
    seed: int,
    difficulty: str = "medium",
    *,
    size: tuple[int, int] | None = None,
    path_length: tuple[int, int] | None = None,
    algorithm: str = DEFAULT_ALGORITHM,
) -> MazePuzzle:
    """A seeded perfect maze whose oracle path has a length in the difficulty's bucket.

    size: ``(rows, cols)`` overriding the preset's grid; path_length: ``(low, high)`` moves overriding
    its bucket. Tries at most ``MAX_MAZE_TRIES`` mazes with ``STARTS_PER_MAZE`` starts each; if no pair
    of cells lands in the bucket, falls back to the pair nearest to it that was found.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if difficulty not in PRESETS:
        raise ValueError(f"difficulty must be one of {tuple(PRESETS)}, got {difficulty!r}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    rows, cols = PRESETS[difficulty].size if size is None else (int(size[0]), int(size[1]))
    if not (MIN_SIDE <= rows <= MAX_SIDE and MIN_SIDE <= cols <= MAX_SIDE):
        raise ValueError(f"size must be within {MIN_SIDE}..{MAX_SIDE} per side, got {rows}x{cols}")
    low, high = path_bucket(difficulty, rows, cols) if path_length is None else map(int, path_length)
    if not 1 <= low <= high:
        raise ValueError(f"path_length must be (low, high) with 1 <= low <= high, got {(low, high)}")
    rng = np.random.default_rng(int(seed))
    carve = _carve_dfs if algorithm == "dfs" else _carve_kruskal
    best: tuple[int, list[tuple[int, int]], list[list[int]], int, int, list[int]] | None = None
    for _ in range(MAX_MAZE_TRIES):
        passages = carve(rows, cols, rng)
        neighbours: list[list[int]] = [[] for _ in range(rows * cols)]
        for a, b in passages:
            neighbours[a].append(b)
            neighbours[b].append(a)
        for start in rng.integers(rows * cols, size=STARTS_PER_MAZE).tolist():
            distance = _distances(neighbours, start)
            array = np.asarray(distance)
            candidates = np.flatnonzero((array >= low) & (array <= high))
            if len(candidates):
                goal = int(candidates[rng.integers(len(candidates))])
                return _build(
                    seed, difficulty, rows, cols, algorithm, passages, neighbours, start, goal, distance
                )
            # In a tree every distance up to the farthest cell occurs, so here all cells are too near.
            goal = int(array.argmax())
            if best is None or low - distance[goal] < best[0]:
                best = (low - distance[goal], passages, neighbours, start, goal, distance)
    assert best is not None
    return _build(seed, difficulty, rows, cols, algorithm, *best[1:])


def _build(
    seed: int,
    difficulty: str,
    rows: int,
    cols: int,
    algorithm: str,
    passages: list[tuple[int, int]],
    neighbours: list[list[int]],
    start: int,
    goal: int,
    distance: list[int],
) -> MazePuzzle:
    right, down = bytearray(b"0" * (rows * (cols - 1))), bytearray(b"0" * ((rows - 1) * cols))
    for a, b in passages:
        a, b = min(a, b), max(a, b)
        if b == a + 1:
            right[(a // cols) * (cols - 1) + a % cols] = ord("1")
        else:
            down[a] = ord("1")
    right_text, down_text = right.decode(), down.decode()
    # The oracle path: walk back from the goal along decreasing distance from the start.
    path = [goal]
    while path[-1] != start:
        path.append(
            next(other for other in neighbours[path[-1]] if distance[other] == distance[path[-1]] - 1)
        )
    return MazePuzzle(
        seed=int(seed),
        difficulty=difficulty,
        rows=rows,
        cols=cols,
        open_right=tuple(right_text[r * (cols - 1) : (r + 1) * (cols - 1)] for r in range(rows)),
        open_down=tuple(down_text[r * cols : (r + 1) * cols] for r in range(rows - 1)),
        start=divmod(start, cols),
        goal=divmod(goal, cols),
        solution=tuple(divmod(index, cols) for index in reversed(path)),
        algorithm=algorithm,
    )
