"""FlowFree perception: video -> the colour of every cell per frame (with confidence) -> rules.

Per frame the board is located (:func:`videorlvr.envs.board.locate_board`, so drift, zoom, casts and flicker
are absorbed), a 2x2 patch at every cell centre is read and colour-normalised, and each cell is
labelled with the nearest of the floor colour and the puzzle's own pipe colours (the colours and
where the endpoints are come from the puzzle, never from the video). A frame is *readable* when the
board was found and every cell's label is unambiguous (colour margin >= MIN_MARGIN); other frames
(garbage, heavy blur, mid-transition smears) are skipped, and an isolated one-frame blip of a cell
between two agreeing readings is voted away. :func:`videorlvr.envs.flowfree.rules.judge` judges the readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from videorlvr.envs.board import classify_colours, locate_board, normalised_colours
from videorlvr.envs.flowfree.constants import FLOOR_RGB, GAIN_RANGE, MIN_MARGIN, PALETTE, SAMPLE_RADIUS
from videorlvr.envs.flowfree.puzzle import FlowFreePuzzle
from videorlvr.envs.flowfree.render import geometry_for
from videorlvr.envs.flowfree.rules import judge
from videorlvr.envs.types import Verdict
from videorlvr.envs.video import VideoLike, as_video


@dataclass(frozen=True)
class FlowReading:
    """What perception read from a video of T frames.

    labels: int8 (T, size, size), the colour index per cell (-1 empty); confidence: float32 (T,), the
    smallest colour margin over the board's cells; readable: bool (T,).
    """

    labels: np.ndarray
    confidence: np.ndarray
    readable: np.ndarray

    @property
    def frames(self) -> np.ndarray:
        """Indices of the readable frames."""
        return np.flatnonzero(self.readable)

    @property
    def states(self) -> np.ndarray:
        """int8 (S, size, size): the readable frames' labels, one-frame blips voted away."""
        return _vote(self.labels[self.readable])


@lru_cache(maxsize=64)
def _palette(num_colors: int) -> np.ndarray:
    """(K + 1, 3) RGB: the floor, then the puzzle's pipe colours."""
    return np.array([FLOOR_RGB, *PALETTE[:num_colors]], dtype=np.float32)


def _vote(states: np.ndarray) -> np.ndarray:
    """Replace a cell's reading that disagrees with two agreeing neighbours in time (S, N, N)."""
    if len(states) < 3:
        return states
    out = states.copy()
    agree = states[:-2] == states[2:]
    out[1:-1] = np.where(agree, states[:-2], states[1:-1])
    return out


def _endpoint_gain(puzzle: FlowFreePuzzle, colours: np.ndarray) -> np.ndarray:
    """Per-channel gain (3,) that maps the endpoints' colours onto their drawn colours.

    The black/white normalisation leans on the thin white border, which blur and compression dim (so
    every colour reads too bright). The endpoints' positions and colours are known from the puzzle:
    the median over all frames and endpoints of seen / drawn, on channels the drawn colour fills at
    least half-way, is one gain per channel for the whole video, clamped to +-GAIN_RANGE. A few
    endpoints that changed colour cannot move a median, and no gain in range turns one palette
    colour into another.
    """
    drawn = np.array(PALETTE[: puzzle.num_colors], dtype=np.float32)[puzzle.start_grid[puzzle.endpoint_mask]] / 255.0
    seen = colours[:, puzzle.endpoint_mask.ravel()]  # (T, E, 3)
    gain = np.ones(3, dtype=np.float32)
    for channel in range(3):
        bright = drawn[:, channel] >= 0.5
        if bright.any():
            ratio = np.median(seen[:, bright, channel] / drawn[bright, channel])
            gain[channel] = 1.0 / np.clip(ratio, 1.0 - GAIN_RANGE, 1.0 + GAIN_RANGE)
    return gain


def perceive(puzzle: FlowFreePuzzle, video: np.ndarray) -> FlowReading:
    """Read a uint8 (T, H, W, 3) video of this puzzle at its own resolution."""
    frames = video.shape[0]
    geometry = geometry_for(puzzle, video.shape[1], video.shape[2])
    bounds = locate_board(video, geometry)
    colours = normalised_colours(video, geometry, bounds, geometry.cell_centres(), radius=SAMPLE_RADIUS, size=2)
    colours *= _endpoint_gain(puzzle, colours)
    labels, margin = classify_colours(colours, _palette(puzzle.num_colors))
    confidence = margin.min(axis=1)
    readable = bounds.found & (confidence >= MIN_MARGIN)
    labels = (labels - 1).astype(np.int8).reshape(frames, puzzle.size, puzzle.size)
    return FlowReading(labels, confidence.astype(np.float32), readable)


def verify(puzzle: FlowFreePuzzle, video: VideoLike) -> Verdict:
    """Score a video (anything :func:`videorlvr.envs.video.as_video` accepts) of this puzzle at its own resolution."""
    if not isinstance(puzzle, FlowFreePuzzle):
        raise TypeError(f"puzzle must be a FlowFreePuzzle, got {type(puzzle).__name__}")
    video = as_video(video)
    reading = perceive(puzzle, video)
    return judge(puzzle, reading.states, frames=reading.frames, num_frames=len(video))
