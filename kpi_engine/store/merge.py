"""Storing one upload as a complete snapshot: the carry-forward merge and the checks on it.

Every snapshot holds the COMPLETE rows of each canonical table as of its date: the rows
the upload did not touch are carried forward from the snapshot it builds on, by
reference rather than by copy (:mod:`~kpi_engine.store.lineage`), so a snapshot stores
only what its upload changed and still reads back whole in one query per table. The checks run against the merged snapshot, inside the transaction that wrote it:
an upload that would leave a milestone without its project, a dependency cycle or a finish
no one can date is rolled back whole, and nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from kpi_engine.core.bounds import EARLIEST_DATE, LATEST_DATE, date_in_range
from kpi_engine.core.errors import InputError, Problem, UploadRejected
from kpi_engine.core.schema import KEYS, TABLES, conform, empty_table
from kpi_engine.store.backends import query_frame, to_arrow
from kpi_engine.store.changes import CHANGES_SCHEMA, empty_changes, snapshot_changes
from kpi_engine.store.connection import _now, q, q_list
from kpi_engine.store.consolidation import DEAD_ROWS_KEY, chain_is_long, copy_carried_rows, dead_rows, dead_rows_after
from kpi_engine.store.file_contents import keep_contents, kept_contents
from kpi_engine.store.identity import Identity, remember_keys, resolve_identity
from kpi_engine.store.lineage import (
    KEPT_ASIDE,
    ROW_ID_BASE,
    add_to_lineage,
    kept_aside,
    lineage_of,
    removals_table,
    snapshot_rows,
)
from kpi_engine.store.removals import RemovalsRefused, empty_removals, removed_milestones
from kpi_engine.store.schedule_check import SCHEDULE_TABLES, check_schedule, moved_bound, record_bound

if TYPE_CHECKING:
    from kpi_engine.ingest import FileReport, ParsedUpload

#: Provenance columns an upload carries next to the canonical ones.
PROVENANCE = {"_file": pl.String, "_sheet": pl.String, "_row": pl.Int64}


#: Project-scoped tables whose rows name their project directly ...
_PROJECT_COLUMN = {"projects": "project_id", "milestones": "project_id"}
#: ... or through a milestone (a dependency belongs to its successor's project).
MILESTONE_COLUMN = {
    "tasks": "milestone_id",
    "links": "milestone_id",
    "dependencies": "successor_id",
    "mitigations": "milestone_id",
}
# _merge_tables writes the new snapshot's milestones before the tables that name them
assert all(list(TABLES).index("milestones") < list(TABLES).index(t) for t in MILESTONE_COLUMN)
#: (table, column, referenced table, referenced column, noun): an unknown id rejects the upload.
_REQUIRED_REFERENCES = (
    ("milestones", "project_id", "projects", "project_id", "project"),
    ("kpis", "objective_id", "objectives", "objective_id", "objective"),
    ("kpi_actuals", "kpi_id", "kpis", "kpi_id", "KPI"),
    ("mitigations", "milestone_id", "milestones", "milestone_id", "milestone"),
)
#: Unknown ids here are kept and reported as warnings (governance findings "dangling id").
_SOFT_REFERENCES = (
    ("tasks", "milestone_id", "milestones", "milestone_id", "milestone"),
    ("links", "milestone_id", "milestones", "milestone_id", "milestone"),
    ("links", "kpi_id", "kpis", "kpi_id", "KPI"),
    ("dependencies", "predecessor_id", "milestones", "milestone_id", "milestone"),
    ("dependencies", "successor_id", "milestones", "milestone_id", "milestone"),
)


@dataclass(frozen=True)
class IngestResult:
    """What storing one upload did.

    ``rows`` counts the rows the snapshot holds per table, carried-forward rows included;
    ``changes`` lists what changed since ``previous_snapshot_id``, the latest snapshot of
    the previous date (columns of :data:`CHANGES_SCHEMA`); ``warnings`` holds the reader's
    warnings and the dangling ids. ``version`` numbers the uploads of one ``as_of``
    (``amends`` is the snapshot of that date this upload built on, when there was one);
    ``identity`` says which projects and milestones the exports were matched to or
    created, ``removals`` which milestones the upload removes
    (:data:`~kpi_engine.store.removals.REMOVALS_SCHEMA`).
    """

    snapshot_id: int | None
    as_of: date
    unchanged: bool
    message: str
    rows: dict[str, int]
    changes: pl.DataFrame
    warnings: list[Problem]
    files: list[FileReport]
    previous_snapshot_id: int | None = None
    version: int = 1
    amends: int | None = None
    identity: Identity = field(default_factory=Identity)
    removals: pl.DataFrame = field(default_factory=empty_removals)
    #: Another program stored a snapshot first while this upload was written; it was merged again on top.
    rebased: bool = False

    @property
    def built_on(self) -> int | None:
        """The snapshot this upload was laid over (the one it amends, else the previous date's); its ``removals`` are in it."""
        return self.amends if self.amends is not None else self.previous_snapshot_id


class _DryRun(Exception):
    """Carries a dry run's result out of its transaction so that it is rolled back."""

    def __init__(self, result: IngestResult) -> None:
        super().__init__("dry run")
        self.result = result


def _conformed_upload(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical columns and types of ``table`` plus the provenance columns."""
    provenance = [
        frame[name].cast(dtype) if name in frame.columns else pl.Series(name, [None] * frame.height, dtype)
        for name, dtype in PROVENANCE.items()
    ]
    conformed = conform(table, frame).with_columns(provenance)
    if "_file" not in frame.columns:
        conformed = conformed.with_columns(pl.lit("upload").alias("_file"))
    if "_sheet" not in frame.columns:
        conformed = conformed.with_columns(pl.lit(table).alias("_sheet"))
    return conformed


def _upload_view(table: str) -> str:
    return f"_kpi_upload_{table}"


def snapshot_with_files(cur: duckdb.DuckDBPyConnection, as_of: date, shas: list[str]) -> int | None:
    """Return the snapshot of ``as_of`` made of exactly these files, if any."""
    if not shas:
        return None
    rows = cur.execute(
        "SELECT s.snapshot_id FROM snapshots s JOIN snapshot_files f USING (snapshot_id) WHERE s.as_of = ? "
        "GROUP BY s.snapshot_id HAVING list_sort(list_distinct(list(f.sha256))) = ? ORDER BY s.snapshot_id LIMIT 1",
        [as_of, shas],
    ).fetchall()
    return int(rows[0][0]) if rows else None


def previous_date_id(cur: duckdb.DuckDBPyConnection, as_of: date) -> int | None:
    """The latest snapshot (latest version) of the last date before ``as_of``: "the previous snapshot"."""
    rows = cur.execute(
        "SELECT snapshot_id FROM snapshots WHERE as_of < ? ORDER BY as_of DESC, snapshot_id DESC LIMIT 1", [as_of]
    ).fetchall()
    return int(rows[0][0]) if rows else None


def _placement(cur: duckdb.DuckDBPyConnection, as_of: date) -> tuple[int | None, int | None, int, int]:
    """Where a snapshot dated ``as_of`` goes, in one query.

    Returns
    -------
    base, previous, version, new_id
        What the upload builds on (the latest snapshot dated on or before ``as_of``, ties
        broken by snapshot id), the previous snapshot (:func:`previous_date_id`), the
        snapshot's version of its date and its id.
    """
    base, previous, same_day, last = cur.execute(
        "SELECT arg_max(snapshot_id, (as_of, snapshot_id)) FILTER (WHERE as_of <= $d), "
        "arg_max(snapshot_id, (as_of, snapshot_id)) FILTER (WHERE as_of < $d), "
        "count(*) FILTER (WHERE as_of = $d), coalesce(max(snapshot_id), 0) FROM snapshots",
        {"d": as_of},
    ).fetchall()[0]
    return base, previous, int(same_day) + 1, int(last) + 1


def _register_upload(
    cur: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame], previous: list[int] | None
) -> list[str]:
    """Register the uploaded tables and, when rows are carried forward, the upload's scope.

    The scope's projects are registered as ``_kpi_scope_projects``; when the upload brings
    rows naming milestones but no milestones, the previous snapshot's milestones of those
    projects as ``_kpi_scope_milestones`` (otherwise the scope's milestones are the
    uploaded ones, :func:`_kept_milestones`).

    ``previous``: the lineage of the snapshot the upload builds on (None: there is none).
    Returns the names registered.
    """
    registered = []
    for table, frame in frames.items():
        # string views where DuckDB reads them as they are; the default (large strings) copies every text cell
        # _ord: the row's place in the upload, which its row id is made of
        cur.register(_upload_view(table), to_arrow(frame.with_row_index("_ord")))
        registered.append(_upload_view(table))
    if previous is None:
        return registered  # nothing is carried forward, so the scope is not needed (and costs a join per table)

    # Milestone -> project: the uploaded milestones win over the previous snapshot's
    # (a milestone may have moved to another project). Only the milestones the upload
    # names and does not bring are looked up in the previous snapshot.
    uploaded_ms = frames.get("milestones", pl.DataFrame(schema=_MILESTONE_PROJECT))
    uploaded_ms = uploaded_ms.select("milestone_id", "project_id")
    named = pl.concat(
        [
            pl.DataFrame(schema={"milestone_id": pl.String}),
            *(
                frames[t].select(pl.col(c).alias("milestone_id")).join(uploaded_ms, on="milestone_id", how="anti")
                for t, c in MILESTONE_COLUMN.items()
                if t in frames
            ),
        ]
    ).unique()
    # The scope: the projects the upload's projects and milestones rows name, and the project of
    # each milestone its other rows name. Those are the uploaded milestones' projects, already
    # among the first, and the previous snapshot's projects of the milestones it did not upload.
    scope_parts = [frames[t].select(pl.col(c).alias("project_id")) for t, c in _PROJECT_COLUMN.items() if t in frames]
    scope_parts.append(_previous_milestones(cur, previous, "milestone_id", named).select("project_id"))
    scope = pl.concat(scope_parts).unique()
    cur.register("_kpi_scope_projects", scope.to_arrow())
    registered.append("_kpi_scope_projects")
    if "milestones" in frames or not any(t in frames for t in MILESTONE_COLUMN):
        return registered  # the scope's milestones are the uploaded ones, or there is no table naming them (_kept_milestones)
    # the previous snapshot's milestones of a scope project (the upload brought no milestones)
    in_scope = _previous_milestones(cur, previous, "project_id", scope).select("milestone_id")
    cur.register("_kpi_scope_milestones", in_scope.to_arrow())
    return [*registered, "_kpi_scope_milestones"]


#: Which project each milestone belongs to (the upload's scope is worked out from it).
_MILESTONE_PROJECT = pl.Schema({"milestone_id": pl.String, "project_id": pl.String})


def _previous_milestones(
    cur: duckdb.DuckDBPyConnection, previous: list[int], column: str, wanted: pl.DataFrame
) -> pl.DataFrame:
    """The (milestone_id, project_id) of the previous snapshot's milestones whose ``column`` is in ``wanted``.

    ``previous``: that snapshot's lineage.
    """
    if wanted.height == 0:
        return pl.DataFrame(schema=_MILESTONE_PROJECT)
    cur.register("_kpi_wanted", wanted.select(column).to_arrow())
    try:
        frame = query_frame(
            cur,
            f"SELECT m.milestone_id, m.project_id FROM {snapshot_rows('milestones', 'base')} m "
            f"SEMI JOIN _kpi_wanted w ON w.{q(column)} = m.{q(column)}",
            {"base": previous},
        )
    finally:
        cur.unregister("_kpi_wanted")
    return frame.cast(_MILESTONE_PROJECT)


@dataclass(frozen=True)
class _Merged:
    """What :func:`_merge_tables` stored."""

    #: The rows the new snapshot holds per table.
    counts: dict[str, int]
    #: Per table, the first row id of the rows the upload brought (those below are carried).
    uploaded_from: dict[str, int]
    #: Whether the new snapshot stores all its rows itself (:mod:`~kpi_engine.store.consolidation`).
    consolidated: bool
    #: The new snapshot's lineage (:func:`~kpi_engine.store.lineage.lineage_of`).
    lineage: list[int]
    #: The tables whose rows the upload removed from its base are kept aside
    #: (:func:`~kpi_engine.store.lineage.kept_aside`) until the caller drops them.
    kept_aside: tuple[str, ...]
    #: The dead rows of the new snapshot's chain (:data:`~kpi_engine.store.consolidation.DEAD_ROWS_KEY`).
    dead_rows: int
    #: What the base keeps with its row counts (an empty store's when there is no base).
    stored: _Stored


def _kept_milestones(milestones_uploaded: bool) -> str:
    """SQL for the new snapshot's milestones outside the upload's scope (once its milestones are stored).

    A carried row of a table naming a milestone (tasks, links, ...) is kept only when it
    names one of these. The scope's milestones are the uploaded ones of a scope project and
    the base's of a scope project. When the upload brought milestones, the latter are all
    removed by it (a scope project's milestones are replaced), so they are not in the new
    snapshot anyway: only the uploaded ones count. Otherwise the base's were looked up
    beforehand (:func:`_register_upload`).
    """
    return (
        f"(SELECT m.milestone_id FROM {snapshot_rows('milestones', 'new_lineage')} m "
        f"ANTI JOIN {_scope_milestones(milestones_uploaded)} s ON s.milestone_id = m.milestone_id)"
    )


def _scope_milestones(milestones_uploaded: bool) -> str:
    """SQL for the upload's scope's milestones (see :func:`_kept_milestones`)."""
    if not milestones_uploaded:
        return "_kpi_scope_milestones"  # the base's, looked up beforehand (_register_upload)
    return (
        f"(SELECT u.milestone_id FROM {_upload_view('milestones')} u "
        "SEMI JOIN _kpi_scope_projects s ON s.project_id = u.project_id)"
    )


def _gone_milestones(milestones_uploaded: bool) -> str:
    """SQL for the milestones whose rows an upload removes from a base whose rows all name a milestone it holds.

    Such a row names a milestone outside the kept ones (:func:`_kept_milestones`) exactly
    when its milestone is in the upload's scope or the upload removed it for good: a
    look-up of the few milestones the upload touched instead of the many it keeps. The
    milestones removed for good are kept aside already (milestones come first in TABLES).
    """
    scope = _scope_milestones(milestones_uploaded)
    if not milestones_uploaded:
        return scope  # the upload removed no milestone
    return (
        f"(SELECT g.milestone_id FROM {_removed_for_good('milestones', 'milestone_id')} g "
        f"UNION ALL SELECT s.milestone_id FROM {scope} s)"
    )


def _merge_tables(
    cur: duckdb.DuckDBPyConnection,
    frames: dict[str, pl.DataFrame],
    new_id: int,
    base: int | None,
    base_lineage: list[int] | None,
) -> _Merged:
    """Store the new snapshot's rows: the uploaded ones, and which rows of ``base`` it no longer holds.

    Rows of ``base`` (of lineage ``base_lineage``) the new snapshot keeps are not copied
    (:mod:`~kpi_engine.store.lineage`), unless ``base``'s chain is long: then they are
    (:mod:`~kpi_engine.store.consolidation`).
    """
    stored = _stored_counts(cur, base) if base is not None else _NOTHING_STORED
    counts, dead = dict(stored.rows), stored.dead
    if dead is None:  # a base stored before its chain's count was kept
        dead = dead_rows(cur, base_lineage or [])
    consolidated = base_lineage is not None and chain_is_long(dead, counts)
    removed_rows: dict[str, int] = {}
    lineage = add_to_lineage(cur, new_id, None if consolidated else base_lineage)
    uploaded_from = dict.fromkeys(TABLES, new_id * ROW_ID_BASE)
    kept: list[str] = []
    for table, columns in TABLES.items():
        if table in frames and base is not None:
            # A base row is removed when an uploaded row has its key, when it is of a project in
            # the upload's scope (the uploaded rows replace those), or when it names a milestone
            # that the new snapshot lacks or that is in the scope; every other row is kept.
            # One pass over the rows of the base; each test is a hash look-up (DuckDB plans
            # each IN as a join marking the rows it finds).
            params: dict[str, object] = {"base": base_lineage}
            keys = [f"p.{q(k)}" for k in KEYS[table]]
            key = keys[0] if len(keys) == 1 else f"({', '.join(keys)})"
            gone = [f"{key} IN (SELECT {q_list(KEYS[table])} FROM {_upload_view(table)})"]
            # a projects row is upserted by its id: a project the upload's milestones name but its
            # projects rows do not (an export's projects part names only its own) is kept
            if table in _PROJECT_COLUMN and table != "projects":
                gone.append(f"p.{q(_PROJECT_COLUMN[table])} IN (SELECT project_id FROM _kpi_scope_projects)")
            if table in MILESTONE_COLUMN:
                # A row naming a milestone the new snapshot lacks belongs to no project: it
                # came with an earlier upload of this table, and this upload replaces it
                # (a mistyped id disappears once the corrected file is uploaded). With the
                # rows of scope milestones, these are the rows naming none of the *kept*
                # milestones (the new snapshot's, less those in scope): one look-up, not two.
                # Milestones come before tasks, dependencies and links in TABLES: the new
                # snapshot's milestones are stored already. When every row of the base names one
                # of its milestones (it keeps that count), only the milestones the upload touched
                # are looked up, not the many it keeps.
                named = f"p.{q(MILESTONE_COLUMN[table])}"
                if stored.missing.get(table) == 0:  # no row of the base names a milestone it lacks
                    gone.append(
                        f"{named} IS NULL OR {named} IN (SELECT milestone_id FROM {_gone_milestones('milestones' in frames)})"
                    )
                else:
                    kept_milestones = _kept_milestones("milestones" in frames)
                    gone.append(f"NOT coalesce({named} IN (SELECT milestone_id FROM {kept_milestones}), false)")
                    params["new_lineage"] = lineage  # the kept milestones are the new snapshot's
            base_rows = f"FROM {snapshot_rows(table, 'base')} p WHERE {' OR '.join(gone)}"
            if table in KEPT_ASIDE:
                # kept aside with what the checks after the merge read of them
                cur.execute(
                    f"CREATE TEMP TABLE {kept_aside(table)} AS "
                    f"SELECT p.stored_row, {q_list(KEPT_ASIDE[table])} {base_rows}",
                    params,
                )
                kept.append(table)
                base_rows, params = f"FROM {kept_aside(table)} p", {}
            removed = cur.execute(
                f"INSERT INTO {removals_table(table)} SELECT $new, p.stored_row {base_rows}", {"new": new_id, **params}
            ).fetchall()[0][0]
            counts[table] -= int(removed)
            removed_rows[table] = int(removed)
        if consolidated and base_lineage is not None:
            # after the removals: the copies are the rows of the base the new snapshot keeps
            uploaded_from[table] += copy_carried_rows(cur, table, new_id, base_lineage)
        if table not in frames:
            continue  # carried forward whole: nothing else to store
        cols = q_list(columns)
        added = cur.execute(
            f"INSERT INTO {q(table)} (snapshot_id, stored_row, {cols}) "
            f"SELECT $new, $first + _ord, {cols} FROM {_upload_view(table)}",
            {"new": new_id, "first": uploaded_from[table]},
        ).fetchall()[0][0]
        counts[table] += int(added)
    dead_after = dead_rows_after(dead, consolidated, removed_rows)
    return _Merged(counts, uploaded_from, consolidated, lineage, tuple(kept), dead_after, stored)


def _reference_problems(
    cur: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame], new: list[int]
) -> list[Problem]:
    """Uploaded rows naming a project, objective or KPI the new snapshot (lineage ``new``) does not hold."""
    problems: list[Problem] = []
    for table, column, target, target_column, noun in _REQUIRED_REFERENCES:
        if table not in frames:
            continue
        rows = cur.execute(
            f"SELECT u._file, u._sheet, u._row, u.{q(column)} FROM {_upload_view(table)} u "
            f"ANTI JOIN {snapshot_rows(target, 'new')} t ON t.{q(target_column)} = u.{q(column)} "
            f"WHERE u.{q(column)} IS NOT NULL ORDER BY 1, 2, 3",
            {"new": new},
        ).fetchall()
        problems += [
            Problem(file, sheet, row, column, f"unknown {noun} '{ref}'; add it to the {target} sheet or fix the id")
            for file, sheet, row, ref in rows
        ]
    return problems


def _mitigation_problems(
    cur: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame], new: list[int]
) -> list[Problem]:
    """Uploaded candidate workarounds that start before the period of a KPI their milestone is linked to.

    ``new``: the lineage of the new snapshot.
    """
    if "mitigations" not in frames:
        return []
    rows = cur.execute(
        f"SELECT u._file, u._sheet, u._row, u.start_date, min(k.period_start) FROM {_upload_view('mitigations')} u "
        f"JOIN {snapshot_rows('links', 'new')} l ON l.milestone_id = u.milestone_id "
        f"JOIN {snapshot_rows('kpis', 'new')} k ON k.kpi_id = l.kpi_id "
        "GROUP BY ALL HAVING u.start_date < min(k.period_start) ORDER BY 1, 2, 3",
        {"new": new},
    ).fetchall()
    return [
        Problem(
            file,
            sheet,
            row,
            "start_date",
            f"starts on {start}, before the period of its milestone's KPIs (from {period}); start on {period} or later",
        )
        for file, sheet, row, start, period in rows
    ]


def _schedule_problems(
    cur: duckdb.DuckDBPyConnection,
    frames: dict[str, pl.DataFrame],
    new: tuple[int, list[int]],
    as_of: date,
    previous: tuple[int, list[int]] | None,
) -> list[Problem]:
    """Cycles and undatable finishes in the new snapshot's schedule (its own rows plus carried ones).

    ``new`` and ``previous``: the new snapshot and the one it builds on, each id and lineage.

    Only what the upload may have moved is read when the base keeps a bound
    (:mod:`~kpi_engine.store.schedule_check`); the new snapshot keeps its own when it passes.
    """
    views = {table: _upload_view(table) for table in frames}
    problems, bound = check_schedule(cur, frames, views, new, as_of, previous)
    if not problems:
        record_bound(cur, new[0], bound)
    return problems


def _dangling_warnings(
    cur: duckdb.DuckDBPyConnection,
    frames: dict[str, pl.DataFrame],
    new: tuple[int, list[int]],
    previous: int | None,
    removed: Mapping[str, pl.DataFrame],
    uploaded_from: Mapping[str, int],
) -> tuple[list[Problem], dict[tuple[str, str], int]]:
    """Tasks, links and dependencies naming milestones or KPIs the new snapshot lacks, and how many rows do.

    Uploaded rows are named by file, sheet and row. Carried-forward rows are reported
    only when this upload removed what they name (older dangling ids were reported when
    they arrived), once per id. ``removed``: target table -> the ids (``id``) of it the
    upload removed for good. Only milestones can be (a scope project's milestones the upload
    does not bring again); KPIs are replaced by id, never removed, so none of theirs is.
    ``uploaded_from``: table -> the first row id of the upload's rows; the rows below it
    are carried (:class:`_Merged`). ``new``: the new snapshot's id and lineage.

    The counts, per (table, column), are of the uploaded rows naming an id the new snapshot
    lacks plus the carried rows naming one the upload removed (older ones are not looked for).
    """
    lineage = new[1]
    warnings: list[Problem] = []
    counted: dict[tuple[str, str], int] = {}
    for table, column, target, target_column, noun in _SOFT_REFERENCES:
        if table in frames:
            named = frames[table].select("_file", "_sheet", "_row", column)
            if target in frames:
                # an id the upload's own rows of the target table hold is in the new snapshot:
                # only the others are looked up in it (most rows name what came with them, and
                # then the new snapshot is not read at all)
                own = frames[target].select(pl.col(target_column).alias(column))
                named = named.join(own, on=column, how="anti")
            unknown = _unknown_in_new(cur, named, column, target, target_column, lineage)
            counted[(table, column)] = len(unknown)
            warnings += [
                Problem(
                    file,
                    sheet,
                    row,
                    column,
                    f"unknown {noun} '{ref}'; the row is kept and listed as a governance finding until it exists",
                )
                for file, sheet, row, ref in unknown
            ]
        if target not in removed:
            continue  # only an upload of milestones can remove what carried rows name
        if previous is None or removed[target].height == 0:
            # nothing carried, or nothing removed: no carried row lost what it names
            counted.setdefault((table, column), 0)
            continue
        cur.register("_kpi_removed_ids", removed[target].to_arrow())
        try:
            rows = cur.execute(
                f"SELECT x.{q(column)}, count(*) FROM {snapshot_rows(table, 'new')} x "
                f"SEMI JOIN _kpi_removed_ids r ON r.id = x.{q(column)} "
                "WHERE x.stored_row < $uploaded GROUP BY 1 ORDER BY 1",
                {"new": lineage, "uploaded": uploaded_from[table]},
            ).fetchall()
        finally:
            cur.unregister("_kpi_removed_ids")
        warnings += [
            Problem(
                f"snapshot {previous}",
                table,
                None,
                column,
                f"{count} row(s) kept from the previous snapshot name {noun} '{ref}', which this upload removed; "
                f"upload the {table} of its project again or restore the {noun}",
            )
            for ref, count in rows
        ]
        counted[(table, column)] = counted.get((table, column), 0) + sum(int(count) for _, count in rows)
    return warnings, counted


def _missing_after(
    frames: Mapping[str, pl.DataFrame], base: _Stored, counted: Mapping[tuple[str, str], int]
) -> dict[str, int]:
    """Per table naming a milestone, the new snapshot's rows naming one it lacks, where that is known.

    ``base``: what the snapshot the upload built on keeps; ``counted``: from :func:`_dangling_warnings`.
    An uploaded table's carried rows all name a kept milestone (the others are removed), so
    only its uploaded rows can lack theirs. A table carried whole keeps its base's count
    when the upload brought no milestones. When it did, the count is the carried rows
    naming a milestone it removed, provided none lacked one before (else the upload may
    have brought that milestone, which only a pass over the rows would tell). Uploaded
    workarounds naming an unknown milestone reject the upload; carried ones are not
    counted, so their count is not known after an upload of milestones.
    """
    missing: dict[str, int] = {}
    for table, column in MILESTONE_COLUMN.items():
        if table in frames:
            missing[table] = counted.get((table, column), 0)
        elif "milestones" not in frames:
            if table in base.missing:
                missing[table] = base.missing[table]  # the milestones are the base's: nothing changed
        elif base.missing.get(table) == 0 and (table, column) in counted:
            missing[table] = counted[(table, column)]
    return missing


def _removed_for_good(table: str, column: str) -> str:
    """SQL (a parenthesised subquery) for the rows of ``table`` the upload removed whose id (``column``) is gone for good.

    The rows the upload removed (:func:`~kpi_engine.store.lineage.kept_aside`) less those
    whose id it stored again: an id is unique in a snapshot, so a row stored again under the
    same id replaced the old one, it did not remove it.
    """
    return f"(SELECT g.* FROM {kept_aside(table)} g ANTI JOIN {_upload_view(table)} u ON u.{q(column)} = g.{q(column)})"


def _unknown_in_new(
    cur: duckdb.DuckDBPyConnection,
    named: pl.DataFrame,
    column: str,
    target: str,
    target_column: str,
    lineage: list[int],
) -> list[tuple[str, str, int, str]]:
    """The uploaded rows of ``named`` (file, sheet, row and ``column``) whose id the new snapshot's ``target`` lacks.

    In file, sheet and row order; ``lineage``: the new snapshot's. Nothing is read when no row is named.
    """
    if named.height == 0:
        return []
    cur.register("_kpi_named", to_arrow(named))
    try:
        rows: list[tuple[str, str, int, str]] = cur.execute(
            f"SELECT x._file, x._sheet, x._row, x.{q(column)} FROM _kpi_named x "
            f"ANTI JOIN {snapshot_rows(target, 'new')} t ON t.{q(target_column)} = x.{q(column)} ORDER BY 1, 2, 3",
            {"new": lineage},
        ).fetchall()
    finally:
        cur.unregister("_kpi_named")
    return rows


def _row_counts(cur: duckdb.DuckDBPyConnection, snapshot_id: int) -> dict[str, int]:
    """The rows a stored snapshot holds per table (kept with it when it was stored)."""
    return _stored_counts(cur, snapshot_id).rows


#: Key of a snapshot's ``row_counts`` (JSON) holding, per table naming a milestone
#: (:data:`MILESTONE_COLUMN`), how many of its rows name a milestone the snapshot lacks.
#: A table it leaves out is not known: the snapshot was stored before they were kept, or
#: knowing would have taken a pass over the table's rows (:func:`_missing_after`).
MISSING_KEY = "rows_naming_missing_milestones"


@dataclass(frozen=True)
class _Stored:
    """What a stored snapshot keeps with its row counts."""

    #: The rows it holds per table.
    rows: dict[str, int]
    #: The dead rows of its chain (:data:`~kpi_engine.store.consolidation.DEAD_ROWS_KEY`; None: not kept).
    dead: int | None
    #: Per table naming a milestone, its rows naming one it lacks (:data:`MISSING_KEY`; a table left out: not known).
    missing: dict[str, int]


#: What an empty store holds: nothing, so nothing dead and nothing naming a missing milestone.
_NOTHING_STORED: _Stored = _Stored(dict.fromkeys(TABLES, 0), 0, dict.fromkeys(MILESTONE_COLUMN, 0))


def _counts_kept(rows: Mapping[str, int], dead: int, missing: Mapping[str, int]) -> dict[str, object]:
    """A new snapshot's ``row_counts`` (JSON): its rows per table, and what the next upload reads of it."""
    return {**rows, DEAD_ROWS_KEY: dead, MISSING_KEY: dict(missing)}


def _stored_counts(cur: duckdb.DuckDBPyConnection, snapshot_id: int) -> _Stored:
    """What snapshot ``snapshot_id`` keeps with its row counts."""
    text = cur.execute("SELECT row_counts FROM snapshots WHERE snapshot_id = ?", [snapshot_id]).fetchall()[0][0]
    counts = json.loads(text)
    dead = counts.get(DEAD_ROWS_KEY)
    missing = counts.get(MISSING_KEY) or {}
    return _Stored(
        {table: int(counts.get(table, 0)) for table in TABLES},
        None if dead is None else int(dead),
        {table: int(missing[table]) for table in MILESTONE_COLUMN if table in missing},
    )


# ---------------------------------------------------------------------- the steps of Store.ingest
def checked_as_of(as_of: date) -> date:
    """Return the snapshot date as a date; refuse one outside the dates this program accepts.

    Raises
    ------
    InputError
        The date is before :data:`EARLIEST_DATE` or after :data:`LATEST_DATE`.
    """
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    if not date_in_range(as_of):
        raise InputError(
            f"the snapshot date {as_of} is outside the dates this program accepts "
            f"({EARLIEST_DATE} to {LATEST_DATE}); nothing was stored"
        )
    return as_of


def upload_frames(upload: ParsedUpload) -> dict[str, pl.DataFrame]:
    """Return the upload's canonical tables, conformed and with their provenance columns.

    Raises
    ------
    InputError
        The upload holds none of the portfolio model's tables.
    """
    frames = {table: _conformed_upload(table, frame) for table, frame in upload.tables.items() if table in TABLES}
    if not frames:
        raise InputError("the upload holds none of the sheets of the portfolio model; nothing was stored")
    return frames


def upload_shas(upload: ParsedUpload) -> list[str]:
    """Return the distinct contents (SHA-256) of the uploaded files, sorted: what makes an upload the same."""
    return sorted({f.sha256 for f in upload.files})


def unchanged_result(cur: duckdb.DuckDBPyConnection, upload: ParsedUpload, as_of: date, same: int) -> IngestResult:
    """The result of uploading again the very files snapshot ``same`` was made of: nothing stored."""
    return IngestResult(
        snapshot_id=same,
        as_of=as_of,
        unchanged=True,
        message=(f"These files were already loaded for {as_of.isoformat()} (snapshot {same}); nothing new was stored."),
        rows=_row_counts(cur, same),
        changes=empty_changes(),
        warnings=list(upload.warnings),
        files=list(upload.files),
        previous_snapshot_id=previous_date_id(cur, as_of),
        version=_version_of(cur, same),
    )


def _version_of(cur: duckdb.DuckDBPyConnection, snapshot_id: int) -> int:
    return int(cur.execute("SELECT version FROM snapshots WHERE snapshot_id = ?", [snapshot_id]).fetchall()[0][0])


def write_snapshot(
    cur: duckdb.DuckDBPyConnection,
    upload: ParsedUpload,
    frames: dict[str, pl.DataFrame],
    as_of: date,
    author: str,
    note: str,
    blobs: dict[str, bytes],
    dry_run: bool,
    attach: Mapping[str, str] | None = None,
    allow_removals: bool = True,
) -> IngestResult:
    """Write the upload as a new snapshot inside the caller's transaction; see :meth:`Store.ingest`.

    ``blobs`` holds the uploaded files' bytes by content hash.

    Raises
    ------
    UploadRejected
        The merged snapshot fails a check (the caller's transaction is rolled back).
    RemovalsRefused
        The upload removes milestones and ``allow_removals`` is False (a dry run never
        raises it: its result lists the removals).
    _DryRun
        With ``dry_run``, carrying the result, so that the caller rolls everything back.
    """
    base, previous, version, new_id = _placement(cur, as_of)
    amends = base if base is not None and base != previous else None
    based = (base, lineage_of(cur, base)) if base is not None else None
    base_lineage = based[1] if based is not None else None
    frames, identity = resolve_identity(cur, upload, frames, base_lineage, attach or {})
    registered: list[str] = []
    try:
        registered = _register_upload(cur, frames, base_lineage)
        merged = _merge_tables(cur, frames, new_id, base, base_lineage)
        rows = merged.counts
        new = (new_id, merged.lineage)
        _check_snapshot(cur, frames, new, as_of, based)
        removals = (
            removed_milestones(cur, based[1], _removed_for_good("milestones", "milestone_id"))
            if based is not None and "milestones" in merged.kept_aside
            else empty_removals()
        )
        if removals.height and base is not None and not (allow_removals or dry_run):
            raise RemovalsRefused(removals, base)
        gone = {"milestones": removals.select(pl.col("milestone_id").alias("id"))}
        dangling, counted = _dangling_warnings(cur, frames, new, base, gone, merged.uploaded_from)
        warnings = list(upload.warnings) + dangling
        missing = _missing_after(frames, merged.stored, counted)
        # a consolidated snapshot stored its carried rows too: it is compared whole
        built_on = None if merged.consolidated else base
        changes = _record_changes(cur, new, previous, built_on, registered, frames)
        for table in merged.kept_aside:
            cur.execute(f"DROP TABLE {kept_aside(table)}")
    finally:
        for name in registered:
            cur.unregister(name)
    cur.execute(
        "INSERT INTO snapshots (snapshot_id, as_of, created_at, author, source_note, row_counts, version, base_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [new_id, as_of, _now(), author, note, json.dumps(_counts_kept(rows, merged.dead_rows, missing)), version, base],
    )
    _keep_files(cur, new_id, upload.files, blobs)
    remember_keys(cur, identity, new_id)
    since = f" since snapshot {previous}" if previous is not None else ""
    what = f"Dry run, nothing stored: would be snapshot {new_id}" if dry_run else f"Stored snapshot {new_id}"
    week = f" (version {version} of that week, amending snapshot {amends})" if amends is not None else ""
    message = (
        f"{what} as of {as_of.isoformat()}{week} from {len(upload.files)} file(s); "
        f"{changes.height} change(s){since}, {len(warnings)} warning(s)."
    )
    result = IngestResult(
        None if dry_run else new_id,
        as_of,
        False,
        message,
        rows,
        changes,
        warnings,
        list(upload.files),
        previous,
        version,
        amends,
        identity,
        removals,
    )
    if dry_run:
        # Everything was computed inside the transaction; undo it.
        raise _DryRun(result)
    return result


def _check_snapshot(
    cur: duckdb.DuckDBPyConnection,
    frames: dict[str, pl.DataFrame],
    new: tuple[int, list[int]],
    as_of: date,
    previous: tuple[int, list[int]] | None,
) -> None:
    """Reject the merged snapshot for unknown references, early workarounds or an undatable schedule.

    The schedule is checked only when the references hold and the upload touched it.
    ``new`` and ``previous``: the new snapshot and the one it builds on, each id and lineage.

    Raises
    ------
    UploadRejected
        Listing every problem found.
    """
    problems = _reference_problems(cur, frames, new[1]) + _mitigation_problems(cur, frames, new[1])
    if not problems and any(t in frames for t in SCHEDULE_TABLES):
        problems = _schedule_problems(cur, frames, new, as_of, previous)
    elif not problems:
        # the schedule's rows are the base's: its finishes moved by the days between the two dates at most
        bound = moved_bound(cur, previous[0] if previous is not None else None, as_of)
        if bound is not None:
            record_bound(cur, new[0], bound)
    if problems:
        raise UploadRejected(problems)


def _record_changes(
    cur: duckdb.DuckDBPyConnection,
    new: tuple[int, list[int]],
    previous: int | None,
    base: int | None,
    registered: list[str],
    frames: Mapping[str, pl.DataFrame],
) -> pl.DataFrame:
    """Compute what changed since ``previous``, store it and return it.

    ``frames``: the tables the upload stored rows of (the others were carried whole), as it
    stored them.

    The frame is registered for the INSERT; its name is added to ``registered`` so that the
    caller unregisters it.
    """
    changes = snapshot_changes(
        cur,
        new,
        previous,
        built_on_previous=previous is not None and base == previous,
        touched=set(frames),
        stored_milestones=frames.get("milestones", empty_table("milestones")),
    )
    if changes.height:
        cur.register("_kpi_changes", changes.to_arrow())
        registered.append("_kpi_changes")
        cols = q_list(CHANGES_SCHEMA)
        cur.execute(f"INSERT INTO changes ({cols}) SELECT {cols} FROM _kpi_changes")
    return changes


def _keep_files(
    cur: duckdb.DuckDBPyConnection, new_id: int, files: Iterable[FileReport], blobs: dict[str, bytes]
) -> None:
    """Record the snapshot's files and keep the bytes of each content not kept yet (audit trail)."""
    kept = kept_contents(cur, blobs)
    new: dict[str, bytes] = {}
    for f in files:
        cur.execute(
            "INSERT INTO snapshot_files VALUES (?, ?, ?, ?, ?, ?)",
            [new_id, f.name, f.sha256, f.size, f.source, json.dumps(dict(f.tables))],
        )
        if f.sha256 in blobs and f.sha256 not in kept:
            new[f.sha256] = blobs[f.sha256]  # two files of one upload may have the same contents
    keep_contents(cur, new_id, new)
