"""Drawing FlowFree boards: the first frame, the oracle video, any sequence of cell-colour states, and
the per-cell block patterns the verifier explains frames with.

The board is letterboxed by :class:`videorlvr.envs.board.BoardGeometry`: a dark floor with thin grid lines,
endpoints as filled discs and pipes as thick strokes through the cell centres (round joins), in the
colours of :data:`envs.flowfree.constants.PALETTE`. Everything drawn in a cell stays in that cell or in
the half of a same-coloured neighbour's cell that the joining stroke crosses, so a cell's look is fixed
by its colour, whether it is an endpoint, and which of its four neighbours it is joined to
(:func:`cell_patterns`).
"""

from __future__ import annotations

from functools import lru_cache

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


def _render_floor(size: int, geometry: BoardGeometry) -> np.ndarray:
    """uint8 (H, W, 3): letterbox, white frame, floor and grid lines of an empty ``size x size`` board."""
    frame = geometry.blank_frame()
    cell = geometry.cell
    y0, x0 = geometry.origin
    frame[y0 : y0 + size * cell, x0 : x0 + size * cell] = FLOOR_RGB
    line = max(1, round(GRID_LINE_WIDTH * cell))
    for i in range(1, size):
        start = i * cell - line // 2
        frame[y0 + start : y0 + start + line, x0 : x0 + size * cell] = GRID_RGB
        frame[y0 : y0 + size * cell, x0 + start : x0 + start + line] = GRID_RGB
    return frame


def render_board(puzzle: FlowFreePuzzle, geometry: BoardGeometry) -> np.ndarray:
    """uint8 (H, W, 3): letterbox, white frame, floor, grid lines and the endpoints (the puzzle)."""
    frame = _render_floor(puzzle.size, geometry)
    for colour, (a, b) in enumerate(puzzle.endpoints):
        draw_endpoint(frame, geometry, a, PALETTE[colour])
        draw_endpoint(frame, geometry, b, PALETTE[colour])
    return frame


def render_first_frame(puzzle: FlowFreePuzzle, height: int, width: int) -> np.ndarray:
    """The puzzle as first shown: uint8 (height, width, 3)."""
    return render_board(puzzle, geometry_for(puzzle, height, width))


def render_solution(
    puzzle: FlowFreePuzzle, height: int, width: int, num_frames: int, pace: str = "steady"
) -> np.ndarray:
    """The oracle answer: uint8 (num_frames, height, width, 3), pipes growing from their endpoints
    (``pace``: :func:`growth_schedule`)."""
    geometry = geometry_for(puzzle, height, width)
    canvas = render_board(puzzle, geometry)
    video = np.empty((num_frames, geometry.height, geometry.width, 3), dtype=np.uint8)
    video[0] = canvas
    events = growth_schedule(puzzle, num_frames, pace)
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


LINKS = ((-1, 0), (0, 1), (1, 0), (0, -1))  # bit i of a cell's link mask: joined to the neighbour this way
_WHITE = (255, 255, 255)
EMPTY_SHAPE = 32  # shapes 0..15: a pipe cell with link mask s; 16..31: an endpoint with mask s - 16


@lru_cache(maxsize=16)
def cell_patterns(size: int, height: int, width: int, sub: int,
                  blurs: tuple[float, ...] = (0.0,)) -> tuple[np.ndarray, np.ndarray]:
    """How every shape of every cell looks in ``sub x sub`` blocks, as drawn at this frame size, sharp
    and under Gaussian blurs of ``blurs`` (sigma as a share of the cell side).

    Returns ``(cover, rest)``: cover float32 (B, 33, sub, sub), the share of each block the cell's
    colour covers (the same in every cell: cells are whole pixels, so every cell is drawn alike); rest
    float32 (B, 33, size, size, sub, sub, 3), what the floor and grid lines under it add (in [0, 1]
    RGB; edge cells lack outer grid lines). A cell of shape ``s`` and colour ``rgb`` (in [0, 1]) draws
    as ``cover[b, s] * rgb + rest[b, s, r, c]``: exactly so when sharp (up to uint8 rounding: anti-
    aliased drawing blends linearly); blurred, a cell is blurred on its own, mirrored at its edges
    (strokes run on into a joined neighbour, floor into floor). Shapes: see ``EMPTY_SHAPE``. Depends
    on the board side and frame only.
    """
    geometry = BoardGeometry(size, size, height, width)
    cell = geometry.cell
    board = _render_floor(size, geometry).astype(np.float32) / 255.0
    floor = _by_cell(board, geometry)  # (3, N, N, cell, cell)
    middle = (size // 2, size // 2)
    top, left, bottom, right = geometry.cell_box(*middle)
    share = np.zeros((EMPTY_SHAPE + 1, cell, cell), dtype=np.float32)
    for shape in range(EMPTY_SHAPE):
        endpoint, mask = divmod(shape, 16)
        alpha = np.zeros((height, width), dtype=np.uint8)
        draw_segment(alpha, geometry, middle, middle, _WHITE)
        for bit, (dr, dc) in enumerate(LINKS):
            if mask >> bit & 1:
                draw_segment(alpha, geometry, middle, (middle[0] + dr, middle[1] + dc), _WHITE)
        if endpoint:
            draw_endpoint(alpha, geometry, middle, _WHITE)
        share[shape] = alpha[top:bottom, left:right] / 255.0
    covers, rests = [], []
    average = _area_weights(cell, sub)  # (sub, cell)
    for blur in blurs:
        # The floor is blurred as a whole (the white frame and grid lines bleed across cell edges), the
        # strokes cell by cell: the floor left around a stroke is blur(floor) - blur(stroke share * floor).
        blurred = cv2.GaussianBlur(board, (0, 0), blur * cell) if blur > 0 else board
        weights = average @ _blur_matrix(cell, blur * cell)  # (sub, cell): blur, then average
        base = average @ _by_cell(blurred, geometry) @ average.T  # (3, N, N, sub, sub)
        covers.append(weights @ share @ weights.T)  # (33, sub, sub)
        rests.append(np.stack([base - weights @ (pattern * floor) @ weights.T for pattern in share]))
    rest = np.stack(rests)  # (B, 33, 3, N, N, sub, sub)
    return np.stack(covers), np.ascontiguousarray(rest.transpose(0, 1, 3, 4, 5, 6, 2))


def _by_cell(image: np.ndarray, geometry: BoardGeometry) -> np.ndarray:
    """float32 (3, rows, cols, cell, cell): the cell area of an (H, W, 3) image, cell by cell."""
    y0, x0 = geometry.origin
    rows, cols, cell = geometry.rows, geometry.cols, geometry.cell
    area = image[y0 : y0 + rows * cell, x0 : x0 + cols * cell]
    return np.ascontiguousarray(area.reshape(rows, cell, cols, cell, 3).transpose(4, 0, 2, 1, 3))


def _blur_matrix(cell: int, sigma: float) -> np.ndarray:
    """float32 (cell, cell): a 1-D Gaussian blur of ``sigma`` px over a cell, mirrored at its edges."""
    if sigma <= 0:
        return np.eye(cell, dtype=np.float32)
    reach = int(np.ceil(3 * sigma))
    offsets = np.arange(-reach, reach + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    matrix = np.zeros((cell, cell))
    for i in range(cell):
        source = i + offsets
        source = np.where(source < 0, -source - 1, source)
        source = np.where(source >= cell, 2 * cell - source - 1, source)
        np.add.at(matrix[i], np.clip(source, 0, cell - 1), kernel)
    return matrix.astype(np.float32)


def _area_weights(cell: int, sub: int) -> np.ndarray:
    """float32 (sub, cell): the share of each pixel in each of ``sub`` equal blocks (as OpenCV's area
    interpolation), rows summing to 1."""
    edges = np.arange(sub + 1) * cell / sub
    pixels = np.arange(cell)
    overlap = np.clip(np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels), 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)
