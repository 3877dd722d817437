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
# number of boxes; bounds on the length (moves) of the optimal solution (fewest pushes, then fewest
# moves). The upper bounds keep every preset valid at the default 81 frames: one move per frame plus
# the solved end window (a 72-move solution needs 80 frames, see rules.min_frames).
# reverse_budget: states explored by breadth-first reverse play per room (deeper = harder levels).
PRESETS: dict[str, dict[str, object]] = {
    "easy": {"size": (6, 6), "num_boxes": 1, "min_moves": 8, "max_moves": 40, "reverse_budget": 200},
    "medium": {"size": (8, 8), "num_boxes": 2, "min_moves": 18, "max_moves": 60, "reverse_budget": 600},
    "hard": {"size": (10, 10), "num_boxes": 3, "min_moves": 30, "max_moves": 72, "reverse_budget": 1000},
}
MIN_SIZE, MAX_SIZE = 5, 32
FLOOR_SHARE = (0.5, 0.75)  # carved floor as a share of the room interior (drawn uniformly per room)
SMALL_ROOM_FLOOR_SHARE = (0.65, 0.9)  # ... for interiors of at most SMALL_ROOM cells, where a sparse
SMALL_ROOM = 20  # floor leaves too little space for a non-trivial level
TURN_PROBABILITY = 0.35  # the carving walk changes direction this often
ROOM_ATTEMPTS = 200  # default bound on rooms tried per generate() call
SOLVER_NODE_BUDGET = 20_000  # search nodes (box set, player cell) expanded before a level is given up on

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

# --- Verifier -------------------------------------------------------------------------------------
# Every frame's board is area-averaged into blocks (videorlvr.envs.footprint) and compared, cell by
# cell, with the renderer's own drawing of the state read from it. A cell whose worst block misses by
# more than CELL_TOLERANCE (colours normalised to the frame's black 0 / white 1) is unexplained and
# makes its frame unreadable. Measured on oracle videos at 240x416 under the artifact matrix (noise 16,
# blur sigma 2, H.264, drift, casts, flicker): closest residual <= 0.29, runner-up at least 0.26 worse.
CELL_TOLERANCE = 0.4
# ... and a cell whose closest drawing beats the runner-up by less than this share of the gap between the
# two drawings (about 0.5 at cells of 10+ px) is ambiguous: an object half there, or between cells.
MIN_SEPARATION = 0.35
GAIN_RANGE = (0.6, 1.6)  # per-channel gain a frame that misses may be corrected by (blur dims the frame)
MIN_HALVED_CELL_PX = 8  # cells at least this wide are 2x2-averaged before block sums (exact and fast)
REFIT_ABOVE = 0.15  # ... frames whose worst cell misses by more than this get that correction
MOVES_PER_FRAME = 1  # consecutive frames differ by at most one legal move (a step or a push)
END_SHARE, MIN_END_FRAMES = 0.1, 2  # the last max(2, ceil(0.1 T)) frames must show the solved state
SCORE_NODE_BUDGET = 5_000  # solver expansions to price an off-oracle state for the dense reward

# --- Dense reward weights (see rules.judge): credit for the state the legal prefix ends in ------------
WEIGHTS: dict[str, float] = {"moves": 0.6, "pushes": 0.4}
