"""VideoFlowFree-v0 through Gymnasium: the public API of DESIGN.md, every accepted answer form."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import envs
from envs.flowfree.constants import WEIGHTS
from envs.flowfree.env import VideoFlowFreeEnv
from envs.video import write_video

H, W, T = 240, 416, 17


@pytest.fixture(scope="module")
def env():
    environment = gym.make("VideoFlowFree-v0", difficulty="medium", height=H, width=W, num_frames=T)
    yield environment
    environment.close()


def test_check_env_passes():
    check_env(gym.make("VideoFlowFree-v0", difficulty="easy", height=64, width=112, num_frames=5).unwrapped)


def test_task_is_registered_for_batch_tools():
    task = envs.get_task("flowfree")
    assert task.name == "flowfree" and task.env_id == "VideoFlowFree-v0"
    puzzle = task.generate(3, "easy")
    assert task.puzzle_from_dict(json.loads(json.dumps(puzzle.to_dict()))) == puzzle
    assert task.render_first_frame(puzzle, H, W).shape == (H, W, 3)
    assert task.verify(puzzle, task.render_solution(puzzle, H, W, T)).success


def test_reset_gives_first_frame_prompt_and_puzzle(env):
    obs, info = env.reset(seed=7)
    assert obs["frame"].dtype == np.uint8 and obs["frame"].shape == (H, W, 3)
    assert env.observation_space.contains(obs)
    assert "7x7" in obs["prompt"] and "red" in obs["prompt"] and "pipe" in obs["prompt"]
    assert info["task"] == "flowfree"
    assert json.loads(json.dumps(info["puzzle"])) == info["puzzle"]
    assert (info["puzzle"]["size"], len(info["puzzle"]["paths"])) == (7, 6)


def test_seeded_reset_is_deterministic(env):
    obs_a, info_a = env.reset(seed=11)
    obs_b, info_b = env.reset(seed=11)
    _, info_c = env.reset(seed=12)
    assert info_a["puzzle"] == info_b["puzzle"] and np.array_equal(obs_a["frame"], obs_b["frame"])
    assert info_a["puzzle"] != info_c["puzzle"]
    other = gym.make("VideoFlowFree-v0", height=H, width=W, num_frames=T)
    assert other.reset(seed=11)[1]["puzzle"] == info_a["puzzle"]


def test_stored_puzzle_round_trips_through_reset_options(env):
    obs, info = env.reset(seed=3)
    stored = json.loads(json.dumps(info["puzzle"]))
    env.reset(seed=999)
    obs_again, info_again = env.reset(options={"puzzle": stored})
    assert info_again["puzzle"] == info["puzzle"]
    assert np.array_equal(obs_again["frame"], obs["frame"])
    with pytest.raises(ValueError):
        env.reset(options={"board": 3})


def test_oracle_solution_scores_one_and_terminates(env):
    env.reset(seed=5)
    video = env.unwrapped.solution_video()
    assert video.shape == (T, H, W, 3) and video.dtype == np.uint8
    assert env.action_space.contains(video)
    _, reward, terminated, truncated, info = env.step(video)
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["success"] is True and info["reason"] == ""
    assert set(info["components"]) == set(WEIGHTS) >= {
        "endpoints_preserved", "connectivity", "fill_rate", "cell_f1", "no_crossing", "process_valid",
    }
    assert all(value == 1.0 for value in info["components"].values())


def test_step_accepts_every_documented_answer_form(env, tmp_path):
    env.reset(seed=5)
    video = env.unwrapped.solution_video()
    floats = video.astype(np.float32) / 255.0
    answers = {
        "uint8": video,
        "float32": floats,
        "float64": floats.astype(np.float64),
        "torch_uint8": torch.from_numpy(video),
        "torch_bfloat16": torch.from_numpy(floats).to(torch.bfloat16),
        "mp4_path": str(write_video(tmp_path / "answer.mp4", video)),
        "more_frames": env.unwrapped.solution_video(41),
        "fewer_frames": env.unwrapped.solution_video(5),
        "bigger": env.unwrapped.task.render_solution(env.unwrapped.puzzle, 2 * H, 2 * W, T),
        "smaller": env.unwrapped.task.render_solution(env.unwrapped.puzzle, 180, 312, T),
    }
    for name, answer in answers.items():
        _, reward, _, _, info = env.step(answer)
        assert info["success"], (name, info["reason"])
        assert reward == 1.0, name


def test_success_reward_mode_is_binary():
    env = gym.make("VideoFlowFree-v0", height=H, width=W, num_frames=T, reward_mode="success")
    env.reset(seed=2)
    video = env.unwrapped.solution_video()
    assert env.step(video)[1] == 1.0
    _, reward, _, _, info = env.step(np.repeat(video[:1], T, axis=0))
    assert reward == 0.0 and not info["success"] and 0.0 < info["dense_reward"] < 1.0
    assert "not full" in info["reason"]


def test_bad_answers_raise_named_errors(env):
    env.reset(seed=1)
    video = env.unwrapped.solution_video()
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(video.shape, np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="at least 2 frames"):
        env.step(video[:1])
    with pytest.raises(TypeError):
        env.step([[0, 1], [2, 3]])


def test_task_kwargs_reach_the_generator():
    env = gym.make("VideoFlowFree-v0", height=H, width=W, num_frames=T, size=6, num_colors=5)
    _, info = env.reset(seed=4)
    assert (info["puzzle"]["size"], len(info["puzzle"]["paths"])) == (6, 5)
    assert env.step(env.unwrapped.solution_video())[4]["success"]


def test_bad_kwargs_fail_at_construction():
    with pytest.raises(TypeError, match="boxes"):
        gym.make("VideoFlowFree-v0", boxes=3)
    with pytest.raises(ValueError, match="num_colors"):
        gym.make("VideoFlowFree-v0", size=5, num_colors=12)
    with pytest.raises(ValueError, match="difficulty"):
        gym.make("VideoFlowFree-v0", difficulty="insane")


def test_render_returns_the_first_frame():
    env = gym.make("VideoFlowFree-v0", height=H, width=W, num_frames=T, render_mode="rgb_array")
    obs, _ = env.reset(seed=8)
    assert np.array_equal(env.render(), obs["frame"])


def test_class_docstring_documents_the_environment():
    doc = VideoFlowFreeEnv.__doc__
    for section in ("Description", "Action Space", "Observation Space", "Starting State", "Rewards",
                    "Episode End", "Arguments", "Version History"):
        assert f"## {section}" in doc
    for key in (*WEIGHTS, "reason", "success", "dense_reward", "puzzle", "size", "num_colors", "paths"):
        assert key in doc
