"""A scenario's complete engine result: the snapshot's own rows, with those the change reaches replaced.

:func:`~kpi_engine.whatif.scenarios.run_scenario` recomputes the figures of the
milestones a change reaches (those that move, and every milestone linked to a KPI they
move), of their links and of the KPIs that change. Every other row of the engine's
result is the snapshot's own: its finish, KPIs and escalation are untouched. The
complete result is therefore the snapshot's result with the reached rows put in:

- milestones, links and KPIs: the reached rows replace the snapshot's, in place;
- the exception list: rows about an untouched milestone (and findings about no milestone)
  are kept; the reached milestones' rows are built again, and the two are merged in the
  list's order.

This gives what :func:`~kpi_engine.engine.compute.evaluate` gives on the scenario's
finishes (``tests/test_whatif_complete.py`` checks it on random portfolios), at the cost
of the reached rows rather than the whole portfolio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kpi_engine.engine.compute import EXCEPTION_KEY, EngineResult, flag_new, roll_up
from kpi_engine.engine.exception_list import FINDING_ROW, build_exception_list, sort_exceptions
from kpi_engine.whatif.base_rows import BaseRows


@dataclass(frozen=True)
class Reached:
    """The rows a scenario recomputed, as :func:`~kpi_engine.whatif.scenarios.run_scenario` leaves them.

    Attributes
    ----------
    rows
        The schedule row of each reached milestone (ascending).
    milestones
        Those milestones' schedule, finish and status columns (as the engine has them
        before escalation).
    links
        Boolean per resolvable link: its milestone is reached.
    pairs
        Those links' figures and escalation, in link order; ``pair_rows`` holds the row in
        ``milestones`` of each one's milestone, ``pair_kpis`` the ``portfolio.kpis`` row of its KPI.
    lonely
        The escalation of the reached milestones tied to no KPI; ``lonely_rows`` their rows
        in ``milestones``.
    kpis
        Boolean per KPI: its projection changed.
    kpi_figures
        Those KPIs' ``projected``, ``shortfall`` and ``misses``, in KPI order.
    """

    rows: np.ndarray
    milestones: pl.DataFrame
    links: np.ndarray
    pairs: pl.DataFrame
    pair_rows: np.ndarray
    pair_kpis: np.ndarray
    lonely: pl.DataFrame
    lonely_rows: np.ndarray
    kpis: np.ndarray
    kpi_figures: pl.DataFrame


def complete_result(base: EngineResult, reached: Reached, rows: BaseRows) -> EngineResult:
    """Return the scenario's complete result: ``base`` with the ``reached`` rows put in.

    Escalation uses the snapshot's previous-snapshot statuses, as the scenario's quick
    figures do; an exception row is ``new`` when the unchanged snapshot's list does not
    hold it.
    """
    milestones = _milestones(base.milestones, reached)
    kpis = _replace_rows(
        base.kpis,
        np.flatnonzero(reached.kpis),
        base.kpis.filter(pl.Series(reached.kpis)).with_columns(reached.kpi_figures.get_columns()),
    )
    links = _replace_rows(base.links, np.flatnonzero(reached.links), reached.pairs.select(base.links.columns))
    return EngineResult(
        portfolio=base.portfolio,
        settings=base.settings,
        milestones=milestones,
        links=links,
        kpis=kpis,
        governance=base.governance,
        exception_rows=_exception_rows(base, milestones[reached.rows], kpis, reached, rows),
        references=base.references,  # a scenario moves finishes, not ids
    )


def _milestones(before: pl.DataFrame, reached: Reached) -> pl.DataFrame:
    """Every milestone, the reached ones with their new finish, status, value at risk and escalation."""
    mine = before[reached.rows].with_columns(reached.milestones.get_columns())
    mine = roll_up(mine, reached.pairs, reached.pair_rows, reached.lonely, reached.lonely_rows)
    return _replace_rows(before, reached.rows, mine)


def _replace_rows(frame: pl.DataFrame, at: np.ndarray, rows: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its rows at positions ``at`` replaced by ``rows`` (a new frame; ``frame`` is not changed)."""
    if at.size == 0:
        return frame
    where = pl.Series(at)
    # ``frame[c]`` is a new Series on shared buffers: scattering copies what it writes to
    return frame.with_columns([frame[c].scatter(where, rows[c].cast(frame.schema[c])) for c in frame.columns])


def _exception_rows(
    base: EngineResult, milestones: pl.DataFrame, kpis: pl.DataFrame, reached: Reached, rows: BaseRows
) -> pl.DataFrame:
    """The snapshot's exception rows about untouched milestones, and the reached milestones' rows built again."""
    n = base.milestones.height
    # each milestone's row among the reached ones (-1: not reached); the last entry stands for no milestone
    local = np.full(n + 1, -1, dtype=np.int64)
    local[reached.rows] = np.arange(reached.rows.size)
    about = local[np.where(rows.exception_milestones < 0, n, rows.exception_milestones)]
    untouched = base.exception_rows.filter(pl.Series(about < 0))
    finding_at = local[np.where(rows.finding_rows[0] < 0, n, rows.finding_rows[0])]
    found = np.flatnonzero(finding_at >= 0)
    fresh = build_exception_list(
        milestones,
        kpis,
        reached.pairs,
        (reached.pair_rows, reached.pair_kpis),
        reached.lonely,
        reached.lonely_rows,
        rows.governance[found],
        (finding_at[found], rows.finding_rows[1][found]),
    )
    # the finding each fresh row reports, by its place among all findings
    fresh = fresh.with_columns(pl.Series(FINDING_ROW, found).gather(fresh[FINDING_ROW]))
    # a key names its milestone: the snapshot's rows with a fresh row's key are among those replaced
    fresh = flag_new(fresh, base.exception_rows.select(EXCEPTION_KEY).filter(pl.Series(about >= 0)))
    return sort_exceptions(pl.concat([untouched.with_columns(pl.lit(False).alias("new")), fresh]))
