"""The Gymnasium environment for text answers: the same puzzles, answered by a language model."""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium import spaces

from videorlvr.envs.answers import question, score_answer, solution_answer
from videorlvr.envs.base import VideoReasoningEnv
from videorlvr.envs.types import TaskSpec
from videorlvr.envs.video import MAX_FRAMES

QUESTION_MAX_LENGTH = 16_384  # a 32x32 maze drawn in characters is ~4.3k; the format adds a few hundred
ANSWER_MAX_LENGTH = 8_192


class TextAnswerEnv(VideoReasoningEnv):
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
    ``env.unwrapped.solution_answer()`` is the oracle's answer; ``render()`` after ``step`` draws the
    verdict's banner over the first frame.
    """

    def __init__(self, task: TaskSpec, **kwargs: Any) -> None:
        if "num_frames" in kwargs:
            raise ValueError("num_frames does not apply to answer='text' (the answer is text, not a video)")
        self.task = task
        super().__init__(num_frames=MAX_FRAMES, **kwargs)  # frames are irrelevant: any preset fits
        self.observation_space = spaces.Dict(
            {
                "frame": spaces.Box(0, 255, (self.height, self.width, 3), dtype=np.uint8),
                "prompt": spaces.Text(max_length=QUESTION_MAX_LENGTH, min_length=1, charset=string.printable),
            }
        )
        self.action_space = spaces.Text(max_length=ANSWER_MAX_LENGTH, min_length=0, charset=string.printable)

    def step(self, action: str):
        if self.puzzle is None:
            raise RuntimeError("call reset() before step()")
        if not isinstance(action, str):
            raise TypeError(f"the action is the answer text, a str; got {type(action).__name__}")
        return self._result(score_answer(self.task.name, action, self.puzzle), 0)

    def solution_answer(self) -> str:
        """The oracle's answer to the current puzzle, in the task's answer format."""
        if self.puzzle is None:
            raise RuntimeError("call reset() before solution_answer()")
        return solution_answer(self.task.name, self.puzzle)

    def _observation(self) -> dict[str, Any]:
        return {"frame": self._first_frame.copy(), "prompt": question(self.task.name, self.puzzle)}
