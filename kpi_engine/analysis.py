"""Engine results for stored snapshots: the current one with its previous, and trends.

This is the seam between the store and the pure engine; the CLI and the pages call it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from kpi_engine.core.errors import KpiError
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.settings import Settings
from kpi_engine.engine.compute import STATUS_TABLES, EngineResult, compute, statuses
from kpi_engine.engine.schedule import compute_schedule
from kpi_engine.store import Store

#: Columns of the milestone history: one row per (snapshot, milestone) with how far it moved.
HISTORY_SCHEMA = pl.Schema(
    {
        "snapshot_id": pl.Int64,
        "as_of": pl.Date,
        "milestone_id": pl.String,
        "project_id": pl.String,
        "baseline_finish": pl.Date,
        "computed_finish": pl.Date,
        "slip_days": pl.Int64,
        "moved_days": pl.Int64,
    }
)


def analyse(
    store: Store,
    snapshot_id: int | None = None,
    settings: Settings | None = None,
    previous: EngineResult | None = None,
) -> EngineResult:
    """Compute a snapshot (default: the latest) with its previous snapshot as context.

    The previous snapshot gives the "Amber or Red last week too" escalation rule and
    marks which exceptions are new.

    Parameters
    ----------
    store
        The database.
    snapshot_id
        The snapshot; default the latest.
    settings
        Thresholds and currency; default the stored settings.
    previous
        The result of the snapshot before ``snapshot_id`` under the same ``settings``, when
        the caller already has it (the dashboard shows both): it is used as the context
        instead of computing that snapshot again. The context contributes only each
        milestone's computed status and the keys of the exception list, which do not
        depend on the previous snapshot's own context, so the result is the same either way.
        Ignored for the first snapshot.

    Raises
    ------
    NoDataError
        When the database holds no snapshot.
    KpiError
        When the snapshot itself cannot be computed (e.g. a dependency cycle stored by an
        older version); an earlier snapshot that cannot be computed is only left out as context.
    """
    settings = settings or store.settings()
    snapshot_id = store.latest_snapshot_id() if snapshot_id is None else snapshot_id
    previous_id = store.previous_snapshot_id(snapshot_id)
    if previous_id is None:
        previous = None
    elif previous is None:
        previous = previous_context(store, previous_id, settings)
    return compute(store.load_portfolio(snapshot_id), settings, previous)


def previous_context(store: Store, previous_id: int, settings: Settings) -> EngineResult | None:
    """The result of an earlier snapshot as context for a later one, or None when it cannot be computed.

    A snapshot stored by an older version may hold data this version refuses at ingest (a
    dependency cycle, a date no calendar holds). Computing that snapshot itself fails
    with a clear error; a later snapshot only loses the context it would have given
    (the "Amber or Red last week too" bump and the ``new`` flags), never its own figures.
    """
    try:
        return compute(store.load_portfolio(previous_id), settings)
    except KpiError:
        return None


def milestone_history(
    store: Store, upto_snapshot_id: int | None = None, known: Mapping[int, pl.DataFrame] | None = None
) -> pl.DataFrame:
    """Return every milestone's computed finish in every week up to ``upto_snapshot_id``.

    One snapshot per date: when a date was uploaded more than once, its latest version
    (up to ``upto_snapshot_id``) stands for that week.
    A snapshot whose schedule cannot be computed (a dependency cycle or an undatable finish
    stored by an older version) is left out: the history around it still counts.

    Columns: ``snapshot_id``, ``as_of``, ``milestone_id``, ``project_id``, ``baseline_finish``,
    ``computed_finish``, ``slip_days`` and ``moved_days`` (how many days the computed finish
    moved since the milestone's previous snapshot; null in its first).

    ``known`` maps snapshot ids to milestones the caller has computed already (an
    :class:`EngineResult`'s ``milestones``, or :func:`compute_schedule`'s output): those
    snapshots are not loaded and scheduled again.
    """
    known = known or {}
    snapshots = store.snapshots()
    if upto_snapshot_id is not None:
        position = snapshots["snapshot_id"].to_list().index(upto_snapshot_id)
        snapshots = snapshots.head(position + 1)
    snapshots = snapshots.unique("as_of", keep="last", maintain_order=True)
    frames = []
    for snapshot_id, as_of in snapshots.select("snapshot_id", "as_of").iter_rows():
        schedule = known.get(snapshot_id)
        if schedule is None:
            try:
                schedule = compute_schedule(store.load_portfolio(snapshot_id))
            except KpiError:
                continue
        frames.append(
            schedule.select(
                "milestone_id", "project_id", "baseline_finish", "computed_finish", "slip_days"
            ).with_columns(pl.lit(snapshot_id).cast(pl.Int64).alias("snapshot_id"), pl.lit(as_of).alias("as_of"))
        )
    if not frames:
        return pl.DataFrame(schema=HISTORY_SCHEMA)
    history = pl.concat(frames).sort("milestone_id", "as_of", "snapshot_id")
    return history.with_columns(
        pl.col("computed_finish").cast(pl.Int32).cast(pl.Int64).diff().over("milestone_id").alias("moved_days")
    ).select(
        "snapshot_id",
        "as_of",
        "milestone_id",
        "project_id",
        "baseline_finish",
        "computed_finish",
        "slip_days",
        "moved_days",
    )


def snapshot_reports(store: Store, snapshot_id: int, settings: Settings | None = None) -> pl.DataFrame:
    """Return the status reports of one snapshot with their watermelon flags (DOMAIN.md section 7 rule 2).

    Watermelons do not depend on the previous snapshot, so the snapshot is computed on its own.
    """
    return older_snapshot(store, snapshot_id, settings).reports


@dataclass(frozen=True)
class OlderSnapshot:
    """What the pages read from a snapshot before the one they show, from one engine run.

    ``reports`` as :func:`snapshot_reports` gives them; ``milestones`` the schedule columns
    :func:`milestone_history` takes as a ``known`` snapshot.
    """

    reports: pl.DataFrame
    milestones: pl.DataFrame


def older_snapshot(store: Store, snapshot_id: int, settings: Settings | None = None) -> OlderSnapshot:
    """Compute a snapshot once for both its status reports and its place in the slip history.

    Raises
    ------
    KpiError
        The snapshot cannot be computed (e.g. a dependency cycle stored by an older version).
    """
    return _older(store.load_portfolio(snapshot_id, tables=STATUS_TABLES), snapshot_id, settings or store.settings())


def older_snapshots(
    store: Store, snapshot_ids: Sequence[int], settings: Settings | None = None
) -> dict[int, OlderSnapshot | KpiError]:
    """:func:`older_snapshot` of several snapshots, their tables read once for all of them.

    A snapshot that cannot be computed maps to its error (the others are still computed).
    """
    settings = settings or store.settings()
    portfolios = store.load_portfolios(snapshot_ids, tables=STATUS_TABLES)
    found: dict[int, OlderSnapshot | KpiError] = {}
    for snapshot_id, portfolio in portfolios.items():
        try:
            found[snapshot_id] = _older(portfolio, snapshot_id, settings)
        except KpiError as err:
            found[snapshot_id] = err
    return found


def _older(portfolio: Portfolio, snapshot_id: int, settings: Settings) -> OlderSnapshot:
    """A snapshot's reports and schedule, computed up to its statuses only.

    Reports and schedules need no governance findings, escalations or exception list.
    """
    from kpi_engine.engine.credibility import status_reports

    milestones = statuses(portfolio, settings)
    schedule = milestones.select("milestone_id", "project_id", "baseline_finish", "computed_finish", "slip_days")
    return OlderSnapshot(status_reports(milestones, portfolio.as_of, snapshot_id), schedule)


def report_snapshot_ids(store: Store, upto_snapshot_id: int | None = None) -> list[int]:
    """Return the snapshots whose reports count, oldest first, up to ``upto_snapshot_id`` (default: the latest).

    One snapshot per date: when a date was uploaded more than once (a correction), its
    latest snapshot stands for that week, so a re-upload does not count its reports twice.
    """
    snapshots = store.snapshots().select("snapshot_id", "as_of")
    if upto_snapshot_id is not None:
        position = snapshots["snapshot_id"].to_list().index(upto_snapshot_id)
        snapshots = snapshots.head(position + 1)
    return snapshots.unique("as_of", keep="last", maintain_order=True)["snapshot_id"].to_list()


def report_history(store: Store, upto_snapshot_id: int | None = None, settings: Settings | None = None) -> pl.DataFrame:
    """Return the status reports of every snapshot up to ``upto_snapshot_id`` (default: the latest)."""
    from kpi_engine.engine.credibility import empty_reports

    settings = settings or store.settings()
    frames = [
        snapshot_reports(store, snapshot_id, settings) for snapshot_id in report_snapshot_ids(store, upto_snapshot_id)
    ]
    return pl.concat(frames) if frames else empty_reports()


def credibility_of_store(store: Store, upto_snapshot_id: int | None = None, by: str = "person") -> pl.DataFrame:
    """Return reporting credibility per person (or project, program) over the stored snapshots.

    See :func:`kpi_engine.engine.credibility.credibility`.
    """
    from kpi_engine.engine.credibility import credibility

    return credibility(report_history(store, upto_snapshot_id), by)


def removal_values(
    store: Store, removals: pl.DataFrame, base_id: int, settings: Settings | None = None
) -> pl.DataFrame:
    """Return the removed milestones of an upload with the value at risk their links held.

    Parameters
    ----------
    removals
        ``IngestResult.removals`` or ``RemovalsRefused.removals``: milestones of snapshot
        ``base_id`` the upload removes.
    base_id
        The snapshot they are removed from (the one the upload builds on).

    Returns
    -------
    DataFrame
        ``removals`` plus ``value_at_risk`` (sum over the milestone's links in ``base_id``,
        to the cent; 0 when the snapshot cannot be computed).
    """
    if removals.height == 0:
        return removals.with_columns(value_at_risk=pl.lit(0.0))
    try:
        links = compute(store.load_portfolio(base_id), settings or store.settings()).links
    except KpiError:
        return removals.with_columns(value_at_risk=pl.lit(0.0))
    values = links.group_by("milestone_id").agg(pl.col("value_at_risk").sum())
    return removals.join(values, on="milestone_id", how="left", maintain_order="left").with_columns(
        pl.col("value_at_risk").fill_null(0.0).round(2)
    )
