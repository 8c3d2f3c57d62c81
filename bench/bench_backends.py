"""Both backends: full ingest, weekly partial upload and engine input load, against same-run floors.

The embedded DuckDB file and the shared store (a DuckLake catalog in a real PostgreSQL
server started on 127.0.0.1 as the tests start it, table data as Parquet files in a data
folder) take the same three jobs, on the large canonical upload of ``bench_ingest``
(1M tasks and 200k milestones at ``--scale 1``):

1. **Full ingest** (read, validate, ``Store.open``, ``store.ingest``, close) into a fresh
   store, against plain DuckDB ``CREATE TABLE t AS SELECT * FROM read_csv(file)`` of the
   same files into a fresh store of the same kind (a new file; a new DuckLake catalog
   and data folder);
2. **Weekly partial upload** (the milestones and tasks of 10% of the projects, a week
   later) stored into a store holding the full snapshot: ``store.ingest`` alone, against
   the full upload's own ``store.ingest`` into a fresh store in the same rounds; as a floor,
   the same rows (with the projects they name) stored into an empty store of the same
   kind, what storing them costs with no base to merge with; plain ``INSERT`` statements
   of the uploaded rows into a copy of the store holding the full snapshot and their
   ``COMMIT`` (no checks, no merge, no files: what the backend itself spends on appending a
   tenth of the rows); and the
   bytes it adds (growth of the file; growth of the data folder plus the catalog database
   in PostgreSQL, ``pg_database_size`` beyond an empty database's), against the bytes of the full snapshot alone;
3. **Engine input load**: ``Store.load_portfolio()`` of the latest snapshot (the weekly
   one, so its rows come from two uploads), against a plain ``SELECT *`` of the same
   tables into Polars on the same open store.

All cases take turns, one run of each per round, medians; the load average is printed
at the start and at the end.

Figures (medians of 3; ratios against the same run's floor; the 2 cores shared with other
work). Run 2: 2026-12-07 00:53-01:03 UTC, ``--scale 0.25 --repeat 3`` (250k tasks and 50k
milestones; the weekly upload 25,290 tasks), load average 12.9 at the start and 10.4 at the
end. Run 1: 00:49-00:53 UTC, ``--scale 0.1`` (100k tasks; weekly 10,175 tasks), load average
14.5 and 9.3, tests and a profile running alongside:

==============================================  =====================  =====================
measured (run 2; run 1 in brackets)             embedded file          shared store
==============================================  =====================  =====================
1 floor: ``CREATE TABLE AS read_csv``           1,930 ms (5,471)       1,815 ms (1,019)
1 full ingest (read, open, ingest, close)       1.90x (0.82x)          18.0x (10.1x)
1 ``store.ingest`` alone, full upload           1.57x (0.31x)          11.9x (8.9x)
2 ``store.ingest`` alone, weekly upload,        0.73x (1.51x)          0.27x (0.25x)
  against the full upload's ``store.ingest``
2 bytes the weekly upload adds, against         6.03 / 33.0 MB         1.96 / 19.7 MB
  the full snapshot alone                       = 0.18x (0.28x)        = 0.10x (0.10x)
3 floor: ``SELECT *`` of the tables             668 ms (396)           1,677 ms (751)
3 ``Store.load_portfolio()`` of the latest      2.46x (5.7x)           1.92x (2.5x)
==============================================  =====================  =====================

The embedded file's weekly ``store.ingest`` was far from a tenth of the full one in run 2
(0.52x at 1M tasks in ``bench_ingest``): its checks read the whole merged snapshot back.
Since the schedule check passes on the base's bound and the other steps read only what the
upload touched (:mod:`kpi_engine.store.schedule_check`), runs 3 and 4 (``--backend shared
--scale 0.25``, 2026-12-07, load average 7-19) measured the shared store's weekly
``store.ingest`` at 4,789 ms = 0.20x the full upload's 23.9 s with the code before and
2,057 ms = 0.05x the full upload's 39.8 s with it (the full upload's time rose between the
runs; its path only gained one row of ``schedule_bounds``); bytes 0.10x in both. At 1M
tasks on the embedded file ``bench_ingest`` measured 0.78x before and 0.22-0.23x after. On the shared store the full ingest is far above
its floor: DuckLake's own ``CREATE TABLE AS`` writes one Parquet file per table, while
``store.ingest`` runs many statements (the merge, the checks read back, the changes, the
files' bytes), each against the catalog in PostgreSQL.

Runs 5-7 (2026-12-07, ``--scale 1``, 1M tasks; docs/speed.md has the table):
a profile put 7.5 of the shared store's 8.5 s full ``store.ingest`` (250k tasks) in the
commit, nearly all of it DuckLake's data inlining: the uploaded files' bytes, one row per
file, went to the PostgreSQL catalog as hex SQL text. Attached with
``DATA_INLINING_ROW_LIMIT 0`` and with the store reading through ``cursor.execute`` instead
of ``cursor.sql(..., params=...)`` (which converted results row by row), run 7 measured: full
ingest on the file 1.32x its floor and on the shared store 2.37x (36.0x before, run 5);
weekly ``store.ingest`` 0.24x the full one's on the file (0.36x in run 6) and 0.67x on the
shared store (1,150 ms; 3,558 ms = 0.08x of a 43.7 s full upload in run 5); ``load_portfolio``
1.82x its floor on the file (11.1x in run 6) and 1.71x on the shared store (5.3-5.6x before).

Runs 9-11 (2026-12-07, ``--scale 1``): the code before the weekly upload's one-pass
removals and the code after, one after the other on a quiet machine (12:27-12:39 UTC, load
average 0-1.8): weekly ``store.ingest`` 486.5 -> 433.7 ms on the file (0.25x -> 0.22x the
full upload's) and 1,006.7 -> 770.2 ms on the shared store (0.59x -> 0.45x); the final code
(13:04 UTC, load average 1.6-3.8) 0.22x and 0.46x; bytes unchanged. ``bench_history`` times
the weekly upload week after week.

Runs 12-15 (2026-12-07 22:29-22:40 UTC, ``--scale 1 --repeat 3``, load average 0.5-6.3)
with the two floors of part 2 (runs 13-15; the plain ``INSERT`` floor in run 15 alone):

================================================  ================  ================
measured                                          embedded file     shared store
================================================  ================  ================
2 ``store.ingest`` alone, weekly upload           0.19-0.23x        0.35-0.38x
2 floor: the same rows into an empty store        0.08-0.10x        0.23-0.24x
2 floor: plain ``INSERT`` of the rows + COMMIT    0.06x (83.7 ms)   0.07x (72.5 ms)
================================================  ================  ================

(each against the full upload's own ``store.ingest``, 1,310-1,468 ms on the file and
1,014-1,114 ms on the shared store). So appending a tenth of the rows costs both backends
about 0.06-0.07x; on the file the store's own work for an upload with no base adds little
(0.08-0.10x), and the merge with the base (the passes over its tasks and milestones, the
checks against it) the rest. On the shared store the store's own work costs 0.17x before
any merge: each of the small tables an upload reads or writes (the snapshot list, the
files already kept, the write counter, the references, the files' bytes, the lineage, the
schedule bound, the changes) is a round trip to the catalog, 3-20 ms each on DuckLake
(timed statement by statement; the first read of a table in a connection costs the most).

Run with ``python -m bench.bench_backends [--scale 0.1] [--repeat 3]``; needs Debian's
``postgresql`` package and the extension packages of ``requirements.txt``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from bench.bench_ingest import UPLOAD_LIMIT_MB, StoreRuns, alone, partial_upload, write_canonical_csv
from bench.common import interleaved_medians, print_table
from bench.portfolio_gen import generate_portfolio
from kpi_engine.core.schema import TABLES, conform
from kpi_engine.ingest import ParsedUpload, SourceFile, read_paths, read_upload
from kpi_engine.store import Store
from kpi_engine.store.backends import _sql_text, extension_files, parse_url
from kpi_engine.store.lineage import ROW_ID_BASE
from tests.pg_server import PgServer, running_server


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _lake_connection(url: str, external: bool = True) -> duckdb.DuckDBPyConnection:
    """A plain DuckDB connection with the store's DuckLake catalog attached as ``lake`` (no checks)."""
    address = parse_url(url)
    con = duckdb.connect(":memory:")
    for extension in extension_files():
        con.execute(f"LOAD '{extension}'")
    con.execute(
        f"ATTACH {_sql_text('ducklake:postgres:' + address.conninfo())} AS lake "
        f"(DATA_PATH {_sql_text(str(address.data_path) + os.sep)})"
    )
    con.execute("USE lake")
    return con


def catalog_bytes(url: str) -> int:
    """``pg_database_size`` of the store's catalog database."""
    address = parse_url(url)
    con = duckdb.connect(":memory:")
    try:
        for extension in extension_files():
            con.execute(f"LOAD '{extension}'")
        con.execute(f"ATTACH {_sql_text(address.conninfo())} AS pg (TYPE postgres, READ_ONLY)")
        rows = con.execute(
            "SELECT * FROM postgres_query('pg', 'SELECT pg_database_size(current_database())')"
        ).fetchall()
        return int(rows[0][0])
    finally:
        con.close()


def csv_floor(paths: dict[str, Path], con: duckdb.DuckDBPyConnection) -> None:
    """``CREATE TABLE t AS SELECT * FROM read_csv(file)`` for every file, on ``con``; then close it."""
    try:
        for table, path in paths.items():
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}')")
    finally:
        con.close()


class Kind:
    """One backend: how to make a fresh store, a copy of the full snapshot, and measure bytes."""

    name: str

    def fresh(self) -> str:
        """The address of a new, empty store."""
        raise NotImplementedError

    def connect(self, db: str) -> duckdb.DuckDBPyConnection:
        """A plain DuckDB connection to store ``db`` of this kind (no checks, none of the store's code)."""
        raise NotImplementedError

    def floor_connection(self) -> duckdb.DuckDBPyConnection:
        """A plain DuckDB connection to a new, empty store of this kind."""
        return self.connect(self.fresh())

    def keep_full(self, db: str) -> None:
        """Remember ``db`` (holding the full snapshot) as the one :meth:`weekly_copy` copies."""
        raise NotImplementedError

    def weekly_copy(self, stem: str = "weekly") -> str:
        """A new store holding exactly the full snapshot kept by :meth:`keep_full` (``stem``: its kind of use)."""
        raise NotImplementedError

    def size(self, db: str) -> int:
        """Bytes the store takes."""
        raise NotImplementedError


class FileKind(Kind):
    """The embedded DuckDB file; bytes: the file (and its log, if any)."""

    name = "embedded file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.n = 0
        self.full: Path | None = None

    def _path(self, stem: str) -> Path:
        self.n += 1
        for old in self.folder.glob(f"{stem}-*.duckdb*"):
            old.unlink()
        return self.folder / f"{stem}-{self.n}.duckdb"

    def fresh(self) -> str:
        return str(self._path("fresh"))

    def connect(self, db: str) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(db)

    def floor_connection(self) -> duckdb.DuckDBPyConnection:
        return self.connect(str(self._path("floor")))

    def keep_full(self, db: str) -> None:
        self.full = self.folder / "full.duckdb"
        shutil.copyfile(db, self.full)

    def weekly_copy(self, stem: str = "weekly") -> str:
        assert self.full is not None
        path = self._path(stem)
        shutil.copyfile(self.full, path)
        return str(path)

    def size(self, db: str) -> int:
        return sum(p.stat().st_size for p in Path(db).parent.glob(Path(db).name + "*"))


class SharedKind(Kind):
    """The shared store; bytes: its data folder plus its catalog database in PostgreSQL.

    A copy of the full snapshot is a new database made from the full one as a template
    (``createdb -T``), on the same data folder: a weekly upload only adds files to it.
    """

    name = "shared store"

    def __init__(self, server: PgServer, folder: Path) -> None:
        self.server, self.folder = server, folder
        self.n = 0
        self.full: str | None = None
        #: what PostgreSQL takes for an empty database: left out of the catalog's bytes
        self.empty = catalog_bytes(server.url(server.create_database(), folder / "unused"))

    def _new(self, template: str | None = None) -> tuple[str, Path]:
        self.n += 1
        data = self.folder / f"lake-{self.n}"
        if template is None:
            return self.server.url(self.server.create_database(), data), data
        name = f"weekly_{self.n}"
        from tests.pg_server import _run

        server = self.server
        _run([*server.run_as, str(server.bin_dir / "createdb"), "-h", server.host, "-p", str(server.port),
              "-U", server.user, "-T", template, name])  # fmt: skip
        return server.url(name, parse_url(self.full or "").data_path), data

    def fresh(self) -> str:
        return self._new()[0]

    def connect(self, db: str) -> duckdb.DuckDBPyConnection:
        return _lake_connection(db)

    def keep_full(self, db: str) -> None:
        self.full = db

    def weekly_copy(self, stem: str = "weekly") -> str:
        assert self.full is not None
        return self._new(template=parse_url(self.full).database)[0]

    def size(self, db: str) -> int:
        return folder_bytes(parse_url(db).data_path) + catalog_bytes(db) - self.empty


class IngestRuns(StoreRuns):
    """:class:`~bench.bench_ingest.StoreRuns` into a fresh store made by ``make`` before every run."""

    def __init__(self, make: Callable[[], str], upload: ParsedUpload, files: list[SourceFile], as_of: date) -> None:
        super().__init__("", upload, files, as_of)
        self.make = make

    def setup(self) -> None:
        self.db = self.make()


#: The snapshot id the plain appends of :class:`AppendRuns` give their rows (none of the store's own).
_APPENDED = 999


class AppendRuns:
    """The least part 2 can cost: the uploaded rows appended by plain ``INSERT`` statements and committed.

    Into a copy of the store holding the full snapshot (made untimed before each run, with
    the rows registered as Arrow tables), on a plain DuckDB connection: no merge, no
    checks, no files' bytes, no bookkeeping of the store.
    """

    def __init__(self, kind: Kind, upload: ParsedUpload) -> None:
        self.kind = kind
        self.frames = {table: frame for table, frame in upload.tables.items() if table in TABLES}
        self.con: duckdb.DuckDBPyConnection | None = None

    def setup(self) -> None:
        self.close()
        db = self.kind.weekly_copy("append")
        self.con = self.kind.connect(db)
        for table, frame in self.frames.items():
            self.con.register(f"new_{table}", conform(table, frame).to_arrow())

    def __call__(self) -> None:
        assert self.con is not None
        self.con.execute("BEGIN")
        for table in self.frames:
            columns = ", ".join(f'"{c}"' for c in TABLES[table])
            self.con.execute(
                f'INSERT INTO "{table}" (snapshot_id, stored_row, {columns}) '
                f"SELECT {_APPENDED}, {_APPENDED * ROW_ID_BASE} + row_number() OVER (), {columns} FROM new_{table}"
            )
        self.con.execute("COMMIT")

    def close(self) -> None:
        """Close the last run's connection (untimed, as the store's runs close it after the clock stops)."""
        if self.con is not None:
            self.con.close()
            self.con = None


def load_floor(db: str) -> None:
    """A plain ``SELECT *`` of every canonical table into Polars, on an open store."""
    with Store.open(db) as store, store._db.cursor() as cur:
        for table in TABLES:
            cur.sql(f"SELECT * FROM {table}").pl()


def load_ours(db: str) -> None:
    """``Store.load_portfolio()`` of the latest snapshot."""
    with Store.open(db) as store:
        store.load_portfolio()


def run_kind(
    kind: Kind,
    paths: dict[str, Path],
    csv_dir: Path,
    weekly_dir: Path,
    as_of: date,
    repeat: int,
) -> tuple[list[tuple[str, float, str]], list[str]]:
    """Time the three jobs on one backend; return the table rows and the byte lines."""
    files = read_paths([csv_dir])
    upload = read_upload(files)
    weekly_files = read_paths([weekly_dir])
    weekly = read_upload(weekly_files)
    week_later = as_of + timedelta(days=7)
    sizes = {t: f.height for t, f in upload.tables.items()}

    full_db = kind.fresh()
    with Store.open(full_db) as store:
        store.ingest(upload, as_of, sources=files)
    kind.keep_full(full_db)
    full_bytes = kind.size(full_db)
    loaded_db = kind.weekly_copy("loaded")
    before = kind.size(loaded_db)
    with Store.open(loaded_db) as store:
        result = store.ingest(weekly, week_later, sources=weekly_files)
    assert result.previous_snapshot_id == 1 and all(result.rows[t] == n for t, n in sizes.items()), (
        result.previous_snapshot_id,
        result.rows,
    )
    growth = kind.size(loaded_db) - before

    def full_ingest() -> None:
        db = kind.fresh()
        with Store.open(db) as store:
            store.ingest(read_upload(read_paths([csv_dir])), as_of, sources=files)

    store_runs = IngestRuns(kind.fresh, upload, files, as_of)
    weekly_runs = IngestRuns(kind.weekly_copy, weekly, weekly_files, week_later)
    alone_runs = IngestRuns(kind.fresh, alone(weekly, upload), weekly_files, week_later)
    floor_con: list[duckdb.DuckDBPyConnection] = []
    append = AppendRuns(kind, weekly)
    medians = interleaved_medians(
        {
            "floor": (lambda: floor_con.append(kind.floor_connection()), lambda: csv_floor(paths, floor_con.pop())),
            "full": (lambda: None, full_ingest),
            "store": (store_runs.setup, store_runs),
            "weekly": (weekly_runs.setup, weekly_runs),
            "alone": (alone_runs.setup, alone_runs),
            "append": (append.setup, append),
            "load_floor": (lambda: None, lambda: load_floor(loaded_db)),
            "load": (lambda: None, lambda: load_ours(loaded_db)),
        },
        repeat,
    )
    floor, full, store_ingest = medians["floor"], medians["full"], store_runs.median_ingest()
    weekly_ingest, load_floor_s, load_s = weekly_runs.median_ingest(), medians["load_floor"], medians["load"]
    alone_ingest = alone_runs.median_ingest()
    append.close()
    append_floor = medians["append"]
    label = kind.name
    rows = [
        (f"{label}: 1 floor, CREATE TABLE AS read_csv each file", floor, "= 1.0x"),
        (f"{label}: 1 full ingest (read, open, ingest, close)", full, f"{full / floor:.2f}x the floor"),
        (f"{label}: 1 store.ingest alone, full upload", store_ingest, f"{store_ingest / floor:.2f}x the floor"),
        (
            f"{label}: 2 store.ingest alone, weekly 10% upload",
            weekly_ingest,
            f"{weekly_ingest / store_ingest:.2f}x the full upload's store.ingest (aim ~0.1x)",
        ),
        (
            f"{label}: 2 floor, store.ingest of the same rows into an empty store",
            alone_ingest,
            f"{alone_ingest / store_ingest:.2f}x the full upload's: storing the rows, no base",
        ),
        (
            f"{label}: 2 floor, plain INSERTs of the rows into the full snapshot's store + COMMIT",
            append_floor,
            f"{append_floor / store_ingest:.2f}x the full upload's: appending the rows, nothing else",
        ),
        (f"{label}: 3 floor, SELECT * of the tables into Polars", load_floor_s, "= 1.0x"),
        (f"{label}: 3 Store.load_portfolio() of the latest", load_s, f"{load_s / load_floor_s:.2f}x the floor"),
    ]
    byte_lines = [
        f"{label}: the full snapshot alone takes {full_bytes / 1e6:,.1f} MB; the weekly upload adds "
        f"{growth / 1e6:,.2f} MB = {growth / full_bytes:.2f}x (aim ~0.1x)"
    ]
    return rows, byte_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.1, help="1.0 = 200k milestones and 1M tasks")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("both", "file", "shared"), default="both")
    args = parser.parse_args()
    os.environ["KPI_MAX_UPLOAD_MB"] = UPLOAD_LIMIT_MB
    print(f"load average at the start: {load_average()}", flush=True)
    work_dir = Path(tempfile.mkdtemp(prefix="bench_backends_"))
    try:
        portfolio = generate_portfolio(milestones=int(200_000 * args.scale), tasks_per_milestone=5, seed=1)
        csv_dir = work_dir / "canonical"
        paths = write_canonical_csv(portfolio, csv_dir)
        partial_upload(portfolio, 0.10, work_dir / "weekly")
        weekly_tasks = pl.read_csv(work_dir / "weekly" / "tasks.csv").height
        print(
            f"{portfolio.tasks.height:,} tasks, {portfolio.milestones.height:,} milestones; "
            f"the weekly upload {weekly_tasks:,} tasks",
            flush=True,
        )
        rows: list[tuple[str, float, str]] = []
        notes: list[str] = []
        if args.backend in ("both", "file"):
            (work_dir / "file").mkdir()
            got = run_kind(
                FileKind(work_dir / "file"), paths, csv_dir, work_dir / "weekly", portfolio.as_of, args.repeat
            )
            rows += got[0]
            notes += got[1]
            print("embedded file timed", flush=True)
        if args.backend in ("both", "shared"):
            with running_server() as server:
                got = run_kind(
                    SharedKind(server, work_dir / "shared"),
                    paths,
                    csv_dir,
                    work_dir / "weekly",
                    portfolio.as_of,
                    args.repeat,
                )
            rows += got[0]
            notes += got[1]
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    print_table(rows)
    for line in notes:
        print(line)
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
