"""Follow mode through Gymnasium: the oracle follow video (with blocked moves) succeeds; walking
through a blocked move or skipping a move fails at that move; diverging later scores higher."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from videorlvr.envs.follow import merge_repeats
from videorlvr.envs.follow_env import follow_schedule

SIZE = {"height": 240, "width": 416, "num_frames": 33}


def _env(env_id: str, **kwargs):
    return gym.make(env_id, mode="follow", difficulty="easy", **SIZE, **kwargs)


def _maze_with_a_blocked_move():
    env = _env("VideoMaze-v0")
    for seed in range(50):
        env.reset(seed=seed)
        expected = env.unwrapped._expected
        if any(a == b for a, b in itertools.pairwise(expected)):
            return env
    raise AssertionError("no maze episode among 50 seeds drew a blocked move")


@pytest.mark.parametrize("env_id", ["VideoMaze-v0", "VideoSokoban-v0", "VideoFlowFree-v0"])
def test_oracle_follow_video_succeeds_and_env_checks(env_id: str) -> None:
    env = _env(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    _, info = env.reset(seed=7)
    follow = env.unwrapped.follow
    tokens = follow.parse(env.unwrapped.puzzle, info["moves"])
    assert len(tokens) == 8 == len(env.unwrapped._expected) - 1
    words = ", ".join(follow.words(env.unwrapped.puzzle, token) for token in tokens)
    assert words in env.unwrapped._observation()["prompt"]
    _, reward, terminated, _, info = env.step(env.unwrapped.solution_video())
    assert (reward, terminated, info["success"]) == (1.0, True, True), info["reason"]


def test_maze_oracle_with_blocked_moves_succeeds() -> None:
    env = _maze_with_a_blocked_move()
    _, reward, _, _, info = env.step(env.unwrapped.solution_video())
    assert info["success"] and reward == 1.0


def _maze_video(env, cells) -> np.ndarray:
    from videorlvr.envs.maze.render import render_agent_path

    return render_agent_path(env.unwrapped.puzzle, SIZE["height"], SIZE["width"], np.asarray(cells, float) + 0.5)


def test_walking_through_a_blocked_move_fails_at_that_move() -> None:
    env = _maze_with_a_blocked_move()
    expected, moves = env.unwrapped._expected, env.unwrapped.moves
    bump = next(i for i, (a, b) in enumerate(itertools.pairwise(expected)) if a == b)
    step = {"u": (-1, 0), "d": (1, 0), "l": (0, -1), "r": (0, 1)}[moves[bump]]
    through = (expected[bump][0] + step[0], expected[bump][1] + step[1])
    puzzle = env.unwrapped.puzzle
    if not puzzle.in_grid(through):
        pytest.skip("the blocked move leaves the maze: nothing to walk through")
    cells = list(expected[: bump + 1]) + [through] * (SIZE["num_frames"] - bump - 1)
    _, _, _, _, info = env.step(_maze_video(env, cells))
    assert not info["success"] and "diverges from the moves" in info["reason"]


def test_skipping_a_move_fails() -> None:
    env = _env("VideoMaze-v0")
    env.reset(seed=11)
    target = merge_repeats(env.unwrapped._expected)
    skipped = target[:2] + target[3:]
    cells = skipped + [target[-1]] * (SIZE["num_frames"] - len(skipped))
    _, _, _, _, info = env.step(_maze_video(env, cells))
    # Frame 2 shows move 3's state; if that equals move 1's (the agent stepped back), it reads as a
    # pause and the divergence shows one frame later.
    assert not info["success"] and "diverges from the moves after move 1 of" in info["reason"]


def test_reward_rises_with_the_index_of_the_first_divergence() -> None:
    env = _env("VideoMaze-v0", follow_moves=10)
    env.reset(seed=5)
    target = merge_repeats(env.unwrapped._expected)
    off = next(cell for cell in np.ndindex(5, 5) if cell not in target)
    rewards = []
    for j in range(1, len(target)):
        cells = target[:j] + [off] * (SIZE["num_frames"] - j)
        rewards.append(env.step(_maze_video(env, cells))[1])
    assert rewards == sorted(rewards) and rewards[-1] < 1.0 and len(set(rewards)) == len(rewards)


def test_moves_can_be_posed_and_are_validated() -> None:
    env = _env("VideoMaze-v0")
    _, info = env.reset(seed=1, options={"moves": "rrll"})
    assert info["moves"] == "rrll"
    with pytest.raises(ValueError, match="moves must be"):
        env.reset(seed=1, options={"moves": "rx"})
    with pytest.raises(ValueError, match="frames"):
        env.reset(seed=1, options={"moves": "r" * 40})
    flowfree = _env("VideoFlowFree-v0")
    with pytest.raises(ValueError, match="colour letter"):
        flowfree.reset(seed=1, options={"moves": "rr"})
    with pytest.raises(ValueError, match="mode must be one of"):
        gym.make("VideoMaze-v0", mode="dream")
    with pytest.raises(ValueError, match="follow_moves"):
        _env("VideoMaze-v0", follow_moves=0)


def test_follow_schedule_moves_at_most_once_per_frame() -> None:
    schedule = follow_schedule(8, 33)
    assert schedule[0] == 0 and schedule[-2:] == [8, 8] and schedule[-3] == 7
    assert all(0 <= b - a <= 1 for a, b in itertools.pairwise(schedule))
    with pytest.raises(ValueError, match="cannot show"):
        follow_schedule(32, 33)


def test_follow_dataset_export_rescores_from_its_mp4s(tmp_path) -> None:
    import json

    from videorlvr.envs import ENV_IDS
    from videorlvr.envs.export import read_metadata
    from videorlvr.envs.follow_export import FOLLOW_COLUMNS, export_follow_dataset

    csv_path = export_follow_dataset(tmp_path, count=2, difficulty="easy", progress=False, **SIZE)
    rows = read_metadata(csv_path)
    assert len(rows) == 6 and set(rows[0]) == set(FOLLOW_COLUMNS)
    for row in rows:
        env = gym.make(ENV_IDS[row["task_type"]], mode="follow", difficulty="easy", **SIZE)
        _, info = env.reset(options={"puzzle": json.loads(row["puzzle"]), "moves": row["moves"]})
        assert info["moves"] == row["moves"]
        assert env.unwrapped._observation()["prompt"] == row["prompt"]
        _, _, _, _, info = env.step(str(csv_path.parent / row["video"]))
        assert info["success"], info["reason"]
    mtimes = [p.stat().st_mtime_ns for p in sorted(csv_path.parent.rglob("*.mp4"))]
    export_follow_dataset(tmp_path, count=2, difficulty="easy", progress=False, **SIZE)  # resumes: no rewrite
    assert mtimes == [p.stat().st_mtime_ns for p in sorted(csv_path.parent.rglob("*.mp4"))]


def test_flowfree_fill_order_with_a_wrong_cell_fails_where_it_diverges() -> None:
    from videorlvr.envs.flowfree.render import render_states

    env = _env("VideoFlowFree-v0")
    env.reset(seed=2)
    target = merge_repeats(env.unwrapped._expected)
    wrong = np.array(target[2])
    empty = np.argwhere(wrong < 0)[0]
    wrong[tuple(empty)] = (int(np.max(wrong)) + 1) % env.unwrapped.puzzle.num_colors  # a stray cell
    grids = [np.array(state) for state in target[:2]] + [wrong] * (SIZE["num_frames"] - 2)
    video = render_states(env.unwrapped.puzzle, np.stack(grids).astype(np.int8), SIZE["height"], SIZE["width"])
    _, reward, _, _, info = env.step(video)
    assert not info["success"] and info["reason"].startswith("frame 2 ") and reward < 1.0
