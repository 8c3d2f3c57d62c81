"""Which row each id a snapshot names points at, resolved once per snapshot.

Links, tasks and dependencies name milestones and KPIs by id. Every stage of the engine
needs those references (the schedule, governance, link figures, KPI projections, status,
the roll-up); hashing the id strings once and passing row positions on makes each stage a
gather or a group-by on integers instead of another string join.

>>> refs = resolve(portfolio)                       # doctest: +SKIP
>>> refs.link_milestone[:3]                         # doctest: +SKIP
array([  0,  17,  -1])      # the third link names an unknown milestone
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kpi_engine.core.portfolio import Portfolio

#: Position of an id that names no row (an unknown or blank id).
UNKNOWN = -1

#: The row of each link's milestone and of its KPI (links whose milestone and KPI both exist).
Positions = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class References:
    """Row positions (in ``portfolio.milestones`` / ``portfolio.kpis``) of the ids each row names.

    Every array holds one int64 per row of its table, :data:`UNKNOWN` where the id is
    blank or names no row.
    """

    link_milestone: np.ndarray
    link_kpi: np.ndarray
    task_milestone: np.ndarray
    predecessor: np.ndarray
    successor: np.ndarray

    def resolvable_links(self, links: pl.DataFrame) -> tuple[pl.DataFrame, Positions]:
        """The links (the snapshot's own) whose milestone and KPI both exist, and their rows."""
        known = (self.link_milestone >= 0) & (self.link_kpi >= 0)
        return links.filter(pl.Series(known)), (self.link_milestone[known], self.link_kpi[known])

    def linked_milestones(self, milestones: int) -> np.ndarray:
        """Boolean per milestone: a link ties it to a KPI that exists.

        A link naming an unknown KPI drives nothing: its milestone is "not tied to any KPI"
        until the id is fixed (the link itself is a governance finding too).
        """
        known = (self.link_milestone >= 0) & (self.link_kpi >= 0)
        return np.bincount(self.link_milestone[known], minlength=milestones) > 0

    def linked_kpis(self, kpis: int) -> np.ndarray:
        """Boolean per KPI: a link from a milestone that exists drives it (else "no work drives this KPI")."""
        known = (self.link_milestone >= 0) & (self.link_kpi >= 0)
        return np.bincount(self.link_kpi[known], minlength=kpis) > 0


def positions(references: list[pl.Series], ids: pl.Series) -> list[np.ndarray]:
    """The row position in ``ids`` of every value of every series (:data:`UNKNOWN` when absent).

    One join for all of them: building the hash table of ``ids`` is most of the cost. A
    series whose values come in runs (a milestone's tasks listed together) is looked up
    once per run.
    """
    runs = [_run_starts(s) for s in references]
    looked_up = [s if starts is None else s.gather(starts) for s, starts in zip(references, runs, strict=True)]
    lengths = [len(s) for s in looked_up]
    names = pl.concat([s.cast(pl.String).rename("id") for s in looked_up]).to_frame()
    index = pl.DataFrame({"id": ids, "_row": np.arange(len(ids), dtype=np.int64)})
    found = names.join(index, on="id", how="left", maintain_order="left")["_row"].fill_null(UNKNOWN).to_numpy()
    parts = np.split(found.astype(np.int64, copy=False), np.cumsum(lengths)[:-1])
    return [
        part if starts is None else np.repeat(part, np.diff(starts, append=len(s)))
        for s, starts, part in zip(references, runs, parts, strict=True)
    ]


def _run_starts(values: pl.Series) -> np.ndarray | None:
    """Where each run of equal values starts, when runs at least halve the values (else None)."""
    if len(values) < 2:
        return None
    starts = values.ne_missing(values.shift(1)).to_numpy()
    starts[0] = True
    at = np.flatnonzero(starts)
    return at if 2 * at.size <= len(values) else None


def resolve(portfolio: Portfolio) -> References:
    """Resolve every milestone and KPI id that links, tasks and dependencies name."""
    link_milestone, task_milestone, predecessor, successor = positions(
        [
            portfolio.links["milestone_id"],
            portfolio.tasks["milestone_id"],
            portfolio.dependencies["predecessor_id"],
            portfolio.dependencies["successor_id"],
        ],
        portfolio.milestones["milestone_id"],
    )
    (link_kpi,) = positions([portfolio.links["kpi_id"]], portfolio.kpis["kpi_id"])
    return References(link_milestone, link_kpi, task_milestone, predecessor, successor)
