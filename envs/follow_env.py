"""``gym.make("VideoMaze-v0", mode="follow")`` (and Sokoban, FlowFree): the action-conditioned environment.

The prompt gives a move list drawn from the episode's seed (``info["moves"]``), with deliberately blocked
moves among them; the answer video must show exactly the states those moves lead to, one move per frame
at most (see :mod:`videorlvr.envs.follow` for the judge and its components). The video is read by the
task's own perception, the same that reads solution videos.

Move lists: maze and Sokoban ``udlr`` strings; FlowFree a fill order, space-separated tokens of a colour
letter (``A`` = the first colour, as on the text board) and a direction, e.g. ``"Ar Ar Bd"``: the colour's
pipe grows one cell that way from its head (it starts at the colour's first dot). A move off the board,
into a filled cell or past a joined pipe is blocked and changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from videorlvr.envs.base import VideoReasoningEnv
from videorlvr.envs.follow import END_FRAMES, judge_follow, min_follow_frames
from videorlvr.envs.types import TaskSpec, Verdict

MOVE_LETTERS = "udlr"
MOVE_WORDS = {"u": "up", "d": "down", "l": "left", "r": "right"}
_STEPS = {"u": (-1, 0), "d": (1, 0), "l": (0, -1), "r": (0, 1)}
FOLLOW_MOVES = {"easy": 8, "medium": 16, "hard": 32}  # moves per episode (fewer when frames are short)
BLOCKED_SHARE = 0.25  # maze, FlowFree: the share of moves drawn blocked (when one is possible)


@dataclass(frozen=True)
class FollowTask:
    """What follow mode needs of a task: its move semantics, the states a video shows, and drawings."""

    states: Callable[[Any, str], list[Any]]  # (puzzle, moves) -> state after each move, start first
    parse: Callable[[Any, str], list[str]]  # (puzzle, moves) -> one token per move; ValueError if malformed
    words: Callable[[Any, str], str]  # (puzzle, one token) -> the move in words, for the prompt
    draw_moves: Callable[[Any, np.random.Generator, int], str]  # (puzzle, rng, count) -> a move string
    read: Callable[[Any, np.ndarray], list[Any]]  # (puzzle, video) -> state per frame, None if unreadable
    render: Callable[[Any, list[Any], int, int], np.ndarray]  # (puzzle, states, h, w) -> one frame each
    marks: Callable[[Any, Any], tuple]  # (puzzle, state) -> the cells to mark in an overlay
    blocked_rule: str  # what a blocked move does, in words


def _letters(puzzle: Any, moves: str) -> list[str]:
    if not isinstance(moves, str) or not moves or set(moves) - set(MOVE_LETTERS):
        raise ValueError(f"moves must be a non-empty string of {MOVE_LETTERS!r}, got {moves!r}")
    return list(moves)


def _letter_words(puzzle: Any, move: str) -> str:
    return MOVE_WORDS[move]


def _maze_states(puzzle: Any, moves: str) -> list[Any]:
    from videorlvr.envs.maze.rules import MOVES

    cells = [tuple(puzzle.start)]
    for move in moves:
        dy, dx = MOVES[move]
        here = cells[-1]
        ahead = (here[0] + dy, here[1] + dx)
        cells.append(ahead if puzzle.is_open(here, ahead) else here)
    return cells


def _maze_moves(puzzle: Any, rng: np.random.Generator, count: int) -> str:
    from videorlvr.envs.maze.rules import MOVES

    moves, here = [], tuple(puzzle.start)
    for _ in range(count):
        open_moves = [m for m, (dy, dx) in MOVES.items() if puzzle.is_open(here, (here[0] + dy, here[1] + dx))]
        blocked = [m for m in MOVES if m not in open_moves]
        pool = blocked if blocked and rng.random() < BLOCKED_SHARE else open_moves
        move = pool[int(rng.integers(len(pool)))]
        moves.append(move)
        if move in open_moves:
            here = (here[0] + MOVES[move][0], here[1] + MOVES[move][1])
    return "".join(moves)


def _maze_read(puzzle: Any, video: np.ndarray) -> list[Any]:
    from videorlvr.envs.maze.verify import perceive

    return [None if cell is None else tuple(cell) for cell in perceive(puzzle, video).cells]


def _maze_render(puzzle: Any, states: list[Any], height: int, width: int) -> np.ndarray:
    from videorlvr.envs.maze.render import render_agent_path

    return render_agent_path(puzzle, height, width, np.asarray(states, dtype=np.float64) + 0.5)


def _sokoban_states(puzzle: Any, moves: str) -> list[Any]:
    from videorlvr.envs.sokoban.puzzle import step

    states = [puzzle.start]
    for move in moves:
        result = step(puzzle.wall_set, states[-1], puzzle.offsets[move])
        states.append(states[-1] if result is None else result[0])
    return states


def _sokoban_moves(puzzle: Any, rng: np.random.Generator, count: int) -> str:
    return "".join(MOVE_LETTERS[int(i)] for i in rng.integers(0, 4, size=count))


def _sokoban_read(puzzle: Any, video: np.ndarray) -> list[Any]:
    from videorlvr.envs.sokoban.verify import perceive

    return list(perceive(puzzle, video).states)


def _sokoban_render(puzzle: Any, states: list[Any], height: int, width: int) -> np.ndarray:
    from videorlvr.envs.sokoban.render import render_states

    return render_states(puzzle, list(states), height, width)


def _flowfree_parse(puzzle: Any, moves: str) -> list[str]:
    tokens = moves.split() if isinstance(moves, str) else []
    letters = {chr(ord("A") + k) for k in range(puzzle.num_colors)}
    if not tokens or any(len(t) != 2 or t[0] not in letters or t[1] not in MOVE_LETTERS for t in tokens):
        raise ValueError(f"FlowFree moves must be space-separated tokens of a colour letter "
                         f"({''.join(sorted(letters))}) and one of {MOVE_LETTERS!r}, e.g. 'Ar Bd'; got {moves!r}")
    return tokens


def _flowfree_words(puzzle: Any, token: str) -> str:
    from videorlvr.envs.flowfree.constants import COLOUR_NAMES

    return f"{COLOUR_NAMES[ord(token[0]) - ord('A')]} {MOVE_WORDS[token[1]]}"


def _flowfree_grow(puzzle: Any, grid: np.ndarray, heads: list, joined: list, token: str) -> bool:
    """Apply one fill move in place (``grid``, ``heads``, ``joined``); False when it is blocked."""
    colour, (dy, dx) = ord(token[0]) - ord("A"), _STEPS[token[1]]
    y, x = heads[colour][0] + dy, heads[colour][1] + dx
    if joined[colour] or not (0 <= y < puzzle.size and 0 <= x < puzzle.size):
        return False
    if (y, x) == tuple(puzzle.paths[colour][-1]):
        joined[colour] = True  # the pipe reaches its other dot
        return True
    if grid[y, x] >= 0:
        return False
    grid[y, x], heads[colour] = colour, (y, x)
    return True


def _flowfree_states(puzzle: Any, moves: str) -> list[Any]:
    grid = puzzle.start_grid.copy()
    heads, joined = [tuple(path[0]) for path in puzzle.paths], [False] * puzzle.num_colors
    states = [tuple(map(tuple, grid.tolist()))]
    for token in _flowfree_parse(puzzle, moves):
        _flowfree_grow(puzzle, grid, heads, joined, token)
        states.append(tuple(map(tuple, grid.tolist())))
    return states


def _flowfree_moves(puzzle: Any, rng: np.random.Generator, count: int) -> str:
    grid = puzzle.start_grid.copy()
    heads, joined = [tuple(path[0]) for path in puzzle.paths], [False] * puzzle.num_colors
    tokens = [f"{chr(ord('A') + c)}{m}" for c in range(puzzle.num_colors) for m in MOVE_LETTERS]
    moves = []
    for _ in range(count):
        legal = [t for t in tokens if _flowfree_grow(puzzle, grid.copy(), list(heads), list(joined), t)]
        blocked = [t for t in tokens if t not in legal]
        pool = blocked if (blocked and rng.random() < BLOCKED_SHARE) or not legal else legal
        token = pool[int(rng.integers(len(pool)))]
        _flowfree_grow(puzzle, grid, heads, joined, token)
        moves.append(token)
    return " ".join(moves)


def _flowfree_read(puzzle: Any, video: np.ndarray) -> list[Any]:
    from videorlvr.envs.flowfree.verify import perceive

    reading = perceive(puzzle, video)
    return [tuple(map(tuple, labels.tolist())) if ok else None for labels, ok in zip(reading.labels, reading.readable)]


def _flowfree_render(puzzle: Any, states: list[Any], height: int, width: int) -> np.ndarray:
    from videorlvr.envs.flowfree.render import render_states

    return render_states(puzzle, np.asarray(states, dtype=np.int8), height, width)


def _flowfree_marks(puzzle: Any, state: Any) -> tuple:
    return tuple((r, c) for r, row in enumerate(state) for c, colour in enumerate(row) if colour >= 0)


FOLLOW_TASKS: dict[str, FollowTask] = {
    "maze": FollowTask(_maze_states, _letters, _letter_words, _maze_moves, _maze_read, _maze_render,
                       lambda puzzle, cell: (cell,),
                       "A move into a wall or out of the maze leaves the red disc where it is."),
    "flowfree": FollowTask(_flowfree_states, _flowfree_parse, _flowfree_words, _flowfree_moves, _flowfree_read,
                           _flowfree_render, _flowfree_marks,
                           "Each move grows that colour's pipe by one cell from its end (it starts at the "
                           "colour's first dot); a move off the board, into a filled cell or after the pipe "
                           "has reached its other dot changes nothing."),
    "sokoban": FollowTask(_sokoban_states, _letters, _letter_words, _sokoban_moves, _sokoban_read,
                          _sokoban_render, lambda puzzle, state: (puzzle.cell(state[0]),),
                          "A move into a wall, or a push of a box into a wall or another box, leaves the "
                          "player and every box where they are."),
}


def follow_schedule(num_moves: int, num_frames: int) -> list[int]:
    """Moves completed at each frame: at most one more per frame, all done ``END_FRAMES`` before the end."""
    active = num_frames - END_FRAMES
    if active < num_moves:
        raise ValueError(f"{num_frames} frames cannot show {num_moves} moves one per frame and hold the end")
    return [num_moves * min(t, active) // max(active, 1) for t in range(num_frames)]


class FollowEnv(VideoReasoningEnv):
    """Follow a given move list — answered by a whole video (action-conditioned, world-model mode).

    ``gym.make("VideoMaze-v0", mode="follow")``, and likewise VideoSokoban-v0 and VideoFlowFree-v0 (a fill
    order: see the module docstring).
    Like the task's video environment (same spaces, kwargs and seeds), but the prompt adds a move list
    (``info["moves"]``; drawn from the episode's seed, with blocked moves among them) and the
    answer must show the resulting states one move per frame, then hold the end state for the last
    two frames. ``follow_moves`` sets the list's length (default: 8 / 16 / 32 for easy / medium / hard,
    capped by the frames); ``reset(options={"moves": "rrdl"})`` poses a move list of your own.
    Components: ``move_agreement``, ``first_divergence``, ``end_state`` (:mod:`videorlvr.envs.follow`);
    ``env.unwrapped.solution_video()`` is the oracle follow video.
    """

    def __init__(self, task: TaskSpec, follow_moves: int | None = None, **kwargs: Any) -> None:
        if task.name not in FOLLOW_TASKS:
            raise ValueError(f"mode='follow' is available for {sorted(FOLLOW_TASKS)}, not {task.name!r}")
        self.task = task
        self.follow = FOLLOW_TASKS[task.name]
        super().__init__(**kwargs)
        default = min(FOLLOW_MOVES[self.difficulty], self.num_frames - END_FRAMES)
        count = default if follow_moves is None else follow_moves
        if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 1:
            raise ValueError(f"follow_moves must be a positive int, got {follow_moves!r}")
        if count > self.num_frames - END_FRAMES:
            raise ValueError(f"{count} moves need at least {count + END_FRAMES} frames, got {self.num_frames}")
        self.follow_moves = int(count)
        self.moves = ""
        self._expected: list[Any] = []

    def _validate_task(self, difficulty: str, height: int, width: int, num_frames: int, **kwargs: Any) -> None:
        # Frames here show the given moves, not the solution: the task checks kwargs and board size only
        # (its frame rule is checked at the most frames a video may have).
        from videorlvr.envs.video import MAX_FRAMES

        self.task.validate(difficulty, height, width, MAX_FRAMES, **kwargs)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        options = dict(options or {})
        moves = options.pop("moves", None)
        super().reset(seed=seed, options=options)
        if moves is None:
            rng = np.random.default_rng([int(self.puzzle.seed) & 0x7FFFFFFF, 0x5EED])
            moves = self.follow.draw_moves(self.puzzle, rng, self.follow_moves)
        count = len(self.follow.parse(self.puzzle, moves))
        if count > self.num_frames - END_FRAMES:
            raise ValueError(f"{count} moves need at least {count + END_FRAMES} frames")
        self.moves = moves
        self._expected = self.follow.states(self.puzzle, moves)
        return self._observation(), self._info()

    def _verify(self, video: np.ndarray) -> Verdict:
        observed = self.follow.read(self.puzzle, video)
        trace = tuple(None if state is None else self.follow.marks(self.puzzle, state) for state in observed)
        return dataclasses.replace(judge_follow(self._expected, observed), trace=trace)

    def solution_video(self, num_frames: int | None = None) -> np.ndarray:
        """The oracle follow video: uint8 ``(num_frames, H, W, 3)``, one move per frame, then held."""
        if self.puzzle is None:
            raise RuntimeError("call reset() before solution_video()")
        frames = self.num_frames if num_frames is None else num_frames
        if frames < min_follow_frames(self._expected):
            raise ValueError(f"{len(self._expected) - 1} moves need at least {min_follow_frames(self._expected)} frames")
        schedule = follow_schedule(len(self._expected) - 1, frames)
        return self.follow.render(self.puzzle, [self._expected[done] for done in schedule], self.height, self.width)

    def _observation(self) -> dict[str, Any]:
        observation = super()._observation()
        if self.moves:
            tokens = self.follow.parse(self.puzzle, self.moves)
            words = ", ".join(self.follow.words(self.puzzle, token) for token in tokens)
            observation["prompt"] = (
                f"{observation['prompt']} Instead of solving it, show exactly these {len(tokens)} moves, one "
                f"at a time, then stay still: {words}. {self.follow.blocked_rule}")
        return observation

    def _info(self) -> dict[str, Any]:
        return super()._info() | {"moves": self.moves}


def expected_states(task: str, puzzle: Any, moves: str) -> Sequence[Any]:
    """The state after each move of ``moves`` (blocked moves repeat the state), start first."""
    if task not in FOLLOW_TASKS:
        raise ValueError(f"follow mode is available for {sorted(FOLLOW_TASKS)}, not {task!r}")
    return FOLLOW_TASKS[task].states(puzzle, moves)
