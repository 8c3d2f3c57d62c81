"""Opening the DuckDB file safely, and sharing it with the other programs that want it.

DuckDB never reads files or the network for us (data arrives as Arrow), SQL cannot reach
Python variables or change those settings back, and every value is bound as a parameter.
DuckDB lets one process at a time open the file for writing: the CLI opens, works and
closes, and waits a while (``busy_timeout``) for the dashboard or a scheduled job to let go
of it; the dashboard lets go of it ``idle_release`` seconds after its last query and
notices what others wrote through :func:`data_version`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from kpi_engine.core.errors import DatabaseBusyError, InputError, KpiError
from kpi_engine.store.backends import Backend, DuckDBSetting, backend_for, chosen_db

DEFAULT_BUSY_TIMEOUT = 10.0
DEFAULT_MEMORY_LIMIT = "2GB"
#: Seconds after its last query the dashboard lets the database file go (``$KPI_DB_IDLE_RELEASE``).
DEFAULT_IDLE_RELEASE = 2.0

#: A fingerprint of the database file: size and modification time of it and its write-ahead log.
DataVersion = tuple[int, int, int, int]


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock_for(backend: Backend) -> threading.Lock:
    """The one write lock of a store in this process, shared by every Store on it.

    Two Stores on one file (two cached loaders, a path spelled two ways) would otherwise
    write at once and collide on the next snapshot id; a throwaway ``:memory:`` database
    belongs to its Store alone.
    """
    if str(backend.name) == ":memory:":
        return threading.Lock()
    key = backend.lock_key
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


def q(identifier: str) -> str:
    """Quote an SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def q_list(identifiers: Iterable[str]) -> str:
    """Quote SQL identifiers and join them with commas (a column list)."""
    return ", ".join(q(identifier) for identifier in identifiers)


def resolve_db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the database file to use: ``path``, else ``$KPI_DB``, else ``data/kpi.duckdb``.

    For a shared store's ``postgresql://`` address use :func:`resolve_db` instead.

    Parameters
    ----------
    path
        An explicit file (the CLI's ``--db``); blank means "not given".

    Returns
    -------
    Path
        The file path (``:memory:`` is passed through for throwaway databases).
    """
    return Path(chosen_db(path))


def resolve_db(path: str | os.PathLike[str] | None = None) -> str:
    """Return the store to use as text (a file, or a ``postgresql://`` address kept as written).

    ``path``, else ``$KPI_DB``, else ``data/kpi.duckdb``.
    """
    return chosen_db(path)


def data_version(path: str | os.PathLike[str] | None = None) -> DataVersion:
    """Return a fingerprint of the store that changes whenever any program writes to it.

    A file: the size and modification time of it and its write-ahead log, two ``stat``
    calls and no connection. A shared store: the number of its latest DuckLake snapshot,
    one query to PostgreSQL. A dashboard checks it on every rerun to notice snapshots the
    CLI, a scheduled job or another app instance stored.
    """
    return backend_for(path).data_version()


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

    def __init__(
        self,
        opener: Callable[[], duckdb.DuckDBPyConnection],
        idle_release: float | None,
        prepare: Callable[[duckdb.DuckDBPyConnection], None] = lambda cursor: None,
    ) -> None:
        self._opener = opener
        self._prepare = prepare
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
                self._prepare(cur)
                yield _RecordingCursor(cur, self.recorders) if self.recorders else cur  # type: ignore[misc]  # the recorder passes every call through
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


def open_connection(
    path: str | os.PathLike[str] | None,
    busy_timeout: float | None,
    memory_limit: str | None,
    idle_release: float | None,
) -> tuple[_Connection, Backend]:
    """Return the connection to the store (opened at its first cursor) and its backend.

    The arguments are those of :meth:`kpi_engine.store.Store.open`.
    """
    backend = backend_for(path)
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
        return backend.connect(config, timeout)

    keep = idle_release if backend.releases_when_idle and str(backend.name) != ":memory:" else None
    return _Connection(connect, keep, backend.prepare_cursor), backend


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # the transaction is already gone (failed commit)
        cur.rollback()


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)
