"""Sokoban frames and oracle videos, letterboxed with :class:`videorlvr.envs.board.BoardGeometry`.

Each cell is filled with the wall or floor colour; a target is a red square in the middle of its
cell; a box is an amber square (green on a target) with a darker rim; the player is a blue disc.
Every object covers its cell centre, which is all the verifier reads.
"""

from __future__ import annotations

import functools

import numpy as np

from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.sokoban.constants import (
    BOX_FRACTION,
    BOX_ON_TARGET_RGB,
    BOX_RGB,
    FLOOR_RGB,
    HOLD_SHARE,
    MOVES,
    PLAYER_FRACTION,
    PLAYER_RGB,
    TARGET_FRACTION,
    TARGET_RGB,
    WALL_RGB,
)
from videorlvr.envs.sokoban.puzzle import Puzzle, State

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


def _square(frame: np.ndarray, geometry: BoardGeometry, row: float, col: float, fraction: float, rgb) -> None:
    """Fill a square of side ``fraction`` cells centred in cell (row, col); fractional cells slide it."""
    inset = _inset(geometry, fraction)
    side = geometry.cell - 2 * inset
    y0, x0 = geometry.origin
    top = y0 + round(row * geometry.cell) + inset
    left = x0 + round(col * geometry.cell) + inset
    frame[max(top, 0) : top + side, max(left, 0) : left + side] = rgb


@functools.lru_cache(maxsize=16)
def _disc_mask(diameter: int) -> np.ndarray:
    centre = (diameter - 1) / 2
    yy, xx = np.mgrid[:diameter, :diameter]
    return (yy - centre) ** 2 + (xx - centre) ** 2 <= (diameter / 2) ** 2


def _disc(frame: np.ndarray, geometry: BoardGeometry, row: float, col: float, fraction: float, rgb) -> None:
    """Fill a disc of diameter ``fraction`` cells centred in cell (row, col)."""
    inset = _inset(geometry, fraction)
    diameter = geometry.cell - 2 * inset
    y0, x0 = geometry.origin
    top = y0 + round(row * geometry.cell) + inset
    left = x0 + round(col * geometry.cell) + inset
    frame[top : top + diameter, left : left + diameter][_disc_mask(diameter)] = rgb


def _draw_scene(
    frame: np.ndarray,
    puzzle: Puzzle,
    geometry: BoardGeometry,
    player: tuple[float, float],
    boxes: list[tuple[float, float]],
) -> np.ndarray:
    """Draw boxes and the player at (fractional) cell positions (row, col) onto ``frame``."""
    rim = RIM_SHARE * 2
    for row, col in boxes:
        on_target = puzzle.targets[round(row), round(col)]
        fill = np.array(BOX_ON_TARGET_RGB if on_target else BOX_RGB)
        _square(frame, geometry, row, col, BOX_FRACTION, (fill * RIM_DARKEN).astype(np.uint8))
        _square(frame, geometry, row, col, BOX_FRACTION - rim, fill.astype(np.uint8))
    _disc(frame, geometry, player[0], player[1], PLAYER_FRACTION, PLAYER_RGB)
    return frame


def _state_frame(
    layout: np.ndarray,
    puzzle: Puzzle,
    geometry: BoardGeometry,
    state: State,
    move: str = "",
    phase: float = 0.0,
) -> np.ndarray:
    """A copy of ``layout`` showing ``state``, with ``move`` (one letter) ``phase`` of the way done."""
    player, boxes = state
    dr, dc = MOVES[move.lower()] if move else (0, 0)
    pushed = player + puzzle.offsets[move.lower()] if move.isupper() else None
    player_rc = puzzle.cell(player)
    box_cells = []
    for box in boxes:
        row, col = puzzle.cell(box)
        box_cells.append((row + dr * phase, col + dc * phase) if box == pushed else (row, col))
    return _draw_scene(
        layout.copy(), puzzle, geometry, (player_rc[0] + dr * phase, player_rc[1] + dc * phase), box_cells
    )


def render_state(puzzle: Puzzle, state: State, height: int, width: int) -> np.ndarray:
    """uint8 (H, W, 3): one state of the puzzle (any ``(player, boxes)``, even an impossible one)."""
    _check_size(height, width)
    geometry = BoardGeometry(puzzle.rows, puzzle.cols, int(height), int(width))
    return _state_frame(_layout(puzzle, geometry), puzzle, geometry, state)


def render_states(puzzle: Puzzle, states: list[State], height: int, width: int) -> np.ndarray:
    """uint8 (len(states), H, W, 3): one frame per state, no animation (for building test videos)."""
    _check_size(height, width)
    geometry = BoardGeometry(puzzle.rows, puzzle.cols, int(height), int(width))
    layout = _layout(puzzle, geometry)
    return np.stack([_state_frame(layout, puzzle, geometry, state) for state in states])


def render_first_frame(puzzle: Puzzle, height: int, width: int) -> np.ndarray:
    """uint8 (H, W, 3): the start position."""
    return render_state(puzzle, puzzle.start, height, width)


def frame_schedule(num_moves: int, num_frames: int) -> list[tuple[int, float]]:
    """For each frame: (moves completed, phase of the next move in [0, 1)).

    The last ``HOLD_SHARE`` of the frames hold the solved state. With at least one frame per move,
    each move slides over its frames and every intermediate state is shown at phase 0; with fewer
    frames than moves, each frame shows a whole state, several moves apart.
    """
    if num_frames < 2:
        raise ValueError(f"num_frames must be at least 2, got {num_frames}")
    hold = round(HOLD_SHARE * (num_frames - 1))
    active = max(1, num_frames - 1 - hold)  # frames 0..active animate, the rest hold
    schedule = []
    for t in range(num_frames):
        if t >= active or num_moves == 0:
            schedule.append((num_moves, 0.0))
        elif num_moves > active:
            schedule.append(((t * num_moves + active // 2) // active, 0.0))
        else:
            done = t * num_moves // active
            start, end = -(-done * active // num_moves), -(-(done + 1) * active // num_moves)
            schedule.append((done, (t - start) / (end - start)))
    return schedule


def render_solution(puzzle: Puzzle, height: int, width: int, num_frames: int) -> np.ndarray:
    """uint8 (T, H, W, 3): the oracle solving the puzzle (player slides one cell per move; a pushed box
    slides with it), then holding the solved state."""
    _check_size(height, width)
    if not isinstance(num_frames, (int, np.integer)) or isinstance(num_frames, bool):
        raise TypeError(f"num_frames must be an int, got {type(num_frames).__name__}")
    geometry = BoardGeometry(puzzle.rows, puzzle.cols, int(height), int(width))
    layout = _layout(puzzle, geometry)
    states, moves = puzzle.oracle_states, puzzle.solution
    video = np.empty((num_frames, geometry.height, geometry.width, 3), dtype=np.uint8)
    for t, (done, phase) in enumerate(frame_schedule(len(moves), int(num_frames))):
        move = moves[done] if phase > 0 else ""
        video[t] = _state_frame(layout, puzzle, geometry, states[done], move, phase)
    return video
