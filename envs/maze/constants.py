"""Every number and colour of VideoMaze in one place: presets, drawing, perception and reward."""

from __future__ import annotations

from dataclasses import dataclass

TASK_NAME = "maze"
ENV_ID = "VideoMaze-v0"


@dataclass(frozen=True)
class MazePreset:
    """A difficulty: grid size and the bucket of oracle path lengths (in moves, both ends included)."""

    size: tuple[int, int]
    path_lengths: tuple[int, int]


PRESETS: dict[str, MazePreset] = {
    "easy": MazePreset(size=(5, 5), path_lengths=(4, 8)),
    "medium": MazePreset(size=(7, 7), path_lengths=(10, 18)),
    "hard": MazePreset(size=(9, 9), path_lengths=(20, 32)),
}
ALGORITHMS = ("dfs", "kruskal")  # randomized depth-first search (long corridors) / Kruskal (many branches)
DEFAULT_ALGORITHM = "dfs"
MIN_SIDE, MAX_SIDE = 2, 32
MAX_MAZE_TRIES = 20  # mazes drawn before giving up on the path-length bucket
STARTS_PER_MAZE = 3  # random start cells tried per maze before drawing a new one

# Colours (RGB, 0..255): saturated, far apart in hue, so they survive H.264's 4:2:0 chroma.
FLOOR_RGB = (226, 226, 220)
WALL_RGB = (40, 44, 56)
AGENT_RGB = (222, 32, 38)
GOAL_RGB = (30, 172, 72)
START_RGB = (42, 92, 222)
COLOUR_NAMES = {"agent": "red", "goal": "green", "start": "blue"}

# Drawing, in cells.
WALL_THICKNESS = 0.2  # interior walls, centred on grid lines
OUTER_WALL_THICKNESS = 0.15  # outer walls lie inside the grid, so the white frame around it stays clean
MARKER_INSET = 0.14  # start/goal squares fill the cell minus this on each side
AGENT_RADIUS = 0.3

# Perception: every pixel of the board is area-averaged into square blocks of round(cell / SUBDIVISIONS)
# px, and each frame's blocks must be explained by the board drawn with the agent on one cell.
SUBDIVISIONS = 4
# Blur a frame may show, in px: the expected blocks are drawn at each level and a frame is compared with
# the level that explains it best (blur moves brightness within a block, never makes a wall vanish).
BLUR_SIGMAS = (0.0, 1.0, 2.0, 3.0)
# A cell is explained when no channel of any of its blocks is further than this from the expected block
# (colours normalised so the letterbox is 0 and the floor is its drawn colour). Measured on oracles at
# >= 240x416: <= 0.12 under H.264, noise sigma 16, blur sigma 3, 4% zoom with shift, casts and flicker;
# an erased wall >= 0.25, a half-transparent agent >= 0.25, a missing agent >= 0.49.
EXPLAIN_TOLERANCE = 0.2
FLOOR_MATCH = 0.01  # a block is floor (used to fix each frame's gain) when drawn within this of FLOOR_RGB
FLOOR_SAMPLES = 128  # floor blocks whose median fixes a frame's gain

# Rules.
MAX_MOVES_PER_FRAME = 1  # between consecutive frames the agent stays or moves to one adjacent open cell
END_FRACTION = 0.1  # the last max(2, ceil(END_FRACTION * T)) frames must all show the agent on the goal
MIN_END_FRAMES = 2
WEIGHTS = {"progress": 4.0, "path_valid": 2.0, "goal_reached": 2.0}
