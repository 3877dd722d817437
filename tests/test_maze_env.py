"""VideoMaze-v0: what only the maze adds to the shared Gymnasium API (tests/test_env_api.py)."""

import gymnasium as gym

from videorlvr import envs  # noqa: F401  (registers the ids)
from videorlvr.envs.maze.constants import WEIGHTS

H, W, T = 240, 416, 17


def test_prompt_names_the_agent_the_goal_and_the_walls():
    obs, _ = gym.make("VideoMaze-v0", height=H, width=W, num_frames=T).reset(seed=7)
    assert "red" in obs["prompt"] and "green" in obs["prompt"] and "wall" in obs["prompt"]


def test_reward_components_keep_their_names():
    assert set(WEIGHTS) == {"start_correct", "path_valid", "progress", "goal_reached", "maze_preserved"}


def test_task_kwargs_reach_the_generator():
    env = gym.make("VideoMaze-v0", height=H, width=W, num_frames=T, size=(6, 8), algorithm="kruskal")
    _, info = env.reset(seed=4)
    assert (info["puzzle"]["rows"], info["puzzle"]["cols"], info["puzzle"]["algorithm"]) == (6, 8, "kruskal")
    assert env.step(env.unwrapped.solution_video())[4]["success"]
