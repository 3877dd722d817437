"""FlowFree rules over a sequence of cell-colour states: pixel-free, so a video, a list of drawn
states or a text answer share them.

A state is an int (size, size) grid: the colour index of every cell, ``EMPTY`` (-1) where empty. A
video of T frames gives one state per *readable* frame (perception: every cell of the frame explained
by the state). The *legal prefix* is the run of frames from frame 0 up to the first frame that is
unreadable or breaks a rule (``Verdict.broken_frame``):

- start: frame 0 shows exactly the puzzle (the endpoints, nothing else);
- endpoints: every endpoint keeps its colour in every frame;
- no crossing: a filled cell never changes colour and never empties again (no retracting either:
  a drawn pipe cell is final, so progress can only grow);
- growth: pipes only grow out of their endpoints, as pipes. In every state each colour's cells form at
  most two *arms*, each an induced path (no branches, no blobs, never touching itself) that starts
  at one of the colour's endpoints; no cell floats unattached;
- pace: one frame fills at most ``MOVES_PER_FRAME`` (1) cell more than the frame before, so the
  whole process is visible: a puzzle with C cells to fill needs ``min_frames`` = the least T with
  ``T - end_window(T) >= C`` frames (:func:`videorlvr.envs.flowfree.puzzle.frames_needed`).

Success: the whole video is one legal prefix (every frame readable, every transition legal), it has at
least ``min_frames`` frames, and each of its last ``end_window(T) = max(2, ceil(T / 10))`` frames
shows a full board on which every colour joins its endpoints. Under the growth rule such a board is a
set of induced paths, i.e. a solution of the puzzle (the oracle's, since generated puzzles have one).

Dense terms (all in [0, 1], none credited for the bare puzzle, none full after one cell): on the
*judged state* -- the last state of the legal prefix -- ``fill_rate`` (share of non-endpoint cells
filled), ``connectivity`` (share of colours whose endpoints are joined by a 4-connected run of their
colour) and ``cell_f1`` (macro F1 over colours of the non-endpoint cells of each colour against the
oracle); and three process terms, each ``fill_rate`` times how clean the whole video is:
``endpoints_preserved`` (x the share of endpoints intact in every readable frame), ``no_crossing``
(x 1 if no readable frame changes or empties a cell filled in the one before, else 0) and
``process_valid`` (x the share of the T frames inside the legal prefix). So the oracle cut after k
cells (last frame held) scores more with every k, and a video that breaks a rule scores at most what
its legal prefix, held to the end, scores.

``Verdict.predicted_cells`` / ``oracle_cells``: ``(r * size + c, colour)`` for every filled
non-endpoint cell of the judged state / of the oracle solution, so their set P/R/F1 is the micro
P/R/F1 of coloured cells (precision: filled cells with the right colour / filled cells).
``Verdict.trace``: per frame the filled non-endpoint cells read (None where unreadable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from videorlvr.envs.flowfree.constants import COLOUR_NAMES, MOVES_PER_FRAME, WEIGHTS
from videorlvr.envs.flowfree.puzzle import EMPTY, FlowFreePuzzle, end_window, min_frames
from videorlvr.envs.types import Cell, Verdict, make_verdict


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


def _first_violation(puzzle: FlowFreePuzzle, states: np.ndarray, frames: np.ndarray) -> tuple[int | None, str]:
    """(index of the first state that breaks a rule, why) over readings of frames 0, 1, 2, ...; (None, "")."""
    start = puzzle.start_grid
    free = ~puzzle.endpoint_mask
    if not np.array_equal(states[0], start):
        extra = int(((states[0] != EMPTY) & free).sum())
        what = f"{extra} cell(s) already filled" if extra else "endpoints differ from the puzzle"
        return 0, f"frame 0 does not show the puzzle: {what}"
    previous, following = states[:-1], states[1:]
    flipped = (previous != EMPTY) & (following != previous) & free  # (S-1, N, N)
    broken_ends = (states != start) & puzzle.endpoint_mask  # (S, N, N)
    grown = ((previous == EMPTY) & (following != EMPTY) & free).sum(axis=(1, 2))
    branching, floating = shape_problems(puzzle, states)
    bad = broken_ends.any(axis=(1, 2)) | branching.any(axis=(1, 2)) | floating.any(axis=(1, 2))
    bad[1:] |= flipped.any(axis=(1, 2)) | (grown > MOVES_PER_FRAME)
    if not bad.any():
        return None, ""
    s = int(np.argmax(bad))
    frame = int(frames[s])
    if broken_ends[s].any():
        cell = _first_cell(broken_ends[s])
        return s, f"endpoint {cell} ({_name(int(start[cell]))}) changed in frame {frame}"
    if flipped[s - 1].any():
        cell = _first_cell(flipped[s - 1])
        old, new = int(states[s - 1][cell]), int(states[s][cell])
        now = "emptied" if new == EMPTY else f"turned {_name(new)}"
        return s, f"cell {cell} was {_name(old)} and {now} in frame {frame} (pipes never cross or retreat)"
    if grown[s - 1] > MOVES_PER_FRAME:
        return s, (f"{int(grown[s - 1])} cells filled between frames {frame - 1} and {frame} "
                   f"(at most {MOVES_PER_FRAME} per frame: a jump, not growth)")
    if branching[s].any():
        cell = _first_cell(branching[s])
        return s, f"the {_name(int(states[s][cell]))} pipe branches or touches itself at {cell} in frame {frame}"
    cell = _first_cell(floating[s])
    return s, f"cell {cell} turned {_name(int(states[s][cell]))} in frame {frame} without joining a pipe of its colour"


def _progress(puzzle: FlowFreePuzzle, judged: np.ndarray | None) -> tuple[dict[str, float], bool, bool]:
    """(fill_rate, connectivity, cell_f1) of the judged state, whether it is full, whether all joined."""
    terms = {"fill_rate": 0.0, "connectivity": 0.0, "cell_f1": 0.0}
    if judged is None:
        return terms, False, False
    free, solution = ~puzzle.endpoint_mask, puzzle.solution_grid
    filled = (judged != EMPTY) & free
    joins = joined_colours(puzzle, judged)
    colours = np.arange(puzzle.num_colors)[:, None]
    mine = (judged[free] == colours)  # (K, free cells)
    truth = (solution[free] == colours)
    total = mine.sum(axis=1) + truth.sum(axis=1)
    scores = np.where(total > 0, 2.0 * (mine & truth).sum(axis=1) / np.maximum(total, 1), 1.0)
    terms.update(fill_rate=float(filled[free].mean()) if free.any() else 1.0, connectivity=float(joins.mean()),
                 cell_f1=float(scores.mean()))
    return terms, bool(filled[free].all()), bool(joins.all())


def _trace(states: np.ndarray, frames: np.ndarray, free: np.ndarray, num_frames: int
           ) -> tuple[tuple[Cell, ...] | None, ...]:
    """Per frame the filled non-endpoint cells read, row-major (None for frames without a reading)."""
    trace: list[tuple[Cell, ...] | None] = [None] * num_frames
    index, rows, cols = np.nonzero((states != EMPTY) & free)
    cells = list(zip(rows.tolist(), cols.tolist()))
    ends = np.searchsorted(index, np.arange(len(states) + 1))
    for frame, start, stop in zip(frames.tolist(), ends[:-1].tolist(), ends[1:].tolist()):
        trace[frame] = tuple(cells[start:stop])
    return tuple(trace)


def _coloured_cells(grid: np.ndarray, mask: np.ndarray) -> frozenset[tuple[int, int]]:
    """``(r * size + c, colour)`` of every cell of ``grid`` where ``mask`` is set."""
    cells = np.flatnonzero(mask)
    return frozenset(zip(cells.tolist(), grid.ravel()[cells].tolist()))


def judge(
    puzzle: FlowFreePuzzle,
    states: np.ndarray | Sequence[np.ndarray],
    frames: Sequence[int] | np.ndarray | None = None,
    num_frames: int | None = None,
    unreadable: Mapping[int, str] | None = None,
) -> Verdict:
    """Judge the readable frames' cell-colour states under the rules in the module docstring.

    states: int (S, size, size), EMPTY = -1; frames: the frame index of each reading (default
    0..S-1), a frame not listed is unreadable; num_frames: the video's length T (default: the last
    frame index + 1); unreadable: optional {frame: what perception could not explain} for the reason.
    """
    states = np.asarray(states)
    size = puzzle.size
    if states.ndim != 3 or states.shape[1:] != (size, size):
        raise ValueError(f"states must be (S, {size}, {size}), got shape {states.shape}")
    if states.size and (states.min() < EMPTY or states.max() >= puzzle.num_colors):
        raise ValueError(f"state values must lie in [-1, {puzzle.num_colors - 1}]")
    states = states.astype(np.int8)
    frames = np.arange(len(states)) if frames is None else np.asarray(frames, dtype=np.int64)
    if frames.shape != (len(states),) or (np.diff(frames) <= 0).any() or (frames < 0).any():
        raise ValueError("frames must be strictly increasing non-negative indices, one per state")
    num_frames = (int(frames[-1]) + 1 if len(frames) else 0) if num_frames is None else int(num_frames)
    if num_frames < 1 or (len(frames) and frames[-1] >= num_frames):
        raise ValueError(f"num_frames ({num_frames}) must be >= 1 and exceed every frame index")
    free = ~puzzle.endpoint_mask
    trace = _trace(states, frames, free, num_frames)

    # The legal prefix: the readings of frames 0, 1, 2, ... up to the first unreadable or rule-breaking one.
    readable_run = int(np.sum(frames == np.arange(len(frames)))) if len(frames) else 0
    violation, reason = (None, "") if readable_run == 0 else _first_violation(puzzle, states[:readable_run],
                                                                              frames[:readable_run])
    broken = violation if violation is not None else (readable_run if readable_run < num_frames else None)
    if violation is None and broken is not None:
        detail = (unreadable or {}).get(broken, "")
        reason = f"frame {broken} is unreadable" + (f": {detail}" if detail else "")
    legal_frames = num_frames if broken is None else broken
    judged = states[legal_frames - 1] if legal_frames > 0 else None
    components, full, joined = _progress(puzzle, judged)
    fill = components["fill_rate"]
    ends = puzzle.endpoint_mask
    intact = float((states[:, ends] == puzzle.start_grid[ends]).all(axis=0).mean()) if len(states) else 0.0
    flips = ((states[:-1] != EMPTY) & (states[1:] != states[:-1]) & free).any()
    components.update(
        endpoints_preserved=fill * intact,
        no_crossing=fill * float(not flips),
        process_valid=fill * legal_frames / num_frames,
    )
    components = {name: components[name] for name in WEIGHTS}  # in the documented order
    predicted = frozenset() if judged is None else _coloured_cells(judged, (judged != EMPTY) & free)

    needed = min_frames(puzzle)
    window = end_window(num_frames)
    # In a legal video a full board can no longer change, so the end window is solved iff its first
    # frame is full and the last frame is solved.
    solved_tail = (broken is None and num_frames > window and full and joined
                   and not (states[num_frames - window] == EMPTY).any())
    success = broken is None and num_frames >= needed and solved_tail
    if num_frames < needed:
        reason = (f"the video has {num_frames} frames; this puzzle needs at least {needed} "
                  f"({puzzle.fill_cells} pipe cells at most {MOVES_PER_FRAME} per frame, then the solved "
                  f"board held for the last frames)" + (f"; {reason}" if reason else ""))
    elif broken is None and not success:
        if not full:
            reason = f"the board is not full at the end: {int(((judged == EMPTY) & free).sum())} cell(s) empty"
        elif not joined:
            unjoined = ", ".join(_name(int(k)) for k in np.flatnonzero(~joined_colours(puzzle, judged)))
            reason = f"not every colour joins its endpoints at the end: {unjoined}"
        else:
            reason = f"the board is solved too late: the last {window} frames must all show it solved"
    oracle_cells = _coloured_cells(puzzle.solution_grid, free)
    return make_verdict(success, components, WEIGHTS, reason, predicted_cells=predicted, oracle_cells=oracle_cells,
                        trace=trace, broken_frame=broken)


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
    """Judge pipes given as moves (see :func:`states_from_moves`): one drawn cell per frame, then the
    last state held for the end window (and at least up to the puzzle's ``min_frames``)."""
    states, off_board = states_from_moves(puzzle, moves)
    drawn = len(states)
    total = max(drawn + 1, min_frames(puzzle))
    while total - end_window(total) < drawn - 1:
        total += 1
    held = np.concatenate([states, np.repeat(states[-1:], total - drawn, axis=0)])
    verdict = judge(puzzle, held)
    if not off_board:
        return verdict
    components = dict(verdict.components, process_valid=0.0)
    return make_verdict(False, components, WEIGHTS, off_board, predicted_cells=verdict.predicted_cells,
                        oracle_cells=verdict.oracle_cells, trace=verdict.trace[:drawn], broken_frame=drawn)
