"""Drawing mazes: the first frame and the oracle solution video, at any size and any frame count the
maze allows (:func:`videorlvr.envs.maze.rules.min_frames`).

The oracle agent always stands on a whole cell: each move happens between two consecutive frames, so
every frame is a readable state (a disc between two cells is not a state the verifier accepts).
"""

from __future__ import annotations

import numpy as np

from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.maze.constants import (
    AGENT_RADIUS,
    AGENT_RGB,
    FLOOR_RGB,
    GOAL_RGB,
    MARKER_INSET,
    OUTER_WALL_THICKNESS,
    START_RGB,
    WALL_RGB,
    WALL_THICKNESS,
)
from videorlvr.envs.maze.generator import MazePuzzle
from videorlvr.envs.maze.rules import end_window, min_frames
from videorlvr.envs.types import check_pace

_PALETTE = np.array([FLOOR_RGB, WALL_RGB, START_RGB, GOAL_RGB], dtype=np.uint8)
_FLOOR, _WALL, _START, _GOAL = range(4)


def geometry_for(puzzle: MazePuzzle, height: int, width: int) -> BoardGeometry:
    return BoardGeometry(puzzle.rows, puzzle.cols, int(height), int(width))


def marker_inset(cell: int) -> int:
    """Pixels left floor-coloured on each side of a start/goal square in a ``cell``-px cell."""
    return round(MARKER_INSET * cell)


def _line_index(length: int, lines: int, cell: int, thickness: float, outer: float) -> np.ndarray:
    """For each pixel along one axis of the grid, the grid line it lies on, or -1. int (length,)."""
    centre = np.arange(length) + 0.5
    nearest = np.rint(centre / cell).astype(np.int64)
    on_line = (np.abs(centre - nearest * cell) < thickness / 2) & (nearest > 0) & (nearest < lines)
    nearest = np.where(centre < outer, 0, np.where(centre > length - outer, lines, nearest))
    return np.where(on_line | (centre < outer) | (centre > length - outer), nearest, -1)


def render_board(puzzle: MazePuzzle, geometry: BoardGeometry) -> np.ndarray:
    """uint8 (H, W, 3): floor, walls and the start and goal squares, without the agent."""
    rows, cols, cell = puzzle.rows, puzzle.cols, geometry.cell
    thickness, outer = max(2.0, WALL_THICKNESS * cell), max(1.5, OUTER_WALL_THICKNESS * cell)
    grid_h, grid_w = rows * cell, cols * cell
    row_of_y = np.minimum(np.arange(grid_h) // cell, rows - 1)
    col_of_x = np.minimum(np.arange(grid_w) // cell, cols - 1)
    line_y = _line_index(grid_h, rows, cell, thickness, outer)  # horizontal grid line under each pixel row
    line_x = _line_index(grid_w, cols, cell, thickness, outer)  # vertical grid line under each pixel column
    closed_vertical = np.ones((rows, cols + 1), dtype=bool)  # wall on vertical line j beside row r
    closed_vertical[:, 1:-1] = ~puzzle.right
    closed_horizontal = np.ones((rows + 1, cols), dtype=bool)  # wall on horizontal line i above col c
    closed_horizontal[1:-1, :] = ~puzzle.down
    vertical = (line_x >= 0)[None, :] & closed_vertical[row_of_y[:, None], np.maximum(line_x, 0)[None, :]]
    horizontal = (line_y >= 0)[:, None] & closed_horizontal[np.maximum(line_y, 0)[:, None], col_of_x[None, :]]
    posts = (line_y >= 0)[:, None] & (line_x >= 0)[None, :]
    labels = np.full((grid_h, grid_w), _FLOOR, dtype=np.uint8)
    inset = marker_inset(cell)
    for (r, c), label in ((puzzle.start, _START), (puzzle.goal, _GOAL)):
        labels[r * cell + inset : (r + 1) * cell - inset, c * cell + inset : (c + 1) * cell - inset] = label
    labels[vertical | horizontal | posts] = _WALL
    frame = geometry.blank_frame()
    y0, x0 = geometry.origin
    frame[y0 : y0 + grid_h, x0 : x0 + grid_w] = _PALETTE[labels]
    return frame


def _draw_agent(frame: np.ndarray, geometry: BoardGeometry, gy: float, gx: float) -> None:
    """Paint the agent disc centred at grid point (gy, gx) into ``frame`` (H, W, 3) in place."""
    py, px = geometry.to_pixels(gy, gx)
    radius = AGENT_RADIUS * geometry.cell
    top, left = int(np.floor(py - radius)), int(np.floor(px - radius))
    bottom, right = int(np.ceil(py + radius)) + 1, int(np.ceil(px + radius)) + 1
    yy = np.arange(top, bottom)[:, None] + 0.5 - py
    xx = np.arange(left, right)[None, :] + 0.5 - px
    frame[top:bottom, left:right][yy**2 + xx**2 <= radius**2] = AGENT_RGB


def agent_schedule(path_length: int, num_frames: int, pace: str = "steady") -> np.ndarray:
    """Moves made along the oracle path by each frame: int (num_frames,).

    ``pace="steady"``: the agent walks at a steady pace (at most one move per frame), reaches the goal at
    frame ``T - end_window(T)`` and rests there for the final window. ``"eager"``: one move per frame from
    frame 1, then it rests on the goal (see :data:`videorlvr.envs.types.PACES`).
    """
    check_pace(pace)
    arrive = num_frames - end_window(num_frames)
    if path_length > arrive:
        raise ValueError(f"{path_length} moves do not fit in {num_frames} frames at one move per frame")
    if path_length == 0:
        return np.zeros(num_frames, dtype=np.int64)
    if pace == "eager":
        return np.minimum(np.arange(num_frames), path_length)
    moves = np.floor(np.arange(num_frames) * (path_length / arrive) + 0.5).astype(np.int64)
    return np.minimum(moves, path_length)


def _check_size(height: int, width: int, num_frames: int = 2) -> None:
    for name, value in (("height", height), ("width", width), ("num_frames", num_frames)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if num_frames < 2:
        raise ValueError(f"num_frames must be at least 2, got {num_frames}")


def render_first_frame(puzzle: MazePuzzle, height: int = 480, width: int = 832) -> np.ndarray:
    """uint8 (height, width, 3): the maze with the agent on the start."""
    _check_size(height, width)
    geometry = geometry_for(puzzle, height, width)
    frame = render_board(puzzle, geometry)
    _draw_agent(frame, geometry, puzzle.start[0] + 0.5, puzzle.start[1] + 0.5)
    return frame


def render_agent_path(puzzle: MazePuzzle, height: int, width: int, centres: np.ndarray) -> np.ndarray:
    """uint8 (T, height, width, 3): the maze with the agent disc at grid point ``centres[t]`` (T, 2) in
    frame t (cell (r, c)'s centre is (r + 0.5, c + 0.5); NaN hides the agent). Used for the oracle
    and for drawing any other agent motion, legal or not."""
    centres = np.asarray(centres, dtype=np.float64)
    if centres.ndim != 2 or centres.shape[1] != 2 or len(centres) < 1:
        raise ValueError(f"centres must have shape (T, 2), got {centres.shape}")
    _check_size(height, width)
    geometry = geometry_for(puzzle, height, width)
    board = render_board(puzzle, geometry)
    video = np.empty((len(centres), *board.shape), dtype=np.uint8)
    for t, (gy, gx) in enumerate(centres):
        video[t] = board
        if np.isfinite(gy) and np.isfinite(gx):
            _draw_agent(video[t], geometry, gy, gx)
    return video


def render_solution(
    puzzle: MazePuzzle, height: int = 480, width: int = 832, num_frames: int = 81, pace: str = "steady"
) -> np.ndarray:
    """uint8 (num_frames, height, width, 3): the agent walking the oracle path one cell per frame at most,
    then resting on the goal (``pace``: :func:`agent_schedule`). Raises ValueError when
    ``num_frames < min_frames(puzzle)``."""
    _check_size(height, width, num_frames)
    needed = min_frames(puzzle)
    if num_frames < needed:
        raise ValueError(
            f"this maze's oracle path has {puzzle.path_length} moves: its video needs at least {needed} frames "
            f"(one move per frame, then the goal held), got {num_frames}"
        )
    path = np.asarray(puzzle.solution, dtype=np.float64) + 0.5  # (L+1, 2) cell centres
    return render_agent_path(puzzle, height, width, path[agent_schedule(puzzle.path_length, num_frames, pace)])
