"""Each task as a text puzzle: the board in characters, the answer format, the oracle's answer and the
judge. Judging goes through the task's own pixel-free rules (``judge_moves``), the same rules that
judge videos, so a text answer and a video of the same moves get the same verdict shape.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from videorlvr.envs.answers.parsing import parse_moves, parse_paths
from videorlvr.envs.types import Verdict, make_verdict

DIRECTIONS = {(-1, 0): "u", (1, 0): "d", (0, -1): "l", (0, 1): "r"}
MIN_MOVE_CAP = 200  # answers longer than max(MIN_MOVE_CAP, MOVE_CAP_FACTOR x oracle moves) are rejected
MOVE_CAP_FACTOR = 10


@dataclass(frozen=True)
class TextTask:
    """One task's text interface (see :mod:`videorlvr.envs.answers`)."""

    board: Callable[[Any], str]  # puzzle -> the board in characters, with its legend
    answer_format: str  # how to write the answer, stated in every question
    solution_answer: Callable[[Any], str]  # puzzle -> the oracle's answer string
    judge: Callable[[Any, str], Verdict]  # (puzzle, answer text) -> Verdict; never raises on bad text


def failed(reason: str, components: tuple[str, ...]) -> Verdict:
    """A zero-reward verdict for an answer that could not be judged (malformed, too long)."""
    zeros = dict.fromkeys(components, 0.0)
    return make_verdict(False, zeros, dict.fromkeys(components, 1.0), reason)


def moves_of_path(cells: list[tuple[int, int]]) -> str | None:
    """``udlr`` moves along a cell path, or None when two consecutive cells are not neighbours."""
    moves = []
    for (r0, c0), (r1, c1) in itertools.pairwise(cells):
        move = DIRECTIONS.get((r1 - r0, c1 - c0))
        if move is None:
            return None
        moves.append(move)
    return "".join(moves)


def move_string_judge(
    judge_moves: Callable[[Any, str], Verdict], components: tuple[str, ...], oracle_moves: Callable[[Any], int]
) -> Callable[[Any, str], Verdict]:
    """A judge for ``udlr`` answers: parse, bound the length, then the task's ``judge_moves``."""

    def judge(puzzle: Any, answer: str) -> Verdict:
        moves, reason = parse_moves(answer)
        if moves is None:
            return failed(reason, components)
        cap = max(MIN_MOVE_CAP, MOVE_CAP_FACTOR * oracle_moves(puzzle))
        if len(moves) > cap:
            return failed(f"answer has {len(moves)} moves, more than the {cap} accepted", components)
        return judge_moves(puzzle, moves)

    return judge


# --- maze -------------------------------------------------------------------------------------------
def maze_board(puzzle: Any) -> str:
    """The maze as ``(2*rows+1) x (2*cols+1)`` characters: ``#`` wall, space open, ``S`` start, ``G`` goal."""
    grid = [["#"] * (2 * puzzle.cols + 1) for _ in range(2 * puzzle.rows + 1)]
    for r in range(puzzle.rows):
        for c in range(puzzle.cols):
            grid[2 * r + 1][2 * c + 1] = " "
            if c + 1 < puzzle.cols and puzzle.is_open((r, c), (r, c + 1)):
                grid[2 * r + 1][2 * c + 2] = " "
            if r + 1 < puzzle.rows and puzzle.is_open((r, c), (r + 1, c)):
                grid[2 * r + 2][2 * c + 1] = " "
    (sr, sc), (gr, gc) = puzzle.start, puzzle.goal
    grid[2 * sr + 1][2 * sc + 1] = "S"
    grid[2 * gr + 1][2 * gc + 1] = "G"
    legend = (f"A {puzzle.rows}x{puzzle.cols} maze; '#' is wall, ' ' is open floor, 'S' the start and 'G' the "
              "goal. Each cell is a character at an odd row and column; the characters between cells show "
              "whether a wall separates them.")
    return legend + "\n" + "\n".join("".join(row) for row in grid)


MOVE_FORMAT = ("Answer with the moves from the start, one letter per move of one cell: u (up), d (down), "
               "l (left), r (right), e.g. <answer>rrdl</answer>. Case, spaces and commas are ignored; if "
               "you write several answers, the last one counts.")


def _maze_answer(puzzle: Any) -> str:
    return moves_of_path([tuple(cell) for cell in puzzle.solution]) or ""


# --- Sokoban ----------------------------------------------------------------------------------------
def sokoban_board(puzzle: Any) -> str:
    """The level in the common text format (``#`` wall, ``@`` player, ``$`` box, ``.`` target,
    ``*`` box on target, ``+`` player on target)."""
    legend = ("A Sokoban room; '#' wall, ' ' floor, '@' the player, '$' a box, '.' a target, '*' a box on a "
              "target, '+' the player on a target. The player pushes a box by walking into it; boxes are "
              "never pulled. Push every box onto a target.")
    return legend + "\n" + "\n".join(puzzle.level)


SOKOBAN_FORMAT = MOVE_FORMAT + (" The LURD notation (upper case for pushes, e.g. rrDulL) is accepted; the "
                                "case of a letter does not change the move.")


# --- FlowFree ---------------------------------------------------------------------------------------
def flowfree_labels(puzzle: Any) -> dict[str, int]:
    """Accepted labels for each colour: its name ("red") and its letter on the text board ("A")."""
    from videorlvr.envs.flowfree.constants import COLOUR_NAMES

    labels = {COLOUR_NAMES[k]: k for k in range(puzzle.num_colors)}
    labels.update({chr(ord("a") + k): k for k in range(puzzle.num_colors)})
    return labels


def flowfree_board(puzzle: Any) -> str:
    """The board as ``size`` lines of ``size`` characters: ``.`` empty, a letter for each colour's two dots."""
    from videorlvr.envs.flowfree.constants import COLOUR_NAMES

    grid = [["."] * puzzle.size for _ in range(puzzle.size)]
    for k, path in enumerate(puzzle.paths):
        for r, c in (path[0], path[-1]):
            grid[r][c] = chr(ord("A") + k)
    legend = ", ".join(f"{chr(ord('A') + k)} = {COLOUR_NAMES[k]}" for k in range(puzzle.num_colors))
    text = (f"A {puzzle.size}x{puzzle.size} Flow Free board; '.' is an empty cell, each letter marks one of the "
            f"two dots of a colour ({legend}). Cells are (row, column), counted from 0 at the top left.")
    return text + "\n" + "\n".join("".join(row) for row in grid)


FLOWFREE_FORMAT = ("Answer with one line per colour, the cells of its pipe from one of its dots to the other, "
                   "both dots included, e.g.\n<answer>\nred: (0,0) (0,1) (1,1)\nblue: (2,0) (2,1)\n</answer>\n"
                   "Join every pair of dots; pipes never cross and together fill every cell. A colour may be "
                   "named by its name or its letter; if a colour has several lines, the last one counts.")


def _flowfree_answer(puzzle: Any) -> str:
    from videorlvr.envs.flowfree.constants import COLOUR_NAMES

    return "\n".join(
        f"{COLOUR_NAMES[k]}: " + " ".join(f"({r},{c})" for r, c in path) for k, path in enumerate(puzzle.paths)
    )


def _flowfree_judge(puzzle: Any, answer: str) -> Verdict:
    from videorlvr.envs.flowfree import FlowFreePuzzle, judge_moves
    from videorlvr.envs.flowfree.constants import COLOUR_NAMES, WEIGHTS

    components = tuple(WEIGHTS)
    paths, reason = parse_paths(answer, flowfree_labels(puzzle))
    if paths is None:
        return failed(reason, components)
    oriented = list(puzzle.paths)
    walks = [""] * puzzle.num_colors
    for k, cells in sorted(paths.items()):
        first, second = puzzle.paths[k][0], puzzle.paths[k][-1]
        if cells[0] == second:  # drawn from the other dot: judge it against the puzzle seen that way
            oriented[k] = tuple(reversed(puzzle.paths[k]))
        elif cells[0] != first:
            return failed(f"the {COLOUR_NAMES[k]} pipe must start on one of its dots {first} or {second}, "
                          f"not {cells[0]}", components)
        walk = moves_of_path(cells)
        if walk is None:
            return failed(f"the {COLOUR_NAMES[k]} pipe jumps between cells that are not neighbours", components)
        walks[k] = walk
    if sum(map(len, walks)) > max(MIN_MOVE_CAP, MOVE_CAP_FACTOR * puzzle.size**2):
        return failed("the answer has far more pipe cells than the board", components)
    seen_as = FlowFreePuzzle(puzzle.seed, puzzle.difficulty, puzzle.size, tuple(oriented))
    return judge_moves(seen_as, walks)


def _maze_task() -> TextTask:
    from videorlvr.envs.maze import judge_moves
    from videorlvr.envs.maze.constants import WEIGHTS

    return TextTask(maze_board, MOVE_FORMAT, _maze_answer,
                    move_string_judge(judge_moves, tuple(WEIGHTS), lambda p: p.path_length))


def _sokoban_task() -> TextTask:
    from videorlvr.envs.sokoban import judge_moves
    from videorlvr.envs.sokoban.constants import WEIGHTS

    return TextTask(sokoban_board, SOKOBAN_FORMAT, lambda puzzle: puzzle.solution,
                    move_string_judge(judge_moves, tuple(WEIGHTS), lambda p: len(p.solution)))


def _flowfree_task() -> TextTask:
    return TextTask(flowfree_board, FLOWFREE_FORMAT, _flowfree_answer, _flowfree_judge)


TEXT_TASKS: dict[str, Callable[[], TextTask]] = {
    "maze": _maze_task,
    "flowfree": _flowfree_task,
    "sokoban": _sokoban_task,
}
