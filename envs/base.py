"""The shared Gymnasium environment: one puzzle per episode, one whole video per step.

Seeds mean one thing everywhere: ``env.reset(seed=s)`` poses the puzzle
``get_task(task).generate(s, difficulty, **task_kwargs)``, the same puzzle a dataset row, ``diffrl sample``
or the demo with seed ``s`` shows. ``reset()`` without a seed draws the puzzle seed from ``np_random``.
"""

from __future__ import annotations

import string
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from videorlvr.envs.overlay import draw_verdict, verdict_video
from videorlvr.envs.spaces import VideoSpace
from videorlvr.envs.types import TaskSpec, Verdict
from videorlvr.envs.video import DEFAULT_FPS, MAX_FRAME_PIXELS, MAX_FRAMES, VideoLike, as_video

DIFFICULTIES = ("easy", "medium", "hard")
REWARD_MODES = ("dense", "success")
RENDER_MODES = ("rgb_array", "rgb_array_list")
DEFAULT_HEIGHT, DEFAULT_WIDTH, DEFAULT_NUM_FRAMES = 480, 832, 81
MIN_SIDE = 16
SEED_DRAW_LIMIT = 2**31 - 1  # puzzle seeds drawn by reset() without a seed lie in [0, this)
PROMPT_MAX_LENGTH = 4096
PROMPT_CHARSET = string.printable


class VideoReasoningEnv(gym.Env):
    """Base class of the video reasoning environments (see each task's class for its docs).

    Subclasses set ``task`` (a :class:`~videorlvr.envs.types.TaskSpec`). Task-specific keyword arguments
    (grid size, colours, boxes) are checked by the task's ``validate`` and passed to its ``generate``.

    Rendering: ``render_mode="rgb_array"`` returns the first frame after ``reset`` and, after ``step``,
    a picture of the verdict (the trajectory the verifier read drawn over the board, the first illegal
    transition in red, success or the reason as text), so ``RecordVideo`` records the first frame and the
    verdict. ``"rgb_array_list"`` returns the frames since the last call: the first frame after ``reset``,
    and that overlay on every frame of the scored video after ``step`` (see
    :class:`videorlvr.envs.recording.RecordVerdictVideo` to write them as mp4s).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": list(RENDER_MODES), "render_fps": DEFAULT_FPS}
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
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be None or one of {RENDER_MODES}, got {render_mode!r}")
        for name, value in (("height", height), ("width", width), ("num_frames", num_frames)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if height < MIN_SIDE or width < MIN_SIDE:
            raise ValueError(f"height and width must be at least {MIN_SIDE}, got {height}x{width}")
        if height * width > MAX_FRAME_PIXELS:
            raise ValueError(f"height x width must be at most {MAX_FRAME_PIXELS} pixels, got {height}x{width}")
        if not 2 <= num_frames <= MAX_FRAMES:
            raise ValueError(f"num_frames must be in [2, {MAX_FRAMES}], got {num_frames}")
        self._validate_task(difficulty, int(height), int(width), int(num_frames), **puzzle_kwargs)
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
        self.action_space = VideoSpace(self.num_frames, self.height, self.width)
        self.puzzle: Any = None
        self._first_frame: np.ndarray | None = None
        self.last_verdict: Verdict | None = None
        self._last_video: np.ndarray | None = None  # kept only for render_mode="rgb_array_list"
        self._scored_frames = 0
        self._pending_frames: list[np.ndarray] = []

    def _validate_task(self, difficulty: str, height: int, width: int, num_frames: int, **kwargs: Any) -> None:
        """The task's own checks of its kwargs, board size and frame count (a mode may relax the frames)."""
        self.task.validate(difficulty, height, width, num_frames, **kwargs)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"puzzle"}
        if unknown:
            raise ValueError(f"unknown reset options: {sorted(unknown)} (accepted: 'puzzle')")
        if "puzzle" in options:
            self.puzzle = self.task.puzzle_from_dict(options["puzzle"])
        else:
            puzzle_seed = seed if seed is not None else int(self.np_random.integers(0, SEED_DRAW_LIMIT))
            self.puzzle = self.task.generate(puzzle_seed, self.difficulty, **self.puzzle_kwargs)
        self._first_frame = self.task.render_first_frame(self.puzzle, self.height, self.width)
        self.last_verdict, self._last_video = None, None
        self._pending_frames = [self._first_frame.copy()] if self.render_mode == "rgb_array_list" else []
        return self._observation(), self._info()

    def step(self, action: VideoLike):
        if self.puzzle is None:
            raise RuntimeError("call reset() before step()")
        video = as_video(action, self.height, self.width)
        verdict = self._verify(video)
        if self.render_mode == "rgb_array_list":
            self._collect_overlay()  # a previous step not rendered yet keeps its frames
            self._last_video = video
        return self._result(verdict, len(video))

    def _verify(self, video: np.ndarray) -> Verdict:
        """The verdict on an answer video, uint8 (T, H, W, 3) at the env's size (a mode may judge otherwise)."""
        return self.task.verify(self.puzzle, video)

    def _result(self, verdict: Verdict, frames: int):
        """Record ``verdict`` (of an answer of ``frames`` frames) and return the step tuple: one-step
        episodes, so ``terminated`` is True."""
        self.last_verdict, self._scored_frames = verdict, frames
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

    def render(self) -> np.ndarray | list[np.ndarray] | None:
        """``"rgb_array"``: uint8 (H, W, 3), the first frame, or after ``step`` the verdict drawn over it.
        ``"rgb_array_list"``: the frames since the last call (the first frame after ``reset``; the scored
        video with the verdict drawn on every frame after ``step``)."""
        if self.render_mode == "rgb_array":
            if self._first_frame is None:
                return None
            if self.last_verdict is None:
                return self._first_frame.copy()
            return draw_verdict(self._first_frame, self.puzzle, self.last_verdict, self._scored_frames)
        if self.render_mode == "rgb_array_list":
            self._collect_overlay()
            frames, self._pending_frames = self._pending_frames, []
            return frames
        return None

    def _collect_overlay(self) -> None:
        """Draw the last scored video's verdict on its frames and queue them for ``render``."""
        if self._last_video is not None:
            self._pending_frames += list(verdict_video(self._last_video, self.puzzle, self.last_verdict))
            self._last_video = None

    def _observation(self) -> dict[str, Any]:
        return {"frame": self._first_frame.copy(), "prompt": self.task.prompt(self.puzzle)}

    def _info(self) -> dict[str, Any]:
        return {"task": self.task.name, "puzzle": self.puzzle.to_dict()}
