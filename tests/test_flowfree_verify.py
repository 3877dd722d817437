"""FlowFree verification: oracle videos pass under artifacts; every kind of failure fails for its reason;
the dense reward cannot be gamed by breaking a rule."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from video_artifacts import add_noise

from videorlvr.envs.evaluate import cell_prf
from videorlvr.envs.flowfree import (
    EMPTY,
    generate,
    judge,
    judge_moves,
    oracle_states,
    perceive,
    render_solution,
    render_states,
    verify,
)
from videorlvr.envs.flowfree.constants import WEIGHTS
from videorlvr.envs.flowfree.rules import growth_limit
from videorlvr.envs.video import h264_round_trip

H, W = 240, 416




def _hold(states, upto, frames):
    """The first ``upto`` states, then the last of them held until ``frames`` states in all."""
    return np.concatenate([states[:upto], np.repeat(states[upto - 1 : upto], frames - upto, axis=0)])


# --- the oracle succeeds --------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    request=st.sampled_from([("easy", {}), ("medium", {}), ("hard", {}), ("hard", {"size": 10}), ("easy", {"size": 4})]),
    height=st.integers(120, 180).map(lambda h: 2 * h),
    width=st.integers(208, 300).map(lambda w: 2 * w),
    frames=st.integers(17, 40),
)
def test_oracle_video_succeeds(seed, request, height, width, frames):
    puzzle = generate(seed, request[0], **request[1])
    verdict = verify(puzzle, render_solution(puzzle, height, width, frames))
    assert verdict.success, verdict.reason
    assert verdict.reward == 1.0 and all(value == 1.0 for value in verdict.components.values())
    assert verdict.predicted_cells == verdict.oracle_cells
    assert len(verdict.oracle_cells) == puzzle.fill_cells


@pytest.mark.parametrize("frames", [2, 3, 5, 9])
def test_oracle_succeeds_with_few_frames(frames):
    puzzle = generate(3, "hard")
    verdict = verify(puzzle, render_solution(puzzle, H, W, frames))
    assert verdict.success, verdict.reason


@pytest.mark.parametrize("difficulty, frames, size", [("easy", 33, (240, 416)), ("hard", 17, (240, 416)),
                                                      ("medium", 21, (480, 832))])
def test_oracle_video_survives_h264(difficulty, frames, size):
    puzzle = generate(8, difficulty)
    verdict = verify(puzzle, h264_round_trip(render_solution(puzzle, *size, frames)))
    assert verdict.success, verdict.reason




def test_h264_after_noise_succeeds():
    puzzle = generate(12, "hard")
    verdict = verify(puzzle, h264_round_trip(add_noise(render_solution(puzzle, H, W, 25))))
    assert verdict.success, verdict.reason


def test_resting_then_fast_then_resting_succeeds():
    puzzle = generate(5, "medium")
    fast = render_solution(puzzle, H, W, 17)  # the whole solve in 15 transitions
    video = np.concatenate([np.repeat(fast[:1], 24, axis=0), fast, np.repeat(fast[-1:], 24, axis=0)])
    verdict = verify(puzzle, video)  # 65 frames: the solve takes less than a quarter of them
    assert verdict.success, verdict.reason


def test_perception_reads_every_oracle_state():
    puzzle = generate(6, "hard")
    reading = perceive(puzzle, render_solution(puzzle, H, W, 21))
    assert reading.readable.all() and (reading.confidence > 0.5).all()
    assert np.array_equal(reading.states, oracle_states(puzzle, 21))


# --- failures fail for the right reason -------------------------------------------------------------------


@pytest.fixture(scope="module")
def medium():
    puzzle = generate(21, "medium")
    return puzzle, render_solution(puzzle, H, W, 33), oracle_states(puzzle, 33)


def test_swapped_colours_in_the_final_board_fail(medium):
    puzzle, _, states = medium
    swapped = states.copy()
    free = ~puzzle.endpoint_mask
    final = swapped[-1].copy()
    final[(states[-1] == 0) & free], final[(states[-1] == 1) & free] = 1, 0
    swapped[-4:] = final
    verdict = verify(puzzle, render_states(puzzle, swapped, H, W))
    assert not verdict.success
    assert verdict.components["no_crossing"] == 0.0 and verdict.components["process_valid"] == 0.0
    assert "turned" in verdict.reason


def test_a_few_swapped_cells_drawn_from_the_start_fail(medium):
    puzzle, _, states = medium
    solution, free = puzzle.solution_grid, ~puzzle.endpoint_mask
    cell_a = tuple(np.argwhere((solution == 0) & free)[0])
    cell_b = tuple(np.argwhere((solution == 1) & free)[0])
    swapped = states.copy()
    swapped[:, cell_a[0], cell_a[1]] = np.where(states[:, cell_a[0], cell_a[1]] == EMPTY, EMPTY, 1)
    swapped[:, cell_b[0], cell_b[1]] = np.where(states[:, cell_b[0], cell_b[1]] == EMPTY, EMPTY, 0)
    verdict = verify(puzzle, render_states(puzzle, swapped, H, W))
    assert not verdict.success and verdict.components["process_valid"] == 0.0
    assert verdict.components["connectivity"] < 1.0
    assert "without joining" in verdict.reason or "branches" in verdict.reason


def test_half_filled_final_board_fails(medium):
    puzzle, _, states = medium
    verdict = verify(puzzle, render_states(puzzle, _hold(states, 16, 33), H, W))
    assert not verdict.success and "not full" in verdict.reason
    assert verdict.components["process_valid"] == 1.0
    assert 0.2 < verdict.components["fill_rate"] < 0.8
    precision, recall, _ = cell_prf(verdict.predicted_cells, verdict.oracle_cells)
    assert precision == 1.0 and 0.2 < recall < 0.8


def test_frozen_first_frame_fails(medium):
    puzzle, video, _ = medium
    verdict = verify(puzzle, np.repeat(video[:1], 33, axis=0))
    assert not verdict.success and "not full" in verdict.reason
    assert verdict.components["fill_rate"] == 0.0 and verdict.components["cell_f1"] == 0.0
    assert verdict.reward == pytest.approx((WEIGHTS["endpoints_preserved"] + WEIGHTS["no_crossing"]
                                            + WEIGHTS["process_valid"]) / sum(WEIGHTS.values()))


def test_reversed_video_fails(medium):
    puzzle, video, _ = medium
    verdict = verify(puzzle, video[::-1])
    assert not verdict.success and "does not show the puzzle" in verdict.reason
    assert verdict.components["process_valid"] == 0.0 and verdict.components["fill_rate"] == 0.0


def test_pure_noise_fails(medium):
    puzzle, video, _ = medium
    noise = np.random.default_rng(0).integers(0, 256, video.shape, dtype=np.uint8)
    verdict = verify(puzzle, noise)
    assert not verdict.success and verdict.reward < 0.1
    assert "readable" in verdict.reason


def test_jump_cut_fails(medium):
    puzzle, video, _ = medium
    verdict = verify(puzzle, np.concatenate([video[:6], video[20:]]))  # 14 frames of growth cut out
    assert not verdict.success and "a jump" in verdict.reason
    assert verdict.components["process_valid"] == 0.0 and verdict.components["fill_rate"] < 0.3
    verdict = verify(puzzle, np.concatenate([video[:3], np.repeat(video[-1:], 30, axis=0)]))
    assert not verdict.success and "a jump" in verdict.reason


def test_moved_endpoint_fails(medium):
    puzzle, _, states = medium
    moved = states.copy()
    (a, _), colour = puzzle.endpoints[2], 2
    moved[10:, a[0], a[1]] = (colour + 1) % puzzle.num_colors
    verdict = verify(puzzle, render_states(puzzle, moved, H, W))
    assert not verdict.success and "endpoint" in verdict.reason
    assert verdict.components["endpoints_preserved"] < 1.0


def test_flood_fill_with_one_colour_is_illegal(medium):
    puzzle, _, states = medium
    flood = states[:1].repeat(3, axis=0)
    flood[1:][:, ~puzzle.endpoint_mask] = 0
    verdict = judge(puzzle, flood, num_frames=3)
    assert not verdict.success and "branches" in verdict.reason


def test_final_frames_unreadable_fail(medium):
    puzzle, video, _ = medium
    video = video.copy()
    video[-6:] = np.random.default_rng(1).integers(0, 256, video[-6:].shape, dtype=np.uint8)
    verdict = verify(puzzle, video)
    assert not verdict.success and "final frames" in verdict.reason


# --- the dense reward cannot be gamed ------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), share=st.floats(0.05, 0.9), frames=st.integers(17, 81))
def test_breaking_a_rule_never_beats_stopping_honestly(seed, share, frames):
    puzzle = generate(seed, "medium")
    states = oracle_states(puzzle, frames)
    upto = max(2, int(share * (frames - 2)))
    honest = judge(puzzle, _hold(states, upto, frames))
    cheats = {
        "jump_to_solution": np.concatenate([states[:upto], np.repeat(states[-1:], frames - upto, axis=0)]),
        "flood_the_rest": np.concatenate([states[:upto], np.repeat(
            np.where(puzzle.endpoint_mask | (states[upto - 1] != EMPTY), states[upto - 1], 0)[None], frames - upto, 0)]),
        "recolour_then_solve": np.concatenate([states[:upto], np.repeat(
            np.where(states[upto - 1] != EMPTY, states[upto - 1], puzzle.solution_grid)[None], frames - upto, 0)]),
    }
    cheats["recolour_then_solve"][upto:, ~puzzle.endpoint_mask & (states[upto - 1] != EMPTY)] = (
        states[upto - 1][~puzzle.endpoint_mask & (states[upto - 1] != EMPTY)] + 1) % puzzle.num_colors
    remaining = int((states[upto - 1] == EMPTY).sum())
    if remaining <= growth_limit(puzzle.fill_cells, frames):
        del cheats["jump_to_solution"]  # the rest fits in one legal transition: a fast solve, not a jump
    nothing = judge(puzzle, _hold(states, 1, frames))
    assert honest.reward > nothing.reward
    for name, cheat in cheats.items():
        verdict = judge(puzzle, cheat)
        assert not verdict.success, name
        assert verdict.reward < honest.reward, (name, verdict.reason)


def test_reward_grows_with_honest_progress():
    puzzle = generate(2, "hard")
    states = oracle_states(puzzle, 41)
    rewards = [judge(puzzle, _hold(states, upto, 41)).reward for upto in (1, 10, 20, 30, 34, 41)]
    assert rewards == sorted(rewards) and rewards[-1] == 1.0 and rewards[-2] < 1.0


def test_growth_limit_allows_small_videos_but_not_jumps():
    assert growth_limit(37, 81) == 2 and growth_limit(37, 2) == 148
    assert growth_limit(65, 17) < 65 // 2


def test_rules_reject_malformed_states():
    puzzle = generate(0, "easy")
    with pytest.raises(ValueError, match="states"):
        judge(puzzle, np.zeros((3, 4, 4), dtype=int))
    with pytest.raises(ValueError, match="values"):
        judge(puzzle, np.full((3, 5, 5), 7))
    with pytest.raises(ValueError, match="increasing"):
        judge(puzzle, oracle_states(puzzle, 3), frames=[0, 0, 1])
    with pytest.raises(TypeError, match="FlowFreePuzzle"):
        verify(puzzle.to_dict(), render_solution(puzzle, H, W, 3))


# --- the same rules judge pipes written as moves ----------------------------------------------------------

STEP = {(-1, 0): "u", (1, 0): "d", (0, -1): "l", (0, 1): "r"}


def _moves(path):
    return "".join(STEP[(b[0] - a[0], b[1] - a[1])] for a, b in itertools.pairwise(path))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), difficulty=st.sampled_from(["easy", "medium", "hard"]))
def test_oracle_moves_succeed_and_broken_moves_fail(seed, difficulty):
    puzzle = generate(seed, difficulty)
    moves = [_moves(path) for path in puzzle.paths]
    assert judge_moves(puzzle, ",".join(moves)).success
    assert "not full" in judge_moves(puzzle, moves[:-1]).reason
    # The first pipe reaches its endpoint, then runs on into another neighbour of it: a branch, a
    # crossing or a trampled endpoint, whatever lies there.
    last, before = puzzle.paths[0][-1], puzzle.paths[0][-2]
    beyond = next((last[0] + dr, last[1] + dc) for dr, dc in STEP
                  if (last[0] + dr, last[1] + dc) != before and 0 <= last[0] + dr < puzzle.size
                  and 0 <= last[1] + dc < puzzle.size)
    overrun = [moves[0] + _moves([last, beyond]), *moves[1:]]
    verdict = judge_moves(puzzle, overrun)
    assert not verdict.success and verdict.components["process_valid"] == 0.0


def test_moves_off_the_board_fail_with_their_reason():
    puzzle = generate(4, "easy")
    verdict = judge_moves(puzzle, "u" * 6)
    assert not verdict.success and "leaves the board" in verdict.reason
    assert verdict.components["process_valid"] == 0.0
    with pytest.raises(ValueError, match="udlr|'u'"):
        judge_moves(puzzle, "uxd")
    with pytest.raises(ValueError, match="colours"):
        judge_moves(puzzle, ["u"] * 9)
