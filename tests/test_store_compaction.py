"""Compacting a shared store (kpi_engine/store/compaction.py): fewer files, nothing stored changed.

The shared store runs on a real PostgreSQL server (tests/pg_server.py); every read the CLI
gives and every stored file's bytes are compared before and after.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from test_copy import _ok, reads
from test_copy_shared import _fill

from kpi_engine.core.errors import InputError
from kpi_engine.store import Store
from kpi_engine.store.compaction import compact

pytestmark = pytest.mark.slow


def _data_files(url: str) -> int:
    folder = Path(parse_qs(urlsplit(url).query)["data_path"][0])
    return sum(1 for _ in folder.rglob("*.parquet"))


def _decide(db: str, times: int) -> None:
    with Store.open(db) as store:
        snapshot = store.latest_snapshot_id()
        as_of = store.snapshot_as_of(snapshot)
        for i in range(times):
            decision = {"snapshot_id": snapshot, "as_of": as_of, "kind": "milestone", "milestone_id": f"M{i}"}
            store.loop_log.record_decision({**decision, "decision": "accept", "decided_by": "Dana Whitfield"})


def test_compacting_merges_the_small_files_and_every_read_stays_the_same(shared_store_url: str) -> None:
    _fill(shared_store_url)  # type: ignore[arg-type]
    _decide(shared_store_url, 25)  # a file or more per decision
    expected = reads(shared_store_url)
    files = _data_files(shared_store_url)

    out = _ok("compact", "--db", shared_store_url, "--keep-days", "0")
    assert out.startswith("Compacted postgresql://") and "merged " in out and "deleted " in out
    assert _data_files(shared_store_url) < files / 3
    after = reads(shared_store_url)
    for key, value in expected.items():
        assert after[key] == value, key
    # the store takes the next write as before and reads it back
    _decide(shared_store_url, 1)
    with Store.open(shared_store_url) as store:
        assert store.loop_log.decisions().height == 27  # 25, the one of _fill, and this one


def test_files_in_use_within_the_keep_days_are_not_deleted(shared_store_url: str) -> None:
    _fill(shared_store_url)  # type: ignore[arg-type]
    _decide(shared_store_url, 10)
    files = _data_files(shared_store_url)
    with Store.open(shared_store_url) as store:
        done = compact(store, keep_days=1)
        assert done.applies and done.merged_files > done.into_files > 0
        # merged away today: kept for a day, as a read that began before may still use them
        assert done.deleted_files == 0 and _data_files(shared_store_url) >= files
        assert store.loop_log.decisions().height == 11


def test_a_database_file_needs_no_compaction(tmp_path: Path) -> None:
    db = tmp_path / "kpi.duckdb"
    out = _ok("compact", "--db", str(db))
    assert out == f"{db} is a database file: it keeps its storage in one file, nothing to compact.\n"
    with Store.open(db) as store, pytest.raises(InputError, match="keep days must be a whole number from 0 to 3650"):
        compact(store, keep_days=-1)
