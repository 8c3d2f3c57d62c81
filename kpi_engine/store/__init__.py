"""The one module that talks to DuckDB: snapshots, their tables, settings, scenarios, mappings.

One database file holds everything. Every upload becomes a snapshot holding the COMPLETE
rows of each canonical table as of its date (rows the upload did not touch are copied
forward), so reading a snapshot never has to replay history. The original bytes of every
uploaded file are kept once, by content hash, for the audit trail.

Data comes in and goes out as Polars frames through Arrow; DuckDB never reads files itself,
so external access is switched off. Every value is bound as a parameter and every
identifier comes from :mod:`kpi_engine.core.schema`, quoted.

Threads: a Store holds one connection; each call takes its own cursor and fetches the whole
result. Writes are serialised with a lock and run in one transaction each. DuckDB lets one
process at a time open the file for writing: the CLI opens, works and closes, and waits a
while (``busy_timeout``) for the dashboard or a scheduled job to let go of it; the
dashboard lets go of it ``idle_release`` seconds after its last query and notices what
others wrote through :func:`data_version`.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, is_dataclass
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import polars as pl

from kpi_engine.core.access import AccessPolicy
from kpi_engine.core.bounds import EARLIEST_DATE, LATEST_DATE, date_in_range
from kpi_engine.core.errors import (
    DatabaseBusyError,
    InputError,
    KpiError,
    NoDataError,
    NotFoundError,
    Problem,
    UploadRejected,
)
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.schema import KEYS, TABLES, conform, normalise_status
from kpi_engine.core.settings import Settings
from kpi_engine.core.text import fixed, kpi_value, thousands
from kpi_engine.store.loop_log import LoopLog, create_loop_tables

if TYPE_CHECKING:
    from kpi_engine.ingest import FileReport, ParsedUpload, SourceFile

#: A value DuckDB's connection settings take.
DuckDBSetting = str | bool | int | float | list[str]
T = TypeVar("T")

SCHEMA_VERSION = 1
DEFAULT_DB_PATH = Path("data") / "kpi.duckdb"
DEFAULT_BUSY_TIMEOUT = 10.0
DEFAULT_MEMORY_LIMIT = "2GB"
#: Seconds after its last query the dashboard lets the database file go (``$KPI_DB_IDLE_RELEASE``).
DEFAULT_IDLE_RELEASE = 2.0

#: A fingerprint of the database file: size and modification time of it and its write-ahead log.
DataVersion = tuple[int, int, int, int]
NO_DATA_MESSAGE = "No data yet: upload a week's exports or load the sample portfolio."
#: Key of the access policy (roles by e-mail address) in the settings table.
ACCESS_POLICY_KEY = "access_policy"

#: Provenance columns an upload carries next to the canonical ones.
PROVENANCE = {"_file": pl.String, "_sheet": pl.String, "_row": pl.Int64}

_SQL_TYPES: dict[Any, str] = {pl.String: "VARCHAR", pl.Date: "DATE", pl.Float64: "DOUBLE", pl.Int64: "BIGINT"}

#: Project-scoped tables whose rows name their project directly ...
_PROJECT_COLUMN = {"projects": "project_id", "milestones": "project_id"}
#: ... or through a milestone (a dependency belongs to its successor's project).
_MILESTONE_COLUMN = {
    "tasks": "milestone_id",
    "links": "milestone_id",
    "dependencies": "successor_id",
    "mitigations": "milestone_id",
}
# _merge_tables writes the new snapshot's milestones before the tables that name them
assert all(list(TABLES).index("milestones") < list(TABLES).index(t) for t in _MILESTONE_COLUMN)
#: Tables whose rows change computed finishes: an upload of any of them re-checks the schedule.
_SCHEDULE_TABLES = ("milestones", "tasks", "dependencies")

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
CHANGES_SCHEMA: dict[str, pl.DataType] = {
    "snapshot_id": pl.Int64(),
    "change": pl.String(),
    "milestone_id": pl.String(),
    "project_id": pl.String(),
    "name": pl.String(),
    "detail": pl.String(),
    "days": pl.Int64(),
}


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock_for(path: Path) -> threading.Lock:
    """The one write lock of a database file in this process, shared by every Store on it.

    Two Stores on one file (two cached loaders, a path spelled two ways) would otherwise
    write at once and collide on the next snapshot id; a throwaway ``:memory:`` database
    belongs to its Store alone.
    """
    if str(path) == ":memory:":
        return threading.Lock()
    key = os.path.normcase(os.path.realpath(path))
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


def q(identifier: str) -> str:
    """Quote an SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def resolve_db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the database file to use: ``path``, else ``$KPI_DB``, else ``data/kpi.duckdb``.

    Parameters
    ----------
    path
        An explicit file (the CLI's ``--db``); blank means "not given".

    Returns
    -------
    Path
        The file path (``:memory:`` is passed through for throwaway databases).
    """
    chosen = str(path) if path not in (None, "") else os.environ.get("KPI_DB", "").strip()
    return Path(chosen) if chosen else DEFAULT_DB_PATH


def data_version(path: str | os.PathLike[str] | None = None) -> DataVersion:
    """Return a fingerprint of the database file that changes whenever any program writes to it.

    DuckDB appends each commit to the write-ahead log (``<file>.wal``) and later folds it
    into the file, so the size and modification time of the two change with every write.
    Costs two ``stat`` calls and no connection: a dashboard checks it on every rerun to
    notice snapshots the CLI or a scheduled job stored.
    """
    db_path = resolve_db_path(path)
    version: list[int] = []
    for file in (db_path, db_path.with_name(db_path.name + ".wal")):
        try:
            found = file.stat()
            version += [found.st_size, found.st_mtime_ns]
        except OSError:  # no file yet, or no log: a version too
            version += [-1, -1]
    return (version[0], version[1], version[2], version[3])


def idle_release_seconds() -> float | None:
    """Seconds the dashboard keeps the database file after its last query (``$KPI_DB_IDLE_RELEASE``).

    Default 2; a negative value keeps it for good (a single-user machine with no CLI jobs).
    """
    seconds = _env_float("KPI_DB_IDLE_RELEASE", DEFAULT_IDLE_RELEASE)
    return None if seconds < 0 else seconds


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise InputError(f"the environment variable {name} must be a number of seconds, got '{raw}'") from None


def _connect(db_path: Path, config: dict[str, DuckDBSetting], timeout: float) -> duckdb.DuckDBPyConnection:
    """Open the database file, retrying for ``timeout`` seconds while another program holds it.

    Raises the errors :meth:`Store.open` lists.
    """
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        try:
            return duckdb.connect(str(db_path), config=config)
        except duckdb.IOException as err:
            if "lock" not in str(err).lower():
                raise InputError(f"the database file {db_path} cannot be opened: {str(err).splitlines()[0]}") from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DatabaseBusyError(
                    f"the database file {db_path} is in use by another program "
                    "(for example the dashboard or a scheduled job); try again in a moment"
                ) from None
            time.sleep(min(0.2, remaining))
        except duckdb.Error as err:
            raise InputError(f"the database file {db_path} cannot be opened: {str(err).splitlines()[0]}") from None


@dataclass(frozen=True)
class IngestResult:
    """What storing one upload did.

    ``rows`` counts the rows the snapshot holds per table, carried-forward rows included;
    ``changes`` lists what changed since ``previous_snapshot_id`` (columns of
    :data:`CHANGES_SCHEMA`); ``warnings`` holds the reader's warnings and the dangling ids.
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


def _empty_changes() -> pl.DataFrame:
    return pl.DataFrame(schema=CHANGES_SCHEMA)


def _to_json_text(value: object) -> str:
    """Serialise a scenario spec or mapping: dates become ISO text, dataclasses dicts."""

    def default(obj: object) -> object:
        if isinstance(obj, (date, datetime)):
            return obj.isoformat()
        if is_dataclass(obj) and not isinstance(obj, type):
            return asdict(obj)
        if isinstance(obj, (set, frozenset, tuple)):
            return list(obj)
        raise TypeError(f"cannot store a value of type {type(obj).__name__}")

    return json.dumps(value, default=default, sort_keys=True)


class _RecordingCursor:
    """A cursor that hands the text of every statement to the recorders, then runs it."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, recorders: list[list[str]]) -> None:
        self._cursor, self._recorders = cursor, recorders

    def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        for seen in self._recorders:
            seen.append(query)
        return self._cursor.execute(query, *args, **kwargs)

    def sql(self, query: str, *args: Any, **kwargs: Any) -> Any:
        for seen in self._recorders:
            seen.append(query)
        return self._cursor.sql(query, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _Connection:
    """A Store's DuckDB connection: opened on demand and, when asked, let go after a while unused.

    DuckDB lets one process at a time open the file for writing. A dashboard that held its
    connection for good would lock the CLI and every scheduled job out for as long as it
    runs; with ``idle_release`` it gives the file back ``idle_release`` seconds after its
    last query, and opens it again (about 30 ms) at the next one.
    """

    def __init__(self, opener: Callable[[], duckdb.DuckDBPyConnection], idle_release: float | None) -> None:
        self._opener = opener
        self._idle = idle_release
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._users = 0
        self._last_used = 0.0
        self._timer: threading.Timer | None = None
        self._closed = False
        # when opening last failed because the file was busy, and why
        self._busy_at = -1.0
        self._busy: DatabaseBusyError | None = None
        #: Lists that receive the text of every SQL statement (see :meth:`Store.record_statements`).
        self.recorders: list[list[str]] = []

    @property
    def is_open(self) -> bool:
        """Whether the database file is held right now."""
        return self._con is not None

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh cursor, the connection opened first when it was let go.

        Threads queue while one of them opens the file. When the file stays busy, every
        thread that was already waiting gets the same answer at once rather than waiting
        out a busy timeout of its own, one after the other.

        Raises
        ------
        DatabaseBusyError
            Another program holds the file beyond the busy timeout.
        """
        asked = time.monotonic()
        with self._lock:
            if self._closed:
                raise KpiError("the database has been closed")
            if self._con is None:
                if self._busy is not None and self._busy_at >= asked:
                    raise DatabaseBusyError(str(self._busy))
                try:
                    self._con = self._opener()
                except DatabaseBusyError as err:
                    self._busy_at, self._busy = time.monotonic(), err
                    raise
            self._users += 1
            con = self._con
        try:
            cur = con.cursor()
            try:
                yield _RecordingCursor(cur, self.recorders) if self.recorders else cur  # type: ignore[misc]
            finally:
                cur.close()
        finally:
            with self._lock:
                self._users -= 1
                self._last_used = time.monotonic()
                if self._users == 0 and self._idle is not None and self._timer is None:
                    self._start_timer(self._idle)

    def _start_timer(self, delay: float) -> None:
        self._timer = threading.Timer(delay, self._release_when_idle)
        self._timer.daemon = True
        self._timer.start()

    def _release_when_idle(self) -> None:
        """Let the file go if nothing used it for ``idle_release`` seconds; else look again later."""
        with self._lock:
            self._timer = None
            if self._closed or self._con is None or self._users:
                return
            assert self._idle is not None
            waited = time.monotonic() - self._last_used
            if waited < self._idle:
                self._start_timer(self._idle - waited)
                return
            self._con.close()
            self._con = None

    def close(self) -> None:
        """Close for good: later cursors raise."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._con is not None:
                self._con.close()
                self._con = None


class Store:
    """The database of snapshots, settings, scenarios and mapping profiles.

    Open with :meth:`Store.open` and close with :meth:`close` (or use ``with``).
    """

    #: Attempts of a write that meets a transaction conflict.
    WRITE_ATTEMPTS = 5

    def __init__(self, connection: _Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._write_lock = _write_lock_for(path)
        self._create_schema()

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
        db_path = resolve_db_path(path)
        if str(db_path) != ":memory:":
            db_path.parent.mkdir(parents=True, exist_ok=True)
        timeout = _env_float("KPI_DB_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT) if busy_timeout is None else busy_timeout
        config: dict[str, DuckDBSetting] = {
            # DuckDB never reads files or the network for us: data arrives as Arrow.
            "enable_external_access": False,
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
            # SQL cannot reach Python variables by name.
            "python_enable_replacements": False,
            # ... and SQL cannot change any of these settings back.
            "lock_configuration": True,
            "memory_limit": memory_limit or os.environ.get("KPI_DB_MEMORY_LIMIT", "").strip() or DEFAULT_MEMORY_LIMIT,
        }

        def connect() -> duckdb.DuckDBPyConnection:
            return _connect(db_path, config, timeout)

        keep = None if str(db_path) == ":memory:" else idle_release
        connection = _Connection(connect, keep)
        try:
            return cls(connection, db_path)
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
    def _frame(self, sql: str, params: Sequence[object] = ()) -> pl.DataFrame:
        """Run a reading query on a fresh cursor and return the whole result."""
        with self._db.cursor() as cur:
            return cur.sql(sql, params=list(params)).pl()

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._db.cursor() as cur:
            # fetchall, never fetchone: a half-read result blocks the next query (NOTES.md).
            return cur.execute(sql, list(params)).fetchall()

    def _write(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``work`` in one transaction on its own cursor: all of it or nothing.

        Writes of this process queue on a lock; a transaction conflict (another cursor
        wrote the same rows) is retried a few times.
        """
        with self._write_lock:
            for attempt in range(1, self.WRITE_ATTEMPTS + 1):
                with self._db.cursor() as cur:
                    try:
                        cur.begin()
                        result = work(cur)
                        cur.commit()
                        return result
                    except duckdb.TransactionException as err:
                        _rollback(cur)
                        if "conflict" not in str(err).lower() or attempt == self.WRITE_ATTEMPTS:
                            raise
                    except BaseException:
                        _rollback(cur)
                        raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _create_schema(self) -> None:
        def create(cur: duckdb.DuckDBPyConnection) -> None:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            versions = [row[0] for row in cur.execute("SELECT version FROM schema_version").fetchall()]
            if not versions:
                cur.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])
            elif max(versions) > SCHEMA_VERSION:
                raise InputError(
                    f"the database file {self.path} was written by a newer version of this program; "
                    "upgrade the program to open it"
                )
            cur.execute(
                "CREATE TABLE IF NOT EXISTS snapshots (snapshot_id BIGINT PRIMARY KEY, as_of DATE NOT NULL, "
                "created_at TIMESTAMP NOT NULL, author VARCHAR NOT NULL, source_note VARCHAR NOT NULL, "
                # Row counts per table (JSON): listing snapshots must not count every stored row.
                "row_counts VARCHAR NOT NULL)"
            )
            cur.execute(
                "CREATE TABLE IF NOT EXISTS snapshot_files (snapshot_id BIGINT NOT NULL, file_name VARCHAR NOT NULL, "
                "sha256 VARCHAR NOT NULL, size BIGINT NOT NULL, source VARCHAR NOT NULL, tables VARCHAR NOT NULL)"
            )
            cur.execute("CREATE TABLE IF NOT EXISTS file_blobs (sha256 VARCHAR PRIMARY KEY, data BLOB NOT NULL)")
            for table, columns in TABLES.items():
                body = ", ".join(f"{q(name)} {_SQL_TYPES[col.dtype]}" for name, col in columns.items())
                cur.execute(f"CREATE TABLE IF NOT EXISTS {q(table)} (snapshot_id BIGINT NOT NULL, {body})")
            cur.execute(
                "CREATE TABLE IF NOT EXISTS changes (snapshot_id BIGINT NOT NULL, change VARCHAR NOT NULL, "
                "milestone_id VARCHAR, project_id VARCHAR, name VARCHAR, detail VARCHAR, days BIGINT)"
            )
            cur.execute("CREATE TABLE IF NOT EXISTS settings (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
            cur.execute("CREATE SEQUENCE IF NOT EXISTS scenario_ids START 1")
            cur.execute(
                "CREATE TABLE IF NOT EXISTS scenarios (scenario_id BIGINT PRIMARY KEY, name VARCHAR NOT NULL, "
                "author VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, "
                "snapshot_id BIGINT, spec VARCHAR NOT NULL)"
            )
            cur.execute(
                "CREATE TABLE IF NOT EXISTS mapping_profiles (name VARCHAR PRIMARY KEY, spec VARCHAR NOT NULL, "
                "updated_at TIMESTAMP NOT NULL)"
            )
            create_loop_tables(cur)

        self._write(create)

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
        if isinstance(as_of, datetime):
            as_of = as_of.date()
        if not date_in_range(as_of):
            raise InputError(
                f"the snapshot date {as_of} is outside the dates this program accepts "
                f"({EARLIEST_DATE} to {LATEST_DATE}); nothing was stored"
            )
        frames = {table: _conformed_upload(table, frame) for table, frame in upload.tables.items() if table in TABLES}
        if not frames:
            raise InputError("the upload holds none of the sheets of the portfolio model; nothing was stored")
        shas = sorted({f.sha256 for f in upload.files})
        blobs = {s.sha256: s.data for s in sources}
        note = note or ", ".join(sorted({f.source for f in upload.files}))

        def work(cur: duckdb.DuckDBPyConnection) -> IngestResult:
            same = _snapshot_with_files(cur, as_of, shas)
            if same is not None:
                return IngestResult(
                    snapshot_id=same,
                    as_of=as_of,
                    unchanged=True,
                    message=(
                        f"These files were already loaded for {as_of.isoformat()} (snapshot {same}); "
                        "nothing new was stored."
                    ),
                    rows=_row_counts(cur, same),
                    changes=_empty_changes(),
                    warnings=list(upload.warnings),
                    files=list(upload.files),
                    previous_snapshot_id=_previous_id(cur, as_of, same),
                )
            previous = _previous_id(cur, as_of, None)
            new_id = cur.execute("SELECT coalesce(max(snapshot_id), 0) + 1 FROM snapshots").fetchall()[0][0]
            registered: list[str] = []
            try:
                registered = _register_upload(cur, frames, previous)
                _merge_tables(cur, frames, new_id, previous)
                problems = _reference_problems(cur, frames, new_id) + _mitigation_problems(cur, frames, new_id)
                if not problems and any(t in frames for t in _SCHEDULE_TABLES):
                    problems = _schedule_problems(cur, frames, new_id, as_of, previous)
                if problems:
                    raise UploadRejected(problems)
                warnings = list(upload.warnings) + _dangling_warnings(cur, frames, new_id, previous)
                changes = _changes(cur, new_id, previous)
                if changes.height:
                    cur.register("_kpi_changes", changes.to_arrow())
                    registered.append("_kpi_changes")
                    cols = ", ".join(q(c) for c in CHANGES_SCHEMA)
                    cur.execute(f"INSERT INTO changes ({cols}) SELECT {cols} FROM _kpi_changes")
            finally:
                for name in registered:
                    cur.unregister(name)
            rows = _row_counts(cur, new_id)
            cur.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?)",
                [new_id, as_of, _now(), author, note, json.dumps(rows)],
            )
            # Which contents are kept already, asked once: a plain INSERT of the bytes is about
            # three times faster than one that filters them through a subquery.
            kept = {
                row[0]
                for row in cur.execute(
                    "SELECT sha256 FROM file_blobs WHERE list_contains(?, sha256)", [list(blobs)]
                ).fetchall()
            }
            for f in upload.files:
                cur.execute(
                    "INSERT INTO snapshot_files VALUES (?, ?, ?, ?, ?, ?)",
                    [new_id, f.name, f.sha256, f.size, f.source, json.dumps(dict(f.tables))],
                )
                if f.sha256 in blobs and f.sha256 not in kept:
                    cur.execute("INSERT INTO file_blobs VALUES (?, ?)", [f.sha256, blobs[f.sha256]])
                    kept.add(f.sha256)  # two files of one upload may have the same contents
            since = f" since snapshot {previous}" if previous is not None else ""
            what = f"Dry run, nothing stored: would be snapshot {new_id}" if dry_run else f"Stored snapshot {new_id}"
            message = (
                f"{what} as of {as_of.isoformat()} from {len(upload.files)} file(s); "
                f"{changes.height} change(s){since}, {len(warnings)} warning(s)."
            )
            if dry_run:
                # Everything was computed inside the transaction; undo it.
                raise _DryRun(
                    IngestResult(None, as_of, False, message, rows, changes, warnings, list(upload.files), previous)
                )
            return IngestResult(new_id, as_of, False, message, rows, changes, warnings, list(upload.files), previous)

        try:
            return self._write(work)
        except _DryRun as done:
            return done.result

    # ------------------------------------------------------------------ snapshots
    def is_empty(self) -> bool:
        """Return True when no snapshot is stored yet."""
        return self._rows("SELECT count(*) FROM snapshots")[0][0] == 0

    def snapshot_ids(self) -> list[int]:
        """Return every snapshot id, oldest first by (as_of, snapshot_id)."""
        return [r[0] for r in self._rows("SELECT snapshot_id FROM snapshots ORDER BY as_of, snapshot_id")]

    def latest_snapshot_id(self) -> int:
        """Return the id of the latest snapshot (by as_of, then id).

        Raises
        ------
        NoDataError
            No snapshot is stored yet.
        """
        rows = self._rows("SELECT snapshot_id FROM snapshots ORDER BY as_of DESC, snapshot_id DESC LIMIT 1")
        if not rows:
            raise NoDataError(NO_DATA_MESSAGE)
        return int(rows[0][0])

    def previous_snapshot_id(self, snapshot_id: int) -> int | None:
        """Return the snapshot before ``snapshot_id`` (by as_of, then id), or None."""
        as_of = self.snapshot_as_of(snapshot_id)
        with self._db.cursor() as cur:
            return _previous_id(cur, as_of, snapshot_id)

    def snapshot_as_of(self, snapshot_id: int) -> date:
        """Return the date of a snapshot.

        Raises
        ------
        NoDataError
            There is no such snapshot.
        """
        rows = self._rows("SELECT as_of FROM snapshots WHERE snapshot_id = ?", [snapshot_id])
        if not rows:
            raise NoDataError(f"There is no snapshot {snapshot_id}; see the list of snapshots for the ones stored.")
        return rows[0][0]

    def _resolve(self, snapshot_id: int | None) -> int:
        if snapshot_id is None:
            return self.latest_snapshot_id()
        self.snapshot_as_of(snapshot_id)  # raises when unknown
        return snapshot_id

    def snapshots(self) -> pl.DataFrame:
        """Return one row per snapshot, oldest first by (as_of, snapshot_id).

        Columns: snapshot_id, as_of, created_at, author, source_note, files (list of file
        names), rows (struct: table name -> rows the snapshot holds).
        """
        frame = self._frame(
            "SELECT s.snapshot_id, s.as_of, s.created_at, s.author, s.source_note, "
            "coalesce((SELECT list(f.file_name ORDER BY f.file_name) FROM snapshot_files f "
            "WHERE f.snapshot_id = s.snapshot_id), []::VARCHAR[]) AS files, s.row_counts "
            "FROM snapshots s ORDER BY s.as_of, s.snapshot_id"
        )
        rows_dtype = pl.Struct({table: pl.Int64 for table in TABLES})
        return frame.with_columns(pl.col("row_counts").str.json_decode(rows_dtype).alias("rows")).drop("row_counts")

    def load_portfolio(self, snapshot_id: int | None = None) -> Portfolio:
        """Return the portfolio of a snapshot (default: the latest).

        Raises
        ------
        NoDataError
            No snapshot yet, or no snapshot with that id.
        """
        snapshot_id = self._resolve(snapshot_id)
        tables = {
            table: self._frame(
                f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table)} WHERE snapshot_id = ?", [snapshot_id]
            )
            for table, columns in TABLES.items()
        }
        return Portfolio.from_tables(tables, self.snapshot_as_of(snapshot_id))

    def load_milestone_history(self) -> pl.DataFrame:
        """Return every milestone of every snapshot, oldest snapshot first (for trends).

        Columns: snapshot_id, as_of, milestone_id, project_id, baseline_finish,
        forecast_finish, actual_finish, reported_status.
        """
        return self._frame(
            "SELECT m.snapshot_id, s.as_of, m.milestone_id, m.project_id, m.baseline_finish, "
            "m.forecast_finish, m.actual_finish, m.reported_status "
            "FROM milestones m JOIN snapshots s USING (snapshot_id) ORDER BY s.as_of, m.snapshot_id"
        )

    def changes(self, snapshot_id: int | None = None) -> pl.DataFrame:
        """Return what changed in a snapshot (default: the latest) since the one before it.

        The first snapshot has no changes (there is nothing to compare with).
        """
        snapshot_id = self._resolve(snapshot_id)
        cols = ", ".join(q(c) for c in CHANGES_SCHEMA)
        frame = self._frame(f"SELECT {cols} FROM changes WHERE snapshot_id = ?", [snapshot_id])
        return frame.cast(CHANGES_SCHEMA)  # type: ignore[arg-type]

    def files(self, snapshot_id: int | None = None) -> pl.DataFrame:
        """Return the audit trail of uploaded files: of one snapshot, or of all (None).

        Columns: snapshot_id, as_of, created_at, author, file_name, sha256, size, source;
        oldest snapshot first.
        """
        where, params = ("WHERE s.snapshot_id = ?", [snapshot_id]) if snapshot_id is not None else ("", [])
        return self._frame(
            "SELECT s.snapshot_id, s.as_of, s.created_at, s.author, f.file_name, f.sha256, f.size, f.source "
            f"FROM snapshot_files f JOIN snapshots s USING (snapshot_id) {where} "
            "ORDER BY s.as_of, s.snapshot_id, f.file_name",
            params,
        )

    def file_bytes(self, sha256: str) -> bytes:
        """Return the original bytes of an uploaded file by its SHA-256.

        Raises
        ------
        NotFoundError
            No file with that content was kept.
        """
        rows = self._rows("SELECT data FROM file_blobs WHERE sha256 = ?", [sha256])
        if not rows:
            raise NotFoundError(f"no uploaded file with SHA-256 {sha256} is kept in the database")
        return bytes(rows[0][0])

    # ------------------------------------------------------------------ settings
    def settings(self) -> Settings:
        """Return the stored settings (defaults for any not stored)."""
        known = {f.name for f in fields(Settings)}
        # Names a newer version may have stored are ignored rather than refused.
        values = {
            key: json.loads(value) for key, value in self._rows("SELECT key, value FROM settings") if key in known
        }
        return Settings.from_dict(values)

    def save_settings(self, settings: Settings) -> None:
        """Store every setting."""
        items = [(key, json.dumps(value)) for key, value in settings.to_dict().items()]

        def work(cur: duckdb.DuckDBPyConnection) -> None:
            for key, value in items:
                cur.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, value])

        self._write(work)

    # ------------------------------------------------------------------ access
    def access_policy(self) -> AccessPolicy:
        """Return the stored roles by e-mail address (an empty policy when none is stored)."""
        rows = self._rows("SELECT value FROM settings WHERE key = ?", [ACCESS_POLICY_KEY])
        return AccessPolicy.from_dict(json.loads(rows[0][0])) if rows else AccessPolicy()

    def save_access_policy(self, policy: AccessPolicy) -> None:
        """Store the roles by e-mail address (kept in the settings table as JSON)."""
        text = json.dumps(policy.to_dict(), sort_keys=True)
        self._write(lambda cur: cur.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [ACCESS_POLICY_KEY, text]))

    # ------------------------------------------------------------------ scenarios
    def save_scenario(self, name: str, spec: dict[str, Any], snapshot_id: int | None, author: str = "") -> int:
        """Save a new what-if scenario and return its id.

        ``spec`` is stored as JSON (dates become ``YYYY-MM-DD`` text).

        Raises
        ------
        InputError
            The name is blank or another scenario already has it.
        """
        name = _scenario_name(name)
        text = _to_json_text(spec)

        def work(cur: duckdb.DuckDBPyConnection) -> int:
            _check_scenario_name_free(cur, name, None)
            now = _now()
            rows = cur.execute(
                "INSERT INTO scenarios VALUES (nextval('scenario_ids'), ?, ?, ?, ?, ?, ?) RETURNING scenario_id",
                [name, author, now, now, snapshot_id, text],
            ).fetchall()
            return int(rows[0][0])

        return self._write(work)

    def list_scenarios(self) -> pl.DataFrame:
        """Return the saved scenarios, oldest first.

        Columns: scenario_id, name, author, created_at, updated_at, snapshot_id.
        """
        return self._frame(
            "SELECT scenario_id, name, author, created_at, updated_at, snapshot_id FROM scenarios ORDER BY scenario_id"
        )

    def load_scenario(self, scenario_id: int) -> dict[str, Any]:
        """Return a scenario: scenario_id, name, spec (dict), snapshot_id, author, created_at, updated_at.

        Raises
        ------
        NotFoundError
            No scenario has that id.
        """
        rows = self._rows(
            "SELECT scenario_id, name, spec, snapshot_id, author, created_at, updated_at FROM scenarios "
            "WHERE scenario_id = ?",
            [scenario_id],
        )
        if not rows:
            raise _scenario_not_found(scenario_id)
        sid, name, spec, snapshot_id, author, created_at, updated_at = rows[0]
        return {
            "scenario_id": sid,
            "name": name,
            "spec": json.loads(spec),
            "snapshot_id": snapshot_id,
            "author": author,
            "created_at": created_at,
            "updated_at": updated_at,
        }

    def rename_scenario(self, scenario_id: int, new_name: str) -> None:
        """Rename a scenario.

        Raises
        ------
        NotFoundError
            No scenario has that id.
        InputError
            The name is blank or another scenario already has it.
        """
        name = _scenario_name(new_name)

        def work(cur: duckdb.DuckDBPyConnection) -> None:
            _check_scenario_name_free(cur, name, scenario_id)
            _update_scenario_row(cur, scenario_id, "name", name)

        self._write(work)

    def update_scenario(self, scenario_id: int, spec: dict[str, Any]) -> None:
        """Replace the changes a scenario holds.

        Raises
        ------
        NotFoundError
            No scenario has that id.
        """
        text = _to_json_text(spec)
        self._write(lambda cur: _update_scenario_row(cur, scenario_id, "spec", text))

    def delete_scenario(self, scenario_id: int) -> None:
        """Delete a scenario.

        Raises
        ------
        NotFoundError
            No scenario has that id.
        """

        def work(cur: duckdb.DuckDBPyConnection) -> None:
            rows = cur.execute("DELETE FROM scenarios WHERE scenario_id = ? RETURNING 1", [scenario_id]).fetchall()
            if not rows:
                raise _scenario_not_found(scenario_id)

        self._write(work)

    # ------------------------------------------------------------------ mapping profiles
    def save_mapping_profile(self, name: str, mapping: dict[str, Any]) -> None:
        """Save (or replace) a named column mapping, e.g. ``ColumnMapping.to_dict()``.

        Raises
        ------
        InputError
            The name is blank, longer than :data:`NAME_CHARS` or more than one line.
        """
        clean = short_name(name, "a mapping profile")
        text = _to_json_text(mapping)
        self._write(
            lambda cur: cur.execute("INSERT OR REPLACE INTO mapping_profiles VALUES (?, ?, ?)", [clean, text, _now()])
        )

    def mapping_profiles(self) -> list[str]:
        """Return the names of the saved mapping profiles, sorted."""
        return [r[0] for r in self._rows("SELECT name FROM mapping_profiles ORDER BY name")]

    def load_mapping_profile(self, name: str) -> dict[str, Any]:
        """Return a saved mapping as a dict (``ColumnMapping.from_dict`` reads it).

        Raises
        ------
        NotFoundError
            No profile has that name.
        """
        rows = self._rows("SELECT spec FROM mapping_profiles WHERE name = ?", [name.strip()])
        if not rows:
            known = ", ".join(self.mapping_profiles()) or "none yet"
            raise NotFoundError(f"there is no mapping profile named '{name}'; saved profiles: {known}")
        return dict(json.loads(rows[0][0]))


# ---------------------------------------------------------------------- helpers of ingest
class _DryRun(Exception):
    """Carries a dry run's result out of its transaction so that it is rolled back."""

    def __init__(self, result: IngestResult) -> None:
        super().__init__("dry run")
        self.result = result


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # the transaction is already gone (failed commit)
        cur.rollback()


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


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


def _snapshot_with_files(cur: duckdb.DuckDBPyConnection, as_of: date, shas: list[str]) -> int | None:
    """Return the snapshot of ``as_of`` made of exactly these files, if any."""
    if not shas:
        return None
    rows = cur.execute(
        "SELECT s.snapshot_id FROM snapshots s JOIN snapshot_files f USING (snapshot_id) WHERE s.as_of = ? "
        "GROUP BY s.snapshot_id HAVING list_sort(list_distinct(list(f.sha256))) = ? ORDER BY s.snapshot_id LIMIT 1",
        [as_of, shas],
    ).fetchall()
    return int(rows[0][0]) if rows else None


def _previous_id(cur: duckdb.DuckDBPyConnection, as_of: date, before_id: int | None) -> int | None:
    """The latest snapshot at or before ``as_of`` (and before ``before_id`` on that date)."""
    params: list[date | int]
    if before_id is None:
        sql, params = "SELECT snapshot_id FROM snapshots WHERE as_of <= ?", [as_of]
    else:
        sql = "SELECT snapshot_id FROM snapshots WHERE as_of < ? OR (as_of = ? AND snapshot_id < ?)"
        params = [as_of, as_of, before_id]
    rows = cur.execute(sql + " ORDER BY as_of DESC, snapshot_id DESC LIMIT 1", params).fetchall()
    return int(rows[0][0]) if rows else None


def _register_upload(
    cur: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame], previous: int | None
) -> list[str]:
    """Register the uploaded tables and, when rows are carried forward, the upload's scope.

    Returns the names registered.
    """
    registered = []
    for table, frame in frames.items():
        # string views: DuckDB reads them as they are; the default (large strings) copies every text cell
        cur.register(_upload_view(table), frame.to_arrow(compat_level=pl.CompatLevel.newest()))
        registered.append(_upload_view(table))
    if previous is None:
        return registered  # nothing is carried forward, so the scope is not needed (and costs a join per table)

    # Milestone -> project: the uploaded milestones win over the previous snapshot's
    # (a milestone may have moved to another project).
    uploaded_ms = frames.get("milestones", pl.DataFrame(schema={"milestone_id": pl.String, "project_id": pl.String}))
    uploaded_ms = uploaded_ms.select("milestone_id", "project_id")
    if previous is not None and any(t in frames for t in _MILESTONE_COLUMN):
        previous_ms = pl.from_arrow(
            cur.sql(
                "SELECT milestone_id, project_id FROM milestones WHERE snapshot_id = ?", params=[previous]
            ).to_arrow_table()
        )
        assert isinstance(previous_ms, pl.DataFrame)
        previous_ms = previous_ms.filter(~pl.col("milestone_id").is_in(uploaded_ms["milestone_id"].implode()))
        milestone_project = pl.concat([uploaded_ms, previous_ms])
    else:
        milestone_project = uploaded_ms
    scope_parts = [frames[t].select(pl.col(c).alias("project_id")) for t, c in _PROJECT_COLUMN.items() if t in frames]
    scope_parts += [
        frames[t]
        .select(pl.col(c).alias("milestone_id"))
        .join(milestone_project, on="milestone_id")
        .select("project_id")
        for t, c in _MILESTONE_COLUMN.items()
        if t in frames
    ]
    scope = pl.concat(scope_parts).unique() if scope_parts else pl.DataFrame(schema={"project_id": pl.String})
    scope_milestones = milestone_project.join(scope, on="project_id", how="semi").select("milestone_id")
    cur.register("_kpi_scope_projects", scope.to_arrow())
    cur.register("_kpi_scope_milestones", scope_milestones.to_arrow())
    return [*registered, "_kpi_scope_projects", "_kpi_scope_milestones"]


def _merge_tables(
    cur: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame], new_id: int, previous: int | None
) -> None:
    """Write every table of the new snapshot: kept previous rows, then the uploaded rows."""
    for table, columns in TABLES.items():
        cols = ", ".join(q(c) for c in columns)
        if previous is not None:
            conditions = ["p.snapshot_id = ?"]
            params: list[object] = [new_id, previous]
            if table in frames:
                same_key = " AND ".join(f"u.{q(k)} = p.{q(k)}" for k in KEYS[table])
                conditions.append(f"NOT EXISTS (SELECT 1 FROM {_upload_view(table)} u WHERE {same_key})")
                if table in _PROJECT_COLUMN:
                    conditions.append(
                        "NOT EXISTS (SELECT 1 FROM _kpi_scope_projects s "
                        f"WHERE s.project_id = p.{q(_PROJECT_COLUMN[table])})"
                    )
                if table in _MILESTONE_COLUMN:
                    conditions.append(
                        "NOT EXISTS (SELECT 1 FROM _kpi_scope_milestones s "
                        f"WHERE s.milestone_id = p.{q(_MILESTONE_COLUMN[table])})"
                    )
                    # A row naming a milestone the new snapshot lacks belongs to no project: it
                    # came with an earlier upload of this table, and this upload replaces it
                    # (a mistyped id disappears once the corrected file is uploaded).
                    # Milestones come before tasks, dependencies and links in TABLES: the new
                    # snapshot's milestones are written already.
                    conditions.append(
                        "EXISTS (SELECT 1 FROM milestones m WHERE m.snapshot_id = ? "
                        f"AND m.milestone_id = p.{q(_MILESTONE_COLUMN[table])})"
                    )
                    params.append(new_id)
            cur.execute(
                f"INSERT INTO {q(table)} (snapshot_id, {cols}) SELECT ?, {cols} FROM {q(table)} p "
                f"WHERE {' AND '.join(conditions)}",
                params,
            )
        if table in frames:
            cur.execute(
                f"INSERT INTO {q(table)} (snapshot_id, {cols}) SELECT ?, {cols} FROM {_upload_view(table)}", [new_id]
            )


def _reference_problems(cur: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame], new_id: int) -> list[Problem]:
    """Uploaded rows naming a project, objective or KPI the new snapshot does not hold."""
    problems: list[Problem] = []
    for table, column, target, target_column, noun in _REQUIRED_REFERENCES:
        if table not in frames:
            continue
        rows = cur.execute(
            f"SELECT u._file, u._sheet, u._row, u.{q(column)} FROM {_upload_view(table)} u "
            f"WHERE u.{q(column)} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {q(target)} t "
            f"WHERE t.snapshot_id = ? AND t.{q(target_column)} = u.{q(column)}) ORDER BY 1, 2, 3",
            [new_id],
        ).fetchall()
        problems += [
            Problem(file, sheet, row, column, f"unknown {noun} '{ref}'; add it to the {target} sheet or fix the id")
            for file, sheet, row, ref in rows
        ]
    return problems


def _mitigation_problems(cur: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame], new_id: int) -> list[Problem]:
    """Uploaded candidate workarounds that start before the period of a KPI their milestone is linked to."""
    if "mitigations" not in frames:
        return []
    rows = cur.execute(
        f"SELECT u._file, u._sheet, u._row, u.start_date, min(k.period_start) FROM {_upload_view('mitigations')} u "
        "JOIN links l ON l.snapshot_id = ? AND l.milestone_id = u.milestone_id "
        "JOIN kpis k ON k.snapshot_id = ? AND k.kpi_id = l.kpi_id "
        "GROUP BY ALL HAVING u.start_date < min(k.period_start) ORDER BY 1, 2, 3",
        [new_id, new_id],
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
    cur: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame], new_id: int, as_of: date, previous: int | None
) -> list[Problem]:
    """Cycles and undatable finishes in the new snapshot's schedule (its own rows plus carried ones)."""
    from kpi_engine.ingest.validate import schedule_problems

    tables = {}
    for table in _SCHEDULE_TABLES:
        cols = ", ".join(q(c) for c in TABLES[table])
        frame = pl.from_arrow(
            cur.sql(f"SELECT {cols} FROM {q(table)} WHERE snapshot_id = ?", params=[new_id]).to_arrow_table()
        )
        assert isinstance(frame, pl.DataFrame)
        tables[table] = frame
    return schedule_problems(Portfolio.from_tables(tables, as_of), frames, previous)


def _dangling_warnings(
    cur: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame], new_id: int, previous: int | None
) -> list[Problem]:
    """Tasks, links and dependencies naming milestones or KPIs the new snapshot lacks.

    Uploaded rows are named by file, sheet and row. Carried-forward rows are reported
    only when this upload removed what they name (older dangling ids were reported when
    they arrived), once per id.
    """
    warnings: list[Problem] = []
    for table, column, target, target_column, noun in _SOFT_REFERENCES:
        missing = (
            f"NOT EXISTS (SELECT 1 FROM {q(target)} t WHERE t.snapshot_id = ? AND t.{q(target_column)} = x.{q(column)})"
        )
        if table in frames:
            rows = cur.execute(
                f"SELECT x._file, x._sheet, x._row, x.{q(column)} FROM {_upload_view(table)} x "
                f"WHERE {missing} ORDER BY 1, 2, 3",
                [new_id],
            ).fetchall()
            warnings += [
                Problem(
                    file,
                    sheet,
                    row,
                    column,
                    f"unknown {noun} '{ref}'; the row is kept and listed as a governance finding until it exists",
                )
                for file, sheet, row, ref in rows
            ]
        if previous is None or target not in frames:
            continue  # only an upload of the target table can remove what carried rows name
        not_uploaded = ""
        if table in frames:
            same_key = " AND ".join(f"u.{q(k)} = x.{q(k)}" for k in KEYS[table])
            not_uploaded = f"AND NOT EXISTS (SELECT 1 FROM {_upload_view(table)} u WHERE {same_key})"
        rows = cur.execute(
            f"WITH removed AS (SELECT {q(target_column)} AS id FROM {q(target)} WHERE snapshot_id = ? "
            f"EXCEPT SELECT {q(target_column)} FROM {q(target)} WHERE snapshot_id = ?) "
            f"SELECT x.{q(column)}, count(*) FROM {q(table)} x JOIN removed r ON r.id = x.{q(column)} "
            f"WHERE x.snapshot_id = ? {not_uploaded} GROUP BY 1 ORDER BY 1",
            [previous, new_id, new_id],
        ).fetchall()
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
    return warnings


def _row_counts(cur: duckdb.DuckDBPyConnection, snapshot_id: int) -> dict[str, int]:
    # One row, one column per table: table names are identifiers here, never values.
    sql = "SELECT " + ", ".join(
        f"(SELECT count(*) FROM {q(table)} WHERE snapshot_id = $id) AS {q(table)}" for table in TABLES
    )
    counts = cur.execute(sql, {"id": snapshot_id}).fetchall()[0]
    return {table: int(n) for table, n in zip(TABLES, counts, strict=True)}


def _changes(cur: duckdb.DuckDBPyConnection, new_id: int, previous: int | None) -> pl.DataFrame:
    """What changed in the milestones between the previous snapshot and the new one."""
    if previous is None:
        return _empty_changes()
    cols = [
        "milestone_id",
        "project_id",
        "name",
        "baseline_finish",
        "forecast_finish",
        "actual_finish",
        "reported_status",
    ]
    sql = f"SELECT {', '.join(q(c) for c in cols)} FROM milestones WHERE snapshot_id = ?"
    old = pl.from_arrow(cur.sql(sql, params=[previous]).to_arrow_table())
    new = pl.from_arrow(cur.sql(sql, params=[new_id]).to_arrow_table())
    assert isinstance(old, pl.DataFrame) and isinstance(new, pl.DataFrame)
    changes = [milestone_changes(old, new, new_id)]
    # KPI actuals and budgets move what the dashboard shows as much as milestone dates do
    for table, cols in (
        ("kpi_actuals", ["kpi_id", "as_of", "value"]),
        ("projects", ["project_id", "name", "budget"]),
    ):
        sql = f"SELECT {', '.join(q(c) for c in cols)} FROM {q(table)} WHERE snapshot_id = ?"
        before = pl.from_arrow(cur.sql(sql, params=[previous]).to_arrow_table())
        after = pl.from_arrow(cur.sql(sql, params=[new_id]).to_arrow_table())
        assert isinstance(before, pl.DataFrame) and isinstance(after, pl.DataFrame)
        if table == "kpi_actuals":
            names = pl.from_arrow(
                cur.sql("SELECT kpi_id, name FROM kpis WHERE snapshot_id = ?", params=[new_id]).to_arrow_table()
            )
            assert isinstance(names, pl.DataFrame)
            changes.append(kpi_actual_changes(before, after, names, new_id))
        else:
            changes.append(budget_changes(before, after, new_id))
    order = {kind: i for i, kind in enumerate(CHANGE_KINDS)}
    return (
        pl.concat(changes)
        .sort(pl.col("change").replace_strict(order, return_dtype=pl.Int64), maintain_order=True)
        .cast(CHANGES_SCHEMA)  # type: ignore[arg-type]
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
    """
    joined = (
        old.join(new, on=["kpi_id", "as_of"], how="full", coalesce=True, suffix="_new")
        .join(kpis.rename({"name": "kpi_name"}), on="kpi_id", how="left")
        .with_columns(
            pl.format("{} ({})", pl.col("kpi_name").fill_null(pl.col("kpi_id")), pl.col("kpi_id")).alias("label"),
            _iso(pl.col("as_of")).alias("day"),
        )
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
        .cast(CHANGES_SCHEMA)  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------- helpers of scenarios
#: The longest name a scenario or a mapping profile may have: it heads pages and fills pickers.
NAME_CHARS = 80


def short_name(name: str, what: str) -> str:
    """Return a name people typed, stripped; refuse a blank, multi-line or too long one.

    ``what`` names the thing in the message, e.g. "a scenario".

    Raises
    ------
    InputError
        The name is blank, holds a line break or is longer than :data:`NAME_CHARS`.
    """
    clean = name.strip()
    if not clean:
        raise InputError(f"{what} needs a name")
    if any(c in clean for c in "\r\n\t\v\f\x85\u2028\u2029"):
        raise InputError(f"the name of {what} must fit on one line; remove its line breaks")
    if len(clean) > NAME_CHARS:
        raise InputError(
            f"the name of {what} is {len(clean)} characters long; shorten it to {NAME_CHARS} characters or fewer"
        )
    return clean


def _scenario_name(name: str) -> str:
    return short_name(name, "a scenario")


def _scenario_not_found(scenario_id: int) -> NotFoundError:
    return NotFoundError(f"there is no saved scenario with id {scenario_id}; it may have been deleted")


def _check_scenario_name_free(cur: duckdb.DuckDBPyConnection, name: str, scenario_id: int | None) -> None:
    rows = cur.execute(
        "SELECT scenario_id FROM scenarios WHERE lower(name) = lower(?) AND scenario_id IS DISTINCT FROM ?",
        [name, scenario_id],
    ).fetchall()
    if rows:
        raise InputError(f"a scenario named '{name}' already exists; choose another name")


def _update_scenario_row(cur: duckdb.DuckDBPyConnection, scenario_id: int, column: str, value: str) -> None:
    rows = cur.execute(
        f"UPDATE scenarios SET {q(column)} = ?, updated_at = ? WHERE scenario_id = ? RETURNING 1",
        [value, _now(), scenario_id],
    ).fetchall()
    if not rows:
        raise _scenario_not_found(scenario_id)
