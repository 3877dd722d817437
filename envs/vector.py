"""Vector environments whose every ``step`` call scores a video.

Each episode is one step, so Gymnasium's default ``NEXT_STEP`` autoreset would spend every second
``step`` call on a reset (the actions passed then are ignored). The registered ids therefore have a
``vector_entry_point`` that builds the vector env with ``AutoresetMode.SAME_STEP``: the episode ends and
the next puzzle is posed in the same call, the returned observation is the new puzzle, and the scored
episode's info is under ``info["final_info"]`` (its observation under ``info["final_obs"]``)::

    envs = gym.make_vec("VideoMaze-v0", num_envs=4, height=240, width=416, num_frames=33)
    obs, info = envs.reset(seed=0)                       # seeds 0, 1, 2, 3
    obs, rewards, terminated, truncated, info = envs.step(videos)   # videos: (4, T, H, W, 3)
    info["final_info"]["success"]                        # (4,) bool, the verdicts of those videos

``asynchronous=True`` steps the envs in worker processes. Explicit ``vectorization_mode="sync"|"async"``
(needed for ``wrappers=``) gets Gymnasium's default unless ``vector_kwargs={"autoreset_mode":
gym.vector.AutoresetMode.SAME_STEP}`` is passed too.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import gymnasium as gym
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv


def make_vector_env(
    env_id: str,
    num_envs: int = 1,
    *,
    asynchronous: bool = False,
    autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
    **env_kwargs: Any,
) -> VectorEnv:
    """``num_envs`` copies of ``gym.make(env_id, **env_kwargs)`` in one vector env (SAME_STEP autoreset)."""
    if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
    env_fns = [partial(gym.make, env_id, **env_kwargs) for _ in range(num_envs)]
    vector_class = AsyncVectorEnv if asynchronous else SyncVectorEnv
    return vector_class(env_fns, autoreset_mode=AutoresetMode(autoreset_mode))
