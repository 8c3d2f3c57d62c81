"""The milestone dependency graph, walked level by level (topological generations).

Dates are handled as whole days since 1970-01-01 (int64) so that one propagation
serves the deterministic schedule (shape ``(n,)``) and Monte Carlo runs
(shape ``(n, runs)``) alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from kpi_engine.core.errors import CycleError

#: Milestone ids by node index: a list or a Polars Series (node ``i`` is ``ids[i]``).
Ids = Sequence[str] | pl.Series

#: Most cycles one CycleError names (a damaged file may hold thousands).
MAX_CYCLES_NAMED = 10


@dataclass(frozen=True)
class DependencyGraph:
    """Finish-to-start edges between milestones, grouped by the level of their successor.

    Attributes
    ----------
    ids
        Milestone ids (an array or a Polars Series); node ``i`` is ``ids[i]``.
    src, dst, weight
        Edge arrays: ``dst`` cannot finish before ``finish[src] + weight``.
        Sorted by the successor's level, then by successor.
    node_level
        Topological generation of every node (0 = no predecessors).
    edge_slices
        For level ``k`` (k >= 1), the slice of the edge arrays whose successor is at level ``k``.
    """

    ids: Ids
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    node_level: np.ndarray
    edge_slices: list[slice]

    @property
    def levels(self) -> int:
        """Number of topological generations."""
        return len(self.edge_slices) + 1

    def successors_closure(self, nodes: np.ndarray) -> np.ndarray:
        """Return a boolean mask of ``nodes`` and every milestone downstream of them."""
        mask = np.zeros(len(self.ids), dtype=bool)
        mask[nodes] = True
        for edges in self.edge_slices:
            hit = mask[self.src[edges]]
            if hit.any():
                mask[self.dst[edges][hit]] = True
        return mask


def grouped_by_source(src: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges grouped by their source node: the order that groups them, and where each of ``n`` nodes' group starts.

    The order within a group is not kept (the fast unstable sort); ``starts`` has ``n + 1``
    entries, node ``i``'s edges being ``order[starts[i]:starts[i + 1]]``.
    """
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=starts[1:])
    return np.argsort(src), starts


def out_edges(starts: np.ndarray, frontier: np.ndarray) -> np.ndarray:
    """Positions, in :func:`grouped_by_source`'s order, of every edge out of the ``frontier`` nodes.

    Gathered without a Python loop per node.
    """
    counts = starts[frontier + 1] - starts[frontier]
    return np.repeat(starts[frontier] - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))


def topological_levels(n: int, src: np.ndarray, dst: np.ndarray, ids: Ids) -> np.ndarray:
    """Return the topological generation of each of ``n`` nodes (vectorised Kahn).

    Raises
    ------
    CycleError
        When the edges form a cycle; names the milestones on each cycle in order.
    """
    level = np.zeros(n, dtype=np.int64)
    indegree = np.bincount(dst, minlength=n)
    by_src, starts = grouped_by_source(src, n)
    dst_by_src = dst[by_src]
    frontier = np.flatnonzero(indegree == 0)
    done = 0
    current = 0
    # each level costs the size of its frontier and out-edges, never the size of the graph
    while frontier.size:
        level[frontier] = current
        done += frontier.size
        edge_idx = out_edges(starts, frontier)
        if edge_idx.size == 0:
            break
        targets, removed = np.unique(dst_by_src[edge_idx], return_counts=True)
        indegree[targets] -= removed
        frontier = targets[indegree[targets] == 0]
        current += 1
    if done < n:
        raise CycleError(_cycle_members(n, src, dst, indegree, ids))
    return level


def _cycle_members(n: int, src: np.ndarray, dst: np.ndarray, indegree: np.ndarray, ids: Ids) -> list[list[str]]:
    """Return the cycles among the nodes Kahn's walk could not reach, each in dependency order.

    Nodes that only hang below a cycle are peeled off first; then, from each remaining node
    (smallest id first), the walk follows the successor with the smallest id until it meets
    a node twice: that loop is a cycle. Each cycle starts and ends with its smallest id.
    At most :data:`MAX_CYCLES_NAMED` cycles are returned.
    """
    stuck = indegree > 0
    # Peel nodes that only hang below a cycle: repeatedly drop stuck nodes with no stuck successor.
    while True:
        keep = stuck[src] & stuck[dst]
        has_out = np.zeros(n, dtype=bool)
        has_out[src[keep]] = True
        peeled = stuck & ~has_out
        if not peeled.any():
            break
        stuck &= ~peeled
    keep = stuck[src] & stuck[dst]
    names = {int(i): str(ids[int(i)]) for i in np.flatnonzero(stuck)}
    successor: dict[int, int] = {}
    for a, b in zip(src[keep].tolist(), dst[keep].tolist(), strict=True):
        if a not in successor or names[b] < names[successor[a]]:
            successor[a] = b
    cycles: list[list[str]] = []
    seen: set[int] = set()
    for start in sorted(names, key=names.__getitem__):
        if start in seen:
            continue
        path: list[int] = []
        position: dict[int, int] = {}
        node = start
        while node not in position and node not in seen:
            position[node] = len(path)
            path.append(node)
            node = successor[node]
        seen.update(path)
        if node in position:
            loop = [names[i] for i in path[position[node] :]]
            first = loop.index(min(loop))
            loop = loop[first:] + loop[:first]
            cycles.append([*loop, loop[0]])
            if len(cycles) == MAX_CYCLES_NAMED:
                break
    return cycles


def build_graph(ids: Ids, src: np.ndarray, dst: np.ndarray, weight: np.ndarray) -> DependencyGraph:
    """Build the level-grouped graph from edge arrays over node indices.

    Parameters
    ----------
    ids
        Milestone ids, one per node (an array or a Polars Series).
    src, dst
        Predecessor and successor node index of each edge.
    weight
        Days between the predecessor's finish and the successor's earliest finish
        (lag + the successor's own duration).
    """
    n = len(ids)
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    weight = np.asarray(weight, dtype=np.int64)
    node_level = topological_levels(n, src, dst, ids)
    edge_level = node_level[dst]
    order = edge_order(edge_level, dst, n)
    src, dst, weight, edge_level = src[order], dst[order], weight[order], edge_level[order]
    top = int(node_level.max()) if n else 0
    bounds = np.searchsorted(edge_level, np.arange(1, top + 2))
    slices = [slice(int(bounds[k]), int(bounds[k + 1])) for k in range(top)]
    return DependencyGraph(ids, src, dst, weight, node_level, slices)


def edge_order(edge_level: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
    """The order of edges by successor level, then successor, then position (``np.lexsort``'s order).

    One integer key that is unique per edge sorts as fast as the plain quicksort allows
    (a stable multi-key sort costs ten times more); a key that could overflow takes lexsort.
    """
    edges = dst.size
    if edges == 0 or (int(edge_level.max()) + 1) * max(n, 1) * edges >= 2**62:
        return np.lexsort((dst, edge_level))
    return np.argsort((edge_level * n + dst) * edges + np.arange(edges, dtype=np.int64))


def propagate(
    graph: DependencyGraph, own: np.ndarray, fixed: np.ndarray, extra: np.ndarray | None = None
) -> np.ndarray:
    """Return every node's finish: the latest of its own date and each predecessor's finish + weight.

    Parameters
    ----------
    own
        Each node's own earliest finish, shape ``(n,)`` or ``(n, runs)``.
    fixed
        Boolean ``(n,)``: nodes whose finish is ``own`` whatever their predecessors do
        (finished milestones, finishes set by a scenario).
    extra
        Days added to a node's finish after its predecessors are taken into account
        (a scenario's slip, a Monte Carlo draw); same shape as ``own``.
    """
    finish = own.astype(np.int64, copy=True)
    if extra is not None:
        finish = finish + np.where(_broadcast(fixed, finish), 0, extra)
    for edges in graph.edge_slices:
        src, dst, weight = graph.src[edges], graph.dst[edges], graph.weight[edges]
        if src.size == 0:
            continue
        candidate = finish[src] + (weight if finish.ndim == 1 else weight[:, None])
        # edges are sorted by successor within a level: one reduceat per level
        starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
        targets = dst[starts]
        best = np.maximum.reduceat(candidate, starts, axis=0)
        if extra is not None:
            best = best + extra[targets]
        free = ~fixed[targets]
        targets, best = targets[free], best[free]
        finish[targets] = np.maximum(finish[targets], best)
    return finish


def _broadcast(mask: np.ndarray, like: np.ndarray) -> np.ndarray:
    return mask if like.ndim == 1 else mask[:, None]
