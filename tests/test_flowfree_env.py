"""VideoFlowFree-v0: what only FlowFree adds to the shared Gymnasium API (tests/test_env_api.py)."""

import json

import gymnasium as gym
import numpy as np
import pytest

from videorlvr import envs
from videorlvr.envs.flowfree import frames_needed, min_frames
from videorlvr.envs.flowfree.constants import WEIGHTS
from videorlvr.envs.flowfree.env import VideoFlowFreeEnv

H, W, T = 240, 416, 42  # 42: the fewest frames a medium (7x7, 6 colours) board needs


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
    assert task.min_frames(puzzle) == min_frames(puzzle) == 19  # 17 cells, one per frame, then 2 held
    assert task.verify(puzzle, task.render_solution(puzzle, H, W, 19)).success


def test_medium_reset_is_a_7x7_board_with_6_colours_in_words_and_puzzle(env):
    obs, info = env.reset(seed=7)
    assert "7x7" in obs["prompt"] and "red" in obs["prompt"] and "pipe" in obs["prompt"]
    assert (info["puzzle"]["size"], len(info["puzzle"]["paths"])) == (7, 6)


def test_reward_components_keep_their_names():
    assert list(WEIGHTS) == [
        "endpoints_preserved", "no_crossing", "process_valid", "fill_rate", "connectivity", "cell_f1",
    ]


def test_frozen_video_fails_and_says_the_board_is_not_full(env):
    env.reset(seed=2)
    video = env.unwrapped.solution_video()
    _, reward, _, _, info = env.step(np.repeat(video[:1], T, axis=0))
    assert not info["success"] and reward < 1.0
    assert "not full" in info["reason"]


def test_task_kwargs_reach_the_generator():
    env = gym.make("VideoFlowFree-v0", height=H, width=W, num_frames=frames_needed(26), size=6, num_colors=5)
    _, info = env.reset(seed=4)
    assert (info["puzzle"]["size"], len(info["puzzle"]["paths"])) == (6, 5)
    assert env.step(env.unwrapped.solution_video())[4]["success"]


def test_bad_kwargs_fail_at_construction():
    small = {"height": H, "width": W, "num_frames": T}  # the default 81x480x832 action space alone costs ~0.8 s
    with pytest.raises(ValueError, match="boxes.*accepted"):
        gym.make("VideoFlowFree-v0", boxes=3, **small)
    with pytest.raises(ValueError, match="num_colors"):
        gym.make("VideoFlowFree-v0", size=5, num_colors=12, **small)
    with pytest.raises(ValueError, match="difficulty"):
        gym.make("VideoFlowFree-v0", difficulty="insane", **small)
    with pytest.raises(ValueError, match="node_budget"):
        gym.make("VideoFlowFree-v0", node_budget=0, **small)


@pytest.mark.parametrize("difficulty, needed", [("easy", 19), ("medium", 42), ("hard", 73)])
def test_too_few_frames_for_the_preset_fail_at_construction(difficulty, needed):
    with pytest.raises(ValueError, match=f"need at least {needed} frames"):
        gym.make("VideoFlowFree-v0", difficulty=difficulty, height=H, width=W, num_frames=needed - 1)
    gym.make("VideoFlowFree-v0", difficulty=difficulty, height=H, width=W, num_frames=needed)


def test_every_preset_fits_the_published_setting_and_big_boards_need_more_frames():
    from videorlvr.envs.flowfree import validate

    for difficulty in ("easy", "medium", "hard"):
        validate(difficulty, 480, 832, 81)
    validate("hard", 480, 832, 89, size=10)
    with pytest.raises(ValueError, match="need at least 89 frames"):
        validate("hard", 480, 832, 81, size=10)


def test_boards_too_big_for_the_frame_fail_at_construction():
    with pytest.raises(ValueError, match="9 px"):
        gym.make("VideoFlowFree-v0", difficulty="hard", height=120, width=208, num_frames=81, size=12)


def test_class_docstring_describes_the_puzzle_dict():
    doc = VideoFlowFreeEnv.__doc__
    for key in ("puzzle", "size", "num_colors", "paths"):
        assert key in doc, key
