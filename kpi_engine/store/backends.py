"""Where the store lives: an embedded DuckDB file, or a shared store on PostgreSQL.

Everything the two kinds of store do differently is here; the rest of the store speaks
DuckDB SQL to whichever connection this module opens.

- The **embedded file** (the default, ``data/kpi.duckdb``): one process at a time may open
  it for writing, so opening waits a while for another program to let it go.
- The **shared store** (``postgresql://user:password@host:port/database?data_path=FOLDER``):
  a DuckLake catalog in the PostgreSQL database, its table data as Parquet files in the data
  folder, read and written through DuckDB's ``ducklake`` and ``postgres_scanner``
  extensions. Many processes open it at once; readers never wait for writers, and writers
  never wait for each other: each writes in its own transaction and the first to commit
  wins (see :mod:`kpi_engine.store.counters`).

Both keep DuckDB's safety settings: no file or network access beyond the store's own
folder, no extension loading and no setting changed once the store is open.
"""

from __future__ import annotations

import importlib
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import duckdb
import polars as pl
import pyarrow as pa

from kpi_engine.core.errors import DatabaseBusyError, InputError

#: A value DuckDB's connection settings take.
DuckDBSetting = str | bool | int | float | list[str]

DEFAULT_DB_PATH = Path("data") / "kpi.duckdb"
#: How a shared store's address begins.
URL_SCHEMES = ("postgresql://", "postgres://")
# The DuckLake catalog is attached as "lake" in every connection, and each cursor USEs it.

#: DuckDB 2 reads Polars' string views directly; 1.5 fails on filters over them.
_STRING_VIEWS = int(duckdb.__version__.split(".")[0]) >= 2


#: Rows per Arrow batch handed to DuckDB: its row-group size.  DuckDB scans an Arrow table a
#: batch per thread, so a frame in one piece is inserted by one thread (1M task rows: 1.15 s in
#: one batch, 0.55 s in batches of this size on 2 cores).
ARROW_BATCH_ROWS = 122_880


def to_arrow(frame: pl.DataFrame) -> pa.Table:
    """Hand a frame to DuckDB in batches it scans in parallel.

    As string views where this DuckDB reads them, else as plain strings.  The batches are
    slices of the frame's memory, not copies.
    """
    level = pl.CompatLevel.newest() if _STRING_VIEWS else pl.CompatLevel.oldest()
    table = frame.to_arrow(compat_level=level)
    if table.num_rows <= ARROW_BATCH_ROWS:
        return table
    return pa.Table.from_batches(table.to_batches(max_chunksize=ARROW_BATCH_ROWS), schema=table.schema)


def query_frame(cur: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object] | None = None) -> pl.DataFrame:
    """Run a query with named parameters on ``cur`` (inside its transaction) and return its result as a frame.

    Run with ``execute``, not ``sql``: ``sql`` with parameters keeps the whole result as a
    relation and converts it row by row (1M task rows: 1.7 s against 0.23 s).
    """
    frame = pl.from_arrow(cur.execute(sql, dict(params or {})).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def is_url(text: str) -> bool:
    """Whether ``text`` names a shared store rather than a file."""
    return text.strip().lower().startswith(URL_SCHEMES)


def chosen_db(path: str | os.PathLike[str] | None = None) -> str:
    """Return the store to use as text: ``path``, else ``$KPI_DB``, else ``data/kpi.duckdb``."""
    chosen = str(path) if path not in (None, "") else os.environ.get("KPI_DB", "").strip()
    return chosen or str(DEFAULT_DB_PATH)


@dataclass(frozen=True)
class SharedStoreAddress:
    """The parts of a ``postgresql://`` store address."""

    user: str
    password: str
    host: str
    port: int
    database: str
    data_path: Path

    @property
    def name(self) -> str:
        """The address as shown to people: without the password."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def conninfo(self) -> str:
        """The PostgreSQL connection string (libpq ``key=value`` form)."""
        parts = {"dbname": self.database, "host": self.host, "port": str(self.port), "user": self.user}
        if self.password:
            parts["password"] = self.password
        return " ".join(f"{key}='{_libpq_quote(value)}'" for key, value in parts.items())


def _libpq_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _sql_text(value: str) -> str:
    """An SQL string literal (ATTACH takes no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def parse_url(text: str) -> SharedStoreAddress:
    """Read a ``postgresql://user:password@host:port/database?data_path=FOLDER`` address.

    Raises
    ------
    InputError
        A part is missing or malformed; the message never repeats the password.
    """
    parts = urlsplit(text.strip())
    shown = f"postgresql://{parts.username or ''}@{parts.hostname or ''}/{parts.path.lstrip('/')}"
    try:
        port = parts.port or 5432
    except ValueError:
        raise InputError(f"the store address {shown} has a port that is not a number") from None
    database = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not database:
        raise InputError(
            f"the store address {shown} needs a host and a database: "
            "postgresql://user:password@host:port/database?data_path=FOLDER"
        )
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - {"data_path"})
    if unknown:
        raise InputError(f"the store address {shown} has unknown parameters: {', '.join(unknown)}; only data_path")
    folder = (query.get("data_path") or [""])[-1].strip()
    if not folder:
        raise InputError(
            f"the store address {shown} needs ?data_path=FOLDER: the folder, shared by every app instance "
            "and job, where the store keeps its table data"
        )
    return SharedStoreAddress(
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        host=parts.hostname,
        port=port,
        database=database,
        data_path=Path(folder).expanduser().resolve(),
    )


# ---------------------------------------------------------------------- the two backends
class Backend:
    """What one kind of store does its own way: opening, cursors, the write lock, versions."""

    #: Shown in messages: the file, or the address without its password.
    name: str | Path
    #: Whether the connection may be let go when idle (only a file that others wait for).
    releases_when_idle: bool
    #: Whether writers in other processes may commit at the same time (optimistic writes).
    concurrent_writers: bool

    @property
    def lock_key(self) -> str:
        """What the writers of this process serialise on: one lock per store."""
        raise NotImplementedError

    def connect(self, config: dict[str, DuckDBSetting], timeout: float) -> duckdb.DuckDBPyConnection:
        """Open a connection with the safety ``config`` in force."""
        raise NotImplementedError

    def prepare_cursor(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """Make a fresh cursor read and write the store's tables by their plain names."""

    def data_version(self) -> tuple[int, int, int, int]:
        """A fingerprint that changes whenever any program writes to the store."""
        raise NotImplementedError


class EmbeddedFile(Backend):
    """The DuckDB file: one writing process at a time, waited for."""

    releases_when_idle = True
    concurrent_writers = False

    def __init__(self, path: Path) -> None:
        self.name = self.path = path

    @property
    def lock_key(self) -> str:
        return os.path.normcase(os.path.realpath(self.path))

    def connect(self, config: dict[str, DuckDBSetting], timeout: float) -> duckdb.DuckDBPyConnection:
        """Open the file, retrying for ``timeout`` seconds while another program holds it.

        Raises
        ------
        DatabaseBusyError
            Another program still holds the file when the timeout runs out.
        InputError
            The file is not a database this program can open.
        """
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                return duckdb.connect(str(self.path), config=config)
            except duckdb.IOException as err:
                if "lock" not in str(err).lower():
                    raise InputError(
                        f"the database file {self.path} cannot be opened: {str(err).splitlines()[0]}"
                    ) from None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DatabaseBusyError(
                        f"the database file {self.path} is in use by another program "
                        "(for example the dashboard or a scheduled job); try again in a moment"
                    ) from None
                time.sleep(min(0.2, remaining))
            except duckdb.Error as err:
                raise InputError(
                    f"the database file {self.path} cannot be opened: {str(err).splitlines()[0]}"
                ) from None

    def data_version(self) -> tuple[int, int, int, int]:
        """Size and modification time of the file and its write-ahead log (two ``stat`` calls).

        DuckDB appends each commit to the log (``<file>.wal``) and later folds it into the
        file, so the four numbers change with every write.
        """
        version: list[int] = []
        for file in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                found = file.stat()
                version += [found.st_size, found.st_mtime_ns]
            except OSError:  # no file yet, or no log: a version too
                version += [-1, -1]
        return (version[0], version[1], version[2], version[3])


class SharedStore(Backend):
    """A DuckLake catalog in PostgreSQL with its table data as Parquet files in a shared folder."""

    releases_when_idle = False
    concurrent_writers = True
    #: Attempts to attach while other programs create the catalog of an empty database.
    ATTACH_ATTEMPTS = 8

    def __init__(self, address: SharedStoreAddress) -> None:
        self.address = address
        self.name = address.name

    @property
    def lock_key(self) -> str:
        return f"{self.address.name}?data_path={self.address.data_path}"

    def connect(self, config: dict[str, DuckDBSetting], timeout: float) -> duckdb.DuckDBPyConnection:
        """Open an in-memory DuckDB, load the two extensions, attach the catalog, then lock it down.

        External access is needed to attach; once attached, file access is narrowed to the
        data folder and switched off elsewhere, and the settings are locked, as for a file.

        Raises
        ------
        InputError
            The extensions are missing, or PostgreSQL or the data folder cannot be reached.
        """
        address = self.address
        try:
            address.data_path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"the data folder {address.data_path} of {self.name} cannot be created: {err}") from None
        # an in-memory database spills large queries to a folder of this machine's own
        spill = Path(tempfile.gettempdir()) / f"kpi-duckdb-spill-{os.getpid()}"
        opening = {
            **config,
            "enable_external_access": True,
            "lock_configuration": False,
            "temp_directory": str(spill),
        }
        for attempt in range(1, self.ATTACH_ATTEMPTS + 1):
            con = duckdb.connect(":memory:", config=opening)
            try:
                for extension in extension_files():
                    con.execute(f"LOAD {_sql_text(str(extension))}")
                target = "ducklake:postgres:" + address.conninfo()
                # No data inlining: DuckLake writes an insert of fewer than 10 rows into the
                # catalog as SQL text, and an uploaded file's bytes are one row, so a 20 MB
                # file became 40 MB of hex literals for PostgreSQL: its commit took 12.4-12.7 s,
                # against 0.03 s written as a Parquet file. Every insert goes to the data folder.
                con.execute(
                    f"ATTACH {_sql_text(target)} AS lake "
                    f"(DATA_PATH {_sql_text(str(address.data_path) + os.sep)}, DATA_INLINING_ROW_LIMIT 0)"
                )
                break
            except duckdb.Error as err:
                con.close()
                if attempt == self.ATTACH_ATTEMPTS or not _catalog_created_meanwhile(err):
                    raise self._unreachable(err) from None
            # another program is creating the catalog of this empty database right now: its
            # tables appear when it commits, and the next attempt attaches to them
            time.sleep(random.uniform(0.05, 0.2) * attempt)
        try:
            con.execute("USE lake")
            con.execute("SET allowed_directories = ?", [[str(address.data_path) + os.sep, str(spill) + os.sep]])
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except duckdb.Error as err:
            con.close()
            raise self._unreachable(err) from None
        return con

    def _unreachable(self, err: duckdb.Error) -> InputError:
        """The error of a store that cannot be opened, without the password."""
        first = str(err).splitlines()[0]
        if self.address.password:
            first = first.replace(self.address.password, "***")
        return InputError(f"the shared store {self.name} cannot be opened: {first}")

    def prepare_cursor(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """A cursor starts in DuckDB's in-memory catalog: point it at the lake."""
        cursor.execute("USE lake")

    def data_version(self) -> tuple[int, int, int, int]:
        """The catalog's latest DuckLake snapshot: one query to PostgreSQL, on a connection kept for it."""
        con = _version_connection(self)
        with _VERSION_GUARD:
            cursor = con.cursor()
        try:
            rows = cursor.execute("SELECT id FROM lake.current_snapshot()").fetchall()
        finally:
            cursor.close()
        return (int(rows[0][0]), 0, 0, 0)


def _catalog_created_meanwhile(err: duckdb.Error) -> bool:
    """Whether attaching failed because another program created the catalog's tables at the same moment.

    DuckLake creates its catalog tables when it first attaches to an empty database; of two
    programs doing so at once, PostgreSQL refuses the second one's tables as duplicates.
    """
    text = str(err)
    return "Failed to initialize DuckLake" in text and ("already exists" in text or "duplicate key" in text)


_VERSION_CONNECTIONS: dict[str, duckdb.DuckDBPyConnection] = {}
_VERSION_GUARD = threading.Lock()


def _version_connection(store: SharedStore) -> duckdb.DuckDBPyConnection:
    """One connection per shared store in this process, kept to ask for its version."""
    with _VERSION_GUARD:
        con = _VERSION_CONNECTIONS.get(store.lock_key)
        if con is None:
            con = _VERSION_CONNECTIONS[store.lock_key] = store.connect(
                {"autoload_known_extensions": False, "autoinstall_known_extensions": False, "memory_limit": "64MB"},
                0.0,
            )
        return con


def extension_files() -> list[Path]:
    """The ``ducklake`` and ``postgres_scanner`` extension files for this DuckDB, from their packages.

    The packages ``duckdb-extension-ducklake`` and ``duckdb-extension-postgres`` ship the
    files. DuckDB names an extension's entry point after its file name, and the postgres
    file's entry point is ``postgres_scanner``: that file is copied once under that name
    into a folder of this user's cache.

    Raises
    ------
    InputError
        A package is missing or built for another DuckDB version.
    """
    found = []
    for package, name, load_as in (
        ("duckdb_extension_postgres", "postgres", "postgres_scanner"),
        ("duckdb_extension_ducklake", "ducklake", "ducklake"),
    ):
        try:
            module = importlib.import_module(package)
        except ImportError:
            raise InputError(
                f"the shared store needs the Python package {package.replace('_', '-')} built for DuckDB "
                f"{duckdb.__version__}; install the versions pinned in requirements.txt"
            ) from None
        assert module.__file__ is not None
        shipped = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
        if not shipped.is_file():
            raise InputError(
                f"the package {package.replace('_', '-')} holds no extension for DuckDB {duckdb.__version__}; "
                "install the versions pinned in requirements.txt"
            )
        found.append(shipped if name == load_as else _copy_as(shipped, load_as))
    return found


def _copy_as(shipped: Path, name: str) -> Path:
    """A copy of an extension file named ``name``, made once (atomically) in the user's cache."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kpi-dashboard" / "duckdb-extensions"
    target = cache / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if target.is_file() and target.stat().st_size == shipped.stat().st_size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    shutil.copyfile(shipped, partial)
    os.replace(partial, target)
    return target


def backend_for(path: str | os.PathLike[str] | None) -> Backend:
    """The backend of the store named by ``path`` (a file or a ``postgresql://`` address), ``$KPI_DB`` or the default.

    Raises
    ------
    InputError
        A malformed store address.
    """
    chosen = chosen_db(path)
    if is_url(chosen):
        return SharedStore(parse_url(chosen))
    return EmbeddedFile(Path(chosen))
