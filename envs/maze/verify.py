"""Maze perception: video -> the agent's cell per frame, each frame explained in full -> rules.

Every frame is read whole. The board is located in each frame (:func:`videorlvr.envs.board.locate_board`)
and every pixel of its cell area is area-averaged into blocks of about a quarter cell
(:mod:`videorlvr.envs.maze.blocks`). Each frame's gain is then fixed per channel so that its floor blocks
read as the drawn floor (this undoes casts, flicker, and white clipping). The state is the agent's cell:
the cell whose blocks are best explained by the agent standing there. The frame is *readable* only if
that state explains every cell: the board drawn with the agent on that cell (walls, start, goal and
floor, blurred by the least of ``BLUR_SIGMAS`` that fits) matches every block within ``EXPLAIN_TOLERANCE``. So a
missing, doubled, faded or half-moved agent, an erased or added wall, a hidden goal or a board that is
not found all make the frame unreadable; :mod:`videorlvr.envs.maze.rules` then ends the legal prefix
there. The expected blocks are composed from two drawings per blur level, cached per puzzle and frame
size and blurred only when a frame needs that level: the board without the agent, and the board with the
agent on every cell (the disc never leaves its cell, so a state takes that cell's blocks from the second).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from videorlvr.envs.board import locate_board
from videorlvr.envs.maze.blocks import (
    block_grid,
    cell_residuals,
    expected_blocks,
    fix_gain,
    floor_blocks,
    read_blocks,
)
from videorlvr.envs.maze.constants import BLUR_SIGMAS, EXPLAIN_TOLERANCE
from videorlvr.envs.maze.generator import MazePuzzle
from videorlvr.envs.maze.render import geometry_for
from videorlvr.envs.maze.rules import judge
from videorlvr.envs.types import Cell, Verdict
from videorlvr.envs.video import VideoLike, as_video


@dataclass(frozen=True)
class MazeReading:
    """What perception read from a video of T frames.

    cells: the agent's cell per frame, None where the frame is unreadable; residual: float (T,), the
    largest block difference between each frame and the board drawn in its state (0 = drawn exactly);
    notes: per frame, why it is unreadable ("" when readable).
    """

    cells: list[Cell | None]
    residual: np.ndarray
    notes: list[str]


def perceive(puzzle: MazePuzzle, video: np.ndarray) -> MazeReading:
    """Read a uint8 (T, H, W, 3) video of this puzzle at its own resolution."""
    frames, height, width = video.shape[:3]
    geometry = geometry_for(puzzle, height, width)
    grid = block_grid(geometry)
    rows, cols = puzzle.rows, puzzle.cols
    bounds = locate_board(video, geometry)
    observed = read_blocks(video, geometry, bounds)
    fix_gain(observed, floor_blocks(puzzle, height, width))
    # Blur levels in rising order; each frame is judged at the first level that explains it.
    best_residual = np.zeros((frames, rows * cols), dtype=np.float32)
    best_agent = np.zeros(frames, dtype=np.int64)
    best_worst = np.full(frames, np.inf, dtype=np.float32)
    pending = np.arange(frames)
    for level in range(len(BLUR_SIGMAS)):
        planes = observed if len(pending) == frames else observed[:, pending]
        empty, full = expected_blocks(puzzle, height, width, level)
        without = cell_residuals(planes, empty, grid).reshape(len(pending), -1)
        with_agent = cell_residuals(planes, full, grid).reshape(len(pending), -1)
        agent = (without - with_agent).argmax(axis=1)  # the cell the agent explains best
        rows_index = np.arange(len(pending))
        without[rows_index, agent] = with_agent[rows_index, agent]
        worst = without.max(axis=1)
        better = worst < best_worst[pending]
        chosen = pending[better]
        best_worst[chosen], best_agent[chosen], best_residual[chosen] = worst[better], agent[better], without[better]
        pending = pending[best_worst[pending] > EXPLAIN_TOLERANCE]
        if not len(pending):
            break
    readable = bounds.found & (best_worst <= EXPLAIN_TOLERANCE)
    cells: list[Cell | None] = [divmod(int(a), cols) if ok else None for a, ok in zip(best_agent, readable)]
    notes = [""] * frames
    for frame in np.flatnonzero(~readable).tolist():
        if not bounds.found[frame]:
            notes[frame] = "board not found"
            continue
        where = divmod(int(best_residual[frame].argmax()), cols)
        notes[frame] = (
            f"cell {where} differs from the board drawn with the agent at "
            f"{divmod(int(best_agent[frame]), cols)} by {best_worst[frame]:.2f} (tolerance {EXPLAIN_TOLERANCE})"
        )
    return MazeReading(cells, best_worst, notes)


def verify(puzzle: MazePuzzle, video: VideoLike) -> Verdict:
    """Score a video (anything :func:`videorlvr.envs.video.as_video` accepts) of this puzzle at its own
    resolution."""
    if not isinstance(puzzle, MazePuzzle):
        raise TypeError(f"puzzle must be a MazePuzzle, got {type(puzzle).__name__}")
    frames = as_video(video)
    reading = perceive(puzzle, frames)
    return judge(puzzle, reading.cells, reading.notes)
