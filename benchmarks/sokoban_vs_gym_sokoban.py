"""Sokoban level generation, side by side with gym-sokoban's ``generate_room``, one core.

Ours: levels/s with a confirmed solution, for each preset (which also demands a minimum solution
length) and with ``min_moves=1`` (any solvable level, like gym-sokoban's guarantee).
Theirs: rooms/s of gym-sokoban 0.0.6's reverse-play ``generate_room`` at the same room size and box
count, with the step count its ``SokobanEnv`` uses and its "score == 0" retries counted, as the env
does. It returns no solution. gym-sokoban needs ``setuptools<70`` and the old ``gym`` package, so it
is never a project dependency: pass ``--gym-python`` (a throwaway venv's interpreter) or
``--make-venv DIR`` to build one (``pip install "setuptools<70" gym gym-sokoban==0.0.6``); without
either, the figures measured in docs/findings.md are used.

    python benchmarks/sokoban_vs_gym_sokoban.py [--seconds 12] [--gym-python PY | --make-venv DIR]

Rates are per CPU-second of the generating process (``time.process_time``), and rounds of ours and
theirs alternate with each side's best round counting, so that other load on the machine hits both
alike. The speed-up is ours (preset, with a solution) over theirs (no solution).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from videorlvr.envs.sokoban import generate

# (label, size, boxes, preset whose min/max moves we keep)
SETTINGS = [
    ("6x6 / 1 box", 6, 1, "easy"),
    ("8x8 / 2 boxes", 8, 2, "medium"),
    ("8x8 / 3 boxes", 8, 3, "medium"),
    ("10x10 / 3 boxes", 10, 3, "hard"),
]
FINDINGS_ROOMS_PER_S = {"6x6 / 1 box": 210.0, "8x8 / 2 boxes": 6.1, "10x10 / 3 boxes": 0.38}

# A persistent worker: each line on stdin ("seconds") runs one timed round and prints its result, so
# that rounds of ours and theirs can alternate and share whatever else the machine is doing.
GYM_WORKER = r"""
import json, random, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np
from gym_sokoban.envs.room_utils import generate_room
size, boxes = int(sys.argv[1]), int(sys.argv[2])
random.seed(0); np.random.seed(0)
for line in sys.stdin:
    seconds = float(line)
    rooms = failures = 0
    start = time.process_time()
    while (time.process_time() - start < seconds or rooms == 0) and time.process_time() - start < 30 * seconds:
        try:
            generate_room(dim=(size, size), num_steps=int(1.7 * 2 * size), num_boxes=boxes)
            rooms += 1
        except (RuntimeError, RuntimeWarning):  # "score == 0": SokobanEnv.reset retries, so do we
            failures += 1
    elapsed = time.process_time() - start
    print(json.dumps({"rooms_per_s": rooms / elapsed, "rooms": rooms, "failures": failures}), flush=True)
"""


def ours(
    size: int, boxes: int, preset: str, seconds: float, first_seed: int, **overrides
) -> tuple[float, int, int]:
    """(levels/s, levels, total solution moves) over at least ``seconds`` of generation."""
    count = moves = 0
    start = time.process_time()
    while time.process_time() - start < seconds or count < 5:
        puzzle = generate(first_seed + count, preset, size=size, num_boxes=boxes, **overrides)
        count, moves = count + 1, moves + len(puzzle.solution)
    return count / (time.process_time() - start), count, moves


class GymWorker:
    """gym-sokoban's generate_room in a subprocess of the throwaway venv."""

    def __init__(self, python: str, size: int, boxes: int) -> None:
        self.process = subprocess.Popen(
            [python, "-c", GYM_WORKER, str(size), str(boxes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ, OMP_NUM_THREADS="1"),
            stderr=subprocess.DEVNULL,
        )

    def round(self, seconds: float) -> dict:
        self.process.stdin.write(f"{seconds}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def make_venv(directory: Path) -> str:
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True)
    python = str(directory / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "setuptools<70", "gym", "gym-sokoban==0.0.6"], check=True
    )
    return python


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=12.0, help="measuring time per setting and side")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds (the best of each side counts)"
    )
    parser.add_argument("--gym-python", help="interpreter of a venv with gym-sokoban 0.0.6 installed")
    parser.add_argument("--make-venv", type=Path, help="create such a venv here first")
    args = parser.parse_args()
    python = make_venv(args.make_venv) if args.make_venv else args.gym_python

    print(
        f"{'setting':<16} {'ours preset/s':>14} {'moves':>6} {'ours any/s':>11} {'gym-sokoban/s':>14} "
        f"{'gym fails':>9} {'speed-up':>9}"
    )
    for label, size, boxes, preset in SETTINGS:
        worker = GymWorker(python, size, boxes) if python else None
        best = {"preset": 0.0, "any": 0.0, "gym": 0.0}
        moves = levels = failures = tries = 0
        for round_index in range(args.rounds):  # alternate, keep each side's best round
            seconds = args.seconds / args.rounds
            rate, count, total = ours(size, boxes, preset, seconds, 10_000 * round_index)
            best["preset"], moves, levels = max(best["preset"], rate), moves + total, levels + count
            rate, _, _ = ours(
                size, boxes, preset, seconds, 10_000 * round_index, min_moves=1, max_moves=10_000
            )
            best["any"] = max(best["any"], rate)
            if worker:
                gym = worker.round(seconds)
                best["gym"] = max(best["gym"], gym["rooms_per_s"])
                failures, tries = failures + gym["failures"], tries + gym["rooms"] + gym["failures"]
        if worker:
            worker.close()
            gym_rate, fails = best["gym"], f"{failures}/{tries}"
        else:
            gym_rate, fails = FINDINGS_ROOMS_PER_S.get(label, float("nan")), "(docs/findings.md)"
        print(
            f"{label:<16} {best['preset']:>14.1f} {moves / levels:>6.1f} {best['any']:>11.1f} {gym_rate:>14.2f} "
            f"{fails:>9} {best['preset'] / gym_rate:>8.0f}x"
        )


if __name__ == "__main__":
    main()
