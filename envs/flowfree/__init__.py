"""VideoFlowFree: join every pair of same-coloured dots with a pipe and fill the board, shown as a video.

Plain functions for batch work: :func:`generate`, :func:`render_first_frame`, :func:`render_solution`,
:func:`verify`, :func:`prompt`, :func:`min_frames` (the fewest frames a video of a puzzle needs: one pipe
cell per frame, then the solved board held) and :func:`validate` (env settings); the rules alone (no
pixels) are :func:`judge` over cell-colour states (:func:`oracle_states` gives the oracle's) and
:func:`judge_moves` over pipes written as ``udlr`` moves; :func:`count_solutions` is the exact solver.
"""

from __future__ import annotations

from videorlvr.envs.flowfree.constants import COLOUR_NAMES, ENV_ID, TASK_NAME
from videorlvr.envs.flowfree.generator import generate, validate
from videorlvr.envs.flowfree.puzzle import (
    EMPTY,
    FlowFreePuzzle,
    end_window,
    frames_needed,
    growth_schedule,
    min_frames,
    oracle_states,
)
from videorlvr.envs.flowfree.render import render_first_frame, render_solution, render_states
from videorlvr.envs.flowfree.rules import judge, judge_moves, states_from_moves
from videorlvr.envs.flowfree.solver import count_solutions, find_solutions
from videorlvr.envs.flowfree.verify import perceive, verify
from videorlvr.envs.types import TaskSpec

Puzzle = FlowFreePuzzle


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def prompt(puzzle: FlowFreePuzzle) -> str:
    """The task in words, as a video model is prompted."""
    colours = _listing(list(COLOUR_NAMES[: puzzle.num_colors]))
    return (
        f"A top-down view of a {puzzle.size}x{puzzle.size} Flow Free puzzle inside a white frame: a dark grey "
        f"grid with {puzzle.num_colors} pairs of coloured dots ({colours}). Coloured pipes grow out of the dots "
        "through the centres of the cells, one cell at a time and one colour after another, until every pair of "
        "dots of the same colour is joined by a pipe of its colour. Pipes never cross, branch or change colour, "
        "and in the end every cell of the grid is filled. The camera is fixed; the dots stay exactly where they are."
    )


TASK = TaskSpec(
    name=TASK_NAME,
    env_id=ENV_ID,
    puzzle_type=FlowFreePuzzle,
    generate=generate,
    render_first_frame=render_first_frame,
    render_solution=render_solution,
    verify=verify,
    prompt=prompt,
    min_frames=min_frames,
    validate=validate,
)

__all__ = [
    "EMPTY",
    "TASK",
    "FlowFreePuzzle",
    "Puzzle",
    "count_solutions",
    "end_window",
    "find_solutions",
    "frames_needed",
    "generate",
    "growth_schedule",
    "judge",
    "judge_moves",
    "min_frames",
    "oracle_states",
    "perceive",
    "prompt",
    "render_first_frame",
    "render_solution",
    "render_states",
    "states_from_moves",
    "validate",
    "verify",
]
