"""Settings checks at env construction: unknown or malformed kwargs, boards too big for the frame, and
frame counts too short for the longest oracle path the settings can draw."""

from __future__ import annotations

from typing import Any

from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.maze.constants import ALGORITHMS, MAX_SIDE, MIN_SIDE, PRESETS
from videorlvr.envs.maze.generator import path_bucket
from videorlvr.envs.maze.rules import frames_for_moves

KWARGS = ("size", "path_length", "algorithm")


def _int_pair(name: str, value: Any) -> tuple[int, int]:
    try:
        first, second = value
        pair = int(first), int(second)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of ints, got {value!r}") from None
    if pair != (first, second) or any(isinstance(v, bool) for v in (first, second)):
        raise ValueError(f"{name} must be a pair of ints, got {value!r}")
    return pair


def validate(difficulty: str, height: int, width: int, num_frames: int, **kwargs: Any) -> None:
    """Raise ValueError unless a VideoMaze env with these settings can pose and score every maze it draws.

    kwargs: ``size=(rows, cols)`` (each 2..32), ``path_length=(low, high)`` (oracle moves,
    ``1 <= low <= high``, ``low`` below the cell count) and ``algorithm`` ("dfs" or "kruskal").
    """
    unknown = sorted(set(kwargs) - set(KWARGS))
    if unknown:
        raise ValueError(f"unknown VideoMaze kwargs {unknown}; allowed: {list(KWARGS)}")
    if difficulty not in PRESETS:
        raise ValueError(f"difficulty must be one of {tuple(PRESETS)}, got {difficulty!r}")
    if kwargs.get("algorithm", ALGORITHMS[0]) not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {kwargs['algorithm']!r}")
    size = kwargs.get("size")
    rows, cols = PRESETS[difficulty].size if size is None else _int_pair("size", size)
    if not (MIN_SIDE <= rows <= MAX_SIDE and MIN_SIDE <= cols <= MAX_SIDE):
        raise ValueError(f"size must be within {MIN_SIDE}..{MAX_SIDE} per side, got {rows}x{cols}")
    bucket = kwargs.get("path_length")
    low, high = path_bucket(difficulty, rows, cols) if bucket is None else _int_pair("path_length", bucket)
    if not 1 <= low <= high:
        raise ValueError(f"path_length must be (low, high) with 1 <= low <= high, got {(low, high)}")
    if low > rows * cols - 1:
        raise ValueError(
            f"path_length {(low, high)} cannot occur in a {rows}x{cols} maze (its paths have at most "
            f"{rows * cols - 1} moves)"
        )
    BoardGeometry(rows, cols, height, width)  # raises when the cells would be under 4 px
    # generate() never returns a path longer than the bucket's high end (nor than the cell count allows).
    longest = min(high, rows * cols - 1)
    needed = frames_for_moves(longest)
    if num_frames < needed:
        what = f"{difficulty} {rows}x{cols} mazes"
        if bucket is not None:
            what = f"{rows}x{cols} mazes with path_length {(low, high)}"
        raise ValueError(
            f"{what} have oracle paths of up to {longest} moves and need up to {needed} frames (one move per "
            f"frame, then the goal held); got num_frames={num_frames}"
        )
