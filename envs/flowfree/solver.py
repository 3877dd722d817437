"""Exact FlowFree (Numberlink) solution counting: constraint propagation + depth-first search.

A solution is one simple path per colour between its two endpoints such that the paths cover every
cell (paths may touch themselves; every such cover counts). The search grows each colour from both
of its ends; at every node it branches on the single end with the fewest legal moves (every solution
extends that end in exactly one way, so branches never overlap and the count is exact). Before
branching it applies forced moves and prunes with sound tests only:

- every empty cell needs two usable neighbours (empty cells or open ends): it is entered and left;
  with exactly two, one of them an open end, that end must step into it;
- the rest of a colour's path lies in one empty region that both of its ends touch, so an end may
  only step into such a region, every colour needs one, and every region needs a colour;
- parity: the cells strictly between a colour's ends alternate checkerboard colours, so each region's
  even-minus-odd cell count must be the sum of the imbalances (0 or +-1) of the colours closing in it.

The test suite checks the counts against plain enumeration. Given a known solution, moves that agree
with it are tried first, which finds a second solution (usually a small local deviation) early.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from videorlvr.envs.types import Cell

EMPTY = -1
WALL = -2


class SearchBudgetExceeded(RuntimeError):
    """The search visited more nodes than its budget allowed."""


class _Search:
    """One counting run over a padded, flattened grid (a ring of WALL cells around the board)."""

    def __init__(
        self,
        size: int,
        endpoints: Sequence[tuple[Cell, Cell]],
        limit: int,
        node_budget: int,
        known: np.ndarray | None = None,
    ) -> None:
        self.size = size
        self.stride = stride = size + 2
        self.offsets = (1, -1, stride, -stride)
        self.parity = [((i // stride) + (i % stride)) & 1 for i in range(stride * stride)]
        self.limit = limit
        self.budget = node_budget
        self.nodes = 0
        self.solutions: list[list[int]] = []
        grid = [WALL] * (stride * stride)
        for r in range(size):
            start = (r + 1) * stride + 1
            grid[start : start + size] = [EMPTY] * size
        ends = []
        for colour, (a, b) in enumerate(endpoints):
            ia, ib = self.index(a), self.index(b)
            if grid[ia] != EMPTY or grid[ib] != EMPTY or ia == ib:
                raise ValueError(f"endpoint of colour {colour} is off the board or on another endpoint")
            grid[ia] = grid[ib] = colour
            ends.append([ia, ib])
        self.grid = grid
        self.ends = ends
        # With a known solution, moves that agree with it are tried first: a second solution is
        # usually a small local deviation from the first, so it shows up after few nodes.
        self.known: list[int] | None = None
        if known is not None:
            padded = np.full((stride, stride), WALL, dtype=np.int64)
            padded[1:-1, 1:-1] = known
            self.known = padded.ravel().tolist()
            self.solutions.append(self.known)

    def index(self, cell: Cell) -> int:
        r, c = int(cell[0]), int(cell[1])
        if not (0 <= r < self.size and 0 <= c < self.size):
            raise ValueError(f"cell {cell} is outside a {self.size}x{self.size} board")
        return (r + 1) * self.stride + c + 1

    def moves(self, grid: list[int], end: int, other: int) -> list[int]:
        return [n for n in (end + 1, end - 1, end + self.stride, end - self.stride) if grid[n] == EMPTY or n == other]

    def propagate(
        self, grid: list[int], ends: list[list[int]], open_colours: list[int]
    ) -> tuple[int, int, list[int]] | None:
        """Apply forced moves and prune. Mutates its arguments.

        Returns None on a dead end; otherwise the end to branch on as ``(colour, which, moves)``
        (the open end with the fewest legal moves; ``colour == -1`` once every colour is closed).
        Forced moves: an end with one legal move (a move must enter a region that the colour's two
        ends both touch, or join the two ends); an empty cell with exactly two usable neighbours, one
        of them an open end (that end must step into it).
        """
        while True:
            if not self._force_ends(grid, ends, open_colours):
                return None
            scan = self._scan_cells(grid, ends, open_colours)
            if scan is None:
                return None
            if scan is True:
                continue
            region_of, shared = scan
            best: tuple[int, int, list[int]] = (-1, 0, [])
            forced = False
            for colour in open_colours:
                pair = ends[colour]
                allowed = shared[colour]
                for which in (0, 1):
                    end, other = pair[which], pair[1 - which]
                    options = [
                        n
                        for n in (end + 1, end - 1, end + self.stride, end - self.stride)
                        if n == other or region_of[n] in allowed
                    ]
                    if not options:
                        return None
                    if len(options) == 1:
                        self._step(grid, ends, open_colours, colour, which, options[0])
                        forced = True
                        break
                    if best[0] < 0 or len(options) < len(best[2]):
                        best = (colour, which, options)
                if forced:
                    break
            if not forced:
                return best

    def _force_ends(self, grid: list[int], ends: list[list[int]], open_colours: list[int]) -> bool:
        changed = True
        while changed:
            changed = False
            for colour in list(open_colours):
                pair = ends[colour]
                for which in (0, 1):
                    options = self.moves(grid, pair[which], pair[1 - which])
                    if not options:
                        return False
                    if len(options) == 1:
                        self._step(grid, ends, open_colours, colour, which, options[0])
                        changed = True
                        break
        return True

    @staticmethod
    def _step(grid: list[int], ends: list[list[int]], open_colours: list[int], colour: int, which: int,
              target: int) -> None:
        pair = ends[colour]
        if target == pair[1 - which]:
            open_colours.remove(colour)
        else:
            grid[target] = colour
            pair[which] = target

    def _scan_cells(
        self, grid: list[int], ends: list[list[int]], open_colours: list[int]
    ) -> bool | tuple[list[int], dict[int, set[int]]] | None:
        """Dead-end cells, cell-forced moves, stranded regions and parity, in one pass.

        Returns None on a contradiction, True if it applied a forced move, else the region of every
        cell (-1 if not empty) and the regions each open colour may close through.
        """
        end_owner = {}
        for colour in open_colours:
            a, b = ends[colour]
            end_owner[a] = (colour, 0)
            end_owner[b] = (colour, 1)
        region_of = [-1] * len(grid)
        balance: list[int] = []  # per region: even-parity cells minus odd-parity cells
        offsets, parity = self.offsets, self.parity
        for start, value in enumerate(grid):
            if value != EMPTY or region_of[start] >= 0:
                continue
            region = len(balance)
            region_of[start] = region
            stack = [start]
            even_minus_odd = 0
            while stack:
                cell = stack.pop()
                even_minus_odd += 1 - 2 * parity[cell]
                usable = 0
                touching = None
                for d in offsets:
                    n = cell + d
                    v = grid[n]
                    if v == EMPTY:
                        usable += 1
                        if region_of[n] < 0:
                            region_of[n] = region
                            stack.append(n)
                    elif n in end_owner:
                        usable += 1
                        if touching is None:
                            touching = end_owner[n]
                        elif touching[0] != end_owner[n][0]:
                            touching = (-1, 0)
                if usable < 2:
                    return None
                if usable == 2 and touching is not None:
                    if touching[0] < 0:
                        return None  # the cell would join two different colours
                    self._step(grid, ends, open_colours, touching[0], touching[1], cell)
                    return True
            balance.append(even_minus_odd)
        shared = self._region_plan(ends, open_colours, region_of, balance)
        return None if shared is None else (region_of, shared)

    def _region_plan(
        self, ends: list[list[int]], open_colours: list[int], region_of: list[int], balance: list[int]
    ) -> dict[int, set[int]] | None:
        """The regions each open colour may close through, or None when that is infeasible.

        Every open colour closes inside one region its two ends both touch (or by joining its ends),
        every region must be served by some colour, and the parities must add up.

        Parity: the cells strictly between ends ``a`` and ``b`` of a path alternate between the two
        checkerboard parities, so they hold as many even as odd cells when ``a`` and ``b`` differ in
        parity and one extra cell of the opposite parity when they agree (``delta``). Each region's
        even-minus-odd count must be the sum of the deltas of the colours that close inside it.
        """
        offsets, parity = self.offsets, self.parity
        regions = len(balance)
        served = [False] * regions
        committed = [0] * regions
        low, high = [0] * regions, [0] * regions
        total_delta = 0
        plan: dict[int, set[int]] = {}
        for colour in open_colours:
            a, b = ends[colour]
            near_a = {region_of[a + d] for d in offsets} - {-1}
            near_b = {region_of[b + d] for d in offsets} - {-1}
            shared = near_a & near_b
            adjacent = self._adjacent(a, b)
            if not shared and not adjacent:
                return None
            plan[colour] = shared
            delta = 0 if parity[a] != parity[b] else (1 if parity[a] else -1)
            total_delta += delta
            for region in shared:
                served[region] = True
            if len(shared) == 1 and not adjacent:
                committed[next(iter(shared))] += delta
            else:
                for region in shared:
                    if delta > 0:
                        high[region] += delta
                    else:
                        low[region] += delta
        if total_delta != sum(balance) or not all(served):
            return None
        if any(not committed[r] + low[r] <= balance[r] <= committed[r] + high[r] for r in range(regions)):
            return None
        return plan

    def _adjacent(self, a: int, b: int) -> bool:
        return abs(a - b) in (1, self.stride)

    def run(self) -> None:
        open_colours = list(range(len(self.ends)))
        self._search(self.grid, self.ends, open_colours)

    def _search(self, grid: list[int], ends: list[list[int]], open_colours: list[int]) -> None:
        self.nodes += 1
        if self.nodes > self.budget:
            raise SearchBudgetExceeded(f"search exceeded {self.budget} nodes")
        choice = self.propagate(grid, ends, open_colours)
        if choice is None:
            return
        colour, which, options = choice
        if colour < 0:
            if EMPTY not in grid and grid != self.known:
                self.solutions.append(grid)
            return
        if self.known is not None:
            known = self.known
            options = sorted(options, key=lambda target: known[target] != colour)
        for target in options:
            child_grid = grid.copy()
            child_ends = [pair.copy() for pair in ends]
            child_open = open_colours.copy()
            self._step(child_grid, child_ends, child_open, colour, which, target)
            self._search(child_grid, child_ends, child_open)
            if len(self.solutions) >= self.limit:
                return

    def boards(self) -> list[np.ndarray]:
        """Found solutions as int (size, size) colour grids."""
        s = self.stride
        return [np.array(g, dtype=np.int64).reshape(s, s)[1:-1, 1:-1] for g in self.solutions]


@dataclass(frozen=True)
class SolutionCount:
    """Solutions found (up to the limit asked for), search nodes used, and whether the search finished
    (False when the node budget ran out: ``solutions`` is then only a lower bound)."""

    solutions: int
    nodes: int
    complete: bool


def count_solutions(
    size: int,
    endpoints: Sequence[tuple[Cell, Cell]],
    limit: int = 2,
    node_budget: int = 20_000,
    known: np.ndarray | None = None,
) -> SolutionCount:
    """Count the solutions of a ``size x size`` board up to ``limit``, within ``node_budget`` nodes.

    endpoints: one ``((r0, c0), (r1, c1))`` pair per colour. known: optionally one solution as an
    int (size, size) colour grid (it counts as found, and
    moves that agree with it are tried first, which finds a second solution far sooner).
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    search = _Search(size, endpoints, limit, node_budget, known)
    try:
        search.run()
    except SearchBudgetExceeded:
        return SolutionCount(len(search.solutions), search.nodes - 1, False)
    return SolutionCount(len(search.solutions), search.nodes, True)


def find_solutions(
    size: int, endpoints: Sequence[tuple[Cell, Cell]], limit: int = 2, node_budget: int = 200_000
) -> list[np.ndarray]:
    """Up to ``limit`` solutions of a ``size x size`` board as int (size, size) colour grids.

    Raises :class:`SearchBudgetExceeded` when the search needs more than ``node_budget`` nodes.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    search = _Search(size, endpoints, limit, node_budget)
    search.run()
    return search.boards()
