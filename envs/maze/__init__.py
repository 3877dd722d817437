"""VideoMaze: walk the agent through a perfect maze to the goal, shown as a video.

Plain functions for batch work: :func:`generate`, :func:`render_first_frame`, :func:`render_solution`,
:func:`verify`, :func:`prompt`, :func:`min_frames` (the fewest frames a video of a maze needs) and
:func:`validate` (env settings); the rules alone (no pixels) are :func:`judge` and :func:`judge_moves`.
"""

from __future__ import annotations

from videorlvr.envs.maze.constants import COLOUR_NAMES, ENV_ID, TASK_NAME
from videorlvr.envs.maze.generator import MazePuzzle, generate
from videorlvr.envs.maze.render import render_first_frame, render_solution
from videorlvr.envs.maze.rules import judge, judge_moves, min_frames
from videorlvr.envs.maze.validate import validate
from videorlvr.envs.maze.verify import perceive, verify
from videorlvr.envs.types import TaskSpec

Puzzle = MazePuzzle


def prompt(puzzle: MazePuzzle) -> str:
    """The task in words, as a video model is prompted."""
    agent, goal, start = COLOUR_NAMES["agent"], COLOUR_NAMES["goal"], COLOUR_NAMES["start"]
    return (
        f"A top-down view of a {puzzle.rows}x{puzzle.cols} maze: dark walls on a light floor inside a white "
        f"frame. The {agent} disc is the agent; it starts on the {start} square. The {goal} square is the "
        f"goal. The {agent} disc moves through the open corridors, one cell at a time, never crossing or "
        f"touching a wall and never jumping, until it rests on the {goal} square. The camera is fixed; the "
        f"maze, its walls and the {goal} goal stay exactly as they are."
    )


TASK = TaskSpec(
    name=TASK_NAME,
    env_id=ENV_ID,
    puzzle_type=MazePuzzle,
    generate=generate,
    render_first_frame=render_first_frame,
    render_solution=render_solution,
    verify=verify,
    prompt=prompt,
    min_frames=min_frames,
    validate=validate,
)

__all__ = [
    "TASK",
    "MazePuzzle",
    "Puzzle",
    "generate",
    "judge",
    "judge_moves",
    "min_frames",
    "perceive",
    "prompt",
    "render_first_frame",
    "render_solution",
    "validate",
    "verify",
]
