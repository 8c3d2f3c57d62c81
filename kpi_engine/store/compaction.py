"""Compacting a shared store: fewer, larger data files and a smaller catalog (``python -m kpi_engine compact``).

Every write to a shared store adds a Parquet file to each table it writes, however few its
rows (a decision, a saved setting, the ``writes`` counter), and a DuckLake snapshot to the
catalog. Over months that is thousands of files of a row or two: reading a small table
opens every one of them, and each write scans the catalog's growing list of files.
``bench/bench_compaction.py`` records 600 decisions one by one: reading them then took
70-75 ms and 10.6-10.9 ms after compacting, a write 67-70 ms before and 62-64 ms after
(45 ms on the new store; see ``docs/shared-store.md``). Compacting runs three DuckLake
steps, each in its own transaction (a transaction that compacts may change nothing else):

1. merge each table's small files into larger ones (``ducklake_merge_adjacent_files``): the
   stored rows and every snapshot of this store stay exactly as they were;
2. forget DuckLake's own snapshots older than ``keep_days`` (``ducklake_expire_snapshots``):
   the store's snapshots are its own tables and do not use them;
3. delete the data files nothing has used for ``keep_days`` (``ducklake_cleanup_old_files``).

A reader that started before the compaction goes on reading the files it began with: files
are deleted only once unused for ``keep_days`` (default 1), far longer than any read. A
database file (the embedded store) keeps its own storage in one file: there is nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from kpi_engine.core.errors import InputError

if TYPE_CHECKING:
    from kpi_engine.store import Store

#: The longest wait before unused files go (ten years): anything larger is a typing slip.
MAX_KEEP_DAYS = 3650

# The shared store's DuckLake catalog is attached as "lake" (``backends.SharedStore``).
_MERGE = "CALL ducklake_merge_adjacent_files('lake')"
#: DuckLake's own snapshots older than ? days forgotten, and how many.
_EXPIRE = "SELECT count(*) FROM ducklake_expire_snapshots('lake', older_than => now() - to_days(?))"
#: Data files scheduled for deletion ? days ago or more deleted, and how many.
_CLEAN_UP = "SELECT count(*) FROM ducklake_cleanup_old_files('lake', older_than => now() - to_days(?))"


@dataclass(frozen=True)
class Compaction:
    """What one compaction did.

    Attributes
    ----------
    applies
        False for a database file, which needs no compaction (every count is then 0).
    merged_files, into_files
        Data files merged, and the files they became.
    expired_snapshots
        DuckLake snapshots older than ``keep_days`` forgotten.
    deleted_files
        Data files deleted: unused for ``keep_days`` or more.
    keep_days
        How long an unused file is kept.
    """

    applies: bool
    merged_files: int = 0
    into_files: int = 0
    expired_snapshots: int = 0
    deleted_files: int = 0
    keep_days: int = 1

    def summary(self, store_name: str) -> list[str]:
        """The result as lines a person reads."""
        if not self.applies:
            return [f"{store_name} is a database file: it keeps its storage in one file, nothing to compact."]
        if self.keep_days == 0:
            older, unused = "but the newest", "no longer used"
        else:
            days = f"{self.keep_days} day" + ("" if self.keep_days == 1 else "s")
            older, unused = f"older than {days}", f"unused for {days} or more"
        return [
            f"Compacted {store_name}:",
            f"  merged {self.merged_files:,} small data files into {self.into_files:,};",
            f"  forgot {self.expired_snapshots:,} catalog snapshots {older};",
            f"  deleted {self.deleted_files:,} data files {unused}.",
            "Every stored snapshot, file, setting and decision is as it was.",
        ]


def compact(store: Store, keep_days: int = 1) -> Compaction:
    """Merge a shared store's small data files and delete the ones unused for ``keep_days``.

    Each step runs in a transaction of its own and is tried again when another program
    commits first (:meth:`~kpi_engine.store.Store._write`). Safe while the dashboard and
    other programs read and write the store.

    Raises
    ------
    InputError
        ``keep_days`` is not a whole number of days from 0 to :data:`MAX_KEEP_DAYS`.
    WriteConflictError
        Other programs kept committing first (nothing of the unfinished step changed).
    """
    if isinstance(keep_days, bool) or not isinstance(keep_days, int) or not 0 <= keep_days <= MAX_KEEP_DAYS:
        raise InputError(f"keep days must be a whole number from 0 to {MAX_KEEP_DAYS}, not {keep_days!r}")
    if not store.backend.concurrent_writers:
        return Compaction(applies=False, keep_days=keep_days)

    def merge(cur: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
        # one row per table compacted: schema, table, files merged, files written
        rows = cur.execute(_MERGE).fetchall()
        return [(int(row[2]), int(row[3])) for row in rows]

    def count(sql: str) -> int:
        # counted in SQL: the rows hold timestamps, and fetching them needs no time zone module
        return int(store._write(lambda cur: cur.execute(sql, [keep_days]).fetchall()[0][0], ordered=False))

    merged = store._write(merge, ordered=False)
    return Compaction(
        applies=True,
        merged_files=sum(files for files, _ in merged),
        into_files=sum(written for _, written in merged),
        expired_snapshots=count(_EXPIRE),
        deleted_files=count(_CLEAN_UP),
        keep_days=keep_days,
    )
