"""``copy`` across the two backends: a file into an empty shared store and back into a new file.

Every read the CLI gives (exceptions, KPIs, snapshots, ...), the figures of every
snapshot and the bytes of every stored file must be the same at each step, and the file
that comes back holds every table row for row. The shared store runs on a real PostgreSQL
server (tests/pg_server.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_copy import _ok, contents, reads

from kpi_engine.store import Store

pytestmark = pytest.mark.slow


def _fill(path: Path) -> None:
    """The sample's weeks, changed settings, a scenario and a decision."""
    from kpi_engine.sample import load_sample

    with Store.open(path) as store:
        load_sample(store)
        store.save_scenario("Routing slips two weeks", {"slips": [["M1", 14]]}, store.latest_snapshot_id(), "Ana")
    db = str(path)
    _ok("settings", "--db", db, "--set", "amber_days=3", "--set", "pmo_email=pmo@fleet.example")
    (item, *_) = json.loads(_ok("exceptions", "--db", db, "--format", "json"))
    kpi = ["--kpi", item["kpi_id"]] if item["kpi_id"] else []
    _ok("decide", "--db", db, "--milestone", item["milestone_id"], *kpi, "--by", "Dana Whitfield",
        "--decision", "recover", "--due", "2026-07-31", "--note", "vendor call on Monday")  # fmt: skip


def test_a_file_copied_into_a_shared_store_and_back_reads_the_same(
    shared_store_url: str, tmp_path: Path, capsys
) -> None:
    source = tmp_path / "source.duckdb"
    _fill(source)
    expected = reads(str(source))
    assert len(json.loads(expected["snapshots --format json"])) == 8  # type: ignore[arg-type]
    assert expected["bytes"] and len(expected["scenarios"]) == 1  # type: ignore[arg-type]

    out = _ok("copy", "--from", str(source), "--to", shared_store_url)
    assert out.startswith("Copied 8 snapshot(s)")
    shared = reads(shared_store_url)
    for key, value in expected.items():
        assert shared[key] == value, key

    back = tmp_path / "back.duckdb"
    _ok("copy", "--from", shared_store_url, "--to", str(back))
    again = reads(str(back))
    assert list(again) == list(expected)
    for key, value in expected.items():
        assert again[key] == value, key
    # and the file that came back holds every table row for row, the per-upload tables of bytes too
    before, after = contents(source), contents(back)
    assert any(table.startswith("file_data_") for table in before)
    assert set(after) == set(before)
    for table, rows in before.items():
        assert after[table] == rows, table
