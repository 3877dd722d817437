"""Drawing FlowFree boards: the first frame, the oracle video, and any sequence of cell-colour states.

The board is letterboxed by :class:`videorlvr.envs.board.BoardGeometry`: a dark floor with thin grid lines,
endpoints as filled discs and pipes as thick strokes through the cell centres (round joins), in the
colours of :data:`envs.flowfree.constants.PALETTE`.
"""

from __future__ import annotations

import cv2
import numpy as np

from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.flowfree.constants import (
    ENDPOINT_RADIUS,
    FLOOR_RGB,
    GRID_LINE_WIDTH,
    GRID_RGB,
    PALETTE,
    STROKE_WIDTH,
)
from videorlvr.envs.flowfree.puzzle import EMPTY, FlowFreePuzzle, growth_schedule
from videorlvr.envs.types import Cell

_SHIFT = 4  # cv2 fixed-point bits: sub-pixel centres
_SCALE = 1 << _SHIFT


def geometry_for(puzzle: FlowFreePuzzle, height: int, width: int) -> BoardGeometry:
    return BoardGeometry(puzzle.size, puzzle.size, int(height), int(width))


def _centre(geometry: BoardGeometry, cell: Cell) -> tuple[int, int]:
    """Fixed-point (x, y) of a cell centre for cv2 drawing with ``shift=_SHIFT``."""
    y, x = geometry.to_pixels(cell[0] + 0.5, cell[1] + 0.5)
    # Pixel (i, j) covers [i, i+1) in grid-to-pixel coordinates, but cv2 puts it at i: shift by half a pixel.
    return round((float(x) - 0.5) * _SCALE), round((float(y) - 0.5) * _SCALE)


def _stroke(geometry: BoardGeometry) -> int:
    return max(2, round(STROKE_WIDTH * geometry.cell))


def draw_segment(frame: np.ndarray, geometry: BoardGeometry, a: Cell, b: Cell, rgb: tuple[int, int, int]) -> None:
    """Draw a pipe segment between the centres of cells ``a`` and ``b`` (in place), with round ends."""
    thickness = _stroke(geometry)
    pa, pb = _centre(geometry, a), _centre(geometry, b)
    cv2.line(frame, pa, pb, rgb, thickness, cv2.LINE_AA, _SHIFT)
    for point in (pa, pb):
        cv2.circle(frame, point, thickness * _SCALE // 2, rgb, -1, cv2.LINE_AA, _SHIFT)


def draw_endpoint(frame: np.ndarray, geometry: BoardGeometry, cell: Cell, rgb: tuple[int, int, int]) -> None:
    """Draw an endpoint disc on a cell (in place)."""
    radius = max(2.0, ENDPOINT_RADIUS * geometry.cell)
    cv2.circle(frame, _centre(geometry, cell), round(radius * _SCALE), rgb, -1, cv2.LINE_AA, _SHIFT)


def render_board(puzzle: FlowFreePuzzle, geometry: BoardGeometry) -> np.ndarray:
    """uint8 (H, W, 3): letterbox, white frame, floor, grid lines and the endpoints (the puzzle)."""
    frame = geometry.blank_frame()
    size, cell = puzzle.size, geometry.cell
    y0, x0 = geometry.origin
    frame[y0 : y0 + size * cell, x0 : x0 + size * cell] = FLOOR_RGB
    line = max(1, round(GRID_LINE_WIDTH * cell))
    for i in range(1, size):
        start = i * cell - line // 2
        frame[y0 + start : y0 + start + line, x0 : x0 + size * cell] = GRID_RGB
        frame[y0 : y0 + size * cell, x0 + start : x0 + start + line] = GRID_RGB
    for colour, (a, b) in enumerate(puzzle.endpoints):
        draw_endpoint(frame, geometry, a, PALETTE[colour])
        draw_endpoint(frame, geometry, b, PALETTE[colour])
    return frame


def render_first_frame(puzzle: FlowFreePuzzle, height: int, width: int) -> np.ndarray:
    """The puzzle as first shown: uint8 (height, width, 3)."""
    return render_board(puzzle, geometry_for(puzzle, height, width))


def render_solution(puzzle: FlowFreePuzzle, height: int, width: int, num_frames: int) -> np.ndarray:
    """The oracle answer: uint8 (num_frames, height, width, 3), pipes growing from their endpoints."""
    geometry = geometry_for(puzzle, height, width)
    canvas = render_board(puzzle, geometry)
    video = np.empty((num_frames, geometry.height, geometry.width, 3), dtype=np.uint8)
    video[0] = canvas
    events = growth_schedule(puzzle, num_frames)
    index = 0
    for t in range(1, num_frames):
        while index < len(events) and events[index][0] <= t:
            _, colour, a, b = events[index]
            draw_segment(canvas, geometry, a, b, PALETTE[colour])
            index += 1
        video[t] = canvas
    return video


def render_state(puzzle: FlowFreePuzzle, grid: np.ndarray, geometry: BoardGeometry) -> np.ndarray:
    """uint8 (H, W, 3) of a cell-colour state (int (size, size), EMPTY = -1): every filled cell as a
    pipe blob, joined to each same-coloured neighbour; the puzzle's endpoints drawn on top."""
    grid = np.asarray(grid)
    if grid.shape != (puzzle.size, puzzle.size):
        raise ValueError(f"state must be ({puzzle.size}, {puzzle.size}), got {grid.shape}")
    frame = render_board(puzzle, geometry)
    for r, c in zip(*np.nonzero(grid != EMPTY)):
        colour = PALETTE[int(grid[r, c])]
        draw_segment(frame, geometry, (r, c), (r, c), colour)
        for dr, dc in ((0, 1), (1, 0)):
            if r + dr < puzzle.size and c + dc < puzzle.size and grid[r + dr, c + dc] == grid[r, c]:
                draw_segment(frame, geometry, (r, c), (r + dr, c + dc), colour)
    for colour, (a, b) in enumerate(puzzle.endpoints):
        if grid[a] == colour:
            draw_endpoint(frame, geometry, a, PALETTE[colour])
        if grid[b] == colour:
            draw_endpoint(frame, geometry, b, PALETTE[colour])
    return frame


def render_states(puzzle: FlowFreePuzzle, states: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 (T, H, W, 3) video of a sequence of cell-colour states, int (T, size, size)."""
    geometry = geometry_for(puzzle, height, width)
    return np.stack([render_state(puzzle, state, geometry) for state in np.asarray(states)])
