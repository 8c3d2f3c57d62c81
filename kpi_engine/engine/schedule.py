"""Computed finish and slip of every milestone (DOMAIN.md section 2, rules 1-2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from kpi_engine.core.bounds import LATEST_COMPUTED_DATE
from kpi_engine.core.errors import OutOfRangeError
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.references import References, resolve
from kpi_engine.engine.graph import DependencyGraph, build_graph, propagate

EPOCH = date(1970, 1, 1)


def day_number(value: date) -> int:
    """Return a date as whole days since 1970-01-01 (the engine's internal day count)."""
    return (value - EPOCH).days


def days(expr: pl.Expr) -> pl.Expr:
    """Return a Date expression as whole days since 1970-01-01."""
    return expr.cast(pl.Int32).cast(pl.Int64)


def as_date(expr: pl.Expr) -> pl.Expr:
    """Return a day-number expression as a Date."""
    return expr.cast(pl.Int32).cast(pl.Date)


@dataclass(frozen=True)
class Schedule:
    """The inputs of the finish propagation, prepared once per snapshot.

    ``own`` is each milestone's own earliest finish (its forecast or baseline, ``as_of``
    and its open tasks; the actual finish when done); ``fixed`` marks finished ones.
    Scenarios and simulations re-run :func:`kpi_engine.engine.graph.propagate` on these arrays.
    """

    milestones: pl.DataFrame
    graph: DependencyGraph
    own: np.ndarray
    fixed: np.ndarray
    refs: References

    def finish(
        self, extra: np.ndarray | None = None, own: np.ndarray | None = None, fixed: np.ndarray | None = None
    ) -> np.ndarray:
        """Propagate finishes (day numbers), optionally with extra days or overrides."""
        return propagate(
            self.graph,
            self.own if own is None else own,
            self.fixed if fixed is None else fixed,
            extra,
        )

    def with_finish(self, finish: np.ndarray) -> pl.DataFrame:
        """Return the milestones with ``computed_finish`` and ``slip_days`` from day numbers.

        Raises
        ------
        OutOfRangeError
            A finish falls after :data:`~kpi_engine.core.bounds.LATEST_COMPUTED_DATE`
            (chains of lags, durations and slips that no calendar holds).
        """
        check_finishes(finish, self.milestones["milestone_id"])
        return self.milestones.with_columns(
            pl.Series("computed_finish", finish.astype(np.int32)).cast(pl.Date)
        ).with_columns((days(pl.col("computed_finish")) - days(pl.col("baseline_finish"))).alias("slip_days"))


#: The day number of the latest finish the engine can date.
LATEST_DAY = (LATEST_COMPUTED_DATE - EPOCH).days


def check_finishes(finish: np.ndarray, ids: pl.Series) -> None:
    """Refuse finishes (day numbers, one per milestone) that no calendar date holds.

    Raises
    ------
    OutOfRangeError
        Naming the first milestone whose finish falls after
        :data:`~kpi_engine.core.bounds.LATEST_COMPUTED_DATE`.
    """
    if finish.size == 0 or int(finish.max()) <= LATEST_DAY:
        return
    late = int(np.flatnonzero(finish > LATEST_DAY)[0])
    raise OutOfRangeError(
        f"milestone '{ids[late]}' would finish after {LATEST_COMPUTED_DATE}: the lags, durations and slips "
        "leading to it add up to more than any calendar holds; check the lag_days of its dependencies "
        "and the slips applied to it"
    )


#: Day number standing for "no date" in day-number arrays (below every real date).
_NO_DAY = np.iinfo(np.int64).min


def _day_numbers(dates: pl.Series) -> np.ndarray:
    """Dates as day numbers (int64), :data:`_NO_DAY` where a date is missing."""
    return dates.cast(pl.Int32).cast(pl.Int64).fill_null(_NO_DAY).to_numpy()


def prepare_schedule(portfolio: Portfolio) -> Schedule:
    """Collect each milestone's own finish terms and build the dependency graph.

    Dependencies naming an unknown milestone are left out here (governance reports them).

    Raises
    ------
    CycleError
        When the dependencies form a cycle.
    """
    milestones = portfolio.milestones
    as_of = day_number(portfolio.as_of)
    refs = resolve(portfolio)
    # each milestone's latest open-task forecast, gathered by position (no join, no group-by)
    tasks = portfolio.tasks
    task_rows = refs.task_milestone
    forecast = _day_numbers(tasks["forecast_finish"])
    open_task = (tasks["actual_finish"].is_null().to_numpy()) & (task_rows >= 0) & (forecast > _NO_DAY)
    task_finish = np.full(milestones.height, _NO_DAY, dtype=np.int64)
    np.maximum.at(task_finish, task_rows[open_task], forecast[open_task])
    actual = _day_numbers(milestones["actual_finish"])
    planned = _day_numbers(milestones["forecast_finish"])
    planned = np.where(planned > _NO_DAY, planned, _day_numbers(milestones["baseline_finish"]))
    open_finish = np.maximum(np.maximum(planned, as_of), task_finish)
    fixed = actual > _NO_DAY
    own = np.where(fixed, actual, open_finish)
    duration = (
        milestones.select((days(pl.col("baseline_finish")) - days(pl.col("baseline_start"))).fill_null(0))
        .to_series()
        .to_numpy()
    )

    # dependencies naming an unknown milestone are left out here (governance reports them)
    known = (refs.predecessor >= 0) & (refs.successor >= 0)
    src, dst = refs.predecessor[known], refs.successor[known]
    weight = portfolio.dependencies["lag_days"].fill_null(0).to_numpy()[known] + duration[dst]
    graph = build_graph(milestones["milestone_id"], src, dst, weight)
    return Schedule(milestones=milestones, graph=graph, own=own, fixed=fixed, refs=refs)


def compute_schedule(portfolio: Portfolio) -> pl.DataFrame:
    """Return the milestones with ``computed_finish`` (Date) and ``slip_days`` (days late, signed)."""
    schedule = prepare_schedule(portfolio)
    return schedule.with_finish(schedule.finish())
