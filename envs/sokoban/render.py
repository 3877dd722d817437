"""Sokoban frames and oracle videos, letterboxed with :class:`videorlvr.envs.board.BoardGeometry`.

Each cell is filled with the wall or floor colour; a target is a red square in the middle of its
cell; a box is an amber square (green on a target) with a darker rim; the player is a blue disc.
Objects always sit exactly on a cell: an oracle video shows one whole state per frame, at most one
move apart (the verifier's rule), so every frame is a state the verifier can explain cell by cell.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np

from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.sokoban.constants import (
    BOX_FRACTION,
    BOX_ON_TARGET_RGB,
    BOX_RGB,
    FLOOR_RGB,
    PLAYER_FRACTION,
    PLAYER_RGB,
    TARGET_FRACTION,
    TARGET_RGB,
    WALL_RGB,
)
from videorlvr.envs.sokoban.puzzle import Puzzle, State
from videorlvr.envs.sokoban.rules import end_frames, min_frames
from videorlvr.envs.types import check_pace

RIM_SHARE = 0.09  # box rim thickness as a share of a cell
RIM_DARKEN = 0.7


def _check_size(height: int, width: int) -> None:
    for name, value in (("height", height), ("width", width)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")


def _layout(puzzle: Puzzle, geometry: BoardGeometry) -> np.ndarray:
    """uint8 (H, W, 3): letterbox, border, walls, floor and targets (no boxes, no player)."""
    frame = geometry.blank_frame()
    colours = np.where(puzzle.walls[..., None], np.array(WALL_RGB, np.uint8), np.array(FLOOR_RGB, np.uint8))
    cells = np.repeat(np.repeat(colours, geometry.cell, axis=0), geometry.cell, axis=1)
    y0, x0 = geometry.origin
    frame[y0 : y0 + cells.shape[0], x0 : x0 + cells.shape[1]] = cells
    for row, col in zip(*np.nonzero(puzzle.targets)):
        _square(frame, geometry, row, col, TARGET_FRACTION, TARGET_RGB)
    return frame


def _inset(geometry: BoardGeometry, fraction: float) -> int:
    """Pixels between a cell's edge and a centred object of side ``fraction`` cells; equal on both sides
    (the object's side has the cell's parity) so that every object is centred on its cell exactly."""
    return min(max(0, round(geometry.cell * (1.0 - fraction) / 2)), (geometry.cell - 2) // 2)


def _square(frame: np.ndarray, geometry: BoardGeometry, row: int, col: int, fraction: float, rgb) -> None:
    """Fill a square of side ``fraction`` cells centred in cell (row, col)."""
    inset = _inset(geometry, fraction)
    side = geometry.cell - 2 * inset
    y0, x0 = geometry.origin
    top, left = y0 + row * geometry.cell + inset, x0 + col * geometry.cell + inset
    frame[top : top + side, left : left + side] = rgb


@functools.lru_cache(maxsize=16)
def _disc_mask(diameter: int) -> np.ndarray:
    centre = (diameter - 1) / 2
    yy, xx = np.mgrid[:diameter, :diameter]
    return (yy - centre) ** 2 + (xx - centre) ** 2 <= (diameter / 2) ** 2


def _disc(frame: np.ndarray, geometry: BoardGeometry, row: int, col: int, fraction: float, rgb) -> None:
    """Fill a disc of diameter ``fraction`` cells centred in cell (row, col)."""
    inset = _inset(geometry, fraction)
    diameter = geometry.cell - 2 * inset
    y0, x0 = geometry.origin
    top, left = y0 + row * geometry.cell + inset, x0 + col * geometry.cell + inset
    frame[top : top + diameter, left : left + diameter][_disc_mask(diameter)] = rgb


def _draw_scene(frame: np.ndarray, puzzle: Puzzle, geometry: BoardGeometry, player: int | None,
                boxes: Iterable[int]) -> np.ndarray:
    """Draw boxes and the player (flat cells; ``None``: no player) onto ``frame``, in place."""
    inner = BOX_FRACTION - 2 * RIM_SHARE
    for box in boxes:
        row, col = puzzle.cell(box)
        fill = np.array(BOX_ON_TARGET_RGB if puzzle.targets[row, col] else BOX_RGB)
        _square(frame, geometry, row, col, BOX_FRACTION, (fill * RIM_DARKEN).astype(np.uint8))
        _square(frame, geometry, row, col, inner, fill.astype(np.uint8))
    if player is not None:
        _disc(frame, geometry, *puzzle.cell(player), PLAYER_FRACTION, PLAYER_RGB)
    return frame


def _state_frame(layout: np.ndarray, puzzle: Puzzle, geometry: BoardGeometry, state: State) -> np.ndarray:
    """A copy of ``layout`` showing ``state``."""
    return _draw_scene(layout.copy(), puzzle, geometry, state[0], state[1])


def content_frames(puzzle: Puzzle, geometry: BoardGeometry) -> np.ndarray:
    """uint8 (3, H, W, 3): every cell empty, every cell holding a box, every cell holding the player.

    Cells are drawn independently, so any state's drawing is these frames' cells composed; the verifier
    builds its expected blocks from them instead of re-rendering each frame.
    """
    layout = _layout(puzzle, geometry)
    everywhere = range(puzzle.rows * puzzle.cols)
    boxes = _draw_scene(layout.copy(), puzzle, geometry, None, everywhere)
    player = layout.copy()
    for cell in everywhere:
        _draw_scene(player, puzzle, geometry, cell, ())
    return np.stack([layout, boxes, player])


def render_state(puzzle: Puzzle, state: State, height: int, width: int) -> np.ndarray:
    """uint8 (H, W, 3): one state of the puzzle (any ``(player, boxes)``, even an impossible one)."""
    _check_size(height, width)
    geometry = BoardGeometry(puzzle.rows, puzzle.cols, int(height), int(width))
    return _state_frame(_layout(puzzle, geometry), puzzle, geometry, state)


def render_states(puzzle: Puzzle, states: list[State], height: int, width: int) -> np.ndarray:
    """uint8 (len(states), H, W, 3): one frame per state (for building test videos)."""
    _check_size(height, width)
    geometry = BoardGeometry(puzzle.rows, puzzle.cols, int(height), int(width))
    layout = _layout(puzzle, geometry)
    drawn: dict[State, np.ndarray] = {}
    video = np.empty((len(states), geometry.height, geometry.width, 3), dtype=np.uint8)
    for index, state in enumerate(states):
        if state not in drawn:
            drawn[state] = _state_frame(layout, puzzle, geometry, state)
        video[index] = drawn[state]
    return video


def render_first_frame(puzzle: Puzzle, height: int, width: int) -> np.ndarray:
    """uint8 (H, W, 3): the start position."""
    return render_state(puzzle, puzzle.start, height, width)


def frame_schedule(num_moves: int, num_frames: int, pace: str = "steady") -> list[int]:
    """For each frame, the number of oracle moves completed: non-decreasing, at most one more per frame,
    all done by the end window (:func:`rules.end_frames`); ``pace="steady"`` spreads the moves evenly
    before it, ``"eager"`` makes one per frame from frame 1 (see :data:`videorlvr.envs.types.PACES`).

    Needs ``num_frames >= rules.min_frames(num_moves)``.
    """
    check_pace(pace)
    active = num_frames - end_frames(num_frames)  # the frame where the solved state is first shown
    if active < num_moves:
        raise ValueError(
            f"{num_frames} frames cannot show {num_moves} moves one per frame and then the solved end; "
            f"at least {min_frames(num_moves)} frames are needed"
        )
    if pace == "eager":
        return [min(t, num_moves) for t in range(num_frames)]
    return [num_moves * min(t, active) // active if active else num_moves for t in range(num_frames)]


def render_solution(puzzle: Puzzle, height: int, width: int, num_frames: int, pace: str = "steady") -> np.ndarray:
    """uint8 (T, H, W, 3): the oracle solving the puzzle at most one move per frame (each frame a whole
    state; ``pace``: :func:`frame_schedule`), then holding the solved state;
    ``T >= rules.min_frames(len(solution))``."""
    _check_size(height, width)
    if not isinstance(num_frames, (int, np.integer)) or isinstance(num_frames, bool):
        raise TypeError(f"num_frames must be an int, got {type(num_frames).__name__}")
    states = puzzle.oracle_states
    schedule = frame_schedule(len(puzzle.solution), int(num_frames), pace)
    return render_states(puzzle, [states[done] for done in schedule], height, width)
