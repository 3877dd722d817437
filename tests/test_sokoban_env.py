"""VideoSokoban-v0 through the Gymnasium API."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.sokoban.constants import WEIGHTS
from envs.sokoban.env import VideoSokobanEnv

SMALL = {"height": 96, "width": 160, "num_frames": 17}


def test_env_passes_gymnasium_check_env():
    env = gym.make("VideoSokoban-v0", difficulty="easy", **SMALL)
    check_env(env.unwrapped, skip_render_check=True)


def test_seeded_reset_is_deterministic_and_seeds_differ():
    env = gym.make("VideoSokoban-v0", difficulty="medium", **SMALL)
    obs_a, info_a = env.reset(seed=7)
    obs_b, info_b = env.reset(seed=7)
    _, info_c = env.reset(seed=8)
    assert info_a["puzzle"] == info_b["puzzle"] != info_c["puzzle"]
    assert np.array_equal(obs_a["frame"], obs_b["frame"]) and obs_a["prompt"] == obs_b["prompt"]
    assert info_a["task"] == "sokoban"
    json.dumps(info_a["puzzle"])


def test_oracle_video_scores_one_in_both_reward_modes():
    for mode in ("dense", "success"):
        env = gym.make("VideoSokoban-v0", difficulty="hard", reward_mode=mode, **SMALL)
        env.reset(seed=3)
        _, reward, terminated, truncated, info = env.step(env.unwrapped.solution_video())
        assert reward == 1.0 and info["success"] and terminated and not truncated
        assert set(info["components"]) == set(WEIGHTS) and info["reason"] == ""


def test_frozen_video_scores_low_and_says_why():
    env = gym.make("VideoSokoban-v0", difficulty="medium", **SMALL)
    obs, _ = env.reset(seed=5)
    _, reward, _, _, info = env.step(np.repeat(obs["frame"][None], SMALL["num_frames"], axis=0))
    assert not info["success"] and reward < 0.5
    assert info["components"]["moves_valid"] == 0.0 and "not on a target" in info["reason"]


def test_reset_with_a_stored_puzzle_restores_it():
    env = gym.make("VideoSokoban-v0", difficulty="easy", **SMALL)
    _, info = env.reset(seed=11)
    stored = json.loads(json.dumps(info["puzzle"]))
    other = gym.make("VideoSokoban-v0", difficulty="hard", **SMALL)
    _, restored = other.reset(options={"puzzle": stored})
    assert restored["puzzle"] == info["puzzle"]
    _, reward, _, _, _ = other.step(other.unwrapped.solution_video())
    assert reward == 1.0


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


def test_class_docstring_documents_every_section_and_component():
    doc = VideoSokobanEnv.__doc__
    for section in (
        "Description",
        "Action Space",
        "Observation Space",
        "Starting State",
        "Rewards",
        "Episode End",
        "Arguments",
        "Version History",
    ):
        assert f"## {section}" in doc
    for component in WEIGHTS:
        assert f"``{component}``" in doc
    weights = ", ".join(f"{value:g}" for value in WEIGHTS.values())
    assert weights in doc
    for key in ("success", "components", "reason", "dense_reward", "puzzle", "task"):
        assert f"``{key}``" in doc
