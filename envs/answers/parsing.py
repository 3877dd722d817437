"""Reading a move answer out of free text: tolerant of case, separators and surrounding prose.

The answer is taken from the last ``<answer>...</answer>`` block when the text has one, else from the
whole text; within it, the *last* well-formed answer counts (a model that corrects itself is judged
on its correction). Nothing here raises on bad text: a parser returns ``None`` and a reason instead.
"""

from __future__ import annotations

import re

ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
_WORD_MOVES = {"up": "u", "down": "d", "left": "l", "right": "r"}
# One move token: a word made only of u/d/l/r letters ("rrdd", "RRllD") or a direction word.
_TOKEN = r"(?:up|down|left|right|[udlr]+)"
_SEPARATOR = r"(?:\s*(?:,|;|->|→|\||/|-|\s)\s*)"
MOVE_RUN = re.compile(rf"(?<![A-Za-z]){_TOKEN}(?:{_SEPARATOR}{_TOKEN})*(?![A-Za-z])", re.IGNORECASE)
_CELL = re.compile(r"\(?\s*(\d+)\s*,\s*(\d+)\s*\)?")
MAX_ANSWER_CHARS = 100_000  # longer texts are judged on their last MAX_ANSWER_CHARS characters


def answer_region(text: str) -> str:
    """The part of ``text`` that holds the answer: the last ``<answer>`` block, else the whole text."""
    text = text[-MAX_ANSWER_CHARS:]
    blocks = ANSWER_TAG.findall(text)
    return blocks[-1] if blocks else text


def parse_moves(text: object) -> tuple[str | None, str]:
    """The last move run in ``text`` as a lower-case ``udlr`` string, or ``(None, reason)``.

    Accepts ``rrdd``, ``R R D D``, ``right, right, down``, ``r -> r -> d``; case is ignored (so the
    Sokoban ``LURD`` notation, upper case for pushes, reads as its moves).
    """
    if not isinstance(text, str):
        return None, f"the answer must be text, got {type(text).__name__}"
    runs = MOVE_RUN.findall(answer_region(text))
    if not runs:
        return None, "no move string found (expected moves as u/d/l/r letters or up/down/left/right words)"
    tokens = re.findall(_TOKEN, runs[-1], flags=re.IGNORECASE)
    return "".join(_WORD_MOVES.get(token.lower(), token.lower()) for token in tokens), ""


def parse_paths(text: object, labels: dict[str, int]) -> tuple[dict[int, list[tuple[int, int]]] | None, str]:
    """Pipe paths from lines ``<label>: (r, c) (r, c) ...``: {colour: cells}, or ``(None, reason)``.

    ``labels`` maps every accepted label (lower case: colour names and letters) to its colour index.
    A colour named on several lines keeps its last line; lines that name no known colour are prose.
    """
    if not isinstance(text, str):
        return None, f"the answer must be text, got {type(text).__name__}"
    names = sorted(labels, key=len, reverse=True)  # "sky blue" before "blue"
    line_pattern = re.compile(
        r"^\s*[-*]?\s*(" + "|".join(re.escape(name) for name in names) + r")\s*(?:pipe|path)?\s*[:=]\s*(.*)$",
        re.IGNORECASE,
    )
    paths: dict[int, list[tuple[int, int]]] = {}
    for line in answer_region(text).splitlines():
        match = line_pattern.match(line)
        if not match:
            continue
        cells = [(int(r), int(c)) for r, c in _CELL.findall(match.group(2))]
        if cells:
            paths[labels[match.group(1).lower()]] = cells
    if not paths:
        return None, "no pipe path found (expected lines like 'red: (0,0) (0,1) (1,1)')"
    return paths, ""
