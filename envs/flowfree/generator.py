"""Seeded FlowFree boards with exactly one solution, in bounded time.

A board is made from its solution: a random cover of the grid by ``k`` *induced* paths (no path
touches itself: two cells of one path are adjacent only where the path steps between them, which
rules out floating loops, 2x2 blocks of one colour and adjacent endpoints). The cover grows by
merging paths end to end from single cells, shortest first; when no merge keeps the paths induced,
a *rewire* move re-threads one path end through a neighbouring path, and when there are too few
paths, long ones are split. The cover's endpoints become the puzzle, kept only if the exact solver
(:mod:`videorlvr.envs.flowfree.solver`) finds exactly one solution within its node budget.
"""

from __future__ import annotations

import random

import numpy as np

from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.flowfree.constants import (
    MAX_ATTEMPTS,
    MAX_SIZE,
    MIN_CELL_PX,
    MIN_PATH_CELLS,
    MIN_SIZE,
    NODE_BUDGET,
    PALETTE,
    PRESETS,
    TOTAL_NODE_BUDGET,
)
from videorlvr.envs.flowfree.puzzle import FlowFreePuzzle, frames_needed
from videorlvr.envs.flowfree.solver import count_solutions
from videorlvr.envs.types import Cell

REWIRE_TRIES = 20  # random (end, neighbour) picks per rewire move


class _Cover:
    """A cover of an ``n x n`` grid by induced paths of flat cell indices, changed by random moves."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size = size
        self.rng = rng
        cells = size * size
        self.label = list(range(cells))  # path id of every cell
        self.paths: dict[int, list[int]] = {i: [i] for i in range(cells)}
        self.neighbours = [self._neighbours(i) for i in range(cells)]

    def _neighbours(self, i: int) -> tuple[int, ...]:
        r, c = divmod(i, self.size)
        out = []
        if r:
            out.append(i - self.size)
        if r < self.size - 1:
            out.append(i + self.size)
        if c:
            out.append(i - 1)
        if c < self.size - 1:
            out.append(i + 1)
        return tuple(out)

    def _contacts(self, cells: list[int], other: int) -> int:
        """Adjacent cell pairs between ``cells`` and the path labelled ``other``."""
        label, neighbours = self.label, self.neighbours
        return sum(1 for cell in cells for n in neighbours[cell] if label[n] == other)

    def merge(self) -> bool:
        """Join two paths end to end (shortest paths first) if the result stays induced."""
        ids = list(self.paths)
        self.rng.shuffle(ids)
        ids.sort(key=lambda i: len(self.paths[i]))
        for pid in ids:
            path = self.paths[pid]
            options = []
            for end in {path[0], path[-1]}:
                for n in self.neighbours[end]:
                    other = self.label[n]
                    if other == pid:
                        continue
                    other_path = self.paths[other]
                    if n != other_path[0] and n != other_path[-1]:
                        continue
                    smaller, against = (path, other) if len(path) <= len(other_path) else (other_path, pid)
                    if self._contacts(smaller, against) == 1:
                        options.append((end, n, other))
            if options:
                end, n, other = self.rng.choice(options)
                other_path = self.paths.pop(other)
                head = path if path[-1] == end else path[::-1]
                tail = other_path if other_path[0] == n else other_path[::-1]
                self.paths[pid] = head + tail
                for cell in tail:
                    self.label[cell] = pid
                return True
        return False

    def rewire(self) -> bool:
        """Re-thread a path end into the middle of a neighbouring path, keeping both induced.

        End ``e`` of path P is next to cell ``x`` inside path Q; Q is cut at ``x``; P is extended by
        the part of Q from ``x`` to one of Q's ends, and the rest of Q stays a (shorter) path.
        """
        ids = list(self.paths)
        for _ in range(REWIRE_TRIES):
            pid = self.rng.choice(ids)
            path = self.paths[pid]
            end = self.rng.choice((path[0], path[-1]))
            x = self.rng.choice(self.neighbours[end])
            other = self.label[x]
            if other == pid:
                continue
            other_path = self.paths[other]
            i = other_path.index(x)
            if i == 0 or i == len(other_path) - 1:
                continue
            if self.rng.random() < 0.5:
                moved, rest = other_path[: i + 1][::-1], other_path[i + 1 :]
            else:
                moved, rest = other_path[i:], other_path[:i]
            for cell in moved:
                self.label[cell] = -1  # the moved part, so that contacts count only against P
            if self._contacts(moved, pid) == 1:
                self.paths[other] = rest
                self.paths[pid] = (path if path[-1] == end else path[::-1]) + moved
                for cell in moved:
                    self.label[cell] = pid
                return True
            for cell in moved:
                self.label[cell] = other
        return False

    def split(self) -> bool:
        """Cut a random path that is long enough into two paths of at least MIN_PATH_CELLS cells."""
        long = [pid for pid, path in self.paths.items() if len(path) >= 2 * MIN_PATH_CELLS]
        if not long:
            return False
        pid = self.rng.choice(long)
        path = self.paths[pid]
        cut = self.rng.randrange(MIN_PATH_CELLS, len(path) - MIN_PATH_CELLS + 1)
        new_id = max(self.paths) + 1
        self.paths[pid], self.paths[new_id] = path[:cut], path[cut:]
        for cell in path[cut:]:
            self.label[cell] = new_id
        return True

    def cells(self) -> list[list[Cell]]:
        return [[divmod(cell, self.size) for cell in path] for path in self.paths.values()]


def random_cover(size: int, num_colors: int, rng: random.Random) -> list[list[Cell]] | None:
    """A random cover of the grid by exactly ``num_colors`` induced paths of >= 3 cells, or None."""
    cover = _Cover(size, rng)
    steps = 4 * size * size
    for _ in range(steps):
        if len(cover.paths) <= num_colors:
            break
        if not cover.merge():
            cover.rewire()
    for _ in range(num_colors):
        if len(cover.paths) >= num_colors or not cover.split():
            break
    paths = cover.cells()
    if len(paths) != num_colors or min(len(path) for path in paths) < MIN_PATH_CELLS:
        return None
    return paths


def _canonical(paths: list[list[Cell]]) -> tuple[tuple[Cell, ...], ...]:
    """Orient each path from its first endpoint in reading order; order colours by that endpoint."""
    oriented = [tuple(path if path[0] <= path[-1] else path[::-1]) for path in paths]
    return tuple(sorted(oriented, key=lambda path: path[0]))


def _colour_grid(size: int, paths: tuple[tuple[Cell, ...], ...]) -> np.ndarray:
    grid = np.full((size, size), -1, dtype=np.int64)
    for colour, path in enumerate(paths):
        rows, cols = zip(*path)
        grid[list(rows), list(cols)] = colour
    return grid


def default_num_colors(size: int) -> int:
    """Colours for a board side without a preset: side - 1 up to 9x9 (as the presets), then more, since
    large boards with few long pipes are rarely unique and slow to prove so."""
    return size - 1 if size <= 9 else 2 * size - 10


def resolve_settings(difficulty: str, size: int | None = None, num_colors: int | None = None) -> tuple[int, int]:
    """The ``(size, num_colors)`` a request asks for; ValueError/TypeError if it cannot be met."""
    if difficulty not in PRESETS:
        raise ValueError(f"difficulty must be one of {tuple(PRESETS)}, got {difficulty!r}")
    preset = PRESETS[difficulty]
    size = preset["size"] if size is None else size
    for name, value in (("size", size), ("num_colors", num_colors)):
        if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    size = int(size)
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be in [{MIN_SIZE}, {MAX_SIZE}], got {size}")
    if num_colors is None:  # the preset's; for another size, what generates quickly at that size
        num_colors = preset["num_colors"] if size == preset["size"] else default_num_colors(size)
    num_colors = int(num_colors)
    most = min(len(PALETTE), size * size // MIN_PATH_CELLS)
    if not 2 <= num_colors <= most:
        raise ValueError(
            f"num_colors must be in [2, {most}] for a {size}x{size} board "
            f"(every pipe needs {MIN_PATH_CELLS}+ cells; the palette has {len(PALETTE)} colours), got {num_colors}"
        )
    return size, num_colors


def generate(
    seed: int,
    difficulty: str = "medium",
    *,
    size: int | None = None,
    num_colors: int | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    node_budget: int = NODE_BUDGET,
) -> FlowFreePuzzle:
    """A seeded puzzle with exactly one solution (same seed and arguments, same puzzle).

    difficulty picks the preset (easy 5x5 / 4 colours, medium 7x7 / 6, hard 9x9 / 8); ``size`` and
    ``num_colors`` override it. Tries at most ``max_attempts`` covers and TOTAL_NODE_BUDGET solver
    nodes, then raises ValueError.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    seed = int(seed)
    size, num_colors = resolve_settings(difficulty, size, num_colors)
    if max_attempts < 1 or node_budget < 1:
        raise ValueError(f"max_attempts and node_budget must be positive, got {max_attempts}, {node_budget}")
    rng = random.Random(f"flowfree:{seed}:{size}:{num_colors}")
    nodes_left = TOTAL_NODE_BUDGET
    no_cover = several = unknown = 0
    for _ in range(max_attempts):
        paths = random_cover(size, num_colors, rng)
        if paths is None:
            no_cover += 1
            continue
        paths = _canonical(paths)
        count = count_solutions(size, [(path[0], path[-1]) for path in paths], limit=2,
                                node_budget=min(node_budget, nodes_left), known=_colour_grid(size, paths))
        nodes_left -= count.nodes
        if count.complete and count.solutions == 1:
            return FlowFreePuzzle(seed=seed, difficulty=difficulty, size=size, paths=paths)
        several += count.complete
        unknown += not count.complete
        if nodes_left <= 0:
            break
    raise ValueError(
        f"could not generate a {size}x{size} FlowFree puzzle with {num_colors} colours and a unique solution: "
        f"{no_cover} attempts found no cover by {num_colors} pipes of {MIN_PATH_CELLS}+ cells that never touch "
        f"themselves, {several} boards had several solutions, {unknown} ran out of solver budget "
        f"(limits: {max_attempts} attempts, {TOTAL_NODE_BUDGET} solver nodes); try another number of colours"
    )


SETTINGS = ("size", "num_colors", "max_attempts", "node_budget")  # what generate() takes beyond the preset


def validate(difficulty: str, height: int, width: int, num_frames: int, **kwargs: object) -> None:
    """Raise ValueError unless these env settings can be played and verified.

    Unknown keyword arguments, bad sizes or colour counts, boards whose cells would be smaller than
    ``MIN_CELL_PX`` px in the frame, and frame counts below :func:`frames_needed` of the board (every
    board of a size and colour count has the same number of cells to fill) are rejected.
    """
    unknown = set(kwargs) - set(SETTINGS)
    if unknown:
        raise ValueError(f"unknown VideoFlowFree-v0 arguments {sorted(unknown)}; accepted: {list(SETTINGS)}")
    try:
        size, num_colors = resolve_settings(difficulty, kwargs.get("size"), kwargs.get("num_colors"))
    except TypeError as error:
        raise ValueError(str(error)) from error
    for name in ("max_attempts", "node_budget"):
        value = kwargs.get(name, 1)
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    try:
        cell = BoardGeometry(size, size, height, width).cell
    except ValueError:  # not even the 4 px every board needs
        cell = 0
    if cell < MIN_CELL_PX:
        raise ValueError(f"a {size}x{size} board in a {height}x{width} frame would have cells under {MIN_CELL_PX} px; "
                         f"FlowFree needs at least {MIN_CELL_PX} px per cell (a larger frame or a smaller board)")
    needed = frames_needed(size * size - 2 * num_colors)
    if num_frames < needed:
        raise ValueError(f"{size}x{size} FlowFree boards with {num_colors} colours need at least {needed} frames "
                         f"(one pipe cell per frame, then the solved board held); got num_frames={num_frames}")
