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

    The ids are hashed once into a table of row positions (:class:`_HashIndex`); each
    reference then costs one hash and one array look-up, and a series whose values come in
    runs (a milestone's tasks listed together) is looked up once per run. Every position
    found is checked against the id text itself, so the answer never rests on a hash; ids
    whose whole hashes coincide (which the table cannot tell apart) are looked up by a join.
    """
    ids = ids.cast(pl.String)
    if len(ids) == 0:
        return [np.full(len(values), UNKNOWN, dtype=np.int64) for values in references]
    index = _HashIndex(ids.hash().to_numpy())
    return [_look_up(values.cast(pl.String), ids, index) for values in references]


def _look_up(values: pl.Series, ids: pl.Series, index: _HashIndex) -> np.ndarray:
    """:func:`positions` of one series."""
    starts = _run_starts(values)
    looked_up = values if starts is None else values.gather(starts)
    found = index.candidates(looked_up.hash().to_numpy())
    same = ids.gather(np.maximum(found, 0)) == looked_up
    matches = (same.fill_null(False) if same.null_count() else same).to_numpy() & (found >= 0)
    found[~matches] = UNKNOWN
    if not index.complete:
        again = np.flatnonzero(~matches & looked_up.is_not_null().to_numpy())
        found[again] = _joined(looked_up.gather(again), ids)
    return found if starts is None else np.repeat(found, np.diff(starts, append=len(values)))


def _joined(values: pl.Series, ids: pl.Series) -> np.ndarray:
    """The row of each value in ``ids`` (the first of equal ids) by an exact join; :data:`UNKNOWN` when absent."""
    index = pl.DataFrame({"id": ids, "_row": np.arange(len(ids), dtype=np.int64)}).unique(
        "id", keep="first", maintain_order=True
    )
    looked_up = values.rename("id").to_frame().join(index, on="id", how="left", maintain_order="left")
    return looked_up["_row"].fill_null(UNKNOWN).to_numpy().astype(np.int64, copy=False)


def _run_starts(values: pl.Series) -> np.ndarray | None:
    """Where each run of equal values starts, when runs at least halve the values (else None).

    The first :data:`_RUN_SAMPLE` values decide whether looking for runs is worth it.
    """
    n = len(values)
    if n < 2 or not _halved_by_runs(values.slice(0, _RUN_SAMPLE)):
        return None
    at = np.flatnonzero(np.r_[True, _differs_from_previous(values)])
    return at if 2 * at.size <= n else None


def _differs_from_previous(values: pl.Series) -> np.ndarray:
    """For every value but the first: True where it differs from the one before (null differs)."""
    differs = values.slice(1) != values.slice(0, len(values) - 1)
    return (differs.fill_null(True) if differs.null_count() else differs).to_numpy()


def _halved_by_runs(values: pl.Series) -> bool:
    """True when runs of equal values at least halve ``values``."""
    return len(values) >= 2 and 2 * (1 + int(_differs_from_previous(values).sum())) <= len(values)


#: How many values of a series :func:`_run_starts` looks at before looking for runs in all of them.
_RUN_SAMPLE = 1024


class _HashIndex:
    """Row positions of keys (64-bit hashes) in open tables, looked up a whole array at a time.

    Each level is a table of four or more slots a key, addressed by the top bits of the
    hash times an odd number of its own (multiplicative hashing): a slot one key alone
    takes holds its row; the keys that share a slot go on to the next level, which spreads
    them anew. The index is ``complete`` when every key ends up alone in a slot, so that a
    hash it does not find names no key; otherwise (equal hashes) some keys are never found.
    """

    def __init__(self, hashes: np.ndarray) -> None:
        self.levels: list[tuple[np.uint64, np.uint64, np.ndarray]] = []
        rows = np.arange(hashes.size, dtype=np.int64)
        for multiplier in _MULTIPLIERS:
            if not rows.size:
                break
            bits = int(rows.size).bit_length() + 2
            level = (np.uint64(multiplier), np.uint64(64 - bits))
            slot = self._slots(hashes[rows] if self.levels else hashes, *level)
            shared = np.bincount(slot, minlength=1 << bits) > 1
            table = np.full(1 << bits, UNKNOWN, dtype=np.int32)
            table[slot] = rows
            table[shared] = _SHARED
            self.levels.append((*level, table))
            rows = rows[shared[slot]]
        self.complete = rows.size == 0

    @staticmethod
    def _slots(hashes: np.ndarray, multiplier: np.uint64, shift: np.uint64) -> np.ndarray:
        """Slot of each hash in a table of ``2 ** (64 - shift)`` slots."""
        with np.errstate(over="ignore"):
            return ((hashes * multiplier) >> shift).view(np.int64)

    def candidates(self, hashes: np.ndarray) -> np.ndarray:
        """The one row each hash can name (:data:`UNKNOWN` for none); the caller checks the text."""
        multiplier, shift, table = self.levels[0]
        found = table[self._slots(hashes, multiplier, shift)].astype(np.int64)
        pending = np.flatnonzero(found == _SHARED)
        for multiplier, shift, table in self.levels[1:]:
            if not pending.size:
                break
            got = table[self._slots(hashes[pending], multiplier, shift)]
            found[pending] = got
            pending = pending[got == _SHARED]
        found[pending] = UNKNOWN
        return found


#: A hash-table slot that two or more keys share (they are told apart at the next level).
_SHARED = -2

#: Most levels of a :class:`_HashIndex`, each with an odd multiplier of its own (fixed, so
#: that every run builds the same tables).
_MULTIPLIERS = [int(m) | 1 for m in np.random.default_rng(20261206).integers(0, 2**63, 16, dtype=np.uint64) * 2]


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
