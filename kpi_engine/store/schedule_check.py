"""Checking the merged snapshot's schedule: whole, or only where the upload may have moved it.

Every stored snapshot passed the check: its dependencies form no cycle and every computed
finish is on or before :data:`~kpi_engine.core.bounds.LATEST_DATE`. Each snapshot also
keeps a date no computed finish of it passes (``schedule_bounds``). A computed finish is the
latest of the milestone's own finish (its forecast or baseline, the snapshot date and its
open tasks; its actual finish when done) and each predecessor's finish plus the lag and
the milestone's duration; so when a week later nothing the upload brought starts a
milestone later than the base did plus those days, lengthens it, reopens it or adds a
dependency, no finish moves by more than those days and no cycle appears: the new
snapshot passes with the base's bound moved by the days between the two dates, read from
the uploaded milestones and tasks alone. Any other upload is checked on the whole merged
snapshot, with the very problems and messages of :func:`~kpi_engine.ingest.validate.schedule_problems`.

A snapshot stored by a program that did not keep the bound has none: the next upload on
it is checked whole, and keeps one from then on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import duckdb
import polars as pl

from kpi_engine.core.bounds import LATEST_DATE
from kpi_engine.core.errors import Problem
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.schema import TABLES, empty_table
from kpi_engine.engine.schedule import EPOCH
from kpi_engine.store.backends import query_frame
from kpi_engine.store.connection import q_list
from kpi_engine.store.lineage import kept_aside, snapshot_rows

#: The table of bounds: one row per snapshot whose schedule was checked.
DDL = "CREATE TABLE IF NOT EXISTS schedule_bounds (snapshot_id BIGINT NOT NULL, latest_finish DATE NOT NULL)"

#: Tables whose rows change computed finishes: an upload of any of them re-checks the schedule.
SCHEDULE_TABLES = ("milestones", "tasks", "dependencies")
#: The columns computed finishes are made of (the schedule reads no other).
SCHEDULE_COLUMNS = {
    "milestones": ("milestone_id", "baseline_start", "baseline_finish", "forecast_finish", "actual_finish"),
    "tasks": ("milestone_id", "forecast_finish", "actual_finish"),
    "dependencies": ("predecessor_id", "successor_id", "lag_days"),
}


def record_bound(cur: duckdb.DuckDBPyConnection, snapshot_id: int, latest_finish: date) -> None:
    """Keep ``latest_finish`` as the date no computed finish of snapshot ``snapshot_id`` passes."""
    cur.execute("INSERT INTO schedule_bounds VALUES (?, ?)", [snapshot_id, latest_finish])


def stored_bound(cur: duckdb.DuckDBPyConnection, snapshot_id: int | None) -> tuple[date, date] | None:
    """The date of snapshot ``snapshot_id`` and its bound (None: it keeps none)."""
    if snapshot_id is None:
        return None
    rows = cur.execute(
        "SELECT s.as_of, b.latest_finish FROM snapshots s JOIN schedule_bounds b USING (snapshot_id) "
        "WHERE s.snapshot_id = ?",
        [snapshot_id],
    ).fetchall()
    return (rows[0][0], rows[0][1]) if rows else None


def moved_bound(cur: duckdb.DuckDBPyConnection, base: int | None, as_of: date) -> date | None:
    """The bound of snapshot ``base`` moved by the days from its date to ``as_of`` (None: it keeps none).

    Unchanged rows finish at most that many days later on the later date.
    """
    stored = stored_bound(cur, base)
    if stored is None or as_of < stored[0]:
        return None
    return stored[1] + (as_of - stored[0])


def check_schedule(
    cur: duckdb.DuckDBPyConnection,
    frames: Mapping[str, pl.DataFrame],
    views: Mapping[str, str],
    new: tuple[int, list[int]],
    as_of: date,
    base: tuple[int, list[int]] | None,
) -> tuple[list[Problem], date]:
    """Cycles and undatable finishes of snapshot ``new``, and the bound it keeps when there are none.

    Parameters
    ----------
    frames
        The uploaded tables (with their provenance columns), to name file, sheet and row.
    views
        Table -> name of the registered view of its uploaded rows.
    new, as_of
        The merged snapshot (its id and lineage, :func:`~kpi_engine.store.lineage.lineage_of`)
        and its date.
    base
        The snapshot the upload was laid over, id and lineage (None: every row is the upload's).

    Returns
    -------
    problems, bound
        The problems :func:`~kpi_engine.ingest.validate.schedule_problems` finds on the
        whole merged snapshot, and a date no computed finish passes (meaningful when
        there are no problems).
    """
    stored = stored_bound(cur, base[0] if base is not None else None)
    if base is not None and stored is not None and as_of >= stored[0]:
        base_as_of, latest = stored
        moved = latest + (as_of - base_as_of)
        if moved <= LATEST_DATE and not _may_move_finishes(cur, frames, views, (*new, as_of), (*base, base_as_of)):
            return [], moved
    return _whole_schedule(cur, frames, new[1], as_of, base[0] if base is not None else None)


def _whole_schedule(
    cur: duckdb.DuckDBPyConnection, frames: Mapping[str, pl.DataFrame], new: list[int], as_of: date, base: int | None
) -> tuple[list[Problem], date]:
    """The check on every milestone, task and dependency of the merged snapshot (lineage ``new``).

    With no base, nothing was carried: the new snapshot's rows are the upload's, so they
    are taken from its frames instead of read back from the database. Otherwise its rows
    are read in any order first (whether there is a problem does not depend on it), and
    again in stored order only to list the problems found; the tasks are read as each
    milestone's latest open forecast, all the schedule takes from them.
    """
    from kpi_engine.ingest.validate import schedule_check

    if base is None:
        tables = {t: frames[t].select(list(TABLES[t])) if t in frames else empty_table(t) for t in SCHEDULE_TABLES}
        problems, latest = schedule_check(Portfolio.from_tables(tables, as_of), frames, base)
        return problems, as_of if problems else _as_date(latest, as_of)
    for order in ("", "ORDER BY stored_row"):
        tables = {}
        for table in SCHEDULE_TABLES:
            cols = q_list(SCHEDULE_COLUMNS[table])
            sql = f"SELECT {cols} FROM {snapshot_rows(table, 'new')} {order}"
            if table == "tasks":
                # a milestone's tasks count by their latest open forecast alone: one row per milestone
                sql = (
                    "SELECT milestone_id, max(forecast_finish) AS forecast_finish, NULL::DATE AS actual_finish "
                    f"FROM {snapshot_rows('tasks', 'new')} WHERE actual_finish IS NULL AND forecast_finish IS NOT NULL "
                    f"GROUP BY milestone_id {'ORDER BY milestone_id' if order else ''}"
                )
            frame = query_frame(cur, sql, {"new": new})
            tables[table] = frame
        problems, latest = schedule_check(Portfolio.from_tables(tables, as_of), frames, base)
        if not problems:
            break
    return problems, as_of if problems else _as_date(latest, as_of)


def _as_date(day: int | None, as_of: date) -> date:
    """A day number (of a schedule that passed) as a date; with no milestone, the snapshot date (it bounds nothing)."""
    return EPOCH + timedelta(days=day) if day is not None else as_of


def _may_move_finishes(
    cur: duckdb.DuckDBPyConnection,
    frames: Mapping[str, pl.DataFrame],
    views: Mapping[str, str],
    new: tuple[int, list[int], date],
    base: tuple[int, list[int], date],
) -> bool:
    """Whether the upload may move a computed finish by more than the days between base and new snapshot.

    True when it brings a dependency the base did not have (or with a longer lag), or a
    milestone (named by an uploaded milestone or task row) that the base lacked, that was
    done in the base and is open now, that is longer, or whose own finish is later than
    the base's moved by those days. Only the rows of those milestones are read.

    For each of the two tables the upload brought, the merge replaced every row of the
    base naming one of those milestones (each is in the upload's scope, or the base lacked
    it): in the new snapshot they are the upload's own rows, and in the base they are among
    the rows the upload removed. A table the upload did not bring is the base's in both.
    """
    if "dependencies" in frames and _new_dependencies(cur, views["dependencies"], new[1], base[1]):
        return True
    named = " UNION ALL ".join(f"SELECT milestone_id FROM {views[t]}" for t in ("milestones", "tasks") if t in frames)
    if not named:
        return False

    def rows(table: str, in_new: bool) -> str:
        """The rows of ``table`` to read the named milestones' terms from, in the new snapshot or the base."""
        if table not in frames:
            return snapshot_rows(table, "base")
        # the base's rows are among those the upload removed, kept aside by the merge: not found by a pass over the table
        return views[table] if in_new else kept_aside(table)

    carried = {"base": base[1]} if any(t not in frames for t in ("milestones", "tasks")) else {}
    if carried:
        now_terms = query_frame(cur, _finish_terms(named, rows("milestones", True), rows("tasks", True)), carried)
    else:
        now_terms = _uploaded_terms(frames)
    base_terms = _finish_terms(named, rows("milestones", False), rows("tasks", False))
    now = _own_finishes(now_terms, new[2])
    before = _own_finishes(query_frame(cur, base_terms, carried), base[2])
    days_later = (new[2] - base[2]).days
    both = now.join(before, on="milestone_id", how="left", suffix="_base")
    moved = both.filter(
        pl.col("own_base").is_null()
        | (pl.col("fixed_base") & ~pl.col("fixed"))
        | (pl.col("own") > pl.col("own_base") + days_later)
        | (~pl.col("fixed") & (pl.col("duration") > pl.col("duration_base")))
    )
    return moved.height > 0


def _new_dependencies(cur: duckdb.DuckDBPyConnection, view: str, new: list[int], base: list[int]) -> bool:
    """Whether an uploaded dependency between two milestones of the new snapshot is not in the base with as long a lag.

    ``new`` and ``base``: the lineages of the two snapshots.

    A dependency between milestones the base held both was in its schedule; one naming a
    milestone the base lacked leads to a milestone that is new, found with the milestones.
    """
    rows = cur.execute(
        f"SELECT count(*) FROM {view} u "
        f"WHERE u.predecessor_id IN (SELECT milestone_id FROM {snapshot_rows('milestones', 'new')}) "
        f"AND u.successor_id IN (SELECT milestone_id FROM {snapshot_rows('milestones', 'new')}) "
        f"AND NOT EXISTS (SELECT 1 FROM {snapshot_rows('dependencies', 'base')} b "
        "WHERE b.predecessor_id = u.predecessor_id AND b.successor_id = u.successor_id "
        "AND coalesce(b.lag_days, 0) >= coalesce(u.lag_days, 0))",
        {"new": new, "base": base},
    ).fetchall()
    return int(rows[0][0]) > 0


def _finish_terms(named: str, milestone_rows: str, task_rows: str) -> str:
    """SQL for the own-finish terms of the milestones ``named`` (SQL), from ``milestone_rows`` and ``task_rows`` (SQL).

    One row per milestone with its dates and ``task_finish``, its open tasks' latest forecast.
    """
    return (
        f"WITH n AS ({named}), m AS (SELECT m.milestone_id, m.baseline_start, m.baseline_finish, "
        f"m.forecast_finish, m.actual_finish FROM {milestone_rows} m SEMI JOIN n ON n.milestone_id = m.milestone_id), "
        "t AS (SELECT t.milestone_id, max(t.forecast_finish) AS task_finish "
        f"FROM {task_rows} t SEMI JOIN n ON n.milestone_id = t.milestone_id "
        "WHERE t.actual_finish IS NULL GROUP BY 1) "
        "SELECT m.*, t.task_finish FROM m LEFT JOIN t ON t.milestone_id = m.milestone_id"
    )


def _uploaded_terms(frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """What :func:`_finish_terms` reads of the uploaded milestones when the upload brought their tasks too.

    Then every row it reads is the upload's own: taken from its frames, not read back.
    """
    open_tasks = (
        frames["tasks"]
        .filter(pl.col("actual_finish").is_null())
        .group_by("milestone_id")
        .agg(pl.col("forecast_finish").max().alias("task_finish"))
    )
    milestones = frames["milestones"].select(SCHEDULE_COLUMNS["milestones"])
    return milestones.join(open_tasks, on="milestone_id", how="left")


def _own_finishes(terms: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Own finish, duration and whether done, of milestones on the snapshot date ``as_of`` (day numbers).

    ``terms``: the rows :func:`_finish_terms` reads. The same terms as
    :func:`~kpi_engine.engine.schedule.prepare_schedule`: an open milestone's own finish
    is the latest of its forecast (else baseline), the snapshot date and its open tasks'
    forecasts; a done one's is its actual finish.
    """
    day = {c: pl.col(c).cast(pl.Int32).cast(pl.Int64) for c in terms.columns if c != "milestone_id"}
    planned = pl.coalesce(day["forecast_finish"], day["baseline_finish"])
    return terms.select(
        "milestone_id",
        pl.col("actual_finish").is_not_null().alias("fixed"),
        pl.when(pl.col("actual_finish").is_not_null())
        .then(day["actual_finish"])
        .otherwise(pl.max_horizontal(planned, pl.lit((as_of - EPOCH).days, pl.Int64), day["task_finish"]))
        .alias("own"),
        (day["baseline_finish"] - day["baseline_start"]).fill_null(0).alias("duration"),
    )
