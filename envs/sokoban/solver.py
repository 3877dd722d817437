"""A Sokoban solver, push-optimal then move-optimal: A* over (box set, player cell) on Python-int bitboards.

Bit ``i`` of a mask is flat cell ``i = row * cols + col``. The outer ring of the room is walls, so
shifting a mask by one column or one row never wraps onto a floor cell. A search node is a box mask
plus the player's cell (right after a push: the pushed box's old cell), keyed by the single integer
``boxes << key_bits | player``. Edges are single pushes, each costing one push and its walk plus one
move. Costs compare lexicographically (pushes first, then moves) and are stored as the single integer
``pushes * PUSH + moves``.

The heuristic is ``h`` pushes and ``h`` moves (every push is a move), ``h`` being the least total push
distance of a matching of boxes to targets, ignoring other boxes (:func:`min_cost_matching`; the sum of
each box's nearest-target distance above ``MATCHING_LIMIT`` boxes). It is admissible and consistent, so
the first time a node is expanded its cost is optimal, and the first solved node expanded has the fewest
pushes and, among those, the fewest moves. Two lazy steps keep that order while saving work:

* a child is queued on a quick lower bound of its ``h`` (the parent's ``h`` less one, or its boxes'
  nearest-target distances if more); the matching is computed when it is popped, and the node requeued
  if that raises its estimate;
* a node is first expanded by the pushes that may lower ``h`` (bitmask tests), then requeued one push
  higher, the least estimate any other push can give a child, for the rest.

Dead squares (cells from which no target is reachable by pushes) and simple freeze deadlocks (a box off
target that can move along neither axis) are pruned.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Sequence

import numpy as np

INFINITY = 1 << 30
PUSH = 1 << 32  # one push in a combined cost ``pushes * PUSH + moves``
MATCHING_LIMIT = 12  # the matching heuristic up to this many boxes, the nearest-target sum above
PERMUTATIONS = [list(itertools.permutations(range(n))) for n in range(4)]


def shift(mask: int, offset: int) -> int:
    """Move every bit of ``mask`` by ``offset`` cells (positive: towards higher indices)."""
    return mask << offset if offset > 0 else mask >> -offset


def cells_of(mask: int) -> list[int]:
    """Cell indices of the set bits of ``mask``."""
    cells = []
    while mask:
        low = mask & -mask
        cells.append(low.bit_length() - 1)
        mask ^= low
    return cells


def _mask(cells: np.ndarray) -> int:
    """The bitboard of a bool array's True cells (bit i = flat index i)."""
    return int.from_bytes(np.packbits(cells.ravel(), bitorder="little").tobytes(), "little")


def min_cost_matching(costs: Sequence[Sequence[int]]) -> int:
    """The least total cost of giving each row of a square matrix its own column: every assignment up
    to 3 rows, else the Hungarian method (O(n^3)) started from the row minima. At least ``INFINITY``
    if every assignment uses an ``INFINITY`` entry."""
    n = len(costs)
    if n <= 3:
        return min(sum(row[j] for row, j in zip(costs, order)) for order in PERMUTATIONS[n])
    row_potential = [min(row) for row in costs]
    column_potential = [0] * n
    owner = [-1] * n  # owner[j]: the row holding column j
    unmatched = []
    for i, row in enumerate(costs):  # rows take a free column at their minimum where one is left
        for j in range(n):
            if row[j] == row_potential[i] and owner[j] < 0:
                owner[j] = i
                break
        else:
            unmatched.append(i)
    for row in unmatched:
        _augment(costs, row, row_potential, column_potential, owner)
    return sum(costs[owner[j]][j] for j in range(n))


def _augment(
    costs: Sequence[Sequence[int]],
    row: int,
    row_potential: list[int],
    column_potential: list[int],
    owner: list[int],
) -> None:
    """One Hungarian phase: give ``row`` a column along a shortest augmenting path of reduced costs,
    updating the potentials so that every held entry stays tight."""
    n = len(costs)
    slack: list[float] = [math.inf] * n
    way = [n] * n  # the column before each on the path; n: the start
    used = [False] * n
    column, current = n, row
    while True:
        entries, potential = costs[current], row_potential[current]
        delta, following = math.inf, -1
        for j in range(n):
            if not used[j]:
                reduced = entries[j] - potential - column_potential[j]
                if reduced < slack[j]:
                    slack[j], way[j] = reduced, column
                if slack[j] < delta:
                    delta, following = slack[j], j
        row_potential[row] += delta
        for j in range(n):
            if used[j]:
                row_potential[owner[j]] += delta
                column_potential[j] -= delta
            else:
                slack[j] -= delta
        used[following] = True
        column = following
        if owner[column] < 0:
            break
        current = owner[column]
    while column != n:  # flip the path
        previous = way[column]
        owner[column] = owner[previous] if previous != n else row
        column = previous


class Solver:
    """Precomputed tables for one room layout; :meth:`solve` runs a bounded A* for a start state.

    walls, targets: bool ``(rows, cols)``; the outer ring must be walls.
    """

    def __init__(self, walls: np.ndarray, targets: np.ndarray) -> None:
        if not (walls[0].all() and walls[-1].all() and walls[:, 0].all() and walls[:, -1].all()):
            raise ValueError("the solver needs the room's outer ring to be walls (bit shifts must not wrap)")
        self.rows, self.cols = walls.shape
        self.size = self.rows * self.cols
        self.key_bits = self.size.bit_length()
        self.is_wall = walls.ravel().tolist()
        self.floor = _mask(~walls)
        self.targets = np.flatnonzero(targets).tolist()
        self.target_mask = _mask(targets)
        self.directions = ((-self.cols, "u"), (self.cols, "d"), (-1, "l"), (1, "r"))
        # push distance from every cell to each target, ignoring other boxes: (size, num_targets)
        per_target = [self._push_distances(t) for t in self.targets]
        self.distance = list(zip(*per_target)) if per_target else [()] * self.size
        self.nearest = [min(row, default=INFINITY) for row in self.distance]
        self.nearest_target = [row.index(n) if row else -1 for row, n in zip(self.distance, self.nearest)]
        self.is_dead = [n >= INFINITY for n in self.nearest]
        self.live = _mask(~np.array(self.is_dead))
        self.closer, self.not_farther = self._direction_masks()
        self._bounds: dict[int, int] = {}  # box mask -> heuristic, INFINITY once found frozen

    def _push_distances(self, target: int) -> list[int]:
        """Pushes needed to bring a lone box from each cell to ``target`` (reverse BFS over pulls)."""
        distance = [INFINITY] * self.size
        distance[target] = 0
        frontier = [target]
        while frontier:
            following = []
            for box in frontier:
                for offset, _ in self.directions:
                    before, player = box - offset, box - 2 * offset
                    if (
                        0 <= player < self.size
                        and not self.is_wall[before]
                        and not self.is_wall[player]
                        and distance[before] == INFINITY
                    ):
                        distance[before] = distance[box] + 1
                        following.append(before)
            frontier = following
        return distance

    def _direction_masks(self) -> tuple[list[int], list[int]]:
        """Per direction (as in ``self.directions``), the live cells from which a box pushed that way gets
        closer to its nearest target, and those from which it gets no farther."""
        levels: dict[int, int] = {}  # nearest-target distance -> live cells at it
        for cell in cells_of(self.live):
            levels[self.nearest[cell]] = levels.get(self.nearest[cell], 0) | 1 << cell
        closer, not_farther = [0] * 4, [0] * 4
        nearer = 0  # live cells nearer than the current level
        for distance in sorted(levels):
            level = levels[distance]
            for k, (step, _) in enumerate(self.directions):
                closer[k] |= level & shift(nearer, -step)
                not_farther[k] |= level & shift(nearer | level, -step)
            nearer |= level
        return closer, not_farther

    def flood(self, seed: int, free: int) -> int:
        """Mask of the cells reachable from the ``seed`` mask through ``free`` cells."""
        width = self.cols
        reach = seed
        while True:
            grown = (reach | reach << 1 | reach >> 1 | reach << width | reach >> width) & free
            if grown == reach:
                return reach
            reach = grown

    def heuristic(self, boxes: int) -> int:
        """Lower bound on the pushes left, cached by box mask: the least-cost matching of boxes to targets
        (the nearest-target sum when those targets differ, or above ``MATCHING_LIMIT`` boxes)."""
        bound = self._bounds.get(boxes)
        if bound is None:
            cells = cells_of(boxes)
            if len(cells) > MATCHING_LIMIT or len({self.nearest_target[b] for b in cells}) == len(cells):
                bound = sum(self.nearest[b] for b in cells)
            else:
                bound = min_cost_matching([self.distance[b] for b in cells])
            bound = self._bounds[boxes] = min(bound, INFINITY)
        return bound

    def _blocked(self, cell: int, axis: int, boxes: int, walled: int) -> bool:
        """Whether the box on ``cell`` cannot move along ``axis`` (1: horizontal, cols: vertical)."""
        before, after = cell - axis, cell + axis
        if self.is_wall[before] or self.is_wall[after] or (walled >> before) & 1 or (walled >> after) & 1:
            return True
        if self.is_dead[before] and self.is_dead[after]:
            return True
        walled |= 1 << cell
        other = self.cols if axis == 1 else 1
        for side in (before, after):
            if (boxes >> side) & 1 and self._blocked(side, other, boxes, walled):
                return True
        return False

    def frozen(self, cell: int, boxes: int) -> bool:
        """A freeze deadlock: the box on ``cell`` is off target and blocked along both axes."""
        if (self.target_mask >> cell) & 1:
            return False
        return self._blocked(cell, 1, boxes, 0) and self._blocked(cell, self.cols, boxes, 0)

    def search(self, player: int, boxes: Sequence[int], max_nodes: int) -> list[tuple[int, int]] | None:
        """The pushes ``(box cell, offset)`` of a solution with the fewest pushes and, among those, the
        fewest moves, from a start state; ``None`` if none was found within ``max_nodes`` expansions (a
        node's deferred pushes count as a second one).

        A* with the lexicographic cost (pushes, moves) and the consistent heuristic (h, h), so nodes are
        expanded in the order of their exact estimate (see the module docstring for the lazy steps) and
        the first solved node expanded is optimal. Ties go to the node with more pushes done.
        """
        if len(boxes) != len(self.targets):
            raise ValueError(f"{len(boxes)} boxes but {len(self.targets)} targets")
        box_mask = sum(1 << b for b in boxes)
        if box_mask & ~self.live:
            return None
        start_h = self.heuristic(box_mask)
        if start_h >= INFINITY:
            return None
        bits = self.key_bits
        start = box_mask << bits | player
        best = {start: 0}  # node key -> least cost found
        parent = {start: -1}
        heap = [(start_h * (PUSH + 1), 0, start)]  # (estimate, -pushes, node key)
        closed: set[int] = set()
        deferred: set[int] = set()  # nodes expanded so far only by the pushes that may lower h
        expanded = 0
        while heap and expanded < max_nodes:
            estimate, depth, key = heapq.heappop(heap)
            if key in closed:
                continue
            h = self.heuristic(key >> bits)
            rest = key in deferred
            exact = best[key] + (h + rest) * (PUSH + 1)
            if exact > estimate:  # queued on a weaker bound: requeue on the exact one
                if h < INFINITY:
                    heapq.heappush(heap, (exact, depth, key))
                continue
            if key >> bits == self.target_mask:
                return self._pushes_to(key, parent)
            expanded += 1
            if self._expand(key, h, rest, best, parent, heap):
                deferred.add(key)
                heapq.heappush(heap, (exact + PUSH + 1, depth, key))
            else:
                closed.add(key)
        return None

    def _expand(
        self, key: int, h: int, everything: bool, best: dict[int, int], parent: dict[int, int], heap: list
    ) -> bool:
        """Queue the children of node ``key`` (heuristic ``h``) that improve on their best known cost:
        every push if ``everything``, else only those that may lower ``h`` by one. Each push is priced
        at the breadth-first layer of the player's walk to its stance. Returns whether pushes were left
        out (they cannot give a child an estimate below one push more than this node's)."""
        bits, width, nearest, bounds = self.key_bits, self.cols, self.nearest, self._bounds
        boxes = key >> bits
        free = self.floor & ~boxes
        open_cells = free & self.live  # where a box may be pushed to
        nearest_sum = sum(nearest[b] for b in cells_of(boxes))
        # a push that lowers h changes its box's nearest-target distance by at most h - nearest_sum - 1
        slack = h - nearest_sum
        # boxes pushable up, down, left, right (same order as self.directions)
        movable = [boxes & open_cells << width, boxes & open_cells >> width, boxes & open_cells << 1]
        movable.append(boxes & open_cells >> 1)
        chosen = movable
        if not everything and slack <= 1:
            keep = self.closer if slack == 0 else self.not_farther
            chosen = [pushable & allowed for pushable, allowed in zip(movable, keep)]
        stances = (
            (-width, chosen[0] << width & free),
            (width, chosen[1] >> width & free),
            (-1, chosen[2] << 1 & free),
            (1, chosen[3] >> 1 & free),
        )
        wanted = stances[0][1] | stances[1][1] | stances[2][1] | stances[3][1]
        base = best[key] + PUSH + 1  # one more push, one more move, before the walk
        depth = -(base // PUSH)
        layer = 1 << (key & ((1 << bits) - 1))
        unseen = free & ~layer
        cost = base
        while wanted:
            if layer & wanted:
                for step, stance in stances:
                    hits = layer & stance
                    while hits:
                        low = hits & -hits
                        hits ^= low
                        box = low.bit_length() - 1 + step
                        moved = box + step
                        next_boxes = boxes ^ (1 << box | 1 << moved)
                        child = next_boxes << bits | box
                        known = best.get(child)
                        if known is not None and known <= cost:
                            continue
                        bound = bounds.get(next_boxes)
                        if bound is None:
                            if self.frozen(moved, next_boxes):
                                bounds[next_boxes] = INFINITY
                                continue
                            bound = max(h - 1, nearest_sum - nearest[box] + nearest[moved])
                        elif bound >= INFINITY:
                            continue
                        best[child] = cost
                        parent[child] = key
                        heapq.heappush(heap, (cost + bound * (PUSH + 1), depth, child))
                wanted &= ~layer
            layer = (layer << 1 | layer >> 1 | layer << width | layer >> width) & unseen
            if not layer:
                break
            unseen ^= layer
            cost += 1
        return chosen is not movable and any(c != m for c, m in zip(chosen, movable))

    def _pushes_to(self, key: int, parent: dict[int, int]) -> list[tuple[int, int]]:
        """The pushes ``(box cell, offset)`` along the parent links from the start to node ``key``."""
        bits = self.key_bits
        pushes = []
        while parent[key] >= 0:
            before = parent[key]
            box = key & ((1 << bits) - 1)  # the player stands where the pushed box was
            moved = ((key >> bits) & ~(before >> bits)).bit_length() - 1
            pushes.append((box, moved - box))
            key = before
        return pushes[::-1]

    def solve(self, player: int, boxes: Sequence[int], max_nodes: int) -> str | None:
        """Solution moves (``udlr``, uppercase = push) with the fewest pushes and, among those, the fewest
        moves; ``None`` if none was found within ``max_nodes`` expansions (see :meth:`search`)."""
        pushes = self.search(player, boxes, max_nodes)
        return None if pushes is None else self.moves_for(player, boxes, pushes)

    def moves_for(self, player: int, boxes: Sequence[int], pushes: list[tuple[int, int]]) -> str:
        """Turn a push sequence into a move string with shortest walks."""
        letters = {offset: letter for offset, letter in self.directions}
        box_mask = sum(1 << b for b in boxes)
        moves = []
        for box, offset in pushes:
            moves.append(self.walk(player, box - offset, self.floor & ~box_mask))
            moves.append(letters[offset].upper())
            box_mask ^= (1 << box) ^ (1 << (box + offset))
            player = box
        return "".join(moves)

    def walk(self, source: int, goal: int, free: int) -> str:
        """Shortest ``udlr`` walk from ``source`` to ``goal`` through ``free`` cells (BFS layers)."""
        layers = [1 << source]
        seen = layers[0]
        while not (seen >> goal) & 1:
            frontier = layers[-1]
            grown = (
                (frontier << 1 | frontier >> 1 | frontier << self.cols | frontier >> self.cols) & free & ~seen
            )
            if not grown:
                raise ValueError(f"cell {goal} is not reachable from {source}")
            layers.append(grown)
            seen |= grown
        path, cell = [], goal
        for layer in reversed(layers[:-1]):
            for offset, letter in self.directions:
                if (layer >> (cell - offset)) & 1:
                    path.append(letter)
                    cell -= offset
                    break
        return "".join(reversed(path))
