"""Adversarial videos against the maze verifier: generators of the attacks that fooled sparse reading.

Each attack must fail for the right reason (the verdict names the frame or the rule), and its dense reward
must stay within what its legal prefix earns (the video cut at ``broken_frame``, last legal frame held)
and below the honest half (the oracle cut halfway) whenever it cheats to get further.
"""

import itertools

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videorlvr.envs.maze import generate, min_frames, render_solution, verify
from videorlvr.envs.maze.render import agent_schedule, geometry_for, render_agent_path, render_board
from videorlvr.envs.maze.rules import end_window
from videorlvr.envs.video import h264_round_trip

H, W = 240, 416
FLOOR = (226, 226, 220)


def _centres(cells):
    """Grid centres (T, 2) of per-frame cells or grid points (None = agent hidden)."""
    return np.array([(np.nan, np.nan) if c is None else (c[0] + 0.5, c[1] + 0.5) for c in cells])


def _oracle_cells(puzzle, frames, moves=None):
    """The oracle's cell per frame; with ``moves``, cut after that many moves (the last cell held)."""
    schedule = agent_schedule(puzzle.path_length, frames)
    if moves is not None:
        schedule = np.minimum(schedule, moves)
    return [puzzle.solution[k] for k in schedule]


def _cut(puzzle, moves, frames, height=H, width=W):
    return render_agent_path(puzzle, height, width, _centres(_oracle_cells(puzzle, frames, moves)))


def _prefix_reward(puzzle, video, verdict):
    """The reward of the video cut at its broken frame, the last legal frame held."""
    if verdict.broken_frame is None:
        return verdict.reward
    if verdict.broken_frame == 0:
        return 0.0
    held = np.concatenate([video[: verdict.broken_frame], video[verdict.broken_frame - 1 :][:1]])
    held = np.concatenate([held, np.repeat(held[-1:], len(video) - len(held), axis=0)])
    return verify(puzzle, held).reward


def _assert_caught(puzzle, video, *, because, broken=None, cheat_from=None):
    """Not a success, for ``because``; dense reward within the legal prefix (and below the honest cut at
    ``cheat_from`` moves, when the attack cheats from there)."""
    verdict = verify(puzzle, video)
    assert not verdict.success
    assert any(reason in verdict.reason for reason in because), verdict.reason
    if broken is not None:
        assert verdict.broken_frame == broken, (verdict.broken_frame, verdict.reason)
    assert verdict.reward <= _prefix_reward(puzzle, video, verdict) + 1e-9
    if cheat_from is not None:
        honest = verify(puzzle, _cut(puzzle, cheat_from, len(video), *video.shape[1:3])).reward
        assert verdict.reward < honest or verdict.reward == honest == 0.0, (verdict.reward, honest)
    return verdict


def _read_point_mask(puzzle, height, width, half=2):
    """bool (H, W): 5x5-px squares at every cell centre and wall midpoint, plus the two locator bands."""
    geometry = geometry_for(puzzle, height, width)
    mask = np.zeros((height, width), dtype=bool)
    points = [(r + 0.5, c + 0.5) for r in range(puzzle.rows) for c in range(puzzle.cols)]
    points += [(r + 0.5, c + 1.0) for r in range(puzzle.rows) for c in range(puzzle.cols - 1)]
    points += [(r + 1.0, c + 0.5) for r in range(puzzle.rows - 1) for c in range(puzzle.cols)]
    for gy, gx in points:
        y, x = (int(v) for v in geometry.to_pixels(gy, gx))
        mask[y - half : y + half + 1, x - half : x + half + 1] = True
    left, right, top, bottom = geometry.outer
    mask[int((top + bottom) / 2) - 4 : int((top + bottom) / 2) + 5] = True
    mask[:, int((left + right) / 2) - 4 : int((left + right) / 2) + 5] = True
    return mask


def _overlay(video, drawn, board):
    """Paint onto ``video`` (in place) every pixel where ``drawn`` differs from the empty ``board``."""
    changed = (drawn != board).any(axis=-1)
    video[changed] = drawn[changed]


def _erase_walls(frame, puzzle, geometry, cells=None):
    """Paint the walls of ``frame`` floor-coloured (only inside ``cells`` (rows, cols) bool, if given)."""
    (y0, x0), size = geometry.origin, geometry.cell
    grid = frame[y0 : y0 + puzzle.rows * size, x0 : x0 + puzzle.cols * size]
    dark = grid.max(axis=-1) < 80
    if cells is not None:  # the whole walls around those cells: both halves of each wall line
        around = np.repeat(np.repeat(cells, size, axis=0), size, axis=1)
        reach = int(np.ceil(0.2 * size))  # beyond the wall's far half (walls are 0.2 cell thick)
        around = cv2.dilate(around.astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) > 0
        dark &= around
    grid[dark] = FLOOR


@pytest.fixture(scope="module")
def medium():
    return generate(21, "medium")


# --- (1) sparse reading: transplanted oracle pixels ---------------------------------------------------------


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10**5),
    base=st.sampled_from(["do_nothing", "noise", "jump_cut"]),
    density=st.sampled_from([0.001, 0.01, 0.05, 0.2, 0.5]),
    pattern=st.sampled_from(["random_pixels", "read_points"]),
)
def test_transplanted_oracle_pixels_never_succeed(seed, base, density, pattern):
    puzzle = generate(seed, "medium")
    frames = min_frames(puzzle) + 4
    oracle = render_solution(puzzle, H, W, frames)
    rng = np.random.default_rng(seed)
    if base == "do_nothing":
        video = np.repeat(oracle[:1], frames, axis=0)
    elif base == "noise":
        video = rng.integers(0, 256, oracle.shape, dtype=np.uint8)
    else:
        video = np.concatenate([np.repeat(oracle[:1], frames // 2, axis=0), oracle[-(frames - frames // 2) :]])
    if pattern == "random_pixels":
        mask = rng.random((frames, H, W)) < density
    else:
        mask = np.broadcast_to(_read_point_mask(puzzle, H, W), (frames, H, W))
    video[mask] = oracle[mask]
    if pattern == "read_points":
        video = h264_round_trip(video)
    _assert_caught(
        puzzle,
        video,
        # a jump cut can land next to where the agent was, across a wall or diagonally
        because=("unreadable", "not on the goal", "jumped", "crossed the wall", "diagonally", "does not start"),
        cheat_from=0,
    )


# --- (2) too few frames, hidden frames -------------------------------------------------------------------


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10**5), difficulty=st.sampled_from(["easy", "medium", "hard"]), data=st.data())
def test_videos_shorter_than_min_frames_never_succeed(seed, difficulty, data):
    puzzle = generate(seed, difficulty)
    needed = min_frames(puzzle)
    frames = data.draw(st.integers(2, needed - 1))
    oracle = render_solution(puzzle, H, W, needed + 8)
    picks = np.unique(np.linspace(0, len(oracle) - 1, frames).round().astype(int))  # keeps start and goal
    _assert_caught(puzzle, oracle[picks], because=("jumped", "diagonally", "crossed the wall", f"needs at least {needed}"))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**5), data=st.data(), faded=st.booleans())
def test_hiding_the_agent_ends_the_legal_prefix(seed, data, faded):
    puzzle = generate(seed, "medium")
    frames = min_frames(puzzle) + 6
    cells = _oracle_cells(puzzle, frames)
    first = data.draw(st.integers(1, frames - 3))
    last = data.draw(st.integers(first + 1, frames - 1))
    skip = data.draw(st.integers(0, 4))  # the agent may reappear further along the path
    moved = [puzzle.solution[min(puzzle.path_length, puzzle.solution.index(c) + skip)] for c in cells[last:]]
    video = render_agent_path(puzzle, H, W, _centres(cells[:first] + [None] * (last - first) + moved))
    if faded:  # the agent at half opacity instead of gone
        visible = render_agent_path(puzzle, H, W, _centres(cells))
        video[first:last] = ((video[first:last].astype(np.uint16) + visible[first:last]) // 2).astype(np.uint8)
    done = puzzle.solution.index(cells[first - 1])  # moves made before the break
    _assert_caught(puzzle, video, because=(f"frame {first} is unreadable",), broken=first, cheat_from=done)


def test_tiny_recipe_setting_hide_and_reappear_fails():
    """48x48 px, 7 frames, 4x4 mazes: [start, hidden, path midpoint, hidden, goal x3] used to pass."""
    for seed in range(30):
        puzzle = generate(seed, "easy", size=(4, 4), path_length=(2, 5))
        if puzzle.path_length < 2:
            continue
        middle = puzzle.solution[puzzle.path_length // 2]
        cells = [puzzle.start, None, middle, None, puzzle.goal, puzzle.goal, puzzle.goal]
        video = render_agent_path(puzzle, 48, 48, _centres(cells))
        verdict = verify(puzzle, video)
        assert not verdict.success and verdict.broken_frame == 1 and "frame 1 is unreadable" in verdict.reason
        assert verify(puzzle, render_solution(puzzle, 48, 48, 7)).success


def test_a_blink_through_a_wall_is_a_wall_crossing():
    """One agent-less frame no longer licenses a move: the frame itself ends the legal prefix."""
    puzzle = generate(7, "medium")
    index, crossing = next(
        (i, (c[0] + dy, c[1] + dx))
        for i, c in enumerate(puzzle.solution)
        for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0))
        if puzzle.in_grid((c[0] + dy, c[1] + dx)) and not puzzle.is_open(c, (c[0] + dy, c[1] + dx))
    )
    tail = puzzle.path_between(crossing, puzzle.goal)
    cells = list(puzzle.solution[: index + 1])
    for blink in (False, True):
        path = cells + ([None] if blink else []) + tail
        path += [puzzle.goal] * (min_frames(puzzle) + 4 - len(path))
        reason = f"frame {index + 1} is unreadable" if blink else "crossed the wall"
        _assert_caught(puzzle, render_agent_path(puzzle, H, W, _centres(path)), because=(reason,), broken=index + 1)


# --- (3) big boards, (4) corner cuts ----------------------------------------------------------------------


def test_big_board_straight_through_walls_fails():
    puzzle = generate(3, size=(20, 20), path_length=(30, 40))
    row = puzzle.start[0]
    step = 1 if puzzle.start[1] < 10 else -1
    straight = [(row, puzzle.start[1] + step * i) for i in range(10)]
    cells = straight + [straight[-1]] * (min_frames(puzzle) + 4 - len(straight))
    _assert_caught(puzzle, render_agent_path(puzzle, 480, 832, _centres(cells)), because=("crossed the wall",))


def _turns(puzzle):
    """Indices i where the oracle turns at solution[i] (the hop i-1 -> i+1 is diagonal)."""
    path = puzzle.solution
    return [i for i in range(1, len(path) - 1) if abs(path[i + 1][0] - path[i - 1][0]) == 1 == abs(path[i + 1][1] - path[i - 1][1])]


@pytest.mark.parametrize("frames_extra", [0, 40])
def test_corner_cuts_fail(frames_extra):
    puzzle = next(p for p in (generate(s, "hard") for s in range(20)) if _turns(p))
    frames = min_frames(puzzle) + frames_extra
    path = list(puzzle.solution)
    turn = _turns(puzzle)[0]
    a, c = path[turn - 1], path[turn + 1]
    post = ((a[0] + c[0]) / 2, (a[1] + c[1]) / 2)  # the agent centred on the wall post between a and c
    for middle in ([post], []):
        cells = path[:turn] + middle + path[turn + 1 :]
        cells += [puzzle.goal] * (frames - len(cells))
        reason = f"frame {turn} is unreadable" if middle else "diagonally"
        _assert_caught(puzzle, render_agent_path(puzzle, H, W, _centres(cells)), because=(reason,), broken=turn)


# --- (5) unchecked frames: walls erased, boards redrawn ------------------------------------------------------


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10**5), data=st.data(), whole=st.booleans())
def test_erasing_walls_in_any_frame_ends_the_legal_prefix(seed, data, whole):
    puzzle = generate(seed, "medium")
    frames = min_frames(puzzle) + 10
    video = render_solution(puzzle, H, W, frames)
    geometry = geometry_for(puzzle, H, W)
    erased = sorted(set(data.draw(st.lists(st.integers(1, frames - 1), min_size=1, max_size=frames // 2))))
    region = None
    if not whole:  # only the walls around one cell
        region = np.zeros((puzzle.rows, puzzle.cols), dtype=bool)
        region[data.draw(st.integers(0, puzzle.rows - 1)), data.draw(st.integers(0, puzzle.cols - 1))] = True
    for frame in erased:
        _erase_walls(video[frame], puzzle, geometry, region)
    done = int(agent_schedule(puzzle.path_length, frames)[erased[0] - 1])  # moves made before the break
    _assert_caught(puzzle, video, because=(f"frame {erased[0]} is unreadable",), broken=erased[0], cheat_from=done)


def test_a_board_redrawn_as_another_maze_is_unreadable(medium):
    other = generate(100, "medium")
    frames = min_frames(medium) + 4
    video = render_solution(medium, H, W, frames)
    redrawn = render_agent_path(other, H, W, _centres(_oracle_cells(medium, frames)))
    video[5:] = redrawn[5:]
    _assert_caught(medium, video, because=("frame 5 is unreadable",), broken=5)


# --- (6) undoing at the end ----------------------------------------------------------------------------


@pytest.mark.parametrize("undo", ["walk_off_faded", "empty_board", "ambiguous_cell", "second_agent"])
def test_undoing_the_solution_at_the_end_fails(medium, undo):
    frames = min_frames(medium) + 10
    video = render_solution(medium, H, W, frames)
    geometry = geometry_for(medium, H, W)
    window = end_window(frames)
    start = frames - window
    goal, before = medium.solution[-1], medium.solution[-2]
    board = render_board(medium, geometry)
    if undo == "walk_off_faded":
        off = render_agent_path(medium, H, W, _centres([before] * window))
        video[start:] = ((off.astype(np.uint16) + board) // 2).astype(np.uint8)
    elif undo == "empty_board":
        video[start:] = board
    elif undo == "ambiguous_cell":
        between = ((goal[0] + before[0]) / 2, (goal[1] + before[1]) / 2)
        video[start:] = render_agent_path(medium, H, W, _centres([between] * window))
    else:  # the goal agent stays, a second one appears beside it
        _overlay(video[start:], render_agent_path(medium, H, W, _centres([before] * window)), board)
    _assert_caught(medium, video, because=(f"frame {start} is unreadable",), broken=start)


# --- dense reward order --------------------------------------------------------------------------------


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10**5), difficulty=st.sampled_from(["easy", "medium", "hard"]))
def test_oracle_cut_after_k_moves_scores_non_decreasingly_and_1_only_at_the_goal(seed, difficulty):
    puzzle = generate(seed, difficulty)
    frames = min_frames(puzzle) + 2
    rewards = [verify(puzzle, _cut(puzzle, k, frames)).reward for k in range(puzzle.path_length + 1)]
    assert rewards[0] == 0.0 and rewards[-1] == 1.0 and max(rewards[:-1]) < 1.0
    assert all(a < b for a, b in itertools.pairwise(rewards))


@pytest.mark.parametrize("cheat", ["second_agent_on_goal", "jump_to_solved_board", "walls_erased_after_half"])
def test_cheating_after_the_honest_half_scores_below_it(medium, cheat):
    frames = min_frames(medium) + 10
    half = medium.path_length // 2
    honest = _cut(medium, half, frames)
    video = honest.copy()
    arrive = agent_schedule(medium.path_length, frames).tolist().index(half)
    after = slice(arrive + 1, frames)
    if cheat == "second_agent_on_goal":
        goal = render_agent_path(medium, H, W, _centres([medium.goal] * frames))
        _overlay(video[after], goal[after], render_board(medium, geometry_for(medium, H, W)))
    elif cheat == "jump_to_solved_board":
        video[after] = render_solution(medium, H, W, frames)[-1]
    else:
        oracle = render_solution(medium, H, W, frames)
        video[after] = oracle[after]
        for frame in range(arrive + 1, frames):
            _erase_walls(video[frame], medium, geometry_for(medium, H, W))
    _assert_caught(medium, video, because=("unreadable", "jumped"), broken=arrive + 1, cheat_from=half)
