"""Record each scored answer with its verdict drawn on every frame, as an H.264 mp4 (no moviepy needed).

Gymnasium's ``RecordVideo`` keeps one frame per ``render()`` call, so with ``render_mode="rgb_array"`` it
records the first frame and the verdict picture. :class:`RecordVerdictVideo` writes the whole answer::

    env = RecordVerdictVideo(gym.make("VideoMaze-v0", render_mode="rgb_array_list"), "videos/")
    env.reset(seed=0)
    env.step(video)   # -> videos/verdict-episode-0.mp4
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from videorlvr.envs.video import DEFAULT_FPS, write_video


class RecordVerdictVideo(gym.Wrapper):
    """After each ``step`` of an episode chosen by ``episode_trigger`` (default: every one), write the scored
    video with the verdict drawn on it to ``video_folder/<name_prefix>-episode-<n>.mp4``.

    The wrapped env must have ``render_mode="rgb_array_list"`` (the wrapper takes its frames from it).
    """

    def __init__(
        self,
        env: gym.Env,
        video_folder: str | Path,
        episode_trigger: Callable[[int], bool] | None = None,
        name_prefix: str = "verdict",
    ) -> None:
        if env.render_mode != "rgb_array_list":
            raise ValueError(f"RecordVerdictVideo needs render_mode='rgb_array_list', got {env.render_mode!r}")
        super().__init__(env)
        self.video_folder = Path(video_folder)
        self.episode_trigger = episode_trigger or (lambda episode: True)
        self.name_prefix = name_prefix
        self.episode_id = -1
        self.paths: list[Path] = []

    def reset(self, **kwargs: Any):
        self.episode_id += 1
        result = self.env.reset(**kwargs)
        self.env.render()  # drop the first frame: the recording is of the answer
        return result

    def step(self, action: Any):
        result = self.env.step(action)
        frames = self.env.render()
        if self.episode_trigger(self.episode_id) and frames:
            path = self.video_folder / f"{self.name_prefix}-episode-{self.episode_id}.mp4"
            fps = self.env.metadata.get("render_fps", DEFAULT_FPS)
            self.paths.append(write_video(path, _even(frames), fps=fps))
        return result


def _even(frames: list[np.ndarray]) -> np.ndarray:
    """uint8 (T, H, W, 3) cropped to even sizes (H.264 yuv420p needs them)."""
    video = np.stack(frames)
    return video[:, : video.shape[1] // 2 * 2, : video.shape[2] // 2 * 2]


__all__ = ["RecordVerdictVideo"]
