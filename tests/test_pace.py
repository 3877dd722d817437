"""Oracle pace: "eager" videos show the same states as "steady" ones, one move per frame from frame 1."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffrl.config import ConfigError, config_from_dict
from diffrl.data import build_prompt_source
from videorlvr.envs import TASK_NAMES, get_task
from videorlvr.envs.types import PACES

H, W = 240, 416


def distinct_runs(video: np.ndarray) -> list[np.ndarray]:
    """The video's frames with consecutive repeats dropped."""
    keep = [0] + [t for t in range(1, len(video)) if not np.array_equal(video[t], video[t - 1])]
    return [video[t] for t in keep]


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000), extra=st.sampled_from([0, 9]))
@pytest.mark.parametrize("difficulty", ["easy", "medium"])
@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_eager_oracle_moves_every_frame_then_holds_and_succeeds(task_name, difficulty, seed, extra):
    task = get_task(task_name)
    puzzle = task.generate(seed, difficulty)
    frames = task.min_frames(puzzle) + extra
    eager = task.render_solution(puzzle, H, W, frames, pace="eager")
    steady = task.render_solution(puzzle, H, W, frames)
    states = distinct_runs(steady)
    moves = len(states) - 1
    changed = [not np.array_equal(eager[t], eager[t - 1]) for t in range(1, frames)]
    assert changed == [True] * moves + [False] * (frames - 1 - moves)
    assert all(np.array_equal(a, b) for a, b in zip(distinct_runs(eager), states, strict=True))
    verdict = task.verify(puzzle, eager)
    assert verdict.success, verdict.reason


@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_an_unknown_pace_is_a_clear_error(task_name):
    task = get_task(task_name)
    puzzle = task.generate(0, "easy")
    with pytest.raises(ValueError, match="pace must be one of"):
        task.render_solution(puzzle, H, W, task.min_frames(puzzle), pace="fast")


def test_config_pace_reaches_the_demonstrations():
    raw = {"data": {"tasks": ["maze"], "difficulty": "easy", "pace": "eager",
                    "task_kwargs": {"maze": {"size": [4, 4], "path_length": [2, 2]}}}}  # fmt: skip
    source = build_prompt_source(config_from_dict(raw).data, 0)
    video = source.solution_videos([source.item(0)], 48, 48, 7)[0]
    changed = [not np.array_equal(video[t], video[t - 1]) for t in range(1, 7)]
    assert changed == [True, True, False, False, False, False]
    assert PACES == ("steady", "eager")
    with pytest.raises(ConfigError, match="data.pace"):
        config_from_dict({"data": {"pace": "fast"}})
