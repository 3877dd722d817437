"""The pixel-free half of the verifier: judge a sequence of Sokoban states.

A state is ``(player, boxes)`` on flat cells (see :mod:`videorlvr.envs.sokoban.puzzle`). The same rules judge
states parsed from a video (several moves may separate two readable frames, bounded by a speed limit)
and states built from a move string (one move per transition):

- a transition is legal if a sequence of at most ``speed_limit`` legal moves (walks to free cells,
  pushes of one box from behind into a free cell) turns one state into the next;
- progress is credited only along the legal prefix (up to the first illegal transition), so breaking
  a rule never scores above stopping honestly where the rule was broken.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
from dataclasses import dataclass

from videorlvr.envs.sokoban.constants import (
    LAYOUT_SUCCESS_MIN,
    MIN_SPEED_LIMIT,
    MOVES,
    SEARCH_NODE_BUDGET,
    SPEED_FACTOR,
    WEIGHTS,
)
from videorlvr.envs.sokoban.puzzle import Puzzle, State, step
from videorlvr.envs.sokoban.solver import INFINITY, Solver
from videorlvr.envs.types import Verdict, make_verdict


def speed_limit(solution_length: int, num_frames: int) -> int:
    """Most moves one transition between readable frames may pack, for a video of ``num_frames``.

    ``SPEED_FACTOR`` times the oracle's mean moves per frame (at least ``MIN_SPEED_LIMIT``), capped at
    half the solution so that a cut from the start to the solved state (a jump cut) never passes.
    """
    if num_frames < 2:
        raise ValueError(f"num_frames must be at least 2, got {num_frames}")
    limit = max(MIN_SPEED_LIMIT, math.ceil(SPEED_FACTOR * solution_length / (num_frames - 1)))
    return min(limit, max(MIN_SPEED_LIMIT, solution_length // 2))


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


def _lower_bound(puzzle: Puzzle, state: State, goal: State) -> int:
    """Moves needed at least: the player's and the boxes' (best matching) Manhattan displacement."""
    cols = puzzle.cols

    def distance(a: int, b: int) -> int:
        return abs(a // cols - b // cols) + abs(a % cols - b % cols)

    player_moves = distance(state[0], goal[0])
    if state[1] == goal[1]:
        return player_moves
    box_moves = (
        min(sum(distance(a, b) for a, b in zip(state[1], order)) for order in itertools.permutations(goal[1]))
        if len(goal[1]) <= 4
        else sum(min(distance(a, b) for b in goal[1]) for a in state[1])
    )
    return max(player_moves, box_moves)


def explain(
    puzzle: Puzzle,
    before: State,
    after: State,
    limit: int,
    budget: int = SEARCH_NODE_BUDGET,
    checked: bool = False,
) -> str | None:
    """A shortest legal move string (``udlr``, uppercase = push) of at most ``limit`` moves from
    ``before`` to ``after``, or ``None`` (bounded A* over legal moves; ``budget`` expanded states).
    ``checked``: both states are already known to be possible positions (see :func:`problem`)."""
    if before == after:
        return ""
    if not checked and (problem(puzzle, after) or problem(puzzle, before)):
        return None
    walls = puzzle.wall_set
    letters = [(letter, puzzle.offsets[letter]) for letter in MOVES]
    for letter, offset in letters:  # the common case: one move
        result = step(walls, before, offset)
        if result is not None and result[0] == after:
            return letter.upper() if result[1] else letter
    if limit < 2 or _lower_bound(puzzle, before, after) > limit:
        return None
    counter = itertools.count()
    heap = [(_lower_bound(puzzle, before, after), 0, next(counter), before, "")]
    best = {before: 0}
    for _ in range(budget):
        if not heap:
            break
        _, moves, _, state, path = heapq.heappop(heap)
        if state == after:
            return path
        if moves > best[state]:
            continue
        for letter, offset in letters:
            result = step(walls, state, offset)
            if result is None:
                continue
            following, pushed = result
            if moves + 1 >= best.get(following, INFINITY):
                continue
            estimate = moves + 1 + _lower_bound(puzzle, following, after)
            if estimate <= limit:
                best[following] = moves + 1
                heapq.heappush(
                    heap,
                    (
                        estimate,
                        moves + 1,
                        next(counter),
                        following,
                        path + (letter.upper() if pushed else letter),
                    ),
                )
    return None


@dataclass(frozen=True)
class Trajectory:
    """What the rules read from a state sequence: the legal moves and where the first rule broke."""

    moves: str  # the legal prefix as a move string
    legal_transitions: int
    transitions: int
    first_illegal: int | None  # index of the first illegal transition (states[i] -> states[i + 1])
    illegal_reason: str
    player_cells: frozenset[tuple[int, int]]  # cells the player visited on the legal prefix, walks included


def trace(puzzle: Puzzle, states: list[State], limit: int = 1) -> Trajectory:
    """Explain each transition of ``states`` with at most ``limit`` legal moves."""
    moves, legal, first, reason = [], 0, None, ""
    cells: set[int] = {states[0][0]} if states else set()
    problems = [problem(puzzle, state) for state in states]
    for index, (before, after) in enumerate(itertools.pairwise(states)):
        possible = not problems[index] and not problems[index + 1]
        path = explain(puzzle, before, after, limit, checked=True) if possible else None
        if path is None:
            if first is None:
                first = index
                reason = problems[index + 1] or problems[index] or _describe(puzzle, before, after, limit)
            continue
        legal += 1
        if first is None:  # like the maze, path cells count only along the legal prefix
            player = before[0]
            for letter in path.lower():
                player += puzzle.offsets[letter]
                cells.add(player)
            moves.append(path)
    inside = frozenset(puzzle.cell(c) for c in cells if 0 <= c < puzzle.rows * puzzle.cols)
    return Trajectory("".join(moves), legal, max(len(states) - 1, 0), first, reason, inside)


def _describe(puzzle: Puzzle, before: State, after: State, limit: int) -> str:
    if before[1] != after[1]:
        return f"boxes moved in a way no {limit} legal move(s) explain (a box slid without a push?)"
    return f"the player moved where no {limit} legal move(s) lead (a jump or a walk through a wall?)"


@functools.lru_cache(maxsize=64)
def _solver(puzzle: Puzzle) -> Solver:
    return Solver(puzzle.walls, puzzle.targets)


def progress(puzzle: Puzzle, state: State) -> float:
    """1 - (pushes still needed at least) / (pushes needed at the start), in [0, 1]; 0 if deadlocked."""
    solver = _solver(puzzle)
    start = solver.heuristic(sum(1 << b for b in puzzle.start[1]))
    now = solver.heuristic(sum(1 << b for b in state[1]))
    if now >= INFINITY:
        return 0.0
    return 1.0 if start == 0 else max(0.0, 1.0 - now / start)


def judge(
    puzzle: Puzzle,
    states: list[State],
    *,
    limit: int = 1,
    layout_preserved: float = 1.0,
    ending_problem: str = "",
    frames: list[int] | None = None,
) -> Verdict:
    """The verdict on a sequence of distinct consecutive states (the first should be the start).

    Components, each in [0, 1]:
      start_correct: 1 if the first state is the puzzle's start.
      moves_valid: share of the transitions that are legal *and* come before the first illegal one
        (0 if the player never moves). Counting legal moves after a broken rule would pay a video
        for cheating once and then playing on; this way it earns no more than stopping at the cheat.
      boxes_on_target: share of boxes on targets at the end of the legal prefix.
      progress: pushes saved vs the start by the end of the legal prefix (matching lower bound).
      layout_preserved: share of readable frames whose walls and targets match (from perception).
    Success: a correct start, every transition legal, the last state solved, a clean ending
    (``ending_problem`` empty) and ``layout_preserved >= LAYOUT_SUCCESS_MIN``. ``frames`` (the video
    frame of each state) only makes the reason name a frame instead of a move number.
    """
    oracle_cells = frozenset(puzzle.cell(s[0]) for s in puzzle.oracle_states)
    states = [(int(player), tuple(sorted(int(b) for b in boxes))) for player, boxes in states]
    if not states:
        components = dict.fromkeys(WEIGHTS, 0.0)
        return make_verdict(
            False, components, WEIGHTS, "no readable board state in the video", oracle_cells=oracle_cells
        )
    start_correct = states[0] == puzzle.start
    path = trace(puzzle, states, limit)
    legal_prefix = path.transitions if path.first_illegal is None else path.first_illegal
    legal_end = (
        states[path.first_illegal if path.first_illegal is not None else -1]
        if start_correct
        else puzzle.start
    )
    on_target = sum(b in puzzle.target_set for b in legal_end[1]) / puzzle.num_boxes
    components = {
        "start_correct": float(start_correct),
        "moves_valid": legal_prefix / path.transitions if path.transitions else 0.0,
        "boxes_on_target": on_target,
        "progress": progress(puzzle, legal_end),
        "layout_preserved": layout_preserved,
    }
    solved = puzzle.is_solved(states[-1])
    left = sum(b not in puzzle.target_set for b in states[-1][1])
    if path.first_illegal is None:
        where = ""
    elif frames is not None:
        where = f"frame {frames[path.first_illegal + 1]}"
    else:
        where = f"move {path.first_illegal + 1}"
    checks = (
        (start_correct, "the first readable frame is not the puzzle's start state"),
        (path.first_illegal is None, f"illegal move at {where}: {path.illegal_reason}"),
        (not ending_problem, ending_problem),
        (solved, f"{left} box(es) not on a target in the last state"),
        (
            layout_preserved >= LAYOUT_SUCCESS_MIN,
            f"walls or targets changed (layout_preserved {layout_preserved:.2f})",
        ),
    )
    reason = next((message for ok, message in checks if not ok), "")
    return make_verdict(
        not reason,
        components,
        WEIGHTS,
        reason,
        predicted_cells=path.player_cells if start_correct else frozenset(),
        oracle_cells=oracle_cells,
    )


def judge_moves(puzzle: Puzzle, moves: str) -> Verdict:
    """Judge a text answer: a ``udlr`` move string played from the start (one move per transition)."""
    return judge(puzzle, states_from_moves(puzzle, moves), limit=1)
