"""FlowFree rules over a sequence of cell-colour states: pixel-free, so a video, a list of drawn
states or a text answer share them.

A state is an int (size, size) grid: the colour index of every cell, ``EMPTY`` (-1) where empty.
The rules, checked on every state / every transition between consecutive readings:

- start: the first reading lies in the first ``END_FRACTION`` of the video and shows exactly the
  puzzle (the endpoints, nothing else);
- endpoints: every endpoint keeps its colour in every reading;
- no crossing: a filled cell never changes colour and never empties again;
- growth: pipes only grow out of their endpoints, as pipes. In every state each colour's cells form at
  most two *arms*, each an induced path (no branches, no blobs, never touching itself) that starts
  at one of the colour's endpoints; no cell floats unattached;
- pace: one transition fills at most ``growth_limit`` cells times the frames it spans (at most
  ``MAX_GAP_CREDIT``): several cells per frame are fine when the video is short, a jump cut is not.

Success: every rule holds, the last reading lies in the final ``END_FRACTION`` of the video, and it
shows a full board on which every colour joins its endpoints. Under the growth rule such a board is a
set of induced paths, i.e. a solution of the puzzle (the oracle's, since generated puzzles have one).

Dense terms (all in [0, 1]): ``endpoints_preserved`` (share of endpoints intact in every reading),
``no_crossing`` (1 if no filled cell ever changes), ``process_valid`` (1 if every rule above holds),
and, on the *judged state* -- the last state before the first broken rule (the final state of a
legal video) -- ``fill_rate`` (share of non-endpoint cells filled), ``connectivity`` (share of
colours whose endpoints are joined by a 4-connected run of their colour) and ``cell_f1`` (macro F1
over colours of the non-endpoint cells of each colour against the oracle). Progress counts only
along the legal prefix, so breaking a rule never earns more than stopping where it was broken.

``Verdict.predicted_cells`` / ``oracle_cells``: ``(r * size + c, colour)`` for every filled
non-endpoint cell of the judged state / of the oracle solution, so their set P/R/F1 is the micro
P/R/F1 of coloured cells (precision: filled cells with the right colour / filled cells).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from videorlvr.envs.flowfree.constants import (
    COLOUR_NAMES,
    END_FRACTION,
    GROWTH_SLACK,
    MAX_GAP_CREDIT,
    MIN_GROWTH,
    WEIGHTS,
)
from videorlvr.envs.flowfree.puzzle import EMPTY, FlowFreePuzzle
from videorlvr.envs.types import Verdict, make_verdict


def growth_limit(fill_cells: int, num_frames: int) -> int:
    """Cells one transition may fill: ``max(MIN_GROWTH, ceil(GROWTH_SLACK * fill_cells / (T - 1)))``."""
    if num_frames < 2:
        raise ValueError(f"need at least 2 frames, got {num_frames}")
    return max(MIN_GROWTH, math.ceil(GROWTH_SLACK * fill_cells / (num_frames - 1) - 1e-9))


def end_window(num_frames: int) -> int:
    """Frames at each end of a video that count as its start and its end."""
    return max(2, math.ceil(END_FRACTION * num_frames))


def _same_colour_links(states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """bool (S, N, N-1) / (S, N-1, N): filled horizontal / vertical neighbours of one colour."""
    filled = states != EMPTY
    across = (states[:, :, 1:] == states[:, :, :-1]) & filled[:, :, 1:]
    down = (states[:, 1:, :] == states[:, :-1, :]) & filled[:, 1:, :]
    return across, down


def _components(states: np.ndarray, across: np.ndarray, down: np.ndarray) -> np.ndarray:
    """int32 (S, N, N): a label per same-colour 4-connected group of filled cells (0 for empty cells),
    unique over all states.

    Cells sit on the odd pixels of a (2N+1)-wide mask and each same-colour link lights the pixel
    between its two cells, so one binary connected-components pass labels every state at once (the
    zero border rows keep the stacked states apart).
    """
    frames, n = states.shape[0], states.shape[1]
    mask = np.zeros((frames, 2 * n + 1, 2 * n + 1), dtype=np.uint8)
    mask[:, 1::2, 1::2] = states != EMPTY
    mask[:, 1::2, 2:-1:2] = across
    mask[:, 2:-1:2, 1::2] = down
    _, labels = cv2.connectedComponents(mask.reshape(frames * (2 * n + 1), 2 * n + 1), connectivity=4,
                                        ltype=cv2.CV_32S)
    return labels.reshape(frames, 2 * n + 1, 2 * n + 1)[:, 1::2, 1::2]


def shape_problems(puzzle: FlowFreePuzzle, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Growth-rule breaches per state: (branching, floating), bool (S, N, N) each.

    branching: a non-endpoint cell with more than 2 same-coloured neighbours, or an endpoint with more
    than 1 (a branch, a blob or a pipe touching itself). floating: a filled non-endpoint cell not
    joined to an endpoint of its colour.
    """
    across, down = _same_colour_links(states)
    degree = np.zeros(states.shape, dtype=np.int8)
    degree[:, :, 1:] += across
    degree[:, :, :-1] += across
    degree[:, 1:, :] += down
    degree[:, :-1, :] += down
    endpoints = puzzle.endpoint_mask
    branching = (states != EMPTY) & (degree > np.where(endpoints, 1, 2))
    labels = _components(states, across, down)
    anchored = np.zeros(int(labels.max()) + 1, dtype=bool)
    anchored[labels[endpoints & (states == puzzle.start_grid)]] = True
    anchored[0] = False
    floating = (states != EMPTY) & ~anchored[labels] & ~endpoints
    return branching, floating


def joined_colours(puzzle: FlowFreePuzzle, state: np.ndarray) -> np.ndarray:
    """bool (num_colors,): whether each colour's endpoints are joined by a run of its colour."""
    states = np.asarray(state)[None]
    labels = _components(states, *_same_colour_links(states))[0]
    return np.array([
        state[a] == colour and state[b] == colour and labels[a] == labels[b]
        for colour, (a, b) in enumerate(puzzle.endpoints)
    ], dtype=bool)


def _name(colour: int) -> str:
    return COLOUR_NAMES[colour] if 0 <= colour < len(COLOUR_NAMES) else f"colour {colour}"


def _first_cell(mask: np.ndarray) -> tuple[int, int]:
    r, c = np.argwhere(mask)[0]
    return int(r), int(c)


def _first_violation(
    puzzle: FlowFreePuzzle, states: np.ndarray, frames: np.ndarray, num_frames: int
) -> tuple[int | None, str, bool]:
    """(index of the first reading that breaks a rule or None, why, whether any cell ever flipped)."""
    start = puzzle.start_grid
    free = ~puzzle.endpoint_mask
    previous, following = states[:-1], states[1:]
    flipped = (previous != EMPTY) & (following != previous) & free  # (S-1, N, N)
    ever_flipped = bool(flipped.any())
    if frames[0] >= end_window(num_frames):
        return 0, f"the board is not readable until frame {frames[0]} of {num_frames}", ever_flipped
    if not np.array_equal(states[0], start):
        extra = int(((states[0] != EMPTY) & free).sum())
        what = f"{extra} cell(s) already filled" if extra else "endpoints differ from the puzzle"
        return 0, f"the first readable frame ({frames[0]}) does not show the puzzle: {what}", ever_flipped
    endpoint_cells = puzzle.endpoint_mask
    broken_ends = (states != start) & endpoint_cells  # (S, N, N)
    limit = growth_limit(puzzle.fill_cells, num_frames)
    grown = ((previous == EMPTY) & (following != EMPTY) & free).sum(axis=(1, 2))
    allowed = limit * np.minimum(np.diff(frames), MAX_GAP_CREDIT)
    branching, floating = shape_problems(puzzle, states)
    bad = np.zeros(len(states), dtype=bool)
    bad |= broken_ends.any(axis=(1, 2))
    bad[1:] |= flipped.any(axis=(1, 2)) | (grown > allowed)
    bad |= branching.any(axis=(1, 2)) | floating.any(axis=(1, 2))
    if not bad.any():
        return None, "", ever_flipped
    s = int(np.argmax(bad))
    frame = int(frames[s])
    if broken_ends[s].any():
        cell = _first_cell(broken_ends[s])
        return s, f"endpoint {cell} ({_name(int(start[cell]))}) changed in frame {frame}", ever_flipped
    if flipped[s - 1].any():
        cell = _first_cell(flipped[s - 1])
        old, new = int(states[s - 1][cell]), int(states[s][cell])
        now = "emptied" if new == EMPTY else f"turned {_name(new)}"
        return s, f"cell {cell} was {_name(old)} and {now} in frame {frame} (pipes never cross or retreat)", ever_flipped
    if grown[s - 1] > allowed[s - 1]:
        return s, (f"{int(grown[s - 1])} cells filled between frames {int(frames[s - 1])} and {frame} "
                   f"(limit {int(allowed[s - 1])}: a jump, not growth)"), ever_flipped
    if branching[s].any():
        cell = _first_cell(branching[s])
        return s, (f"the {_name(int(states[s][cell]))} pipe branches or touches itself at {cell} "
                   f"in frame {frame}"), ever_flipped
    cell = _first_cell(floating[s])
    return s, (f"cell {cell} turned {_name(int(states[s][cell]))} in frame {frame} without joining a pipe "
               "of its colour"), ever_flipped


def judge(
    puzzle: FlowFreePuzzle,
    states: np.ndarray | Sequence[np.ndarray],
    frames: Sequence[int] | np.ndarray | None = None,
    num_frames: int | None = None,
) -> Verdict:
    """Judge readable cell-colour states under the rules in the module docstring.

    states: int (S, size, size), EMPTY = -1; frames: the frame index of each reading (default
    0..S-1); num_frames: the video's length T (default: the last frame index + 1).
    """
    states = np.asarray(states)
    size = puzzle.size
    if states.ndim != 3 or states.shape[1:] != (size, size):
        raise ValueError(f"states must be (S, {size}, {size}), got shape {states.shape}")
    if states.size and (states.min() < EMPTY or states.max() >= puzzle.num_colors):
        raise ValueError(f"state values must lie in [-1, {puzzle.num_colors - 1}]")
    states = states.astype(np.int8)
    frames = np.arange(len(states)) if frames is None else np.asarray(frames, dtype=np.int64)
    if frames.shape != (len(states),) or (np.diff(frames) <= 0).any():
        raise ValueError("frames must be strictly increasing, one per state")
    free = ~puzzle.endpoint_mask
    solution = puzzle.solution_grid
    oracle_cells = frozenset((int(r * size + c), int(solution[r, c])) for r, c in np.argwhere(free))
    components = dict.fromkeys(WEIGHTS, 0.0)
    if len(states) == 0:
        return make_verdict(False, components, WEIGHTS, "no frame shows a readable board", oracle_cells=oracle_cells)
    num_frames = int(frames[-1]) + 1 if num_frames is None else int(num_frames)
    if num_frames < 2 or frames[-1] >= num_frames:
        raise ValueError(f"num_frames ({num_frames}) must be >= 2 and exceed every frame index")

    endpoints = puzzle.endpoint_mask
    components["endpoints_preserved"] = float((states[:, endpoints] == puzzle.start_grid[endpoints]).all(axis=0).mean())
    violation, reason, ever_flipped = _first_violation(puzzle, states, frames, num_frames)
    components["no_crossing"] = float(not ever_flipped)
    components["process_valid"] = float(violation is None)
    judged = states[-1] if violation is None else (states[violation - 1] if violation > 0 else None)

    predicted: frozenset = frozenset()
    full = joined = False
    if judged is not None:
        filled = (judged != EMPTY) & free
        components["fill_rate"] = float(filled[free].mean()) if free.any() else 1.0
        joins = joined_colours(puzzle, judged)
        components["connectivity"] = float(joins.mean())
        scores = []
        for colour in range(puzzle.num_colors):
            mine, truth = (judged == colour) & free, (solution == colour) & free
            total = int(mine.sum() + truth.sum())
            scores.append(2.0 * int((mine & truth).sum()) / total if total else 1.0)
        components["cell_f1"] = float(np.mean(scores))
        predicted = frozenset((int(r * size + c), int(judged[r, c])) for r, c in np.argwhere(filled))
        full, joined = bool(filled[free].all()), bool(joins.all())
        if violation is None:
            unjoined = ", ".join(_name(int(k)) for k in np.flatnonzero(~joins))
            if frames[-1] < num_frames - end_window(num_frames):
                reason = f"the final frames show no readable board (last reading: frame {int(frames[-1])} of {num_frames})"
            elif not full:
                reason = f"the board is not full at the end: {int((~filled & free).sum())} cell(s) empty"
            elif not joined:
                reason = f"not every colour joins its endpoints at the end: {unjoined}"
    success = violation is None and frames[-1] >= num_frames - end_window(num_frames) and full and joined
    return make_verdict(success, components, WEIGHTS, reason, predicted_cells=predicted, oracle_cells=oracle_cells)


MOVES = {"u": (-1, 0), "d": (1, 0), "l": (0, -1), "r": (0, 1)}


def states_from_moves(puzzle: FlowFreePuzzle, moves: str | Sequence[str]) -> tuple[np.ndarray, str]:
    """The states of drawing pipes by moves: one ``udlr`` string per colour (in colour order, or one
    comma-separated string), each walking from the colour's first endpoint, one cell per state.

    Returns int8 (S, size, size) states and "" -- or, if a move leaves the board, the states up to
    that move and why. A move into a filled cell recolours it, as a pen would (the rules catch it).
    """
    if isinstance(moves, str):
        moves = moves.split(",") if moves else []
    if not isinstance(moves, Sequence) or not all(isinstance(m, str) for m in moves):
        raise TypeError("moves must be a string of comma-separated 'udlr' strings or a sequence of them")
    if len(moves) > puzzle.num_colors:
        raise ValueError(f"{len(moves)} move strings for {puzzle.num_colors} colours")
    unknown = set("".join(moves).strip().lower()) - set(MOVES)
    if unknown:
        raise ValueError(f"moves may only contain 'u', 'd', 'l', 'r', got {sorted(unknown)}")
    grid = puzzle.start_grid.copy()
    states = [grid.copy()]
    for colour, walk in enumerate(moves):
        r, c = puzzle.endpoints[colour][0]
        for step, move in enumerate(walk.strip().lower()):
            dr, dc = MOVES[move]
            r, c = r + dr, c + dc
            if not (0 <= r < puzzle.size and 0 <= c < puzzle.size):
                return np.stack(states), f"move {step + 1} of the {_name(colour)} pipe leaves the board"
            grid[r, c] = colour
            states.append(grid.copy())
    return np.stack(states), ""


def judge_moves(puzzle: FlowFreePuzzle, moves: str | Sequence[str]) -> Verdict:
    """Judge pipes given as moves (see :func:`states_from_moves`): one drawn cell per state."""
    states, off_board = states_from_moves(puzzle, moves)
    if len(states) < 2:
        states = np.concatenate([states, states])
    verdict = judge(puzzle, states)
    if not off_board:
        return verdict
    components = dict(verdict.components, process_valid=0.0)
    return make_verdict(False, components, WEIGHTS, off_board, predicted_cells=verdict.predicted_cells,
                        oracle_cells=verdict.oracle_cells)
