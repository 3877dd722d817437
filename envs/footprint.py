"""Whole-board reading: every pixel of a located board, averaged into a few blocks per cell.

Sparse reading (a few pixels per cell) is fast and foolable: a do-nothing video with the oracle's
pixels copied at the read points passes. Here each frame's located cell area (:func:`cell_area_boxes`,
from :func:`board.locate_board`) is split into ``sub x sub`` blocks per cell and every pixel of it is
averaged into the block it lies in: exactly, by integer sums, where the area splits into whole-pixel
blocks, as an undistorted board's always does (:func:`block_means`); by OpenCV's area interpolation where
a zoomed board's does not (:func:`area_means`). Colours are normalised so that the frame's own black is 0
and its white is 1 (undoing gain, casts and flicker). Blocks are channel first, (3, T, h, w), so every
per-block comparison runs over whole contiguous planes. A task reads its state from these blocks and
then checks that the state *explains* them, cell by cell, against the blocks its renderer draws for that
state (:func:`worst_channel`, :func:`cell_max`); a frame whose state does not explain every cell is
unreadable. (The maze reads blocks over its own whole-block grid, and Sokoban splits areas that do not
divide evenly into nearly equal whole-pixel blocks.)
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from videorlvr.envs.board import BoardGeometry, FrameBounds, reference_points, sample_points

MIN_BLOCK_PX = 3  # blocks narrower than this would be dominated by codec and resampling error
MAX_SUBDIVISIONS = 4


def subdivisions(geometry: BoardGeometry, most: int = MAX_SUBDIVISIONS) -> int:
    """Blocks per cell side for this geometry: as many as fit ``MIN_BLOCK_PX``-px blocks, 1..``most``."""
    return int(max(1, min(most, geometry.cell // MIN_BLOCK_PX)))


def cell_area_boxes(geometry: BoardGeometry, bounds: FrameBounds, frames: np.ndarray) -> np.ndarray:
    """Integer pixel boxes ``(F, 4)`` = (top, bottom, left, right) of the cell area in each located frame.

    Frames whose board was not found fall back to the drawn position.
    """
    left, right, top, bottom = geometry.outer
    found = bounds.found[frames]
    frame_left = np.where(found, bounds.left[frames], left)
    frame_right = np.where(found, bounds.right[frames], right)
    frame_top = np.where(found, bounds.top[frames], top)
    frame_bottom = np.where(found, bounds.bottom[frames], bottom)
    scale_x = (frame_right - frame_left) / (right - left)
    scale_y = (frame_bottom - frame_top) / (bottom - top)
    y0, x0 = geometry.origin
    drawn_h, drawn_w = geometry.rows * geometry.cell, geometry.cols * geometry.cell
    top_px = frame_top + (y0 - top) * scale_y
    left_px = frame_left + (x0 - left) * scale_x
    height_px, width_px = drawn_h * scale_y, drawn_w * scale_x
    # A box within a pixel of the drawn size is the drawn size (locating jitters by a fraction of a
    # pixel): then every block is a whole number of pixels, and OpenCV's fast area path applies.
    height_px = np.where(np.abs(height_px - drawn_h) <= 1.0, drawn_h, np.rint(height_px))
    width_px = np.where(np.abs(width_px - drawn_w) <= 1.0, drawn_w, np.rint(width_px))
    boxes = np.rint(np.stack([top_px, top_px, left_px, left_px], axis=1)).astype(np.int64)
    boxes[:, 1] += height_px.astype(np.int64)
    boxes[:, 3] += width_px.astype(np.int64)
    boxes[:, 0:2] = np.clip(boxes[:, 0:2], 0, geometry.height)
    boxes[:, 2:4] = np.clip(boxes[:, 2:4], 0, geometry.width)
    # A degenerate box (board far off-frame) still yields blocks: at least one pixel each way.
    boxes[:, 1] = np.maximum(boxes[:, 1], np.minimum(boxes[:, 0] + 1, geometry.height))
    boxes[:, 0] = np.minimum(boxes[:, 0], boxes[:, 1] - 1)
    boxes[:, 3] = np.maximum(boxes[:, 3], np.minimum(boxes[:, 2] + 1, geometry.width))
    boxes[:, 2] = np.minimum(boxes[:, 2], boxes[:, 3] - 1)
    return boxes


def even_blocks(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """bool (F,): whether each box ``(top, bottom, left, right)`` splits into ``shape`` = (rows, cols)
    blocks of whole pixels."""
    return ((boxes[:, 1] - boxes[:, 0]) % shape[0] == 0) & ((boxes[:, 3] - boxes[:, 2]) % shape[1] == 0)


def _frame_sums(area: np.ndarray, shape: tuple[int, int], column_sums: np.ndarray, out: np.ndarray) -> None:
    """Exact colour sums of the ``shape`` = (rows, cols) whole-pixel blocks of one frame's box area
    (h, w, 3), into ``out`` (3, rows, cols); ``column_sums`` is float32 scratch (rows, w * 3).

    OpenCV adds up the pixel rows of each block row (one vectorised call per row offset adds that row of
    every block row at once, uint8 into float32: exact), then transposes those sums so that it adds each
    block's columns as whole contiguous rows (a sum over a short axis is an order of magnitude slower).
    """
    rows, cols = shape
    height, width = area.shape[:2]
    pixel_rows = area.reshape(height, width * 3)
    block_height, block_width = height // rows, width // cols
    column_sums.fill(0.0)
    for offset in range(block_height):
        cv2.accumulate(pixel_rows[offset::block_height], column_sums)
    across = cv2.transpose(column_sums.reshape(rows * cols, block_width * 3))  # (block_width*3, rows*cols)
    sums = cv2.reduce(across.reshape(block_width, 3 * rows * cols), 0, cv2.REDUCE_SUM)  # (channel, block)
    out[...] = sums.reshape(3, rows, cols)


def block_means(
    video: np.ndarray, boxes: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean colour of each of ``shape`` = (rows, cols) blocks of each frame's box, float32 channel first
    (3, T, rows, cols), for the frames whose box splits into whole-pixel blocks; and which frames those
    are, bool (T,). Every pixel of such a box is summed exactly into its block; the other frames' blocks
    are left 0 (see :func:`area_means`).

    video: uint8 (T, H, W, 3); boxes: int (T, 4) = (top, bottom, left, right), end-exclusive.
    """
    even = even_blocks(boxes, shape)
    means = np.zeros((3, len(video), *shape), dtype=np.float32)
    scratch: dict[int, np.ndarray] = {}  # column sums by box width: one buffer for a steady board
    for frame in np.flatnonzero(even).tolist():
        top, bottom, left, right = boxes[frame].tolist()
        if right - left not in scratch:
            scratch[right - left] = np.empty((shape[0], (right - left) * 3), dtype=np.float32)
        _frame_sums(video[frame, top:bottom, left:right], shape, scratch[right - left], means[:, frame])
    pixels = (boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2]) / (shape[0] * shape[1])
    means *= (1.0 / pixels).astype(np.float32)[:, None, None]
    return means, even


def area_means(video: np.ndarray, boxes: np.ndarray, shape: tuple[int, int], frames: np.ndarray,
               means: np.ndarray) -> None:
    """Fill ``means`` (3, T, rows, cols) at ``frames`` with each box's ``shape`` blocks by OpenCV's area
    interpolation (every pixel weighs on the blocks it overlaps, by the share it overlaps): for boxes that
    do not split into whole-pixel blocks (a zoomed board)."""
    size = (shape[1], shape[0])  # OpenCV's (width, height)
    for frame in frames.tolist():
        top, bottom, left, right = boxes[frame].tolist()
        blocks = cv2.resize(video[frame, top:bottom, left:right], size, interpolation=cv2.INTER_AREA)
        means[:, frame] = blocks.transpose(2, 0, 1)


def normalise(means: np.ndarray, video: np.ndarray, geometry: BoardGeometry, bounds: FrameBounds) -> None:
    """Map block colours (3, T, rows, cols) in place so that each frame's own black is 0 and its white 1,
    per channel, read at the letterbox and on the white frame (:func:`board.reference_points`)."""
    black, white = reference_points(geometry)
    levels = sample_points(video, geometry, bounds, np.concatenate([black, white]), radius=0.08, size=2)
    low = levels[:, : len(black)].mean(axis=1)
    span = np.maximum(levels[:, len(black) :].mean(axis=1) - low, 32.0)
    means -= low.T[:, :, None, None]
    means *= (1.0 / span).T[:, :, None, None]


def read_blocks(video: np.ndarray, geometry: BoardGeometry, bounds: FrameBounds, sub: int) -> np.ndarray:
    """Normalised block colours of every located board, channel first: float32 (3, T, rows*sub, cols*sub).

    video: uint8 (T, H, W, 3). Every pixel of each frame's cell area (:func:`cell_area_boxes`) lands in
    its block: exactly where the area splits into whole-pixel blocks, else by area interpolation.
    """
    if sub < 1:
        raise ValueError(f"sub must be at least 1, got {sub}")
    boxes = cell_area_boxes(geometry, bounds, np.arange(len(video)))
    shape = (geometry.rows * sub, geometry.cols * sub)
    means, even = block_means(video, boxes, shape)
    area_means(video, boxes, shape, np.flatnonzero(~even), means)
    normalise(means, video, geometry, bounds)
    return means


def worst_channel(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """The largest absolute channel difference of each block: float32 (F, h, w), for channel-first
    ``observed`` (3, F, h, w) and ``expected`` (3, h, w) or (3, F, h, w)."""
    worst = np.subtract(observed[0], expected[0])
    np.abs(worst, out=worst)
    channel = np.empty_like(worst)
    for index in (1, 2):
        np.subtract(observed[index], expected[index], out=channel)
        np.abs(channel, out=channel)
        np.maximum(worst, channel, out=worst)
    return worst


def cell_max(values: np.ndarray, sub: int) -> np.ndarray:
    """The max over each cell's ``sub x sub`` blocks of (F, rows*sub, cols*sub): (F, rows, cols), by
    elementwise maxima of strided slices (numpy reduces a short axis ten times slower)."""
    frames, height, width = values.shape
    by_rows = values.reshape(frames, height // sub, sub, width)
    rows = functools.reduce(np.maximum, (by_rows[:, :, i] for i in range(sub)))
    by_cols = rows.reshape(frames, height // sub, width // sub, sub)
    return functools.reduce(np.maximum, (by_cols[..., i] for i in range(sub)))
