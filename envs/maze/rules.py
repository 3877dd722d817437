"""Maze rules over a cell sequence: pixel-free, so a video, a move string or a text answer share them.

Input: the agent's cell in each frame (``None`` where perception could not explain the frame). Rules:

- Frame 0 must show the agent on the start.
- Every frame must be readable: an unreadable frame ends the *legal prefix* (it licenses no motion).
- Between consecutive frames the agent stays or makes ``MAX_MOVES_PER_FRAME`` (1) move to an adjacent
  open cell: never across a wall, never diagonally, never a jump. The first frame that breaks this
  ends the legal prefix too.
- Success: the whole video is legal and its final :func:`end_window` frames all show the agent on the
  goal. So a maze whose oracle path has L moves needs :func:`frames_for_moves` ``(L)`` frames (the fewest
  T with ``T - end_window(T) >= L``); a shorter video can never succeed, and says so.

Dense terms (each in [0, 1]) credit only the legal prefix and only what the agent did, never what was
true at the start: ``progress`` is the share of the start-goal distance closed by cells the agent stood
on in the legal prefix (``k / L`` after k oracle moves); ``path_valid`` is the same share, but only for a
video with no rule break at all; ``goal_reached`` is 1 on success. The oracle cut after k moves (last
frame held) scores ``6k / 8L``, rising in k, until success; a video that breaks a rule scores less than
the same video cut at the break with its last legal frame held.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from videorlvr.envs.maze.constants import END_FRACTION, MAX_MOVES_PER_FRAME, MIN_END_FRAMES, WEIGHTS
from videorlvr.envs.maze.generator import MazePuzzle
from videorlvr.envs.types import Cell, Verdict, make_verdict

MOVES = {"u": (-1, 0), "d": (1, 0), "l": (0, -1), "r": (0, 1)}


def end_window(num_frames: int) -> int:
    """Frames at the end of a video that must all show the solved state: ``max(2, ceil(0.1 T))``."""
    return max(MIN_END_FRAMES, math.ceil(END_FRACTION * num_frames - 1e-9))


def frames_for_moves(moves: int) -> int:
    """The fewest frames T in which ``moves`` moves fit, one per frame, before the end window."""
    frames = max(2, moves + MIN_END_FRAMES)
    while frames - end_window(frames) < moves:
        frames += 1
    return frames


def min_frames(puzzle: MazePuzzle) -> int:
    """The fewest frames a video of this maze needs to succeed: ``frames_for_moves(path_length)``."""
    return frames_for_moves(puzzle.path_length)


def cells_from_moves(puzzle: MazePuzzle, moves: str) -> list[Cell]:
    """The cells visited by a ``udlr`` move string from the start (walls are not checked here)."""
    if not isinstance(moves, str):
        raise TypeError(f"moves must be a string of 'udlr', got {type(moves).__name__}")
    unknown = set(moves.lower()) - set(MOVES)
    if unknown:
        raise ValueError(f"moves may only contain 'u', 'd', 'l', 'r', got {sorted(unknown)}")
    cells = [puzzle.start]
    for move in moves.lower():
        dy, dx = MOVES[move]
        cells.append((cells[-1][0] + dy, cells[-1][1] + dx))
    return cells


def judge_moves(puzzle: MazePuzzle, moves: str) -> Verdict:
    """Judge a move string: one move per frame, then the final cell held as long as a video must."""
    cells = cells_from_moves(puzzle, moves)
    frames = max(min_frames(puzzle), frames_for_moves(len(cells) - 1))
    return judge(puzzle, cells + [cells[-1]] * (frames - len(cells)))


def _illegal_reason(puzzle: MazePuzzle, a: Cell, b: Cell, frame: int) -> str | None:
    """Why the step ``a`` (frame - 1) -> ``b`` (frame) is illegal, or None when it is legal."""
    if a == b:
        return None
    if not puzzle.in_grid(b):
        return f"agent left the maze from {a} at frame {frame}"
    dy, dx = abs(a[0] - b[0]), abs(a[1] - b[1])
    if dy == 1 and dx == 1:
        return f"agent moved diagonally from {a} to {b} at frame {frame}"
    if dy + dx == 1:
        return None if puzzle.is_open(a, b) else f"agent crossed the wall between {a} and {b} at frame {frame}"
    return (
        f"agent jumped {dy + dx} cells from {a} to {b} at frame {frame} "
        f"(at most {MAX_MOVES_PER_FRAME} move per frame)"
    )


def judge(
    puzzle: MazePuzzle, cells: Sequence[Cell | None], unreadable: Sequence[str] | None = None
) -> Verdict:
    """Judge the agent's cell per frame (``None`` = unreadable) under the rules in the module docstring.

    unreadable: optional per-frame text saying why a ``None`` frame could not be read (for the reason).
    """
    frames = len(cells)
    if frames < 1:
        raise ValueError("need at least 1 frame")
    cells = [None if cell is None else (int(cell[0]), int(cell[1])) for cell in cells]
    oracle = frozenset(puzzle.solution)
    trace = tuple(None if cell is None else (cell,) for cell in cells)

    def why_unreadable(frame: int) -> str:
        detail = unreadable[frame] if unreadable is not None and unreadable[frame] else "agent not found"
        return f"frame {frame} is unreadable: {detail}"

    reason, broken = "", None
    if cells[0] is None:
        reason, broken = why_unreadable(0), 0
    elif cells[0] != puzzle.start:
        reason, broken = f"agent does not start on the start {puzzle.start} (frame 0 shows it at {cells[0]})", 0
    else:
        for frame in range(1, frames):
            if cells[frame] is None:
                reason, broken = why_unreadable(frame), frame
                break
            step_reason = _illegal_reason(puzzle, cells[frame - 1], cells[frame], frame)
            if step_reason is not None:
                reason, broken = step_reason, frame
                break
    visited = {cell for cell in cells[: frames if broken is None else broken] if cell is not None}
    length = max(1, puzzle.path_length)
    progress = 1.0 - min(int(puzzle.goal_distance[cell]) for cell in visited) / length if visited else 0.0
    window = end_window(frames)
    ends_on_goal = all(cell == puzzle.goal for cell in cells[frames - window :])
    success = broken is None and ends_on_goal and frames >= min_frames(puzzle)
    if not reason and not success:
        needed = min_frames(puzzle)
        if frames < needed:
            reason = (
                f"video has {frames} frames; this maze needs at least {needed} ({puzzle.path_length} moves, "
                f"one per frame, then {end_window(needed)} frames on the goal)"
            )
        else:
            reason = f"agent is not on the goal {puzzle.goal} in all of the final {window} frames"
    components = {
        "progress": progress,
        "path_valid": progress if broken is None else 0.0,
        "goal_reached": float(success),
    }
    return make_verdict(
        success,
        components,
        WEIGHTS,
        reason,
        predicted_cells=frozenset(visited),
        oracle_cells=oracle,
        trace=trace,
        broken_frame=broken,
    )
