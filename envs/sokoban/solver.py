"""A Sokoban solver, push-optimal then move-optimal: A* over (box set, player cell) on Python-int bitboards.

Bit ``i`` of a mask is flat cell ``i = row * cols + col``. The outer ring of the room is walls, so
shifting a mask by one column or one row never wraps onto a floor cell. A search node is a box mask
plus the player's cell (right after a push: the pushed box's old cell); edges are single pushes, each
costing one push and its walk plus one move. Costs compare lexicographically (pushes first, then
moves). The push heuristic (minimum-cost matching of boxes to targets by push distance, ignoring other
boxes) is admissible and consistent, so the first solved node expanded has the fewest pushes and,
among those, the fewest moves. Dead squares (cells from which no target is reachable by pushes) and
simple freeze deadlocks (a box off target that can move along neither axis) are pruned.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence

import numpy as np

INFINITY = 1 << 30


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


class Solver:
    """Precomputed tables for one room layout; :meth:`solve` runs a bounded A* for a start state.

    walls, targets: bool ``(rows, cols)``; the outer ring must be walls.
    """

    def __init__(self, walls: np.ndarray, targets: np.ndarray) -> None:
        if not (walls[0].all() and walls[-1].all() and walls[:, 0].all() and walls[:, -1].all()):
            raise ValueError("the solver needs the room's outer ring to be walls (bit shifts must not wrap)")
        self.rows, self.cols = walls.shape
        self.size = self.rows * self.cols
        self.is_wall = walls.ravel().tolist()
        self.floor = _mask(~walls)
        self.targets = np.flatnonzero(targets).tolist()
        self.target_mask = _mask(targets)
        self.directions = ((-self.cols, "u"), (self.cols, "d"), (-1, "l"), (1, "r"))
        # push distance from every cell to each target, ignoring other boxes: (size, num_targets)
        per_target = [self._push_distances(t) for t in self.targets]
        self.distance = list(zip(*per_target)) if per_target else [()] * self.size
        self.is_dead = [not row or min(row) >= INFINITY for row in self.distance]
        self.live = _mask(~np.array(self.is_dead))
        self._h_cache: dict[int, int] = {}

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
        """Lower bound on the pushes left: min-cost box-to-target matching (sum of minima if > 4 boxes)."""
        cached = self._h_cache.get(boxes)
        if cached is not None:
            return cached
        rows = [self.distance[b] for b in cells_of(boxes)]
        if len(rows) == 1:
            value = min(rows[0])
        elif len(rows) <= 4:
            value = min(
                sum(row[i] for row, i in zip(rows, order))
                for order in itertools.permutations(range(len(rows)))
            )
        else:
            value = sum(min(row) for row in rows)
        value = min(value, INFINITY)
        self._h_cache[boxes] = value
        return value

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
        fewest moves, from a start state; ``None`` if none was found within ``max_nodes`` expanded nodes.

        A* over (box set, player cell) with the lexicographic cost (pushes, moves): an edge is one push
        costing (1, walk + 1); the push heuristic is consistent, so the first time a node is expanded its
        cost is optimal, and the first solved node expanded is lexicographically optimal.
        """
        if len(boxes) != len(self.targets):
            raise ValueError(f"{len(boxes)} boxes but {len(self.targets)} targets")
        box_mask = sum(1 << b for b in boxes)
        if box_mask & ~self.live:
            return None
        start_h = self.heuristic(box_mask)
        if start_h >= INFINITY:
            return None
        counter = itertools.count()
        # heap entries: (f = pushes + h, moves, -pushes, tie, boxes, player, parent node, pushed box, offset)
        heap = [(start_h, 0, 0, next(counter), box_mask, player, -1, 0, 0)]
        closed: set[tuple[int, int]] = set()
        nodes: list[tuple[int, int, int]] = []  # (parent node, pushed box cell, offset)
        width = self.cols
        while heap and len(nodes) < max_nodes:
            _, moves, negative_pushes, _, box_mask, position, parent, pushed, offset = heapq.heappop(heap)
            key = (box_mask, position)
            if key in closed:
                continue
            closed.add(key)
            nodes.append((parent, pushed, offset))
            node = len(nodes) - 1
            if box_mask == self.target_mask:
                pushes = []
                while nodes[node][0] >= 0:
                    parent, box, offset = nodes[node]
                    pushes.append((box, offset))
                    node = parent
                return pushes[::-1]
            pushes_done = 1 - negative_pushes
            free = self.floor & ~box_mask
            open_cells = free & self.live
            # Breadth-first layers of the player's walk; each push is priced at the layer of its stance.
            layer = seen = 1 << position
            distance = 0
            stances: dict[int, list[tuple[int, int]]] = {}
            reach = self.flood(layer, free)
            for step, _ in self.directions:
                for box in cells_of(box_mask & shift(reach, step) & shift(open_cells, -step)):
                    stances.setdefault(box - step, []).append((box, step))
            wanted = sum(1 << cell for cell in stances)
            while wanted:
                found = layer & wanted
                for cell in cells_of(found) if found else ():
                    for box, step in stances[cell]:
                        moved = box + step
                        next_boxes = box_mask ^ (1 << box) ^ (1 << moved)
                        if (next_boxes, box) in closed or self.frozen(moved, next_boxes):
                            continue
                        h = self.heuristic(next_boxes)
                        if h < INFINITY:
                            entry = (pushes_done + h, moves + distance + 1, -pushes_done, next(counter))
                            heapq.heappush(heap, (*entry, next_boxes, box, node, box, step))
                wanted &= ~layer
                layer = (layer << 1 | layer >> 1 | layer << width | layer >> width) & free & ~seen
                seen |= layer
                distance += 1
        return None

    def solve(self, player: int, boxes: Sequence[int], max_nodes: int) -> str | None:
        """Solution moves (``udlr``, uppercase = push) with the fewest pushes and, among those, the fewest
        moves; ``None`` if none was found within ``max_nodes`` expanded nodes (see :meth:`search`)."""
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
