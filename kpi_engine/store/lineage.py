"""Which stored rows make up a snapshot: rows are kept once, where they first arrived.

A snapshot is built on another one (its *base*: the snapshot an upload was laid over) and
differs from it only in what the upload brought. So each canonical table keeps a row
once, tagged with the snapshot that stored it (``snapshot_id``) and an id of its own
(``stored_row``); a snapshot that no longer holds a row it inherited records that in
``<table>_removals`` (one per canonical table, :func:`removals_table`).
``snapshot_lineage`` lists each snapshot with itself and every snapshot it was built on,
back to the first.

The rows of snapshot S in a table: those stored by a snapshot of S's lineage and not
removed by one. Queries take the lineage as a bound list of snapshot ids
(:func:`lineage_of`), not as a join with ``snapshot_lineage``: on the shared store every
table a query names costs a round trip to the catalog, so a read of one table names two
tables instead of four (reading the sample portfolio took about a quarter less time).

A week that changes a tenth of the projects stores a tenth of the rows; once a chain
holds as many removed rows as live ones, the next upload stores all its rows itself and
starts a chain of its own (:mod:`~kpi_engine.store.consolidation`).
Uploads built on an older snapshot (a snapshot dated before the newest) branch off it:
the removals of one branch are not in the other's lineage, so they do not touch it.

``stored_row`` is ``snapshot_id * ROW_ID_BASE + n`` with ``n`` the row's place in the rows its
snapshot stored: unique without a sequence, and ordering by it gives the order in which
the rows of a snapshot were first stored, carried rows before the new ones. (Not
``row_id``: the shared store's DuckLake keeps that name for itself.)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import duckdb

from kpi_engine.core.schema import TABLES
from kpi_engine.store.connection import q

#: Room for the rows one snapshot stores per table; row ids of snapshot s start at s * ROW_ID_BASE.
ROW_ID_BASE = 2**32


def removals_table(table: str) -> str:
    """The quoted name of the table listing the rows of ``table`` a snapshot no longer holds."""
    assert table in TABLES, table
    return q(f"{table}_removals")


def snapshot_rows(table: str, param: str) -> str:
    """SQL (a parenthesised subquery) for the rows of ``table`` in the snapshot whose lineage is bound to ``$param``.

    Parameters
    ----------
    table
        A canonical table (a key of :data:`~kpi_engine.core.schema.TABLES`).
    param
        The name of the named parameter holding the snapshot's lineage: its id and the
        id of every snapshot it was built on (:func:`lineage_of`), as a list.

    Returns
    -------
    str
        ``(SELECT * FROM table ...)``, with the columns of the table (``snapshot_id`` is
        the snapshot that stored the row, not the one asked for).
    """
    assert param.isidentifier(), param
    return (
        f"(SELECT t.* FROM {q(table)} t SEMI JOIN (SELECT unnest(${param}) AS a) a ON a.a = t.snapshot_id "
        f"ANTI JOIN (SELECT r.stored_row FROM {removals_table(table)} r "
        f"SEMI JOIN (SELECT unnest(${param}) AS a) a ON a.a = r.snapshot_id) x "
        "ON x.stored_row = t.stored_row)"
    )


def lineage_of(cur: duckdb.DuckDBPyConnection, snapshot_id: int) -> list[int]:
    """The lineage of a stored snapshot: its id and the id of every snapshot it was built on.

    What :func:`snapshot_rows` takes; a lineage never changes once stored.
    """
    return lineages_of(cur, [snapshot_id])[snapshot_id]


def lineages_of(cur: duckdb.DuckDBPyConnection, snapshot_ids: Collection[int]) -> dict[int, list[int]]:
    """Snapshot id -> :func:`lineage_of` it, for several snapshots in one query."""
    lineages: dict[int, list[int]] = {int(s): [] for s in snapshot_ids}
    rows = cur.execute(
        "SELECT snapshot_id, ancestor_id FROM snapshot_lineage WHERE snapshot_id IN (SELECT unnest($ids))",
        {"ids": list(lineages)},
    ).fetchall()
    for snapshot_id, ancestor in rows:
        lineages[int(snapshot_id)].append(int(ancestor))
    return lineages


#: While an upload is stored, the rows of these tables it removed from its base are kept aside
#: (a temporary table each, :func:`kept_aside`) with ``stored_row`` and these columns: what
#: the checks after the merge read of them (the schedule check, the removed milestones, the
#: changes), instead of each finding them again in every row of the table.
KEPT_ASIDE = {
    "milestones": (
        "milestone_id",
        "project_id",
        "name",
        "baseline_start",
        "baseline_finish",
        "forecast_finish",
        "actual_finish",
        "reported_status",
    ),
    "tasks": ("milestone_id", "forecast_finish", "actual_finish"),
}


def kept_aside(table: str) -> str:
    """The temporary table holding the rows of ``table`` (of :data:`KEPT_ASIDE`) the upload being stored removed."""
    assert table in KEPT_ASIDE, table
    return f"_kpi_removed_{table}"


def every_snapshots_rows(table: str, param: str | None = None) -> str:
    """SQL (a parenthesised subquery) for the rows of ``table`` in every snapshot, with the snapshot as ``in_snapshot``.

    With ``param``, only in the snapshots whose lineages are bound to ``$param``
    (:func:`lineage_pairs`): one pass over the table for all of them.
    """
    assert param is None or param.isidentifier(), param
    lineages = "snapshot_lineage" if param is None else f"(SELECT unnest(${param}, recursive := true))"
    return (
        f"(SELECT a.snapshot_id AS in_snapshot, t.* FROM {q(table)} t "
        f"JOIN {lineages} a ON a.ancestor_id = t.snapshot_id "
        f"ANTI JOIN (SELECT a.snapshot_id, r.stored_row FROM {removals_table(table)} r JOIN {lineages} a "
        "ON a.ancestor_id = r.snapshot_id) x "
        "ON x.snapshot_id = a.snapshot_id AND x.stored_row = t.stored_row)"
    )


def lineage_pairs(lineages: Mapping[int, list[int]]) -> list[dict[str, int]]:
    """Snapshot id -> lineage as the (snapshot, ancestor) pairs :func:`every_snapshots_rows` binds."""
    return [{"snapshot_id": s, "ancestor_id": a} for s, lineage in lineages.items() for a in lineage]


def add_to_lineage(cur: duckdb.DuckDBPyConnection, snapshot_id: int, base: list[int] | None) -> list[int]:
    """Record that ``snapshot_id`` is built on the snapshot of lineage ``base`` (None: it holds all its rows itself).

    Returns the new snapshot's lineage.
    """
    lineage = [snapshot_id, *(base or [])]
    cur.execute("INSERT INTO snapshot_lineage SELECT $id, unnest($lineage)", {"id": snapshot_id, "lineage": lineage})
    return lineage
