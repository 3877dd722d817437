"""The pixel-free half of the verifier: judge a sequence of Sokoban states.

A state is ``(player, boxes)`` on flat cells (see :mod:`videorlvr.envs.sokoban.puzzle`). The same rules
judge the per-frame states read from a video (``None`` for an unreadable frame) and the states after
each move of a move string:

- the *legal prefix* runs from the first state (which must be the start) up to, not including, the
  first unreadable state, impossible position or transition that is not explained by at most
  ``MOVES_PER_FRAME`` (one) legal move: a one-cell step into a free cell, or a push of one box from
  behind into a free cell. Nothing after it counts.
- success needs the whole sequence legal, at least :func:`min_frames` frames, and the solved state in
  every frame of the end window (:func:`end_frames`).
- the dense reward credits only the state the legal prefix ends in, by how much closer to solved it is
  than the start, in the moves and pushes of an optimal solution (see :func:`judge`).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

from videorlvr.envs.sokoban.constants import (
    END_SHARE,
    MIN_END_FRAMES,
    MOVES,
    MOVES_PER_FRAME,
    SCORE_NODE_BUDGET,
    WEIGHTS,
)
from videorlvr.envs.sokoban.puzzle import Puzzle, State, step
from videorlvr.envs.sokoban.solver import Solver
from videorlvr.envs.types import Cell, Verdict, make_verdict


def end_frames(num_frames: int) -> int:
    """Frames at the end of a video that must all show the solved state: max(2, ceil(0.1 T))."""
    return max(MIN_END_FRAMES, math.ceil(END_SHARE * num_frames - 1e-9))


def min_frames(num_moves: int) -> int:
    """Fewest frames for ``num_moves`` moves at one move per frame followed by the end window: the least
    T with ``T - end_frames(T) >= num_moves``."""
    frames = num_moves + MIN_END_FRAMES
    while frames - end_frames(frames) < num_moves:
        frames += 1
    return frames


def states_from_moves(puzzle: Puzzle, moves: str) -> list[State]:
    """States after each move of ``moves`` (``udlr``, case ignored), applied *without* checking legality.

    The player steps regardless; a box on its way is shoved one cell on, even into a wall or another
    box (boxes then merge), so that :func:`judge` sees and names every broken rule.
    """
    if not isinstance(moves, str):
        raise TypeError(f"moves must be a string, got {type(moves).__name__}")
    unknown = set(moves.lower()) - set(MOVES)
    if unknown:
        raise ValueError(f"moves may contain only u, d, l, r (any case), got {sorted(unknown)}")
    player, boxes = puzzle.start
    states = [puzzle.start]
    for letter in moves.lower():
        offset = puzzle.offsets[letter]
        player += offset
        if player in boxes:
            boxes = tuple(sorted(player + offset if b == player else b for b in boxes))
        states.append((player, boxes))
    return states


def problem(puzzle: Puzzle, state: State) -> str:
    """Why a state is impossible on its own ("" if it is a possible position)."""
    player, boxes = state
    cells = puzzle.grid.size
    if not 0 <= player < cells or player in puzzle.wall_set:
        return "the player is inside a wall"
    if any(not 0 <= b < cells or b in puzzle.wall_set for b in boxes):
        return "a box is inside a wall"
    if len(set(boxes)) != puzzle.num_boxes:
        return f"boxes appeared, vanished or merged ({len(set(boxes))} seen, {puzzle.num_boxes} expected)"
    if player in boxes:
        return "the player overlaps a box"
    return ""


def explain(puzzle: Puzzle, before: State, after: State) -> str | None:
    """The move (``udlr``, uppercase = push; "" for none) that turns ``before`` into ``after``, or
    ``None`` if no single legal move does."""
    if before == after:
        return ""
    for letter, offset in puzzle.offsets.items():
        result = step(puzzle.wall_set, before, offset)
        if result is not None and result[0] == after:
            return letter.upper() if result[1] else letter
    return None


def _describe(puzzle: Puzzle, before: State, after: State) -> str:
    """Why no single legal move explains ``before -> after`` (both possible positions)."""
    (row, col), (next_row, next_col) = puzzle.cell(before[0]), puzzle.cell(after[0])
    rows, cols = abs(next_row - row), abs(next_col - col)
    if before[1] != after[1]:
        return "a box moved without a one-cell push from behind by the player (slid, pulled or jumped)"
    if rows and cols:
        return "the player moved diagonally"
    return f"the player moved {rows + cols} cells at once (at most {MOVES_PER_FRAME} per step)"


@functools.lru_cache(maxsize=64)
def _solver(puzzle: Puzzle) -> Solver:
    return Solver(puzzle.walls, puzzle.targets)


@functools.lru_cache(maxsize=4096)
def cost_to_go(puzzle: Puzzle, state: State) -> tuple[int, int] | None:
    """(pushes, moves) of an optimal solution (fewest pushes, then fewest moves) from ``state``, or
    ``None`` if it is deadlocked or not solved within ``SCORE_NODE_BUDGET`` expansions.

    On the oracle's own path the oracle's remaining pushes and moves are used (exact for an optimal
    oracle, and what makes the dense reward rise steadily along it)."""
    states = puzzle.oracle_states
    if state in states:
        index = len(states) - 1 - states[::-1].index(state)
        rest = puzzle.solution[index:]
        return sum(letter.isupper() for letter in rest), len(rest)
    pushes = _solver(puzzle).search(state[0], state[1], SCORE_NODE_BUDGET)
    if pushes is None:
        return None
    moves = _solver(puzzle).moves_for(state[0], state[1], pushes)
    return len(pushes), len(moves)


def credit(puzzle: Puzzle, state: State) -> dict[str, float]:
    """The dense components for a legal prefix ending in ``state``: the share of the start's optimal
    moves (``moves``) and pushes (``pushes``) that ``state`` no longer needs; 0 for both if it is
    deadlocked or unpriced. The start scores 0; the solved state 1; along the oracle ``moves`` rises by
    one oracle move per move and ``pushes`` by one push per push."""
    start, now = cost_to_go(puzzle, puzzle.start), cost_to_go(puzzle, state)
    if now is None or start is None:
        return dict.fromkeys(WEIGHTS, 0.0)
    return {
        "moves": 1.0 - now[1] / start[1] if start[1] else 1.0,
        "pushes": 1.0 - now[0] / start[0] if start[0] else 1.0,
    }


def judge(
    puzzle: Puzzle,
    states: Sequence[State | None],
    *,
    problems: Sequence[str] | None = None,
    window: int = 1,
    needed: int = 0,
    from_video: bool = False,
) -> Verdict:
    """The verdict on a state sequence: one state per video frame (``from_video``; ``None`` where a
    frame was unreadable, ``problems`` saying why) or one per move of a move string.

    window: how many final states must be solved; needed: the fewest states a success needs.
    Components, each in [0, 1], are :func:`credit` of the last state of the legal prefix (the start if
    the first state is wrong or unreadable): a rule-breaking sequence scores exactly what stopping
    where it broke scores, and a sequence that never moves scores 0.
    """
    unit = "frame" if from_video else "move"
    states = [
        None if state is None else (int(state[0]), tuple(sorted(int(b) for b in state[1]))) for state in states
    ]
    problems = list(problems) if problems is not None else [""] * len(states)
    broken, why = None, ""
    for index, state in enumerate(states):
        if state is None:
            broken, why = index, f"{unit} {index} is unreadable: {problems[index]}"
        elif problem(puzzle, state):
            broken, why = index, f"illegal {unit} {index}: {problem(puzzle, state)}"
        elif index == 0 and state != puzzle.start:
            broken, why = 0, f"{unit} 0 is not the puzzle's start state"
        elif index and explain(puzzle, states[index - 1], state) is None:
            broken, why = index, f"illegal {unit} {index}: {_describe(puzzle, states[index - 1], state)}"
        if broken is not None:
            break
    prefix = states if broken is None else states[:broken]
    end = prefix[-1] if prefix else puzzle.start
    unsolved = [i for i in range(max(0, len(states) - window), len(states)) if not _solved(puzzle, states[i])]
    if broken is not None:
        reason = why
    elif len(states) < needed:
        reason = (
            f"the video has {len(states)} frames; this puzzle needs at least {needed} (its "
            f"{len(puzzle.solution)}-move solution at one move per frame, then the solved end)"
        )
    elif unsolved:
        reason = (
            f"the last {window} {unit}(s) must show every box on a target; {unit} {unsolved[0]} shows "
            f"{sum(b not in puzzle.target_set for b in states[unsolved[0]][1])} box(es) off target"
        )
    else:
        reason = ""
    player_cells = frozenset(puzzle.cell(state[0]) for state in prefix)
    trace: tuple[tuple[Cell, ...] | None, ...] = ()
    if from_video:
        trace = tuple(None if state is None else (puzzle.cell(state[0]),) for state in states)
    return make_verdict(
        not reason,
        credit(puzzle, end),
        WEIGHTS,
        reason,
        predicted_cells=player_cells,
        oracle_cells=frozenset(puzzle.cell(s[0]) for s in puzzle.oracle_states),
        trace=trace,
        broken_frame=broken if from_video else None,
    )


def _solved(puzzle: Puzzle, state: State | None) -> bool:
    return state is not None and puzzle.is_solved(state)


def read_path(puzzle: Puzzle, states: Sequence[State | None]) -> str:
    """The move string (``udlr``, uppercase = push) of the legal prefix of a state sequence."""
    moves = []
    for before, after in itertools.pairwise(states):
        move = None if before is None or after is None or problem(puzzle, after) else explain(puzzle, before, after)
        if move is None:
            break
        moves.append(move)
    return "".join(moves)


def judge_moves(puzzle: Puzzle, moves: str) -> Verdict:
    """Judge a text answer: a ``udlr`` move string played from the start (one move per transition)."""
    return judge(puzzle, states_from_moves(puzzle, moves))
