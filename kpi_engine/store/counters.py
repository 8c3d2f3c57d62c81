"""Ids handed out inside the writing transaction, and the order of writes between programs.

A shared store takes no sequences and no PRIMARY KEY or UNIQUE constraints (DuckLake has
neither), so the store relies on neither, on either backend: a new id is the next value of
a counter row, taken inside the transaction that uses it, and a "replace" is a delete and
an insert in one transaction.

Every write also adds one to the ``writes`` counter. On a shared store, two programs
writing at once then change the same row, so the one that commits second meets a
transaction conflict: its transaction is rolled back whole and run again on top of what the
first one stored (:meth:`kpi_engine.store.Store._write`). Writes are therefore applied one
after the other in the order they commit, each on the data the one before it left; on the
embedded file the writers of one process queue on a lock anyway.
"""

from __future__ import annotations

import duckdb

#: The counter every write adds one to.
WRITES = "writes"
#: Counter name -> (table, id column) whose ids it hands out.
ID_COUNTERS = {
    "scenario_ids": ("scenarios", "scenario_id"),
    "decision_ids": ("decisions", "decision_id"),
    "notification_run_ids": ("notification_runs", "run_id"),
}

DDL = "CREATE TABLE IF NOT EXISTS counters (name VARCHAR NOT NULL, value BIGINT NOT NULL)"


def seed_counters(cur: duckdb.DuckDBPyConnection) -> None:
    """Add the counters that are missing, each starting past every id already handed out.

    A file written before the counters existed handed ids out from sequences: a counter
    starts after the larger of the sequence's last value and the table's largest id, so
    an id of a deleted row is never handed out again.
    """
    from kpi_engine.store.connection import q

    have = {row[0] for row in cur.execute("SELECT name FROM counters").fetchall()}
    if WRITES not in have:
        cur.execute("INSERT INTO counters VALUES (?, 0)", [WRITES])
    sequences = {
        row[0]: row[1]
        for row in cur.execute(
            "SELECT sequence_name, last_value FROM duckdb_sequences() WHERE database_name = current_database()"
        ).fetchall()
    }
    for name, (table, column) in ID_COUNTERS.items():
        if name in have:
            continue
        largest = cur.execute(f"SELECT coalesce(max({q(column)}), 0) FROM {q(table)}").fetchall()[0][0]
        cur.execute("INSERT INTO counters VALUES (?, ?)", [name, max(int(largest), int(sequences.get(name) or 0))])


def order_write(cur: duckdb.DuckDBPyConnection) -> None:
    """Add one to the ``writes`` counter: two programs writing at once conflict, and one runs again."""
    cur.execute("UPDATE counters SET value = value + 1 WHERE name = ?", [WRITES])


def next_id(cur: duckdb.DuckDBPyConnection, name: str) -> int:
    """Hand out the next id of counter ``name`` inside the caller's transaction."""
    cur.execute("UPDATE counters SET value = value + 1 WHERE name = ?", [name])
    return int(cur.execute("SELECT value FROM counters WHERE name = ?", [name]).fetchall()[0][0])
