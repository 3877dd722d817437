"""Every FlowFree constant in one place: presets, palette, drawing, perception, rules and reward."""

from __future__ import annotations

TASK_NAME = "flowfree"
ENV_ID = "VideoFlowFree-v0"

# --- Difficulty presets: board side (cells) and number of colours (pipes) ---------------------------
PRESETS: dict[str, dict[str, int]] = {
    "easy": {"size": 5, "num_colors": 4},
    "medium": {"size": 7, "num_colors": 6},
    "hard": {"size": 9, "num_colors": 8},
}
MIN_SIZE, MAX_SIZE = 4, 12
MIN_PATH_CELLS = 3  # a pipe covers at least 3 cells: its endpoints are never adjacent
MAX_ATTEMPTS = 300  # path covers drawn per generate() call before giving up
NODE_BUDGET = 20_000  # solver nodes per uniqueness check; running out rejects the board
TOTAL_NODE_BUDGET = 600_000  # solver nodes per generate() call, over all attempts

# --- Colours (RGB, 0..255) ------------------------------------------------------------------------
# Pipe colours, most distinct first (a puzzle with k colours uses the first k). Every pair, and every
# colour against the floor, is at least 0.32 apart in RGB scaled to [0, 1]; none is pure white or black.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 30, 30),  # red
    (20, 150, 40),  # green
    (40, 80, 240),  # blue
    (240, 225, 30),  # yellow
    (250, 140, 20),  # orange
    (40, 220, 230),  # cyan
    (230, 40, 210),  # magenta
    (130, 50, 170),  # purple
    (165, 95, 25),  # brown
    (190, 190, 195),  # silver
    (160, 240, 90),  # lime
    (255, 140, 200),  # pink
    (20, 130, 130),  # teal
    (120, 170, 250),  # sky blue
    (210, 170, 100),  # tan
    (120, 20, 50),  # maroon
)
COLOUR_NAMES: tuple[str, ...] = (
    "red", "green", "blue", "yellow", "orange", "cyan", "magenta", "purple",
    "brown", "silver", "lime", "pink", "teal", "sky blue", "tan", "maroon",
)
FLOOR_RGB = (40, 40, 48)  # empty cells: dark slate, so every pipe colour stands out
GRID_RGB = (80, 80, 94)  # grid lines between cells

# --- Drawing, as a share of a cell ------------------------------------------------------------------
ENDPOINT_RADIUS = 0.36  # endpoint discs
STROKE_WIDTH = 0.42  # pipes: thick strokes through the cell centres
GRID_LINE_WIDTH = 0.05
HOLD_FRACTION = 0.1  # the oracle holds the solved board for the last 10% of the transitions

# --- Perception -------------------------------------------------------------------------------------
SAMPLE_RADIUS = 0.1  # 2x2 samples at +-this (cells) around each cell centre, well inside the stroke
MIN_MARGIN = 0.2  # a frame is readable only if every cell's colour is at least this unambiguous

# --- Rules ------------------------------------------------------------------------------------------
GROWTH_SLACK = 4.0  # a transition may fill up to this many times the oracle's mean cells per frame
MIN_GROWTH = 2  # ... and always at least this many cells
MAX_GAP_CREDIT = 2  # unreadable frames between two readings earn at most this many frames of growth
END_FRACTION = 0.1  # the first/last reading must lie in the first/last 10% of the video (>= 2 frames)

# --- Dense reward weights (see rules.judge) ----------------------------------------------------------
WEIGHTS: dict[str, float] = {
    "endpoints_preserved": 0.5,
    "no_crossing": 0.5,
    "process_valid": 1.0,
    "fill_rate": 1.0,
    "connectivity": 2.0,
    "cell_f1": 3.0,
}
