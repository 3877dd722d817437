"""The Sokoban verifier: oracle videos pass, every kind of cheat fails for its own reason, and the dense
reward credits only the legal prefix, rising along the oracle."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.sokoban import (
    TASK,
    Puzzle,
    generate,
    judge,
    judge_moves,
    min_frames,
    read_moves,
    render_solution,
    render_states,
    verify,
)
from videorlvr.envs.sokoban.constants import FLOOR_RGB, WEIGHTS
from videorlvr.envs.sokoban.puzzle import step
from videorlvr.envs.sokoban.rules import credit, end_frames
from videorlvr.envs.video import h264_round_trip, write_video

H, W = 240, 416
RESOLUTIONS = [(240, 416), (256, 448), (120, 208), (288, 288)]
CROWDED = [  # boxes and player cover most of the plain floor (a false fail of the old colour calibration)
    Puzzle(0, "peer", ("#######", "#@$ .##", "#$$.###", "# $####", "#..*###", "#######", "#######"), "RRllDRDulD"),
    Puzzle(0, "easy", ("#####", "#@$.#", "#####"), "R"),
]


def _paint(video, puzzle, cell, rgb, frames=slice(None), height=H, width=W):
    """Paint a whole cell in ``frames`` of ``video`` (in place)."""
    y0, x0, y1, x1 = BoardGeometry(puzzle.rows, puzzle.cols, height, width).cell_box(*puzzle.cell(cell))
    video[frames, y0:y1, x0:x1] = rgb


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 2),
    difficulty=st.sampled_from(["easy", "medium", "hard"]),
    resolution=st.sampled_from(RESOLUTIONS),
    extra=st.integers(0, 30),
    artifact=st.sampled_from(["none", "noise", "blur"]),
)
def test_oracle_video_succeeds_at_every_frame_count_from_the_minimum(seed, difficulty, resolution, extra, artifact):
    puzzle = generate(seed, difficulty)
    frames = TASK.min_frames(puzzle) + extra
    video = render_solution(puzzle, *resolution, frames)
    if artifact == "noise":  # sigma 8 grey levels
        noise = np.random.default_rng(seed).normal(0.0, 8.0, video.shape)
        video = np.clip(video + noise, 0, 255).astype(np.uint8)
    elif artifact == "blur":
        video = np.stack([cv2.GaussianBlur(frame, (5, 5), 1.0) for frame in video])
    verdict = verify(puzzle, video)
    assert verdict.success, verdict.reason
    assert verdict.reward == 1.0 and all(value == 1.0 for value in verdict.components.values())
    assert verdict.broken_frame is None and len(verdict.trace) == frames
    assert verdict.trace[0] == (puzzle.cell(puzzle.start[0]),)
    assert verdict.predicted_cells == verdict.oracle_cells


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_oracle_video_survives_h264_and_heavy_noise(difficulty):
    puzzle = generate(11, difficulty)
    video = render_solution(puzzle, H, W, TASK.min_frames(puzzle))
    noisy = np.clip(video + np.random.default_rng(0).normal(0.0, 16.0, video.shape), 0, 255).astype(np.uint8)
    for name, variant in {"h264": h264_round_trip(video), "noise_16": noisy}.items():
        verdict = verify(puzzle, variant)
        assert verdict.success, (name, verdict.reason)


@pytest.mark.parametrize("puzzle", CROWDED, ids=["peer", "corridor"])
def test_crowded_levels_pass_their_own_oracle(puzzle):
    assert judge_moves(puzzle, puzzle.solution).success
    published = verify(puzzle, render_solution(puzzle, 480, 832, 81))
    assert published.success, published.reason
    video = render_solution(puzzle, H, W, TASK.min_frames(puzzle))
    noisy = np.clip(video + np.random.default_rng(1).normal(0.0, 8.0, video.shape), 0, 255).astype(np.uint8)
    verdict = verify(puzzle, noisy)
    assert verdict.success, verdict.reason


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_oracle_passes_at_the_smallest_frames_the_env_accepts(difficulty):
    puzzle = generate(3, difficulty)
    height = next(h for h in range(16, 200) if _fits(puzzle, h, int(h * 1.7)))
    verdict = verify(puzzle, render_solution(puzzle, height, int(height * 1.7), TASK.min_frames(puzzle)))
    assert verdict.success, (height, verdict.reason)


def _fits(puzzle, height, width):
    try:
        TASK.validate(puzzle.difficulty, height, width, 81)
    except ValueError:
        return False
    return True


def test_min_frames_is_one_move_per_frame_plus_the_end_window():
    assert [min_frames(n) for n in (0, 1, 18, 19, 72, 73)] == [2, 3, 20, 22, 80, 82]
    for moves in range(120):
        frames = min_frames(moves)
        assert frames - end_frames(frames) >= moves and frames - 1 - end_frames(frames - 1) < moves
    for difficulty in ("easy", "medium", "hard"):
        TASK.validate(difficulty, 480, 832, 81)  # the published setting stays valid for every preset


def test_a_video_shorter_than_the_minimum_fails_cleanly():
    puzzle = generate(4, "medium")
    states = puzzle.oracle_states
    short = render_states(puzzle, states + [states[-1]], H, W)  # one move per frame, one solved frame
    assert len(short) < TASK.min_frames(puzzle)
    verdict = verify(puzzle, short)
    assert not verdict.success and "needs at least" in verdict.reason and verdict.broken_frame is None
    assert verdict.reward < 1.0
    with pytest.raises(ValueError, match="at least"):
        render_solution(puzzle, H, W, TASK.min_frames(puzzle) - 1)


def test_speed_of_motion_does_not_matter():
    puzzle = generate(2, "medium")
    states = puzzle.oracle_states
    frames = TASK.min_frames(puzzle) + 20
    sequence = [states[0]] * 12 + states  # hold the start, then one move per frame, then hold the end
    sequence += [states[-1]] * (frames - len(sequence))
    verdict = verify(puzzle, render_states(puzzle, sequence, H, W))
    assert verdict.success, verdict.reason


def test_jump_cut_fails_at_the_cut():
    puzzle = generate(4, "medium")
    video = render_solution(puzzle, H, W, 60)
    cut = np.concatenate([video[:8], video[30:], video[-1:].repeat(22, axis=0)])
    verdict = verify(puzzle, cut)
    assert not verdict.success and verdict.broken_frame == 8
    assert "illegal frame 8" in verdict.reason
    assert verdict.reward == verify(puzzle, np.concatenate([video[:8], video[7:8].repeat(52, axis=0)])).reward


def test_frozen_first_frame_scores_zero():
    puzzle = generate(4, "medium")
    video = np.repeat(render_solution(puzzle, H, W, 40)[:1], 40, axis=0)
    verdict = verify(puzzle, video)
    assert not verdict.success and verdict.reward == 0.0
    assert "off target" in verdict.reason and verdict.broken_frame is None


def test_reversed_video_fails_on_its_start():
    puzzle = generate(6, "easy")
    verdict = verify(puzzle, render_solution(puzzle, H, W, 45)[::-1])
    assert not verdict.success and verdict.broken_frame == 0 and verdict.reward == 0.0
    assert "not the puzzle's start state" in verdict.reason


def test_box_sliding_without_a_push_fails():
    puzzle = generate(0, "medium")
    player, boxes = puzzle.start
    slid = next(
        (player, tuple(sorted(box + o if b == box else b for b in boxes)))
        for box in boxes
        for o in puzzle.offsets.values()
        if box + o not in puzzle.wall_set and box + o not in boxes and box + o != player and box - o != player
    )
    verdict = verify(puzzle, render_states(puzzle, [puzzle.start] * 20 + [slid] * 20, H, W))
    assert not verdict.success and verdict.broken_frame == 20
    assert "box moved without a one-cell push" in verdict.reason and verdict.reward == 0.0


def test_player_walking_into_a_wall_fails():
    puzzle = next(
        p for p in map(generate, range(50)) if any(p.start[0] + o in p.wall_set for o in p.offsets.values())
    )
    player, boxes = puzzle.start
    wall = next(player + o for o in puzzle.offsets.values() if player + o in puzzle.wall_set)
    verdict = verify(puzzle, render_states(puzzle, [puzzle.start] * 10 + [(wall, boxes)] * 10, H, W))
    assert not verdict.success and verdict.broken_frame == 10
    assert "the player is inside a wall" in verdict.reason


def test_pure_noise_fails_with_an_unreadable_first_frame():
    puzzle = generate(1, "hard")
    noise = np.random.default_rng(1).integers(0, 256, (20, H, W, 3), dtype=np.uint8)
    verdict = verify(puzzle, noise)
    assert not verdict.success and verdict.reward == 0.0 and verdict.broken_frame == 0
    assert "frame 0 is unreadable" in verdict.reason and verdict.trace == (None,) * 20


def test_erasing_a_wall_in_one_frame_ends_the_legal_prefix_there():
    puzzle = generate(9, "medium")
    video = render_solution(puzzle, H, W, 60).copy()
    interior = next(c for c in sorted(puzzle.wall_set) if 0 < c // puzzle.cols < puzzle.rows - 1 and c % puzzle.cols)
    _paint(video, puzzle, interior, FLOOR_RGB, frames=slice(30, 31))
    verdict = verify(puzzle, video)
    assert not verdict.success and verdict.broken_frame == 30
    assert "frame 30 is unreadable" in verdict.reason and "(wall)" in verdict.reason
    assert verdict.trace[30] is None


def test_a_box_vanishing_at_the_end_fails():
    puzzle = generate(9, "medium")
    video = render_solution(puzzle, H, W, 60).copy()
    _paint(video, puzzle, puzzle.oracle_states[-1][1][0], FLOOR_RGB, frames=slice(-3, None))
    verdict = verify(puzzle, video)
    assert not verdict.success and verdict.broken_frame == 57
    assert "unreadable" in verdict.reason


def test_verify_accepts_float_video_and_a_video_file(tmp_path):
    puzzle = generate(12, "easy")
    video = render_solution(puzzle, 256, 448, TASK.min_frames(puzzle) + 4)
    assert verify(puzzle, video.astype(np.float32) / 255.0).success
    assert verify(puzzle, write_video(tmp_path / "answer.mp4", video)).success


def test_read_moves_recovers_the_oracle_solution():
    puzzle = generate(13, "medium")
    assert read_moves(puzzle, render_solution(puzzle, H, W, TASK.min_frames(puzzle) + 9)) == puzzle.solution


# --- the rules alone (no pixels) -------------------------------------------------------------------


def test_judge_moves_names_the_broken_rule():
    puzzle = next(
        p for p in map(generate, range(50)) if any(p.start[0] + o in p.wall_set for o in p.offsets.values())
    )
    assert judge_moves(puzzle, puzzle.solution).success
    assert judge_moves(puzzle, puzzle.solution.upper()).success  # push marks are derived, not trusted
    player, _ = puzzle.start
    into_wall = next(letter for letter, o in puzzle.offsets.items() if player + o in puzzle.wall_set)
    verdict = judge_moves(puzzle, into_wall)
    assert not verdict.success and "illegal move 1: the player is inside a wall" in verdict.reason
    with pytest.raises(ValueError):
        judge_moves(puzzle, "up")
    with pytest.raises(TypeError):
        judge_moves(puzzle, 3)


def test_wall_pushes_merges_pulls_and_diagonals_are_illegal():
    corridor = Puzzle(0, "easy", ("#######", "#@ $ .#", "#######"), "rRR")
    assert judge_moves(corridor, "rRR").success
    verdict = judge_moves(corridor, "rRRR")
    assert not verdict.success and "move 4: a box is inside a wall" in verdict.reason
    pull = judge(corridor, [(8, (10,)), (9, (10,)), (8, (9,))])
    assert not pull.success and "move 2: a box moved" in pull.reason
    room = Puzzle(0, "easy", ("######", "#@   #", "#  $.#", "######"), "drR")
    diagonal = judge(room, [room.start, (room.start[0] + room.cols + 1, room.start[1])])
    assert not diagonal.success and "diagonally" in diagonal.reason
    puzzle = generate(3, "medium")
    first_push = next(i for i, letter in enumerate(puzzle.solution) if letter.isupper())
    shove = puzzle.solution[:first_push] + puzzle.solution[first_push].lower() * (puzzle.rows + puzzle.cols)
    verdict = judge_moves(puzzle, shove)  # keeps pushing until the box meets a wall or another box
    assert not verdict.success and ("inside a wall" in verdict.reason or "merged" in verdict.reason)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), difficulty=st.sampled_from(["easy", "medium", "hard"]))
def test_dense_reward_rises_along_the_oracle_and_is_full_only_at_success(seed, difficulty):
    puzzle = generate(seed, difficulty)
    states = puzzle.oracle_states
    rewards = [judge(puzzle, states[: k + 1] + [states[k]]).reward for k in range(len(states))]
    assert rewards[0] == 0.0 and rewards[-1] == 1.0
    assert all(a <= b for a, b in itertools.pairwise(rewards))
    assert max(rewards[:-1]) < 1.0
    one_move = judge(puzzle, states[:2]).components
    assert all(value < 1.0 for value in one_move.values())  # no term is earned by a single move


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), difficulty=st.sampled_from(["easy", "medium", "hard"]))
def test_one_step_then_standing_still_never_reaches_the_honest_half(seed, difficulty):
    puzzle = generate(seed, difficulty)
    states = puzzle.oracle_states
    half = judge(puzzle, states[: len(states) // 2 + 1]).reward
    for offset in puzzle.offsets.values():
        moved = step(puzzle.wall_set, puzzle.start, offset)
        if moved is not None:
            assert judge(puzzle, [puzzle.start, moved[0], moved[0]]).reward < half


def test_boxes_starting_on_a_target_earn_nothing():
    puzzle = Puzzle(0, "easy", ("#######", "#@ $ .#", "#  *  #", "#######"), "rRR")
    assert credit(puzzle, puzzle.start) == dict.fromkeys(WEIGHTS, 0.0)
    assert judge(puzzle, [puzzle.start] * 5).reward == 0.0
    assert "one more box already sits" in TASK.prompt(puzzle) and "the amber box" in TASK.prompt(puzzle)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), difficulty=st.sampled_from(["easy", "medium", "hard"]), share=st.floats(0, 1))
def test_breaking_a_rule_scores_exactly_its_legal_prefix(seed, difficulty, share):
    puzzle = generate(seed, difficulty)
    states = puzzle.oracle_states
    k = int(share * (len(states) - 3))  # at least two moves short of solved: a jump is a jump
    honest = states[: k + 1]
    player, boxes = states[k]
    wall = next((player + o for o in puzzle.offsets.values() if player + o in puzzle.wall_set), None)
    cheats = {
        "jump to solved": honest + [states[-1]] * 3,
        "teleport boxes": honest + [(player, tuple(sorted(puzzle.target_set)))] * 3,
        "skip a move": honest + states[k + 2 :] + [states[-1]] * 3,
        "unreadable, then on": honest + [None] + states[k + 1 :] + [states[-1]] * 3,
    }
    if wall is not None:
        cheats["into a wall, then on"] = honest + [(wall, boxes)] + states[k + 1 :]
    held = judge(puzzle, honest + [states[k]] * 3).reward
    for name, cheat in cheats.items():
        verdict = judge(puzzle, cheat, window=2)
        assert not verdict.success, name
        assert verdict.reward == held, name
    assert judge(puzzle, states + [states[-1]], window=2).success
