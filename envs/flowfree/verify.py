"""FlowFree perception: video -> the colour of every cell per frame, checked against every pixel -> rules.

Per frame the board is located (:func:`videorlvr.envs.board.locate_board`, so drift, zoom, casts and
flicker are absorbed) and *every* pixel of its cell area is area-averaged into ``SUBDIVISIONS`` x
``SUBDIVISIONS`` blocks per cell (:func:`videorlvr.envs.footprint.read_blocks`). A cell's colour is read
from its centre block, which lies wholly inside a pipe stroke or endpoint disc: the nearest of the
floor and the puzzle's own pipe colours (which colours, and where the endpoints are, come from the
puzzle, never from the video); with an even block count the colour is unmixed from the floor around
the stroke. The state read that way is then made to *explain* the frame: each cell's blocks as the
renderer would draw that state (the cell's colour, whether it is an endpoint, which same-coloured
neighbours it joins; :func:`videorlvr.envs.flowfree.render.cell_patterns`), sharp or under one of
the mild blurs ``BLURS`` (whichever fits the frame best), are compared with the blocks seen. A frame
is *readable* when its board was found, every cell's colour is unambiguous (margin >= ``MIN_MARGIN``)
and every block of every cell is explained to within ``EXPLAIN_TOLERANCE``; anything else -- a
half-drawn cell, a stray stroke, a smear, pixels transplanted into another picture -- leaves it
unreadable, and an unreadable frame ends the legal prefix (:func:`videorlvr.envs.flowfree.rules.judge`).
Each frame is read on its own: nothing a later frame shows changes how an earlier one reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from videorlvr.envs.board import (
    BoardGeometry,
    classify_colours,
    locate_board,
)
from videorlvr.envs.flowfree.constants import (
    BLURS,
    EXPLAIN_TOLERANCE,
    FAST_READ_PX,
    FLOOR_RGB,
    GAIN_RANGE,
    MIN_CELL_PX,
    MIN_MARGIN,
    PALETTE,
    SUBDIVISIONS,
)
from videorlvr.envs.flowfree.puzzle import FlowFreePuzzle
from videorlvr.envs.flowfree.render import EMPTY_SHAPE, cell_patterns
from videorlvr.envs.flowfree.rules import judge
from videorlvr.envs.footprint import cell_max, read_blocks, worst_channel
from videorlvr.envs.types import Verdict
from videorlvr.envs.video import VideoLike, as_video


@dataclass(frozen=True)
class FlowReading:
    """What perception read from a video of T frames.

    labels: int8 (T, size, size), the colour index per cell (-1 empty); confidence: float32 (T, size,
    size), each cell's colour margin; residual: float32 (T, size, size), how far each cell's blocks are
    from those the read state draws; found: bool (T,), whether the board was located; readable: bool (T,).
    """

    labels: np.ndarray
    confidence: np.ndarray
    residual: np.ndarray
    found: np.ndarray
    readable: np.ndarray

    @property
    def frames(self) -> np.ndarray:
        """Indices of the readable frames."""
        return np.flatnonzero(self.readable)

    @property
    def states(self) -> np.ndarray:
        """int8 (S, size, size): the readable frames' labels."""
        return self.labels[self.readable]

    def why_unreadable(self, frame: int) -> str:
        """What perception could not explain in ``frame`` ("" if it is readable)."""
        if self.readable[frame]:
            return ""
        if not self.found[frame]:
            return "no board found"
        margin, residual = self.confidence[frame], self.residual[frame]
        if margin.min() < MIN_MARGIN:
            cell = np.unravel_index(int(margin.argmin()), margin.shape)
            return f"cell {tuple(int(v) for v in cell)} has no clear colour"
        cell = np.unravel_index(int(residual.argmax()), residual.shape)
        return (f"cell {tuple(int(v) for v in cell)} does not look like the state read from the frame "
                f"(off by {float(residual.max()):.2f})")


@lru_cache(maxsize=64)
def _palette(num_colors: int) -> np.ndarray:
    """(K + 1, 3) RGB 0..255: the floor, then the puzzle's pipe colours."""
    return np.array([FLOOR_RGB, *PALETTE[:num_colors]], dtype=np.float32)


def _endpoint_gain(puzzle: FlowFreePuzzle, centres: np.ndarray) -> np.ndarray:
    """Per-channel, per-frame gain (3, T) that maps the endpoints' centre blocks (3, T, N, N) onto their
    drawn colours.

    The black/white normalisation leans on the thin white border, which blur and compression dim (so
    every colour reads too bright). The endpoints' positions and colours are known from the puzzle:
    in each frame, the median over its endpoints of seen / drawn, on channels the drawn colour fills
    at least half-way, is one gain per channel, clamped to +-GAIN_RANGE. A few endpoints that changed
    colour cannot move a median, no gain in range turns one palette colour into another, and each
    frame is read on its own (what later frames show never changes how an earlier one reads).
    """
    mask = puzzle.endpoint_mask
    drawn = np.array(PALETTE[: puzzle.num_colors], dtype=np.float32)[puzzle.start_grid[mask]] / 255.0  # (E, 3)
    seen = centres[:, :, mask]  # (3, T, E)
    gain = np.ones(centres.shape[:2], dtype=np.float32)
    for channel in range(3):
        bright = drawn[:, channel] >= 0.5
        if bright.any():
            ratio = np.median(seen[channel][:, bright] / drawn[bright, channel], axis=1)
            gain[channel] = 1.0 / np.clip(ratio, 1.0 - GAIN_RANGE, 1.0 + GAIN_RANGE)
    return gain


def subdivisions(cell: int) -> int:
    """Blocks per cell side: 3; on cells of at least ``FAST_READ_PX`` px the first of ``SUBDIVISIONS`` that
    divides the cell, if one does (then every block is whole pixels, summed exactly and several times
    faster than area interpolation). Finer blocks on small cells would see blur as unexplained edges."""
    if cell < FAST_READ_PX:
        return SUBDIVISIONS[0]
    return next((sub for sub in SUBDIVISIONS if cell % sub == 0), SUBDIVISIONS[0])


def _shapes(puzzle: FlowFreePuzzle, labels: np.ndarray) -> np.ndarray:
    """int (T, N, N): each cell's shape index for :func:`cell_patterns` (links to same-coloured neighbours)."""
    filled = labels >= 0
    same_across = (labels[:, :, 1:] == labels[:, :, :-1]) & filled[:, :, 1:]
    same_down = (labels[:, 1:, :] == labels[:, :-1, :]) & filled[:, 1:, :]
    mask = np.zeros(labels.shape, dtype=np.int64)
    mask[:, 1:, :] += same_down  # bit 0: up
    mask[:, :, :-1] += 2 * same_across  # bit 1: right
    mask[:, :-1, :] += 4 * same_down  # bit 2: down
    mask[:, :, 1:] += 8 * same_across  # bit 3: left
    mask += 16 * puzzle.endpoint_mask
    return np.where(filled, mask, EMPTY_SHAPE)


@lru_cache(maxsize=16)
def _tables(
    size: int, height: int, width: int, sub: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`cell_patterns` for every blur in ``BLURS`` as rows of ``sub`` blocks, so that a board's
    expected blocks are gathered row by row straight into channel-first block order: covers (B, 33 *
    sub, sub) (shape, block row), rests (B, 3, 33 * N * N * sub, sub) (channel, shape, cell row, cell
    column, block row); and the sharp centre blocks' mean: cover (33,), rest (33, N, N, 3)."""
    covers, rests = cell_patterns(size, height, width, sub, BLURS)
    middle = slice((sub - 1) // 2, sub // 2 + 1)
    centre_cover = covers[0][:, middle, middle].mean(axis=(1, 2))
    centre_rest = rests[0][:, :, :, middle, middle].mean(axis=(3, 4))
    rest_rows = np.ascontiguousarray(rests.transpose(0, 6, 1, 2, 3, 4, 5)).reshape(len(BLURS), 3, -1, sub)
    return covers.reshape(len(BLURS), -1, sub), rest_rows, centre_cover, centre_rest


@lru_cache(maxsize=64)
def _colour_rows(size: int, height: int, width: int, sub: int, num_colors: int) -> np.ndarray:
    """float32 (B, 3, 33 * (K + 1) * sub, sub): each shape's cover times each palette colour (floor
    first), per blur and channel, as rows of ``sub`` blocks (shape, colour, block row)."""
    covers = _tables(size, height, width, sub)[0].reshape(len(BLURS), EMPTY_SHAPE + 1, 1, sub, sub)
    colours = (_palette(num_colors) / 255.0).T.reshape(1, 3, 1, -1, 1, 1)
    return (covers[:, None] * colours).reshape(len(BLURS), 3, -1, sub)


def _row_index(codes: np.ndarray, sub: int) -> np.ndarray:
    """int (F, N, sub, N): the table row of every block row of every cell, from each cell's row code
    (F, N, N), for gathering channel-first blocks (F, N, sub, N, sub)."""
    return codes[:, :, None, :] * sub + np.arange(sub)[:, None]


def _misses(observed: np.ndarray, rest_rows: np.ndarray, colour_rows: np.ndarray, rest_index: np.ndarray,
            colour_index: np.ndarray, sub: int) -> np.ndarray:
    """float32 (F, N, N): each cell's largest block difference from its drawn shape and colour, for
    channel-first blocks ``observed`` (3, F, N*sub, N*sub)."""
    expected = np.take(rest_rows, rest_index, axis=1)  # (3, F, N, sub, N, sub)
    expected += np.take(colour_rows, colour_index, axis=1)
    return cell_max(worst_channel(observed, expected.reshape(observed.shape)), sub)


def _centres(blocks: np.ndarray, sub: int) -> np.ndarray:
    """(3, T, N, N): each cell's centre block, or the mean of the 2x2 around its centre (even ``sub``)."""
    offsets = sorted({(sub - 1) // 2, sub // 2})
    total = sum(blocks[:, :, y::sub, x::sub] for y in offsets for x in offsets)
    return total * np.float32(1.0 / len(offsets) ** 2)


def perceive(puzzle: FlowFreePuzzle, video: np.ndarray) -> FlowReading:
    """Read a uint8 (T, H, W, 3) video of this puzzle at its own resolution (cells of >= MIN_CELL_PX px;
    ValueError for smaller ones)."""
    frames, height, width = video.shape[:3]
    size = puzzle.size
    geometry = BoardGeometry(size, size, height, width)
    if geometry.cell < MIN_CELL_PX:
        raise ValueError(f"a {size}x{size} board in a {height}x{width} frame has {geometry.cell}-px cells; "
                         f"FlowFree reads cells of at least {MIN_CELL_PX} px")
    bounds = locate_board(video, geometry)
    sub = subdivisions(geometry.cell)
    blocks = read_blocks(video, geometry, bounds, sub)  # (3, T, N*sub, N*sub)
    centres = _centres(blocks, sub)  # (3, T, N, N)
    gain = _endpoint_gain(puzzle, centres)[:, :, None, None]
    blocks *= gain
    centres *= gain
    centres = np.moveaxis(centres, 0, -1)  # (T, N, N, 3)
    palette = _palette(puzzle.num_colors)
    _, rests, centre_cover, centre_rest = _tables(size, height, width, sub)
    colour_rows = _colour_rows(size, height, width, sub, puzzle.num_colors)
    rows, cols = np.indices((size, size))
    labels, margin = classify_colours(centres, palette)
    # An even split has no block wholly inside a pipe: unmix the centre blocks' pipe colour from the
    # floor around it, for the shape the first reading implies (a bare stroke where it read empty).
    shapes = _shapes(puzzle, labels.astype(np.int8) - 1)
    shapes = np.where(shapes == EMPTY_SHAPE, 16 * puzzle.endpoint_mask, shapes)
    pure = (centres - centre_rest[shapes, rows, cols]) / centre_cover[shapes][..., None]
    labels, margin = classify_colours(pure, palette)
    shapes = _shapes(puzzle, (labels - 1).astype(np.int8))
    rest_index = _row_index(shapes * (size * size) + (rows * size + cols), sub)
    colour_index = _row_index(shapes * len(palette) + labels, sub)
    labels = (labels - 1).astype(np.int8)
    # Each frame is explained by the state drawn sharp or, if that misses, blurred: whichever fits best
    # (a blur cannot draw a stroke that is not there, nor erase one that is).
    residual = np.full((frames, size, size), np.inf, dtype=np.float32)
    todo = np.arange(frames)
    for rest, colour in zip(rests, colour_rows):
        observed = blocks if len(todo) == frames else blocks[:, todo]
        misses = _misses(observed, rest, colour, rest_index[todo], colour_index[todo], sub)
        better = misses.max(axis=(1, 2)) < residual[todo].max(axis=(1, 2))
        residual[todo[better]] = misses[better]
        todo = todo[residual[todo].max(axis=(1, 2)) > EXPLAIN_TOLERANCE]
        if not len(todo):
            break
    readable = bounds.found & (margin.min(axis=(1, 2)) >= MIN_MARGIN) & (residual.max(axis=(1, 2)) <= EXPLAIN_TOLERANCE)
    return FlowReading(labels, margin.astype(np.float32), residual, bounds.found, readable)


def verify(puzzle: FlowFreePuzzle, video: VideoLike) -> Verdict:
    """Score a video (anything :func:`videorlvr.envs.video.as_video` accepts) of this puzzle at its own resolution."""
    if not isinstance(puzzle, FlowFreePuzzle):
        raise TypeError(f"puzzle must be a FlowFreePuzzle, got {type(puzzle).__name__}")
    video = as_video(video)
    try:
        cell = BoardGeometry(puzzle.size, puzzle.size, video.shape[1], video.shape[2]).cell
    except ValueError:  # not even the 4 px every board needs
        cell = 0
    if cell < MIN_CELL_PX:  # a frame too small for this board: nothing can be read
        why = f"a {puzzle.size}x{puzzle.size} board needs cells of at least {MIN_CELL_PX} px, the frame gives {cell}"
        empty = np.zeros((0, puzzle.size, puzzle.size), dtype=np.int8)
        return judge(puzzle, empty, frames=[], num_frames=len(video), unreadable={0: why})
    reading = perceive(puzzle, video)
    unreadable = np.flatnonzero(~reading.readable)
    why = {int(unreadable[0]): reading.why_unreadable(int(unreadable[0]))} if len(unreadable) else {}
    return judge(puzzle, reading.states, frames=reading.frames, num_frames=len(video), unreadable=why)
