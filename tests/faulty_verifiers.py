"""Verifiers that fail on purpose (module-level, so spawned reward workers can import them).

``marked``: the first pixel of frame 0 says what to do: 1 raise, 2 kill the worker process, 3 hang past
any timeout, anything else verify normally. ``flaky``: raise or kill for a fixed share of the videos,
chosen by a checksum of the video (deterministic for a seeded run). Kills and hangs happen only in
worker processes.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import zlib
from typing import Any

import numpy as np

from diffrl.rewards import verify_sample


def _fault(kind: int) -> None:
    if kind in (2, 3) and multiprocessing.parent_process() is None:
        kind = 1  # in the trainer's own process a kill or hang would take the test down: raise instead
    if kind == 1:
        raise RuntimeError("verifier exploded")
    if kind == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == 3:
        time.sleep(600)


def marked(task: str, puzzle: Any, video: np.ndarray):
    _fault(int(video[0, 0, 0, 0]))
    return verify_sample(task, puzzle, video)


def flaky(task: str, puzzle: Any, video: np.ndarray):
    _fault({0: 1, 1: 2}.get(zlib.crc32(video.tobytes()) % 4, 0))
    return verify_sample(task, puzzle, video)
