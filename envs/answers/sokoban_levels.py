"""Sokoban levels in the common text format, both ways.

Characters: ``#`` wall, ``@`` player, ``+`` player on a target, ``$`` box, ``*`` box on a target,
``.`` target, space floor (``-`` and ``_`` are read as floor too). Published levels are ragged and leave
the outside of the room as spaces; a puzzle wants a rectangle ringed by walls, so reading pads the rows
and walls in the outside (every floor cell connected to the edge without crossing a wall).
"""

from __future__ import annotations

from collections import deque

LEVEL_CHARACTERS = frozenset("#@+$*. ")
FLOOR_ALIASES = str.maketrans({"-": " ", "_": " "})
MAX_LEVEL_SIDE = 64


def level_from_text(text: str) -> tuple[str, ...]:
    """Rows of a level (as :class:`videorlvr.envs.sokoban.Puzzle` takes them) from its text.

    Blank lines around the level are ignored; a level with other characters raises ``ValueError``.
    """
    if not isinstance(text, str):
        raise TypeError(f"level text must be a str, got {type(text).__name__}")
    lines = [line.rstrip().translate(FLOOR_ALIASES) for line in text.splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError("level text is empty")
    unknown = set("".join(lines)) - LEVEL_CHARACTERS
    if unknown:
        raise ValueError(f"level text has characters outside '#@+$*. -_': {sorted(unknown)}")
    rows, cols = len(lines) + 2, max(map(len, lines)) + 2  # one extra ring, so the outside is connected
    if max(rows, cols) > MAX_LEVEL_SIDE + 2:
        raise ValueError(f"level is larger than {MAX_LEVEL_SIDE} cells on a side")
    grid = [[" "] * cols for _ in range(rows)]
    for r, line in enumerate(lines, start=1):
        grid[r][1 : 1 + len(line)] = list(line)
    outside = deque([(0, 0)])
    seen = {(0, 0)}
    while outside:
        r, c = outside.popleft()
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and (nr, nc) not in seen and grid[nr][nc] != "#":
                if grid[nr][nc] != " ":
                    raise ValueError(f"the room is open to the outside at row {nr - 1}, column {nc - 1}")
                seen.add((nr, nc))
                outside.append((nr, nc))
    for r, c in seen:
        grid[r][c] = "#"
    # Drop all-wall rows and columns beyond one wall ring.
    keep_rows = [r for r in range(rows) if any(ch != "#" for ch in grid[r])]
    keep_cols = [c for c in range(cols) if any(grid[r][c] != "#" for r in range(rows))]
    if not keep_rows:
        raise ValueError("level has no room inside its walls")
    r0, r1 = keep_rows[0] - 1, keep_rows[-1] + 1
    c0, c1 = keep_cols[0] - 1, keep_cols[-1] + 1
    return tuple("".join(grid[r][c0 : c1 + 1]) for r in range(r0, r1 + 1))


def level_to_text(level: tuple[str, ...]) -> str:
    """The level as text, one row per line."""
    return "\n".join(level)
