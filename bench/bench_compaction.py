"""What a shared store's many small writes cost, before and after ``compact``.

Starts a PostgreSQL server on 127.0.0.1 (as the tests do), records ``--writes`` decisions
one by one in a fresh shared store (each write adds Parquet files and a DuckLake snapshot),
then reports medians of: a write on the new store (the first 50 writes) as the floor, a
write after all of them, reading the decisions, and the same two after ``compact
--keep-days 0``, with the number of Parquet files in the data folder at each step.

Run with ``python -m bench.bench_compaction [--writes 600]``.

2026-12-07 10:22 UTC, two runs (load average 1.3-1.6): a write 45.2-45.6 ms on the new
store, 66.7-70.4 ms (1.48-1.54x) after 550 writes, 62.3-63.7 ms (1.38-1.40x) after
``compact``; reading the 600 decisions 70.5-74.9 ms, 10.6-10.9 ms after (6.6-6.9x quicker);
1,805 Parquet files, 3 after; ``compact`` itself 0.49-0.50 s. Merging alone (an earlier,
ad-hoc run) brought the read to 10 ms but left a write where it was: each write scans the
catalog's list of files (``ducklake_data_file``, ``ducklake_file_column_stats``), which
only shrinks when old DuckLake snapshots are forgotten and their files deleted. Writes on a
connection opened after compacting were a little quicker still (52 against 56 ms in an
ad-hoc run): part of what slows a write is kept by the connection itself.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.common import median_seconds, print_table
from kpi_engine.store import Store
from kpi_engine.store.compaction import compact
from tests.pg_server import running_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=600)
    args = parser.parse_args()

    with running_server() as server, tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        url = server.url(server.create_database(), lake)
        counter = iter(range(10**9))

        def files() -> str:
            return f"{sum(1 for _ in lake.rglob('*.parquet')):,} Parquet files"

        with Store.open(url) as store:

            def write() -> None:
                decision = {"snapshot_id": 1, "as_of": date(2026, 6, 1), "kind": "milestone"}
                store.loop_log.record_decision(
                    {**decision, "milestone_id": f"M{next(counter)}", "decision": "accept", "decided_by": "Ann"}
                )

            first = median_seconds(write, 50, warmup=0)
            for _ in range(args.writes - 100):
                write()
            late = median_seconds(write, 50, warmup=0)
            read = median_seconds(store.loop_log.decisions, 7, warmup=0)
            before = files()
            started = time.perf_counter()
            done = compact(store, keep_days=0)
            took = time.perf_counter() - started
            after_files = files()
            read_after = median_seconds(store.loop_log.decisions, 7, warmup=0)
            write_after = median_seconds(write, 50, warmup=0)
        print(f"{args.writes:,} decisions written one by one into a fresh shared store")
        print_table(
            [
                ("a write on the new store (first 50)", first, "floor"),
                (f"a write after {args.writes - 50:,} writes", late, f"{late / first:.2f}x the floor; {before}"),
                ("reading every decision", read, ""),
                (
                    "compact --keep-days 0",
                    took,
                    f"merged {done.merged_files:,} files into {done.into_files:,}, deleted {done.deleted_files:,}",
                ),
                ("a write after compacting", write_after, f"{write_after / first:.2f}x the floor; {after_files}"),
                ("reading every decision after compacting", read_after, f"{read / read_after:.1f}x quicker"),
            ]
        )


if __name__ == "__main__":
    main()
