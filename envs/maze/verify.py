"""Maze perception: video -> the agent's cell per frame (with confidence) and maze integrity -> rules.

The board is located in every frame (:func:`videorlvr.envs.board.locate_board`) and only these pixels are
read, one gather per kind: 2x2 samples around every cell centre (classified as floor, agent, goal
or start) in every frame; 2 samples along every interior wall position (dark = wall, bright = open)
and 4 at the goal cell's corners on every WALL_FRAME_STRIDE-th frame and the final frames. A frame
whose agent is between cells, doubled or missing is left unread (``None``), never guessed.
:mod:`videorlvr.envs.maze.rules` judges the resulting sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from videorlvr.envs.board import classify_colours, locate_board, normalised_colours
from videorlvr.envs.maze.constants import (
    AGENT_MARGIN,
    AGENT_RGB,
    CENTRE_RADIUS,
    EDGE_TOLERANCE,
    FLOOR_RGB,
    GOAL_RGB,
    GOAL_RING,
    HUE_DOMINANCE,
    START_RGB,
    WALL_DARK_QUANTILE,
    WALL_FRAME_STRIDE,
    WALL_MIN_CONTRAST,
    WALL_SPAN,
    WEAK_MARGIN,
)
from videorlvr.envs.maze.generator import MazePuzzle
from videorlvr.envs.maze.render import geometry_for, marker_inset
from videorlvr.envs.maze.rules import end_window, judge, speed_limit
from videorlvr.envs.types import Cell, Verdict
from videorlvr.envs.video import VideoLike, as_video

CELL_PALETTE = np.array([FLOOR_RGB, AGENT_RGB, GOAL_RGB, START_RGB], dtype=np.float32)
_AGENT = 1


@dataclass(frozen=True)
class MazeReading:
    """What perception read from a video of T frames.

    cells: the agent's cell per frame, None where unreadable; confidence: float (T,) in [0, 1]
    (the colour margin of the agent reading, 0 where unreadable). The maze is checked on the frames
    ``checked_frames`` (F,): edge_agreement float (F,), the share of interior walls/openings read as
    drawn; goal_visible / maze_ok bool (F,).
    """

    cells: list[Cell | None]
    confidence: np.ndarray
    checked_frames: np.ndarray
    edge_agreement: np.ndarray
    goal_visible: np.ndarray
    maze_ok: np.ndarray

    @property
    def maze_preserved(self) -> float:
        return float(self.maze_ok.mean())


def _dominance(colours: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    """How far the channel that dominates ``rgb`` exceeds the other two: float (...,) for (..., 3)."""
    main = int(np.argmax(rgb))
    others = [channel for channel in range(3) if channel != main]
    return colours[..., main] - np.maximum(colours[..., others[0]], colours[..., others[1]])


@lru_cache(maxsize=256)
def _cell_points(rows: int, cols: int) -> np.ndarray:
    """Grid points (4N, 2): 2x2 samples around every cell centre, offset-major (4 blocks of N cells)."""
    rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    centres = np.stack([rr.ravel() + 0.5, cc.ravel() + 0.5], axis=1)
    d = CENTRE_RADIUS
    return np.concatenate([centres + offset for offset in ((-d, -d), (-d, d), (d, -d), (d, d))])


def goal_ring(cell: int) -> float:
    """Offset (cells) of the goal-corner samples from the goal cell's centre in a ``cell``-px cell.

    GOAL_RING, but never beyond the centre of the goal square's outermost pixel: at small cells the
    drawn square (whole pixels, :func:`videorlvr.envs.maze.render.marker_inset`) is narrower than its fraction.
    """
    return min(GOAL_RING, (cell / 2 - marker_inset(cell) - 0.5) / cell)


@lru_cache(maxsize=256)
def _maze_points(rows: int, cols: int, goal: Cell, cell: int) -> np.ndarray:
    """Grid points (2E + 4, 2): 2 samples along every interior wall position (sample-major: right
    walls then down walls, twice), then the goal cell's 4 corners (``cell``: cell side in px)."""
    rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    right_mid = np.stack([rr[:, :-1].ravel() + 0.5, cc[:, :-1].ravel() + 1.0], axis=1)
    down_mid = np.stack([rr[:-1, :].ravel() + 1.0, cc[:-1, :].ravel() + 0.5], axis=1)
    along = [np.concatenate([right_mid + (s, 0.0), down_mid + (0.0, s)]) for s in (-WALL_SPAN, WALL_SPAN)]
    g = goal_ring(cell)
    corners = np.array([[goal[0] + 0.5 + dy, goal[1] + 0.5 + dx] for dy in (-g, g) for dx in (-g, g)])
    return np.concatenate([*along, corners])


def maze_frames(num_frames: int) -> np.ndarray:
    """Frames whose walls and goal are checked: every WALL_FRAME_STRIDE-th and the final window."""
    tail = np.arange(max(0, num_frames - end_window(num_frames)), num_frames)
    return np.union1d(np.arange(0, num_frames, WALL_FRAME_STRIDE), tail)


def perceive(puzzle: MazePuzzle, video: np.ndarray) -> MazeReading:
    """Read a uint8 (T, H, W, 3) video of this puzzle at its own resolution."""
    frames = video.shape[0]
    geometry = geometry_for(puzzle, video.shape[1], video.shape[2])
    bounds = locate_board(video, geometry)
    cells = puzzle.rows * puzzle.cols

    centre = normalised_colours(video, geometry, bounds, _cell_points(puzzle.rows, puzzle.cols), size=1)
    centre = centre.reshape(frames, 4, cells, 3)
    centre = (centre[:, 0] + centre[:, 1] + centre[:, 2] + centre[:, 3]) * np.float32(0.25)  # (T, N, 3)
    labels, margin = classify_colours(centre, CELL_PALETTE)
    is_agent = labels == _AGENT
    confident = is_agent & (margin >= AGENT_MARGIN)
    readable = (
        bounds.found & (confident.sum(axis=1) == 1) & ((is_agent & (margin >= WEAK_MARGIN)).sum(axis=1) == 1)
    )
    agent_index = confident.argmax(axis=1)
    confidence = np.where(readable, margin[np.arange(frames), agent_index], 0.0).astype(np.float32)

    checked = maze_frames(frames)
    maze = normalised_colours(
        video,
        geometry,
        bounds,
        _maze_points(puzzle.rows, puzzle.cols, puzzle.goal, geometry.cell),
        size=1,
        frames=checked,
    )  # (F, 2E + 4, 3)
    brightness = np.maximum(np.maximum(maze[..., 0], maze[..., 1]), maze[..., 2])
    edges = (brightness.shape[1] - 4) // 2
    wall_read = (brightness[:, :edges] + brightness[:, edges : 2 * edges]) * np.float32(0.5)  # (F, E)
    centre_brightness = np.maximum(np.maximum(centre[checked, :, 0], centre[checked, :, 1]), centre[checked, :, 2])
    floor = np.median(centre_brightness, axis=1)  # most cells are floor
    darkest = np.minimum(np.quantile(wall_read, WALL_DARK_QUANTILE, axis=1), floor - WALL_MIN_CONTRAST)
    dark = wall_read < ((floor + darkest) * 0.5)[:, None]
    drawn_wall = np.concatenate([~puzzle.right.ravel(), ~puzzle.down.ravel()])
    edge_agreement = (dark == drawn_wall).mean(axis=1)
    # Goal corners are judged by hue dominance, which survives the desaturation of strong compression.
    # Two of four must read as goal, or as the agent covering it (entering the goal, it may cover two),
    # one of them as the goal itself. A frame whose agent is read standing on the goal cell passes: the
    # agent covers the goal (all of it in cells under 6 px, and its thin visible rim blurs into it under
    # chroma subsampling in small cells).
    ring_goal = (_dominance(maze[:, -4:], GOAL_RGB) > HUE_DOMINANCE).sum(axis=1)
    ring_agent = (_dominance(maze[:, -4:], AGENT_RGB) > HUE_DOMINANCE).sum(axis=1)
    on_goal = readable & (agent_index == puzzle.goal[0] * puzzle.cols + puzzle.goal[1])
    goal_visible = ((ring_goal >= 1) & (ring_goal + ring_agent >= 2)) | on_goal[checked]
    maze_ok = bounds.found[checked] & goal_visible & (edge_agreement >= 1.0 - EDGE_TOLERANCE)

    cols = puzzle.cols
    cell_list: list[Cell | None] = [
        divmod(index, cols) if ok else None for index, ok in zip(agent_index.tolist(), readable.tolist())
    ]
    return MazeReading(cell_list, confidence, checked, edge_agreement, goal_visible, maze_ok)


def verify(puzzle: MazePuzzle, video: VideoLike) -> Verdict:
    """Score a video (anything :func:`videorlvr.envs.video.as_video` accepts) of this puzzle at its own resolution."""
    if not isinstance(puzzle, MazePuzzle):
        raise TypeError(f"puzzle must be a MazePuzzle, got {type(puzzle).__name__}")
    frames = as_video(video)
    reading = perceive(puzzle, frames)
    speed = speed_limit(puzzle.path_length, len(frames))
    return judge(puzzle, reading.cells, speed=speed, maze_preserved=reading.maze_preserved)
