"""``ingest --watch FOLDER`` and ``ingest FOLDER --move-done DONE`` in a real process, as a service or cron runs them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from builders import FLEET_DIR

from kpi_engine.store import Store

REPO = Path(__file__).resolve().parents[1]
FLEET_CSVS = sorted(p.name for p in FLEET_DIR.glob("*.csv"))
BAD_MILESTONES = (
    "milestone_id,project_id,name,owner,baseline_finish\n"
    "M-NEW,P-NOPE,New milestone,Ann,2026-09-30\n"
    "M-BAD,P-ROUTE,Bad date,Ann,31.02.2026\n"
)


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kpi_engine", *args]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), capture_output=True, text=True, cwd=REPO, env=os.environ, timeout=180)


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[str] | None = None) -> None:
    """Wait until ``condition()`` holds (a generous deadline: the machine may be loaded)."""
    deadline = time.monotonic() + 120
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"the watcher stopped before {what}: {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def snapshot_count(db: Path) -> int:
    with Store.open(db) as store:
        return store.snapshots().height


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def test_watch_ingests_each_file_once_moves_it_and_files_a_rejected_one_with_its_problems(inbox, tmp_path):
    db = tmp_path / "kpi.duckdb"
    watcher = subprocess.Popen(
        command("ingest", "--watch", str(inbox), "--db", str(db), "--as-of", "2026-06-15", "--interval", "0.2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        for name in FLEET_CSVS:
            shutil.copy(FLEET_DIR / name, inbox / name)
        done = inbox / "done"
        wait_for(lambda: sorted(p.name for p in done.glob("*.csv")) == FLEET_CSVS, "the fleet files are done", watcher)
        assert not list(inbox.glob("*.csv"))

        (inbox / "milestones.csv").write_text(BAD_MILESTONES)
        problems = inbox / "rejected" / "milestones.csv.problems.txt"
        wait_for(problems.exists, "the bad file is rejected", watcher)
        time.sleep(1)  # a few more polls: nothing is ingested twice
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, err
    assert (inbox / "rejected" / "milestones.csv").read_text() == BAD_MILESTONES

    # the problem file holds what `ingest` prints for the same file against the same database
    copy = tmp_path / "copy.duckdb"
    shutil.copy(db, copy)
    direct = run("ingest", str(inbox / "rejected" / "milestones.csv"), "--db", str(copy), "--as-of", "2026-06-15")
    assert direct.returncode == 1
    listed = problems.read_text().splitlines()
    assert listed == direct.stderr.splitlines()
    assert any("row 3, column baseline_finish: '31.02.2026' is not a date" in line for line in listed)

    assert snapshot_count(db) == 1  # the fleet once; nothing of the rejected file
    log = (inbox / "inbox.log").read_text().splitlines()
    assert len(log) == 2
    assert f"stored    {', '.join(FLEET_CSVS)}: Stored snapshot 1 as of 2026-06-15 from 9 file(s)" in log[0]
    assert f"rejected  milestones.csv: {len(listed)} problem" in log[1]
    assert out.splitlines()[:2] == log
    assert out.splitlines()[-1] == f"stopped watching {inbox}"


def test_watch_stops_after_the_polls_asked_for(inbox, tmp_path):
    shutil.copy(FLEET_DIR / "projects.csv", inbox / "projects.csv")
    db = tmp_path / "kpi.duckdb"
    result = run("ingest", "--watch", str(inbox), "--db", str(db), "--polls", "3", "--interval", "0.1")
    assert result.returncode == 0, result.stderr
    assert (inbox / "done" / "projects.csv").exists()
    with Store.open(db) as store:
        (as_of,) = store.snapshots()["as_of"].to_list()
    assert as_of == date.today()  # --as-of defaults to today


def test_one_shot_moves_done_files_where_asked_and_rejects_a_set_with_a_bad_file_whole(inbox, tmp_path):
    db, done = tmp_path / "kpi.duckdb", tmp_path / "archive"
    for name in FLEET_CSVS:
        shutil.copy(FLEET_DIR / name, inbox / name)
    first = run("ingest", str(inbox), "--move-done", str(done), "--db", str(db), "--interval", "0.1")
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in done.iterdir()) == FLEET_CSVS

    # a set saved together is one upload: one bad file refuses the whole set
    shutil.copy(FLEET_DIR / "projects.csv", inbox / "projects.csv")
    (inbox / "milestones.csv").write_text(BAD_MILESTONES)
    second = run("ingest", str(inbox), "--move-done", str(done), "--db", str(db), "--interval", "0.1")
    assert second.returncode == 0, second.stderr
    rejected = inbox / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [
        "milestones.csv",
        "milestones.csv.problems.txt",
        "projects.csv",
        "projects.csv.problems.txt",
    ]
    assert (rejected / "projects.csv.problems.txt").read_text() == (
        rejected / "milestones.csv.problems.txt"
    ).read_text()
    assert snapshot_count(db) == 1
    assert "rejected  milestones.csv, projects.csv:" in second.stdout


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["x.csv", "--polls", "3"], id="polls-without-watch"),
        pytest.param(["--watch", "a", "b"], id="two-folders"),
        pytest.param(["--watch", "missing-folder"], id="not-a-folder"),
        pytest.param([".", "--move-done", "."], id="done-folder-is-the-inbox"),
    ],
)
def test_inbox_options_used_wrongly_are_bad_usage(args):
    result = run("ingest", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("python -m kpi_engine ingest: error: ")
