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
# Pipe colours, most distinct first (a puzzle with k colours uses the first k). All are bright, so that
# no colour is a darkened version of another: blur and compression blend a thin pipe tip with the dark
# floor, and a colour may dim to 55% of itself towards the floor and still stay at least 0.2 (in RGB
# scaled to [0, 1]) from every other colour and from the floor. None is pure white or black.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 30, 30),  # red
    (30, 190, 50),  # green
    (30, 80, 255),  # blue
    (250, 235, 60),  # yellow
    (255, 150, 0),  # orange
    (240, 40, 220),  # magenta
    (0, 225, 235),  # cyan
    (180, 180, 190),  # silver
    (100, 180, 255),  # sky blue
    (130, 40, 250),  # violet
    (255, 160, 130),  # salmon
    (255, 30, 130),  # rose
    (0, 250, 150),  # spring green
    (255, 150, 210),  # pink
    (190, 160, 255),  # lavender
    (200, 240, 0),  # chartreuse
)
COLOUR_NAMES: tuple[str, ...] = (
    "red", "green", "blue", "yellow", "orange", "magenta", "cyan", "silver",
    "sky blue", "violet", "salmon", "rose", "spring green", "pink", "lavender", "chartreuse",
)
FLOOR_RGB = (40, 40, 48)  # empty cells: dark slate, so every pipe colour stands out
GRID_RGB = (80, 80, 94)  # grid lines between cells

# --- Drawing, as a share of a cell ------------------------------------------------------------------
ENDPOINT_RADIUS = 0.36  # endpoint discs
STROKE_WIDTH = 0.5  # pipes: thick strokes through the cell centres
GRID_LINE_WIDTH = 0.05

# --- Perception -------------------------------------------------------------------------------------
# Every pixel of the board is read, area-averaged into sub x sub blocks per cell: the first of these that
# divides the cell side in pixels (whole-pixel blocks read several times faster), else the first. With an
# odd count the centre block lies wholly inside the pipe stroke; with an even one the pipe colour is
# unmixed from the floor around it.
SUBDIVISIONS = (3, 4, 5, 6)
FAST_READ_PX = 32  # ... on cells of at least this many px; smaller cells always get 3 (blur-tolerant) blocks
MIN_CELL_PX = 9  # cells smaller than this (blocks under 3 px) cannot be read reliably: such frames are rejected
GAIN_RANGE = 0.3  # the endpoint-calibrated gain per channel stays within 1 +- this
MIN_MARGIN = 0.2  # a frame is readable only if every cell's colour is at least this unambiguous
# ... and only if the state read from it explains every block of every cell to within this (in [0, 1]
# RGB, the largest channel difference). Measured worst blocks of oracle videos (240x416 and 480x832, 5x5
# to 12x12): 0.10 under noise sigma 16, 0.12 under H.264 and blur sigma 2 px, 0.16 under colour casts,
# 0.11 under 4% zoom and drift; a stroke missing or added where a cell's state has none misses by 0.4+.
EXPLAIN_TOLERANCE = 0.3
BLURS = (0.0, 0.06, 0.12)  # the drawn state is also compared blurred by these sigmas (share of a cell side)

# --- Rules ------------------------------------------------------------------------------------------
MOVES_PER_FRAME = 1  # pipe cells one transition (frame to next frame) may fill
END_FRACTION = 0.1  # the last max(2, ceil(10% of T)) frames must all show the solved board

# --- Dense reward weights (see rules.judge) ----------------------------------------------------------
WEIGHTS: dict[str, float] = {
    "endpoints_preserved": 0.5,
    "no_crossing": 0.5,
    "process_valid": 1.0,
    "fill_rate": 1.0,
    "connectivity": 2.0,
    "cell_f1": 3.0,
}
