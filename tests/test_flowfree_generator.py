"""FlowFree generation: unique solutions (checked by an independent brute force too), presets, kwargs,
bounded failure, determinism and the puzzle dict."""

import json
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videorlvr.envs.flowfree import FlowFreePuzzle, count_solutions, find_solutions, generate
from videorlvr.envs.flowfree.constants import PALETTE, PRESETS
from videorlvr.envs.flowfree.generator import random_cover, resolve_settings


def naive_count(size, endpoints, cap):
    """Solutions counted by plain enumeration: each colour walks from its first endpoint to its second,
    colour after colour, through empty cells; a solution fills every cell. No pruning at all."""
    grid = [[-1] * size for _ in range(size)]
    for colour, (a, b) in enumerate(endpoints):
        grid[a[0]][a[1]] = grid[b[0]][b[1]] = colour
    count = 0

    def walk(colour, cell):
        nonlocal count
        if count >= cap:
            return
        if colour == len(endpoints):
            count += all(v >= 0 for row in grid for v in row)
            return
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            r, c = cell[0] + dr, cell[1] + dc
            if not (0 <= r < size and 0 <= c < size):
                continue
            if (r, c) == endpoints[colour][1]:
                walk(colour + 1, endpoints[colour + 1][0] if colour + 1 < len(endpoints) else None)
            elif grid[r][c] == -1:
                grid[r][c] = colour
                walk(colour, (r, c))
                grid[r][c] = -1

    walk(0, endpoints[0][0])
    return count


def _induced(puzzle):
    """True when no pipe touches itself: same-coloured neighbours are consecutive on the pipe."""
    for path in puzzle.paths:
        index = {cell: i for i, cell in enumerate(path)}
        for cell, i in index.items():
            for dr, dc in ((0, 1), (1, 0)):
                j = index.get((cell[0] + dr, cell[1] + dc))
                if j is not None and abs(i - j) != 1:
                    return False
    return True


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    request=st.sampled_from([
        ("easy", {}), ("medium", {}), ("hard", {}), ("easy", {"size": 4}), ("medium", {"size": 6, "num_colors": 6}),
        ("medium", {"size": 8}), ("easy", {"size": 5, "num_colors": 6}),
    ]),
)
def test_generated_board_has_exactly_its_stored_solution(seed, request):
    difficulty, kwargs = request
    puzzle = generate(seed, difficulty, **kwargs)
    solutions = find_solutions(puzzle.size, puzzle.endpoints, limit=2, node_budget=10**6)
    assert len(solutions) == 1
    assert np.array_equal(solutions[0], puzzle.solution_grid)
    assert count_solutions(puzzle.size, puzzle.endpoints, limit=2, node_budget=10**6).solutions == 1


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), difficulty=st.sampled_from(list(PRESETS)))
def test_generated_pipes_never_touch_themselves_and_cover_the_board(seed, difficulty):
    puzzle = generate(seed, difficulty)
    assert (puzzle.size, puzzle.num_colors) == tuple(PRESETS[difficulty].values())
    assert _induced(puzzle)
    assert all(len(path) >= 3 for path in puzzle.paths)  # endpoints never adjacent
    grid = puzzle.solution_grid
    assert (grid >= 0).all()
    same = (grid[:-1, :-1] == grid[1:, :-1]) & (grid[:-1, :-1] == grid[:-1, 1:]) & (grid[:-1, :-1] == grid[1:, 1:])
    assert not same.any()  # no 2x2 block of one colour


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), size=st.sampled_from([4, 5]), perturb=st.booleans())
def test_solver_counts_agree_with_brute_force(seed, size, perturb):
    rng = random.Random(seed)
    colours = rng.choice([2, 3, 4] if size == 4 else [3, 4, 5])
    cover = random_cover(size, colours, rng)
    if cover is None:
        return
    endpoints = [(path[0], path[-1]) for path in cover]
    if perturb:  # move one endpoint to a free cell: often unsolvable or ambiguous
        used = {cell for pair in endpoints for cell in pair}
        free = [(r, c) for r in range(size) for c in range(size) if (r, c) not in used]
        i = rng.randrange(colours)
        endpoints[i] = (endpoints[i][0], rng.choice(free))
    expected = naive_count(size, endpoints, cap=12)
    assert count_solutions(size, endpoints, limit=12, node_budget=10**6).solutions == expected
    assert len(find_solutions(size, endpoints, limit=12)) == expected


def test_solver_knows_parity_and_ambiguity():
    # One colour from corner to corner of a 4x4 board: both ends even, 16 cells -> no Hamiltonian path.
    assert count_solutions(4, [((0, 0), (3, 3))]).solutions == 0
    # One colour along the top edge: many ways to snake through the board.
    assert count_solutions(4, [((0, 0), (0, 3))]).solutions == 2
    assert count_solutions(4, [((0, 0), (0, 3))], limit=100).solutions > 2
    budget = count_solutions(8, [((0, 0), (7, 0))], limit=100, node_budget=50)
    assert not budget.complete and budget.nodes == 50


def test_generation_is_deterministic_per_seed():
    assert generate(5, "medium") == generate(5, "medium")
    assert generate(5, "medium").to_dict() == generate(5, "medium").to_dict()
    boards = {json.dumps(generate(seed, "medium").to_dict()["paths"]) for seed in range(10)}
    assert len(boards) == 10


def test_size_and_num_colors_override_the_preset():
    puzzle = generate(1, "easy", size=6, num_colors=5)
    assert (puzzle.size, puzzle.num_colors, puzzle.difficulty) == (6, 5, "easy")
    assert resolve_settings("hard", size=7) == (7, 6)
    assert resolve_settings("hard", size=12) == (12, 14)
    assert generate(2, "hard", size=12).num_colors == 14


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"num_colors": 17}, ValueError),  # more than the palette / the board allows
        ({"size": 4, "num_colors": 6}, ValueError),  # 6 pipes of 3+ cells need more than 16 cells
        ({"num_colors": 1}, ValueError),
        ({"size": 3}, ValueError),
        ({"size": 13}, ValueError),
        ({"size": 7.0}, TypeError),
        ({"num_colors": "4"}, TypeError),
        ({"max_attempts": 0}, ValueError),
    ],
)
def test_impossible_requests_raise_clear_errors(kwargs, error):
    with pytest.raises(error):
        generate(0, "medium", **kwargs)


def test_unknown_difficulty_and_bad_seed_are_rejected():
    with pytest.raises(ValueError, match="difficulty"):
        generate(0, "extreme")
    with pytest.raises(TypeError, match="seed"):
        generate("7", "easy")


def test_exhausted_attempts_raise_value_error_quickly():
    # Two pipes that never touch themselves cannot fill a 4x4 board with a unique solution.
    with pytest.raises(ValueError, match="could not generate"):
        generate(0, "easy", size=4, num_colors=2, max_attempts=50)


def test_puzzle_dict_round_trips_through_json():
    puzzle = generate(9, "hard")
    data = json.loads(json.dumps(puzzle.to_dict()))
    assert set(data) == {"seed", "difficulty", "size", "paths"}
    again = FlowFreePuzzle.from_dict(data)
    assert again == puzzle and np.array_equal(again.solution_grid, puzzle.solution_grid)


SNAKE = {"seed": 0, "difficulty": "easy", "size": 4, "paths": [
    [[0, 0], [0, 1], [0, 2], [0, 3]], [[1, 3], [1, 2], [1, 1], [1, 0]],
    [[2, 0], [2, 1], [2, 2], [2, 3]], [[3, 3], [3, 2], [3, 1], [3, 0]],
]}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["paths"][0].__setitem__(1, [0, 0]), "covered twice"),
        (lambda d: d["paths"].pop(), "uncovered"),
        (lambda d: d["paths"].__setitem__(0, [[0, 0], [0, 2], [0, 1], [0, 3]]), "jumps"),
        (lambda d: d["paths"].__setitem__(0, [[0, 0]]), "at least 2"),
        (lambda d: d["paths"][0].__setitem__(3, [0, 4]), "outside"),
        (lambda d: d.__setitem__("size", 99), "size"),
        (lambda d: d.pop("paths"), "lacks"),
        (lambda d: d.__setitem__("paths", [["a", 1]]), "pairs"),
    ],
)
def test_from_dict_rejects_inconsistent_boards(mutate, message):
    data = json.loads(json.dumps(SNAKE))
    FlowFreePuzzle.from_dict(data)  # the unmutated board is valid (puzzles need not be unique to load)
    mutate(data)
    with pytest.raises(ValueError, match=message):
        FlowFreePuzzle.from_dict(data)


def test_palette_has_at_least_twelve_distinct_colours_none_white_or_black():
    colours = np.array(PALETTE, dtype=float) / 255.0
    assert len(colours) >= 12
    assert not ((colours == 0).all(axis=1) | (colours == 1).all(axis=1)).any()
    distance = np.sqrt(((colours[:, None] - colours[None]) ** 2).sum(-1)) + np.eye(len(colours)) * 9
    assert distance.min() > 0.2
