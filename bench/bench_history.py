"""Weekly uploads, week after week: does a weekly upload or a read grow with history?

A full upload (``bench_ingest``'s portfolio: 1M tasks and 200k milestones at ``--scale 1``)
is stored, then ``--weeks`` weekly uploads, each the milestones and tasks of a different
10% of the projects a week later. After each, the weekly ``store.ingest``, a
``Store.load_portfolio()`` of the latest snapshot (median of 3) and the bytes the store
grew by since the full upload are printed. The baseline is the first week, measured in the
same run: a store whose time grew with history would show later weeks ever slower than it.
The file is checkpointed after each week (DuckDB would otherwise do it inside every second
commit), so that each week's time is its own.

Figures, ``--scale 1`` (2026-12-07, load average 0.8-3.0; the first week is the baseline):

==================================  ==========================  ==========================
measured                            embedded file (13:07 UTC,   shared store (13:08 UTC,
                                    14 weeks)                   13 weeks)
==================================  ==========================  ==========================
weekly ``store.ingest``, week 1     461 ms                      902 ms
the same, weeks 2-11                461-917 ms, rising          922-1,458 ms, rising
week 12 (the chain folded)          3,537 ms                    3,380 ms
weeks 13-14                         602, 620 ms                 1,044 ms
``load_portfolio``, week 1          507 ms                      876 ms
the same, week 11 / after the fold  684 / 597-642 ms            1,120 / 922-932 ms
bytes since the full upload         0.11x the full one's after  0.08x after week 1, 0.92x
                                    week 1, 1.02x after week    after week 11, 1.46x after
                                    11, 1.46x after the fold,   the fold, 1.54x after
                                    1.53x after week 14         week 13
==================================  ==========================  ==========================

Week 12 folds the chain (:mod:`kpi_engine.store.consolidation`): by then it held as many
removed milestone and task rows as live ones; that upload copies what it carries and takes
about the time of a full upload, and the weeks after it start again near the first week's
time. Before folding existed, the same steps (in-process timing, with DuckDB's own
checkpoints inside every second commit) took the file's weekly upload from 458 ms in week 1
to 968-1,245 ms in weeks 12-15 and the read from 451 to 640 ms, still rising.

Run with ``python -m bench.bench_history [--scale 1] [--weeks 14] [--backend file|shared]``;
the shared store needs Debian's ``postgresql`` package.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from bench.bench_backends import FileKind, Kind, SharedKind, load_average
from bench.bench_ingest import UPLOAD_LIMIT_MB, partial_upload, write_canonical_csv
from bench.portfolio_gen import generate_portfolio
from kpi_engine.ingest import read_paths, read_upload
from kpi_engine.store import Store
from tests.pg_server import running_server


@contextlib.contextmanager
def backend(name: str, folder: Path) -> Iterator[Kind]:
    """The store kind to time: an embedded file, or a shared store on a PostgreSQL server started here."""
    if name == "file":
        yield FileKind(folder)
        return
    with running_server() as server:
        yield SharedKind(server, folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 200k milestones and 1M tasks")
    parser.add_argument("--weeks", type=int, default=14)
    parser.add_argument("--backend", choices=("file", "shared"), default="file")
    args = parser.parse_args()
    os.environ["KPI_MAX_UPLOAD_MB"] = UPLOAD_LIMIT_MB
    work = Path(tempfile.mkdtemp(prefix="bench_history_"))
    try:
        print(f"load average at the start: {load_average()}", flush=True)
        portfolio = generate_portfolio(milestones=int(200_000 * args.scale), tasks_per_milestone=5, seed=1)
        paths = write_canonical_csv(portfolio, work / "canonical")
        weekly = [partial_upload(portfolio, 0.10, work / f"week_{w}", seed=w) for w in range(args.weeks)]
        with backend(args.backend, work) as kind:
            db = kind.fresh()
            files = read_paths([paths["tasks"].parent])
            with Store.open(db) as store:
                store.ingest(read_upload(files), portfolio.as_of, sources=files)
            full_bytes = kind.size(db)
            with Store.open(db) as store:
                for week, week_files in enumerate(weekly, start=1):
                    upload = read_upload(week_files)
                    start = time.perf_counter()
                    store.ingest(upload, portfolio.as_of + timedelta(weeks=week), sources=week_files)
                    ingest = time.perf_counter() - start
                    if args.backend == "file":
                        with store._db.cursor() as cur:
                            cur.execute("CHECKPOINT")
                    loads = []
                    for _ in range(3):
                        start = time.perf_counter()
                        store.load_portfolio()
                        loads.append(time.perf_counter() - start)
                    grown = (kind.size(db) - full_bytes) / full_bytes
                    print(
                        f"week {week:3d}: weekly store.ingest {ingest * 1000:7.0f} ms; "
                        f"load_portfolio {statistics.median(loads) * 1000:6.0f} ms; "
                        f"bytes since the full upload {grown:.2f}x the full one's",
                        flush=True,
                    )
        print(f"load average at the end: {load_average()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
