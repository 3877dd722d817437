"""VideoRLVR environments: video reasoning puzzles with verifiable rewards.

``import envs`` registers the Gymnasium ids ``VideoMaze-v0``, ``VideoFlowFree-v0`` and
``VideoSokoban-v0``. Batch tools use :func:`get_task` for the plain functions of one task.
"""

from __future__ import annotations

import importlib

from gymnasium.envs.registration import register, registry

from envs.types import TaskSpec, Verdict

TASK_NAMES: tuple[str, ...] = ("maze", "flowfree", "sokoban")
ENV_IDS = {"maze": "VideoMaze-v0", "flowfree": "VideoFlowFree-v0", "sokoban": "VideoSokoban-v0"}
_ENTRY_POINTS = {
    "maze": "envs.maze.env:VideoMazeEnv",
    "flowfree": "envs.flowfree.env:VideoFlowFreeEnv",
    "sokoban": "envs.sokoban.env:VideoSokobanEnv",
}

for _task in TASK_NAMES:
    if ENV_IDS[_task] not in registry:
        register(id=ENV_IDS[_task], entry_point=_ENTRY_POINTS[_task])


def get_task(name: str) -> TaskSpec:
    """The :class:`TaskSpec` of a task by name ("maze", "flowfree" or "sokoban")."""
    if name not in TASK_NAMES:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASK_NAMES)}")
    return importlib.import_module(f"envs.{name}").TASK


__all__ = ["ENV_IDS", "TASK_NAMES", "TaskSpec", "Verdict", "get_task"]
