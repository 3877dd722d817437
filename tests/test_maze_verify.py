"""VideoMaze verification: oracle videos pass under artifacts; every kind of cheat fails for its reason."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from video_artifacts import add_noise, blur

from videorlvr.envs.maze import generate, judge, judge_moves, perceive, render_solution, speed_limit, verify
from videorlvr.envs.maze.constants import WEIGHTS
from videorlvr.envs.maze.render import _draw_agent, geometry_for, render_agent_path, render_board
from videorlvr.envs.video import h264_round_trip

H, W = 240, 416
MOVE_NAMES = {(-1, 0): "u", (1, 0): "d", (0, -1): "l", (0, 1): "r"}


def _centres(cells, frames_per_move=3, hold_start=1, hold_end=4):
    """Grid centres (T, 2) sliding between consecutive cells (None = agent hidden)."""
    out = [cells[0]] * hold_start
    for a, b in itertools.pairwise(cells):
        if a is None or b is None:
            out.append(b)
            continue
        for step in range(1, frames_per_move + 1):
            f = step / frames_per_move
            out.append((a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f))
    out += [cells[-1]] * hold_end
    return np.array([(np.nan, np.nan) if c is None else (c[0] + 0.5, c[1] + 0.5) for c in out])


def _video(puzzle, cells, **kwargs):
    return render_agent_path(puzzle, H, W, _centres(cells, **kwargs))


def _walled_neighbour(puzzle, cell):
    for dy, dx in MOVE_NAMES:
        other = (cell[0] + dy, cell[1] + dx)
        if puzzle.in_grid(other) and not puzzle.is_open(cell, other):
            return other
    return None




# --- the oracle succeeds --------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    difficulty=st.sampled_from(["easy", "medium", "hard"]),
    algorithm=st.sampled_from(["dfs", "kruskal"]),
    height=st.integers(120, 200).map(lambda h: 2 * h),
    width=st.integers(208, 330).map(lambda w: 2 * w),
    frames=st.integers(17, 48),
)
def test_oracle_video_succeeds(seed, difficulty, algorithm, height, width, frames):
    puzzle = generate(seed, difficulty, algorithm=algorithm)
    verdict = verify(puzzle, render_solution(puzzle, height, width, frames))
    assert verdict.success, verdict.reason
    assert verdict.reward == 1.0
    assert all(value == 1.0 for value in verdict.components.values())
    assert verdict.predicted_cells == verdict.oracle_cells == frozenset(puzzle.solution)


@pytest.mark.parametrize("difficulty, frames", [("easy", 33), ("medium", 17), ("hard", 17), ("hard", 41)])
def test_oracle_video_survives_h264(difficulty, frames):
    puzzle = generate(3, difficulty)
    verdict = verify(puzzle, h264_round_trip(render_solution(puzzle, H, W, frames)))
    assert verdict.success, verdict.reason


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    difficulty=st.sampled_from(["easy", "medium", "hard"]),
    size=st.sampled_from([(240, 416), (272, 480), (480, 832)]),
    frames=st.integers(17, 33),
)
def test_oracle_video_survives_h264_at_any_size(seed, difficulty, size, frames):
    puzzle = generate(seed, difficulty)
    verdict = verify(puzzle, h264_round_trip(render_solution(puzzle, *size, frames)))
    assert verdict.success, verdict.reason




def test_resting_then_fast_then_resting_succeeds():
    puzzle = generate(5, "medium")
    cells = list(puzzle.solution)
    video = _video(puzzle, cells, frames_per_move=1, hold_start=30, hold_end=30)
    assert speed_limit(puzzle.path_length, len(video)) == 1
    assert verify(puzzle, video).success


def test_perception_skips_frames_with_the_agent_between_cells():
    puzzle = generate(2, "easy")
    a, b = puzzle.solution[:2]
    halfway = np.array([[(a[0] + b[0]) / 2 + 0.5, (a[1] + b[1]) / 2 + 0.5]] * 2)
    reading = perceive(puzzle, render_agent_path(puzzle, H, W, halfway))
    assert reading.cells == [None, None]
    assert (reading.confidence == 0).all()


# --- cheats fail, and the components say why -------------------------------------------------------------


@pytest.fixture(scope="module")
def puzzle():
    return generate(21, "medium")


def _assert_fails(verdict, *, because, zero=()):
    assert not verdict.success
    assert verdict.reward < 1.0
    assert because in verdict.reason, verdict.reason
    for name in zero:
        assert verdict.components[name] == 0.0, (name, verdict.components)


def test_jump_cut_fails(puzzle):
    oracle = render_solution(puzzle, H, W, 33)
    video = np.concatenate([oracle[:1].repeat(3, axis=0), oracle[-3:]])
    verdict = verify(puzzle, video)
    _assert_fails(verdict, because="jumped", zero=("goal_reached", "progress"))
    assert verdict.components["path_valid"] < 1.0


def test_frozen_first_frame_fails(puzzle):
    video = np.repeat(render_solution(puzzle, H, W, 2)[:1], 33, axis=0)
    verdict = verify(puzzle, video)
    _assert_fails(verdict, because="not on the goal", zero=("goal_reached", "progress"))
    assert verdict.components["path_valid"] == 1.0


def test_reversed_video_fails(puzzle):
    verdict = verify(puzzle, render_solution(puzzle, H, W, 33)[::-1])
    _assert_fails(verdict, because="does not start on the start", zero=("start_correct", "goal_reached"))


def test_agent_crossing_a_wall_fails(puzzle):
    index, crossing = next(
        (i, _walled_neighbour(puzzle, c))
        for i, c in enumerate(puzzle.solution)
        if _walled_neighbour(puzzle, c) is not None
    )
    cells = list(puzzle.solution[: index + 1]) + puzzle.path_between(crossing, puzzle.goal)
    video = _video(puzzle, cells, frames_per_move=3)
    assert speed_limit(puzzle.path_length, len(video)) <= 2
    verdict = verify(puzzle, video)
    _assert_fails(verdict, because="crossed the wall", zero=("goal_reached",))
    assert verdict.components["path_valid"] < 1.0
    assert crossing not in verdict.predicted_cells


def test_pure_noise_fails(puzzle):
    noise = np.random.default_rng(0).integers(0, 256, (33, H, W, 3), dtype=np.uint8)
    verdict = verify(puzzle, noise)
    _assert_fails(verdict, because="not visible", zero=tuple(WEIGHTS))
    assert verdict.reward == 0.0


def test_agent_vanishing_and_reappearing_on_the_goal_fails(puzzle):
    cells = [puzzle.start] * 3 + [None] * 25 + [puzzle.goal] * 5
    centres = np.array([(np.nan, np.nan) if c is None else (c[0] + 0.5, c[1] + 0.5) for c in cells])
    verdict = verify(puzzle, render_agent_path(puzzle, H, W, centres))
    _assert_fails(verdict, because="jumped", zero=("goal_reached",))


def test_goal_touched_then_left_fails(puzzle):
    cells = list(puzzle.solution) + [puzzle.solution[-2]]
    verdict = verify(puzzle, _video(puzzle, cells, hold_end=8))
    _assert_fails(verdict, because="not on the goal", zero=("goal_reached",))
    assert verdict.components["progress"] == 1.0


def test_agent_drawn_on_every_cell_is_unreadable(puzzle):
    geometry = geometry_for(puzzle, H, W)
    frame = render_board(puzzle, geometry)
    for r in range(puzzle.rows):
        for c in range(puzzle.cols):
            _draw_agent(frame, geometry, r + 0.5, c + 0.5)
    video = np.concatenate([render_solution(puzzle, H, W, 2)[:1], np.repeat(frame[None], 20, axis=0)])
    assert perceive(puzzle, video).cells[1:] == [None] * 20
    _assert_fails(verify(puzzle, video), because="not visible in the final frames", zero=("goal_reached",))


def test_erasing_the_walls_fails(puzzle):
    video = render_solution(puzzle, H, W, 33)
    geometry = geometry_for(puzzle, H, W)
    (y0, x0), size = geometry.origin, geometry.cell
    grid = video[1:, y0 : y0 + puzzle.rows * size, x0 : x0 + puzzle.cols * size]
    grid[grid.max(axis=-1) < 80] = (226, 226, 220)  # every wall becomes floor after the first frame
    verdict = verify(puzzle, video)
    _assert_fails(verdict, because="walls or goal changed")
    assert verdict.components["maze_preserved"] < 0.1
    assert verdict.components["path_valid"] == 1.0


def test_removing_the_goal_fails(puzzle):
    video = render_solution(puzzle, H, W, 33)
    green = (video[..., 1] > 150) & (video[..., 0] < 80)
    video[green] = (226, 226, 220)
    _assert_fails(verify(puzzle, video), because="walls or goal changed")


@pytest.mark.parametrize("make", ["jump_cut", "reversed", "wall"])
def test_artifacts_never_turn_a_failing_video_into_a_passing_one(puzzle, make):
    oracle = render_solution(puzzle, H, W, 33)
    if make == "jump_cut":
        video = np.concatenate([oracle[:1].repeat(3, axis=0), oracle[-3:]])
    elif make == "reversed":
        video = oracle[::-1]
    else:
        index = next(i for i, c in enumerate(puzzle.solution) if _walled_neighbour(puzzle, c) is not None)
        crossing = _walled_neighbour(puzzle, puzzle.solution[index])
        video = _video(
            puzzle, list(puzzle.solution[: index + 1]) + puzzle.path_between(crossing, puzzle.goal)
        )
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
    assert judge_moves(puzzle, "").reward == judge(puzzle, [puzzle.start] * 5).reward  # staying put
    reading = perceive(puzzle, render_solution(puzzle, H, W, 40))
    from_video = judge(puzzle, reading.cells, speed=1)
    assert from_video.components == judge_moves(puzzle, oracle_moves).components
    with pytest.raises(ValueError, match="udlr|'u'"):
        judge_moves(puzzle, "up!")
    with pytest.raises(TypeError):
        judge_moves(puzzle, 42)


def test_move_through_a_wall_or_off_the_grid_is_illegal(puzzle):
    cell = puzzle.start
    blocked = _walled_neighbour(puzzle, cell)
    if blocked is not None:
        verdict = judge_moves(puzzle, MOVE_NAMES[(blocked[0] - cell[0], blocked[1] - cell[1])])
        assert "crossed the wall" in verdict.reason
    off = "u" * (puzzle.start[0] + 1)
    assert not judge_moves(puzzle, off).success


def test_speed_limit_lets_the_oracle_pass_and_stops_a_jump_cut():
    for length in range(1, 40):
        for frames in (4, 17, 33, 81):
            k = speed_limit(length, frames)
            assert k >= 1
            assert k * (frames - 1) >= length  # the oracle fits
            if length >= 2:
                assert k < length  # a one-frame jump cut does not
    assert speed_limit(32, 81) == 1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), difficulty=st.sampled_from(["easy", "medium", "hard"]), data=st.data())
def test_honest_partial_solution_outranks_every_rule_breaker_and_doing_nothing(seed, difficulty, data):
    puzzle = generate(seed, difficulty)
    path, length = list(puzzle.solution), puzzle.path_length
    frames = length + 12

    def reward(cells):
        cells = cells + [cells[-1]] * (frames - len(cells))
        return judge(puzzle, cells, speed=1).reward

    honest = [reward(path[: m + 1]) for m in range(length + 1)]
    assert honest[-1] == 1.0
    assert all(a < b for a, b in itertools.pairwise(honest))  # each legal step forward pays
    m = data.draw(st.integers(0, length - 3))  # cheats start at least 3 moves from the goal
    breakers = [
        path[: m + 1] + [puzzle.goal],  # jump to the goal
        path[: m + 1] + [None] * 5 + [puzzle.goal],  # vanish, reappear on the goal
    ]
    blocked = _walled_neighbour(puzzle, path[m])
    if blocked is not None:
        breakers.append(path[: m + 1] + puzzle.path_between(blocked, puzzle.goal))  # through a wall
    for m_legal in range(m + 1):
        breakers.append(path[: m_legal + 1] + [puzzle.goal])
    do_nothing = reward([puzzle.start])
    for cheat in breakers:
        verdict = judge(puzzle, cheat + [cheat[-1]] * (frames - len(cheat)), speed=1)
        assert not verdict.success
        assert verdict.reward < honest[m], (cheat, verdict)
    assert do_nothing == honest[0] < honest[1]
    assert reward([puzzle.start] * (frames // 2) + [puzzle.goal]) < do_nothing  # jump cut
    assert reward(path[::-1]) < do_nothing  # reversed


def test_rewards_rank_videos_like_the_rules(puzzle):
    oracle = render_solution(puzzle, H, W, 33)
    half = puzzle.path_length // 2
    partial = _video(puzzle, list(puzzle.solution[: half + 1]), hold_end=10)
    scores = {
        "oracle": verify(puzzle, oracle).reward,
        "partial": verify(puzzle, partial).reward,
        "nothing": verify(puzzle, np.repeat(oracle[:1], 33, axis=0)).reward,
        "jump_cut": verify(puzzle, np.concatenate([oracle[:1].repeat(3, axis=0), oracle[-3:]])).reward,
        "reversed": verify(puzzle, oracle[::-1]).reward,
        "noise": verify(
            puzzle, np.random.default_rng(1).integers(0, 256, oracle.shape, dtype=np.uint8)
        ).reward,
    }
    order = ["oracle", "partial", "nothing", "jump_cut", "reversed", "noise"]
    assert [scores[name] for name in order] == sorted(scores.values(), reverse=True), scores
    assert scores["oracle"] == 1.0 and scores["partial"] < 0.99


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    side=st.integers(3, 5),
    height=st.integers(32, 96),
    width=st.integers(32, 96),
    frames=st.integers(5, 17),
)
def test_oracle_video_succeeds_at_tiny_frame_sizes(seed, side, height, width, frames):
    """Cells of 4-20 px: the goal corners are read on the drawn (whole-pixel) goal square, and a goal
    covered by the resting agent counts as present."""
    puzzle = generate(seed, size=(side, side))
    try:
        geometry_for(puzzle, height, width)
    except ValueError:
        return  # cells under 4 px: BoardGeometry rejects the frame
    verdict = verify(puzzle, render_solution(puzzle, height, width, frames))
    assert verdict.success, verdict.reason
