"""Sokoban solver speed on procedurally generated rooms, one core.

Levels are proposed the way the generator proposes them (a carved room, boxes on random targets, the
deepest state of a breadth-first reverse play), for room sides ``--sizes`` (walls included) and every
box count from 1 to ``--max-boxes`` that fits. Each proposal is solved optimally (fewest pushes, then
fewest moves) within ``--node-budget`` expansions. A level's time is the CPU time of the solve
(``time.process_time``, the solver's tables built beforehand), the fastest of ``--repeats`` solves
by fresh solvers, so that other load on the machine counts less.

Printed per room size and box count: levels, solved share, median / 90th percentile / worst ms; per
room size: the largest of those medians and the worst level; overall: median and worst. Targets:
every level <= 2 s, and medians < 10 ms (per box count, up to 10x10 rooms with 10 boxes).

    python benchmarks/sokoban_solver.py [--sizes 8 10] [--max-boxes 10] [--levels 25] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import random
import time

import numpy as np

from videorlvr.envs.sokoban.constants import FLOOR_SHARE
from videorlvr.envs.sokoban.generator import carve_room, reverse_play
from videorlvr.envs.sokoban.solver import Solver


def proposals(size: int, boxes: int, count: int, reverse_budget: int, seed: int):
    """Up to ``count`` (walls, targets, player, boxes) levels of a ``size`` room with ``boxes`` boxes."""
    rng = random.Random(seed)
    found, attempts = [], 0
    while len(found) < count and attempts < 20 * count:
        attempts += 1
        walls = carve_room(rng, size, size)
        floor = np.flatnonzero(~walls).tolist()
        if len(floor) < 3 * boxes + 1:
            continue
        targets = sorted(rng.sample(floor, boxes))
        target_grid = np.zeros_like(walls)
        target_grid.flat[targets] = True
        proposal = reverse_play(rng, Solver(walls, target_grid), targets, reverse_budget)
        if proposal is not None:
            found.append((walls, target_grid, *proposal))
    return found


def solve_time(
    walls: np.ndarray,
    targets: np.ndarray,
    player: int,
    boxes: tuple[int, ...],
    node_budget: int,
    repeats: int,
) -> tuple[float, str | None]:
    """(fastest CPU ms of ``repeats`` solves by fresh solvers, the solution) for one level."""
    fastest, solution = float("inf"), None
    for _ in range(repeats):
        solver = Solver(walls, targets)
        begin = time.process_time()
        solution = solver.solve(player, boxes, node_budget)
        fastest = min(fastest, 1000.0 * (time.process_time() - begin))
    return fastest, solution


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 10])
    parser.add_argument("--max-boxes", type=int, default=10)
    parser.add_argument("--levels", type=int, default=25, help="levels per (size, boxes)")
    parser.add_argument("--reverse-budget", type=int, default=1000)
    parser.add_argument("--node-budget", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="solves per level; the fastest counts")
    args = parser.parse_args()
    every = []
    for size in args.sizes:
        interior = (size - 2) ** 2
        medians, worst = [], 0.0
        for boxes in range(1, args.max_boxes + 1):
            if 3 * boxes + 1 > FLOOR_SHARE[1] * interior:
                break
            times, solved = [], 0
            for walls, targets, player, start in proposals(
                size, boxes, args.levels, args.reverse_budget, args.seed
            ):
                milliseconds, solution = solve_time(
                    walls, targets, player, start, args.node_budget, args.repeats
                )
                times.append(milliseconds)
                solved += solution is not None
            if not times:
                continue
            every += times
            medians.append(np.median(times))
            worst = max(worst, *times)
            print(
                f"{size}x{size} {boxes:2d} boxes: {len(times):3d} levels, solved {solved / len(times):6.1%}; ms "
                f"median {medians[-1]:8.2f}  p90 {np.percentile(times, 90):8.2f}  worst {max(times):8.1f}"
            )
        if medians:
            print(f"{size}x{size}: largest median {max(medians):.2f} ms (target < 10), worst {worst:.0f} ms")
    print(
        f"all {len(every)} levels: median {np.median(every):.2f} ms (target < 10), worst {max(every):.0f} ms "
        "(target <= 2000)"
    )


if __name__ == "__main__":
    main()
