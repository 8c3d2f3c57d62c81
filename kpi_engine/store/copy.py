"""Copying a whole store into an empty one: to grow from a file to a shared store, to back up, to restore.

Every table the store's schema declares is copied, found in the store's own catalog once
it has opened (so a table :mod:`~kpi_engine.store.ddl` declares later is copied too, with
no change here), column by column by name, row for row: snapshot ids, dates, versions,
authors and ``created_at`` stay what they were, and the target then answers every read as
the source does. Only ``schema_version`` stays the target's own: both stores were brought
to this program's schema when they opened.

The source is read in one transaction (one consistent state, even while others write to
a shared store) and streamed in batches of Arrow rows; the target is written in one
transaction, so a copy that fails leaves it as empty as it was. The copy needs no
constraint or sequence of its own: a sequence the target keeps (ids of scenarios,
decisions, notification runs) is moved past the ids copied, so the next id is new.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb

from kpi_engine.core.errors import InputError
from kpi_engine.store import Store
from kpi_engine.store.backends import DEFAULT_DB_PATH
from kpi_engine.store.connection import _rollback, q, q_list
from kpi_engine.store.counters import ID_COUNTERS
from kpi_engine.store.file_contents import create_data_table, data_table_snapshots

#: Tables that describe a store rather than hold its data: each store keeps its own
#: (its schema version, and the counters it hands ids out from: moved past the copied ids).
OWN_TABLES = frozenset({"schema_version", "counters"})

#: Rows read from the source and written to the target at a time.
BATCH_ROWS = 50_000

_VIEW = "_kpi_copy_rows"
_HERE = "database_name = current_database() AND schema_name = current_schema()"


@dataclass(frozen=True)
class CopyResult:
    """What a copy moved.

    Attributes
    ----------
    rows
        Table name -> rows copied, for every table copied (empty ones included), by name.
    snapshots
        Snapshots copied.
    """

    rows: dict[str, int] = field(default_factory=dict)
    snapshots: int = 0

    def summary(self, source: str, target: str) -> list[str]:
        """Two lines for a person: what went where, then the rows per table that held any."""
        held = ", ".join(f"{table} {n:,}" for table, n in self.rows.items() if n)
        return [
            f"Copied {self.snapshots:,} snapshot(s) and everything stored with them from {source} to {target}.",
            "Rows: " + (held or "none (the source store is empty)"),
        ]


def shown(db: str | os.PathLike[str]) -> str:
    """A store's name as messages show it: a file as given, a database address without its password."""
    text = str(db)
    if "://" not in text:
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def store_tables(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables of the store open on ``cur`` that hold its data, by name.

    They are read from the catalog of the store's database and schema, so every table the
    schema declares is named, whichever backend holds it.
    """
    rows = cur.execute(f"SELECT table_name FROM duckdb_tables() WHERE {_HERE} ORDER BY table_name").fetchall()
    return [name for (name,) in rows if name not in OWN_TABLES]


def table_columns(cur: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The columns of a table of the store open on ``cur``, in their order."""
    rows = cur.execute(
        f"SELECT column_name FROM duckdb_columns() WHERE {_HERE} AND table_name = ? ORDER BY column_index", [table]
    ).fetchall()
    return [name for (name,) in rows]


def held_rows(cur: duckdb.DuckDBPyConnection, tables: list[str]) -> dict[str, int]:
    """Table -> rows, for the tables that hold any."""
    counts = {table: int(cur.execute(f"SELECT count(*) FROM {q(table)}").fetchall()[0][0]) for table in tables}
    return {table: n for table, n in counts.items() if n}


def copy_store(source: Store, target: Store) -> CopyResult:
    """Copy everything ``source`` holds into ``target``, which must hold nothing yet.

    Parameters
    ----------
    source
        The store to copy; read in one transaction, never written.
    target
        An empty store (only its own ``schema_version``); written in one transaction.

    Returns
    -------
    CopyResult

    Raises
    ------
    InputError
        The target already holds data, or the two stores do not declare the same tables
        and columns; the target was not changed.
    """
    with source._db.cursor() as read:
        read.begin()
        try:
            tables = store_tables(read)

            def work(write: duckdb.DuckDBPyConnection) -> CopyResult:
                held = held_rows(write, store_tables(write))
                if held:
                    listed = ", ".join(f"{table} {n:,}" for table, n in held.items())
                    raise InputError(
                        f"the store to copy to, {shown(target.path)}, already holds data ({listed}); "
                        "copy only into an empty store: name a new file or an empty database"
                    )
                # each upload's file contents have a table of their own: the target gets the same ones
                for snapshot_id in data_table_snapshots(read):
                    create_data_table(write, snapshot_id)
                target_tables = store_tables(write)
                _check_same_tables(tables, target_tables)
                rows = {table: _copy_table(read, write, table) for table in target_tables}
                _advance_counters(read, write)
                return CopyResult(rows=rows, snapshots=rows.get("snapshots", 0))

            return target._write(work)
        finally:
            _rollback(read)


def copy_database(source: str | os.PathLike[str] | None, target: str | os.PathLike[str]) -> CopyResult:
    """Open the store at ``source`` (default ``$KPI_DB``, else the default file) and copy it into ``target``.

    Raises
    ------
    InputError
        No store at a source file, source and target are one store, the target holds
        data, or a store cannot be opened.
    DatabaseBusyError
        Another program holds a file beyond the busy timeout.
    """
    source_db = source_store_name(source)
    target_db = str(target)
    if not target_db.strip():
        raise InputError("name the store to copy to: a new database file or an empty database")
    if _same_store(source_db, target_db):
        raise InputError(f"the store to copy from and the store to copy to are the same, {shown(source_db)}")
    if "://" not in source_db and not Path(source_db).is_file():
        raise InputError(f"there is no database file {source_db} to copy from")
    with Store.open(source_db) as source_store, Store.open(target_db) as target_store:
        return copy_store(source_store, target_store)


def source_store_name(source: str | os.PathLike[str] | None) -> str:
    """The store a copy reads: ``source``, else ``$KPI_DB``, else the default file (as ``--db``)."""
    chosen = str(source) if source not in (None, "") else os.environ.get("KPI_DB", "").strip()
    return chosen or str(DEFAULT_DB_PATH)


def _same_store(first: str, second: str) -> bool:
    if "://" in first or "://" in second:
        return first == second
    return os.path.realpath(first) == os.path.realpath(second)


def _check_same_tables(source: list[str], target: list[str]) -> None:
    """Both stores opened at this program's schema: a table only one of them has is a mismatch."""
    only = sorted(set(source) ^ set(target))
    if only:
        raise InputError(
            "the two stores do not hold the same tables (" + ", ".join(only) + "); "
            "open each once with this version of the program, then copy again"
        )


def _copy_table(read: duckdb.DuckDBPyConnection, write: duckdb.DuckDBPyConnection, table: str) -> int:
    """Stream one table from ``read`` into the same table on ``write``; return the rows copied."""
    columns = table_columns(write, table)
    missing = sorted(set(columns) - set(table_columns(read, table)))
    if missing:
        raise InputError(
            f"the table {table} of the store to copy from lacks the column(s) {', '.join(missing)}; "
            "open it once with this version of the program, then copy again"
        )
    cols = q_list(columns)
    batches = read.sql(f"SELECT {cols} FROM {q(table)}").to_arrow_reader(BATCH_ROWS)
    write.register(_VIEW, batches)
    try:
        copied = write.execute(f"INSERT INTO {q(table)} ({cols}) SELECT {cols} FROM {q(_VIEW)}").fetchall()
    finally:
        write.unregister(_VIEW)
    return int(copied[0][0]) if copied else 0


def _advance_counters(read: duckdb.DuckDBPyConnection, write: duckdb.DuckDBPyConnection) -> None:
    """Move each id counter of the target past the ids copied and past where the source's stood.

    An id the source gave and then deleted (a scenario) is never given again.
    """
    given = dict(read.execute("SELECT name, value FROM counters").fetchall())
    for name, (table, column) in ID_COUNTERS.items():
        top = write.execute(f"SELECT coalesce(max({q(column)}), 0) FROM {q(table)}").fetchall()[0][0]
        wanted = max(int(given.get(name) or 0), int(top))
        write.execute("UPDATE counters SET value = greatest(value, ?) WHERE name = ?", [wanted, name])
