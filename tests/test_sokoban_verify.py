"""The Sokoban verifier: oracle videos pass, every kind of cheat fails for its own reason, and the dense
reward never pays more for breaking a rule than for stopping honestly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videorlvr.envs.sokoban import (
    Puzzle,
    generate,
    judge,
    judge_moves,
    read_moves,
    render_solution,
    render_states,
    speed_limit,
    verify,
)
from videorlvr.envs.sokoban.constants import FLOOR_RGB, WEIGHTS
from videorlvr.envs.sokoban.puzzle import replay
from videorlvr.envs.sokoban.rules import explain
from videorlvr.envs.video import h264_round_trip, write_video

H, W = 240, 416
RESOLUTIONS = [(240, 416), (256, 448), (320, 576), (288, 288)]


def _hold(puzzle, states, frames_each):
    """A video showing each state for ``frames_each`` frames (no animation)."""
    return np.repeat(render_states(puzzle, states, H, W), frames_each, axis=0)


def _cell_box(puzzle, cell, height=H, width=W):
    from videorlvr.envs.board import BoardGeometry

    return BoardGeometry(puzzle.rows, puzzle.cols, height, width).cell_box(*puzzle.cell(cell))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 2),
    difficulty=st.sampled_from(["easy", "medium", "hard"]),
    resolution=st.sampled_from(RESOLUTIONS),
    frames=st.integers(17, 48),
    artifact=st.sampled_from(["none", "noise", "blur"]),
)
def test_oracle_video_succeeds(seed, difficulty, resolution, frames, artifact):
    puzzle = generate(seed, difficulty)
    video = render_solution(puzzle, *resolution, frames)
    if artifact == "noise":  # sigma 8 grey levels
        video = np.clip(video + np.random.default_rng(seed).normal(0.0, 8.0, video.shape), 0, 255).astype(
            np.uint8
        )
    elif artifact == "blur":
        video = np.stack([cv2.GaussianBlur(frame, (5, 5), 1.0) for frame in video])
    verdict = verify(puzzle, video)
    assert verdict.success, verdict.reason
    assert verdict.reward == 1.0 and all(value == 1.0 for value in verdict.components.values())
    ends = {puzzle.cell(puzzle.start[0]), puzzle.cell(puzzle.oracle_states[-1][0])}
    assert ends <= verdict.predicted_cells and ends <= verdict.oracle_cells


@pytest.mark.parametrize("difficulty,frames", [("easy", 17), ("medium", 25), ("hard", 33)])
def test_oracle_video_survives_h264_noise_and_blur(difficulty, frames):
    puzzle = generate(11, difficulty)
    video = render_solution(puzzle, H, W, frames)
    noise = np.random.default_rng(0).normal(0.0, 8.0, video.shape)
    variants = {
        "h264": h264_round_trip(video),
        "noise": np.clip(video + noise, 0, 255).astype(np.uint8),
        "blur": np.stack([cv2.GaussianBlur(frame, (5, 5), 1.0) for frame in video]),
    }
    for name, variant in variants.items():
        verdict = verify(puzzle, variant)
        assert verdict.success, (name, verdict.reason)


def test_oracle_video_survives_camera_drift_casts_and_flicker():
    puzzle = generate(12, "hard")
    video = render_solution(puzzle, H, W, 33)
    drift = np.float32([[1.03, 0, -0.02 * W], [0, 1.03, 0.01 * H]])  # 3% zoom, 2% shift
    gains = np.random.default_rng(1).uniform(0.8, 1.15, (len(video), 1, 1, 1))
    variants = {
        "drift": np.stack([cv2.warpAffine(frame, drift, (W, H)) for frame in video]),
        "cast": np.clip(video * np.array([0.8, 1.0, 1.1]) + 10, 0, 255).astype(np.uint8),
        "flicker": np.clip(video * gains, 0, 255).astype(np.uint8),
    }
    for name, variant in variants.items():
        verdict = verify(puzzle, variant)
        assert verdict.success, (name, verdict.reason)


def test_artifacts_never_rescue_a_jump_cut():
    puzzle = generate(14, "medium")
    video = render_solution(puzzle, H, W, 33)
    cut = np.concatenate([video[:10], video[-10:]])
    noisy = np.clip(cut + np.random.default_rng(2).normal(0.0, 8.0, cut.shape), 0, 255).astype(np.uint8)
    for variant in (cut, h264_round_trip(cut), noisy):
        assert not verify(puzzle, variant).success


def test_an_unreadable_first_frame_counts_as_the_start():
    puzzle = generate(15, "medium")
    video = render_solution(puzzle, H, W, 33)
    garbage = np.random.default_rng(3).integers(0, 256, video[:1].shape, dtype=np.uint8)
    verdict = verify(puzzle, np.concatenate([garbage, video[1:]]))
    assert verdict.success, verdict.reason
    reversed_video = video[::-1].copy()
    reversed_video[0] = garbage[0]  # ... but then a solved board at frame 1 is a jump, not a start
    verdict = verify(puzzle, reversed_video)
    assert not verdict.success and "illegal move at frame 1" in verdict.reason


def test_long_solutions_fit_17_frames():
    puzzle = generate(5, "hard", min_moves=60, max_moves=120, max_attempts=400)
    limit = speed_limit(len(puzzle.solution), 17)
    assert limit < len(puzzle.solution) // 2 + 1
    assert verify(puzzle, render_solution(puzzle, H, W, 17)).success


def test_speed_of_motion_does_not_matter():
    puzzle = generate(2, "medium")
    states, frames = puzzle.oracle_states, 40
    limit = speed_limit(len(puzzle.solution), frames)
    # hold the start, solve at the speed limit (every transition packs `limit` moves), hold the end
    sequence = [states[0]] * 12 + states[limit::limit]
    sequence += [states[-1]] * (frames - len(sequence))
    assert limit >= 2 and len(sequence) == frames
    verdict = verify(puzzle, render_states(puzzle, sequence, H, W))
    assert verdict.success, verdict.reason


def test_jump_cut_fails_at_the_cut():
    puzzle = generate(4, "medium")
    video = render_solution(puzzle, H, W, 33)
    cut = np.concatenate([video[:8], video[-9:]])
    verdict = verify(puzzle, cut)
    assert not verdict.success
    assert "illegal move at frame 8" in verdict.reason
    assert verdict.components["moves_valid"] < 1.0


def test_frozen_first_frame_fails():
    puzzle = generate(4, "medium")
    video = np.repeat(render_solution(puzzle, H, W, 2)[:1], 24, axis=0)
    verdict = verify(puzzle, video)
    assert not verdict.success
    assert verdict.components["moves_valid"] == 0.0 and verdict.components["progress"] == 0.0
    assert "not on a target" in verdict.reason


def test_reversed_video_fails_on_its_start():
    puzzle = generate(6, "easy")
    verdict = verify(puzzle, render_solution(puzzle, H, W, 25)[::-1])
    assert not verdict.success
    assert verdict.components["start_correct"] == 0.0
    assert "start state" in verdict.reason


def _box_slide(puzzle, limit):
    """A state where one box moved one cell to a free floor cell with the player standing still, such
    that no ``limit`` legal moves explain it (a box sliding on its own)."""
    player, boxes = puzzle.start
    for box in boxes:
        for offset in puzzle.offsets.values():
            moved = box + offset
            if moved in puzzle.wall_set or moved in boxes or moved == player:
                continue
            after = (player, tuple(sorted(moved if b == box else b for b in boxes)))
            if explain(puzzle, puzzle.start, after, limit) is None:
                return after
    return None


def test_box_sliding_without_a_push_fails():
    for seed in range(20):
        puzzle = generate(seed, "medium")
        frames = 40
        slid = _box_slide(puzzle, speed_limit(len(puzzle.solution), frames))
        if slid is not None:
            break
    video = _hold(puzzle, [puzzle.start, slid], frames // 2)
    verdict = verify(puzzle, video)
    assert not verdict.success
    assert "boxes moved" in verdict.reason and "frame 20" in verdict.reason
    assert verdict.components["moves_valid"] == 0.0


def test_player_walking_through_a_wall_fails():
    puzzle = next(
        p for p in map(generate, range(50)) if any(p.start[0] + o in p.wall_set for o in p.offsets.values())
    )
    player, boxes = puzzle.start
    wall = next(player + o for o in puzzle.offsets.values() if player + o in puzzle.wall_set)
    video = _hold(puzzle, [puzzle.start, (wall, boxes), puzzle.start], 8)
    verdict = verify(puzzle, video)
    assert not verdict.success
    assert "inside a wall" in verdict.reason
    assert verdict.components["moves_valid"] == 0.0


def test_pure_noise_fails_with_no_readable_board():
    puzzle = generate(1, "hard")
    noise = np.random.default_rng(1).integers(0, 256, (20, H, W, 3), dtype=np.uint8)
    verdict = verify(puzzle, noise)
    assert not verdict.success and verdict.reward == 0.0
    assert "no readable board" in verdict.reason


def test_erasing_a_wall_fails_on_layout():
    puzzle = generate(9, "medium")
    video = render_solution(puzzle, H, W, 25).copy()
    wall = next(iter(sorted(puzzle.wall_set)))
    y0, x0, y1, x1 = _cell_box(puzzle, wall)
    video[:, y0:y1, x0:x1] = FLOOR_RGB
    verdict = verify(puzzle, video)
    assert not verdict.success
    assert verdict.components["layout_preserved"] == 0.0 and "walls or targets" in verdict.reason


def test_a_box_vanishing_at_the_end_fails():
    puzzle = generate(9, "medium")
    video = render_solution(puzzle, H, W, 25).copy()
    box = puzzle.oracle_states[-1][1][0]
    y0, x0, y1, x1 = _cell_box(puzzle, box)
    video[-6:, y0:y1, x0:x1] = FLOOR_RGB
    verdict = verify(puzzle, video)
    assert not verdict.success
    assert "vanished" in verdict.reason


def test_verify_accepts_float_video_and_a_video_file(tmp_path):
    puzzle = generate(12, "easy")
    video = render_solution(puzzle, 256, 448, 21)
    assert verify(puzzle, video.astype(np.float32) / 255.0).success
    assert verify(puzzle, write_video(tmp_path / "answer.mp4", video)).success


def test_read_moves_recovers_the_oracle_solution():
    puzzle = generate(13, "medium")
    slow = render_solution(puzzle, H, W, 2 * len(puzzle.solution) + 8)  # every state on screen
    assert read_moves(puzzle, slow) == puzzle.solution
    verdict = verify(puzzle, slow)
    assert verdict.predicted_cells == verdict.oracle_cells
    fast = read_moves(puzzle, render_solution(puzzle, H, W, 17))  # several moves per frame
    states = replay(puzzle, fast)
    assert states is not None and puzzle.is_solved(states[-1])


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
    assert not verdict.success and "move 1: the player is inside a wall" in verdict.reason
    with pytest.raises(ValueError):
        judge_moves(puzzle, "up")
    with pytest.raises(TypeError):
        judge_moves(puzzle, 3)


def test_wall_pushes_merges_and_pulls_are_illegal():
    corridor = Puzzle(0, "easy", ("#######", "#@ $ .#", "#######"), "rRR")
    assert judge_moves(corridor, "rRR").success
    verdict = judge_moves(corridor, "rRRR")
    assert not verdict.success and "move 4: a box is inside a wall" in verdict.reason
    pull = judge(corridor, [(8, (10,)), (9, (10,)), (8, (9,))])
    assert not pull.success and "move 2: boxes moved" in pull.reason
    puzzle = generate(3, "medium")
    first_push = next(i for i, letter in enumerate(puzzle.solution) if letter.isupper())
    shove = puzzle.solution[:first_push] + puzzle.solution[first_push].lower() * (puzzle.rows + puzzle.cols)
    verdict = judge_moves(puzzle, shove)  # keeps pushing until the box meets a wall or another box
    assert not verdict.success and ("inside a wall" in verdict.reason or "merged" in verdict.reason)


def _reward(puzzle, states, limit=1):
    return judge(puzzle, states, limit=limit).reward


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000), difficulty=st.sampled_from(["easy", "medium", "hard"]), share=st.floats(0, 1)
)
def test_breaking_a_rule_never_beats_stopping_honestly(seed, difficulty, share):
    puzzle = generate(seed, difficulty)
    states = puzzle.oracle_states
    k = int(share * (len(states) - 3))  # at least two moves short of solved: a jump is a jump
    honest = states[: k + 1]
    player, boxes = states[k]
    wall = (
        next(player + o for o in puzzle.offsets.values() if player + o in puzzle.wall_set)
        if any(player + o in puzzle.wall_set for o in puzzle.offsets.values())
        else next(iter(puzzle.wall_set))
    )
    cheats = {
        "jump to solved": honest + [states[-1]],
        "through a wall": honest + [(wall, boxes), states[-1]],
        "teleport boxes": honest + [(player, tuple(sorted(puzzle.target_set)))],
        "jump, then legal": honest + states[k + 3 :] if k + 3 < len(states) else honest + [states[-1]],
    }
    honest_reward = _reward(puzzle, honest)
    frozen_reward = _reward(puzzle, states[:1])
    for name, cheat in cheats.items():
        verdict = judge(puzzle, cheat, limit=1)
        assert not verdict.success, name
        assert verdict.reward < honest_reward or (k == 0 and verdict.reward <= honest_reward), name
    if k >= 1:
        assert honest_reward > frozen_reward


def test_rule_breaking_video_scores_below_the_honest_partial_video():
    puzzle = generate(7, "hard")
    states = puzzle.oracle_states
    k = len(states) // 2
    honest = _hold(puzzle, states[: k + 1] + [states[k]] * 4, 2)
    cheat = _hold(puzzle, states[: k + 1] + [states[-1]] * 4, 2)
    frozen = _hold(puzzle, [states[0]] * (k + 5), 2)
    honest_verdict, cheat_verdict, frozen_verdict = (verify(puzzle, v) for v in (honest, cheat, frozen))
    assert not cheat_verdict.success and not honest_verdict.success
    assert cheat_verdict.reward < honest_verdict.reward
    assert frozen_verdict.reward < honest_verdict.reward
    assert set(honest_verdict.components) == set(WEIGHTS)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_path_cells_count_only_along_the_legal_prefix_from_the_start(seed):
    from videorlvr.envs.sokoban.rules import judge

    puzzle = generate(seed, "easy")
    oracle = judge(puzzle, puzzle.oracle_states)
    assert oracle.predicted_cells == oracle.oracle_cells
    assert judge(puzzle, puzzle.oracle_states[::-1]).predicted_cells == frozenset()
