"""VideoSokoban-v0: what only Sokoban adds to the shared Gymnasium API (tests/test_env_api.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from videorlvr import envs

SMALL = {"height": 96, "width": 160, "num_frames": 81}


def test_frozen_video_scores_zero_and_says_why():
    env = gym.make("VideoSokoban-v0", difficulty="medium", **SMALL)
    obs, _ = env.reset(seed=5)
    _, reward, _, _, info = env.step(np.repeat(obs["frame"][None], SMALL["num_frames"], axis=0))
    assert not info["success"] and reward == 0.0
    assert info["components"] == {"moves": 0.0, "pushes": 0.0} and "off target" in info["reason"]


def test_puzzle_kwargs_reach_the_generator_and_bad_ones_fail_at_construction():
    env = gym.make("VideoSokoban-v0", difficulty="easy", size=(7, 9), num_boxes=2, min_moves=4, **SMALL)
    _, info = env.reset(seed=1)
    assert (info["puzzle"]["rows"], info["puzzle"]["cols"], info["puzzle"]["num_boxes"]) == (7, 9, 2)
    with pytest.raises(ValueError, match="unknown sokoban level settings.*allowed: size"):
        gym.make("VideoSokoban-v0", boxes=2, **SMALL)
    with pytest.raises(ValueError, match="do not fit"):
        gym.make("VideoSokoban-v0", difficulty="easy", num_boxes=9, **SMALL)


def test_settings_that_cannot_show_one_move_per_frame_fail_at_construction():
    with pytest.raises(ValueError, match="hard Sokoban levels .* need up to 80 frames.*max_moves <= 51"):
        gym.make("VideoSokoban-v0", difficulty="hard", height=96, width=160, num_frames=57)
    env = gym.make("VideoSokoban-v0", difficulty="hard", height=96, width=160, num_frames=57, max_moves=51)
    _, info = env.reset(seed=0)
    assert len(info["puzzle"]["solution"]) <= 51
    with pytest.raises(ValueError, match="too small"):
        gym.make("VideoSokoban-v0", difficulty="easy", size=30, height=64, width=64, num_frames=81)
    for difficulty in ("easy", "medium", "hard"):  # the published setting
        gym.make("VideoSokoban-v0", difficulty=difficulty, height=480, width=832, num_frames=81)


def test_oracle_video_of_the_env_succeeds_and_a_short_one_fails_cleanly():
    env = gym.make("VideoSokoban-v0", difficulty="easy", **SMALL)
    env.reset(seed=2)
    unwrapped = env.unwrapped
    _, reward, _, _, info = env.step(unwrapped.solution_video())
    assert info["success"] and reward == 1.0
    needed = envs.get_task("sokoban").min_frames(unwrapped.puzzle)
    _, _, _, _, info = env.step(unwrapped.solution_video(needed)[: needed - 1])
    assert not info["success"] and "needs at least" in info["reason"]


def test_task_spec_is_registered_and_prompts_count_the_boxes_to_push():
    task = envs.get_task("sokoban")
    assert task.env_id == "VideoSokoban-v0" and task.name == "sokoban"
    puzzle = task.generate(4, "medium")
    text = task.prompt(puzzle)
    placed = sum(box in puzzle.target_set for box in puzzle.start[1])
    assert text.isascii() and ("2 amber boxes" in text) == (placed == 0)
    assert task.puzzle_from_dict(puzzle.to_dict()) == puzzle
