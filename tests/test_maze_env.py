"""VideoMaze-v0 through Gymnasium: the public API of DESIGN.md, every accepted answer form."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from envs.maze.env import VideoMazeEnv
from envs.video import write_video

H, W, T = 240, 416, 17


@pytest.fixture(scope="module")
def env():
    environment = gym.make("VideoMaze-v0", difficulty="medium", height=H, width=W, num_frames=T)
    yield environment
    environment.close()


def test_check_env_passes():
    check_env(gym.make("VideoMaze-v0", difficulty="easy", height=64, width=112, num_frames=5).unwrapped)


def test_reset_gives_first_frame_prompt_and_puzzle(env):
    obs, info = env.reset(seed=7)
    assert obs["frame"].dtype == np.uint8 and obs["frame"].shape == (H, W, 3)
    assert env.observation_space.contains(obs)
    assert "red" in obs["prompt"] and "green" in obs["prompt"] and "wall" in obs["prompt"]
    assert info["task"] == "maze"
    assert json.loads(json.dumps(info["puzzle"])) == info["puzzle"]


def test_seeded_reset_is_deterministic(env):
    obs_a, info_a = env.reset(seed=11)
    obs_b, info_b = env.reset(seed=11)
    _, info_c = env.reset(seed=12)
    assert info_a["puzzle"] == info_b["puzzle"] and np.array_equal(obs_a["frame"], obs_b["frame"])
    assert info_a["puzzle"] != info_c["puzzle"]
    other = gym.make("VideoMaze-v0", height=H, width=W, num_frames=T)
    assert other.reset(seed=11)[1]["puzzle"] == info_a["puzzle"]


def test_stored_puzzle_round_trips_through_reset_options(env):
    obs, info = env.reset(seed=3)
    stored = json.loads(json.dumps(info["puzzle"]))
    env.reset(seed=999)
    obs_again, info_again = env.reset(options={"puzzle": stored})
    assert info_again["puzzle"] == info["puzzle"]
    assert np.array_equal(obs_again["frame"], obs["frame"])
    with pytest.raises(ValueError):
        env.reset(options={"level": 3})


def test_oracle_solution_scores_one_and_terminates(env):
    env.reset(seed=5)
    video = env.unwrapped.solution_video()
    assert video.shape == (T, H, W, 3) and video.dtype == np.uint8
    assert env.action_space.contains(video)
    _, reward, terminated, truncated, info = env.step(video)
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["success"] is True and info["reason"] == ""
    assert set(info["components"]) == {
        "start_correct",
        "path_valid",
        "progress",
        "goal_reached",
        "maze_preserved",
    }
    assert all(0.0 <= value <= 1.0 for value in info["components"].values())


def _answer_forms(env, video, tmp_path):
    floats = video.astype(np.float32) / 255.0
    return {
        "uint8": video,
        "float32": floats,
        "float64": floats.astype(np.float64),
        "torch_uint8": torch.from_numpy(video),
        "torch_float": torch.from_numpy(floats),
        "torch_bfloat16": torch.from_numpy(floats).to(torch.bfloat16),
        "mp4_path": str(write_video(tmp_path / "answer.mp4", video)),
        "mp4_pathlib": write_video(tmp_path / "answer2.mp4", video),
        "more_frames": env.unwrapped.solution_video(41),
        "fewer_frames": env.unwrapped.solution_video(12),
    }


def test_step_accepts_every_documented_answer_form(env, tmp_path):
    env.reset(seed=5)
    video = env.unwrapped.solution_video()
    for name, answer in _answer_forms(env, video, tmp_path).items():
        env.reset(seed=5)
        _, reward, _, _, info = env.step(answer)
        assert info["success"], (name, info["reason"])
        assert reward == 1.0, name


def test_step_resizes_another_resolution(env):
    env.reset(seed=5)
    puzzle = env.unwrapped.puzzle
    bigger = env.unwrapped.task.render_solution(puzzle, 2 * H, 2 * W, 24)
    assert env.step(bigger)[4]["success"]
    smaller = env.unwrapped.task.render_solution(puzzle, 180, 312, 24)
    assert env.step(smaller)[4]["success"]
    slightly_wider = env.unwrapped.task.render_solution(puzzle, H, W + 16, 24)  # 4% aspect change
    assert env.step(slightly_wider)[4]["success"]


def test_success_reward_mode_is_binary():
    env = gym.make("VideoMaze-v0", height=H, width=W, num_frames=T, reward_mode="success")
    env.reset(seed=2)
    video = env.unwrapped.solution_video()
    assert env.step(video)[1] == 1.0
    frozen = np.repeat(video[:1], T, axis=0)
    _, reward, _, _, info = env.step(frozen)
    assert reward == 0.0 and not info["success"] and 0.0 < info["dense_reward"] < 1.0


def test_bad_answers_raise_named_errors(env):
    env.reset(seed=1)
    video = env.unwrapped.solution_video()
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(video.shape, np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="at least 2 frames"):
        env.step(video[:1])
    with pytest.raises(TypeError):
        env.step([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="not found"):
        env.step("/nonexistent/answer.mp4")


def test_step_before_reset_raises():
    env = gym.make("VideoMaze-v0", height=H, width=W, num_frames=T)
    with pytest.raises(RuntimeError):
        env.unwrapped.step(np.zeros((T, H, W, 3), np.uint8))


def test_task_kwargs_reach_the_generator():
    env = gym.make("VideoMaze-v0", height=H, width=W, num_frames=T, size=(6, 8), algorithm="kruskal")
    _, info = env.reset(seed=4)
    assert (info["puzzle"]["rows"], info["puzzle"]["cols"], info["puzzle"]["algorithm"]) == (6, 8, "kruskal")
    assert env.step(env.unwrapped.solution_video())[4]["success"]


def test_render_returns_the_first_frame():
    env = gym.make("VideoMaze-v0", height=H, width=W, num_frames=T, render_mode="rgb_array")
    obs, _ = env.reset(seed=8)
    assert np.array_equal(env.render(), obs["frame"])


def test_class_docstring_documents_the_environment():
    doc = VideoMazeEnv.__doc__
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
    for key in (
        "start_correct",
        "path_valid",
        "progress",
        "goal_reached",
        "maze_preserved",
        "reason",
        "success",
    ):
        assert key in doc
