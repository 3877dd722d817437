"""The Gymnasium API of docs/design.md, once for every registered env id (``envs.ENV_IDS``).

Task-specific behaviour (kwargs reaching the generator, bad kwargs, why a frozen video fails, the
TaskSpec registration) lives in tests/test_<task>_env.py.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pickle
import time
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from videorlvr import envs
from videorlvr.envs.evaluate import evaluate_videos
from videorlvr.envs.export import write_csv_atomic
from videorlvr.envs.spaces import VideoSpace
from videorlvr.envs.video import write_video

H, W, T = 240, 416, 81  # 81 frames: the published count, valid for every preset
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
    check_env(gym.make(env_id, difficulty="easy", height=128, width=224, num_frames=T).unwrapped)


def test_the_passive_checker_has_nothing_to_say(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        environment = gym.make(env_id, difficulty="easy", height=128, width=224, num_frames=T)
        environment.reset(seed=0)
        environment.step(environment.action_space.sample())  # noise: a valid answer that fails


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


@pytest.mark.parametrize("seed", [0, 7, 2_000_000_123])
def test_reset_seed_poses_the_puzzle_generate_gives_for_that_seed(env_id, task_name, seed):
    kwargs = {"difficulty": "easy"}
    _, info = gym.make(env_id, height=H, width=W, num_frames=T, **kwargs).reset(seed=seed)
    assert info["puzzle"] == envs.get_task(task_name).generate(seed, "easy").to_dict()


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


def test_unknown_reset_option_is_rejected(env_id):
    # A fresh env: Gymnasium's passive checker marks its first reset as checked before calling it, so a
    # first reset that raises would leave the shared env's checker without the data its first step compares.
    environment = gym.make(env_id, difficulty="easy", height=128, width=224, num_frames=T)
    with pytest.raises(ValueError, match="unknown reset options"):
        environment.reset(options={"level": 3})


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
    assert reward == 0.0 and not info["success"] and 0.0 <= info["dense_reward"] < 1.0
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
        "more_frames": unwrapped.solution_video(T + 16),
        "fewest_frames": unwrapped.solution_video(unwrapped.task.min_frames(unwrapped.puzzle)),
        "bigger": unwrapped.task.render_solution(unwrapped.puzzle, 2 * H, 2 * W, T),
        "smaller": unwrapped.task.render_solution(unwrapped.puzzle, 180, 312, T),
        "slightly_wider": unwrapped.task.render_solution(unwrapped.puzzle, H, W + 16, T),  # 4% aspect change
        "square": unwrapped.task.render_solution(unwrapped.puzzle, 2 * H, 2 * H, T),  # letterboxed
        "padded_wider": np.pad(video, ((0, 0), (0, 0), (24, 24), (0, 0))),  # another aspect, same scene
    }
    for name, answer in answers.items():
        assert env.action_space.contains(answer), name
        _, reward, _, _, info = env.step(answer)
        assert info["success"], (name, info["reason"])
        assert reward == 1.0, name


def test_bad_answers_raise_named_errors_and_are_outside_the_action_space(env, tmp_path):
    env.reset(seed=1)
    video = env.unwrapped.solution_video()
    bad = [np.full(video.shape, np.nan, np.float32), video.astype(np.float32), video[0], video[..., :2],
           video[:1], video.astype(np.int32), [[0, 1], [2, 3]], "/nonexistent/answer.mp4"]  # fmt: skip
    assert not any(env.action_space.contains(answer) for answer in bad)
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


def test_render_shows_the_first_frame_then_a_picture_of_the_verdict(env_id):
    environment = gym.make(env_id, height=H, width=W, num_frames=T, render_mode="rgb_array")
    obs, _ = environment.reset(seed=8)
    frame = environment.render()
    assert np.array_equal(frame, obs["frame"])
    frame[:] = 0  # a copy: drawing on it leaves the observation alone
    assert np.array_equal(environment.render(), obs["frame"])
    video = environment.unwrapped.solution_video()
    assert environment.step(video)[4]["success"]
    solved = environment.render()
    assert environment.step(np.repeat(video[:1], T, axis=0))[4]["success"] is False
    failed = environment.render()
    for picture in (solved, failed):
        assert picture.shape == (H, W, 3) and picture.dtype == np.uint8
        assert not np.array_equal(picture, obs["frame"])
    assert not np.array_equal(solved, failed)
    environment.reset(seed=8)
    assert np.array_equal(environment.render(), obs["frame"])


def test_rgb_array_list_renders_the_scored_video_with_its_verdict(env_id):
    environment = gym.make(env_id, height=H, width=W, num_frames=T, render_mode="rgb_array_list")
    obs, _ = environment.reset(seed=4)
    first = environment.render()
    assert len(first) == 1 and np.array_equal(first[0], obs["frame"])
    assert environment.render() == []  # frames since the last call, as Gymnasium's render collection
    video = environment.unwrapped.solution_video()
    environment.step(video)
    frames = environment.render()
    assert len(frames) == T and all(frame.shape == (H, W, 3) for frame in frames)
    assert not np.array_equal(frames[-1], video[-1])  # the verdict is drawn on them
    environment.reset(seed=5)
    environment.step(video[::-1].copy())
    assert len(environment.render()) == 1 + T  # the first frame after reset, then the scored video


def test_action_space_is_a_cheap_video_space(env_id):
    environment = gym.make(env_id)  # the published 81x480x832
    space = environment.action_space
    assert isinstance(space, VideoSpace) and space.shape == (81, 480, 832, 3) and space.dtype == np.uint8
    assert len(pickle.dumps(space)) < 10_000
    assert len(pickle.dumps(environment)) < 20_000_000  # was 393 MB with a Box action space
    space.seed(0)
    start = time.perf_counter()
    sample = space.sample()
    assert time.perf_counter() - start < 5.0  # was 19 s and 5.4 GB
    assert sample.shape == space.shape and sample.dtype == np.uint8 and space.contains(sample)
    space.seed(0)
    assert np.array_equal(space.sample(), sample)
    assert pickle.loads(pickle.dumps(space)) == space


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"difficulty": "extreme"}, ValueError, r"difficulty must be one of \('easy', 'medium', 'hard'\)"),
        ({"reward_mode": "shaped"}, ValueError, r"reward_mode must be one of \('dense', 'success'\)"),
        ({"render_mode": "human"}, ValueError, r"render_mode must be None or one of \('rgb_array', 'rgb_array_list'\)"),
        ({"height": 480.0}, TypeError, "height must be an int"),
        ({"width": True}, TypeError, "width must be an int"),
        ({"height": 8}, ValueError, "at least 16"),
        ({"height": 8192, "width": 8192}, ValueError, "at most 16777216 pixels"),
        ({"num_frames": 1}, ValueError, r"num_frames must be in \[2, 1024\]"),
        ({"num_frames": 5000}, ValueError, r"num_frames must be in \[2, 1024\]"),
    ],
)
def test_bad_env_kwargs_fail_at_construction_naming_what_is_allowed(env_id, kwargs, error, message):
    with pytest.raises(error, match=message):
        gym.make(env_id, **kwargs)


def test_env_and_scorer_fit_another_size_by_the_same_rule(env, task_name, tmp_path):
    """A right answer at another aspect ratio (the scene letterboxed) succeeds in both; a squashed one in neither."""
    _, info = env.reset(seed=6)
    video = env.unwrapped.solution_video()
    squashed_scene = env.unwrapped.task.render_solution(env.unwrapped.puzzle, H, 2 * W, T)  # board re-laid
    answers = {"padded.mp4": np.pad(video, ((0, 0), (16, 16), (0, 0), (0, 0))),
               "double.mp4": np.repeat(np.repeat(video, 2, axis=1), 2, axis=2),
               "other.mp4": squashed_scene}  # fmt: skip
    rows = []
    for name, answer in answers.items():
        write_video(tmp_path / "videos" / name, answer)
        rows.append({"video": name, "task_type": task_name, "puzzle": json.dumps(info["puzzle"]),
                     "height": H, "width": W})  # fmt: skip
    write_csv_atomic(tmp_path / "meta.csv", rows, list(rows[0]))
    report = evaluate_videos(tmp_path / "meta.csv", tmp_path / "videos", progress=False)
    for row, name in zip(report.rows, answers, strict=True):
        _, reward, _, _, step_info = env.step(tmp_path / "videos" / name)
        assert not row.error, row.error
        assert (row.success, row.reward, row.reason) == (step_info["success"], reward, step_info["reason"]), name
    assert report.rows[0].success and report.rows[1].success


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
