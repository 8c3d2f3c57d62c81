"""Copy benchmark: ``copy`` of a whole store into a new file, against DuckDB's own copy of a database.

The store holds a full snapshot of the large canonical upload of ``bench_ingest`` (1M
tasks, 200k milestones at ``--scale 1``) and a weekly partial upload (10% of the projects)
on top, so two snapshots. Measured, taking turns (medians, wall time, one run each per round):

- ``copy``: :func:`kpi_engine.store.copy.copy_database` into a fresh file (open both
  stores, stream every table, commit, close);
- the floor: plain DuckDB ``ATTACH`` of both files and ``COPY FROM DATABASE src TO dst``
  (every table and sequence at once, no checks).

Run with ``python -m bench.bench_copy [--scale 1.0] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import duckdb

from bench.bench_ingest import UPLOAD_LIMIT_MB, full_ingest, partial_upload, write_canonical_csv
from bench.common import interleaved_medians, peak_rss_mb, print_table
from bench.portfolio_gen import generate_portfolio
from kpi_engine.ingest import read_upload
from kpi_engine.store import Store
from kpi_engine.store.copy import copy_database


def build_store(scale: float, work_dir: Path) -> Path:
    """A database file with the full snapshot and a weekly partial upload on top."""
    portfolio = generate_portfolio(milestones=int(200_000 * scale), tasks_per_milestone=5, seed=1)
    csv_dir = work_dir / "canonical"
    write_canonical_csv(portfolio, csv_dir)
    db = work_dir / "source.duckdb"
    full_ingest(csv_dir, db, portfolio.as_of)
    files = partial_upload(portfolio, 0.1, work_dir / "weekly")
    with Store.open(db) as store:
        store.ingest(read_upload(files), portfolio.as_of + timedelta(days=7), sources=files)
    return db


def duckdb_copy(source: Path, target: Path) -> None:
    """The floor: DuckDB copies every table of one file into another."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        con.execute(f"ATTACH '{target}' AS dst")
        con.execute("COPY FROM DATABASE src TO dst")
    finally:
        con.close()


def run(scale: float, repeat: int, work_dir: Path) -> list[tuple[str, float, str]]:
    """Build the store under ``work_dir``, time both copies and return the table rows."""
    source = build_store(scale, work_dir)
    megabytes = source.stat().st_size / 1e6
    ours, floor = work_dir / "copy.duckdb", work_dir / "floor.duckdb"

    def fresh(path: Path) -> None:
        for file in (path, path.with_name(path.name + ".wal")):
            file.unlink(missing_ok=True)

    medians = interleaved_medians(
        {
            "copy": (lambda: fresh(ours), lambda: copy_database(source, ours)),
            "floor": (lambda: fresh(floor), lambda: duckdb_copy(source, floor)),
        },
        repeat=repeat,
    )
    with Store.open(source) as a, Store.open(ours) as b:
        assert a.snapshots().drop("created_at").equals(b.snapshots().drop("created_at"))
    ratio = medians["copy"] / medians["floor"]
    return [
        (f"copy (2 snapshots, source file {megabytes:.0f} MB)", medians["copy"], f"{ratio:.2f}x the floor"),
        ("floor: DuckDB COPY FROM DATABASE", medians["floor"], f"peak RSS {peak_rss_mb():,.0f} MB"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 200k milestones and 1M tasks")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["KPI_MAX_UPLOAD_MB"] = UPLOAD_LIMIT_MB
    work_dir = Path(tempfile.mkdtemp(prefix="bench_copy_"))
    try:
        rows = run(args.scale, args.repeat, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    print_table(rows)


if __name__ == "__main__":
    main()
