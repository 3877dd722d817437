"""VideoMaze-v0: what only the maze adds to the shared Gymnasium API (tests/test_env_api.py)."""

import gymnasium as gym
import pytest

from videorlvr import envs  # noqa: F401  (registers the ids)
from videorlvr.envs.maze import TASK, generate, min_frames, validate
from videorlvr.envs.maze.constants import PRESETS, WEIGHTS

H, W, T = 240, 416, 36


def test_prompt_names_the_agent_the_goal_and_the_walls():
    obs, _ = gym.make("VideoMaze-v0", height=H, width=W, num_frames=T).reset(seed=7)
    assert "red" in obs["prompt"] and "green" in obs["prompt"] and "wall" in obs["prompt"]


def test_reward_components_keep_their_names():
    assert set(WEIGHTS) == {"progress", "path_valid", "goal_reached"}


def test_task_kwargs_reach_the_generator():
    env = gym.make("VideoMaze-v0", height=H, width=W, num_frames=T, size=(6, 8), algorithm="kruskal")
    _, info = env.reset(seed=4)
    assert (info["puzzle"]["rows"], info["puzzle"]["cols"], info["puzzle"]["algorithm"]) == (6, 8, "kruskal")
    assert env.step(env.unwrapped.solution_video())[4]["success"]


def test_task_spec_carries_min_frames_and_validate():
    puzzle = generate(3, "hard")
    assert TASK.min_frames(puzzle) == min_frames(puzzle) >= puzzle.path_length + 2
    assert TASK.validate is validate


def test_every_preset_is_valid_in_the_published_setting():
    for difficulty in PRESETS:
        for algorithm in ("dfs", "kruskal"):
            validate(difficulty, 480, 832, 81, algorithm=algorithm)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sizes": (5, 5)}, r"unknown VideoMaze kwargs \['sizes'\]; allowed: \['size', 'path_length', 'algorithm'\]"),
        ({"algorithm": "prim"}, "algorithm must be one of"),
        ({"size": (1, 5)}, "size must be within 2..32"),
        ({"size": "big"}, "size must be a pair of ints"),
        ({"path_length": (100, 200)}, r"cannot occur in a 7x7 maze \(its paths have at most 48 moves\)"),
        ({"path_length": (5, 2)}, "1 <= low <= high"),
        ({"size": (20, 20)}, "need up to .* frames"),  # the medium bucket scaled to 20x20 does not fit 81 frames
        ({"size": (32, 32), "path_length": (10, 12)}, "too small for a 32x32 board"),
    ],
)
def test_settings_that_cannot_work_are_rejected_at_construction(kwargs, message):
    height, width = (120, 208) if kwargs.get("size") == (32, 32) else (480, 832)
    with pytest.raises(ValueError, match=message):
        gym.make("VideoMaze-v0", difficulty="medium", height=height, width=width, num_frames=81, **kwargs)


def test_too_few_frames_for_the_preset_is_rejected_with_the_number_needed():
    with pytest.raises(ValueError, match="hard 9x9 mazes have oracle paths of up to 32 moves and need up to 36"):
        gym.make("VideoMaze-v0", difficulty="hard", height=H, width=W, num_frames=35)
    gym.make("VideoMaze-v0", difficulty="hard", height=H, width=W, num_frames=36)


def test_a_short_answer_video_gets_a_verdict_not_an_exception():
    env = gym.make("VideoMaze-v0", difficulty="easy", height=H, width=W, num_frames=T)
    env.reset(seed=2)
    video = env.unwrapped.solution_video()
    for frames in (2, 3, min_frames(env.unwrapped.puzzle) - 1):
        _, reward, _, _, info = env.step(video[:: max(1, len(video) // frames)][:frames])
        assert not info["success"] and reward < 1.0 and info["reason"]
