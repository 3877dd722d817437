"""Every pixel of a maze board in whole-pixel blocks: the observed ones, and the ones a state would draw.

Blocks are squares of ``round(cell / SUBDIVISIONS)`` px laid over the grid (extended by under one block
into the white frame so that they tile it exactly), so every pixel of an undistorted board is summed
exactly into its block (:func:`videorlvr.envs.footprint.block_means`; a zoomed board's blocks, no longer
whole pixels, by area interpolation). A block belongs to the cell that holds its centre; it reaches at most half a block (1/8 cell) into a
neighbouring cell, where the neighbour's agent disc never is (it keeps 1/5 cell from every edge), so the
board with the agent on one cell is the empty board's blocks with that cell's blocks taken from a
drawing with the agent on every cell. Colours are normalised like
:func:`videorlvr.envs.footprint.read_blocks`: the frame's letterbox is 0, its white frame 1. Blocks are
channel first, (3, T, h, w).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from videorlvr.envs.board import BoardGeometry, FrameBounds
from videorlvr.envs.footprint import area_means, block_means, cell_area_boxes, normalise, worst_channel
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
    """The normalised blocks of every located board, channel first float32 (3, T, *grid.shape)."""
    grid = block_grid(geometry)
    cells = cell_area_boxes(geometry, bounds, np.arange(video.shape[0]))  # (T, 4): top, bottom, left, right
    drawn = np.array([geometry.rows * geometry.cell, geometry.cols * geometry.cell], dtype=np.float64)
    scale = np.stack([cells[:, 1] - cells[:, 0], cells[:, 3] - cells[:, 2]], axis=1) / drawn  # (T, 2)
    start = np.rint(cells[:, [0, 2]] - np.asarray(grid.before) * scale).astype(np.int64)
    span = np.rint(np.asarray(grid.shape) * grid.block * scale).astype(np.int64)
    limit = np.array([geometry.height, geometry.width])
    start = np.clip(start, 0, limit - 1)
    end = np.clip(start + np.maximum(span, 1), start + 1, limit)
    boxes = np.stack([start[:, 0], end[:, 0], start[:, 1], end[:, 1]], axis=1)
    means, even = block_means(video, boxes, grid.shape)
    area_means(video, boxes, grid.shape, np.flatnonzero(~even), means)
    normalise(means, video, geometry, bounds)
    return means


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
    """Scale each frame's channel planes (3, T, h, w) in place so its median floor block reads as drawn."""
    if floor.any():
        median = np.median(planes[:, :, floor], axis=2)  # (3, T)
        planes *= (FLOOR[:, None] / np.maximum(median, 0.1)).astype(np.float32)[:, :, None, None]


def cell_residuals(planes: np.ndarray, expected: np.ndarray, grid: BlockGrid) -> np.ndarray:
    """Largest channel difference over each cell's blocks: float32 (T, rows, cols), for planes
    (3, T, *grid.shape) and expected (3, *grid.shape)."""
    return _runs_max(_runs_max(worst_channel(planes, expected), grid.row_starts, 1), grid.col_starts, 2)


def _runs_max(values: np.ndarray, starts: np.ndarray, axis: int) -> np.ndarray:
    """The max over each run of blocks along ``axis`` of ``values``, the runs starting at ``starts``: when
    every run is as long (cells a whole number of blocks), by elementwise maxima of strided slices, which
    numpy runs ten times faster than ``maximum.reduceat``."""
    count, size = len(starts), values.shape[axis]
    step = size // count
    if step * count != size or not np.array_equal(starts, np.arange(0, size, step)):
        return np.maximum.reduceat(values, starts, axis=axis)
    split = values.reshape(*values.shape[:axis], count, step, *values.shape[axis + 1 :])
    index = [slice(None)] * split.ndim
    slices = []
    for offset in range(step):
        index[axis + 1] = offset
        slices.append(split[tuple(index)])
    return functools.reduce(np.maximum, slices)
