"""Verifier speed per task, on one core, against the cost of merely reading the video.

For each task in ``envs.TASK_NAMES`` (a task whose package does not import yet is skipped with a
note), on the oracle video of a puzzle at 81x480x832 uint8:

- ms per ``verify`` (median, and min, of ``--repeats``), ms of one ``video.max()`` pass (the memory-bandwidth
  floor for reading the video once) and of ``video.sum()``, and the ratios. The three are timed
  interleaved, so load from other processes hits them alike.
- ms to score the H.264 mp4 of that video (``verify(puzzle, path)``: decode + verify) vs ms only to
  decode it (``read_video``), and the ratio, timed round-robin ``max(5, repeats // 4)`` times.

    python benchmarks/verify.py [--tasks maze] [--repeats 40] [--difficulty medium]

Last measured (``--repeats 20``, one core of an otherwise idle 2-core machine, 2026-12-03), median
verify / max, target <= 3: maze 2.15x easy, 2.39x medium, 2.61x hard; FlowFree 2.29x, 2.68x, 2.76x;
Sokoban 2.20x, 2.30x, 2.58x. Score mp4 / decode (target <= 1.3) 0.91-1.30x, except Sokoban medium at
1.42x over 5 rounds and 1.20x over 15: scoring is decoding plus one verify (about 25 ms on top of a
150-550 ms decode), so the ratio moves with the decode's own timing noise. Every pixel of every frame's board
is still read: ``videorlvr.envs.footprint`` sums each into its block.
"""

from __future__ import annotations

import argparse
import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from videorlvr.envs import TASK_NAMES, get_task
from videorlvr.envs.base import DIFFICULTIES
from videorlvr.envs.video import read_video, write_video

FRAMES, HEIGHT, WIDTH = 81, 480, 832


def load_task(name: str):
    """The task's TaskSpec, or None (with a printed note) when its package does not import yet."""
    try:
        return get_task(name)
    except Exception as error:  # noqa: BLE001 - any import-time failure means "not ready", not a crash
        print(f"{name}: skipped ({type(error).__name__}: {error})")
        return None


def interleaved_ms(
    functions: dict[str, Callable[[], object]], repeats: int
) -> dict[str, tuple[float, float]]:
    """(median, min) wall time in ms of each function, timed round-robin ``repeats`` times."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: (1000.0 * float(np.median(values)), 1000.0 * min(values)) for name, values in times.items()}


def benchmark(name: str, task, difficulty: str, repeats: int, seed: int) -> None:
    puzzle = task.generate(seed, difficulty)
    video = np.ascontiguousarray(task.render_solution(puzzle, HEIGHT, WIDTH, FRAMES))
    verdict = task.verify(puzzle, video)
    in_memory = interleaved_ms(
        {"verify": lambda: task.verify(puzzle, video), "max": video.max, "sum": video.sum}, repeats
    )
    with tempfile.TemporaryDirectory() as directory:
        path = write_video(Path(directory) / f"{name}.mp4", video)
        from_file = task.verify(puzzle, path)
        files = interleaved_ms(
            {"decode": lambda: read_video(path), "score": lambda: task.verify(puzzle, path)},
            max(5, repeats // 4),
        )
    (v, v_min), (m, m_min), (s, s_min) = in_memory["verify"], in_memory["max"], in_memory["sum"]
    (d, d_min), (f, f_min) = files["decode"], files["score"]
    print(
        f"{name} ({difficulty}, seed {seed}, {FRAMES}x{HEIGHT}x{WIDTH} uint8; oracle success: "
        f"{verdict.success}, from mp4: {from_file.success}); median (min) ms"
    )
    print(f"  verify        {v:8.2f} ({v_min:7.2f})")
    print(
        f"  video.max()   {m:8.2f} ({m_min:7.2f})   verify / max = {v / m:5.2f} ({v_min / m_min:4.2f})"
        f"   target <= 3.0 (every pixel of every frame is read)"
    )
    print(f"  video.sum()   {s:8.2f} ({s_min:7.2f})   verify / sum = {v / s:5.2f} ({v_min / s_min:4.2f})")
    print(f"  decode mp4    {d:8.2f} ({d_min:7.2f})")
    print(
        f"  score mp4     {f:8.2f} ({f_min:7.2f})   score / decode = {f / d:5.2f} ({f_min / d_min:4.2f})"
        f"   target <= 1.3"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", nargs="+", choices=TASK_NAMES, default=list(TASK_NAMES))
    parser.add_argument("--repeats", type=int, default=40, help="timed calls per figure (median reported)")
    parser.add_argument("--difficulty", choices=DIFFICULTIES, default="medium")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    cv2.setNumThreads(1)
    for name in args.tasks:
        task = load_task(name)
        if task is not None:
            benchmark(name, task, args.difficulty, args.repeats, args.seed)


if __name__ == "__main__":
    main()
