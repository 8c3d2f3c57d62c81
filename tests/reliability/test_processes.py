"""Other processes and crashes: a busy database file, and a process killed in the middle of an ingest."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from builders import FLEET_DIR

from kpi_engine.core.errors import DatabaseBusyError
from kpi_engine.ingest import read_paths, read_upload
from kpi_engine.store import Store, data_version

from .holder import holding

REPO = Path(__file__).resolve().parents[2]
PYTHON = [sys.executable, "-c"]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database file holding the worked example as snapshot 1."""
    path = tmp_path / "kpi.duckdb"
    files = read_paths(sorted(FLEET_DIR.glob("*.csv")))
    with Store.open(path) as store:
        store.ingest(read_upload(files), date(2026, 6, 15), author="first", sources=files)
    return path


def test_cli_on_a_busy_database_says_busy_retry_after_its_timeout(db: Path) -> None:
    with holding(db):
        done = subprocess.run(
            [sys.executable, "-m", "kpi_engine", "snapshots", "--db", str(db)],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(KPI_DB_BUSY_TIMEOUT="0.5"),
            cwd=REPO,
            check=False,
        )

    assert done.returncode == 1
    assert done.stderr == (
        f"the database file {db} is in use by another program (for example the dashboard or a scheduled job); "
        "try again in a moment\n"
    )
    assert done.stdout == ""


def test_cli_waits_while_the_database_is_busy_and_goes_on_when_it_is_free(db: Path) -> None:
    script = f"""
        import sys
        from kpi_engine import cli
        print("starting", flush=True)
        sys.exit(cli.main(["snapshots", "--db", {str(db)!r}, "--format", "json"]))
    """
    with holding(db):
        waiter = subprocess.Popen(
            [*PYTHON, textwrap.dedent(script)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(KPI_DB_BUSY_TIMEOUT="60"),
        )
        assert waiter.stdout is not None and waiter.stdout.readline().strip() == "starting"
        time.sleep(0.5)
        assert waiter.poll() is None  # it cannot finish: the other program still holds the file
    out, err = waiter.communicate(timeout=60)

    assert waiter.returncode == 0, err
    assert '"snapshot_id": 1' in out


# ---------------------------------------------------------------------- a dashboard that lets go when idle
def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kpi_engine", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(KPI_DB_BUSY_TIMEOUT="30"),
        cwd=REPO,
        check=False,
    )


def _wait_until(condition, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_cli_ingests_while_a_dashboard_store_is_open_and_the_dashboard_sees_it(db: Path) -> None:
    """The dashboard's Store lets the file go when idle: a scheduled CLI ingest gets in, and the
    dashboard's next read (and its data version) shows the new snapshot."""
    dashboard = Store.open(db, idle_release=0.2)
    try:
        assert dashboard.snapshots()["snapshot_id"].to_list() == [1]
        version = data_version(db)
        assert _wait_until(lambda: not dashboard.holds_file)

        done = _cli(db, "ingest", *(str(p) for p in sorted(FLEET_DIR.glob("*.csv"))), "--as-of", "2026-06-22")

        assert done.returncode == 0, done.stderr
        assert data_version(db) != version
        assert dashboard.snapshots()["snapshot_id"].to_list() == [1, 2]
    finally:
        dashboard.close()


def test_a_dashboard_store_holds_the_file_while_in_use_and_lets_go_after(db: Path) -> None:
    dashboard = Store.open(db, idle_release=0.5)
    try:
        dashboard.snapshots()
        assert dashboard.holds_file  # just used: a CLI started now waits
        assert _cli(db, "snapshots").returncode == 0  # ... and gets in once the dashboard is idle
        assert not dashboard.holds_file
        assert dashboard.latest_snapshot_id() == 1  # the next read opens the file again
        assert dashboard.holds_file
    finally:
        dashboard.close()


def test_a_store_held_for_good_keeps_other_programs_out(db: Path) -> None:
    held = Store.open(db)  # the CLI's own way: hold the file until closed
    try:
        time.sleep(0.3)
        assert held.holds_file
        done = subprocess.run(
            [sys.executable, "-m", "kpi_engine", "snapshots", "--db", str(db)],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(KPI_DB_BUSY_TIMEOUT="0.3"),
            cwd=REPO,
            check=False,
        )
        assert done.returncode == 1
        assert "is in use by another program" in done.stderr
    finally:
        held.close()


def test_sessions_waiting_for_a_busy_file_get_one_answer_together(db: Path) -> None:
    """Three sessions want the file while another program holds it: one waits out the busy
    timeout, the two queued behind it get the same answer then instead of waiting in turn."""
    dashboard = Store.open(db, idle_release=0.0, busy_timeout=1.0)
    assert _wait_until(lambda: not dashboard.holds_file)
    connection = dashboard._db
    opened, failures = [], []
    opener = connection._opener

    def counting_opener():  # type: ignore[no-untyped-def]
        opened.append(time.monotonic())
        return opener()

    connection._opener = counting_opener

    def session() -> None:
        try:
            dashboard.snapshots()
        except DatabaseBusyError as err:
            failures.append(str(err))

    try:
        with holding(db):
            sessions = [threading.Thread(target=session) for _ in range(3)]
            for thread in sessions:
                thread.start()
            for thread in sessions:
                thread.join(timeout=60)
        assert len(failures) == 3 and len(set(failures)) == 1
        assert "is in use by another program" in failures[0]
        assert len(opened) == 1
        assert dashboard.snapshots()["snapshot_id"].to_list() == [1]  # asked after: tries again, and gets in
        assert len(opened) == 2
    finally:
        dashboard.close()


def test_an_in_memory_store_is_never_let_go() -> None:
    files = read_paths(sorted(FLEET_DIR.glob("*.csv")))
    with Store.open(":memory:", idle_release=0.0) as store:
        store.ingest(read_upload(files), date(2026, 6, 15), author="first", sources=files)
        time.sleep(0.2)
        assert store.holds_file
        assert store.snapshots()["snapshot_id"].to_list() == [1]


# ---------------------------------------------------------------------- kill -9 in the middle of an ingest
def _big_upload_script(db: Path, stall: bool) -> str:
    """A process that stores a large upload (400,000 tasks) and, with ``stall``, stops inside the transaction."""
    return textwrap.dedent(
        f"""
        import sys, time
        from datetime import date
        import kpi_engine.store as store_module
        import kpi_engine.store.merge as store_merge
        from kpi_engine.ingest import SourceFile, read_upload

        projects = "project_id,name,owner\\n" + "".join(f"Q{{p}},Project {{p}},Ann Lee\\n" for p in range(200))
        milestones = "milestone_id,project_id,name,owner,baseline_finish\\n" + "".join(
            f"Q{{p}}-M{{m}},Q{{p}},Step {{m}},Bob Roy,2026-10-01\\n" for p in range(200) for m in range(50)
        )
        tasks = "task_id,milestone_id,name,owner,forecast_finish\\n" + "".join(
            f"Q{{p}}-M{{m}}-T{{t}},Q{{p}}-M{{m}},Task {{t}},Cy Ode,2026-09-15\\n"
            for p in range(200) for m in range(50) for t in range(40)
        )
        files = [SourceFile(name, text.encode()) for name, text in
                 (("projects.csv", projects), ("milestones.csv", milestones), ("tasks.csv", tasks))]
        upload = read_upload(files)
        if {stall!r}:
            merged = store_merge._reference_problems  # runs after every row is written, before commit
            def stall(*args, **kwargs):
                problems = merged(*args, **kwargs)
                print("inside the transaction", flush=True)
                time.sleep(120)
                return problems
            store_merge._reference_problems = stall
        with store_module.Store.open({str(db)!r}) as store:
            print("ingesting", flush=True)
            store.ingest(upload, date(2026, 6, 22), author="killed", sources=files)
        print("stored", flush=True)
        """
    )


def _kill_during_ingest(db: Path, stall: bool) -> None:
    worker = subprocess.Popen([*PYTHON, _big_upload_script(db, stall)], stdout=subprocess.PIPE, text=True, env=_env())
    assert worker.stdout is not None
    try:
        assert worker.stdout.readline().strip() == "ingesting"
        if stall:
            assert worker.stdout.readline().strip() == "inside the transaction"
        else:
            time.sleep(0.3)  # storing 400,000 rows takes longer: the kill lands inside (or just after) it
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=60)
        worker.stdout.close()
    assert worker.returncode == -signal.SIGKILL


def _record_deletions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and still carry out) every file deletion made through Python from now on."""
    removed: list[str] = []

    def recording(original):  # type: ignore[no-untyped-def]
        def delete(path, *args, **kwargs):  # type: ignore[no-untyped-def]
            removed.append(str(path))
            return original(path, *args, **kwargs)

        return delete

    for owner, name in ((os, "remove"), (os, "unlink"), (Path, "unlink")):
        monkeypatch.setattr(owner, name, recording(getattr(owner, name)))
    return removed


@pytest.mark.parametrize("stall", [True, False], ids=["killed-inside-the-transaction", "killed-while-storing"])
def test_killed_ingest_leaves_earlier_snapshots_intact_and_no_partial_one(
    db: Path, stall: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(db) as store:
        before = store.load_portfolio(1)

    _kill_during_ingest(db, stall)

    removed = _record_deletions(monkeypatch)  # recovery must never delete the write-ahead log itself
    with Store.open(db) as store:
        snapshots = store.snapshots()
        after = store.load_portfolio(1)
        assert removed == []
        for table in ("objectives", "kpis", "projects", "milestones", "tasks", "links", "kpi_actuals"):
            assert getattr(after, table).equals(getattr(before, table)), table
        if stall:
            assert snapshots["snapshot_id"].to_list() == [1]
        else:  # the kill may have come after the commit: then the snapshot is whole
            assert snapshots["snapshot_id"].to_list() in ([1], [1, 2])
            if snapshots.height == 2:
                stored = store.load_portfolio(2)
                assert (stored.projects.height, stored.milestones.height, stored.tasks.height) == (
                    before.projects.height + 200,
                    before.milestones.height + 10_000,
                    before.tasks.height + 400_000,
                )
        # the database takes new snapshots as before
        files = read_paths([FLEET_DIR / "milestones.csv"])
        result = store.ingest(read_upload(files), date(2026, 6, 29), author="after", sources=files)
        assert result.snapshot_id == snapshots.height + 1


def test_no_code_of_ours_deletes_a_write_ahead_log() -> None:
    """Recovering by deleting the .wal would throw away committed snapshots."""
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in (REPO / "kpi_engine").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"\.wal\b|\bwal\b|write.ahead", line, re.IGNORECASE)
        and any(word in line for word in ("unlink", "remove(", "rmtree", "rename", "replace("))
    ]
    assert offenders == []
