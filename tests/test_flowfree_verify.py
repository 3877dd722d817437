"""FlowFree verification: oracle videos pass under artifacts; every kind of failure fails for its reason;
the dense reward cannot be gamed by breaking a rule."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from video_artifacts import ARTIFACTS, add_noise, blur

from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.evaluate import cell_prf
from videorlvr.envs.flowfree import (
    EMPTY,
    end_window,
    frames_needed,
    generate,
    judge,
    judge_moves,
    min_frames,
    oracle_states,
    perceive,
    render_solution,
    render_states,
    verify,
)
from videorlvr.envs.flowfree.constants import WEIGHTS
from videorlvr.envs.video import h264_round_trip

H, W = 240, 416


def _hold(states, upto, frames):
    """The first ``upto`` states, then the last of them held until ``frames`` states in all."""
    return np.concatenate([states[:upto], np.repeat(states[upto - 1 : upto], frames - upto, axis=0)])


# --- the oracle succeeds --------------------------------------------------------------------------------


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    request=st.sampled_from([("easy", {}), ("medium", {}), ("hard", {}), ("hard", {"size": 10}), ("easy", {"size": 4})]),
    height=st.integers(120, 180).map(lambda h: 2 * h),
    width=st.integers(208, 300).map(lambda w: 2 * w),
    extra=st.integers(0, 12),
)
def test_oracle_video_succeeds(seed, request, height, width, extra):
    puzzle = generate(seed, request[0], **request[1])
    verdict = verify(puzzle, render_solution(puzzle, height, width, min_frames(puzzle) + extra))
    assert verdict.success, verdict.reason
    assert verdict.reward == 1.0 and all(value == 1.0 for value in verdict.components.values())
    assert verdict.predicted_cells == verdict.oracle_cells and verdict.broken_frame is None
    assert len(verdict.oracle_cells) == puzzle.fill_cells
    assert all(cells is not None for cells in verdict.trace) and len(verdict.trace[-1]) == puzzle.fill_cells


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_oracle_fills_one_cell_per_frame_and_needs_min_frames(difficulty):
    puzzle = generate(3, difficulty)
    needed = min_frames(puzzle)
    states = oracle_states(puzzle, needed)
    grown = ((states[1:] != states[:-1]).sum(axis=(1, 2)))
    assert grown.max() == 1 and grown.sum() == puzzle.fill_cells
    window = end_window(needed)
    assert (states[-window - 1] != puzzle.solution_grid).any() and (states[-window:] == puzzle.solution_grid).all()
    assert verify(puzzle, render_solution(puzzle, H, W, needed)).success
    short = verify(puzzle, render_solution(puzzle, H, W, needed - 1))
    assert not short.success and f"needs at least {needed}" in short.reason


def test_min_frames_formula():
    assert [frames_needed(cells) for cells in (1, 17, 37, 65, 72, 73)] == [3, 19, 42, 73, 80, 82]
    for cells in range(1, 130):
        frames = frames_needed(cells)
        assert frames - end_window(frames) >= cells > frames - 1 - end_window(frames - 1)


@pytest.mark.parametrize("difficulty, size", [("easy", (240, 416)), ("hard", (240, 416)), ("medium", (480, 832))])
def test_oracle_video_survives_h264(difficulty, size):
    puzzle = generate(8, difficulty)
    verdict = verify(puzzle, h264_round_trip(render_solution(puzzle, *size, min_frames(puzzle))))
    assert verdict.success, verdict.reason


@pytest.mark.parametrize("artifact", sorted(ARTIFACTS))
@pytest.mark.parametrize("difficulty", ["medium", "hard"])
def test_oracle_at_min_frames_survives_artifacts(artifact, difficulty):
    puzzle = generate(11, difficulty)
    verdict = verify(puzzle, ARTIFACTS[artifact](render_solution(puzzle, H, W, min_frames(puzzle))))
    assert verdict.success, verdict.reason


@pytest.mark.parametrize("sigma", [2.0, 3.0])
def test_blurred_small_cells_are_still_explained(sigma):
    puzzle = generate(1, "hard", size=10)  # 18-px cells at 240x416: a 3-px blur spreads over a sixth of a cell
    verdict = verify(puzzle, blur(render_solution(puzzle, H, W, min_frames(puzzle)), 0, sigma))
    assert verdict.success, verdict.reason


def test_h264_after_noise_succeeds():
    puzzle = generate(12, "hard")
    verdict = verify(puzzle, h264_round_trip(add_noise(render_solution(puzzle, H, W, min_frames(puzzle)), 16.0)))
    assert verdict.success, verdict.reason


def test_resting_then_fast_then_resting_succeeds():
    puzzle = generate(5, "medium")
    fast = render_solution(puzzle, H, W, min_frames(puzzle))  # one cell per frame, no pause
    video = np.concatenate([np.repeat(fast[:1], 24, axis=0), fast, np.repeat(fast[-1:], 24, axis=0)])
    verdict = verify(puzzle, video)
    assert verdict.success, verdict.reason


def test_perception_reads_and_explains_every_oracle_state():
    puzzle = generate(6, "hard")
    reading = perceive(puzzle, render_solution(puzzle, H, W, 81))
    assert reading.readable.all() and (reading.confidence > 0.5).all() and reading.residual.max() < 0.1
    assert np.array_equal(reading.states, oracle_states(puzzle, 81))


# --- failures fail for the right reason -------------------------------------------------------------------


MEDIUM_T = 50


@pytest.fixture(scope="module")
def medium():
    puzzle = generate(21, "medium")
    return puzzle, render_solution(puzzle, H, W, MEDIUM_T), oracle_states(puzzle, MEDIUM_T)


def test_swapped_colours_in_the_final_board_fail(medium):
    puzzle, _, states = medium
    swapped = states.copy()
    free = ~puzzle.endpoint_mask
    final = swapped[-1].copy()
    final[(states[-1] == 0) & free], final[(states[-1] == 1) & free] = 1, 0
    swapped[-4:] = final
    verdict = verify(puzzle, render_states(puzzle, swapped, H, W))
    assert not verdict.success and "turned" in verdict.reason and verdict.broken_frame == MEDIUM_T - 4
    assert verdict.components["no_crossing"] == 0.0
    assert verdict.components["process_valid"] == pytest.approx(verdict.components["fill_rate"] * (MEDIUM_T - 4) / MEDIUM_T)


def test_a_few_swapped_cells_drawn_from_the_start_fail(medium):
    puzzle, _, states = medium
    solution, free = puzzle.solution_grid, ~puzzle.endpoint_mask
    cell_a = tuple(np.argwhere((solution == 0) & free)[0])
    cell_b = tuple(np.argwhere((solution == 1) & free)[0])
    swapped = states.copy()
    swapped[:, cell_a[0], cell_a[1]] = np.where(states[:, cell_a[0], cell_a[1]] == EMPTY, EMPTY, 1)
    swapped[:, cell_b[0], cell_b[1]] = np.where(states[:, cell_b[0], cell_b[1]] == EMPTY, EMPTY, 0)
    verdict = verify(puzzle, render_states(puzzle, swapped, H, W))
    assert not verdict.success and verdict.broken_frame is not None
    assert verdict.components["connectivity"] < 1.0 and verdict.components["process_valid"] < 1.0
    assert "without joining" in verdict.reason or "branches" in verdict.reason


def test_half_filled_final_board_fails(medium):
    puzzle, _, states = medium
    verdict = verify(puzzle, render_states(puzzle, _hold(states, 22, MEDIUM_T), H, W))
    assert not verdict.success and "not full" in verdict.reason and verdict.broken_frame is None
    assert 0.2 < verdict.components["fill_rate"] < 0.8
    for term in ("process_valid", "no_crossing", "endpoints_preserved"):
        assert verdict.components[term] == verdict.components["fill_rate"]
    precision, recall, _ = cell_prf(verdict.predicted_cells, verdict.oracle_cells)
    assert precision == 1.0 and 0.2 < recall < 0.8


def test_frozen_first_frame_fails_and_earns_nothing(medium):
    puzzle, video, _ = medium
    verdict = verify(puzzle, np.repeat(video[:1], MEDIUM_T, axis=0))
    assert not verdict.success and "not full" in verdict.reason
    assert verdict.reward == 0.0 and all(value == 0.0 for value in verdict.components.values())


def test_reversed_video_fails(medium):
    puzzle, video, _ = medium
    verdict = verify(puzzle, video[::-1])
    assert not verdict.success and "frame 0 does not show the puzzle" in verdict.reason
    assert verdict.broken_frame == 0 and verdict.reward == 0.0


def test_pure_noise_fails(medium):
    puzzle, video, _ = medium
    noise = np.random.default_rng(0).integers(0, 256, video.shape, dtype=np.uint8)
    verdict = verify(puzzle, noise)
    assert not verdict.success and verdict.reward == 0.0
    assert "frame 0 is unreadable" in verdict.reason and verdict.broken_frame == 0
    assert verdict.trace[0] is None


def test_jump_cut_fails(medium):
    puzzle, video, _ = medium
    verdict = verify(puzzle, np.concatenate([video[:6], video[20:]]))  # 14 frames of growth cut out
    assert not verdict.success and "a jump" in verdict.reason and verdict.broken_frame == 6
    assert verdict.components["fill_rate"] < 0.3
    verdict = verify(puzzle, np.concatenate([video[:3], np.repeat(video[-1:], MEDIUM_T - 3, axis=0)]))
    assert not verdict.success and "a jump" in verdict.reason and verdict.broken_frame == 3


def test_moved_endpoint_fails(medium):
    puzzle, _, states = medium
    moved = states.copy()
    (a, _), colour = puzzle.endpoints[2], 2
    moved[10:, a[0], a[1]] = (colour + 1) % puzzle.num_colors
    verdict = verify(puzzle, render_states(puzzle, moved, H, W))
    assert not verdict.success and "endpoint" in verdict.reason and verdict.broken_frame == 10
    assert verdict.components["endpoints_preserved"] < verdict.components["fill_rate"]


def test_flood_fill_with_one_colour_is_illegal(medium):
    puzzle, _, states = medium
    flood = states[:1].repeat(3, axis=0)
    flood[1:][:, ~puzzle.endpoint_mask] = 0
    verdict = judge(puzzle, flood, num_frames=3)
    assert not verdict.success and verdict.broken_frame == 1


def test_final_frames_unreadable_fail(medium):
    puzzle, video, _ = medium
    video = video.copy()
    video[-6:] = np.random.default_rng(1).integers(0, 256, video[-6:].shape, dtype=np.uint8)
    verdict = verify(puzzle, video)
    assert not verdict.success and f"frame {MEDIUM_T - 6} is unreadable" in verdict.reason
    assert verdict.broken_frame == MEDIUM_T - 6 and verdict.trace[-1] is None


def test_a_frame_the_state_does_not_explain_is_unreadable(medium):
    puzzle, video, _ = medium
    video = video.copy()
    top, left, _, _ = BoardGeometry(7, 7, H, W).cell_box(3, 3)
    side = BoardGeometry(7, 7, H, W).cell // 4
    video[30, top : top + side, left : left + side] = 255  # a white smudge in a corner of one cell, 1/16 of it
    verdict = verify(puzzle, video)
    assert not verdict.success and verdict.broken_frame == 30
    assert "frame 30 is unreadable" in verdict.reason and "does not look like" in verdict.reason


# --- the dense reward cannot be gamed ------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), share=st.floats(0.05, 0.95), extra=st.integers(0, 40))
def test_breaking_a_rule_never_beats_stopping_honestly(seed, share, extra):
    puzzle = generate(seed, "medium")
    frames = min_frames(puzzle) + extra
    states = oracle_states(puzzle, frames)
    upto = max(2, int(share * (frames - 2)))
    honest = judge(puzzle, _hold(states, upto, frames))
    cheats = {
        "jump_to_solution": np.concatenate([states[:upto], np.repeat(states[-1:], frames - upto, axis=0)]),
        "flood_the_rest": np.concatenate([states[:upto], np.repeat(
            np.where(puzzle.endpoint_mask | (states[upto - 1] != EMPTY), states[upto - 1], 0)[None], frames - upto, 0)]),
        "recolour_then_solve": np.concatenate([states[:upto], np.repeat(
            np.where(states[upto - 1] != EMPTY, states[upto - 1], puzzle.solution_grid)[None], frames - upto, 0)]),
        "undo_at_the_end": np.concatenate([states[:upto], np.repeat(states[:1], frames - upto, axis=0)]),
    }
    cheats["recolour_then_solve"][upto:, ~puzzle.endpoint_mask & (states[upto - 1] != EMPTY)] = (
        states[upto - 1][~puzzle.endpoint_mask & (states[upto - 1] != EMPTY)] + 1) % puzzle.num_colors
    if (states[upto - 1] == EMPTY).sum() <= 1:
        del cheats["jump_to_solution"]  # one cell left: filling it is the honest last move, not a jump
    nothing = judge(puzzle, _hold(states, 1, frames))
    assert nothing.reward == 0.0 and honest.reward > nothing.reward
    for name, cheat in cheats.items():
        if np.array_equal(cheat, _hold(states, upto, frames)):
            continue  # the cheat happens to change nothing
        verdict = judge(puzzle, cheat)
        assert not verdict.success, name
        assert verdict.broken_frame is not None and verdict.broken_frame >= upto - 1, name
        assert verdict.reward <= honest.reward, (name, verdict.reason)
    # Unreadable frames after the honest part never add anything either.
    unread = judge(puzzle, states[:upto], frames=np.arange(upto), num_frames=frames)
    assert unread.reward <= honest.reward and unread.broken_frame == upto


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), difficulty=st.sampled_from(["easy", "medium", "hard"]), extra=st.integers(0, 9))
def test_reward_grows_with_every_honest_cell(seed, difficulty, extra):
    puzzle = generate(seed, difficulty)
    frames = min_frames(puzzle) + extra
    states = oracle_states(puzzle, frames)
    changes = np.flatnonzero((states[1:] != states[:-1]).any(axis=(1, 2))) + 2  # frames up to each new cell
    verdicts = [judge(puzzle, _hold(states, upto, frames)) for upto in [1, *changes.tolist()]]
    rewards = [verdict.reward for verdict in verdicts]
    assert rewards[0] == 0.0 and rewards[-1] == 1.0 and all(r < 1.0 for r in rewards[:-1])
    assert all(later > earlier for earlier, later in itertools.pairwise(rewards))
    for name in WEIGHTS:  # every term: nothing at the start, never down, not full after one cell
        values = [verdict.components[name] for verdict in verdicts]
        assert values[0] == 0.0 and values[1] < 1.0 and values == sorted(values), name


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


def test_frames_too_small_to_read_fail_cleanly():
    puzzle = generate(0, "hard")
    verdict = verify(puzzle, render_solution(puzzle, 100, 176, 81))  # 8-px cells: too small to read
    assert not verdict.success and "frame 0 is unreadable" in verdict.reason and "px" in verdict.reason


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
    assert not verdict.success and verdict.broken_frame is not None
    assert verdict.components["process_valid"] < verdict.components["fill_rate"]


def test_moves_off_the_board_fail_with_their_reason():
    puzzle = generate(4, "easy")
    verdict = judge_moves(puzzle, "u" * 6)
    assert not verdict.success and "leaves the board" in verdict.reason
    assert verdict.components["process_valid"] == 0.0
    with pytest.raises(ValueError, match="udlr|'u'"):
        judge_moves(puzzle, "uxd")
    with pytest.raises(ValueError, match="colours"):
        judge_moves(puzzle, ["u"] * 9)
