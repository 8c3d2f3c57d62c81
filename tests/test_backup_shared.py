"""Backup and restore of the shared store as docs/backup.md describes, on a real PostgreSQL server.

Two ways: ``copy`` into a database file and back into an empty shared store; and
``pg_dump`` of the catalog database with a copy of the data folder, restored with
``pg_restore`` into an empty database and the folder put back at its path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from pg_server import PgServer
from test_backup import _ingest, _reads

from kpi_engine import cli
from kpi_engine.store import Store
from kpi_engine.store.backends import parse_url

pytestmark = pytest.mark.slow


@pytest.fixture
def shared(shared_store_url: str) -> str:
    """A shared store holding the worked example stored twice (two weeks), with a changed setting."""
    with Store.open(shared_store_url) as store:
        _ingest(store, date(2026, 6, 8))
        _ingest(store, date(2026, 6, 15))
        store.save_settings(store.settings().with_value("amber_days", 4))
    return shared_store_url


def test_a_shared_store_backed_up_into_a_file_restores_into_an_empty_shared_store(
    shared: str, pg_server: PgServer, tmp_path: Path, capsys
) -> None:
    backup = tmp_path / "backups" / "kpi-2026-06-15.duckdb"
    assert cli.main(["copy", "--from", shared, "--to", str(backup)]) == 0
    restored = pg_server.url(pg_server.create_database(), tmp_path / "lake-restored")
    assert cli.main(["copy", "--from", str(backup), "--to", restored]) == 0
    expected = _reads(shared, capsys)  # type: ignore[arg-type]
    assert _reads(backup, capsys) == expected
    assert _reads(restored, capsys) == expected  # type: ignore[arg-type]
    with Store.open(restored) as store:
        _ingest(store, date(2026, 6, 22))
        assert store.snapshot_ids() == [1, 2, 3]
        assert store.settings().amber_days == 4


def _pg(server: PgServer, program: str, *args: str) -> None:
    """Run a PostgreSQL client program against the test server; it must succeed."""
    found = shutil.which(program) or str(server.bin_dir / program)
    done = subprocess.run(
        [found, "-h", server.host, "-p", str(server.port), "-U", server.user, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_pg_dump_of_the_catalog_and_a_copy_of_the_data_folder_restore_the_shared_store(
    shared: str, pg_server: PgServer, tmp_path: Path, capsys
) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        reason = "pg_dump and pg_restore (Debian's postgresql-client, installed with postgresql) are missing"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    expected = _reads(shared, capsys)  # type: ignore[arg-type]
    address = parse_url(shared)
    dump, folder_copy = tmp_path / "kpi.dump", tmp_path / "lake-backup"
    # the dump first, then the folder: the folder then holds every file the dump names
    _pg(pg_server, "pg_dump", "--format=custom", f"--file={dump}", address.database)
    shutil.copytree(address.data_path, folder_copy)
    # the store is lost: its database dropped, its folder gone
    _pg(pg_server, "dropdb", "--force", address.database)
    shutil.rmtree(address.data_path)
    restored_db = pg_server.create_database()
    _pg(pg_server, "pg_restore", "--no-owner", "--dbname", restored_db, str(dump))
    shutil.copytree(folder_copy, address.data_path)  # back at its path
    restored = pg_server.url(restored_db, address.data_path)
    assert _reads(restored, capsys) == expected  # type: ignore[arg-type]
    with Store.open(restored) as store:
        _ingest(store, date(2026, 6, 22))
        assert store.snapshot_ids() == [1, 2, 3]
