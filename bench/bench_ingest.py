"""Ingest benchmark: reading uploads and storing snapshots, against same-run floors.

Measures (medians, in one run because this machine is shared and noisy):

1. A large canonical CSV upload (1M tasks, 200k milestones and the matching projects,
   KPIs, links and dependencies, one CSV per table written by Polars): parsing and
   validating it (``read_upload(read_paths([folder]))``) and the full ingest into a fresh
   DuckDB file through :class:`kpi_engine.store.Store`, against the floor of plain DuckDB
   ``CREATE TABLE t AS SELECT * FROM read_csv('file')`` for each of the same files into a
   fresh database. The aim: the full ingest within 1.5x of that floor.
2. A 100k-row x 14-column workbook (a tasks sheet with extra columns): our reader
   (``read_upload`` on the workbook, which also validates) against openpyxl read-only
   iterating every row, with the raw calamine read (``polars.read_excel``) and the safety
   scan that runs before calamine opens a workbook
   (:func:`~kpi_engine.ingest.archive.inspect_zip_workbook`) as references.
   The aim: at least 15x faster than openpyxl. These five take turns, one run of each per
   round (``--part workbook`` times this part alone).
3. A partial weekly upload (the milestones and tasks of 10% of the projects) stored into a
   database already holding the full snapshot: ``store.ingest`` alone, i.e. merging the
   upload and carrying the other 90% of the rows forward (by reference, not by copy), and
   the growth of the database file it causes against the size of a file holding the full
   upload alone. The aim: about 10% of the full upload in time and in bytes. A fifth of the
   uploaded forecasts move later by up to the week between the two snapshots, so the
   schedule passes on the base's bound (:mod:`kpi_engine.store.schedule_check`); the same
   projects with forecasts slipping 8-30 days are timed too, as the schedule is then
   checked whole. Two floors in the same rounds say how far the weekly upload can fall:
   the same rows stored as the first snapshot of an empty file (what storing them costs
   with no base: the INSERTs, the bytes of the files, the commit) and one plain DuckDB
   pass over the base's 1M task rows for those the upload names (the least a merge reads
   of the base; there is no index that would find them without it).

Profile of part 1 (py-spy, ``store.ingest`` of the full upload, 3 runs): 63% the INSERTs of
the uploaded rows, 12% keeping the files' bytes, 9% the warnings for dangling ids, 6% the
schedule check. The INSERTs ran on one core, as DuckDB scans an Arrow table a batch per
thread and a frame arrived in one batch (1M task rows 1.15 s; 0.55 s in row-group batches,
:data:`kpi_engine.store.backends.ARROW_BATCH_ROWS`); the bytes were copied into a query
parameter (a 60 MB file 0.2-0.4 s; 0.12 s as an Arrow view). ``store.ingest`` alone went
from 3.1 s to 2.1-2.3 s.

Profile of part 3, 2026-12-07 evening (statements timed one by one, 5 runs, load average 1-2;
``store.ingest`` 255 ms in-process): the pass over the base's tasks keeping aside the rows
it removes 69-75 ms, the commit 51 ms (a 19 MB write-ahead log: the 100k task rows, the
20k milestone rows and the files' 7 MB), storing the uploaded tasks 26-30 ms and milestones
11 ms, the pass over the base's milestones 21 ms, the files' bytes 8-9 ms, the base's
schedule terms (read from the rows kept aside) 9 ms, the references 5 ms, about 30 small
queries and Polars steps the rest. ``bench_ingest --part csv --scale 1 --repeat 3``: 295.4 /
1,387.3 ms = 0.21x the full upload's ``store.ingest``; the floors 0.08x (the same rows into
an empty file, 114.5 ms) and 0.03x (one pass over the base's tasks, 38.2 ms). Before the rows
were kept aside the checks after the merge found them again in every row of the base: the
schedule terms 30-39 ms, the removed milestones, the changes and the scope's milestones
another 20-30 ms (0.24x, 314.5 / 1,294.6 ms, the run before).

Earlier profile of part 3 (``store.ingest`` of the weekly upload timed step by step, 4 runs, medians,
load average 7-11; about 0.9-1.0 s in all): the merge 0.34 s (of which 0.22 s the removals of
the tasks: three joins over the base's 1M task rows, for the same key, the milestones in
scope and the milestones the new snapshot lacks), the schedule check 0.24 s (the named
milestones' rows and their tasks' latest open forecast, read in the base and in the new
snapshot), the changes 0.13 s, registering the upload and its scope 0.07 s, the dangling
warnings 0.05 s, the files 0.03 s, the removed milestones 0.02 s. Before this, the checks on
the whole merged snapshot took more than half of the time (the schedule check 38%, the
dangling warnings 17%) and the removals scanned every base row once per condition.

Profile of part 2 (py-spy, 3 calls of ``read_upload`` on the 100k x 14 workbook, load average
about 9): the safety scan 52% of the samples (of which unpacking and checksums about a quarter,
the numpy passes over the tags the rest), calamine 43% (``load_sheet`` 27%, ``to_arrow`` 14%,
opening 2%), cleaning the text cells 3%, converting and validating the 6 mapped columns 2%;
hashing the file runs alongside in a thread. Validation is not where the time goes: reading
typed cells instead of text would save at most calamine's text conversion (text 759 ms
against typed 569 ms CPU in one process), and calamine's typed read alone is about the 15x
aim. A reader of the cells in numpy, fed by the scan's own pieces and tag positions so that
the workbook is unpacked once (it gave the same cells as calamine on 300 random workbooks
from xlsxwriter and openpyxl), measured slower than calamine: about 100 array operations over
the 1.4M cells, each a pass through memory, took 1.0 s of CPU more than the scan alone
(1.62 s against 0.60 s; calamine's typed read 0.77 s in the same runs, load average about 20),
so it was not kept.

Generated files go to a temporary folder removed at the end (``--keep DIR`` keeps them).
Run with ``python -m bench.bench_ingest [--scale 1.0] [--repeat 3] [--part all|csv|workbook]``
(``csv``: parts 1 and 3 alone).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from bench.common import interleaved_medians, print_table
from bench.portfolio_gen import AS_OF, generate_portfolio
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.ingest import ParsedUpload, SourceFile, read_paths, read_upload
from kpi_engine.ingest.archive import inspect_zip_workbook
from kpi_engine.store import Store

#: tasks.csv is about 58 MB at full size, over the dashboard's 50 MB limit for one file
#: (the CLI raises it with --max-upload-mb); the limit is read from here when used.
UPLOAD_LIMIT_MB = "4096"


class StoreRuns:
    """Stores an upload into ``db`` (open, ingest, close), recording ``store.ingest`` alone too.

    Closing writes the checkpoint (the new rows, compressed, into the database file), so
    the whole run is what a user of the CLI waits for.
    """

    def __init__(self, db: Path | str, upload: ParsedUpload, files: list[SourceFile], as_of: date) -> None:
        self.db, self.upload, self.files, self.as_of = db, upload, files, as_of
        self.ingest_times: list[float] = []

    def __call__(self) -> None:
        with Store.open(self.db) as store:
            start = time.perf_counter()
            store.ingest(self.upload, self.as_of, sources=self.files)
            self.ingest_times.append(time.perf_counter() - start)

    def median_ingest(self, warmup: int = 1) -> float:
        """Median time of ``store.ingest`` alone, leaving out the first ``warmup`` runs."""
        return statistics.median(self.ingest_times[warmup:])


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


# ---------------------------------------------------------------------- 1. canonical CSV


def write_canonical_csv(portfolio: Portfolio, folder: Path) -> dict[str, Path]:
    """Write one canonical CSV per table (``milestones.csv``, ``tasks.csv``, ...) with Polars."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for table, frame in portfolio.tables().items():
        path = folder / f"{table}.csv"
        frame.write_csv(path)
        paths[table] = path
    return paths


def duckdb_floor(paths: dict[str, Path], db: Path) -> None:
    """Plain DuckDB: ``CREATE TABLE t AS SELECT * FROM read_csv(file)`` for every file, fresh database."""
    import duckdb

    con = duckdb.connect(str(db))
    try:
        for table, path in paths.items():
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}')")
    finally:
        con.close()


def full_ingest(folder: Path, db: Path, as_of: date) -> None:
    """What ``kpi ingest FOLDER`` does: read, validate and store a snapshot in a fresh database file."""
    files = read_paths([folder])
    upload = read_upload(files)
    with Store.open(db) as store:
        store.ingest(upload, as_of, sources=files)


# ---------------------------------------------------------------------- 2. workbook


def tasks_sheet(rows: int, seed: int = 0) -> pl.DataFrame:
    """A tasks-like sheet of ``rows`` x 14 columns: the 6 canonical ones and 8 extra ones."""
    rng = np.random.default_rng(seed)
    base = (AS_OF - date(1970, 1, 1)).days
    finish = rng.integers(-200, 300, rows) + base
    done = rng.random(rows) < 0.4

    def day(offsets: np.ndarray) -> pl.Series:
        return pl.Series(offsets.astype(np.int64)).cast(pl.Int32).cast(pl.Date)

    idx = pl.int_range(1, rows + 1, eager=True)
    return pl.DataFrame(
        {
            "task_id": "T-" + idx.cast(pl.String).str.zfill(7),
            "milestone_id": "M-" + (idx // 5 + 1).cast(pl.String).str.zfill(6),
            "name": "Task " + idx.cast(pl.String),
            "owner": pl.Series(rng.choice(np.array([f"Person {i}" for i in range(400)]), rows)),
            "forecast_finish": day(finish),
            "actual_finish": pl.select(pl.when(pl.Series(done)).then(day(np.minimum(finish, base - 1)))).to_series(),
            "start": day(finish - rng.integers(5, 60, rows)),
            "effort_hours": rng.uniform(1, 400, rows).round(1),
            "cost": rng.uniform(100, 250_000, rows).round(2),
            "percent_complete": rng.integers(0, 101, rows),
            "priority": pl.Series(rng.choice(np.array(["Low", "Medium", "High", "Critical"]), rows)),
            "team": pl.Series(rng.choice(np.array([f"Team {i}" for i in range(40)]), rows)),
            "estimate_days": rng.integers(1, 90, rows),
            "notes": pl.Series(
                rng.choice(np.array(["", "waiting on vendor", "needs review", "on hold since May"]), rows)
            ).replace("", None),
        }
    )


def write_workbook(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` as sheet ``tasks`` with xlsxwriter (dates as real Excel dates)."""
    frame.write_excel(path, worksheet="tasks", autofit=False, dtype_formats={pl.Date: "yyyy-mm-dd"})


def openpyxl_read_only(path: Path) -> int:
    """openpyxl read-only, iterating every row's values: the usual Python way to read a sheet."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        n = 0
        for _ in book.worksheets[0].iter_rows(values_only=True):
            n += 1
        return n
    finally:
        book.close()


# ---------------------------------------------------------------------- 3. partial upload


def partial_upload(
    portfolio: Portfolio, share: float, folder: Path, seed: int = 0, moves: tuple[int, int] = (0, 8)
) -> list[SourceFile]:
    """Milestones and tasks of ``share`` of the projects, a fifth of the forecasts moved, as canonical CSVs.

    A moved forecast moves later by ``moves[0]`` to ``moves[1] - 1`` days (default: at most the week).
    """
    rng = np.random.default_rng(seed)
    projects = portfolio.projects["project_id"]
    chosen = projects.gather(np.sort(rng.choice(projects.len(), max(1, int(projects.len() * share)), replace=False)))
    milestones = portfolio.milestones.filter(pl.col("project_id").is_in(chosen.implode()))
    tasks = portfolio.tasks.filter(pl.col("milestone_id").is_in(milestones["milestone_id"].implode()))
    # a week later: some forecasts move, so the upload is not identical to what is stored
    moved = pl.Series(rng.integers(*moves, milestones.height) * (rng.random(milestones.height) < 0.2))
    milestones = milestones.with_columns(pl.col("forecast_finish") + pl.duration(days=pl.lit(moved)))
    folder.mkdir(parents=True, exist_ok=True)
    milestones.write_csv(folder / "milestones.csv")
    tasks.write_csv(folder / "tasks.csv")
    return read_paths([folder])


def alone(weekly: ParsedUpload, full: ParsedUpload) -> ParsedUpload:
    """The weekly upload with the projects it names: what stores its rows as the first snapshot of an empty file."""
    named = weekly.tables["milestones"].select("project_id").unique()
    projects = full.tables["projects"].join(named, on="project_id", how="semi")
    return ParsedUpload(tables={**weekly.tables, "projects": projects}, files=weekly.files, warnings=[])


class BasePass:
    """The least a merge reads of the base: one pass over its task rows for those the weekly upload replaces.

    Plain DuckDB on the database file holding the full snapshot (opened before, read only):
    the task rows whose id or milestone the upload names, counted. Every base row is read
    once; there is no index that would find them without that pass.
    """

    def __init__(self, db: Path, weekly: ParsedUpload) -> None:
        import duckdb

        self.con = duckdb.connect(str(db), read_only=True)
        self.con.register("weekly_tasks", weekly.tables["tasks"].select("task_id").to_arrow())
        self.con.register("weekly_milestones", weekly.tables["milestones"].select("milestone_id").to_arrow())
        self.replaced = 0

    def __call__(self) -> None:
        self.replaced = self.con.execute(
            "SELECT count(*) FROM tasks t WHERE t.task_id IN (SELECT task_id FROM weekly_tasks) "
            "OR t.milestone_id IN (SELECT milestone_id FROM weekly_milestones)"
        ).fetchall()[0][0]

    def close(self) -> None:
        self.con.close()


# ---------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0 = 200k milestones and 1M tasks; 100k workbook rows"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--part",
        choices=("all", "csv", "workbook"),
        default="all",
        help="'workbook': only part 2 (the workbook read); 'csv': parts 1 and 3",
    )
    parser.add_argument("--keep", type=Path, default=None, help="write the generated files here and keep them")
    args = parser.parse_args()
    os.environ["KPI_MAX_UPLOAD_MB"] = UPLOAD_LIMIT_MB
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        work_dir = args.keep
    else:
        work_dir = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        if args.part == "workbook":
            rows = workbook_rows(args.scale, args.repeat, work_dir)
        else:
            rows = run(args.scale, args.repeat, work_dir, workbook=args.part == "all")
    finally:
        if args.keep is None:
            shutil.rmtree(work_dir, ignore_errors=True)
    print_table(rows)


def run(scale: float, repeat: int, work_dir: Path, workbook: bool = True) -> list[tuple[str, float, str]]:
    """Build the inputs under ``work_dir``, time everything and return the table rows."""
    n_milestones = int(200_000 * scale)
    portfolio = generate_portfolio(milestones=n_milestones, tasks_per_milestone=5, seed=1)
    sizes = {t: f.height for t, f in portfolio.tables().items()}
    csv_dir = work_dir / "canonical"
    paths = write_canonical_csv(portfolio, csv_dir)
    megabytes = sum(p.stat().st_size for p in paths.values()) / 1e6
    print(
        f"canonical CSV: {megabytes:,.0f} MB; " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()),
        flush=True,
    )
    db = work_dir / "bench.duckdb"
    floor_db = work_dir / "floor.duckdb"
    full_db = work_dir / "full.duckdb"  # the full snapshot that the weekly upload goes into
    weekly_db = work_dir / "weekly.duckdb"
    as_of = portfolio.as_of
    week_later = as_of + timedelta(days=7)

    files = read_paths([csv_dir])
    upload = read_upload(files)
    full_ingest(csv_dir, full_db, as_of)
    with Store.open(full_db) as check:
        assert check.snapshots()["rows"].to_list() == [sizes], "the full snapshot is not complete"
    # 3. the milestones and tasks of 10% of the projects, a week later
    weekly_files = partial_upload(portfolio, 0.10, work_dir / "weekly")
    weekly = read_upload(weekly_files)
    weekly_rows = {t: f.height for t, f in weekly.tables.items()}
    # the same projects with forecasts slipping 8-30 days: more than the week, so the whole schedule is checked
    slipped_files = partial_upload(portfolio, 0.10, work_dir / "slipped", moves=(8, 31))
    slipped = read_upload(slipped_files)

    def restore() -> None:
        _remove(weekly_db)
        shutil.copyfile(full_db, weekly_db)

    restore()
    with Store.open(weekly_db) as check:
        result = check.ingest(weekly, week_later, sources=weekly_files)
    assert result.previous_snapshot_id == 1 and result.rows == sizes, (result.previous_snapshot_id, result.rows)
    # bytes: the file holding the full upload alone, and what the weekly upload adds to it
    full_bytes = full_db.stat().st_size
    weekly_growth = weekly_db.stat().st_size - full_bytes

    store_runs = StoreRuns(db, upload, files, as_of)
    weekly_runs = StoreRuns(weekly_db, weekly, weekly_files, week_later)
    slipped_runs = StoreRuns(weekly_db, slipped, slipped_files, week_later)
    alone_runs = StoreRuns(db, alone(weekly, upload), weekly_files, week_later)
    base_pass = BasePass(full_db, weekly)
    medians = interleaved_medians(
        {
            "floor": (lambda: _remove(floor_db), lambda: duckdb_floor(paths, floor_db)),
            "parse": (lambda: None, lambda: read_upload(read_paths([csv_dir]))),
            "store": (lambda: _remove(db), store_runs),
            "full": (lambda: _remove(db), lambda: full_ingest(csv_dir, db, as_of)),
            "weekly_parse": (lambda: None, lambda: read_upload(weekly_files)),
            "weekly_store": (restore, weekly_runs),
            "slipped_store": (restore, slipped_runs),
            "alone_store": (lambda: _remove(db), alone_runs),
            "base_pass": (lambda: None, base_pass),
        },
        repeat,
    )
    base_pass.close()
    assert base_pass.replaced == weekly_rows["tasks"], (base_pass.replaced, weekly_rows)
    floor, parse, full = medians["floor"], medians["parse"], medians["full"]
    store_closed, store = medians["store"], store_runs.median_ingest()
    weekly_parse, weekly_closed = medians["weekly_parse"], medians["weekly_store"]
    weekly_store = weekly_runs.median_ingest()
    slipped_store = slipped_runs.median_ingest()
    alone_store, pass_time = alone_runs.median_ingest(), medians["base_pass"]
    for path in (db, floor_db, full_db, weekly_db):
        _remove(path)
    print("CSV ingest and weekly upload timed", flush=True)

    # 2. workbook ---------------------------------------------------------------------
    book_rows = workbook_rows(scale, repeat, work_dir) if workbook else []

    n_tasks, n_ms = sizes["tasks"], sizes["milestones"]
    print(
        f"1: {n_tasks:,} tasks, {n_ms:,} milestones, {megabytes:,.0f} MB of CSV; "
        f"3: {weekly_rows.get('milestones', 0):,} milestones + {weekly_rows.get('tasks', 0):,} tasks",
    )
    print(
        f"3 bytes: the database file holding the full upload {full_bytes / 1e6:,.1f} MB; the weekly upload "
        f"adds {weekly_growth / 1e6:,.1f} MB = {weekly_growth / full_bytes:.2f}x (aim ~0.1x)"
    )
    return [
        ("1 floor: duckdb CREATE TABLE AS read_csv, each file", floor, "= 1.0x"),
        ("1a read_upload(read_paths): parse + validate", parse, f"{parse / floor:.2f}x the floor"),
        ("1b full ingest: 1a + Store.open, store.ingest, close", full, f"{full / floor:.2f}x the floor (aim <= 1.5x)"),
        (
            "1  store only (upload parsed before): open, ingest, close",
            store_closed,
            f"{store_closed / floor:.2f}x the floor",
        ),
        ("1  store only: store.ingest alone", store, f"{store / floor:.2f}x the floor"),
        ("3 read_upload of the weekly files", weekly_parse, ""),
        (
            "3 store.ingest into the full snapshot (carry-forward)",
            weekly_store,
            f"{weekly_store / store:.2f}x the full upload's store.ingest",
        ),
        ("3 same with Store.open + close", weekly_closed, f"{weekly_closed / store_closed:.2f}x the full upload's"),
        (
            "3 store.ingest, forecasts slipped 8-30 days (whole schedule checked)",
            slipped_store,
            f"{slipped_store / store:.2f}x the full upload's store.ingest",
        ),
        (
            "3 floor: store.ingest of the same rows into an empty file",
            alone_store,
            f"{alone_store / store:.2f}x the full upload's: storing the rows, no base",
        ),
        (
            "3 floor: one pass over the base's tasks (plain DuckDB)",
            pass_time,
            f"{pass_time / store:.2f}x; with the row above {(alone_store + pass_time) / store:.2f}x the full upload's",
        ),
        *book_rows,
    ]


def _nothing() -> None:
    """No setup needed."""


def workbook_rows(scale: float, repeat: int, work_dir: Path) -> list[tuple[str, float, str]]:
    """Part 2: the workbook read, openpyxl and the references taking turns (one run of each per round)."""
    n_rows = int(100_000 * scale)
    sheet = tasks_sheet(n_rows)
    xlsx = work_dir / "tasks.xlsx"
    write_workbook(sheet, xlsx)
    book = [SourceFile(xlsx.name, xlsx.read_bytes())]
    parsed = read_upload(book)
    assert parsed.tables["tasks"].height == n_rows, parsed.tables["tasks"].height
    # openpyxl takes ~25 s a pass at full size: no warm-up round (the file is in the page cache)
    assert openpyxl_read_only(xlsx) == n_rows + 1
    medians = interleaved_medians(
        {
            "openpyxl": (_nothing, lambda: openpyxl_read_only(xlsx)),
            "ours": (_nothing, lambda: read_upload(book)),
            "calamine": (_nothing, lambda: pl.read_excel(xlsx, sheet_name="tasks", engine="calamine")),
            "calamine_text": (
                _nothing,
                lambda: pl.read_excel(xlsx, sheet_name="tasks", engine="calamine", read_options={"dtypes": "string"}),
            ),
            "scan": (_nothing, lambda: inspect_zip_workbook(book[0])),
        },
        repeat,
        warmup=0,
    )
    openpyxl_time, ours, calamine = medians["openpyxl"], medians["ours"], medians["calamine"]
    calamine_text, scan = medians["calamine_text"], medians["scan"]
    print(f"2: {n_rows:,} rows x {sheet.width} columns, {xlsx.stat().st_size / 1e6:.1f} MB", flush=True)
    return [
        ("2 openpyxl read-only, values_only, every row", openpyxl_time, "= 1.0x"),
        (
            "2 read_upload on the workbook (read + validate)",
            ours,
            f"{openpyxl_time / ours:.1f}x faster than openpyxl (aim >= 15x)",
        ),
        (
            "2 reference: polars.read_excel (calamine, typed)",
            calamine,
            f"{openpyxl_time / calamine:.1f}x faster than openpyxl",
        ),
        (
            "2 reference: calamine, every cell as text",
            calamine_text,
            f"{openpyxl_time / calamine_text:.1f}x faster than openpyxl",
        ),
        (
            "2 part of ours: the safety scan before calamine opens it",
            scan,
            f"{scan / ours:.0%} of read_upload on the workbook",
        ),
    ]


if __name__ == "__main__":
    main()
