"""Progress bars for every long command: a live bar on a terminal, plain lines in a log.

tqdm redraws one line with carriage returns, which floods a log file or a batch job's output with
thousands of partial updates. :func:`progress_bar` gives a normal tqdm bar when its stream is a terminal
and otherwise a bar that prints one complete line per update, at most every ``log_interval`` seconds
(and once at the end).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

from tqdm import tqdm

LOG_INTERVAL_S = 30.0


class LineProgress(tqdm):
    """A tqdm whose every refresh is one whole line (``desc: 40/100 [00:12<00:18, 3.2it/s]``)."""

    def __init__(self, *args: Any, stream: IO[str], **kwargs: Any) -> None:
        self._stream = stream
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if self.n == 0 and self.total and not msg:  # nothing done yet: no "0/100" line
            return True
        self._stream.write((msg or self.format_meter(**self.format_dict)).strip() + "\n")
        self._stream.flush()
        return True


def is_terminal(stream: IO[str]) -> bool:
    """True when ``stream`` is an interactive terminal."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: float | None = None,
    initial: float = 0,
    desc: str = "",
    unit: str = "it",
    disable: bool = False,
    stream: IO[str] | None = None,
    log_interval: float = LOG_INTERVAL_S,
    position: int | None = None,
) -> tqdm:
    """A tqdm bar on ``stream`` (default stderr): live on a terminal, one line per update elsewhere.

    Use it as tqdm: ``for x in progress_bar(items, desc="score")`` or ``with progress_bar(total=n) as bar:
    bar.update()``. ``initial``: steps already done (a resumed run). ``log_interval``: seconds between lines
    when not on a terminal. ``position``: the terminal line of this bar, for bars of parallel processes.
    """
    stream = sys.stderr if stream is None else stream
    if is_terminal(stream):
        return tqdm(iterable, total=total, initial=initial, desc=desc, unit=unit, disable=disable, file=stream,
                    dynamic_ncols=True, position=position)  # fmt: skip
    return LineProgress(
        iterable, total=total, initial=initial, desc=desc, unit=unit, disable=disable, stream=stream,
        mininterval=log_interval, maxinterval=float("inf"), ascii=True,
    )  # fmt: skip


__all__ = ["LineProgress", "is_terminal", "progress_bar"]
