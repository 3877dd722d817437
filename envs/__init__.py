"""VideoRLVR environments: video reasoning puzzles with verifiable rewards.

``import videorlvr.envs`` (or ``import videorlvr``) registers the Gymnasium ids
``VideoRLVR/VideoMaze-v0``, ``VideoRLVR/VideoFlowFree-v0`` and ``VideoRLVR/VideoSokoban-v0`` and their
plain aliases ``VideoMaze-v0`` etc.; ``gym.make("videorlvr:VideoMaze-v0")`` needs no import at all.
``gym.make_vec(id, n)`` scores on every ``step`` call (SAME_STEP autoreset, :mod:`videorlvr.envs.vector`).
Batch tools use :func:`get_task` for the plain functions of one task.
"""

from __future__ import annotations

import importlib
from functools import partial

from gymnasium.envs.registration import register, registry

from videorlvr.envs.types import TaskSpec, Verdict
from videorlvr.envs.vector import make_vector_env

TASK_NAMES: tuple[str, ...] = ("maze", "flowfree", "sokoban")
ENV_IDS = {"maze": "VideoMaze-v0", "flowfree": "VideoFlowFree-v0", "sokoban": "VideoSokoban-v0"}
NAMESPACE = "VideoRLVR"
_ENTRY_POINTS = {
    "maze": "videorlvr.envs.factory:maze",
    "flowfree": "videorlvr.envs.factory:flowfree",
    "sokoban": "videorlvr.envs.factory:sokoban",
}

for _task in TASK_NAMES:
    for _env_id in (f"{NAMESPACE}/{ENV_IDS[_task]}", ENV_IDS[_task]):
        if _env_id not in registry:
            # make_vec: SAME_STEP autoreset, so every step call scores (see videorlvr.envs.vector);
            # the "module:" prefix makes worker processes of async vector envs register the ids too.
            register(
                id=_env_id,
                entry_point=_ENTRY_POINTS[_task],
                vector_entry_point=partial(make_vector_env, f"videorlvr.envs:{_env_id}"),
            )


def get_task(name: str) -> TaskSpec:
    """The :class:`TaskSpec` of a task by name ("maze", "flowfree" or "sokoban")."""
    if name not in TASK_NAMES:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASK_NAMES)}")
    return importlib.import_module(f"videorlvr.envs.{name}").TASK


__all__ = ["ENV_IDS", "NAMESPACE", "TASK_NAMES", "TaskSpec", "Verdict", "get_task", "make_vector_env"]
