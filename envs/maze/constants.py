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
HOLD_FRACTION = 0.1  # the oracle rests on the goal for the last 10% of the transitions
SLIDE_MAX_SPEED = 1.0 / 3.0  # cells per frame; a faster oracle snaps the agent to whole cells

# Perception, in cells (sample offsets from cell centres / wall midpoints) and normalised colours.
CENTRE_RADIUS = 0.08  # 2x2 samples at +-this around each cell centre
WALL_SPAN = 0.2  # 2 samples along each wall at +-this from its midpoint
GOAL_RING = 0.28  # 4 samples at the goal cell's corners (+-this, less in tiny cells), outside the resting agent
AGENT_MARGIN = 0.35  # classify_colours margin for a confident agent reading
WEAK_MARGIN = 0.1  # any other cell this agent-like makes the frame ambiguous
HUE_DOMINANCE = 0.1  # a goal corner counts as goal when green exceeds red and blue by this much
# A wall position reads dark below the midpoint of the frame's floor brightness and its darkest wall
# positions; blur lifts thin walls towards the floor, so a fixed cut would lose them. The midpoint never
# rises above floor - WALL_MIN_CONTRAST / 2, so a frame with its walls erased still reads them open.
WALL_MIN_CONTRAST = 0.2
WALL_DARK_QUANTILE = 0.1
WALL_FRAME_STRIDE = 4  # walls and goal are read on every 4th frame (and the final frames)
EDGE_TOLERANCE = 0.05  # share of walls/openings a frame may misread and still count as preserved

# Rules.
SPEED_SLACK = 1.5  # speed limit k = max(1, ceil(SPEED_SLACK * oracle moves / (T - 1))) cells per frame
MAX_GAP_CREDIT = 2  # an unreadable stretch earns at most this many frames of motion
END_FRACTION = 0.1  # the last readable frame must lie in the final 10% of the video (>= 2 frames)
MAZE_PRESERVED_MIN = 0.9  # share of frames whose walls and goal must read as drawn, for success
WEIGHTS = {
    "start_correct": 1.0,
    "path_valid": 2.0,
    "progress": 4.0,
    "goal_reached": 2.0,
    "maze_preserved": 1.0,
}
