"""The perception half of the Sokoban verifier: video -> one board state per frame -> :func:`rules.judge`.

Each frame's board is located (:func:`videorlvr.envs.board.locate_board`) and every pixel of it is
area-averaged into a few blocks per cell (:func:`read_cells`). Every cell is
compared with the renderer's own drawing of it empty, holding a box and holding the player; the
closest drawing is what the cell shows. A frame is *readable* only if that reading explains every
cell (no block off by more than ``CELL_TOLERANCE``, the runner-up drawing worse by at least
``MIN_SEPARATION`` of the gap between the two) and shows one player and the puzzle's number of
boxes; an unreadable frame ends the legal prefix like an illegal move (see :mod:`.rules`). So walls
and targets are checked in every frame (an erased wall or moved target is a cell no drawing
explains), and nothing between cells — a half-drawn or ghosted object, pixels copied at a few points
— can pass as a state.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from videorlvr.envs.board import BoardGeometry, FrameBounds, locate_board
from videorlvr.envs.footprint import (
    block_means,
    cell_area_boxes,
    cell_max,
    normalise,
    subdivisions,
    worst_channel,
)
from videorlvr.envs.sokoban.constants import (
    CELL_TOLERANCE,
    GAIN_RANGE,
    MIN_HALVED_CELL_PX,
    MIN_SEPARATION,
    REFIT_ABOVE,
)
from videorlvr.envs.sokoban.puzzle import Puzzle, State
from videorlvr.envs.sokoban.render import content_frames
from videorlvr.envs.sokoban.rules import end_frames, judge, min_frames, read_path
from videorlvr.envs.types import Verdict
from videorlvr.envs.video import VideoLike, as_video

EMPTY, BOX, PLAYER = range(3)  # what a cell holds: the index into content_frames


@dataclass(frozen=True)
class Reading:
    """What perception saw, per frame: ``states`` (``None`` where unreadable), ``problems`` (why a frame
    is unreadable, "" where readable) and ``residual`` float (T,), the worst cell's closest residual."""

    states: list[State | None]
    problems: list[str]
    residual: np.ndarray


@functools.lru_cache(maxsize=64)
def _split(height: int, width: int, block_rows: int, block_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``height x width`` area split as evenly as possible into ``block_rows x block_cols`` blocks of
    whole pixels: the flat indices of the block corners in its integral image, ((block_rows+1) *
    (block_cols+1),), and each block's area, float32 (block_rows, block_cols, 1)."""
    ys = np.rint(np.linspace(0, height, block_rows + 1)).astype(np.intp)
    xs = np.rint(np.linspace(0, width, block_cols + 1)).astype(np.intp)
    areas = np.maximum(np.outer(np.diff(ys), np.diff(xs)), 1).astype(np.float32)[..., None]
    return (ys[:, None] * (width + 1) + xs[None, :]).ravel(), areas


def _uneven_means(area: np.ndarray, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Mean colour of ``shape`` blocks of whole pixels splitting a cell area (H, W, 3) as evenly as possible
    (a cell of 37 px splits into 9, 9, 9 and 10), channel first float32 (3, *shape): summed from an
    integral image, which costs the same for any split, where OpenCV's area resize is twice as slow."""
    height, width = area.shape[:2]
    if height % 2 == 0 and width % 2 == 0 and cell >= MIN_HALVED_CELL_PX:
        # 2x2 means first (OpenCV's fast exact path): a quarter of the pixels to integrate. Not in small
        # cells, where a pixel pair straddling a block edge would blur the cell's drawing.
        height, width = height // 2, width // 2
        area = cv2.resize(area, (width, height), interpolation=cv2.INTER_AREA)
    corner_index, areas = _split(height, width, *shape)
    corners = np.take(cv2.integral(area).reshape(-1, 3), corner_index, axis=0)
    corners = corners.reshape(shape[0] + 1, shape[1] + 1, 3)
    sums = corners[1:, 1:] - corners[:-1, 1:] - corners[1:, :-1] + corners[:-1, :-1]
    return (sums / areas).astype(np.float32).transpose(2, 0, 1)


def read_cells(video: np.ndarray, geometry: BoardGeometry, bounds: FrameBounds, sub: int) -> np.ndarray:
    """Normalised block colours of every located board, channel first: float32 ``(3, T, rows*sub, cols*sub)``.

    Like :func:`videorlvr.envs.footprint.read_blocks` (every pixel of each frame's cell area lands in its
    block; the frame's black is 0 and white 1); a cell area that does not split into equal whole-pixel
    blocks splits into nearly equal ones (:func:`_uneven_means`).
    """
    boxes = cell_area_boxes(geometry, bounds, np.arange(len(video)))
    shape = (geometry.rows * sub, geometry.cols * sub)
    means, even = block_means(video, boxes, shape)
    for frame in np.flatnonzero(~even).tolist():
        top, bottom, left, right = boxes[frame].tolist()
        means[:, frame] = _uneven_means(video[frame, top:bottom, left:right], shape, geometry.cell)
    normalise(means, video, geometry, bounds)
    return means


@functools.lru_cache(maxsize=32)
def _drawn(puzzle: Puzzle, height: int, width: int) -> tuple[BoardGeometry, int, np.ndarray, np.ndarray]:
    """The geometry, blocks per cell side, the drawn blocks of every cell empty / with a box / with the
    player, float32 (3, 3, rows*sub, cols*sub) (content, then channel), and the separation each cell's
    reading needs, (cells,)."""
    geometry = BoardGeometry(puzzle.rows, puzzle.cols, height, width)
    sub = subdivisions(geometry)
    frames = content_frames(puzzle, geometry)
    left, right, top, bottom = (np.full(len(frames), edge, dtype=np.float64) for edge in geometry.outer)
    drawn = read_cells(frames, geometry, FrameBounds(left, right, top, bottom, np.ones(len(frames), dtype=bool)), sub)
    drawn = np.ascontiguousarray(drawn.transpose(1, 0, 2, 3))
    # How far apart each cell's drawings are (its smallest pairwise residual): tiny cells draw the player
    # as a few pixels, so the separation a clear reading needs scales with it.
    gaps = [_residuals(drawn[a][:, None], drawn[b], sub) for a, b in ((0, 1), (0, 2), (1, 2))]
    separation = MIN_SEPARATION * np.minimum.reduce(gaps).reshape(-1)
    return geometry, sub, drawn, separation


def _residuals(observed: np.ndarray, expected: np.ndarray, sub: int) -> np.ndarray:
    """Per cell, the largest channel difference over its blocks: float32 (F, rows, cols), for channel-first
    blocks ``observed`` (3, F, rows*sub, cols*sub) and ``expected`` (3, rows*sub, cols*sub)."""
    return cell_max(worst_channel(observed, expected), sub)


def _read(observed: np.ndarray, drawn: np.ndarray, sub: int) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's closest content, int (F, cells), and the residuals of its closest and runner-up
    drawings, float (F, 2, cells)."""
    frames = observed.shape[1]
    empty, box, player = (_residuals(observed, blocks, sub).reshape(frames, -1) for blocks in drawn)
    best = np.minimum(np.minimum(empty, box), player)
    runner_up = np.maximum(np.maximum(np.minimum(empty, box), np.minimum(box, player)), np.minimum(empty, player))
    content = np.where(empty == best, EMPTY, np.where(box == best, BOX, PLAYER))
    return content, np.stack([best, runner_up], axis=1)


def _refit(observed: np.ndarray, drawn: np.ndarray, content: np.ndarray, rows: int, cols: int, sub: int) -> np.ndarray:
    """``observed`` (3, F, rows*sub, cols*sub) mapped by the per-frame, per-channel gain and offset that
    best match it to the drawing of the contents read from it (least squares, gain in ``GAIN_RANGE``).

    Blur and compression dim the thin white frame the colours are normalised by, and strong casts clip;
    two numbers per channel cannot draw an object or a wall, so this only undoes a global colour error.
    """
    frames = len(content)
    cells = np.broadcast_to(content.reshape(frames, rows, 1, cols, 1), (frames, rows, sub, cols, sub))
    cells = cells.reshape(frames, rows * sub, cols * sub)
    expected = np.choose(cells, [blocks[:, None] for blocks in drawn])  # drawn[content] of every block
    flat_expected = expected.reshape(3, frames, -1)
    flat_observed = observed.reshape(3, frames, -1)
    mean_expected = flat_expected.mean(axis=2, keepdims=True)
    mean_observed = flat_observed.mean(axis=2, keepdims=True)
    centred = flat_expected - mean_expected
    gain = (centred * (flat_observed - mean_observed)).sum(axis=2, keepdims=True)
    gain = np.clip(gain / np.maximum((centred * centred).sum(axis=2, keepdims=True), 1e-6), *GAIN_RANGE)
    offset = mean_observed - gain * mean_expected
    return ((flat_observed - offset) / gain).reshape(observed.shape).astype(np.float32)


def perceive(puzzle: Puzzle, video: VideoLike) -> Reading:
    """Read every frame of ``video`` (anything :func:`videorlvr.envs.video.as_video` accepts) into a state."""
    video = as_video(video)
    geometry, sub, drawn, separation = _drawn(puzzle, video.shape[1], video.shape[2])
    rows, cols = puzzle.rows, puzzle.cols
    observed = read_cells(video, geometry, locate_board(video, geometry), sub)
    content, fit = _read(observed, drawn, sub)
    redo = np.flatnonzero(fit[:, 0].max(axis=1) > REFIT_ABOVE)
    if len(redo):  # frames that fit as drawn (every clean one) skip the colour correction
        fitted = _refit(observed[:, redo], drawn, content[redo], rows, cols, sub)
        content[redo], fit[redo] = _read(fitted, drawn, sub)
    best, runner_up = fit[:, 0], fit[:, 1]
    ambiguous = runner_up - best < separation
    unexplained = (best > CELL_TOLERANCE) | ambiguous
    worst_cell = np.where(unexplained, best + 1.0, best).argmax(axis=1).tolist()
    players = (content == PLAYER).sum(axis=1)
    boxes = (content == BOX).sum(axis=1)
    player_cells = (content == PLAYER).argmax(axis=1).tolist()
    states: list[State | None] = []
    problems: list[str] = []
    for t in range(len(video)):
        cell = worst_cell[t]
        if unexplained[t, cell]:
            problem = _unexplained(puzzle, cell, float(best[t, cell]), float(runner_up[t, cell]))
        elif players[t] != 1:
            problem = f"{players[t]} players seen (one expected)"
        elif boxes[t] != puzzle.num_boxes:
            problem = f"{boxes[t]} boxes seen, {puzzle.num_boxes} expected (boxes appeared, vanished or merged)"
        else:
            problem = ""
        problems.append(problem)
        states.append(None if problem else (player_cells[t], tuple(np.flatnonzero(content[t] == BOX).tolist())))
    return Reading(states, problems, best.max(axis=1))


def _unexplained(puzzle: Puzzle, cell: int, best: float, runner_up: float) -> str:
    row, col = puzzle.cell(cell)
    kind = "wall" if puzzle.walls[row, col] else "target" if puzzle.targets[row, col] else "floor"
    if best > CELL_TOLERANCE:
        return (
            f"cell ({row}, {col}) ({kind}) matches no drawing of it, empty, with a box or with the player "
            f"(a block off by {best:.2f} > {CELL_TOLERANCE}: the {kind} changed, or an object off its cell)"
        )
    return (
        f"cell ({row}, {col}) ({kind}) is ambiguous: two drawings of it fit about equally well (off by "
        f"{best:.2f} and {runner_up:.2f}): an object half there, or between cells"
    )


def verify(puzzle: Puzzle, video: VideoLike) -> Verdict:
    """Judge a video (uint8/float ``(T, H, W, 3)``, a tensor or a file path) at its own resolution."""
    reading = perceive(puzzle, video)
    frames = len(reading.states)
    return judge(
        puzzle,
        reading.states,
        problems=reading.problems,
        window=end_frames(frames),
        needed=min_frames(len(puzzle.solution)),
        from_video=True,
    )


def read_moves(puzzle: Puzzle, video: VideoLike) -> str:
    """The legal move string (``udlr``, uppercase = push) the video shows, up to its first broken rule."""
    states = perceive(puzzle, video).states
    return read_path(puzzle, states) if states and states[0] == puzzle.start else ""
