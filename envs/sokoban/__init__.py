"""VideoSokoban: push every box onto a target, shown as a video.

Plain functions for batch work: :func:`generate`, :func:`render_first_frame`, :func:`render_solution`,
:func:`verify`, :func:`prompt`, :func:`puzzle_min_frames` (the fewest frames a video of a puzzle needs)
and :func:`validate` (env settings); the rules alone (no pixels) are :func:`judge` and
:func:`judge_moves`; :func:`read_moves` reads the move string a video shows.
"""

from __future__ import annotations

from typing import Any

from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.sokoban.generator import generate, resolve_settings
from videorlvr.envs.sokoban.puzzle import Puzzle
from videorlvr.envs.sokoban.render import render_first_frame, render_solution, render_state, render_states
from videorlvr.envs.sokoban.rules import end_frames, judge, judge_moves, min_frames, states_from_moves
from videorlvr.envs.sokoban.verify import perceive, read_moves, verify
from videorlvr.envs.types import TaskSpec

TASK_NAME = "sokoban"
ENV_ID = "VideoSokoban-v0"


def prompt(puzzle: Puzzle) -> str:
    """The task in words, as a video model is prompted (it counts only the boxes still to be pushed)."""
    placed = sum(box in puzzle.target_set for box in puzzle.start[1])
    left = puzzle.num_boxes - placed
    boxes = "the amber box onto the red target" if left == 1 else f"all {left} amber boxes onto the red targets"
    if placed:
        boxes = boxes.replace("the red target", "the free red target")
        boxes += " (one more box already sits" if placed == 1 else f" ({placed} more boxes already sit"
        boxes += " on a target, shown green)"
    return (
        f"A top-down view of a {puzzle.rows}x{puzzle.cols} Sokoban room inside a white frame: brown walls, a "
        "light grey floor, red target squares, amber boxes and a blue disc, the player. The player walks one "
        "cell at a time up, down, left or right, never into a wall. It pushes a box by walking into it: the "
        "box slides one cell ahead of the player into a free cell. Boxes are never pulled, never move on "
        "their own, and only one box is pushed at a time. A box on a target turns green. The player pushes "
        f"{boxes}, one step per frame, then stays still. The camera is fixed; the walls "
        "and targets stay exactly as they are."
    )


def puzzle_min_frames(puzzle: Puzzle) -> int:
    """The fewest frames a video of ``puzzle`` needs: its oracle at one move per frame, then the end window."""
    return min_frames(len(puzzle.solution))


def validate(difficulty: str, height: int, width: int, num_frames: int, **kwargs: Any) -> None:
    """Raise ``ValueError`` for settings an env cannot honour: unknown or bad level settings, a room too
    big for the frame, or too few frames for the preset's longest solution at one move per frame."""
    settings = resolve_settings(difficulty, **kwargs)
    rows, cols = settings["size"]
    BoardGeometry(rows, cols, height, width)  # raises when cells would be under 4 px
    longest = settings["max_moves"]
    if num_frames < min_frames(longest):
        fits = num_frames - end_frames(num_frames)
        raise ValueError(
            f"{difficulty} Sokoban levels (solutions up to {longest} moves) need up to {min_frames(longest)} "
            f"frames: one move per frame, then the last {end_frames(min_frames(longest))} frames solved; got "
            f"{num_frames}. Use more frames or max_moves <= {fits} (with min_moves <= max_moves)."
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
    min_frames=puzzle_min_frames,
    validate=validate,
)

__all__ = [
    "TASK",
    "Puzzle",
    "end_frames",
    "generate",
    "judge",
    "judge_moves",
    "min_frames",
    "perceive",
    "prompt",
    "puzzle_min_frames",
    "read_moves",
    "render_first_frame",
    "render_solution",
    "render_state",
    "render_states",
    "states_from_moves",
    "validate",
    "verify",
]
