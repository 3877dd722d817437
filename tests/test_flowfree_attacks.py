"""Adversarial FlowFree videos: each attack fails, for its own reason, and never out-scores the honest
video it imitates (the oracle cut where the attack departs from it, last frame held)."""

import itertools

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.flowfree import (
    EMPTY,
    end_window,
    generate,
    min_frames,
    oracle_states,
    render_solution,
    render_states,
    verify,
)
from videorlvr.envs.flowfree.constants import FLOOR_RGB
from videorlvr.envs.video import h264_round_trip

H, W = 240, 416


def _hold(video: np.ndarray, upto: int) -> np.ndarray:
    """The first ``upto`` frames, the last of them held to the video's length."""
    return np.concatenate([video[:upto], np.repeat(video[upto - 1 : upto], len(video) - upto, axis=0)])


@pytest.fixture(scope="module")
def medium():
    puzzle = generate(4, "medium")
    frames = min_frames(puzzle) + 8
    return puzzle, render_solution(puzzle, H, W, frames), oracle_states(puzzle, frames)


def _read_point_mask(puzzle, radius: int) -> np.ndarray:
    """bool (H, W): squares of side 2*radius+1 around every cell centre and the white-frame and letterbox
    reference points, plus the two 9-px bands through the board's middle that locate it."""
    geometry = BoardGeometry(puzzle.size, puzzle.size, H, W)
    mask = np.zeros((H, W), dtype=bool)
    centres = np.arange(puzzle.size) + 0.5
    points = [(r, c) for r in centres for c in centres]
    half, gap = 0.175, (geometry.margin / 2 + geometry.border) / geometry.cell
    middle = puzzle.size / 2
    points += [(-half, middle), (puzzle.size + half, middle), (middle, -half), (middle, puzzle.size + half),
               (-gap, middle), (puzzle.size + gap, middle), (middle, -gap), (middle, puzzle.size + gap)]
    for gy, gx in points:
        y, x = (int(v) for v in geometry.to_pixels(gy, gx))
        mask[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1] = True
    left, right, top, bottom = (int(v) for v in geometry.outer)
    mid_y, mid_x = (top + bottom) // 2, (left + right) // 2
    mask[mid_y - 4 : mid_y + 5, :] = True
    mask[:, mid_x - 4 : mid_x + 5] = True
    return mask


# --- sparse reading: the oracle's pixels copied only where a sparse reader looks ----------------------


@settings(max_examples=12, deadline=None)
@given(
    base=st.sampled_from(["do_nothing", "noise", "jump_cut"]),
    density=st.floats(0.0, 0.25),
    radius=st.integers(0, 3),
    seed=st.integers(0, 2**16),
)
def test_transplanted_oracle_pixels_never_pass(medium, base, density, radius, seed):
    puzzle, oracle, _ = medium
    rng = np.random.default_rng(seed)
    frames = len(oracle)
    videos = {
        "do_nothing": np.repeat(oracle[:1], frames, axis=0),
        "noise": rng.integers(0, 256, oracle.shape, dtype=np.uint8),
        "jump_cut": np.concatenate([oracle[:3], np.repeat(oracle[-1:], frames - 3, axis=0)]),
    }
    video = videos[base].copy()
    mask = _read_point_mask(puzzle, radius) | (rng.random((H, W)) < density)
    video[:, mask] = oracle[:, mask]
    verdict = verify(puzzle, video)
    assert not verdict.success
    # A copied locator band can read as a stray stroke: then the rules, not perception, stop it.
    strays = ("without joining", "branches", "a jump")
    reasons = {"do_nothing": ("not full", "unreadable", *strays), "noise": ("frame 0 is unreadable",),
               "jump_cut": ("unreadable", *strays)}[base]
    assert any(reason in verdict.reason for reason in reasons), verdict.reason
    honest_half = verify(puzzle, _hold(oracle, frames // 2))
    assert verdict.reward < honest_half.reward


def test_transplanted_blocks_survive_no_h264(medium):
    puzzle, oracle, _ = medium
    video = np.repeat(oracle[:1], len(oracle), axis=0)
    mask = _read_point_mask(puzzle, 2)
    video[:, mask] = oracle[:, mask]
    verdict = verify(puzzle, h264_round_trip(video))
    assert not verdict.success and verdict.reward == 0.0


# --- too few frames ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("frames", [2, 5, 9])
def test_empty_then_solved_at_few_frames_fails(medium, frames):
    puzzle, oracle, _ = medium
    video = np.concatenate([oracle[:1], np.repeat(oracle[-1:], frames - 1, axis=0)])
    verdict = verify(puzzle, video)
    assert not verdict.success and f"needs at least {min_frames(puzzle)}" in verdict.reason
    assert verdict.broken_frame == 1 and verdict.reward == 0.0


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 200), difficulty=st.sampled_from(["easy", "medium"]), cut=st.floats(0.0, 1.0))
def test_short_oracles_never_succeed(seed, difficulty, cut):
    puzzle = generate(seed, difficulty)
    frames = 2 + int(cut * (min_frames(puzzle) - 3))  # 2 .. min_frames - 1
    verdict = verify(puzzle, render_solution(puzzle, H, W, frames))
    assert not verdict.success and f"needs at least {min_frames(puzzle)}" in verdict.reason


# --- hide and reappear; undo at the end ------------------------------------------------------------------


@settings(max_examples=8, deadline=None)
@given(where=st.floats(0.1, 0.95), fade=st.sampled_from([0.0, 0.5]), seed=st.integers(0, 2**16))
def test_a_cell_hidden_in_one_frame_ends_the_legal_prefix_there(medium, where, fade, seed):
    puzzle, oracle, states = medium
    changes = np.flatnonzero((states[1:] != states[:-1]).any(axis=(1, 2))) + 1
    frame = int(changes[int(where * (len(changes) - 1))])
    filled = np.argwhere((states[frame - 1] != EMPTY) & ~puzzle.endpoint_mask)  # hiding a new cell is mere delay
    cell = tuple(filled[np.random.default_rng(seed).integers(len(filled))])
    hidden_state = states[frame].copy()
    hidden_state[cell] = EMPTY
    hidden = render_states(puzzle, hidden_state[None], H, W)[0]
    video = oracle.copy()
    video[frame] = (fade * oracle[frame] + (1 - fade) * hidden).astype(np.uint8)
    verdict = verify(puzzle, video)
    assert not verdict.success and verdict.broken_frame == frame
    assert "emptied" in verdict.reason or "unreadable" in verdict.reason
    assert verdict.reward <= verify(puzzle, _hold(oracle, frame)).reward


@pytest.mark.parametrize("undo", ["empty_board", "empty_board_one_ambiguous_cell", "fade_out"])
def test_undoing_at_the_end_fails(medium, undo):
    puzzle, oracle, _ = medium
    frames = len(oracle)
    start = frames - end_window(frames)
    video = oracle.copy()
    if undo == "fade_out":
        video[start:] = (0.5 * oracle[start:] + 0.5 * oracle[:1]).astype(np.uint8)
    else:
        video[start:] = oracle[0]
    if undo == "empty_board_one_ambiguous_cell":
        top, left, bottom, right = BoardGeometry(puzzle.size, puzzle.size, H, W).cell_box(3, 3)
        video[start:, top:bottom, left:right] = (0.5 * oracle[-1, top:bottom, left:right]
                                                 + 0.5 * oracle[0, top:bottom, left:right]).astype(np.uint8)
    verdict = verify(puzzle, video)
    assert not verdict.success and verdict.broken_frame == start
    assert "emptied" in verdict.reason or "unreadable" in verdict.reason
    assert verdict.components["process_valid"] < verdict.components["fill_rate"]


# --- board integrity: endpoints erased or moved in single frames; another board drawn ---------------------


@settings(max_examples=8, deadline=None)
@given(where=st.floats(0.0, 1.0), colour=st.integers(0, 5), second=st.booleans())
def test_an_endpoint_erased_in_one_frame_ends_the_legal_prefix_there(medium, where, colour, second):
    puzzle, oracle, _ = medium
    frame = 1 + int(where * (len(oracle) - 2))
    geometry = BoardGeometry(puzzle.size, puzzle.size, H, W)
    row, col = puzzle.endpoints[colour][int(second)]
    y, x = (int(v) for v in geometry.to_pixels(row + 0.5, col + 0.5))
    video = oracle.copy()
    video[frame] = cv2.circle(video[frame].copy(), (x, y), round(0.42 * geometry.cell), FLOOR_RGB, -1)  # dot painted over
    verdict = verify(puzzle, video)
    assert not verdict.success and verdict.broken_frame == frame
    assert "endpoint" in verdict.reason or "unreadable" in verdict.reason
    assert verdict.reward <= verify(puzzle, _hold(oracle, frame)).reward


def test_a_diagonal_step_fails(medium):
    puzzle, oracle, states = medium
    frame = int(np.flatnonzero((states[1:] != states[:-1]).any(axis=(1, 2)))[5]) + 1
    head = tuple(np.argwhere(states[frame] != states[frame - 1])[0])
    state = states[frame].copy()
    diagonal = next((head[0] + dr, head[1] + dc) for dr in (-1, 1) for dc in (-1, 1)
                    if 0 <= head[0] + dr < puzzle.size and 0 <= head[1] + dc < puzzle.size
                    and state[head[0] + dr, head[1] + dc] == EMPTY
                    and all(state[head[0] + dr + a, head[1] + dc + b] != state[head]
                            for a, b in ((0, 1), (1, 0), (0, -1), (-1, 0))
                            if 0 <= head[0] + dr + a < puzzle.size and 0 <= head[1] + dc + b < puzzle.size))
    state[diagonal] = state[head]
    video = _hold(oracle, frame + 1)
    video[frame + 1 :] = render_states(puzzle, state[None], H, W)[0]
    verdict = verify(puzzle, video)
    assert not verdict.success and verdict.broken_frame == frame + 1 and "without joining" in verdict.reason
    assert verdict.reward <= verify(puzzle, _hold(oracle, frame + 1)).reward


def test_another_board_drawn_midway_fails(medium):
    puzzle, oracle, _ = medium
    other = generate(5, "medium")
    video = oracle.copy()
    video[20:] = render_solution(other, H, W, len(oracle))[20:]
    verdict = verify(puzzle, video)
    assert not verdict.success and verdict.broken_frame == 20
    assert verdict.reward <= verify(puzzle, _hold(oracle, 20)).reward


# --- dense order: honest partial work beats every shortcut from it ------------------------------------------


def test_jump_to_a_solved_board_with_one_ambiguous_cell_scores_below_the_honest_half(medium):
    puzzle, oracle, _ = medium
    half = len(oracle) // 2
    honest = verify(puzzle, _hold(oracle, half))
    cheat = _hold(oracle, half)
    cheat[half:] = oracle[-1]
    top, left, bottom, right = BoardGeometry(puzzle.size, puzzle.size, H, W).cell_box(2, 2)
    cheat[half:, top:bottom, left:right] = 128
    verdict = verify(puzzle, cheat)
    assert not verdict.success and verdict.broken_frame == half
    assert verdict.reward < honest.reward
    assert verdict.components["fill_rate"] == honest.components["fill_rate"]


def test_reward_grows_with_honest_progress_on_video(medium):
    puzzle, oracle, states = medium
    cuts = np.flatnonzero((states[1:] != states[:-1]).any(axis=(1, 2)))[::6] + 2
    rewards = [verify(puzzle, _hold(oracle, int(cut))).reward for cut in [1, *cuts]]
    assert rewards[0] == 0.0 and all(later > earlier for earlier, later in itertools.pairwise(rewards))
