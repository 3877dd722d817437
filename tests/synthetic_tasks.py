"""A verifiable toy task for trainer tests that needs no environment: "make the video brighter".

Each puzzle is a grey level; the first frame is that grey; the reward is 0.5 plus how much brighter
than the first frame the generated frames 1.. are (in units of 255), clipped to [0, 1]. A policy learns
it by shifting its output up, which GRPO can find from a random initialisation within seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from diffrl.config import Config, config_from_dict
from diffrl.data import PromptItem
from diffrl.rewards import RewardResult


class BrightnessSource:
    """Prompt source of grey first frames (levels 60..199, keyed on the index)."""

    def __len__(self) -> int:
        return 10_000

    def item(self, index: int) -> PromptItem:
        level = int(np.random.default_rng([7, index]).integers(60, 200))
        return PromptItem(task="brightness", puzzle={"level": level}, prompt="make the video brighter", index=index)

    def first_frames(self, items: Sequence[PromptItem], height: int, width: int) -> np.ndarray:
        return np.stack([np.full((height, width, 3), it.puzzle["level"], np.uint8) for it in items])

    def solution_videos(self, items: Sequence[PromptItem], height: int, width: int, num_frames: int) -> np.ndarray:
        videos = np.stack([np.full((num_frames, height, width, 3), it.puzzle["level"], np.uint8) for it in items])
        videos[:, 1:, height // 4: 3 * height // 4] = 230  # a bright band after the first frame
        return videos


def brightness_reward(videos: np.ndarray, items: Sequence[PromptItem]) -> RewardResult:
    level = np.array([it.puzzle["level"] for it in items], dtype=np.float64)
    gain = (videos[:, 1:].astype(np.float64).mean(axis=(1, 2, 3, 4)) - level) / 255.0
    rewards = np.clip(0.5 + gain, 0.0, 1.0)
    return RewardResult(
        rewards=rewards, success=rewards > 0.6, tasks=[it.task for it in items],
        components={"brightness/gain": np.clip(gain, 0.0, 1.0)},
    )


def tiny_config(output_dir: str, **sections: dict) -> Config:
    """A small, fast config for the tiny policy (32x32, 5 frames); ``sections`` update it."""
    raw = {
        "run": {"name": "test", "output_dir": str(output_dir), "seed": 3, "max_steps": 4, "save_every": 100,
                "sample_video_every": 1000},
        "policy": {"type": "tiny", "height": 32, "width": 32, "num_frames": 5,
                   "options": {"patch_size": 8, "dim": 32, "depth": 2, "heads": 2}},
        "data": {"tasks": ["maze"]},
        "reward": {"name": "maze_success"},
        "grpo": {"group_size": 4, "prompts_per_step": 2, "num_inference_steps": 6, "sde_cutoff_ratio": 1.0,
                 "loss_steps": 6, "sde_coefficient": 0.7, "kl_coefficient": 0.0, "cfg_range": [1.0, 1.0]},
        "optim": {"learning_rate": 3e-3, "micro_batch_size": 8},
        "sft": {"batch_size": 8, "max_steps": 4},
    }  # fmt: skip
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return config_from_dict(raw)
