"""Whole-board reading: every pixel of a located board, area-averaged into a few blocks per cell.

Sparse reading (a few pixels per cell) is fast and foolable: a do-nothing video with the oracle's
pixels copied at the read points passes. Here each frame's located cell area (:func:`cell_area_boxes`,
from :func:`board.locate_board`) is shrunk with OpenCV's area interpolation, so every pixel of the board
weighs on exactly the blocks it lies in, into ``sub x sub`` blocks per cell; colours are normalised so
that the frame's own black is 0 and its white is 1 (undoing gain, casts and flicker). A task reads its
state from these blocks and then checks that the state *explains* them, cell by cell, against the blocks
its renderer draws for that state; a frame whose state does not explain every cell is unreadable. (The
maze and Sokoban readers sum whole-pixel blocks of the same boxes, which is faster when cells do not
divide evenly.)
"""

from __future__ import annotations

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


def read_blocks(
    video: np.ndarray,
    geometry: BoardGeometry,
    bounds: FrameBounds,
    sub: int,
    frames: np.ndarray | None = None,
) -> np.ndarray:
    """Normalised block colours of every located board: float32 ``(F, rows*sub, cols*sub, 3)``.

    video: uint8 (T, H, W, 3); ``frames``: optional frame indices (default: all). Every pixel of each
    frame's cell area is averaged into its block (OpenCV area interpolation, one pass per frame).
    """
    if sub < 1:
        raise ValueError(f"sub must be at least 1, got {sub}")
    frames = np.arange(video.shape[0]) if frames is None else np.asarray(frames, dtype=np.int64)
    boxes = cell_area_boxes(geometry, bounds, frames)
    size = (geometry.cols * sub, geometry.rows * sub)  # OpenCV's (width, height)
    blocks = np.empty((len(frames), size[1], size[0], 3), dtype=np.uint8)
    for index, (frame, (top, bottom, left, right)) in enumerate(zip(frames.tolist(), boxes.tolist())):
        cv2.resize(video[frame, top:bottom, left:right], size, dst=blocks[index], interpolation=cv2.INTER_AREA)
    # The frame's own black and white, read at the letterbox and on the white frame (see board.py).
    black, white = reference_points(geometry)
    levels = sample_points(video, geometry, bounds, np.concatenate([black, white]), radius=0.08, size=2,
                           frames=frames)
    low = levels[:, : len(black)].mean(axis=1)
    span = np.maximum(levels[:, len(black):].mean(axis=1) - low, 32.0)
    out = blocks.astype(np.float32)
    out -= low[:, None, None, :]
    out *= (1.0 / span)[:, None, None, :]
    return out
