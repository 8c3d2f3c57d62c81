"""Backup and restore of a database file (docs/backup.md): a copy while the app reads, a restore, older files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pytest
from builders import FLEET_DIR, make_version_1

from kpi_engine import cli
from kpi_engine.ingest import read_paths, read_upload
from kpi_engine.store import SCHEMA_VERSION, Store

REPO = Path(__file__).resolve().parents[1]
#: What a backup must answer exactly as the store it was taken from.
READS = (["snapshots", "--format", "json"], ["exceptions", "--format", "json"], ["kpis", "--format", "json"])


def _reads(db: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    out = []
    for command, *rest in READS:
        capsys.readouterr()
        assert cli.main([command, "--db", str(db), *rest]) == 0
        out.append(capsys.readouterr().out)
    return out


def _ingest(store: Store, as_of: date) -> None:
    files = read_paths(sorted(FLEET_DIR.glob("*.csv")))
    store.ingest(read_upload(files), as_of, author="pmo", sources=files)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The worked example stored twice (two weeks), with a changed setting."""
    path = tmp_path / "live" / "kpi.duckdb"
    with Store.open(path) as store:
        _ingest(store, date(2026, 6, 8))
        _ingest(store, date(2026, 6, 15))
        store.save_settings(store.settings().with_value("amber_days", 4))
    return path


def test_a_backup_taken_while_a_reader_holds_the_store_equals_it(db: Path, tmp_path: Path, capsys) -> None:
    backup = tmp_path / "backups" / "kpi-2026-06-15.duckdb"
    with Store.open(db) as reader:  # the dashboard of this process, holding the file
        listed = reader.snapshots()
        assert cli.main(["copy", "--from", str(db), "--to", str(backup)]) == 0
        assert reader.snapshots().equals(listed)  # and it reads on, undisturbed
    assert "Copied 2 snapshot(s)" in capsys.readouterr().out
    assert _reads(backup, capsys) == _reads(db, capsys)


def test_a_backup_waits_for_the_dashboard_of_another_process_to_let_go(db: Path, tmp_path: Path) -> None:
    """The app keeps the file between reruns and lets it go when idle; the backup waits for that."""
    script = f"""
        import sys
        from kpi_engine.store import Store
        store = Store.open({str(db)!r}, idle_release=1.0)
        print(len(store.snapshot_ids()), flush=True)
        sys.stdin.readline()
        print(len(store.snapshot_ids()), flush=True)  # it opens the file again and reads on
        store.close()
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    app = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert app.stdin is not None and app.stdout is not None
    try:
        assert app.stdout.readline().strip() == "2"
        backup = tmp_path / "backup.duckdb"
        done = subprocess.run(
            [sys.executable, "-m", "kpi_engine", "copy", "--from", str(db), "--to", str(backup)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**env, "KPI_DB_BUSY_TIMEOUT": "60"},
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"Copied 2 snapshot(s) and everything stored with them from {db} to {backup}.")
        app.stdin.write("\n")
        app.stdin.flush()
        assert app.stdout.readline().strip() == "2"
    finally:
        app.stdin.close()
        assert app.wait(timeout=60) == 0
    with Store.open(backup) as store:
        assert store.settings().amber_days == 4


def test_restore_copies_a_backup_into_an_empty_file_that_then_takes_new_weeks(db: Path, tmp_path: Path, capsys) -> None:
    backup, restored = tmp_path / "backup.duckdb", tmp_path / "restored" / "kpi.duckdb"
    assert cli.main(["copy", "--from", str(db), "--to", str(backup)]) == 0
    assert cli.main(["copy", "--from", str(backup), "--to", str(restored)]) == 0
    assert _reads(restored, capsys) == _reads(db, capsys)
    with Store.open(restored) as store:
        _ingest(store, date(2026, 6, 22))
        assert store.snapshot_ids() == [1, 2, 3]
    # restoring over a store that holds data is refused: the backup never overwrites
    assert cli.main(["copy", "--from", str(backup), "--to", str(restored)]) == 1
    assert "already holds data" in capsys.readouterr().err


def test_a_file_copied_while_no_program_has_it_open_is_a_backup(db: Path, tmp_path: Path, capsys) -> None:
    copied = tmp_path / "plain-copy.duckdb"
    shutil.copyfile(db, copied)  # every Store on db is closed: the file holds everything
    assert not db.with_name(db.name + ".wal").exists()
    assert _reads(copied, capsys) == _reads(db, capsys)


def test_a_file_written_by_schema_version_1_opens_and_copies(tmp_path: Path, capsys) -> None:
    old = tmp_path / "old.duckdb"
    with Store.open(old) as store:
        _ingest(store, date(2026, 6, 15))
        tasks = tmp_path / "tasks.csv"  # a second upload of that week: version 2 once migrated
        tasks.write_text(
            "task_id,milestone_id,name,owner,forecast_finish,actual_finish\nT1,M1,API,Kofi Mensah,2026-09-28,\n"
        )
        store.ingest(read_upload(read_paths([tasks])), date(2026, 6, 15))
        store.save_settings(store.settings().with_value("amber_days", 4))
    make_version_1(old)
    target = tmp_path / "new.duckdb"
    assert cli.main(["copy", "--from", str(old), "--to", str(target)]) == 0
    for path in (old, target):
        with Store.open(path) as store:
            assert store._rows("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
            assert store.snapshots().select("snapshot_id", "version", "latest").rows() == [(1, 1, False), (2, 2, True)]
            assert store.settings().amber_days == 4
    assert _reads(target, capsys) == _reads(old, capsys)
    capsys.readouterr()
    assert cli.main(["snapshots", "--db", str(target), "--format", "json"]) == 0
    assert [row["snapshot_id"] for row in json.loads(capsys.readouterr().out)] == [1, 2]


def test_a_file_written_by_a_newer_version_is_refused_and_nothing_is_copied(db: Path, tmp_path: Path, capsys) -> None:
    with duckdb.connect(str(db)) as raw:
        raw.execute("UPDATE schema_version SET version = ?", [SCHEMA_VERSION + 1])
    target = tmp_path / "target.duckdb"
    assert cli.main(["copy", "--from", str(db), "--to", str(target)]) == 1
    assert capsys.readouterr().err == (
        f"the database file {db} was written by a newer version of this program; upgrade the program to open it\n"
    )
    assert not target.exists()
