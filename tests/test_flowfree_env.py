"""VideoFlowFree-v0: what only FlowFree adds to the shared Gymnasium API (tests/test_env_api.py)."""

import json

import gymnasium as gym
import numpy as np
import pytest

from videorlvr import envs
from videorlvr.envs.flowfree.constants import WEIGHTS
from videorlvr.envs.flowfree.env import VideoFlowFreeEnv

H, W, T = 240, 416, 17


@pytest.fixture(scope="module")
def env():
    environment = gym.make("VideoFlowFree-v0", difficulty="medium", height=H, width=W, num_frames=T)
    yield environment
    environment.close()


def test_task_is_registered_for_batch_tools():
    task = envs.get_task("flowfree")
    assert task.name == "flowfree" and task.env_id == "VideoFlowFree-v0"
    puzzle = task.generate(3, "easy")
    assert task.puzzle_from_dict(json.loads(json.dumps(puzzle.to_dict()))) == puzzle
    assert task.render_first_frame(puzzle, H, W).shape == (H, W, 3)
    assert task.verify(puzzle, task.render_solution(puzzle, H, W, T)).success


def test_medium_reset_is_a_7x7_board_with_6_colours_in_words_and_puzzle(env):
    obs, info = env.reset(seed=7)
    assert "7x7" in obs["prompt"] and "red" in obs["prompt"] and "pipe" in obs["prompt"]
    assert (info["puzzle"]["size"], len(info["puzzle"]["paths"])) == (7, 6)


def test_reward_components_keep_their_names():
    assert set(WEIGHTS) == {
        "endpoints_preserved", "connectivity", "fill_rate", "cell_f1", "no_crossing", "process_valid",
    }


def test_frozen_video_fails_and_says_the_board_is_not_full(env):
    env.reset(seed=2)
    video = env.unwrapped.solution_video()
    _, reward, _, _, info = env.step(np.repeat(video[:1], T, axis=0))
    assert not info["success"] and reward < 1.0
    assert "not full" in info["reason"]


def test_task_kwargs_reach_the_generator():
    env = gym.make("VideoFlowFree-v0", height=H, width=W, num_frames=T, size=6, num_colors=5)
    _, info = env.reset(seed=4)
    assert (info["puzzle"]["size"], len(info["puzzle"]["paths"])) == (6, 5)
    assert env.step(env.unwrapped.solution_video())[4]["success"]


def test_bad_kwargs_fail_at_construction():
    small = {"height": H, "width": W, "num_frames": T}  # the default 81x480x832 action space alone costs ~0.8 s
    with pytest.raises(TypeError, match="boxes"):
        gym.make("VideoFlowFree-v0", boxes=3, **small)
    with pytest.raises(ValueError, match="num_colors"):
        gym.make("VideoFlowFree-v0", size=5, num_colors=12, **small)
    with pytest.raises(ValueError, match="difficulty"):
        gym.make("VideoFlowFree-v0", difficulty="insane", **small)


def test_class_docstring_describes_the_puzzle_dict():
    doc = VideoFlowFreeEnv.__doc__
    for key in ("puzzle", "size", "num_colors", "paths"):
        assert key in doc, key
