"""The Gymnasium environment for text answers: the same puzzles, answered by a language model."""

from __future__ import annotations

import string
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from videorlvr.envs.answers import question, score_answer, solution_answer
from videorlvr.envs.types import TaskSpec, Verdict

QUESTION_MAX_LENGTH = 16_384  # a 32x32 maze drawn in characters is ~4.3k; the format adds a few hundred
ANSWER_MAX_LENGTH = 8_192
# Frames are irrelevant to a text answer; validation still checks the kwargs and the board size.
_ANY_FRAME_COUNT = 1_000_000


class TextAnswerEnv(gym.Env):
    """A puzzle answered in text — ``gym.make("VideoMaze-v0", answer="text")`` (also FlowFree, Sokoban).

    ## Description
    The puzzle of the video environment with the same id and kwargs, asked of a language or
    vision-language model: the observation shows the first frame and a question that draws the board
    in characters and states the answer format; the action is the model's text.

    ## Action Space
    ``Text(max_length=8192)``: the answer. Maze and Sokoban: moves as ``u/d/l/r`` (Sokoban also the
    ``LURD`` notation); FlowFree: one line per colour, ``red: (0,0) (0,1) ...``. Case, separators and
    prose around the answer are tolerated; the last ``<answer>...</answer>`` block (or else the last
    well-formed answer) counts.

    ## Observation Space
    ``Dict(frame=Box(0, 255, (height, width, 3), uint8), prompt=Text)``: the first frame and the question.

    ## Starting State
    ``reset(seed=s)`` gives the puzzle ``generate(s, difficulty, **kwargs)`` of the task, exactly as the
    video environment does; ``reset(options={"puzzle": d})`` restores a stored puzzle.

    ## Rewards
    The answer is judged by the task's pixel-free rules, the same that judge a video of those moves:
    the reward is the same dense reward (``reward_mode="dense"``) or ``float(success)``; the components
    are the video environment's. A malformed answer scores 0 with a reason.

    ## Episode End
    One step: ``terminated=True``. ``info``: ``task``, ``puzzle``, ``success``, ``components``, ``reason``,
    ``dense_reward``.

    ## Arguments
    Those of the video environment except ``num_frames``, plus ``answer="text"``.
    ``env.unwrapped.solution_answer()`` is the oracle's answer.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 1}

    def __init__(
        self,
        task: TaskSpec,
        difficulty: str = "medium",
        height: int = 480,
        width: int = 832,
        reward_mode: str = "dense",
        render_mode: str | None = None,
        **puzzle_kwargs: Any,
    ) -> None:
        from videorlvr.envs.base import DIFFICULTIES, REWARD_MODES

        if difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")
        if reward_mode not in REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {REWARD_MODES}, got {reward_mode!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        task.validate(difficulty, int(height), int(width), _ANY_FRAME_COUNT, **puzzle_kwargs)
        self.task, self.difficulty, self.reward_mode = task, difficulty, reward_mode
        self.height, self.width, self.render_mode = int(height), int(width), render_mode
        self.puzzle_kwargs = puzzle_kwargs
        self.observation_space = spaces.Dict(
            {
                "frame": spaces.Box(0, 255, (self.height, self.width, 3), dtype=np.uint8),
                "prompt": spaces.Text(max_length=QUESTION_MAX_LENGTH, min_length=1, charset=string.printable),
            }
        )
        self.action_space = spaces.Text(max_length=ANSWER_MAX_LENGTH, min_length=0, charset=string.printable)
        self.puzzle: Any = None
        self._first_frame: np.ndarray | None = None
        self.last_verdict: Verdict | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        if set(options) - {"puzzle"}:
            raise ValueError(f"unknown reset options: {sorted(set(options) - {'puzzle'})} (accepted: 'puzzle')")
        if "puzzle" in options:
            self.puzzle = self.task.puzzle_from_dict(options["puzzle"])
        else:
            puzzle_seed = seed if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
            self.puzzle = self.task.generate(puzzle_seed, self.difficulty, **self.puzzle_kwargs)
        self._first_frame = self.task.render_first_frame(self.puzzle, self.height, self.width)
        self.last_verdict = None
        return self._observation(), self._info()

    def step(self, action: str):
        if self.puzzle is None:
            raise RuntimeError("call reset() before step()")
        if not isinstance(action, str):
            raise TypeError(f"the action is the answer text, a str; got {type(action).__name__}")
        verdict = score_answer(self.task.name, action, self.puzzle)
        self.last_verdict = verdict
        reward = float(verdict.success) if self.reward_mode == "success" else verdict.reward
        info = self._info() | {
            "success": verdict.success,
            "components": dict(verdict.components),
            "reason": verdict.reason,
            "dense_reward": verdict.reward,
        }
        return self._observation(), reward, True, False, info

    def solution_answer(self) -> str:
        """The oracle's answer to the current puzzle, in the task's answer format."""
        if self.puzzle is None:
            raise RuntimeError("call reset() before solution_answer()")
        return solution_answer(self.task.name, self.puzzle)

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array" and self._first_frame is not None:
            return self._first_frame.copy()
        return None

    def _observation(self) -> dict[str, Any]:
        return {"frame": self._first_frame.copy(), "prompt": question(self.task.name, self.puzzle)}

    def _info(self) -> dict[str, Any]:
        return {"task": self.task.name, "puzzle": self.puzzle.to_dict()}
