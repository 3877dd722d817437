"""VideoSokoban-v0: what only Sokoban adds to the shared Gymnasium API (tests/test_env_api.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from videorlvr import envs

SMALL = {"height": 96, "width": 160, "num_frames": 17}


def test_frozen_video_scores_low_and_says_why():
    env = gym.make("VideoSokoban-v0", difficulty="medium", **SMALL)
    obs, _ = env.reset(seed=5)
    _, reward, _, _, info = env.step(np.repeat(obs["frame"][None], SMALL["num_frames"], axis=0))
    assert not info["success"] and reward < 0.5
    assert info["components"]["moves_valid"] == 0.0 and "not on a target" in info["reason"]


def test_puzzle_kwargs_reach_the_generator_and_bad_ones_fail_at_construction():
    env = gym.make("VideoSokoban-v0", difficulty="easy", size=(7, 9), num_boxes=2, min_moves=4, **SMALL)
    _, info = env.reset(seed=1)
    assert (info["puzzle"]["rows"], info["puzzle"]["cols"], info["puzzle"]["num_boxes"]) == (7, 9, 2)
    with pytest.raises(TypeError, match="unknown"):
        gym.make("VideoSokoban-v0", boxes=2, **SMALL)
    with pytest.raises(ValueError, match="do not fit"):
        gym.make("VideoSokoban-v0", difficulty="easy", num_boxes=9, **SMALL)


def test_task_spec_is_registered_and_prompts_are_printable():
    task = envs.get_task("sokoban")
    assert task.env_id == "VideoSokoban-v0" and task.name == "sokoban"
    puzzle = task.generate(4, "medium")
    text = task.prompt(puzzle)
    assert text.isascii() and "2 amber boxes" in text
    assert task.puzzle_from_dict(puzzle.to_dict()) == puzzle
