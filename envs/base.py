"""The shared Gymnasium environment: one puzzle per episode, one whole video per step."""

from __future__ import annotations

import string
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from videorlvr.envs.types import TaskSpec, Verdict
from videorlvr.envs.video import VideoLike, as_video

DIFFICULTIES = ("easy", "medium", "hard")
REWARD_MODES = ("dense", "success")
DEFAULT_HEIGHT, DEFAULT_WIDTH, DEFAULT_NUM_FRAMES = 480, 832, 81
PROMPT_MAX_LENGTH = 4096
PROMPT_CHARSET = string.printable


class VideoReasoningEnv(gym.Env):
    """Base class of the video reasoning environments (see each task's class for its docs).

    Subclasses set ``task`` (a :class:`~videorlvr.envs.types.TaskSpec`). Task-specific keyword arguments
    (grid size, colours, boxes) are passed through to the task's ``generate``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 16}
    task: ClassVar[TaskSpec]

    def __init__(
        self,
        difficulty: str = "medium",
        height: int = DEFAULT_HEIGHT,
        width: int = DEFAULT_WIDTH,
        num_frames: int = DEFAULT_NUM_FRAMES,
        reward_mode: str = "dense",
        render_mode: str | None = None,
        **puzzle_kwargs: Any,
    ) -> None:
        if difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")
        if reward_mode not in REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {REWARD_MODES}, got {reward_mode!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        for name, value in (("height", height), ("width", width), ("num_frames", num_frames)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if height < 16 or width < 16:
            raise ValueError(f"height and width must be at least 16, got {height}x{width}")
        if num_frames < 2:
            raise ValueError(f"num_frames must be at least 2, got {num_frames}")
        self.task.validate(difficulty, int(height), int(width), int(num_frames), **puzzle_kwargs)
        self.difficulty = difficulty
        self.height, self.width, self.num_frames = int(height), int(width), int(num_frames)
        self.reward_mode = reward_mode
        self.render_mode = render_mode
        self.puzzle_kwargs = puzzle_kwargs
        self.observation_space = spaces.Dict(
            {
                "frame": spaces.Box(0, 255, (self.height, self.width, 3), dtype=np.uint8),
                "prompt": spaces.Text(max_length=PROMPT_MAX_LENGTH, min_length=1, charset=PROMPT_CHARSET),
            }
        )
        self.action_space = spaces.Box(0, 255, (self.num_frames, self.height, self.width, 3), dtype=np.uint8)
        self.puzzle: Any = None
        self._first_frame: np.ndarray | None = None
        self.last_verdict: Verdict | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"puzzle"}
        if unknown:
            raise ValueError(f"unknown reset options: {sorted(unknown)} (accepted: 'puzzle')")
        if "puzzle" in options:
            self.puzzle = self.task.puzzle_from_dict(options["puzzle"])
        else:
            puzzle_seed = int(self.np_random.integers(0, 2**31 - 1))
            self.puzzle = self.task.generate(puzzle_seed, self.difficulty, **self.puzzle_kwargs)
        self._first_frame = self.task.render_first_frame(self.puzzle, self.height, self.width)
        self.last_verdict = None
        return self._observation(), self._info()

    def step(self, action: VideoLike):
        if self.puzzle is None:
            raise RuntimeError("call reset() before step()")
        video = as_video(action, self.height, self.width)
        verdict = self.task.verify(self.puzzle, video)
        self.last_verdict = verdict
        reward = float(verdict.success) if self.reward_mode == "success" else verdict.reward
        info = self._info() | {
            "success": verdict.success,
            "components": dict(verdict.components),
            "reason": verdict.reason,
            "dense_reward": verdict.reward,
        }
        return self._observation(), reward, True, False, info

    def solution_video(self, num_frames: int | None = None) -> np.ndarray:
        """The oracle answer: uint8 ``(num_frames, H, W, 3)`` (default: the env's frame count)."""
        if self.puzzle is None:
            raise RuntimeError("call reset() before solution_video()")
        frames = self.num_frames if num_frames is None else num_frames
        return self.task.render_solution(self.puzzle, self.height, self.width, frames)

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            return None if self._first_frame is None else self._first_frame.copy()
        return None

    def _observation(self) -> dict[str, Any]:
        return {"frame": self._first_frame.copy(), "prompt": self.task.prompt(self.puzzle)}

    def _info(self) -> dict[str, Any]:
        return {"task": self.task.name, "puzzle": self.puzzle.to_dict()}
