"""The puzzles as text: questions for language and vision-language models, and judges for their answers.

Every task has one documented answer format (:data:`TextTask.answer_format`): maze and Sokoban take
``udlr`` move strings (Sokoban also the ``LURD`` notation), FlowFree one line of cells per colour. The
judge parses tolerantly (case, separators, prose around the answer; the last ``<answer>`` block or
else the last well-formed answer counts), then runs the task's pixel-free rules: the same rules that
judge videos, returning the same :class:`~videorlvr.envs.types.Verdict`. Malformed answers get reward
0 and a reason, never an exception.

    from videorlvr.envs import get_task
    verdict = get_task("maze").score_answer("<answer>rrdd</answer>", puzzle_dict)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from videorlvr.envs.answers.tasks import TEXT_TASKS, TextTask
from videorlvr.envs.types import Verdict


@cache
def text_task(name: str) -> TextTask:
    """The text interface of a task ("maze", "flowfree" or "sokoban")."""
    if name not in TEXT_TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TEXT_TASKS)}")
    return TEXT_TASKS[name]()


def as_puzzle(task: str, puzzle: Any) -> Any:
    """A task's puzzle from itself, its ``to_dict()`` dict, or that dict as JSON text."""
    from videorlvr.envs import get_task

    spec = get_task(task)
    if isinstance(puzzle, spec.puzzle_type):
        return puzzle
    if isinstance(puzzle, str):
        try:
            puzzle = json.loads(puzzle)
        except json.JSONDecodeError as error:
            raise ValueError(f"puzzle text is not JSON: {error}") from error
    if not isinstance(puzzle, Mapping):
        raise TypeError(f"puzzle must be a {spec.puzzle_type.__name__}, a dict or JSON text, got {type(puzzle).__name__}")
    return spec.puzzle_from_dict(puzzle)


def score_answer(task: str, answer: str, puzzle: Any) -> Verdict:
    """Judge a text answer to a puzzle (object, dict or JSON) of ``task`` by the task's own rules."""
    return text_task(task).judge(as_puzzle(task, puzzle), answer)


def solution_answer(task: str, puzzle: Any) -> str:
    """The oracle's answer to a puzzle, in the task's answer format."""
    return text_task(task).solution_answer(as_puzzle(task, puzzle))


def question(task: str, puzzle: Any) -> str:
    """The full question for a text model: the board in characters, then the answer format."""
    interface = text_task(task)
    return interface.board(as_puzzle(task, puzzle)) + "\n\n" + interface.answer_format


def dataset_items(
    task: str,
    size: int,
    seed: int = 0,
    difficulty: str = "medium",
    image_size: tuple[int, int] | None = (480, 832),
    **puzzle_kwargs: Any,
) -> Iterator[dict[str, Any]]:
    """Deterministic question items, reasoning-gym style: ``{"question", "image", "answer", "metadata"}``.

    Item ``i`` is the puzzle ``generate(seed + i, difficulty, **puzzle_kwargs)``; ``image`` is its first
    frame, uint8 (H, W, 3) at ``image_size`` (None: no image); ``metadata`` holds everything needed to
    score an answer later (``task``, ``seed``, ``difficulty``, ``puzzle``): see :func:`score_item`.
    """
    from videorlvr.envs import get_task

    if not isinstance(size, int) or size < 0:
        raise ValueError(f"size must be a non-negative int, got {size!r}")
    spec = get_task(task)
    for index in range(size):
        puzzle = spec.generate(seed + index, difficulty, **puzzle_kwargs)
        yield {
            "question": question(task, puzzle),
            "image": None if image_size is None else spec.render_first_frame(puzzle, *image_size),
            "answer": solution_answer(task, puzzle),
            "metadata": {"task": task, "seed": seed + index, "difficulty": difficulty, "puzzle": puzzle.to_dict()},
        }


def score_item(answer: str, item: Mapping[str, Any]) -> float:
    """The dense reward of ``answer`` to a :func:`dataset_items` item (only its metadata is used)."""
    metadata = item["metadata"]
    return score_answer(metadata["task"], answer, metadata["puzzle"]).reward


__all__ = ["TextTask", "as_puzzle", "dataset_items", "question", "score_answer", "score_item", "solution_answer",
           "text_task"]
