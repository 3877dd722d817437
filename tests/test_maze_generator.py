"""VideoMaze generation: seeded perfect mazes whose oracle path lands in the difficulty's bucket."""

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videorlvr.envs.maze import MazePuzzle, generate
from videorlvr.envs.maze.constants import PRESETS
from videorlvr.envs.maze.generator import path_bucket


def _bfs_path(puzzle, start, goal):
    """Shortest path by plain BFS over open passages (independent of the generator's own tree code)."""
    parent = {start: None}
    queue = [start]
    for cell in queue:
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            other = (cell[0] + dy, cell[1] + dx)
            if other not in parent and puzzle.is_open(cell, other):
                parent[other] = cell
                queue.append(other)
    if goal not in parent:
        return None, len(parent)
    path = [goal]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    return path[::-1], len(parent)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 2),
    difficulty=st.sampled_from(sorted(PRESETS)),
    algorithm=st.sampled_from(["dfs", "kruskal"]),
)
def test_maze_is_perfect_and_the_oracle_path_is_the_shortest(seed, difficulty, algorithm):
    puzzle = generate(seed, difficulty, algorithm=algorithm)
    rows, cols = PRESETS[difficulty].size
    assert (puzzle.rows, puzzle.cols) == (rows, cols)
    passages = int(puzzle.right.sum() + puzzle.down.sum())
    assert passages == rows * cols - 1  # a spanning tree: connected with no cycles
    path, reached = _bfs_path(puzzle, puzzle.start, puzzle.goal)
    assert reached == rows * cols
    assert list(puzzle.solution) == path
    low, high = PRESETS[difficulty].path_lengths
    assert low <= puzzle.path_length <= high
    assert all(puzzle.is_open(a, b) for a, b in itertools.pairwise(puzzle.solution))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    rows=st.integers(2, 16),
    cols=st.integers(2, 16),
    difficulty=st.sampled_from(sorted(PRESETS)),
)
def test_custom_sizes_scale_the_bucket_or_fall_back_to_the_longest_path(seed, rows, cols, difficulty):
    puzzle = generate(seed, difficulty, size=(rows, cols))
    assert (puzzle.rows, puzzle.cols) == (rows, cols)
    low, high = path_bucket(difficulty, rows, cols)
    assert puzzle.path_length <= high
    if puzzle.path_length < low:  # the fallback: nothing in the bucket, so the longest path found
        path, _ = _bfs_path(puzzle, puzzle.start, puzzle.goal)
        assert len(path) - 1 == puzzle.path_length
    assert MazePuzzle.from_dict(json.loads(json.dumps(puzzle.to_dict()))) == puzzle


def test_impossible_bucket_falls_back_without_looping():
    puzzle = generate(0, "easy", size=(2, 2), path_length=(50, 60))
    assert puzzle.path_length == 3  # the longest path a 2x2 maze has


def test_explicit_path_length_bucket_is_respected():
    for seed in range(20):
        assert 7 <= generate(seed, "medium", path_length=(7, 7)).path_length <= 7


def test_same_seed_same_puzzle_and_different_seeds_differ():
    assert generate(123, "hard") == generate(123, "hard")
    assert generate(123, "hard").to_dict() == generate(123, "hard").to_dict()
    layouts = {generate(seed, "medium").open_right for seed in range(50)}
    assert len(layouts) == 50
    assert generate(5, "medium", algorithm="dfs") != generate(5, "medium", algorithm="kruskal")


def test_dict_round_trip_is_json_serialisable():
    puzzle = generate(9, "medium")
    data = json.loads(json.dumps(puzzle.to_dict()))
    assert data["task"] == "maze" and data["seed"] == 9 and data["difficulty"] == "medium"
    assert MazePuzzle.from_dict(data) == puzzle


def _tampered(**changes):
    data = generate(9, "medium").to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "data, message",
    [
        (_tampered(open_right=["1" * 6] * 7), "perfect maze"),  # loops
        (_tampered(open_down=["0" * 7] * 6), "perfect maze"),  # disconnected
        (_tampered(open_right=["x" * 6] * 7), "'0'/'1'"),
        (_tampered(open_right=["1" * 5] * 7), "strings of 6"),
        (_tampered(solution=[[0, 0]]), "solution"),
        (_tampered(goal=[9, 9]), "inside the grid"),
        (_tampered(rows=1), "size"),
        (_tampered(task="sokoban"), "task"),
        (_tampered(algorithm="prim"), "algorithm"),
        ({"seed": 1}, "lacks"),
    ],
)
def test_tampered_puzzle_dicts_are_rejected(data, message):
    with pytest.raises(ValueError, match=message):
        MazePuzzle.from_dict(data)


def test_non_mapping_puzzle_is_a_type_error():
    with pytest.raises(TypeError):
        MazePuzzle.from_dict(["not", "a", "dict"])


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"seed": -1}, ValueError),
        ({"seed": True}, ValueError),
        ({"seed": 1.5}, ValueError),
        ({"seed": 1, "difficulty": "extreme"}, ValueError),
        ({"seed": 1, "size": (1, 5)}, ValueError),
        ({"seed": 1, "size": (5, 33)}, ValueError),
        ({"seed": 1, "algorithm": "prim"}, ValueError),
        ({"seed": 1, "path_length": (5, 2)}, ValueError),
        ({"seed": 1, "path_length": (0, 2)}, ValueError),
    ],
)
def test_bad_generate_arguments_raise(kwargs, error):
    with pytest.raises(error):
        generate(**kwargs)


def test_tree_distances_match_bfs():
    puzzle = generate(4, "hard", algorithm="kruskal")
    cells = [(r, c) for r in range(puzzle.rows) for c in range(puzzle.cols)]
    for a, b in zip(cells[::7], cells[3::5]):
        path, _ = _bfs_path(puzzle, a, b)
        assert puzzle.path_between(a, b) == path
        assert puzzle.distance(a, b) == len(path) - 1
