"""What an upload removes from the snapshot it builds on, and what that disconnects.

An export replaces the milestones of its project: a milestone of that project the export
does not bring is removed, and with it go the KPI links and dependencies that named it
(its value at risk silently leaves the totals). Removals are listed before anything is
stored, and stored only when the user confirms them.
"""

from __future__ import annotations

import duckdb
import polars as pl

from kpi_engine.core.errors import Problem, UploadRejected
from kpi_engine.store.backends import query_frame
from kpi_engine.store.lineage import snapshot_rows

#: One row per removed milestone.
REMOVALS_SCHEMA = pl.Schema(
    {
        "milestone_id": pl.String(),
        "name": pl.String(),
        "project_id": pl.String(),
        "kpi_ids": pl.List(pl.String()),  # the KPIs its links tied it to
        "value_per_week": pl.Float64(),  # summed over those links
        "dependencies": pl.Int64(),  # dependencies that named it
        "tasks": pl.Int64(),
    }
)


def empty_removals() -> pl.DataFrame:
    """No removals: an empty frame of :data:`REMOVALS_SCHEMA`."""
    return pl.DataFrame(schema=REMOVALS_SCHEMA)


def removed_milestones(cur: duckdb.DuckDBPyConnection, base: list[int], gone: str) -> pl.DataFrame:
    """The milestones of the snapshot of lineage ``base`` that the new snapshot no longer holds, with what named them.

    ``base``: :func:`~kpi_engine.store.lineage.lineage_of` the snapshot the new one builds on.
    ``gone``: SQL (a parenthesised subquery) for the rows of those milestones (``milestone_id``,
    ``name``, ``project_id``).
    """
    # Most weekly uploads remove nothing: asked first, so that the links, dependencies and
    # tasks of the base are not joined for nothing (on the shared store that join cost
    # 127 ms of a weekly upload's 829 ms at 250k tasks).
    if not cur.execute(f"SELECT 1 FROM {gone} m LIMIT 1").fetchall():
        return empty_removals()
    frame = query_frame(
        cur,
        "SELECT m.milestone_id, m.name, m.project_id, "
        f"coalesce((SELECT list(l.kpi_id ORDER BY l.kpi_id) FROM {snapshot_rows('links', 'base')} l "
        "WHERE l.milestone_id = m.milestone_id), []::VARCHAR[]) AS kpi_ids, "
        f"coalesce((SELECT sum(l.value_per_week) FROM {snapshot_rows('links', 'base')} l "
        "WHERE l.milestone_id = m.milestone_id), 0)::DOUBLE AS value_per_week, "
        f"(SELECT count(*) FROM {snapshot_rows('dependencies', 'base')} d "
        "WHERE m.milestone_id IN (d.predecessor_id, d.successor_id)) AS dependencies, "
        f"(SELECT count(*) FROM {snapshot_rows('tasks', 'base')} t WHERE t.milestone_id = m.milestone_id) AS tasks "
        f"FROM {gone} m ORDER BY m.project_id, m.milestone_id",
        {"base": base},
    )
    return frame.cast(REMOVALS_SCHEMA) if frame.height else empty_removals()


def removal_sentence(row: dict[str, object], value_at_risk: float | None = None, currency: str = "") -> str:
    """One line saying what removing one milestone disconnects (and the value at risk it held, when given)."""
    kpis = [str(k) for k in row["kpi_ids"] or []]  # type: ignore[attr-defined]
    text = f"removes milestone '{row['milestone_id']}' ({row['name']}, project {row['project_id']})"
    text += f": disconnects its link to KPI {', '.join(kpis)}" if kpis else ": it is tied to no KPI"
    deps = int(row["dependencies"] or 0)  # type: ignore[call-overload]
    if deps:
        text += f" and {deps} dependenc{'y' if deps == 1 else 'ies'}"
    if value_at_risk:
        text += f"; its value at risk of {value_at_risk:,.0f} {currency}".rstrip() + " leaves the totals"
    return text


class RemovalsRefused(UploadRejected):
    """An upload would remove milestones and the user did not confirm it; nothing was stored.

    ``removals`` holds the removed milestones (:data:`REMOVALS_SCHEMA`) and ``base`` the
    snapshot they are in, so that a caller can show what they were worth.
    """

    def __init__(self, removals: pl.DataFrame, base: int) -> None:
        self.removals = removals
        self.base = base
        problems = [
            Problem(f"snapshot {base}", "milestones", None, "milestone_id", removal_sentence(row) + CONFIRM)
            for row in removals.iter_rows(named=True)
        ]
        super().__init__(problems)


CONFIRM = "; confirm the removal to store the upload"
