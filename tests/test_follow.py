"""The action-conditioned judge on state sequences: exact following succeeds at any pace; skipped,
extra, ignored-blocked and unreadable moves fail where they happen; diverging later scores higher."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from videorlvr.envs.follow import END_FRAMES, judge_follow, merge_repeats

EXPECTED = [0, 1, 1, 2, 3, 3, 3, 4, 5]  # repeats: blocked moves, which show nothing


def _paced(states: list[int], repeats: list[int]) -> list[int]:
    return [state for state, count in zip(states, repeats) for _ in range(count)]


@given(st.lists(st.integers(1, 4), min_size=len(EXPECTED), max_size=len(EXPECTED)), st.integers(0, 3))
def test_following_at_any_pace_succeeds(repeats: list[int], hold: int) -> None:
    video = _paced(EXPECTED, repeats) + [EXPECTED[-1]] * (hold + END_FRAMES - 1)
    verdict = judge_follow(EXPECTED, video)
    assert verdict.success and verdict.reward == 1.0


def test_a_skipped_move_fails_at_that_frame() -> None:
    video = [0, 1, 3, 4, 5, 5, 5, 5]  # state 2 is skipped: two moves in one frame
    verdict = judge_follow(EXPECTED, video)
    assert not verdict.success and verdict.broken_frame == 2
    assert "frame 2 diverges from the moves after move 1" in verdict.reason


def test_ignoring_a_blocked_move_fails() -> None:
    expected = [0, 1, 1, 2]  # the second move bumps a wall
    ignored = [0, 1, 9, 10, 10]  # the video walks through it instead
    verdict = judge_follow(expected, ignored)
    assert not verdict.success and verdict.broken_frame == 2


def test_an_unreadable_frame_ends_the_credit() -> None:
    video = [0, 1, None, 2, 3, 4, 5, 5]
    verdict = judge_follow(EXPECTED, video)
    assert not verdict.success and "frame 2 is unreadable" in verdict.reason


def test_too_few_frames_fail_cleanly() -> None:
    verdict = judge_follow(EXPECTED, [0, 5])
    assert not verdict.success and "cannot show" in verdict.reason


def test_reward_rises_with_the_index_of_the_first_divergence() -> None:
    target = merge_repeats(EXPECTED)
    rewards = []
    for j in range(1, len(target)):
        diverging = target[:j] + [99] * (len(target) - j + END_FRAMES)
        rewards.append(judge_follow(EXPECTED, diverging).reward)
    assert rewards == sorted(rewards) and len(set(rewards)) == len(rewards)
    stopping = target[:3] + [target[2]] * (len(target) + END_FRAMES)
    diverging = target[:3] + [99] * (len(target) + END_FRAMES)
    assert judge_follow(EXPECTED, stopping).reward > judge_follow(EXPECTED, diverging).reward


def test_end_state_must_be_held() -> None:
    target = merge_repeats(EXPECTED)
    verdict = judge_follow(EXPECTED, [*target, target[-1], 4])
    assert not verdict.success


def test_expected_needs_a_start_state() -> None:
    with pytest.raises(ValueError, match="start state"):
        judge_follow([], [0, 0])
