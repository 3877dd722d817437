"""The Gymnasium API of DESIGN.md, once for every registered env id (``envs.ENV_IDS``).

Task-specific behaviour (kwargs reaching the generator, bad kwargs, why a frozen video fails, the
TaskSpec registration) lives in tests/test_<task>_env.py.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from videorlvr import envs
from videorlvr.envs.video import write_video

H, W, T = 240, 416, 17
SECTIONS = (
    "Description",
    "Action Space",
    "Observation Space",
    "Starting State",
    "Rewards",
    "Episode End",
    "Arguments",
    "Version History",
)
INFO_KEYS = ("success", "components", "reason", "dense_reward", "puzzle", "task")


@pytest.fixture(scope="module", params=list(envs.ENV_IDS))
def task_name(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def env_id(task_name) -> str:
    return envs.ENV_IDS[task_name]


@pytest.fixture(scope="module")
def weights(task_name) -> dict[str, float]:
    """The task's reward weights: the expected set (and order) of reward components."""
    return importlib.import_module(f"videorlvr.envs.{task_name}.constants").WEIGHTS


@pytest.fixture(scope="module")
def env(env_id):
    environment = gym.make(env_id, difficulty="medium", height=H, width=W, num_frames=T)
    yield environment
    environment.close()


@pytest.fixture(scope="module")
def success_env(env_id):
    """A hard puzzle scored in "success" mode (binary reward)."""
    environment = gym.make(env_id, difficulty="hard", height=H, width=W, num_frames=T, reward_mode="success")
    yield environment
    environment.close()


def test_check_env_passes(env_id):
    check_env(gym.make(env_id, difficulty="easy", height=64, width=112, num_frames=5).unwrapped)


def test_reset_gives_first_frame_printable_prompt_and_json_puzzle(env, task_name):
    obs, info = env.reset(seed=7)
    assert obs["frame"].dtype == np.uint8 and obs["frame"].shape == (H, W, 3)
    assert env.observation_space.contains(obs)
    assert obs["prompt"].isascii() and obs["prompt"].isprintable() and len(obs["prompt"]) > 20
    assert info["task"] == task_name
    assert json.loads(json.dumps(info["puzzle"])) == info["puzzle"]


def test_seeded_reset_is_deterministic_and_seeds_differ(env, env_id):
    obs_a, info_a = env.reset(seed=11)
    obs_b, info_b = env.reset(seed=11)
    _, info_c = env.reset(seed=12)
    assert info_a["puzzle"] == info_b["puzzle"] != info_c["puzzle"]
    assert np.array_equal(obs_a["frame"], obs_b["frame"]) and obs_a["prompt"] == obs_b["prompt"]
    other = gym.make(env_id, height=H, width=W, num_frames=T)
    obs_other, info_other = other.reset(seed=11)
    assert info_other["puzzle"] == info_a["puzzle"] and np.array_equal(obs_other["frame"], obs_a["frame"])


def test_stored_puzzle_round_trips_through_reset_options(env, env_id):
    obs, info = env.reset(seed=3)
    stored = json.loads(json.dumps(info["puzzle"]))
    env.reset(seed=999)
    obs_again, info_again = env.reset(options={"puzzle": stored})
    assert info_again["puzzle"] == info["puzzle"]
    assert np.array_equal(obs_again["frame"], obs["frame"]) and obs_again["prompt"] == obs["prompt"]
    # Another instance, another difficulty: the stored puzzle wins and its oracle still scores 1.
    other = gym.make(env_id, difficulty="easy", height=H, width=W, num_frames=T)
    _, restored = other.reset(options={"puzzle": stored})
    assert restored["puzzle"] == info["puzzle"]
    assert other.step(other.unwrapped.solution_video())[1] == 1.0


def test_unknown_reset_option_is_rejected(env):
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"level": 3})


@pytest.mark.parametrize("mode", ["dense", "success"])
def test_oracle_solution_scores_one_and_terminates(env, success_env, weights, mode):
    environment = env if mode == "dense" else success_env
    assert environment.unwrapped.reward_mode == mode
    environment.reset(seed=5)
    video = environment.unwrapped.solution_video()
    assert video.shape == (T, H, W, 3) and video.dtype == np.uint8
    assert environment.action_space.contains(video)
    _, reward, terminated, truncated, info = environment.step(video)
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["success"] is True and info["reason"] == "" and info["dense_reward"] == 1.0
    assert list(info["components"]) == list(weights)
    assert all(value == 1.0 for value in info["components"].values())


def test_success_reward_mode_is_binary(success_env):
    success_env.reset(seed=2)
    video = success_env.unwrapped.solution_video()
    assert success_env.step(video)[1] == 1.0
    _, reward, _, _, info = success_env.step(np.repeat(video[:1], T, axis=0))
    assert reward == 0.0 and not info["success"] and 0.0 < info["dense_reward"] < 1.0
    assert info["reason"]


def test_step_accepts_every_documented_answer_form(env, tmp_path):
    env.reset(seed=5)
    unwrapped = env.unwrapped
    video = unwrapped.solution_video()
    floats = video.astype(np.float32) / 255.0
    answers = {
        "uint8": video,
        "float32": floats,
        "float64": floats.astype(np.float64),
        "torch_uint8": torch.from_numpy(video),
        "torch_float": torch.from_numpy(floats),
        "torch_bfloat16": torch.from_numpy(floats).to(torch.bfloat16),
        "mp4_str": str(write_video(tmp_path / "answer.mp4", video)),
        "mp4_pathlib": Path(write_video(tmp_path / "answer2.mp4", video)),
        "more_frames": unwrapped.solution_video(41),
        "fewer_frames": unwrapped.solution_video(12),
        "five_frames": unwrapped.solution_video(5),
        "bigger": unwrapped.task.render_solution(unwrapped.puzzle, 2 * H, 2 * W, 24),
        "smaller": unwrapped.task.render_solution(unwrapped.puzzle, 180, 312, 24),
        "slightly_wider": unwrapped.task.render_solution(unwrapped.puzzle, H, W + 16, 24),  # 4% aspect change
    }
    for name, answer in answers.items():
        _, reward, _, _, info = env.step(answer)
        assert info["success"], (name, info["reason"])
        assert reward == 1.0, name


def test_bad_answers_raise_named_errors(env, tmp_path):
    env.reset(seed=1)
    video = env.unwrapped.solution_video()
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(video.shape, np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        env.step(video.astype(np.float32))  # 0..255 floats
    with pytest.raises(ValueError, match="4 dimensions"):
        env.step(video[0])
    with pytest.raises(ValueError, match="3 colour channels"):
        env.step(video[..., :2])
    with pytest.raises(ValueError, match="at least 2 frames"):
        env.step(video[:1])
    with pytest.raises(TypeError, match="dtype"):
        env.step(video.astype(np.int32))
    with pytest.raises(TypeError, match="numpy array"):
        env.step([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="not found"):
        env.step("/nonexistent/answer.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"not a video at all" * 64)
    with pytest.raises(ValueError, match="corrupt.mp4"):
        env.step(corrupt)


def test_step_and_solution_before_reset_raise(env_id):
    unwrapped = gym.make(env_id, height=H, width=W, num_frames=T).unwrapped
    with pytest.raises(RuntimeError, match="reset"):
        unwrapped.step(np.zeros((T, H, W, 3), np.uint8))
    with pytest.raises(RuntimeError, match="reset"):
        unwrapped.solution_video()


def test_render_returns_the_first_frame(env_id):
    environment = gym.make(env_id, height=H, width=W, num_frames=T, render_mode="rgb_array")
    obs, _ = environment.reset(seed=8)
    frame = environment.render()
    assert np.array_equal(frame, obs["frame"])
    frame[:] = 0  # a copy: drawing on it leaves the observation alone
    assert np.array_equal(environment.render(), obs["frame"])


def test_class_docstring_documents_sections_components_and_kwargs(env, weights):
    doc = type(env.unwrapped).__doc__
    for section in SECTIONS:
        assert f"## {section}" in doc, section
    for key in (*weights, *INFO_KEYS):
        assert f"``{key}``" in doc, key
    assert ", ".join(f"{value:g}" for value in weights.values()) in doc  # the weights, in order
    task_kwargs = list(inspect.signature(env.unwrapped.task.generate).parameters)[2:]  # after seed, difficulty
    assert task_kwargs
    for kwarg in task_kwargs:
        assert f"``{kwarg}``" in doc, kwarg
