"""Every pixel of a maze board in whole-pixel blocks: the observed ones, and the ones a state would draw.

Blocks are squares of ``round(cell / SUBDIVISIONS)`` px laid over the grid (extended by under one block
into the white frame so that they tile it exactly), so OpenCV's area resize runs on its fast
whole-number path: a ratio such as 41 px cells / 4 would take its several times slower general path.
A block belongs to the cell that holds its centre; it reaches at most half a block (1/8 cell) into a
neighbouring cell, where the neighbour's agent disc never is (it keeps 1/5 cell from every edge), so the
board with the agent on one cell is the empty board's blocks with that cell's blocks taken from a
drawing with the agent on every cell. Colours are normalised like
:func:`videorlvr.envs.footprint.read_blocks`: the frame's letterbox is 0, its white frame 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from videorlvr.envs.board import BoardGeometry, FrameBounds, reference_points, sample_points
from videorlvr.envs.footprint import cell_area_boxes
from videorlvr.envs.maze.constants import BLUR_SIGMAS, FLOOR_MATCH, FLOOR_RGB, FLOOR_SAMPLES, SUBDIVISIONS
from videorlvr.envs.maze.generator import MazePuzzle
from videorlvr.envs.maze.render import _draw_agent, geometry_for, render_board

FLOOR = np.asarray(FLOOR_RGB, dtype=np.float32) / 255.0


@dataclass(frozen=True)
class BlockGrid:
    """Whole-pixel blocks over a drawn grid: ``block`` px each, ``shape`` = (rows, cols) of blocks,
    starting ``before`` = (y, x) px before the grid's top-left corner; ``row_starts`` / ``col_starts``:
    the first block row / column of each cell row / column."""

    block: int
    shape: tuple[int, int]
    before: tuple[int, int]
    row_starts: np.ndarray
    col_starts: np.ndarray


@lru_cache(maxsize=64)
def block_grid(geometry: BoardGeometry) -> BlockGrid:
    """The blocks for this geometry (see the module docstring)."""
    block = max(1, round(geometry.cell / SUBDIVISIONS))
    shape, before, starts = [], [], []
    for cells in (geometry.rows, geometry.cols):
        count = -(-cells * geometry.cell // block)
        extra = (count * block - cells * geometry.cell) // 2
        centres = (np.arange(count) + 0.5) * block - extra
        cell_of_block = np.clip(np.floor(centres / geometry.cell), 0, cells - 1).astype(np.int64)
        shape.append(count)
        before.append(extra)
        starts.append(np.searchsorted(cell_of_block, np.arange(cells)))
    return BlockGrid(block, (shape[0], shape[1]), (before[0], before[1]), starts[0], starts[1])


def read_blocks(video: np.ndarray, geometry: BoardGeometry, bounds: FrameBounds) -> np.ndarray:
    """The normalised blocks of every located board, channel-first float32 (T, 3, *grid.shape)."""
    grid = block_grid(geometry)
    frames = np.arange(video.shape[0])
    boxes = cell_area_boxes(geometry, bounds, frames)  # (T, 4): top, bottom, left, right of the cells
    drawn = np.array([geometry.rows * geometry.cell, geometry.cols * geometry.cell], dtype=np.float64)
    scale = np.stack([boxes[:, 1] - boxes[:, 0], boxes[:, 3] - boxes[:, 2]], axis=1) / drawn  # (T, 2)
    start = np.rint(boxes[:, [0, 2]] - np.asarray(grid.before) * scale).astype(np.int64)
    span = np.rint(np.asarray(grid.shape) * grid.block * scale).astype(np.int64)
    limit = np.array([geometry.height, geometry.width])
    start = np.clip(start, 0, limit - 1)
    end = np.clip(start + np.maximum(span, 1), start + 1, limit)
    size = (grid.shape[1], grid.shape[0])  # OpenCV's (width, height)
    blocks = np.empty((len(frames), grid.shape[0], grid.shape[1], 3), dtype=np.uint8)
    for frame, (y0, x0), (y1, x1) in zip(frames.tolist(), start.tolist(), end.tolist()):
        cv2.resize(video[frame, y0:y1, x0:x1], size, dst=blocks[frame], interpolation=cv2.INTER_AREA)
    black, white = reference_points(geometry)
    levels = sample_points(video, geometry, bounds, np.concatenate([black, white]), radius=0.08, size=2)
    low = levels[:, : len(black)].mean(axis=1)
    span_levels = np.maximum(levels[:, len(black) :].mean(axis=1) - low, 32.0)
    planes = blocks.transpose(0, 3, 1, 2).astype(np.float32, order="C")
    planes -= low[:, :, None, None]
    planes *= (1.0 / span_levels)[:, :, None, None]
    return planes


@lru_cache(maxsize=64)
def _drawn_grid(puzzle: MazePuzzle, height: int, width: int) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """The blocks' area as drawn, without the agent and with the agent on every cell, uint8 (h, w, 3)
    each, with a margin wider than the largest blur kernel (3 sigma in OpenCV) where the frame has room,
    and the slices of the blocks' area within them."""
    geometry = geometry_for(puzzle, height, width)
    grid = block_grid(geometry)
    board = render_board(puzzle, geometry)
    agents = board.copy()
    for row in range(puzzle.rows):
        for col in range(puzzle.cols):
            _draw_agent(agents, geometry, row + 0.5, col + 0.5)
    pad = int(np.ceil(3 * max(BLUR_SIGMAS))) + 2
    window, inner = [], []
    for origin, before, count, limit in zip(geometry.origin, grid.before, grid.shape, (height, width)):
        start, end = origin - before, origin - before + count * grid.block
        low = max(0, start - pad)
        window.append(slice(low, min(limit, end + pad)))
        inner.append(slice(start - low, end - low))
    return board[window[0], window[1]], agents[window[0], window[1]], (inner[0], inner[1])


@lru_cache(maxsize=256)
def expected_blocks(puzzle: MazePuzzle, height: int, width: int, level: int) -> tuple[np.ndarray, np.ndarray]:
    """The drawn blocks at blur ``BLUR_SIGMAS[level]``, channel-first float32 (3, *grid.shape): without
    the agent, and with the agent on every cell."""
    board, agents, inner = _drawn_grid(puzzle, height, width)
    grid = block_grid(geometry_for(puzzle, height, width))
    sigma = BLUR_SIGMAS[level]
    out = []
    for frame in (board, agents):
        drawn = cv2.GaussianBlur(frame, (0, 0), sigma) if sigma > 0 else frame
        blocks = cv2.resize(drawn[inner], (grid.shape[1], grid.shape[0]), interpolation=cv2.INTER_AREA)
        out.append(blocks.transpose(2, 0, 1).astype(np.float32) * np.float32(1.0 / 255.0))
    return out[0], out[1]


@lru_cache(maxsize=64)
def floor_blocks(puzzle: MazePuzzle, height: int, width: int) -> np.ndarray:
    """bool grid.shape: about ``FLOOR_SAMPLES`` plain floor blocks, spread over the board."""
    empty = expected_blocks(puzzle, height, width, 0)[0]
    floor = np.abs(empty - FLOOR[:, None, None]).max(axis=0) <= FLOOR_MATCH
    count = int(floor.sum())
    floor[floor] = np.arange(count) % max(1, count // FLOOR_SAMPLES) == 0
    return floor


def fix_gain(planes: np.ndarray, floor: np.ndarray) -> None:
    """Scale each frame's channel planes (T, 3, h, w) in place so its median floor block reads as drawn."""
    if floor.any():
        median = np.median(planes[:, :, floor], axis=2)  # (T, 3)
        planes *= (FLOOR / np.maximum(median, 0.1)).astype(np.float32)[:, :, None, None]


def cell_residuals(planes: np.ndarray, expected: np.ndarray, grid: BlockGrid) -> np.ndarray:
    """Largest channel difference over each cell's blocks: float32 (T, rows, cols).

    planes: (T, 3, *grid.shape); expected: (3, *grid.shape). Whole-plane operations only (numpy reduces
    short axes slowly).
    """
    difference = np.abs(planes[:, 0] - expected[0])
    for channel in (1, 2):
        np.maximum(difference, np.abs(planes[:, channel] - expected[channel]), out=difference)
    rows = np.maximum.reduceat(difference, grid.row_starts, axis=1)
    return np.maximum.reduceat(rows, grid.col_starts, axis=2)
