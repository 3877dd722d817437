"""Seeded Sokoban levels: carve a room, propose a start by reverse play, confirm with the solver.

1. Room: a random walk carves floor (single cells, pairs and 2x2 blocks) inside a ring of walls until
   a drawn share of the interior is open.
2. Proposal: boxes start on random targets; a breadth-first reverse play (pulls, from every player
   region of the solved room) runs for a state budget, and a random state of the deepest layer it
   reached (the most pushes from solved) is proposed, the player on a random cell of its region.
3. Confirmation: the solver finds the proposal's optimal solution (fewest pushes, then fewest moves)
   within a node budget; the level is kept if that solution's length in moves lies within the
   requested bounds, and the solution is the oracle.

Every loop is bounded; a request that cannot be met raises ``ValueError``.
"""

from __future__ import annotations

import bisect
import itertools
import random
from typing import Any

import numpy as np

from videorlvr.envs.sokoban.constants import (
    FLOOR_SHARE,
    MAX_SIZE,
    MIN_SIZE,
    PRESETS,
    ROOM_ATTEMPTS,
    SMALL_ROOM,
    SMALL_ROOM_FLOOR_SHARE,
    SOLVER_NODE_BUDGET,
    TURN_PROBABILITY,
)
from videorlvr.envs.sokoban.puzzle import Puzzle, State, level_from_state
from videorlvr.envs.sokoban.solver import Solver, cells_of, shift

DIFFICULTIES = tuple(PRESETS)
SETTINGS = ("size", "num_boxes", "min_moves", "max_moves", "max_attempts", "node_budget", "reverse_budget")
_CARVE_SHAPES = (((0, 0),), ((0, 0), (0, 1)), ((0, 0), (1, 0)), ((0, 0), (0, 1), (1, 0), (1, 1)))
_CARVE_CUMULATIVE = tuple(itertools.accumulate((5, 2, 2, 1)))  # single cells are the commonest


def resolve_settings(difficulty: str, **overrides: Any) -> dict[str, Any]:
    """The preset of ``difficulty`` with explicit overrides applied and validated."""
    if difficulty not in PRESETS:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")
    unknown = set(overrides) - set(SETTINGS)
    if unknown:
        raise ValueError(f"unknown sokoban level settings {sorted(unknown)}; allowed: {', '.join(SETTINGS)}")
    settings: dict[str, Any] = dict(
        PRESETS[difficulty], max_attempts=ROOM_ATTEMPTS, node_budget=SOLVER_NODE_BUDGET
    )
    settings.update({key: value for key, value in overrides.items() if value is not None})
    size = settings["size"]
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    if not (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(s, (int, np.integer)) for s in size)
    ):
        raise TypeError(f"size must be an int or a (rows, cols) pair of ints, got {settings['size']!r}")
    rows, cols = int(size[0]), int(size[1])
    if not (MIN_SIZE <= rows <= MAX_SIZE and MIN_SIZE <= cols <= MAX_SIZE):
        raise ValueError(
            f"room size must lie in [{MIN_SIZE}, {MAX_SIZE}] (walls included), got {rows}x{cols}"
        )
    settings["size"] = (rows, cols)
    for key in ("num_boxes", "min_moves", "max_moves", "max_attempts", "node_budget", "reverse_budget"):
        value = settings[key]
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{key} must be an int, got {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{key} must be at least 1, got {value}")
        settings[key] = int(value)
    interior = (rows - 2) * (cols - 2)
    most_open = int((SMALL_ROOM_FLOOR_SHARE if interior <= SMALL_ROOM else FLOOR_SHARE)[1] * interior)
    if 3 * settings["num_boxes"] + 1 > most_open:
        raise ValueError(
            f"{settings['num_boxes']} boxes do not fit a {rows}x{cols} room ({interior} interior cells, "
            f"at most {most_open} open); use fewer boxes or a larger size"
        )
    if settings["min_moves"] > settings["max_moves"]:
        raise ValueError(f"min_moves ({settings['min_moves']}) exceeds max_moves ({settings['max_moves']})")
    return settings


def carve_room(rng: random.Random, rows: int, cols: int) -> np.ndarray:
    """bool ``(rows, cols)`` walls: a random walk opens floor inside the outer wall ring."""
    walls = [True] * (rows * cols)  # flat Python list: far faster than numpy for single-cell writes
    inside = [0 < r < rows - 1 and 0 < c < cols - 1 for r in range(rows) for c in range(cols)]
    interior = (rows - 2) * (cols - 2)
    share = SMALL_ROOM_FLOOR_SHARE if interior <= SMALL_ROOM else FLOOR_SHARE
    wanted = max(4, int(rng.uniform(*share) * interior))
    steps = (-cols, cols, -1, 1)
    shapes = [tuple(dr * cols + dc for dr, dc in shape) for shape in _CARVE_SHAPES]
    cell = rng.randrange(1, rows - 1) * cols + rng.randrange(1, cols - 1)
    step = steps[rng.getrandbits(2)]
    opened = 0
    for _ in range(40 * interior):  # bounded: ends far sooner once ``wanted`` cells are open
        for offset in shapes[bisect.bisect(_CARVE_CUMULATIVE, rng.random() * _CARVE_CUMULATIVE[-1])]:
            # a shape cell past the right edge wraps onto the next row's wall column: never inside
            target = cell + offset
            if target < len(walls) and inside[target] and walls[target]:
                walls[target] = False
                opened += 1
        if opened >= wanted:
            break
        if rng.random() < TURN_PROBABILITY:
            step = steps[rng.getrandbits(2)]
        if not inside[cell + step]:
            step = steps[rng.getrandbits(2)]
            continue
        cell += step
    return np.array(walls, dtype=bool).reshape(rows, cols)


def reverse_play(rng: random.Random, solver: Solver, targets: list[int], node_budget: int) -> State | None:
    """Breadth-first reverse play from the solved room over (box set, player region) by pulls.

    Depth in this search is the exact number of pushes a state needs, so a random state of the deepest
    layer reached within ``node_budget`` states is proposed, with the player on a random cell of its
    region. ``None`` if no box can be pulled at all.
    """
    box_mask = sum(1 << t for t in targets)
    free = solver.floor & ~box_mask
    layer, seen = [], set()
    while free:  # one start node per player region of the solved room
        reach = solver.flood(free & -free, solver.floor & ~box_mask)
        layer.append((box_mask, reach))
        seen.add((box_mask, reach & -reach))
        free &= ~reach
    regions: dict[int, list[int]] = {}  # box mask -> player regions flooded so far (saves re-flooding)
    deepest: list[tuple[int, int]] = []
    while layer and len(seen) < node_budget:
        following = []
        for box_mask, reach in layer:
            for step, _ in solver.directions:
                for box in cells_of(box_mask & shift(reach, -step) & shift(reach, -2 * step)):
                    pulled = box_mask ^ (1 << box) ^ (1 << (box + step))
                    player = 1 << (box + 2 * step)
                    known = regions.setdefault(pulled, [])
                    region = next((r for r in known if r & player), 0)
                    if not region:
                        region = solver.flood(player, solver.floor & ~pulled)
                        known.append(region)
                    key = (pulled, region & -region)
                    if key not in seen:
                        seen.add(key)
                        following.append((pulled, region))
        if following:
            deepest = following
        layer = following
    if not deepest:
        return None
    box_mask, region = rng.choice(deepest)
    return rng.choice(cells_of(region)), tuple(cells_of(box_mask))


def generate(
    seed: int,
    difficulty: str = "medium",
    *,
    size: int | tuple[int, int] | None = None,
    num_boxes: int | None = None,
    min_moves: int | None = None,
    max_moves: int | None = None,
    max_attempts: int | None = None,
    node_budget: int | None = None,
    reverse_budget: int | None = None,
) -> Puzzle:
    """A solvable level with its oracle solution, fully determined by ``seed`` and the settings.

    size: room side or (rows, cols), outer walls included; num_boxes: boxes (= targets);
    min_moves / max_moves: bounds on the solution length in moves; max_attempts: rooms tried;
    node_budget: solver expansions per proposal; reverse_budget: states explored by reverse play.
    Unset values come from the ``difficulty`` preset.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    settings = resolve_settings(
        difficulty,
        size=size,
        num_boxes=num_boxes,
        min_moves=min_moves,
        max_moves=max_moves,
        max_attempts=max_attempts,
        node_budget=node_budget,
        reverse_budget=reverse_budget,
    )
    rows, cols = settings["size"]
    boxes_wanted = settings["num_boxes"]
    rng = random.Random(int(seed))
    for _ in range(settings["max_attempts"]):
        walls = carve_room(rng, rows, cols)
        floor = np.flatnonzero(~walls).tolist()
        if len(floor) < 3 * boxes_wanted + 1:
            continue
        targets = sorted(rng.sample(floor, boxes_wanted))
        target_grid = np.zeros_like(walls)
        target_grid.flat[targets] = True
        solver = Solver(walls, target_grid)
        proposal = reverse_play(rng, solver, targets, settings["reverse_budget"])
        if proposal is None:
            continue
        solution = solver.solve(proposal[0], proposal[1], settings["node_budget"])
        if solution is not None and settings["min_moves"] <= len(solution) <= settings["max_moves"]:
            return Puzzle(int(seed), difficulty, level_from_state(walls, target_grid, proposal), solution)
    raise ValueError(
        f"no {rows}x{cols} level with {boxes_wanted} box(es) and a {settings['min_moves']}-"
        f"{settings['max_moves']} move solution found in {settings['max_attempts']} rooms (seed {seed}); "
        "relax min_moves/max_moves, raise max_attempts, or change size/num_boxes"
    )
