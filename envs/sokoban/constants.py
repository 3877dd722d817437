"""Every Sokoban constant in one place: level symbols, moves, presets, colours, shapes, verifier limits."""

from __future__ import annotations

# --- Level text (the standard XSB notation, row strings) -------------------------------------------
WALL_CHAR, FLOOR_CHAR, TARGET_CHAR = "#", " ", "."
BOX_CHAR, BOX_ON_TARGET_CHAR = "$", "*"
PLAYER_CHAR, PLAYER_ON_TARGET_CHAR = "@", "+"
LEVEL_CHARS = frozenset("# .$*@+")

# --- Moves: letter -> (row step, column step); an uppercase letter marks a push ---------------------
MOVES: dict[str, tuple[int, int]] = {"u": (-1, 0), "d": (1, 0), "l": (0, -1), "r": (0, 1)}

# --- Difficulty presets: room size (rows, cols) incl. the outer wall ring, like gym-sokoban's dim_room;
# number of boxes; bounds on the length (moves) of the solver's solution. The upper bound keeps the
# oracle at about one move per frame at the default 81 frames.
# reverse_budget: states explored by breadth-first reverse play per room (deeper = harder levels).
PRESETS: dict[str, dict[str, object]] = {
    "easy": {"size": (6, 6), "num_boxes": 1, "min_moves": 8, "max_moves": 40, "reverse_budget": 200},
    "medium": {"size": (8, 8), "num_boxes": 2, "min_moves": 18, "max_moves": 60, "reverse_budget": 600},
    "hard": {"size": (10, 10), "num_boxes": 3, "min_moves": 30, "max_moves": 80, "reverse_budget": 1000},
}
MIN_SIZE, MAX_SIZE = 5, 32
FLOOR_SHARE = (0.5, 0.75)  # carved floor as a share of the room interior (drawn uniformly per room)
SMALL_ROOM_FLOOR_SHARE = (0.65, 0.9)  # ... for interiors of at most SMALL_ROOM cells, where a sparse
SMALL_ROOM = 20  # floor leaves too little space for a non-trivial level
TURN_PROBABILITY = 0.35  # the carving walk changes direction this often
ROOM_ATTEMPTS = 200  # default bound on rooms tried per generate() call
SOLVER_NODE_BUDGET = 20_000  # pushes expanded by the solver before a level is given up on

# --- Rendering: RGB colours (saturated, none pure white/black) and shapes as a share of a cell --------
WALL_RGB = (110, 70, 40)
FLOOR_RGB = (190, 190, 180)
TARGET_RGB = (220, 40, 60)
BOX_RGB = (240, 170, 20)
BOX_ON_TARGET_RGB = (30, 170, 70)
PLAYER_RGB = (40, 90, 230)
TARGET_FRACTION = 0.6  # side of the target square
BOX_FRACTION = 0.8  # side of a box
PLAYER_FRACTION = 0.72  # diameter of the player's disc
HOLD_SHARE = 0.125  # share of the frames that hold the solved state at the end of an oracle video

# --- Perception labels: index into PALETTE ---------------------------------------------------------
FLOOR, WALL, TARGET, BOX, BOX_ON_TARGET, PLAYER = range(6)
PALETTE = (FLOOR_RGB, WALL_RGB, TARGET_RGB, BOX_RGB, BOX_ON_TARGET_RGB, PLAYER_RGB)
SAMPLE_RADIUS = 0.1  # half-width (cells) of the patch read at each cell centre...
# ... as SAMPLE_GRID x SAMPLE_GRID pixels. 2x2 holds to Gaussian noise sigma ~32 (70/72 oracle videos);
# 3x3 holds to sigma 40 (72/72, vs 30/72) but costs ~0.7 ms more per 81x480x832 video (~20% of a max pass).
SAMPLE_GRID = 2
MIN_MARGIN = 0.15  # a frame is readable only if every cell's colour is at least this unambiguous
START_GRACE_FRAMES = 2  # if only the first frames are unreadable, the video is taken to start at the start

# --- Verifier limits ------------------------------------------------------------------------------
SPEED_FACTOR = 2.5  # a transition may pack up to this many times the oracle's mean moves per frame
MIN_SPEED_LIMIT = 2  # ... and always at least this many moves (a dropped frame at a slow pace)
SEARCH_NODE_BUDGET = 4_000  # states explored to explain one multi-move transition
LAYOUT_SUCCESS_MIN = 0.9  # share of readable frames whose walls and targets must match for success

# --- Dense reward weights (see rules.judge) ---------------------------------------------------------
WEIGHTS: dict[str, float] = {
    "start_correct": 0.1,
    "moves_valid": 0.3,
    "boxes_on_target": 0.25,
    "progress": 0.15,
    "layout_preserved": 0.2,
}
