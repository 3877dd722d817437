"""Plain data types shared by every task: the verdict, the puzzle protocol and the task spec."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

Cell = tuple[int, int]


class Puzzle(Protocol):
    """A task's puzzle: a frozen dataclass that round-trips through a JSON-serialisable dict."""

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Puzzle: ...


@dataclass(frozen=True)
class Verdict:
    """The judgement of one video (or one state sequence).

    success: strict task success. reward: the dense reward in [0, 1], 1.0 exactly iff success.
    components: the dense reward terms, each in [0, 1]. reason: the first rule that broke ("" on success).
    predicted_cells / oracle_cells: the cells the answer used vs the oracle's, for precision/recall/F1.
    trace: what was read in each frame, for drawing the verdict: per frame a tuple of the cells to mark
    (the agent's or player's cell; FlowFree: the cells filled so far), or None for an unreadable frame;
    empty when the verdict did not come from frames. broken_frame: the frame where the legal prefix
    ended (the first illegal or unreadable frame), None when the whole video is legal.
    """

    success: bool
    reward: float
    components: dict[str, float]
    reason: str = ""
    predicted_cells: frozenset[Cell] = field(default_factory=frozenset)
    oracle_cells: frozenset[Cell] = field(default_factory=frozenset)
    trace: tuple[tuple[Cell, ...] | None, ...] = ()
    broken_frame: int | None = None


def make_verdict(
    success: bool,
    components: Mapping[str, float],
    weights: Mapping[str, float],
    reason: str = "",
    predicted_cells: frozenset[Cell] = frozenset(),
    oracle_cells: frozenset[Cell] = frozenset(),
    trace: tuple[tuple[Cell, ...] | None, ...] = (),
    broken_frame: int | None = None,
) -> Verdict:
    """Build a verdict whose dense reward is the weighted mean of the components.

    The reward is 1.0 exactly when ``success``; a failing video is capped just below 1.0 so that no
    combination of components can ever equal a true success.
    """
    if set(weights) - set(components):
        raise ValueError(f"weights name unknown components: {sorted(set(weights) - set(components))}")
    clean = {name: float(np.clip(value, 0.0, 1.0)) for name, value in components.items()}
    total = sum(weights.values())
    reward = sum(weights[name] * clean[name] for name in weights) / total
    reward = 1.0 if success else min(reward, 0.99)
    return Verdict(
        success=bool(success),
        reward=float(reward),
        components=clean,
        reason="" if success else reason,
        predicted_cells=frozenset(predicted_cells),
        oracle_cells=frozenset(oracle_cells),
        trace=tuple(trace),
        broken_frame=None if broken_frame is None else int(broken_frame),
    )


# How an oracle video spaces its moves. "steady": spread evenly over the frames before the end window
# (the default: the published data). "eager": one move per frame from frame 1, then the solved state held
# to the end, so what frame k shows does not depend on the solution's length (easier for small models).
PACES = ("steady", "eager")


def check_pace(pace: str) -> str:
    """``pace`` if it is one of :data:`PACES`, else a ValueError naming them."""
    if pace not in PACES:
        raise ValueError(f"pace must be one of {list(PACES)}, got {pace!r}")
    return pace


@dataclass(frozen=True)
class TaskSpec:
    """Everything batch tools need to know about one task, as plain functions."""

    name: str
    env_id: str
    puzzle_type: type
    generate: Callable[..., Any]  # (seed, difficulty="medium", **kwargs) -> Puzzle
    render_first_frame: Callable[..., np.ndarray]  # (puzzle, height, width) -> uint8 (H, W, 3)
    # (puzzle, height, width, num_frames, pace="steady") -> uint8 (T, H, W, 3); pace: see PACES
    render_solution: Callable[..., np.ndarray]
    verify: Callable[..., Verdict]  # (puzzle, video) -> Verdict
    prompt: Callable[[Any], str]  # (puzzle) -> the task in words
    # (puzzle) -> the fewest frames a video of this puzzle needs (the oracle then shows at most the
    # task's documented number of moves per frame); a shorter video can never succeed.
    min_frames: Callable[[Any], int] = lambda puzzle: 2
    # (difficulty, height, width, num_frames, **kwargs) -> None: raise ValueError (naming what is allowed)
    # for unknown kwargs and for settings that cannot work (boards too big for the frame, too few frames
    # for the preset's longest oracle). Called by the env at construction.
    validate: Callable[..., None] = lambda difficulty, height, width, num_frames, **kwargs: None

    def puzzle_from_dict(self, data: Mapping[str, Any]) -> Any:
        return self.puzzle_type.from_dict(data)

    def score_answer(self, answer: str, puzzle: Any) -> Verdict:
        """Judge a text answer to ``puzzle`` (object, dict or JSON) by this task's rules; see
        :mod:`videorlvr.envs.answers` for the answer formats."""
        from videorlvr.envs.answers import score_answer  # the answers package imports this module

        return score_answer(self.name, answer, puzzle)
