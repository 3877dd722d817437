"""Maze rules over a cell sequence: pixel-free, so a video, a move string or a text answer share them.

Input: the agent's cell in each frame (``None`` where perception could not read it). Rules:

- The first sighting must be on the start cell, within the first ``END_FRACTION`` of the frames.
- Between consecutive sightings ``(t0, a) -> (t1, b)`` the agent may travel at most
  ``k * min(t1 - t0, MAX_GAP_CREDIT)`` cells along open passages (the maze is a tree, so the passage
  between two cells is unique). ``k`` is the speed limit (:func:`speed_limit`): 1 at the default 81
  frames, so every move must be visible as a step between adjacent open cells; with few frames and a
  long path the oracle itself must cover several cells per frame, and such a step is read as walking
  the passage between the two cells. An unreadable stretch earns at most ``MAX_GAP_CREDIT`` frames of
  motion, so hiding the agent does not license a teleport. Crossing a wall is never legal at k <= 2
  (in a perfect maze the passage between two wall-separated neighbours is at least 3 moves long).
- Success: a legal process from start to end, the last sighting on the goal within the final
  ``END_FRACTION`` of the video, and the maze (walls, goal) read as drawn in enough frames.

Dense terms credit only the *legal prefix* (the trajectory up to the first illegal transition), so
breaking a rule never earns more than stopping where the rule was broken.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from videorlvr.envs.maze.constants import (
    END_FRACTION,
    MAX_GAP_CREDIT,
    MAZE_PRESERVED_MIN,
    SPEED_SLACK,
    WEIGHTS,
)
from videorlvr.envs.maze.generator import MazePuzzle
from videorlvr.envs.types import Cell, Verdict, make_verdict

MOVES = {"u": (-1, 0), "d": (1, 0), "l": (0, -1), "r": (0, 1)}


def speed_limit(path_length: int, num_frames: int) -> int:
    """Cells the agent may cover per frame: ``max(1, ceil(SPEED_SLACK * path_length / (T - 1)))``.

    SPEED_SLACK (1.5) leaves room for an answer that rests at both ends; a jump cut needs the whole
    path in one frame and so fails for every T >= 4.
    """
    if num_frames < 2:
        raise ValueError(f"need at least 2 frames, got {num_frames}")
    return max(1, math.ceil(SPEED_SLACK * path_length / (num_frames - 1) - 1e-9))


def end_window(num_frames: int) -> int:
    """Frames at each end of a video that count as its start and its end."""
    return max(2, math.ceil(END_FRACTION * num_frames))


def cells_from_moves(puzzle: MazePuzzle, moves: str) -> list[Cell]:
    """The cells visited by a ``udlr`` move string from the start (walls are not checked here)."""
    if not isinstance(moves, str):
        raise TypeError(f"moves must be a string of 'udlr', got {type(moves).__name__}")
    unknown = set(moves.lower()) - set(MOVES)
    if unknown:
        raise ValueError(f"moves may only contain 'u', 'd', 'l', 'r', got {sorted(unknown)}")
    cells = [puzzle.start]
    for move in moves.lower():
        dy, dx = MOVES[move]
        cells.append((cells[-1][0] + dy, cells[-1][1] + dx))
    return cells


def judge_moves(puzzle: MazePuzzle, moves: str) -> Verdict:
    """Judge a move string: one move per step, each between adjacent open cells ("" stays put)."""
    cells = cells_from_moves(puzzle, moves)
    return judge(puzzle, cells if len(cells) > 1 else cells * 2, speed=1)


def _illegal_reason(puzzle: MazePuzzle, a: Cell, b: Cell, t0: int, t1: int, allowed: int) -> str | None:
    """Why the move ``a`` (frame t0) -> ``b`` (frame t1) is illegal, or None when it is legal."""
    if a == b:
        return None
    if not puzzle.in_grid(b):
        return f"agent left the maze from {a} at frame {t1}"
    if abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 and not puzzle.is_open(a, b) and allowed < 3:
        return f"agent crossed the wall between {a} and {b} at frame {t1}"
    distance = puzzle.distance(a, b)
    if distance > allowed:
        return f"agent jumped {distance} cells from {a} to {b} between frames {t0} and {t1} (limit {allowed})"
    return None


def judge(
    puzzle: MazePuzzle, cells: Sequence[Cell | None], speed: int = 1, maze_preserved: float = 1.0
) -> Verdict:
    """Judge the agent's cell per frame (``None`` = unreadable) under the rules in the module docstring.

    speed: the speed limit ``k`` in cells per frame; maze_preserved: share of frames in which the
    walls and goal read as drawn (1.0 for a move string).
    """
    frames = len(cells)
    if frames < 2:
        raise ValueError(f"need at least 2 frames (or 1 move), got {frames}")
    sightings = [(t, (int(cell[0]), int(cell[1]))) for t, cell in enumerate(cells) if cell is not None]
    window = end_window(frames)
    oracle = frozenset(puzzle.solution)
    components = {
        "start_correct": 0.0,
        "path_valid": 0.0,
        "progress": 0.0,
        "goal_reached": 0.0,
        "maze_preserved": float(maze_preserved),
    }
    if not sightings:
        return make_verdict(False, components, WEIGHTS, "agent not visible in any frame", oracle_cells=oracle)
    first_frame, first_cell = sightings[0]
    if first_cell != puzzle.start or first_frame >= window:
        where = f"first seen at {first_cell} in frame {first_frame}"
        return make_verdict(
            False,
            components,
            WEIGHTS,
            f"agent does not start on the start {puzzle.start} ({where})",
            oracle_cells=oracle,
        )
    components["start_correct"] = 1.0

    visited = [first_cell]
    reason = ""
    last_legal_frame = frames - 1
    for (t0, a), (t1, b) in itertools.pairwise(sightings):
        allowed = speed * min(t1 - t0, MAX_GAP_CREDIT)
        broken = _illegal_reason(puzzle, a, b, t0, t1, allowed)
        if broken is not None:
            reason, last_legal_frame = broken, t0
            break
        if a != b:
            visited.extend(puzzle.path_between(a, b)[1:])
    legal = not reason
    components["path_valid"] = 1.0 if legal else last_legal_frame / (frames - 1)
    length = max(1, puzzle.path_length)
    nearest = min(int(puzzle.goal_distance[cell]) for cell in set(visited))
    components["progress"] = max(0.0, 1.0 - nearest / length)

    end_frame, end_cell = sightings[-1]
    ends_on_goal = end_cell == puzzle.goal and end_frame >= frames - window
    components["goal_reached"] = float(legal and ends_on_goal)
    preserved = maze_preserved >= MAZE_PRESERVED_MIN
    success = legal and ends_on_goal and preserved
    if not reason:
        if end_frame < frames - window:
            reason = f"agent not visible in the final frames (last seen in frame {end_frame} of {frames})"
        elif not ends_on_goal:
            reason = f"agent ends at {end_cell}, not on the goal {puzzle.goal}"
        elif not preserved:
            reason = f"walls or goal changed: they read as drawn in only {maze_preserved:.0%} of frames"
    return make_verdict(
        success, components, WEIGHTS, reason, predicted_cells=frozenset(visited), oracle_cells=oracle
    )
