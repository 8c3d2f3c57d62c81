"""What changed between a snapshot and the one before it, in words a programme board reads.

Computed once, when an upload is stored, and kept in the ``changes`` table: the dashboard
and the digests list them without comparing two snapshots at every look.
"""

from __future__ import annotations

from collections.abc import Collection

import duckdb
import polars as pl

from kpi_engine.core.schema import empty_table, normalise_status
from kpi_engine.core.text import fixed, kpi_value, thousands
from kpi_engine.store.backends import query_frame
from kpi_engine.store.connection import q_list
from kpi_engine.store.lineage import kept_aside, lineage_of, snapshot_rows

#: Kinds of change between two snapshots, in the order they are listed.
CHANGE_KINDS = (
    "added",
    "removed",
    "completed",
    "forecast_moved",
    "status_changed",
    "kpi_actual_added",
    "kpi_actual_changed",
    "kpi_actual_removed",
    "budget_changed",
)
CHANGES_SCHEMA = pl.Schema(
    {
        "snapshot_id": pl.Int64(),
        "change": pl.String(),
        "milestone_id": pl.String(),
        "project_id": pl.String(),
        "name": pl.String(),
        "detail": pl.String(),
        "days": pl.Int64(),
    }
)


#: The tables compared besides milestones (KPI actuals and budgets move what the dashboard
#: shows as much as milestone dates do), and their columns compared.
_COMPARED = {"kpi_actuals": ["kpi_id", "as_of", "value"], "projects": ["project_id", "name", "budget"]}


def empty_changes() -> pl.DataFrame:
    """No changes: an empty frame of :data:`CHANGES_SCHEMA`."""
    return pl.DataFrame(schema=CHANGES_SCHEMA)


def snapshot_changes(
    cur: duckdb.DuckDBPyConnection,
    stored: tuple[int, list[int]],
    previous: int | None,
    built_on_previous: bool,
    touched: Collection[str],
    stored_milestones: pl.DataFrame,
) -> pl.DataFrame:
    """What changed in milestones, KPI actuals and budgets between the previous snapshot and the new one.

    ``stored``: the new snapshot's id and lineage (:func:`~kpi_engine.store.lineage.lineage_of`).
    ``stored_milestones``: the milestone rows the new snapshot stored (the uploaded ones), in
    their order.

    With ``built_on_previous`` (the new snapshot was built on ``previous``), only the
    milestones the new snapshot stored or removed can differ, so only those are compared
    (the removed ones kept aside by the merge, :func:`~kpi_engine.store.lineage.kept_aside`),
    and KPI actuals and budgets only when they are in ``touched``, the tables the upload
    brought (the others were carried whole).
    """
    if previous is None:
        return empty_changes()
    new_id, new_lineage = stored
    # the previous snapshot's rows are read only when it is compared whole or an actual or budget was uploaded
    reads_previous = not built_on_previous or any(table in touched for table in _COMPARED)
    previous_lineage = lineage_of(cur, previous) if reads_previous else []
    cols = [
        "milestone_id",
        "project_id",
        "name",
        "baseline_finish",
        "forecast_finish",
        "actual_finish",
        "reported_status",
    ]
    if built_on_previous:
        # the milestones whose ids the new snapshot stored or removed are the rows it stored
        # and the rows of the previous one it removed (ids are unique in a snapshot: a row
        # of the previous one with a stored id was replaced)
        old = (
            query_frame(cur, f"SELECT {q_list(cols)} FROM {kept_aside('milestones')} ORDER BY stored_row")
            if "milestones" in touched
            else empty_table("milestones").select(cols)
        )
        new = stored_milestones.select(cols)
    else:
        old, new = (
            query_frame(
                cur,
                f"SELECT {q_list(cols)} FROM {snapshot_rows('milestones', 'of')} ORDER BY stored_row",
                {"of": of},
            )
            for of in (previous_lineage, new_lineage)
        )
    changes = [milestone_changes(old, new, new_id)]
    for table, cols in _COMPARED.items():
        if built_on_previous and table not in touched:
            continue  # the new snapshot holds the previous one's rows of this table
        sql = f"SELECT {q_list(cols)} FROM {snapshot_rows(table, 'of')} ORDER BY stored_row"
        before, after = query_frame(cur, sql, {"of": previous_lineage}), query_frame(cur, sql, {"of": new_lineage})
        if table == "kpi_actuals":
            names = query_frame(
                cur, f"SELECT kpi_id, name FROM {snapshot_rows('kpis', 'of')} ORDER BY stored_row", {"of": new_lineage}
            )
            changes.append(kpi_actual_changes(before, after, names, new_id))
        else:
            changes.append(budget_changes(before, after, new_id))
    order = {kind: i for i, kind in enumerate(CHANGE_KINDS)}
    return (
        pl.concat(changes)
        .sort(pl.col("change").replace_strict(order, return_dtype=pl.Int64), maintain_order=True)
        .cast(CHANGES_SCHEMA)
    )


def _change_rows(frame: pl.DataFrame, snapshot_id: int, **columns: pl.Expr) -> pl.DataFrame:
    """Rows of :data:`CHANGES_SCHEMA` from ``frame``; columns not given are null."""
    return frame.select(
        pl.lit(snapshot_id, pl.Int64).alias("snapshot_id"),
        *(
            columns.get(c, pl.lit(None)).cast(dtype).alias(c)
            for c, dtype in CHANGES_SCHEMA.items()
            if c != "snapshot_id"
        ),
    )


def kpi_actual_changes(old: pl.DataFrame, new: pl.DataFrame, kpis: pl.DataFrame, snapshot_id: int) -> pl.DataFrame:
    """Compare two snapshots' KPI actuals (kpi_id, as_of, value): added, changed, removed.

    ``kpis`` (kpi_id, name) names them; the change's ``name`` is "KPI name (kpi_id)".
    Ordered by that name, then by kind of change, then by the actual's date.
    """
    joined = (
        old.join(new, on=["kpi_id", "as_of"], how="full", coalesce=True, suffix="_new")
        .join(kpis.rename({"name": "kpi_name"}), on="kpi_id", how="left")
        .with_columns(
            pl.format("{} ({})", pl.col("kpi_name").fill_null(pl.col("kpi_id")), pl.col("kpi_id")).alias("label"),
            _iso(pl.col("as_of")).alias("day"),
        )
        .sort("label", "as_of")  # a full join's rows come in no set order
    )
    value, value_new = kpi_value(pl.col("value")), kpi_value(pl.col("value_new"))
    parts = [
        _change_rows(
            joined.filter(condition),
            snapshot_id,
            change=pl.lit(change),
            name=pl.col("label"),
            detail=detail,
        )
        for change, condition, detail in (
            (
                "kpi_actual_added",
                pl.col("value").is_null() & pl.col("value_new").is_not_null(),
                pl.format("actual for {} reported: {}", pl.col("day"), value_new),
            ),
            (
                "kpi_actual_changed",
                pl.col("value").is_not_null()
                & pl.col("value_new").is_not_null()
                & (pl.col("value") - pl.col("value_new")).abs().gt(1e-9),
                pl.format("actual for {} changed from {} to {}", pl.col("day"), value, value_new),
            ),
            (
                "kpi_actual_removed",
                pl.col("value").is_not_null() & pl.col("value_new").is_null(),
                pl.format("actual for {} removed (was {})", pl.col("day"), value),
            ),
        )
    ]
    return pl.concat(parts).sort("name", maintain_order=True)


def _cents(value: pl.Expr) -> pl.Expr:
    """Money as text to the cent, "none" when blank: 399999.99 -> "399,999.99", 400000 -> "400,000"."""
    cents = (value.abs() * 100).round(0).cast(pl.Int64)
    sign = pl.when((value < 0) & (cents > 0)).then(pl.lit("-")).otherwise(pl.lit(""))
    fraction = (
        pl.when(cents % 100 == 0).then(pl.lit("")).otherwise(pl.format(".{}", fixed(cents % 100, 0).str.zfill(2)))
    )
    return (
        pl.when(value.is_null()).then(pl.lit("none")).otherwise(pl.concat_str(sign, thousands(cents // 100), fraction))
    )


def budget_changes(old: pl.DataFrame, new: pl.DataFrame, snapshot_id: int) -> pl.DataFrame:
    """Compare two snapshots' project budgets (project_id, name, budget); a budget set or cleared counts."""
    joined = old.join(new, on="project_id", how="inner", suffix="_new")
    before, after = pl.col("budget"), pl.col("budget_new")
    moved = before.is_null().ne(after.is_null()) | (before - after).abs().gt(0.005)
    money = {side: _cents(pl.col(side)) for side in ("budget", "budget_new")}
    return _change_rows(
        joined.filter(moved).sort("project_id"),
        snapshot_id,
        change=pl.lit("budget_changed"),
        project_id=pl.col("project_id"),
        name=pl.col("name_new"),
        detail=pl.format("budget changed from {} to {}", money["budget"], money["budget_new"]),
        days=pl.lit(None, pl.Int64),
    )


def _iso(expr: pl.Expr) -> pl.Expr:
    return expr.dt.to_string("%Y-%m-%d")


def milestone_changes(old: pl.DataFrame, new: pl.DataFrame, snapshot_id: int) -> pl.DataFrame:
    """Compare two snapshots' milestones: added, removed, completed, forecast moved, status changed.

    Parameters
    ----------
    old, new
        Milestones (milestone_id, project_id, name, baseline_finish, forecast_finish,
        actual_finish, reported_status) of the previous and the new snapshot.
    snapshot_id
        The new snapshot's id, written into every row.

    Returns
    -------
    pl.DataFrame
        Columns of :data:`CHANGES_SCHEMA`; ``days`` is the forecast move in calendar days
        (later is positive). Ordered by kind of change, then milestone id.
    """
    joined = old.with_columns(pl.lit(True).alias("in_old")).join(
        new.with_columns(pl.lit(True).alias("in_new")), on="milestone_id", how="full", coalesce=True, suffix="_new"
    )
    both = pl.col("in_old").is_not_null() & pl.col("in_new").is_not_null()
    days = (pl.col("forecast_finish_new") - pl.col("forecast_finish")).dt.total_days()
    signed = pl.when(days > 0).then(pl.format("+{}", days)).otherwise(days.cast(pl.String))
    unit = pl.when(days.abs() == 1).then(pl.lit("day")).otherwise(pl.lit("days"))
    old_status, new_status = (
        normalise_status(pl.col("reported_status")),
        normalise_status(pl.col("reported_status_new")),
    )
    completed = both & pl.col("actual_finish").is_null() & pl.col("actual_finish_new").is_not_null()
    kinds: list[tuple[str, pl.Expr, pl.Expr, pl.Expr]] = [
        # (change, condition, detail, days)
        (
            "added",
            pl.col("in_old").is_null(),
            pl.format("added, baseline finish {}", _iso(pl.col("baseline_finish_new"))),
            pl.lit(None, pl.Int64),
        ),
        ("removed", pl.col("in_new").is_null(), pl.lit("removed"), pl.lit(None, pl.Int64)),
        (
            "completed",
            completed,
            pl.format("completed on {}", _iso(pl.col("actual_finish_new"))),
            pl.lit(None, pl.Int64),
        ),
        (
            "forecast_moved",
            both & pl.col("forecast_finish").ne_missing(pl.col("forecast_finish_new")),
            pl.when(pl.col("forecast_finish").is_null())
            .then(pl.format("forecast set to {}", _iso(pl.col("forecast_finish_new"))))
            .when(pl.col("forecast_finish_new").is_null())
            .then(pl.format("forecast cleared (was {})", _iso(pl.col("forecast_finish"))))
            .otherwise(
                pl.format(
                    "forecast moved from {} to {} ({} {})",
                    _iso(pl.col("forecast_finish")),
                    _iso(pl.col("forecast_finish_new")),
                    signed,
                    unit,
                )
            ),
            days,
        ),
        (
            "status_changed",
            # "Complete" on a milestone completed in this snapshot says nothing new.
            both & old_status.ne(new_status) & ~(completed & new_status.eq("Complete")),
            pl.format("reported status changed from {} to {}", old_status, new_status),
            pl.lit(None, pl.Int64),
        ),
    ]
    parts = [
        joined.filter(condition).select(
            pl.lit(snapshot_id, pl.Int64).alias("snapshot_id"),
            pl.lit(change).alias("change"),
            pl.col("milestone_id"),
            pl.coalesce("project_id_new", "project_id").alias("project_id"),
            pl.coalesce("name_new", "name").alias("name"),
            detail.alias("detail"),
            days_expr.cast(pl.Int64).alias("days"),
        )
        for change, condition, detail, days_expr in kinds
    ]
    order = {kind: i for i, kind in enumerate(CHANGE_KINDS)}
    return (
        pl.concat(parts)
        .sort(pl.col("change").replace_strict(order, return_dtype=pl.Int64), "milestone_id", maintain_order=True)
        .cast(CHANGES_SCHEMA)
    )
