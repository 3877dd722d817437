"""Text answers: the oracle's answer succeeds through every entry point; corruptions fail for the right
reason; prose, case and separators are tolerated; malformed text scores 0 with a reason, never raises."""

from __future__ import annotations

import json
import re

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videorlvr.envs import ENV_IDS, TASK_NAMES, get_task
from videorlvr.envs.answers import dataset_items, question, score_answer, score_item, solution_answer
from videorlvr.envs.answers.adapters import compute_score, trl_reward
from videorlvr.envs.answers.parsing import parse_moves

SEEDS = (0, 1, 2)


def _puzzle(task: str, seed: int, difficulty: str = "easy"):
    return get_task(task).generate(seed, difficulty)


@pytest.mark.parametrize("task", TASK_NAMES)
@pytest.mark.parametrize("seed", SEEDS)
def test_oracle_answer_succeeds_through_every_entry_point(task: str, seed: int) -> None:
    puzzle = _puzzle(task, seed)
    answer = solution_answer(task, puzzle)
    as_dict, as_json = puzzle.to_dict(), json.dumps(puzzle.to_dict())
    assert score_answer(task, answer, puzzle).success
    assert get_task(task).score_answer(answer, as_dict).success
    assert score_answer(task, answer, as_json).reward == 1.0
    chat = [[{"role": "assistant", "content": f"<think>plan</think><answer>{answer}</answer>"}]]
    assert trl_reward(prompts=["q"], completions=chat, task=[task], puzzle=[as_json], completion_ids=[[1]]) == [1.0]
    assert trl_reward(prompts=["q"], completions=[answer], task=[task], puzzle=[as_dict]) == [1.0]
    verl = compute_score(f"videorlvr/{task}", answer, json.dumps({"task": task, "puzzle": as_dict}), {"index": 0})
    assert verl["score"] == 1.0 and verl["success"] == 1.0
    assert compute_score(f"videorlvr/{task}", answer, as_dict)["score"] == 1.0


@pytest.mark.parametrize("task", TASK_NAMES)
def test_text_env_passes_check_env_and_scores_the_oracle(task: str) -> None:
    env = gym.make(ENV_IDS[task], answer="text", difficulty="easy", height=120, width=208)
    check_env(env.unwrapped, skip_render_check=True)
    observation, info = env.reset(seed=4)
    assert info["puzzle"] == get_task(task).generate(4, "easy").to_dict()
    assert "<answer>" in observation["prompt"]
    _, reward, terminated, truncated, info = env.step(env.unwrapped.solution_answer())
    assert (reward, terminated, truncated, info["success"]) == (1.0, True, False, True)
    _, reward, _, _, info = env.step("no idea")
    assert reward == 0.0 and not info["success"] and info["reason"]
    with pytest.raises(TypeError, match="answer text"):
        env.step(["r"])


def test_text_env_rejects_num_frames_and_unknown_answer_kinds() -> None:
    with pytest.raises(ValueError, match="num_frames"):
        gym.make("VideoMaze-v0", answer="text", num_frames=81)
    with pytest.raises(ValueError, match="answer must be one of"):
        gym.make("VideoMaze-v0", answer="speech")


@pytest.mark.parametrize("seed", SEEDS)
def test_maze_one_changed_move_fails_for_the_right_reason(seed: int) -> None:
    puzzle = _puzzle("maze", seed, "medium")
    answer = solution_answer("maze", puzzle)
    turned = {"u": "l", "l": "u", "d": "r", "r": "d"}
    corrupt = answer[:2] + turned[answer[2]] + answer[3:]
    verdict = score_answer("maze", corrupt, puzzle)
    assert not verdict.success
    assert re.search(r"wall|left the maze|not on the goal", verdict.reason)
    assert verdict.reward < 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_sokoban_dropped_move_fails(seed: int) -> None:
    puzzle = _puzzle("sokoban", seed, "medium")
    answer = solution_answer("sokoban", puzzle)
    verdict = score_answer("sokoban", answer[:-1], puzzle)
    assert not verdict.success and verdict.reason and verdict.reward < 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_flowfree_shortened_pipe_fails_because_the_board_is_not_solved(seed: int) -> None:
    puzzle = _puzzle("flowfree", seed, "medium")
    lines = solution_answer("flowfree", puzzle).splitlines()
    colour = next(k for k, path in enumerate(puzzle.paths) if len(path) >= 3)
    lines[colour] = lines[colour].rsplit(" ", 2)[0]  # the pipe stops two cells short of its second dot
    verdict = score_answer("flowfree", "\n".join(lines), puzzle)
    assert not verdict.success
    assert re.search(r"join|full|empty", verdict.reason)


def test_flowfree_pipe_drawn_from_its_second_dot_is_accepted() -> None:
    puzzle = _puzzle("flowfree", 0, "medium")
    lines = []
    for k, path in enumerate(puzzle.paths):
        cells = path[::-1] if k % 2 else path
        lines.append(f"{chr(ord('A') + k)}: " + ", ".join(f"({r}, {c})" for r, c in cells))
    assert score_answer("flowfree", "\n".join(lines), puzzle).success


def test_flowfree_jump_and_wrong_start_are_reported() -> None:
    puzzle = _puzzle("flowfree", 0, "medium")
    path = puzzle.paths[0]
    jump = "red: " + " ".join(f"({r},{c})" for r, c in (path[0], *path[2:]))
    assert "not neighbours" in score_answer("flowfree", jump, puzzle).reason
    wrong = "red: " + " ".join(f"({r},{c})" for r, c in path[1:])
    assert "must start on one of its dots" in score_answer("flowfree", wrong, puzzle).reason


@pytest.mark.parametrize(
    ("text", "moves"),
    [
        ("rrdd", "rrdd"),
        ("R, R, D, D", "rrdd"),
        ("right -> right -> down", "rrd"),
        ("First I tried uu, which fails. Final answer: r r d l", "rrdl"),
        ("<answer>ud</answer> on second thought <answer>lr</answer> good luck", "lr"),
        ("RRllDRDulD", "rrlldrduld"),
        ("up, Down | left / RIGHT", "udlr"),
    ],
)
def test_move_parser_tolerates_case_separators_and_prose(text: str, moves: str) -> None:
    assert parse_moves(text) == (moves, "")


@pytest.mark.parametrize("task", TASK_NAMES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_text_gets_a_verdict_never_an_exception(task: str, text: str) -> None:
    puzzle = _puzzle(task, 0)
    verdict = score_answer(task, text, puzzle)
    assert 0.0 <= verdict.reward <= 1.0
    assert verdict.success or verdict.reason


@pytest.mark.parametrize("task", TASK_NAMES)
def test_malformed_answers_score_zero_with_a_reason(task: str) -> None:
    puzzle = _puzzle(task, 0)
    for text in ("", "I cannot solve this.", "<answer></answer>", "x" * 10_000):
        verdict = score_answer(task, text, puzzle)
        assert verdict.reward == 0.0 and not verdict.success and verdict.reason
    assert score_answer(task, "r" * 5_000, puzzle).reward == 0.0
    assert set(score_answer(task, "", puzzle).components) == set(score_answer(task, solution_answer(task, puzzle),
                                                                              puzzle).components)


def test_bad_puzzles_and_columns_raise_named_errors() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        score_answer("maze", "r", "{not json")
    with pytest.raises(TypeError, match="MazePuzzle"):
        score_answer("maze", "r", 42)
    with pytest.raises(ValueError, match="unknown task"):
        score_answer("chess", "r", {})
    with pytest.raises(ValueError, match="'puzzle' column"):
        trl_reward(prompts=["q"], completions=["r"], task=["maze"])


@pytest.mark.parametrize("task", TASK_NAMES)
def test_dataset_items_are_deterministic_and_scored_from_metadata(task: str) -> None:
    first = list(dataset_items(task, 3, seed=10, difficulty="easy", image_size=(120, 208)))
    again = list(dataset_items(task, 3, seed=10, difficulty="easy", image_size=None))
    assert [item["question"] for item in first] == [item["question"] for item in again]
    assert [item["metadata"]["seed"] for item in first] == [10, 11, 12]
    assert first[0]["image"].shape == (120, 208, 3) and again[0]["image"] is None
    for item in first:
        assert item["question"] == question(task, item["metadata"]["puzzle"])
        stored = {"metadata": json.loads(json.dumps(item["metadata"]))}  # as a dataset row keeps it
        assert score_item(item["answer"], stored) == 1.0
