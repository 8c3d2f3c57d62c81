"""The database's tables, declared here once and created (or checked) whenever the file opens.

The canonical tables follow :data:`kpi_engine.core.schema.TABLES`, each with the id of the
snapshot that stored a row and the row's own id; which rows a snapshot holds is in
:mod:`~kpi_engine.store.lineage`. ``schema_version`` says which program wrote the file: a file a
newer version wrote is refused rather than misread; a file an older version wrote is
brought up to date when it opens (:func:`_migrate`).

Versions: 1 the first; 2 adds ``snapshots.version`` (uploads of one date are versions of one
week) and ``milestone_keys`` (the tool key each exported milestone came with); 3 keeps a row
once instead of once per snapshot (``stored_row``, ``snapshots.base_id``, ``<table>_removals``,
``snapshot_lineage``) and each upload's file contents in a table of its own (``file_contents``);
it also hands ids out from ``counters`` instead of sequences and declares no PRIMARY KEY (a
shared store has neither; see :mod:`kpi_engine.store.counters`). A file of version 2 keeps
its old keys and sequences, unused; its counters start past every id it handed out.
``schedule_bounds`` came later within version 3: an older program ignores it, and a snapshot
that has no row in it is checked whole by the next upload (:mod:`~kpi_engine.store.schedule_check`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from kpi_engine.core.errors import InputError
from kpi_engine.core.schema import TABLES
from kpi_engine.store.connection import q
from kpi_engine.store.counters import DDL as COUNTERS_DDL
from kpi_engine.store.counters import seed_counters
from kpi_engine.store.lineage import ROW_ID_BASE, removals_table
from kpi_engine.store.loop_log import create_loop_tables
from kpi_engine.store.schedule_check import DDL as SCHEDULE_BOUNDS_DDL

SCHEMA_VERSION = 3

_SQL_TYPES: dict[Any, str] = {pl.String: "VARCHAR", pl.Date: "DATE", pl.Float64: "DOUBLE", pl.Int64: "BIGINT"}


def create_schema(cur: duckdb.DuckDBPyConnection, path: Path | str) -> None:
    """Create every table that is missing, inside the caller's transaction.

    Raises
    ------
    InputError
        A newer version of this program wrote the file at ``path``.
    """
    cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    versions = [row[0] for row in cur.execute("SELECT version FROM schema_version").fetchall()]
    if versions and max(versions) > SCHEMA_VERSION:
        raise InputError(
            f"the database file {path} was written by a newer version of this program; upgrade the program to open it"
        )
    cur.execute(
        "CREATE TABLE IF NOT EXISTS snapshots (snapshot_id BIGINT NOT NULL, as_of DATE NOT NULL, "
        "created_at TIMESTAMP NOT NULL, author VARCHAR NOT NULL, source_note VARCHAR NOT NULL, "
        # Row counts per table (JSON): listing snapshots must not count every stored row.
        "row_counts VARCHAR NOT NULL, "
        # 1, 2, ... for the uploads of one as_of date: one week, amended
        "version INTEGER NOT NULL DEFAULT 1, "
        # the snapshot it was built on; NULL: it stores all its rows itself
        "base_id BIGINT)"
    )
    cur.execute(
        "CREATE TABLE IF NOT EXISTS snapshot_files (snapshot_id BIGINT NOT NULL, file_name VARCHAR NOT NULL, "
        "sha256 VARCHAR NOT NULL, size BIGINT NOT NULL, source VARCHAR NOT NULL, tables VARCHAR NOT NULL)"
    )
    cur.execute("CREATE TABLE IF NOT EXISTS file_blobs (sha256 VARCHAR NOT NULL, data BLOB NOT NULL)")
    # where each content's bytes are kept (see kpi_engine.store.file_contents)
    cur.execute("CREATE TABLE IF NOT EXISTS file_contents (sha256 VARCHAR NOT NULL, snapshot_id BIGINT NOT NULL)")
    for table, columns in TABLES.items():
        body = ", ".join(f"{q(name)} {_SQL_TYPES[col.dtype]}" for name, col in columns.items())
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {q(table)} (snapshot_id BIGINT NOT NULL, stored_row BIGINT NOT NULL, {body})"
        )
        # the rows of earlier snapshots a snapshot no longer holds (kpi_engine.store.lineage)
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {removals_table(table)} (snapshot_id BIGINT NOT NULL, stored_row BIGINT NOT NULL)"
        )
    cur.execute(
        "CREATE TABLE IF NOT EXISTS snapshot_lineage (snapshot_id BIGINT NOT NULL, ancestor_id BIGINT NOT NULL)"
    )
    # a date no computed finish of a snapshot passes (kpi_engine.store.schedule_check); a table
    # added without a new version: a snapshot without its row is checked whole
    cur.execute(SCHEDULE_BOUNDS_DDL)
    cur.execute(
        "CREATE TABLE IF NOT EXISTS changes (snapshot_id BIGINT NOT NULL, change VARCHAR NOT NULL, "
        "milestone_id VARCHAR, project_id VARCHAR, name VARCHAR, detail VARCHAR, days BIGINT)"
    )
    cur.execute("CREATE TABLE IF NOT EXISTS settings (key VARCHAR NOT NULL, value VARCHAR NOT NULL)")
    cur.execute(
        "CREATE TABLE IF NOT EXISTS scenarios (scenario_id BIGINT NOT NULL, name VARCHAR NOT NULL, "
        "author VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, "
        "snapshot_id BIGINT, spec VARCHAR NOT NULL)"
    )
    cur.execute(
        "CREATE TABLE IF NOT EXISTS mapping_profiles (name VARCHAR NOT NULL, spec VARCHAR NOT NULL, "
        "updated_at TIMESTAMP NOT NULL)"
    )
    # Which milestone an exported one is: the tool's key (an MS Project Unique ID, a Jira
    # issue key) of each milestone of a project, kept from the uploads that brought it.
    cur.execute(
        "CREATE TABLE IF NOT EXISTS milestone_keys (project_id VARCHAR NOT NULL, tool_key VARCHAR NOT NULL, "
        "milestone_id VARCHAR NOT NULL, source VARCHAR NOT NULL, snapshot_id BIGINT NOT NULL)"
    )
    create_loop_tables(cur)
    cur.execute(COUNTERS_DDL)
    seed_counters(cur)
    _migrate(cur, max(versions) if versions else SCHEMA_VERSION)


def _migrate(cur: duckdb.DuckDBPyConnection, found: int) -> None:
    """Bring a file written by schema version ``found`` up to :data:`SCHEMA_VERSION`.

    Tables a version added are created above (``IF NOT EXISTS``); here the columns it added
    to existing tables are filled in.
    """
    # every column is added before any row is updated: DuckDB refuses to commit a table
    # altered after its rows were changed in the same transaction
    if found < 2:
        cur.execute("ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS version INTEGER DEFAULT 1")
    if found < 3:
        cur.execute("ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS base_id BIGINT")
    if found < 2:
        # version 1 had no versions: number the uploads of each date in the order they came
        cur.execute(
            "UPDATE snapshots s SET version = n.version FROM (SELECT snapshot_id, "
            "row_number() OVER (PARTITION BY as_of ORDER BY snapshot_id) AS version FROM snapshots) n "
            "WHERE n.snapshot_id = s.snapshot_id"
        )
    if found < 3:
        _keep_rows_once(cur)
    if found < SCHEMA_VERSION:
        cur.execute("DELETE FROM schema_version")
    rows = cur.execute("SELECT count(*) FROM schema_version").fetchall()[0][0]
    if rows == 0:
        cur.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])


def _keep_rows_once(cur: duckdb.DuckDBPyConnection) -> None:
    """Version 2 kept every row of every snapshot: give each row its id, each snapshot its lineage.

    Each old snapshot stays complete by itself (no base, nothing removed), so it reads
    back exactly as before; the snapshots stored from now on keep only what changed.
    """
    for table in TABLES:
        cur.execute(f"ALTER TABLE {q(table)} ADD COLUMN IF NOT EXISTS stored_row BIGINT")
        # the row's place among its snapshot's rows, in the order they were stored
        cur.execute(
            f"UPDATE {q(table)} t SET stored_row = n.stored_row FROM (SELECT rowid AS r, snapshot_id * ? "
            f"+ row_number() OVER (PARTITION BY snapshot_id ORDER BY rowid) - 1 AS stored_row FROM {q(table)}) n "
            "WHERE t.rowid = n.r",
            [ROW_ID_BASE],
        )
    cur.execute("INSERT INTO snapshot_lineage SELECT snapshot_id, snapshot_id FROM snapshots")
