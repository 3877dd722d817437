"""The Sokoban puzzle (a frozen dataclass) and the game mechanics on flat cell indices.

A level is a tuple of XSB row strings (``#`` wall, ``.`` target, ``$`` box, ``*`` box on target,
``@`` player, ``+`` player on target, space floor) whose outer ring is all walls. Cells are flat
indices ``row * cols + col``. A game state is ``(player, boxes)`` with ``boxes`` a sorted tuple.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from videorlvr.envs.sokoban.constants import (
    BOX_CHAR,
    BOX_ON_TARGET_CHAR,
    LEVEL_CHARS,
    MOVES,
    PLAYER_CHAR,
    PLAYER_ON_TARGET_CHAR,
    TARGET_CHAR,
    WALL_CHAR,
)
from videorlvr.envs.types import Cell

State = tuple[int, tuple[int, ...]]  # (player cell, sorted box cells)


@dataclass(frozen=True)
class Puzzle:
    """One Sokoban level with its oracle solution.

    seed / difficulty: how it was generated. level: XSB rows. solution: the oracle's moves in
    ``udlr``, uppercase where the move pushes a box.
    """

    seed: int
    difficulty: str
    level: tuple[str, ...]
    solution: str

    def __post_init__(self) -> None:
        _check_level(self.level)
        if not isinstance(self.solution, str) or set(self.solution) - set("udlrUDLR"):
            raise ValueError(f"solution must be a string over 'udlrUDLR', got {self.solution!r}")
        states = replay(self, self.solution)
        if states is None:
            raise ValueError("solution contains an illegal move or a wrong push mark for this level")
        if not self.is_solved(states[-1]):
            raise ValueError("solution does not put every box on a target")

    # --- layout --------------------------------------------------------------------------------
    @property
    def rows(self) -> int:
        return len(self.level)

    @property
    def cols(self) -> int:
        return len(self.level[0])

    @cached_property
    def grid(self) -> np.ndarray:
        """uint8 ``(rows, cols)`` of the level characters' code points."""
        return np.array([[ord(ch) for ch in row] for row in self.level], dtype=np.uint8)

    @cached_property
    def walls(self) -> np.ndarray:
        """bool ``(rows, cols)``: wall cells."""
        return self.grid == ord(WALL_CHAR)

    @cached_property
    def targets(self) -> np.ndarray:
        """bool ``(rows, cols)``: target cells."""
        grid = self.grid
        return (
            (grid == ord(TARGET_CHAR))
            | (grid == ord(BOX_ON_TARGET_CHAR))
            | (grid == ord(PLAYER_ON_TARGET_CHAR))
        )

    @cached_property
    def wall_set(self) -> frozenset[int]:
        return frozenset(np.flatnonzero(self.walls).tolist())

    @cached_property
    def target_set(self) -> frozenset[int]:
        return frozenset(np.flatnonzero(self.targets).tolist())

    @cached_property
    def start(self) -> State:
        """The start state ``(player, boxes)``."""
        text = "".join(self.level)
        player = next(i for i, ch in enumerate(text) if ch in (PLAYER_CHAR, PLAYER_ON_TARGET_CHAR))
        boxes = tuple(i for i, ch in enumerate(text) if ch in (BOX_CHAR, BOX_ON_TARGET_CHAR))
        return player, boxes

    @property
    def num_boxes(self) -> int:
        return len(self.start[1])

    @cached_property
    def offsets(self) -> dict[str, int]:
        """Flat-index step of each move letter."""
        return {letter: dr * self.cols + dc for letter, (dr, dc) in MOVES.items()}

    def cell(self, index: int) -> Cell:
        return divmod(int(index), self.cols)

    def is_solved(self, state: State) -> bool:
        return set(state[1]) == self.target_set

    @cached_property
    def oracle_states(self) -> list[State]:
        """Every state along the oracle solution, start included."""
        states = replay(self, self.solution)
        assert states is not None  # checked in __post_init__
        return states

    # --- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (the dataset's ``sokoban_metadata``)."""
        return {
            "seed": int(self.seed),
            "difficulty": self.difficulty,
            "rows": self.rows,
            "cols": self.cols,
            "num_boxes": self.num_boxes,
            "level": list(self.level),
            "solution": self.solution,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Puzzle:
        if not isinstance(data, Mapping):
            raise TypeError(f"puzzle must be a mapping, got {type(data).__name__}")
        missing = {"seed", "difficulty", "level", "solution"} - set(data)
        if missing:
            raise ValueError(f"sokoban puzzle dict is missing {sorted(missing)}")
        level = data["level"]
        if isinstance(level, str) or not all(isinstance(row, str) for row in level):
            raise TypeError("puzzle 'level' must be a list of row strings")
        puzzle = cls(int(data["seed"]), str(data["difficulty"]), tuple(level), str(data["solution"]))
        for key in ("rows", "cols", "num_boxes"):
            if key in data and int(data[key]) != getattr(puzzle, key):
                raise ValueError(
                    f"puzzle dict says {key}={data[key]} but its level has {getattr(puzzle, key)}"
                )
        return puzzle


def _check_level(level: tuple[str, ...]) -> None:
    if not isinstance(level, tuple) or not level or not all(isinstance(row, str) for row in level):
        raise TypeError("level must be a non-empty tuple of row strings")
    if len({len(row) for row in level}) != 1:
        raise ValueError("level rows must all have the same length")
    chars = set("".join(level))
    if chars - LEVEL_CHARS:
        raise ValueError(f"level has unknown characters {sorted(chars - LEVEL_CHARS)}")
    border = level[0] + level[-1] + "".join(row[0] + row[-1] for row in level)
    if set(border) != {WALL_CHAR}:
        raise ValueError("the level's outer ring must be all walls")
    text = "".join(level)
    players = text.count(PLAYER_CHAR) + text.count(PLAYER_ON_TARGET_CHAR)
    if players != 1:
        raise ValueError(f"level must have exactly one player, found {players}")
    boxes = text.count(BOX_CHAR) + text.count(BOX_ON_TARGET_CHAR)
    targets = text.count(TARGET_CHAR) + text.count(BOX_ON_TARGET_CHAR) + text.count(PLAYER_ON_TARGET_CHAR)
    if boxes < 1 or boxes != targets:
        raise ValueError(
            f"level needs as many targets as boxes (at least one): {boxes} boxes, {targets} targets"
        )


def step(walls: frozenset[int], state: State, offset: int) -> tuple[State, bool] | None:
    """Apply one move; returns ``(next state, pushed)`` or ``None`` if the move is illegal."""
    player, boxes = state
    target = player + offset
    if target in walls:
        return None
    if target not in boxes:
        return (target, boxes), False
    beyond = target + offset
    if beyond in walls or beyond in boxes:
        return None
    return (target, tuple(sorted(beyond if b == target else b for b in boxes))), True


def replay(puzzle: Puzzle, moves: str) -> list[State] | None:
    """States along a legal move string (push marks must match), or ``None`` at the first illegal move."""
    state = puzzle.start
    states = [state]
    walls = puzzle.wall_set
    for letter in moves:
        result = step(walls, state, puzzle.offsets[letter.lower()])
        if result is None or result[1] != letter.isupper():
            return None
        state = result[0]
        states.append(state)
    return states


def level_from_state(walls: np.ndarray, targets: np.ndarray, state: State) -> tuple[str, ...]:
    """XSB rows for a layout (bool ``(rows, cols)`` walls and targets) and a state."""
    rows, cols = walls.shape
    chars = np.full(rows * cols, " ", dtype="<U1")
    chars[targets.ravel()] = TARGET_CHAR
    chars[walls.ravel()] = WALL_CHAR
    player, boxes = state
    for box in boxes:
        chars[box] = BOX_ON_TARGET_CHAR if targets.flat[box] else BOX_CHAR
    chars[player] = PLAYER_ON_TARGET_CHAR if targets.flat[player] else PLAYER_CHAR
    return tuple("".join(row) for row in chars.reshape(rows, cols))
