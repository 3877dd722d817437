"""The registered entry points: one per task, choosing the video or the text-answer environment."""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym

ANSWER_KINDS = ("video", "text")
MODES = ("solve", "follow")
_VIDEO_CLASSES = {
    "maze": "videorlvr.envs.maze.env:VideoMazeEnv",
    "flowfree": "videorlvr.envs.flowfree.env:VideoFlowFreeEnv",
    "sokoban": "videorlvr.envs.sokoban.env:VideoSokobanEnv",
}


def make_env(task: str, answer: str = "video", mode: str = "solve", **kwargs: Any) -> gym.Env:
    """The environment of ``task``: answered by a video (default) or, with ``answer="text"``, by text;
    ``mode="follow"`` asks the video to show a given move list instead of solving the puzzle."""
    if answer not in ANSWER_KINDS:
        raise ValueError(f"answer must be one of {ANSWER_KINDS}, got {answer!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "follow":
        from videorlvr.envs import get_task
        from videorlvr.envs.follow_env import FollowEnv

        if answer != "video":
            raise ValueError("mode='follow' is answered by a video (answer='video')")
        return FollowEnv(get_task(task), **kwargs)
    if answer == "text":
        from videorlvr.envs import get_task
        from videorlvr.envs.answers.env import TextAnswerEnv

        return TextAnswerEnv(get_task(task), **kwargs)
    module, name = _VIDEO_CLASSES[task].split(":")
    return getattr(importlib.import_module(module), name)(**kwargs)


def maze(**kwargs: Any) -> gym.Env:
    """``gym.make("VideoMaze-v0", ...)``."""
    return make_env("maze", **kwargs)


def flowfree(**kwargs: Any) -> gym.Env:
    """``gym.make("VideoFlowFree-v0", ...)``."""
    return make_env("flowfree", **kwargs)


def sokoban(**kwargs: Any) -> gym.Env:
    """``gym.make("VideoSokoban-v0", ...)``."""
    return make_env("sokoban", **kwargs)
