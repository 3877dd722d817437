"""VideoSokoban: push every box onto a target, shown as a video.

Plain functions for batch work: :func:`generate`, :func:`render_first_frame`, :func:`render_solution`,
:func:`verify`, :func:`prompt`; the rules alone (no pixels) are :func:`judge` and :func:`judge_moves`;
:func:`read_moves` reads the move string a video shows.
"""

from __future__ import annotations

from videorlvr.envs.sokoban.generator import generate
from videorlvr.envs.sokoban.puzzle import Puzzle
from videorlvr.envs.sokoban.render import render_first_frame, render_solution, render_state, render_states
from videorlvr.envs.sokoban.rules import judge, judge_moves, speed_limit, states_from_moves
from videorlvr.envs.sokoban.verify import perceive, read_moves, verify
from videorlvr.envs.types import TaskSpec

TASK_NAME = "sokoban"
ENV_ID = "VideoSokoban-v0"


def prompt(puzzle: Puzzle) -> str:
    """The task in words, as a video model is prompted."""
    boxes = "the amber box" if puzzle.num_boxes == 1 else f"all {puzzle.num_boxes} amber boxes"
    return (
        f"A top-down view of a {puzzle.rows}x{puzzle.cols} Sokoban room inside a white frame: brown walls, a "
        "light grey floor, red target squares, amber boxes and a blue disc, the player. The player walks one "
        "cell at a time up, down, left or right, never into a wall. It pushes a box by walking into it: the "
        "box slides one cell ahead of the player into a free cell. Boxes are never pulled, never move on "
        "their own, and only one box is pushed at a time. A box on a target turns green. The player pushes "
        f"{boxes} onto the red targets, step by step, then stays still. The camera is fixed; the walls and "
        "targets stay exactly as they are."
    )


TASK = TaskSpec(
    name=TASK_NAME,
    env_id=ENV_ID,
    puzzle_type=Puzzle,
    generate=generate,
    render_first_frame=render_first_frame,
    render_solution=render_solution,
    verify=verify,
    prompt=prompt,
)

__all__ = [
    "TASK",
    "Puzzle",
    "generate",
    "judge",
    "judge_moves",
    "perceive",
    "prompt",
    "read_moves",
    "render_first_frame",
    "render_solution",
    "render_state",
    "render_states",
    "speed_limit",
    "states_from_moves",
    "verify",
]
