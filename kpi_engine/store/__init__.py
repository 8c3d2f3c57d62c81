"""The one package that talks to DuckDB: snapshots, their tables, settings, scenarios, mappings.

One database file holds everything; :class:`Store` is the single door to it, and the
modules behind it are named for what they hold:

- :mod:`~kpi_engine.store.connection`: opening the file with safe settings, waiting for
  other programs, letting the file go when idle, :func:`data_version`;
- :mod:`~kpi_engine.store.ddl`: the tables and the schema version;
- :mod:`~kpi_engine.store.merge`: storing one upload as a complete snapshot, and its checks;
- :mod:`~kpi_engine.store.lineage`: which stored rows make up a snapshot (a row is kept
  once, by the snapshot that brought it);
- :mod:`~kpi_engine.store.file_contents`: the uploaded files' bytes, a table per upload;
- :mod:`~kpi_engine.store.changes`: what changed since the snapshot before;
- :mod:`~kpi_engine.store.snapshots`: reading snapshots, their changes and files;
- :mod:`~kpi_engine.store.repositories`: settings, roles, scenarios, mapping profiles;
- :mod:`~kpi_engine.store.loop_log`: the escalation loop's decisions and notifications;
- :mod:`~kpi_engine.store.copy`: a whole store copied into an empty one (``copy``: grow,
  back up, restore).

Data comes in and goes out as Polars frames through Arrow; DuckDB never reads files itself,
so external access is switched off. Every value is bound as a parameter and every
identifier comes from :mod:`kpi_engine.core.schema`, quoted.

Threads: a Store holds one connection; each call takes its own cursor and fetches the whole
result. Writes are serialised with a lock and run in one transaction each.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import polars as pl

from kpi_engine.core.access import AccessPolicy
from kpi_engine.core.errors import WriteConflictError
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.settings import Settings
from kpi_engine.store import repositories, snapshots
from kpi_engine.store.backends import DEFAULT_DB_PATH, Backend, DuckDBSetting, is_url
from kpi_engine.store.changes import (
    CHANGE_KINDS,
    CHANGES_SCHEMA,
    budget_changes,
    kpi_actual_changes,
    milestone_changes,
)
from kpi_engine.store.connection import (
    DEFAULT_BUSY_TIMEOUT,
    DEFAULT_IDLE_RELEASE,
    DEFAULT_MEMORY_LIMIT,
    DataVersion,
    _Connection,
    _rollback,
    _write_lock_for,
    data_version,
    idle_release_seconds,
    open_connection,
    q,
    resolve_db,
    resolve_db_path,
)
from kpi_engine.store.counters import order_write
from kpi_engine.store.ddl import SCHEMA_VERSION, create_schema
from kpi_engine.store.loop_log import LoopLog
from kpi_engine.store.merge import (
    PROVENANCE,
    IngestResult,
    _DryRun,
    checked_as_of,
    snapshot_with_files,
    unchanged_result,
    upload_frames,
    upload_shas,
    write_snapshot,
)
from kpi_engine.store.removals import REMOVALS_SCHEMA, RemovalsRefused
from kpi_engine.store.repositories import ACCESS_POLICY_KEY, NAME_CHARS, short_name
from kpi_engine.store.snapshots import NO_DATA_MESSAGE

if TYPE_CHECKING:
    from kpi_engine.ingest import ParsedUpload, SourceFile

__all__ = [
    "ACCESS_POLICY_KEY",
    "CHANGES_SCHEMA",
    "CHANGE_KINDS",
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_DB_PATH",
    "DEFAULT_IDLE_RELEASE",
    "DEFAULT_MEMORY_LIMIT",
    "NAME_CHARS",
    "NO_DATA_MESSAGE",
    "PROVENANCE",
    "REMOVALS_SCHEMA",
    "SCHEMA_VERSION",
    "DataVersion",
    "DuckDBSetting",
    "IngestResult",
    "RemovalsRefused",
    "Store",
    "budget_changes",
    "data_version",
    "idle_release_seconds",
    "is_url",
    "kpi_actual_changes",
    "milestone_changes",
    "q",
    "resolve_db",
    "resolve_db_path",
    "short_name",
]

T = TypeVar("T")


class Store:
    """The database of snapshots, settings, scenarios and mapping profiles.

    Open with :meth:`Store.open` and close with :meth:`close` (or use ``with``).
    """

    #: Attempts of a write that meets a transaction conflict (another program committed first).
    WRITE_ATTEMPTS = 8

    def __init__(self, connection: _Connection, backend: Backend) -> None:
        self._db = connection
        self.backend = backend
        #: The database file, or the shared store's address without its password.
        self.path: Path | str = backend.name
        self._write_lock = _write_lock_for(backend)
        self._write(lambda cur: create_schema(cur, backend.name), ordered=False)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        busy_timeout: float | None = None,
        memory_limit: str | None = None,
        idle_release: float | None = None,
    ) -> Store:
        """Open (creating when needed) the database file.

        Parameters
        ----------
        path
            The file; default ``$KPI_DB``, else ``data/kpi.duckdb`` (its folder is created).
        busy_timeout
            Seconds to keep retrying while another program holds the file; default
            ``$KPI_DB_BUSY_TIMEOUT``, else 10.
        memory_limit
            DuckDB's memory limit, e.g. ``"2GB"``; default ``$KPI_DB_MEMORY_LIMIT``, else 2GB.
        idle_release
            Seconds after its last query to let the file go, so that other programs can
            open it (the dashboard); None holds it until :meth:`close` (the CLI, tests).
            An in-memory database is always held: letting it go would lose it.

        Raises
        ------
        DatabaseBusyError
            Another program still holds the file when the timeout runs out.
        InputError
            The file is not a database this program can open.
        """
        connection, backend = open_connection(path, busy_timeout, memory_limit, idle_release)
        try:
            return cls(connection, backend)
        except BaseException:
            connection.close()
            raise

    def close(self) -> None:
        """Close the connection; the Store cannot be used afterwards."""
        self._db.close()

    @property
    def holds_file(self) -> bool:
        """Whether this Store holds the database file right now (others then wait for it)."""
        return self._db.is_open

    @contextmanager
    def record_statements(self) -> Iterator[list[str]]:
        """Collect the text of every SQL statement this Store runs inside the block.

        An audit aid: it shows that values travel as bound parameters, never in the text.

        Yields
        ------
        list[str]
            The statements, in the order they ran.
        """
        seen: list[str] = []
        self._db.recorders.append(seen)
        try:
            yield seen
        finally:
            self._db.recorders.remove(seen)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _frame(self, sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> pl.DataFrame:
        """Run a reading query on a fresh cursor and return the whole result (positional or named parameters).

        ``execute``, not ``sql``: see :func:`~kpi_engine.store.backends.query_frame`.
        """
        with self._db.cursor() as cur:
            return cur.execute(sql, dict(params) if isinstance(params, Mapping) else list(params)).pl()

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._db.cursor() as cur:
            # fetchall, never fetchone: a half-read result blocks the next query (NOTES.md).
            return cur.execute(sql, list(params)).fetchall()

    def _write(self, work: Callable[[duckdb.DuckDBPyConnection], T], *, ordered: bool = True) -> T:
        """Run ``work`` in one transaction on its own cursor: all of it or nothing.

        Writes of this process queue on a lock. On a shared store, writers in other
        programs do not wait for each other: every ``ordered`` write adds one to the
        ``writes`` counter (:mod:`~kpi_engine.store.counters`), so of two writes at once
        the second to commit meets a transaction conflict. It is rolled back whole and
        ``work`` runs again from the start, on what the first stored; after
        :attr:`WRITE_ATTEMPTS` tries it is refused.

        Raises
        ------
        WriteConflictError
            Other programs committed first on every attempt; nothing was stored.
        """
        with self._write_lock:
            for attempt in range(1, self.WRITE_ATTEMPTS + 1):
                with self._db.cursor() as cur:
                    try:
                        cur.begin()
                        if ordered:
                            order_write(cur)
                        result = work(cur)
                        cur.commit()
                        return result
                    except duckdb.TransactionException as err:
                        _rollback(cur)
                        if "conflict" not in str(err).lower():
                            raise
                    except BaseException:
                        _rollback(cur)
                        raise
                # others are writing: wait a little, longer each time and not in step with them
                time.sleep(random.uniform(0.05, 0.2) * attempt)
        raise WriteConflictError(
            f"other programs kept saving to {self.path} first ({self.WRITE_ATTEMPTS} tries); "
            "nothing of this change was stored: try again in a moment"
        )

    @property
    def loop_log(self) -> LoopLog:
        """The escalation loop's decisions and notifications (:mod:`kpi_engine.store.loop_log`)."""
        return LoopLog(self)

    # ------------------------------------------------------------------ ingest
    def ingest(
        self,
        upload: ParsedUpload,
        as_of: date,
        author: str = "",
        dry_run: bool = False,
        *,
        sources: Iterable[SourceFile] = (),
        note: str = "",
        attach: Mapping[str, str] | None = None,
        allow_removals: bool = True,
    ) -> IngestResult:
        """Store an upload as a new snapshot dated ``as_of``, in one transaction.

        The new snapshot starts from the previous one (the latest with an ``as_of`` on or
        before this one, ties broken by snapshot id) and the upload is merged in:

        - The upload's *scope* is the set of projects it names: ``projects.project_id``,
          ``milestones.project_id``, and the project of the milestone named by tasks and
          links (``milestone_id``) and dependencies (``successor_id``), looked up in the
          uploaded milestones first, then in the previous snapshot's.
        - Project-scoped tables in the upload (projects, milestones, tasks, links,
          dependencies): the rows of scope projects are replaced by the uploaded rows, so
          a milestone missing from the file for its project is removed; rows of other
          projects are carried forward. A carried row with the same key as an uploaded
          row (a task moved to another project) is replaced too.
        - objectives, kpis (by id) and kpi_actuals (by kpi_id and as_of) are upserted:
          uploaded rows replace rows with the same key, the others are carried forward.
        - Tables not in the upload are carried forward whole.

        - A carried row of an uploaded tasks, links or dependencies table that names a
          milestone the new snapshot lacks belongs to no project: the upload replaces it
          (it is kept only when the upload brings it again), so a mistyped id goes away
          with the corrected file.

        Then, against the merged snapshot: a milestone naming an unknown project, a KPI
        naming an unknown objective or an actual naming an unknown KPI rejects the upload,
        and so do dependencies forming a cycle (with the upload's rows or with rows
        carried forward) and computed finishes after the last accepted date;
        tasks, links and dependencies naming unknown milestones or KPIs are kept and
        reported as warnings (uploaded rows by file, sheet and row; carried rows whose
        milestone this upload removed, by id).

        Before the merge, the rows a tool export wrote are resolved
        (:mod:`~kpi_engine.store.identity`): each export's project is the portfolio project
        with its id, else with its name (case and spacing ignored), else a new project with
        no owner; each exported milestone takes the id of the milestone of its project that
        came with the same tool key, else has that id, else the same name; only then is it
        new. After the merge, the milestones of the base snapshot the new one lacks are the
        upload's *removals* (:mod:`~kpi_engine.store.removals`).

        An upload for an ``as_of`` that already has a snapshot amends it: the new snapshot
        builds on it and is the next ``version`` of that date; its ``changes`` (and every
        "previous snapshot" comparison) are against the latest snapshot of the previous date.

        Uploading the very files (same contents) of an existing snapshot with the same
        ``as_of`` again stores nothing.

        Parameters
        ----------
        upload
            The parsed upload (canonical tables plus ``_file``, ``_sheet``, ``_row``).
        as_of
            The snapshot date.
        author
            Who uploaded (kept in the audit trail).
        dry_run
            Check and compute everything, then store nothing (``snapshot_id`` is None).
        sources
            The uploaded files' bytes, kept once per content hash for the audit trail.
        note
            Free text kept with the snapshot; default: the export kinds of the files.
        attach
            Export project (as the export names it, see
            :func:`~kpi_engine.store.identity.export_projects`) -> id of the portfolio
            project to attach that export to, when the match is wrong.
        allow_removals
            False refuses an upload that removes milestones (:class:`RemovalsRefused`,
            listing them); a dry run lists them in its result instead.

        Returns
        -------
        IngestResult

        Raises
        ------
        UploadRejected
            Unknown projects, objectives or KPIs, a dependency cycle, or a computed finish
            no one can date; nothing was stored.
        InputError
            A snapshot date outside the accepted dates.
        """
        as_of = checked_as_of(as_of)
        frames = upload_frames(upload)
        shas = upload_shas(upload)
        blobs = {s.sha256: s.data for s in sources}
        note = note or ", ".join(sorted({f.source for f in upload.files}))

        attempts = 0

        def work(cur: duckdb.DuckDBPyConnection) -> IngestResult:
            nonlocal attempts
            attempts += 1
            same = snapshot_with_files(cur, as_of, shas)
            if same is not None:
                return unchanged_result(cur, upload, as_of, same)
            return write_snapshot(cur, upload, frames, as_of, author, note, blobs, dry_run, attach, allow_removals)

        try:
            result = self._write(work)
        except _DryRun as done:
            result = done.result
        if attempts > 1 and not result.unchanged:
            # another program stored a snapshot while this one was written: it was merged again on top of it
            rebased = (
                f" Another upload was stored first; this one was merged again on top of snapshot {result.built_on}."
            )
            result = dataclasses.replace(result, message=result.message + rebased, rebased=True)
        return result

    # ------------------------------------------------------------------ snapshots
    def is_empty(self) -> bool:
        """Return True when no snapshot is stored yet."""
        return snapshots.is_empty(self)

    def snapshot_ids(self) -> list[int]:
        """Return every snapshot id, oldest first by (as_of, snapshot_id)."""
        return snapshots.snapshot_ids(self)

    def latest_snapshot_id(self) -> int:
        """Return the id of the latest snapshot (by as_of, then id).

        Raises
        ------
        NoDataError
            No snapshot is stored yet.
        """
        return snapshots.latest_snapshot_id(self)

    def previous_snapshot_id(self, snapshot_id: int) -> int | None:
        """Return the snapshot before ``snapshot_id``: the latest version of the previous date, or None.

        Versions of the same date are one week: comparisons ("since last week", the
        escalation rule "Amber or Red in the previous snapshot too") skip them.
        """
        return snapshots.previous_snapshot_id(self, snapshot_id)

    def snapshot_as_of(self, snapshot_id: int) -> date:
        """Return the date of a snapshot.

        Raises
        ------
        NoDataError
            There is no such snapshot.
        """
        return snapshots.snapshot_as_of(self, snapshot_id)

    def snapshots(self) -> pl.DataFrame:
        """Return one row per snapshot, oldest first by (as_of, snapshot_id).

        Columns: snapshot_id, as_of, version (1, 2, ... for the uploads of one date),
        latest (whether it is the latest version of its date), created_at, author,
        source_note, files (list of file names), rows (struct: table name -> rows the
        snapshot holds).
        """
        return snapshots.snapshots(self)

    def load_portfolio(self, snapshot_id: int | None = None, tables: Collection[str] | None = None) -> Portfolio:
        """Return the portfolio of a snapshot (default: the latest).

        ``tables`` names the canonical tables to read (default: all); the others are empty.

        Raises
        ------
        NoDataError
            No snapshot yet, or no snapshot with that id.
        NotFoundError
            ``tables`` names a table that does not exist.
        """
        return snapshots.load_portfolio(self, snapshot_id, tables)

    def load_portfolios(
        self, snapshot_ids: Collection[int], tables: Collection[str] | None = None
    ) -> dict[int, Portfolio]:
        """Return the portfolios of several snapshots by id, each table read once for all of them.

        The same as :meth:`load_portfolio` for each id, in fewer queries.

        Raises
        ------
        NoDataError
            No snapshot with one of the ids.
        NotFoundError
            ``tables`` names a table that does not exist.
        """
        return snapshots.load_portfolios(self, snapshot_ids, tables)

    def load_milestone_history(self) -> pl.DataFrame:
        """Return every milestone of every snapshot, oldest snapshot first (for trends).

        Columns: snapshot_id, as_of, milestone_id, project_id, baseline_finish,
        forecast_finish, actual_finish, reported_status.
        """
        return snapshots.load_milestone_history(self)

    def changes(self, snapshot_id: int | None = None) -> pl.DataFrame:
        """Return what changed in a snapshot (default: the latest) since the one before it.

        The first snapshot has no changes (there is nothing to compare with).
        """
        return snapshots.changes(self, snapshot_id)

    def files(self, snapshot_id: int | None = None) -> pl.DataFrame:
        """Return the audit trail of uploaded files: of one snapshot, or of all (None).

        Columns: snapshot_id, as_of, created_at, author, file_name, sha256, size, source;
        oldest snapshot first.
        """
        return snapshots.files(self, snapshot_id)

    def file_bytes(self, sha256: str) -> bytes:
        """Return the original bytes of an uploaded file by its SHA-256.

        Raises
        ------
        NotFoundError
            No file with that content was kept.
        """
        return snapshots.file_bytes(self, sha256)

    # ------------------------------------------------------------------ settings
    def settings(self) -> Settings:
        """Return the stored settings (defaults for any not stored)."""
        return repositories.load_settings(self)

    def save_settings(self, settings: Settings) -> None:
        """Store every setting."""
        repositories.save_settings(self, settings)

    # ------------------------------------------------------------------ access
    def access_policy(self) -> AccessPolicy:
        """Return the stored roles by e-mail address (an empty policy when none is stored)."""
        return repositories.load_access_policy(self)

    def save_access_policy(self, policy: AccessPolicy) -> None:
        """Store the roles by e-mail address (kept in the settings table as JSON)."""
        repositories.save_access_policy(self, policy)

    # ------------------------------------------------------------------ scenarios
    def save_scenario(self, name: str, spec: dict[str, Any], snapshot_id: int | None, author: str = "") -> int:
        """Save a new what-if scenario and return its id.

        ``spec`` is stored as JSON (dates become ``YYYY-MM-DD`` text).

        Raises
        ------
        InputError
            The name is blank or another scenario already has it.
        """
        return repositories.save_scenario(self, name, spec, snapshot_id, author)

    def list_scenarios(self) -> pl.DataFrame:
        """Return the saved scenarios, oldest first.

        Columns: scenario_id, name, author, created_at, updated_at, snapshot_id.
        """
        return repositories.list_scenarios(self)

    def load_scenario(self, scenario_id: int) -> dict[str, Any]:
        """Return a scenario: scenario_id, name, spec (dict), snapshot_id, author, created_at, updated_at.

        Raises
        ------
        NotFoundError
            No scenario has that id.
        """
        return repositories.load_scenario(self, scenario_id)

    def rename_scenario(self, scenario_id: int, new_name: str) -> None:
        """Rename a scenario.

        Raises
        ------
        NotFoundError
            No scenario has that id.
        InputError
            The name is blank or another scenario already has it.
        """
        repositories.rename_scenario(self, scenario_id, new_name)

    def update_scenario(self, scenario_id: int, spec: dict[str, Any]) -> None:
        """Replace the changes a scenario holds.

        Raises
        ------
        NotFoundError
            No scenario has that id.
        """
        repositories.update_scenario(self, scenario_id, spec)

    def delete_scenario(self, scenario_id: int) -> None:
        """Delete a scenario.

        Raises
        ------
        NotFoundError
            No scenario has that id.
        """
        repositories.delete_scenario(self, scenario_id)

    # ------------------------------------------------------------------ mapping profiles
    def save_mapping_profile(self, name: str, mapping: dict[str, Any]) -> None:
        """Save (or replace) a named column mapping, e.g. ``ColumnMapping.to_dict()``.

        Raises
        ------
        InputError
            The name is blank, longer than :data:`NAME_CHARS` or more than one line.
        """
        repositories.save_mapping_profile(self, name, mapping)

    def mapping_profiles(self) -> list[str]:
        """Return the names of the saved mapping profiles, sorted."""
        return repositories.mapping_profiles(self)

    def load_mapping_profile(self, name: str) -> dict[str, Any]:
        """Return a saved mapping as a dict (``ColumnMapping.from_dict`` reads it).

        Raises
        ------
        NotFoundError
            No profile has that name.
        """
        return repositories.load_mapping_profile(self, name)
