"""Adversarial videos against the Sokoban verifier: generators of the cheats of issue 10.

Every attack must fail for the right reason, and score no more than its legal prefix: the video cut at
``verdict.broken_frame`` with the last legal frame held (0 when frame 0 is already broken).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from videorlvr.envs.board import BoardGeometry
from videorlvr.envs.sokoban import TASK, generate, render_solution, render_states, verify
from videorlvr.envs.sokoban.constants import FLOOR_RGB, TARGET_RGB
from videorlvr.envs.sokoban.render import _draw_scene, _layout
from videorlvr.envs.sokoban.rules import end_frames
from videorlvr.envs.video import h264_round_trip

H, W = 120, 208  # small frames keep the suite fast; the rules do not depend on the resolution
SEEDS = st.integers(0, 10_000)
DIFFICULTIES = st.sampled_from(["easy", "medium", "hard"])


def _held(video: np.ndarray, frame: int) -> np.ndarray:
    """The video cut before ``frame`` with its last frame held to the original length."""
    return np.concatenate([video[:frame], np.repeat(video[frame - 1 : frame], len(video) - frame, axis=0)])


def _assert_fails_within_its_legal_prefix(puzzle, video, verdict, *reasons: str) -> None:
    assert not verdict.success
    assert any(reason in verdict.reason for reason in reasons), verdict.reason
    broken = verdict.broken_frame
    if broken == 0:
        assert verdict.reward == 0.0
    elif broken is not None:
        assert verdict.reward <= verify(puzzle, _held(video, broken)).reward


def _oracle(puzzle, extra: int = 0, height: int = H, width: int = W) -> np.ndarray:
    return render_solution(puzzle, height, width, TASK.min_frames(puzzle) + extra)


def _without_player(puzzle, boxes, height: int = H, width: int = W) -> np.ndarray:
    geometry = BoardGeometry(puzzle.rows, puzzle.cols, height, width)
    return _draw_scene(_layout(puzzle, geometry), puzzle, geometry, None, boxes)


def _read_points_mask(puzzle, height: int, width: int) -> np.ndarray:
    """bool (H, W): 5x5 px around every cell centre and wall midpoint, the colour references and the
    two locator bands: the pixels the sparse verifiers of issue 10 read."""
    geometry = BoardGeometry(puzzle.rows, puzzle.cols, height, width)
    mask = np.zeros((height, width), dtype=bool)
    rows, cols = np.meshgrid(np.arange(2 * puzzle.rows + 1) / 2, np.arange(2 * puzzle.cols + 1) / 2, indexing="ij")
    ys, xs = geometry.to_pixels(rows.ravel(), cols.ravel())
    for y, x in zip(ys.astype(int), xs.astype(int)):
        mask[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3] = True
    left, right, top, bottom = geometry.outer
    mid_y, mid_x = int((top + bottom) / 2), int((left + right) / 2)
    mask[mid_y - 4 : mid_y + 5] = True
    mask[:, mid_x - 4 : mid_x + 5] = True
    return mask


@settings(max_examples=10, deadline=None)
@given(
    seed=SEEDS,
    difficulty=DIFFICULTIES,
    base=st.sampled_from(["do_nothing", "noise", "jump_cut"]),
    density=st.floats(0.0, 0.3),
    read_points=st.booleans(),
    codec=st.sampled_from([False, False, True]),
)
def test_transplanted_oracle_pixels_never_pass(seed, difficulty, base, density, read_points, codec):
    height, width = 240, 416
    puzzle = generate(seed, difficulty)
    oracle = _oracle(puzzle, height=height, width=width)
    rng = np.random.default_rng(seed)
    if base == "do_nothing":
        video = np.repeat(oracle[:1], len(oracle), axis=0)
    elif base == "noise":
        video = rng.integers(0, 256, oracle.shape, dtype=np.uint8)
    else:
        cut = len(oracle) // 3
        video = np.concatenate([oracle[:cut], np.repeat(oracle[-1:], len(oracle) - cut, axis=0)])
    mask = rng.random((len(oracle), height, width)) < density
    if read_points:
        mask |= _read_points_mask(puzzle, height, width)[None]
    video = np.where(mask[..., None], oracle, video)
    if codec:
        video = h264_round_trip(video)
    verdict = verify(puzzle, video)
    _assert_fails_within_its_legal_prefix(puzzle, video, verdict, "unreadable", "illegal", "off target")


@settings(max_examples=12, deadline=None)
@given(
    seed=SEEDS,
    difficulty=DIFFICULTIES,
    mode=st.sampled_from(["no_player", "noise", "two_players", "ghost"]),
    where=st.floats(0.05, 0.8),
    length=st.integers(1, 4),
    skip=st.integers(0, 3),
)
def test_hide_and_reappear_ends_the_legal_prefix(seed, difficulty, mode, where, length, skip):
    puzzle = generate(seed, difficulty)
    states = puzzle.oracle_states
    n = len(states) - 1
    k = max(1, int(where * n))  # the first hidden state
    back = min(n, k + length - 1 + skip)  # the state shown when the player reappears
    sequence = states[:k] + [states[k]] * length + states[back:] + [states[-1]] * end_frames(TASK.min_frames(puzzle))
    video = render_states(puzzle, sequence, H, W)
    hidden = slice(k, k + length)
    rng = np.random.default_rng(seed)
    if mode == "no_player":
        video[hidden] = _without_player(puzzle, states[k][1])
    elif mode == "noise":
        video[hidden] = rng.integers(0, 256, video[hidden].shape, dtype=np.uint8)
    elif mode == "two_players":
        geometry = BoardGeometry(puzzle.rows, puzzle.cols, H, W)
        for index in range(k, k + length):
            _draw_scene(video[index], puzzle, geometry, states[k - 1][0], ())
    else:  # a cross-fade between the last shown state and the reappearance
        blend = (video[k - 1].astype(np.uint16) + render_states(puzzle, [states[back]], H, W)[0]) // 2
        video[hidden] = blend.astype(np.uint8)
    verdict = verify(puzzle, video)
    if mode == "ghost" and back - (k - 1) <= 1:
        return  # a cross-fade over one legal move reads as either side of it: nothing was hidden
    _assert_fails_within_its_legal_prefix(puzzle, video, verdict, "unreadable", "illegal")
    assert k <= verdict.broken_frame <= k + length
    if mode != "ghost":
        assert verdict.broken_frame == k and "unreadable" in verdict.reason


@settings(max_examples=12, deadline=None)
@given(seed=SEEDS, difficulty=DIFFICULTIES, share=st.floats(0.0, 1.0))
def test_videos_shorter_than_the_minimum_never_pass(seed, difficulty, share):
    puzzle = generate(seed, difficulty)
    states = puzzle.oracle_states
    frames = 3 + int(share * (TASK.min_frames(puzzle) - 4))  # 3 .. min_frames - 1
    window = end_frames(frames)
    moving = frames - window
    picks = [round(i * (len(states) - 1) / moving) for i in range(moving)]
    video = render_states(puzzle, [states[i] for i in picks] + [states[-1]] * window, H, W)
    verdict = verify(puzzle, video)
    _assert_fails_within_its_legal_prefix(puzzle, video, verdict, "needs at least", "illegal")


def _turns(puzzle) -> list[int]:
    """Indices k of oracle states where the player turns without pushing on either side of k."""
    states, moves = puzzle.oracle_states, puzzle.solution
    return [
        k
        for k in range(1, len(moves))
        if moves[k - 1].islower() and moves[k].islower() and moves[k - 1] != moves[k]
        and {moves[k - 1], moves[k]} not in ({"u", "d"}, {"l", "r"})
        and states[k - 1][1] == states[k + 1][1]
    ]


@settings(max_examples=10, deadline=None)
@given(seed=SEEDS, difficulty=DIFFICULTIES, pick=st.floats(0.0, 1.0), blended=st.booleans())
def test_corner_cuts_fail_at_the_diagonal_hop(seed, difficulty, pick, blended):
    puzzle = generate(seed, difficulty)
    turns = _turns(puzzle)
    if not turns:
        return
    k = turns[int(pick * (len(turns) - 1))]
    states = puzzle.oracle_states
    sequence = states[:k] + states[k + 1 :] + [states[-1]] * end_frames(TASK.min_frames(puzzle))
    video = render_states(puzzle, sequence, H, W)
    if blended:  # the hop frame shows the player half in each cell, as if centred on the corner
        halves = render_states(puzzle, [states[k - 1], states[k + 1]], H, W).astype(np.uint16)
        video = np.concatenate([video[:k], ((halves[0] + halves[1]) // 2).astype(np.uint8)[None], video[k:]])
    verdict = verify(puzzle, video)
    _assert_fails_within_its_legal_prefix(puzzle, video, verdict, "diagonally", "unreadable", "players seen")
    assert k <= verdict.broken_frame <= k + 1


@settings(max_examples=12, deadline=None)
@given(
    seed=SEEDS,
    difficulty=DIFFICULTIES,
    when=st.floats(0.0, 1.0),
    which=st.floats(0.0, 1.0),
    paint=st.sampled_from(["floor", "target", "half"]),
)
def test_a_wall_erased_in_any_single_frame_ends_the_legal_prefix_there(seed, difficulty, when, which, paint):
    puzzle = generate(seed, difficulty)
    video = _oracle(puzzle, extra=5).copy()
    frame = int(when * (len(video) - 1))
    wall = sorted(puzzle.wall_set)[int(which * (len(puzzle.wall_set) - 1))]
    y0, x0, y1, x1 = BoardGeometry(puzzle.rows, puzzle.cols, H, W).cell_box(*puzzle.cell(wall))
    if paint == "half":
        x1 = (x0 + x1) // 2
    video[frame, y0:y1, x0:x1] = FLOOR_RGB if paint != "target" else TARGET_RGB
    verdict = verify(puzzle, video)
    _assert_fails_within_its_legal_prefix(puzzle, video, verdict, "(wall)")
    assert verdict.broken_frame == frame and verdict.trace[frame] is None


@settings(max_examples=10, deadline=None)
@given(
    seed=SEEDS,
    difficulty=DIFFICULTIES,
    mode=st.sampled_from(["pull_back", "empty_board", "half_box", "noise", "extra_box"]),
    tail=st.integers(1, 6),
)
def test_undoing_at_the_end_fails(seed, difficulty, mode, tail):
    puzzle = generate(seed, difficulty)
    states = puzzle.oracle_states
    video = _oracle(puzzle, extra=4).copy()
    tail = min(tail, end_frames(len(video)) - 1)  # the solved state is shown first, then undone
    last = slice(len(video) - tail, None)
    solved_boxes = states[-1][1]
    if mode == "pull_back":  # the last push undone: the box comes back, pulled
        video[last] = render_states(puzzle, [states[-2]], H, W)[0]
    elif mode == "empty_board":
        video[last] = _without_player(puzzle, ())
    elif mode == "half_box":  # one box at half opacity: neither there nor gone
        gone = render_states(puzzle, [(states[-1][0], solved_boxes[1:])], H, W)[0]
        video[last] = ((video[-1].astype(np.uint16) + gone) // 2).astype(np.uint8)
    elif mode == "noise":
        video[last] = np.random.default_rng(seed).integers(0, 256, video[last].shape, dtype=np.uint8)
    else:  # a duplicate box on a floor cell next to the player
        free = [c for c in range(puzzle.rows * puzzle.cols) if c not in puzzle.wall_set and c not in solved_boxes
                and c != states[-1][0] and c not in puzzle.target_set]
        geometry = BoardGeometry(puzzle.rows, puzzle.cols, H, W)
        for index in range(len(video) - tail, len(video)):
            _draw_scene(video[index], puzzle, geometry, None, free[:1])
    verdict = verify(puzzle, video)
    _assert_fails_within_its_legal_prefix(puzzle, video, verdict, "unreadable", "illegal")
    assert verdict.broken_frame == len(video) - tail


@settings(max_examples=8, deadline=None)
@given(seed=SEEDS, difficulty=DIFFICULTIES, when=st.floats(0.0, 1.0), how=st.sampled_from(["roll", "other", "flip"]))
def test_board_redraws_end_the_legal_prefix(seed, difficulty, when, how):
    puzzle = generate(seed, difficulty)
    video = _oracle(puzzle, extra=3).copy()
    frame = int(when * (len(video) - 1))
    geometry = BoardGeometry(puzzle.rows, puzzle.cols, H, W)
    y0, x0 = geometry.origin
    original = video[frame].copy()
    board = video[frame, y0 : y0 + puzzle.rows * geometry.cell, x0 : x0 + puzzle.cols * geometry.cell]
    if how == "roll":  # the room redrawn one cell to the side
        board[:] = np.roll(board, geometry.cell, axis=1)
    elif how == "flip":
        board[:] = board[::-1].copy()
    else:  # another level of the same size drawn instead
        other = next(
            p for p in (generate(s, difficulty) for s in range(seed + 1, seed + 50)) if p.level != puzzle.level
        )
        video[frame] = render_solution(other, H, W, TASK.min_frames(other))[0]
    if (video[frame] == original).all():
        return  # a symmetric room redraws onto itself
    verdict = verify(puzzle, video)
    _assert_fails_within_its_legal_prefix(puzzle, video, verdict, "unreadable", "illegal", "not the puzzle's start")
    assert verdict.broken_frame == frame


@settings(max_examples=10, deadline=None)
@given(seed=SEEDS, difficulty=DIFFICULTIES, cheat=st.sampled_from(["erase_walls", "pull", "jump", "bump"]))
def test_cheating_after_the_honest_half_never_beats_it(seed, difficulty, cheat):
    puzzle = generate(seed, difficulty)
    states = puzzle.oracle_states
    half = (len(states) - 1) // 2
    window = [states[-1]] * end_frames(TASK.min_frames(puzzle))
    honest = render_states(puzzle, states[: half + 1] + [states[half]] * (len(states) - half + len(window)), H, W)
    player, boxes = states[half]
    if cheat == "erase_walls":  # the honest half, then interior walls gone while the player walks on
        video = render_states(puzzle, states + window, H, W)
        interior = puzzle.walls.copy()
        interior[[0, -1]] = interior[:, [0, -1]] = False
        geometry = BoardGeometry(puzzle.rows, puzzle.cols, H, W)
        for row, col in zip(*np.nonzero(interior)):
            y0, x0, y1, x1 = geometry.cell_box(row, col)
            video[half + 1 :, y0:y1, x0:x1] = FLOOR_RGB
        if not interior.any():
            return
    elif cheat == "pull":  # walk back through the oracle: every push undone is a pull
        video = render_states(puzzle, states[: half + 1] + states[half::-1] + window, H, W)
        if "".join(puzzle.solution[:half]).islower():
            return  # no push to undo in the first half
    elif cheat == "jump":
        video = render_states(puzzle, states[: half + 1] + window * 3, H, W)
    else:  # walk into the nearest wall
        wall = next((player + o for o in puzzle.offsets.values() if player + o in puzzle.wall_set), None)
        if wall is None:
            return
        video = render_states(puzzle, states[: half + 1] + [(wall, boxes)] + states[half + 1 :] + window, H, W)
    honest_verdict, verdict = verify(puzzle, honest), verify(puzzle, video)
    assert not verdict.success
    assert verdict.reward <= honest_verdict.reward
    assert verify(puzzle, np.repeat(honest[:1], len(honest), axis=0)).reward < honest_verdict.reward or half == 0
