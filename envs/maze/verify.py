"""Maze perception: video -> the agent's cell per frame, each frame explained in full -> rules.

Every frame is read whole. The board is located in each frame (:func:`videorlvr.envs.board.locate_board`)
and every pixel of its cell area is area-averaged into blocks (:func:`videorlvr.envs.footprint.read_blocks`,
``SUBDIVISIONS`` per cell side). Each frame's gain is then fixed per channel so that its floor blocks
read as the drawn floor (this undoes casts, flicker, and white clipping). The state is the agent's cell:
the cell whose blocks are best explained by the agent standing there. The frame is *readable* only if
that state explains every cell: the board drawn with the agent on that cell (walls, start, goal and
floor, blurred by the best of ``BLUR_SIGMAS``) matches every block within ``EXPLAIN_TOLERANCE``. So a
missing, doubled, faded or half-moved agent, an erased or added wall, a hidden goal or a board that is
not found all make the frame unreadable; :mod:`videorlvr.envs.maze.rules` then ends the legal prefix
there. The expected blocks are composed from two drawings per blur level, cached per puzzle and frame
size and blurred only when a frame needs that level: the board without the agent, and the board with the
agent on every cell (the disc never leaves its cell, so a state takes that cell's blocks from the second).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from videorlvr.envs.board import BoardGeometry, locate_board
from videorlvr.envs.footprint import read_blocks
from videorlvr.envs.maze.constants import (
    BLUR_SIGMAS,
    EXPLAIN_TOLERANCE,
    FLOOR_MATCH,
    FLOOR_RGB,
    FLOOR_SAMPLES,
    SMALL_CELL_PX,
    SMALL_CELL_SUBDIVISIONS,
    SUBDIVISIONS,
)
from videorlvr.envs.maze.generator import MazePuzzle
from videorlvr.envs.maze.render import _draw_agent, geometry_for, render_board
from videorlvr.envs.maze.rules import judge
from videorlvr.envs.types import Cell, Verdict
from videorlvr.envs.video import VideoLike, as_video

_FLOOR = np.asarray(FLOOR_RGB, dtype=np.float32) / 255.0


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


def subdivisions(geometry: BoardGeometry) -> int:
    """Blocks per cell side: ``SUBDIVISIONS``, fewer in cells under ``SMALL_CELL_PX`` px."""
    return SUBDIVISIONS if geometry.cell >= SMALL_CELL_PX else SMALL_CELL_SUBDIVISIONS


@lru_cache(maxsize=64)
def _drawn_grid(puzzle: MazePuzzle, height: int, width: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The grid as drawn, without the agent and with the agent on every cell, uint8 (h, w, 3) each, with a
    margin of ``pad`` px around it (wider than the largest blur kernel; OpenCV's radius is 3 sigma), and
    the pad and blocks per cell side."""
    geometry = geometry_for(puzzle, height, width)
    board = render_board(puzzle, geometry)
    agents = board.copy()
    for row in range(puzzle.rows):
        for col in range(puzzle.cols):
            _draw_agent(agents, geometry, row + 0.5, col + 0.5)
    (y0, x0), cell = geometry.origin, geometry.cell
    pad = min(int(np.ceil(3 * max(BLUR_SIGMAS))) + 2, y0, x0)
    window = (slice(y0 - pad, y0 + puzzle.rows * cell + pad), slice(x0 - pad, x0 + puzzle.cols * cell + pad))
    return board[window], agents[window], pad, subdivisions(geometry)


@lru_cache(maxsize=256)
def expected_blocks(puzzle: MazePuzzle, height: int, width: int, level: int) -> tuple[np.ndarray, np.ndarray]:
    """The drawn blocks at blur level ``level`` (``BLUR_SIGMAS[level]``), channel-first float32
    (3, rows*sub, cols*sub): without the agent, and with the agent on every cell."""
    board, agents, pad, sub = _drawn_grid(puzzle, height, width)
    sigma = BLUR_SIGMAS[level]
    inner = (slice(pad, board.shape[0] - pad), slice(pad, board.shape[1] - pad))
    out = []
    for frame in (board, agents):
        drawn = cv2.GaussianBlur(frame, (0, 0), sigma) if sigma > 0 else frame
        blocks = cv2.resize(drawn[inner], (puzzle.cols * sub, puzzle.rows * sub), interpolation=cv2.INTER_AREA)
        out.append(blocks.transpose(2, 0, 1).astype(np.float32) * np.float32(1.0 / 255.0))
    return out[0], out[1]


@lru_cache(maxsize=64)
def floor_blocks(puzzle: MazePuzzle, height: int, width: int) -> np.ndarray:
    """bool (rows*sub, cols*sub): about ``FLOOR_SAMPLES`` plain floor blocks, spread over the board."""
    floor = np.abs(expected_blocks(puzzle, height, width, 0)[0] - _FLOOR[:, None, None]).max(axis=0) <= FLOOR_MATCH
    count = int(floor.sum())
    floor[floor] = np.arange(count) % max(1, count // FLOOR_SAMPLES) == 0
    return floor


def _fix_gain(planes: np.ndarray, floor: np.ndarray) -> None:
    """Scale each frame's channel planes (T, 3, h, w) in place so its median floor block reads as drawn."""
    if not floor.any():
        return
    median = np.median(planes[:, :, floor], axis=2)  # (T, 3)
    planes *= (_FLOOR / np.maximum(median, 0.1)).astype(np.float32)[:, :, None, None]


def _cell_residuals(planes: np.ndarray, expected: np.ndarray, sub: int) -> np.ndarray:
    """Largest channel difference over each cell's blocks: float32 (T, rows, cols).

    planes: (T, 3, rows*sub, cols*sub); expected: (3, rows*sub, cols*sub). Whole-plane operations only
    (numpy reduces short axes slowly).
    """
    difference = np.abs(planes[:, 0] - expected[0])
    for channel in (1, 2):
        np.maximum(difference, np.abs(planes[:, channel] - expected[channel]), out=difference)
    cells = difference[:, ::sub, ::sub].copy()
    for dy in range(sub):
        for dx in range(sub):
            if dy or dx:
                np.maximum(cells, difference[:, dy::sub, dx::sub], out=cells)
    return cells


def perceive(puzzle: MazePuzzle, video: np.ndarray) -> MazeReading:
    """Read a uint8 (T, H, W, 3) video of this puzzle at its own resolution."""
    frames, height, width = video.shape[:3]
    geometry = geometry_for(puzzle, height, width)
    sub = subdivisions(geometry)
    rows, cols = puzzle.rows, puzzle.cols
    bounds = locate_board(video, geometry)
    observed = np.ascontiguousarray(read_blocks(video, geometry, bounds, sub).transpose(0, 3, 1, 2))
    _fix_gain(observed, floor_blocks(puzzle, height, width))
    # Blur levels in rising order; each frame is judged at the first level that explains it.
    best_residual = np.zeros((frames, rows * cols), dtype=np.float32)
    best_agent = np.zeros(frames, dtype=np.int64)
    best_worst = np.full(frames, np.inf, dtype=np.float32)
    pending = np.arange(frames)
    for level in range(len(BLUR_SIGMAS)):
        planes = observed if len(pending) == frames else observed[pending]
        empty, full = expected_blocks(puzzle, height, width, level)
        without = _cell_residuals(planes, empty, sub).reshape(len(pending), -1)
        with_agent = _cell_residuals(planes, full, sub).reshape(len(pending), -1)
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
