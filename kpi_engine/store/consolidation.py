"""Folding a long chain of snapshots back into one that stores all its rows itself.

A snapshot stores only what its upload changed (:mod:`~kpi_engine.store.lineage`), so
reading it passes over every row its chain ever stored and leaves out every row the chain
removed. Week after week of partial uploads, those dead rows grow with history, and so did
the time of a read and of a weekly upload (``bench/bench_history.py``). So an upload built on a snapshot whose chain holds as
many dead rows as live ones *consolidates*: it copies the rows it carries forward under its
own id, in the order they were first stored, ahead of its own rows, and starts a chain of
its own (its base stays its ``base_id``, the snapshot it was built on). Nothing earlier is
touched: every earlier snapshot reads back as before. The consolidating upload takes about
as long as a full one and adds a full copy of the bytes; with weekly uploads of a tenth of
the projects it was the twelfth weekly upload in ``bench_history``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import duckdb

from kpi_engine.core.schema import TABLES
from kpi_engine.store.connection import q, q_list
from kpi_engine.store.lineage import ROW_ID_BASE, removals_table, snapshot_rows

#: An upload built on a snapshot whose chain holds at least this many dead rows (rows its
#: snapshots stored that it no longer holds) per row it holds stores all its rows itself.
DEAD_ROWS_PER_LIVE_ROW = 1.0
#: The tables measured: the largest, and the ones every weekly export brings.
_MEASURED = ("milestones", "tasks")


#: Key of a snapshot's ``row_counts`` (JSON) holding the dead rows of its chain in the
#: tables :data:`_MEASURED` (what :func:`dead_rows` counts), so that the next upload does
#: not count them again. Snapshots stored before it was kept lack it.
DEAD_ROWS_KEY = "dead_rows_in_chain"


def dead_rows(cur: duckdb.DuckDBPyConnection, lineage: list[int]) -> int:
    """The rows the snapshots of ``lineage`` removed, in milestones and tasks, counted."""
    counts = " + ".join(
        f"(SELECT count(*) FROM {removals_table(t)} r WHERE r.snapshot_id IN (SELECT unnest($lineage)))"
        for t in _MEASURED
    )
    return int(cur.execute(f"SELECT {counts}", {"lineage": lineage}).fetchall()[0][0])


def chain_is_long(dead: int, live: Mapping[str, int]) -> bool:
    """Whether an upload built on a snapshot should store all its rows itself.

    Parameters
    ----------
    dead
        The rows the snapshot's chain removed in milestones and tasks (:func:`dead_rows`).
    live
        The rows the snapshot holds per table (its ``row_counts``).

    Returns
    -------
    bool
        True when ``dead`` is at least :data:`DEAD_ROWS_PER_LIVE_ROW` times the rows it holds
        in milestones and tasks.
    """
    return dead >= DEAD_ROWS_PER_LIVE_ROW * sum(live.get(t, 0) for t in _MEASURED)


def dead_rows_after(dead_in_base: int, consolidated: bool, removed: Mapping[str, int]) -> int:
    """The dead rows of a new snapshot's chain: its base's (none when it consolidated) and those it removed.

    ``removed``: the rows of its base the new snapshot removed, per table. A consolidated
    snapshot's chain is itself alone, and its own removals count (as :func:`dead_rows` counts them).
    """
    return (0 if consolidated else dead_in_base) + sum(removed.get(t, 0) for t in _MEASURED)


def copy_carried_rows(cur: duckdb.DuckDBPyConnection, table: str, new_id: int, base: list[int]) -> int:
    """Store the rows of the snapshot of lineage ``base`` that snapshot ``new_id`` keeps as rows of its own.

    The rows ``new_id`` removed are stored in ``<table>_removals`` already. The copies keep
    the order in which the rows were first stored: each snapshot of the chain gets a block
    of row ids from the new snapshot's first on, as wide as the ids it used, in the order of the chain, and
    a row keeps its place in its block (no sort of the rows; the ids have gaps where rows
    were removed).

    Returns
    -------
    int
        The width of the row ids the copies took: the upload's own rows start that far
        after the new snapshot's first row id.
    """
    widths = cur.execute(
        f"SELECT t.snapshot_id, max(t.stored_row) - t.snapshot_id * $row_base + 1 FROM {q(table)} t "
        "WHERE t.snapshot_id IN (SELECT unnest($base)) GROUP BY 1 ORDER BY 1",
        {"base": base, "row_base": ROW_ID_BASE},
    ).fetchall()
    if not widths:
        return 0
    first = new_id * ROW_ID_BASE
    blocks = list(itertools.accumulate((int(width) for _, width in widths), initial=first))
    cols = q_list(TABLES[table])
    cur.execute(
        f"INSERT INTO {q(table)} (snapshot_id, stored_row, {cols}) "
        f"SELECT $new, b.block + p.stored_row - p.snapshot_id * $row_base, {cols} "
        f"FROM {snapshot_rows(table, 'base')} p "
        "JOIN (SELECT unnest($ids) AS snapshot_id, unnest($blocks) AS block) b ON b.snapshot_id = p.snapshot_id "
        f"ANTI JOIN (SELECT stored_row FROM {removals_table(table)} WHERE snapshot_id = $new) r "
        "ON r.stored_row = p.stored_row",
        {
            "new": new_id,
            "base": base,
            "row_base": ROW_ID_BASE,
            "ids": [int(sid) for sid, _ in widths],
            "blocks": blocks[:-1],
        },
    )
    return blocks[-1] - first
