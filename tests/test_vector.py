"""Vector environments: cheap to build at the published size, and every step call scores a video."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import videorlvr.envs  # noqa: F401  (registers the ids)

H, W, T = 240, 416, 81

MEASURE_MAKE_VEC = textwrap.dedent(
    """
    import gymnasium as gym
    import videorlvr.envs

    def rss_mb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

    gym.make("VideoMaze-v0", height=64, width=112, num_frames=81).reset(seed=0)  # imports done
    before = rss_mb()
    envs = gym.make_vec("VideoMaze-v0", num_envs=4)  # 81 x 480 x 832: no video exists yet
    print(rss_mb() - before)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_make_vec_of_four_default_size_envs_adds_under_100_mb():
    command = [sys.executable, "-c", MEASURE_MAKE_VEC]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.split()[-1]) < 100.0  # was 3 GB with a Box action space


@pytest.fixture(scope="module")
def vector_env():
    envs = gym.make_vec("VideoMaze-v0", num_envs=2, difficulty="easy", height=H, width=W, num_frames=T)
    yield envs
    envs.close()


def _oracles(vector_env) -> np.ndarray:
    return np.stack(vector_env.call("solution_video"))


def test_make_vec_defaults_to_same_step_autoreset(vector_env):
    assert vector_env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert vector_env.single_action_space.shape == (T, H, W, 3)


def test_every_step_call_scores_and_poses_the_next_puzzle(vector_env):
    obs, info = vector_env.reset(seed=0)
    assert info["puzzle"]["seed"].tolist() == [0, 1]  # seeds s, s+1: generate(s), generate(s+1)
    for _ in range(3):
        videos = _oracles(vector_env)
        next_obs, rewards, terminated, truncated, info = vector_env.step(videos)
        assert rewards.tolist() == [1.0, 1.0] and terminated.all() and not truncated.any()
        assert info["final_info"]["success"].all()
        assert not np.array_equal(next_obs["frame"], obs["frame"])  # the next puzzles are already posed
        obs = next_obs


def test_explicit_sync_mode_keeps_gymnasiums_default_unless_asked():
    default = gym.make_vec("VideoMaze-v0", num_envs=1, vectorization_mode="sync", height=H, width=W, num_frames=T)
    assert default.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    same = gym.make_vec("VideoMaze-v0", num_envs=1, vectorization_mode="sync", height=H, width=W, num_frames=T,
                        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})  # fmt: skip
    assert same.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP


def test_asynchronous_vector_env_scores_in_worker_processes():
    envs = gym.make_vec("VideoRLVR/VideoMaze-v0", num_envs=2, asynchronous=True, difficulty="easy",
                        height=H, width=W, num_frames=T)  # fmt: skip
    try:
        envs.reset(seed=3)
        _, rewards, _, _, info = envs.step(_oracles(envs))
        assert rewards.tolist() == [1.0, 1.0] and info["final_info"]["success"].all()
    finally:
        envs.close()
