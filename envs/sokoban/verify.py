"""The perception half of the Sokoban verifier: video -> per-frame board states -> :func:`rules.judge`.

Each frame is located (:func:`videorlvr.envs.board.locate_board`), a small patch at every cell centre is read
and colour-normalised, and each cell is labelled floor / wall / target / box / box-on-target /
player. A frame is *readable* when every label is unambiguous and it shows exactly one player and the
puzzle's number of boxes; frames in between (mid-slide, blurred, garbage) are skipped. Consecutive
equal readable states collapse into one, and the rules judge the sequence with a speed limit derived
from the oracle's length and the frame count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from videorlvr.envs.board import BoardGeometry, classify_colours, locate_board, normalised_colours
from videorlvr.envs.sokoban.constants import (
    BOX,
    BOX_ON_TARGET,
    FLOOR,
    MIN_MARGIN,
    PALETTE,
    PLAYER,
    SAMPLE_GRID,
    SAMPLE_RADIUS,
    START_GRACE_FRAMES,
    TARGET,
    WALL,
)
from videorlvr.envs.sokoban.puzzle import Puzzle, State
from videorlvr.envs.sokoban.rules import judge, speed_limit, trace
from videorlvr.envs.types import Verdict
from videorlvr.envs.video import VideoLike, as_video

# CONSISTENT[expected, observed]: whether an observed label fits a cell whose layout is
# expected = 0 floor, 1 wall, 2 target. Player and box labels hide the layout; a plain box on a target
# or a box-on-target colour off a target means the target changed.
_EXPECTED_FLOOR, _EXPECTED_WALL, _EXPECTED_TARGET = 0, 1, 2
CONSISTENT = np.zeros((3, len(PALETTE)), dtype=bool)
CONSISTENT[_EXPECTED_FLOOR, [FLOOR, BOX, PLAYER]] = True
CONSISTENT[_EXPECTED_WALL, [WALL, BOX, PLAYER]] = True
CONSISTENT[_EXPECTED_TARGET, [TARGET, BOX_ON_TARGET, PLAYER]] = True
_OBJECT = np.zeros(len(PALETTE), dtype=np.int8)  # label -> 0 nothing, 1 box, 2 player
_OBJECT[[BOX, BOX_ON_TARGET]] = 1
_OBJECT[PLAYER] = 2


@dataclass(frozen=True)
class Reading:
    """What perception saw. labels: int (T, rows*cols); confidence: float (T,) the smallest label margin
    per frame; readable: bool (T,); states: distinct consecutive readable states with ``frames``, the
    first frame index of each (the puzzle's start is put first at frame 0 when only the first
    ``START_GRACE_FRAMES`` frames were unreadable); layout_preserved: share of readable frames whose
    walls/targets match; ending_problem: why the last frame is not a readable state ("" if it is)."""

    labels: np.ndarray
    confidence: np.ndarray
    readable: np.ndarray
    states: list[State]
    frames: list[int]
    layout_preserved: float
    ending_problem: str


def perceive(puzzle: Puzzle, video: VideoLike) -> Reading:
    """Parse every frame of ``video`` (anything :func:`videorlvr.envs.video.as_video` accepts) into board states."""
    video = as_video(video)
    geometry = BoardGeometry(puzzle.rows, puzzle.cols, video.shape[1], video.shape[2])
    bounds = locate_board(video, geometry)
    colours = normalised_colours(
        video, geometry, bounds, geometry.cell_centres(), radius=SAMPLE_RADIUS, size=SAMPLE_GRID
    )
    labels, margin = classify_colours(_calibrate(puzzle, colours), np.array(PALETTE))
    confidence = margin.min(axis=1)
    objects = _OBJECT[labels]  # (T, cells)
    players = (objects == 2).sum(axis=1)
    boxes = (objects == 1).sum(axis=1)
    readable = (players == 1) & (boxes == puzzle.num_boxes) & (confidence >= MIN_MARGIN)

    expected = np.where(
        puzzle.walls, _EXPECTED_WALL, np.where(puzzle.targets, _EXPECTED_TARGET, _EXPECTED_FLOOR)
    )
    layout_ok = CONSISTENT[expected.ravel()[None, :], labels].all(axis=1)
    layout_preserved = float(layout_ok[readable].mean()) if readable.any() else 0.0

    frames = np.flatnonzero(readable)
    if len(frames):
        changed = np.ones(len(frames), dtype=bool)
        changed[1:] = (objects[frames[1:]] != objects[frames[:-1]]).any(axis=1)
        frames = frames[changed]
    seen = objects[frames]
    players_at = np.argmax(seen == 2, axis=1).tolist()
    boxes_at = np.nonzero(seen == 1)[1].reshape(len(frames), puzzle.num_boxes).tolist()
    states = [(player, tuple(boxes)) for player, boxes in zip(players_at, boxes_at)]
    frames = frames.tolist()
    if frames and 0 < frames[0] <= START_GRACE_FRAMES and states[0] != puzzle.start:
        # The first frame is given to the model and is the start; if noise made it unreadable, the
        # rules judge the first readable state as a move from the start rather than as a wrong start.
        states, frames = [puzzle.start, *states], [0, *frames]

    last = len(video) - 1
    if readable[last]:
        ending = ""
    elif players[last] == 1 and confidence[last] >= MIN_MARGIN:
        ending = (
            f"the last frame shows {boxes[last]} box(es), {puzzle.num_boxes} expected "
            "(boxes appeared, vanished or merged)"
        )
    else:
        ending = "the last frame does not show a readable board (no single player or ambiguous colours)"
    return Reading(labels, confidence, readable, states, frames, layout_preserved, ending)


def _calibrate(puzzle: Puzzle, colours: np.ndarray) -> np.ndarray:
    """Map each frame's colours (float (T, cells, 3)) so its median wall and median floor cell land on
    the drawn wall and floor colours, per channel.

    The black/white normalisation leans on the thin white border, which blur and compression dim; walls
    and plain floor cover most of the board (a few boxes and the player barely move a median), so this
    second, board-wide anchor keeps the palette distances intact under blur, casts and flicker.
    """
    walls = puzzle.walls.ravel()
    floor = ~walls & ~puzzle.targets.ravel()
    wall_seen = np.median(colours[:, walls], axis=1)[:, None, :]  # (T, 1, 3)
    floor_seen = np.median(colours[:, floor], axis=1)[:, None, :]
    wall_drawn, floor_drawn = np.array(PALETTE[WALL]) / 255.0, np.array(PALETTE[FLOOR]) / 255.0
    # Floor is drawn brighter than wall in every channel; a flat or inverted frame must stay unreadable,
    # never be flipped back into a board.
    span_seen = np.maximum(floor_seen - wall_seen, 0.05)
    return (wall_drawn + (colours - wall_seen) * (floor_drawn - wall_drawn) / span_seen).astype(np.float32)


def verify(puzzle: Puzzle, video: VideoLike) -> Verdict:
    """Judge a video (uint8/float ``(T, H, W, 3)``, a tensor or a file path) at its own resolution."""
    reading = perceive(puzzle, video)
    limit = speed_limit(len(puzzle.solution), len(reading.readable))
    return judge(
        puzzle,
        reading.states,
        limit=limit,
        layout_preserved=reading.layout_preserved,
        ending_problem=reading.ending_problem,
        frames=reading.frames,
    )


def read_moves(puzzle: Puzzle, video: VideoLike) -> str:
    """The legal move string (``udlr``, uppercase = push) the video shows, up to its first broken rule."""
    reading = perceive(puzzle, video)
    return trace(puzzle, reading.states, speed_limit(len(puzzle.solution), len(reading.readable))).moves
