"""VideoMaze verification: oracle videos pass under artifacts; every kind of cheat fails for its reason."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from video_artifacts import add_noise, blur

from videorlvr.envs.maze import generate, judge, judge_moves, min_frames, perceive, render_solution, verify
from videorlvr.envs.maze.render import (
    _draw_agent,
    agent_schedule,
    geometry_for,
    render_agent_path,
    render_board,
)
from videorlvr.envs.maze.rules import end_window, frames_for_moves
from videorlvr.envs.video import h264_round_trip

H, W = 240, 416
MOVE_NAMES = {(-1, 0): "u", (1, 0): "d", (0, -1): "l", (0, 1): "r"}


def _centres(cells):
    """Grid centres (T, 2) of a per-frame cell list (None = agent hidden)."""
    return np.array([(np.nan, np.nan) if c is None else (c[0] + 0.5, c[1] + 0.5) for c in cells])


def _video(puzzle, cells, hold_start=1, hold_end=4, height=H, width=W):
    """The agent on ``cells`` one per frame, the first held ``hold_start`` frames and the last ``hold_end``."""
    cells = [cells[0]] * (hold_start - 1) + list(cells) + [cells[-1]] * hold_end
    return render_agent_path(puzzle, height, width, _centres(cells))


def _walled_neighbour(puzzle, cell):
    for dy, dx in MOVE_NAMES:
        other = (cell[0] + dy, cell[1] + dx)
        if puzzle.in_grid(other) and not puzzle.is_open(cell, other):
            return other
    return None


def _assert_fails(verdict, *, because, broken=None):
    assert not verdict.success
    assert verdict.reward < 1.0
    assert because in verdict.reason, verdict.reason
    assert verdict.components["goal_reached"] == 0.0
    if broken is not None:
        assert verdict.broken_frame == broken, (verdict.broken_frame, verdict.reason)


# --- the oracle succeeds --------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    difficulty=st.sampled_from(["easy", "medium", "hard"]),
    algorithm=st.sampled_from(["dfs", "kruskal"]),
    height=st.integers(120, 200).map(lambda h: 2 * h),
    width=st.integers(208, 330).map(lambda w: 2 * w),
    extra_frames=st.integers(0, 30),
)
def test_oracle_video_succeeds_at_every_frame_count_from_the_minimum(
    seed, difficulty, algorithm, height, width, extra_frames
):
    puzzle = generate(seed, difficulty, algorithm=algorithm)
    frames = min_frames(puzzle) + extra_frames
    verdict = verify(puzzle, render_solution(puzzle, height, width, frames))
    assert verdict.success, verdict.reason
    assert verdict.reward == 1.0
    assert all(value == 1.0 for value in verdict.components.values())
    assert verdict.predicted_cells == verdict.oracle_cells == frozenset(puzzle.solution)
    assert verdict.broken_frame is None and len(verdict.trace) == frames
    assert [cells[0] for cells in verdict.trace] == [
        puzzle.solution[k] for k in agent_schedule(puzzle.path_length, frames)
    ]


@pytest.mark.parametrize("difficulty, frames", [("easy", 10), ("medium", 20), ("hard", 36), ("hard", 81)])
def test_oracle_video_survives_h264(difficulty, frames):
    puzzle = generate(3, difficulty)
    verdict = verify(puzzle, h264_round_trip(render_solution(puzzle, H, W, frames)))
    assert verdict.success, verdict.reason


@settings(max_examples=4, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    difficulty=st.sampled_from(["easy", "medium", "hard"]),
    size=st.sampled_from([(240, 416), (272, 480), (480, 832)]),
    extra_frames=st.integers(0, 6),
)
def test_oracle_video_survives_h264_at_any_size(seed, difficulty, size, extra_frames):
    puzzle = generate(seed, difficulty)
    video = render_solution(puzzle, *size, min_frames(puzzle) + extra_frames)
    verdict = verify(puzzle, h264_round_trip(video))
    assert verdict.success, verdict.reason


@pytest.mark.parametrize("sigma", [8.0, 16.0])
def test_oracle_video_survives_noise_and_heavy_blur(sigma):
    puzzle = generate(8, "hard")
    video = render_solution(puzzle, H, W, min_frames(puzzle) + 3)
    assert verify(puzzle, add_noise(video, sigma)).success
    assert verify(puzzle, blur(video, 0, 3.0)).success


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    side=st.integers(3, 5),
    height=st.integers(32, 96),
    width=st.integers(32, 96),
    extra_frames=st.integers(0, 8),
)
def test_oracle_video_succeeds_at_tiny_frame_sizes(seed, side, height, width, extra_frames):
    """Cells of 4-20 px: blocks of 2-5 px still explain every cell."""
    puzzle = generate(seed, size=(side, side))
    try:
        geometry_for(puzzle, height, width)
    except ValueError:
        return  # cells under 4 px: BoardGeometry rejects the frame
    verdict = verify(puzzle, render_solution(puzzle, height, width, min_frames(puzzle) + extra_frames))
    assert verdict.success, verdict.reason


def test_min_frames_is_the_path_plus_the_end_window():
    for moves in range(80):
        frames = frames_for_moves(moves)
        assert frames - end_window(frames) >= moves
        assert frames == 2 or (frames - 1) - end_window(frames - 1) < moves
    assert [frames_for_moves(m) for m in (8, 18, 32, 72)] == [10, 20, 36, 80]  # easy, medium, hard, 81 frames


def test_oracle_moves_at_most_one_cell_per_frame_and_holds_the_end_window():
    for moves in range(40):
        for frames in range(frames_for_moves(moves), frames_for_moves(moves) + 45, 7):
            schedule = agent_schedule(moves, frames)
            assert schedule[0] == 0 and (schedule[-end_window(frames) :] == moves).all()
            assert set(np.diff(schedule).tolist()) <= {0, 1}


def test_render_solution_refuses_too_few_frames():
    puzzle = generate(4, "hard")
    with pytest.raises(ValueError, match=f"at least {min_frames(puzzle)} frames"):
        render_solution(puzzle, H, W, min_frames(puzzle) - 1)


def test_resting_then_fast_then_resting_succeeds():
    puzzle = generate(5, "medium")
    video = _video(puzzle, list(puzzle.solution), hold_start=20, hold_end=20)
    assert verify(puzzle, video).success


def test_frames_with_the_agent_between_cells_are_unreadable():
    puzzle = generate(2, "easy")
    a, b = puzzle.solution[:2]
    halfway = np.array([[(a[0] + b[0]) / 2 + 0.5, (a[1] + b[1]) / 2 + 0.5]] * 2)
    reading = perceive(puzzle, render_agent_path(puzzle, H, W, halfway))
    assert reading.cells == [None, None]
    assert (reading.residual > 0.2).all() and "differs from the board drawn" in reading.notes[0]


# --- cheats fail, and the verdict says why ---------------------------------------------------------------


@pytest.fixture(scope="module")
def puzzle():
    return generate(21, "medium")


@pytest.fixture(scope="module")
def oracle(puzzle):
    return render_solution(puzzle, H, W, 33)


def test_jump_cut_fails(puzzle, oracle):
    video = np.concatenate([oracle[:1].repeat(3, axis=0), oracle[-3:]])
    verdict = verify(puzzle, video)
    _assert_fails(verdict, because="jumped", broken=3)
    assert verdict.components["path_valid"] == 0.0 and verdict.components["progress"] == 0.0


def test_frozen_first_frame_fails(puzzle, oracle):
    verdict = verify(puzzle, np.repeat(oracle[:1], 33, axis=0))
    _assert_fails(verdict, because="not on the goal")
    assert verdict.broken_frame is None
    assert verdict.reward == 0.0  # nothing is credited for what was true at the start


def test_reversed_video_fails(puzzle, oracle):
    verdict = verify(puzzle, oracle[::-1])
    _assert_fails(verdict, because="does not start on the start", broken=0)
    assert verdict.reward == 0.0


def test_agent_crossing_a_wall_fails(puzzle):
    index, crossing = next(
        (i, _walled_neighbour(puzzle, c))
        for i, c in enumerate(puzzle.solution)
        if _walled_neighbour(puzzle, c) is not None
    )
    cells = list(puzzle.solution[: index + 1]) + puzzle.path_between(crossing, puzzle.goal)
    verdict = verify(puzzle, _video(puzzle, cells))
    _assert_fails(verdict, because="crossed the wall", broken=index + 1)
    assert crossing not in verdict.predicted_cells
    assert verdict.trace[index + 1] == (crossing,)


def test_pure_noise_fails(puzzle):
    noise = np.random.default_rng(0).integers(0, 256, (33, H, W, 3), dtype=np.uint8)
    verdict = verify(puzzle, noise)
    _assert_fails(verdict, because="unreadable", broken=0)
    assert verdict.reward == 0.0 and verdict.trace == (None,) * 33


def test_agent_vanishing_and_reappearing_on_the_goal_fails(puzzle):
    cells = [puzzle.start] * 3 + [None] * 25 + [puzzle.goal] * 5
    verdict = verify(puzzle, render_agent_path(puzzle, H, W, _centres(cells)))
    _assert_fails(verdict, because="frame 3 is unreadable", broken=3)


def test_goal_touched_then_left_fails(puzzle):
    cells = list(puzzle.solution) + [puzzle.solution[-2]]
    verdict = verify(puzzle, _video(puzzle, cells, hold_end=8))
    _assert_fails(verdict, because="not on the goal")
    assert verdict.components["progress"] == 1.0 and verdict.broken_frame is None


def test_agent_drawn_on_every_cell_is_unreadable(puzzle, oracle):
    geometry = geometry_for(puzzle, H, W)
    frame = render_board(puzzle, geometry)
    for r in range(puzzle.rows):
        for c in range(puzzle.cols):
            _draw_agent(frame, geometry, r + 0.5, c + 0.5)
    video = np.concatenate([oracle[:1], np.repeat(frame[None], 20, axis=0)])
    assert perceive(puzzle, video).cells[1:] == [None] * 20
    _assert_fails(verify(puzzle, video), because="frame 1 is unreadable", broken=1)


def test_erasing_the_walls_fails(puzzle, oracle):
    video = oracle.copy()
    geometry = geometry_for(puzzle, H, W)
    (y0, x0), size = geometry.origin, geometry.cell
    grid = video[5:, y0 : y0 + puzzle.rows * size, x0 : x0 + puzzle.cols * size]
    grid[grid.max(axis=-1) < 80] = (226, 226, 220)  # every wall becomes floor from frame 5 on
    _assert_fails(verify(puzzle, video), because="frame 5 is unreadable", broken=5)


def test_removing_the_goal_fails(puzzle, oracle):
    video = oracle.copy()
    green = (video[..., 1] > 150) & (video[..., 0] < 80)
    video[green] = (226, 226, 220)
    _assert_fails(verify(puzzle, video), because="frame 0 is unreadable", broken=0)


@pytest.mark.parametrize("make", ["jump_cut", "reversed", "wall"])
def test_artifacts_never_turn_a_failing_video_into_a_passing_one(puzzle, oracle, make):
    if make == "jump_cut":
        video = np.concatenate([oracle[:1].repeat(3, axis=0), oracle[-3:]])
    elif make == "reversed":
        video = oracle[::-1]
    else:
        index = next(i for i, c in enumerate(puzzle.solution) if _walled_neighbour(puzzle, c) is not None)
        crossing = _walled_neighbour(puzzle, puzzle.solution[index])
        video = _video(puzzle, list(puzzle.solution[: index + 1]) + puzzle.path_between(crossing, puzzle.goal))
    for artifact in (lambda v: add_noise(v, 16.0), blur, h264_round_trip):
        assert not verify(puzzle, artifact(video)).success


# --- the rules alone, and the reward order ---------------------------------------------------------------


def _moves(cells):
    return "".join(MOVE_NAMES[(b[0] - a[0], b[1] - a[1])] for a, b in itertools.pairwise(cells))


def test_move_strings_are_judged_like_videos(puzzle):
    oracle_moves = _moves(puzzle.solution)
    assert judge_moves(puzzle, oracle_moves).success
    assert judge_moves(puzzle, oracle_moves.upper()).success
    assert not judge_moves(puzzle, oracle_moves[:-1]).success
    assert judge_moves(puzzle, "").reward == judge(puzzle, [puzzle.start] * 5).reward == 0.0  # staying put
    reading = perceive(puzzle, render_solution(puzzle, H, W, 40))
    assert judge(puzzle, reading.cells).components == judge_moves(puzzle, oracle_moves).components
    with pytest.raises(ValueError, match="udlr|'u'"):
        judge_moves(puzzle, "up!")
    with pytest.raises(TypeError):
        judge_moves(puzzle, 42)


def test_move_through_a_wall_diagonally_or_off_the_grid_is_illegal(puzzle):
    cell = puzzle.start
    blocked = _walled_neighbour(puzzle, cell)
    if blocked is not None:
        verdict = judge_moves(puzzle, MOVE_NAMES[(blocked[0] - cell[0], blocked[1] - cell[1])])
        assert "crossed the wall" in verdict.reason and verdict.broken_frame == 1
    off = "u" * (puzzle.start[0] + 1)
    assert not judge_moves(puzzle, off).success
    diagonal = (cell[0] + (1 if cell[0] + 1 < puzzle.rows else -1), cell[1] + (1 if cell[1] + 1 < puzzle.cols else -1))
    assert "diagonally" in judge(puzzle, [cell, diagonal, diagonal]).reason


def test_short_video_fails_with_a_reason_not_an_exception(puzzle):
    cells = list(puzzle.solution)  # every move legal, but one frame short of the end window
    cells += [puzzle.goal] * (min_frames(puzzle) - 1 - len(cells))
    verdict = judge(puzzle, cells)
    assert not verdict.success and f"needs at least {min_frames(puzzle)}" in verdict.reason
    assert not judge(puzzle, [puzzle.start]).success


def _cut(puzzle, moves, frames):
    """The oracle cut after ``moves`` moves, one per frame, the last cell held: cells (frames,)."""
    cells = list(puzzle.solution[: moves + 1])
    return cells + [cells[-1]] * (frames - len(cells))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), difficulty=st.sampled_from(["easy", "medium", "hard"]), data=st.data())
def test_honest_partial_solution_outranks_every_rule_breaker_and_doing_nothing(seed, difficulty, data):
    puzzle = generate(seed, difficulty)
    path, length = list(puzzle.solution), puzzle.path_length
    frames = min_frames(puzzle) + data.draw(st.integers(0, 10))

    def verdict(cells):
        return judge(puzzle, cells + [cells[-1]] * (frames - len(cells)))

    honest = [judge(puzzle, _cut(puzzle, k, frames)).reward for k in range(length + 1)]
    assert honest[-1] == 1.0 and honest[0] == 0.0  # doing nothing earns nothing
    assert all(a < b for a, b in itertools.pairwise(honest))  # each legal step forward pays
    for k in range(1, length):
        one_move = judge(puzzle, _cut(puzzle, k, frames)).components
        assert all(value < 1.0 for value in one_move.values())  # no term is earned in full before the end
    m = data.draw(st.integers(0, length - 2))
    breakers = [
        path[: m + 1] + [puzzle.goal],  # jump to the goal
        path[: m + 1] + [None] * 5 + [puzzle.goal],  # vanish, reappear on the goal
        path[: m + 1] + [None] + path[m + 1 :],  # one unreadable frame on the way
    ]
    blocked = _walled_neighbour(puzzle, path[m])
    if blocked is not None:
        breakers.append(path[: m + 1] + puzzle.path_between(blocked, puzzle.goal))  # through a wall
    for cheat in breakers:
        result = verdict(cheat)
        assert not result.success and result.broken_frame == m + 1
        assert result.reward < honest[m] or m == 0 and result.reward == 0.0, (cheat, result)
        held = cheat[: result.broken_frame]
        assert result.reward <= judge(puzzle, held + [held[-1]] * (frames - len(held))).reward
    assert verdict(path[::-1]).reward == 0.0  # reversed


def test_rewards_rank_videos_like_the_rules(puzzle, oracle):
    half = puzzle.path_length // 2
    partial = _video(puzzle, list(puzzle.solution[: half + 1]), hold_end=10)
    scores = {
        "oracle": verify(puzzle, oracle).reward,
        "partial": verify(puzzle, partial).reward,
        "nothing": verify(puzzle, np.repeat(oracle[:1], 33, axis=0)).reward,
        "jump_cut": verify(puzzle, np.concatenate([oracle[:1].repeat(3, axis=0), oracle[-3:]])).reward,
        "reversed": verify(puzzle, oracle[::-1]).reward,
        "noise": verify(puzzle, np.random.default_rng(1).integers(0, 256, oracle.shape, dtype=np.uint8)).reward,
    }
    assert scores["oracle"] == 1.0 > scores["partial"] > scores["nothing"]
    assert scores["nothing"] == scores["jump_cut"] == scores["reversed"] == scores["noise"] == 0.0
