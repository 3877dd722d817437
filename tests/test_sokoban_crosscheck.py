"""Sokoban against an independent implementation: levels in the common text format convert both ways,
and the text judge agrees with a separate, minimal Sokoban simulator on oracle and corrupted solutions
written in the standard LURD notation (lower case moves, upper case pushes)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videorlvr.envs import get_task
from videorlvr.envs.answers import score_answer
from videorlvr.envs.answers.sokoban_levels import level_from_text, level_to_text
from videorlvr.envs.sokoban import Puzzle

STEP = {"u": (-1, 0), "d": (1, 0), "l": (0, -1), "r": (0, 1)}

# Small hand-made levels with solutions in LURD notation.
CLASSIC = [
    ("#####\n#@$.#\n#####", "R"),
    ("######\n#@ $.#\n######", "rR"),
    ("  #####\n###   #\n#.@$  #\n### $.#\n#.##$ #\n# # . ##\n#$ *$$.#\n#   .  #\n########", None),
    ("#####\n#.  #\n#$  #\n#@  #\n#####", "U"),
    ("######\n#    #\n# $$ #\n# .. #\n#  @ #\n######", "ruuulDulD"),
    ("#######\n#.   .#\n#  $  #\n# $@$ #\n#  $  #\n#.   .#\n#######", None),
]


def simulate(text: str, moves: str) -> tuple[bool, bool]:
    """(every move legal, all boxes on targets at the end) for ``moves`` played on the text level."""
    rows = text.splitlines()
    walls, boxes, targets, player = set(), set(), set(), None
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            if ch == "#":
                walls.add((r, c))
            if ch in "$*":
                boxes.add((r, c))
            if ch in ".*+":
                targets.add((r, c))
            if ch in "@+":
                player = (r, c)
    for move in moves.lower():
        dr, dc = STEP[move]
        ahead = (player[0] + dr, player[1] + dc)
        if ahead in walls:
            return False, False
        if ahead in boxes:
            beyond = (ahead[0] + dr, ahead[1] + dc)
            if beyond in walls or beyond in boxes:
                return False, False
            boxes = (boxes - {ahead}) | {beyond}
        player = ahead
    return True, boxes == targets


def _generated(count: int = 32) -> list[tuple[str, str]]:
    task = get_task("sokoban")
    return [(level_to_text(p.level), p.solution) for p in (task.generate(s, d) for s in range(count // 2)
                                                              for d in ("easy", "medium"))]


def _solved_levels() -> list[tuple[str, str]]:
    return [(text, solution) for text, solution in CLASSIC if solution] + _generated()


@pytest.mark.parametrize(("text", "solution"), _solved_levels())
def test_level_text_converts_both_ways_and_oracle_agrees(text: str, solution: str) -> None:
    level = level_from_text(text)
    assert level_from_text(level_to_text(level)) == level
    assert simulate(level_to_text(level), solution) == (True, True)
    puzzle = Puzzle(0, "custom", level, solution)  # the LURD case marks are checked here
    assert score_answer("sokoban", f"My solution: {solution}.", puzzle).success


@pytest.mark.parametrize("text", [text for text, solution in CLASSIC if not solution])
def test_ragged_levels_are_walled_in(text: str) -> None:
    level = level_from_text(text)
    assert len({len(row) for row in level}) == 1
    assert set(level[0]) == set(level[-1]) == {"#"}
    assert sum(row.count("@") + row.count("+") for row in level) == 1


def test_bad_level_text_raises_named_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        level_from_text("\n\n")
    with pytest.raises(ValueError, match="characters"):
        level_from_text("#####\n#@x.#\n#####")
    with pytest.raises(ValueError, match="open to the outside"):
        level_from_text("#####\n#@$. \n#####")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_text_judge_agrees_with_the_independent_simulator_on_corruptions(data: st.DataObject) -> None:
    text, solution = data.draw(st.sampled_from(_solved_levels()))
    moves = list(solution.lower())
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        at = data.draw(st.integers(0, max(0, len(moves) - 1)))
        letter = data.draw(st.sampled_from("udlr"))
        if kind == "replace" and moves:
            moves[at] = letter
        elif kind == "delete" and len(moves) > 1:
            del moves[at]
        else:
            moves.insert(at, letter)
    answer = "".join(moves)
    level = level_from_text(text)
    legal, solved = simulate(level_to_text(level), answer)
    verdict = score_answer("sokoban", answer, Puzzle(0, "custom", level, solution))
    assert verdict.success == (legal and solved), (answer, verdict.reason)
    if not verdict.success:
        assert verdict.reason and verdict.reward < 1.0
