"""Puzzles generated per second, per task and difficulty, on one core.

For each task in ``envs.TASK_NAMES`` (a task whose package does not import yet is skipped with a
note): ``--repeats`` rounds per difficulty, each generating consecutive seeds for ``--seconds``;
prints the median rate (and the slowest and fastest round).

    python benchmarks/generate.py [--tasks maze sokoban] [--repeats 5] [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import time

import numpy as np

from videorlvr.envs import TASK_NAMES, get_task
from videorlvr.envs.base import DIFFICULTIES

TARGETS = {  # docs/design.md, one core
    "maze": "maze >= 2,000/s (medium)",
    "flowfree": "FlowFree 7x7 >= 20/s with a unique solution",
    "sokoban": "Sokoban 8x8 / 3 boxes >= 50/s with a solution",
}


def load_task(name: str):
    """The task's TaskSpec, or None (with a printed note) when its package does not import yet."""
    try:
        return get_task(name)
    except Exception as error:  # noqa: BLE001 - any import-time failure means "not ready", not a crash
        print(f"{name}: skipped ({type(error).__name__}: {error})")
        return None


def rate(task, difficulty: str, seconds: float, first_seed: int) -> tuple[float, int]:
    """(puzzles per second, next unused seed) over one round of at least ``seconds``."""
    seed, start = first_seed, time.perf_counter()
    while True:
        task.generate(seed, difficulty)
        seed += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return (seed - first_seed) / elapsed, seed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", nargs="+", choices=TASK_NAMES, default=list(TASK_NAMES))
    parser.add_argument(
        "--repeats", type=int, default=5, help="timing rounds per difficulty (median reported)"
    )
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one round")
    args = parser.parse_args()
    if args.repeats < 1 or args.seconds <= 0:
        parser.error("--repeats must be >= 1 and --seconds > 0")
    print(f"one core; {args.repeats} rounds of {args.seconds:g} s per difficulty; median [slowest, fastest]")
    for name in args.tasks:
        task = load_task(name)
        if task is None:
            continue
        task.generate(0, "medium")  # warm caches and imports
        for difficulty in DIFFICULTIES:
            seed, rates = 0, []
            for _ in range(args.repeats):
                per_second, seed = rate(task, difficulty, args.seconds, seed)
                rates.append(per_second)
            print(
                f"{name:9s} {difficulty:7s} {np.median(rates):10.1f} puzzles/s  "
                f"[{min(rates):.1f}, {max(rates):.1f}]  ({seed} puzzles)"
            )
        print(f"{'':9s} target: {TARGETS.get(name, 'none stated')}")


if __name__ == "__main__":
    main()
