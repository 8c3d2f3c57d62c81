"""The inbox folder, polled in process: when a file counts as complete, what is one upload, where files go."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest
from builders import FLEET_DIR

from kpi_engine.cli import build_parser, ingest_paths
from kpi_engine.core.errors import InputError
from kpi_engine.ingest.inbox import LOG_NAME, Inbox
from kpi_engine.store import Store

GOOD = "projects.csv"
GOOD_TEXT = (FLEET_DIR / GOOD).read_text()


def _args(db: Path) -> argparse.Namespace:
    return build_parser().parse_args(["ingest", "unused", "--db", str(db), "--as-of", "2026-06-15"])


@pytest.fixture
def inbox(tmp_path: Path) -> Inbox:
    folder = tmp_path / "inbox"
    folder.mkdir()
    args = _args(tmp_path / "kpi.duckdb")
    return Inbox(folder, ingest=lambda paths: [ingest_paths(args, paths)[0].message], echo=lambda _line: None)


def _snapshots(inbox: Inbox) -> int:
    with Store.open(inbox.folder.parent / "kpi.duckdb") as store:
        return store.snapshots().height


def test_a_file_is_taken_only_once_its_size_stopped_changing(inbox):
    (inbox.folder / GOOD).write_text(GOOD_TEXT[:40])
    assert inbox.poll() == []  # new: it may still be being written
    (inbox.folder / GOOD).write_text(GOOD_TEXT)
    assert inbox.poll() == []  # grew since the last poll
    (result,) = inbox.poll()
    assert result.stored and result.files == (GOOD,)
    assert (inbox.folder / "done" / GOOD).read_text() == GOOD_TEXT
    assert not (inbox.folder / GOOD).exists()
    assert inbox.poll() == [] and inbox.poll() == []
    assert _snapshots(inbox) == 1


def test_files_saved_between_two_polls_wait_for_each_other_and_are_one_upload(inbox):
    (inbox.folder / "milestones.csv").write_text((FLEET_DIR / "milestones.csv").read_text())
    assert inbox.poll() == []
    # milestones.csv has settled, but projects.csv arrived: the folder has not settled yet
    (inbox.folder / GOOD).write_text(GOOD_TEXT)
    assert inbox.poll() == []
    (result,) = inbox.poll()
    assert result.stored and result.files == ("milestones.csv", GOOD)
    assert _snapshots(inbox) == 1


def test_hidden_lock_and_unfinished_files_are_not_uploads(inbox):
    for name in (".DS_Store", "~$plan.xlsx", "export.csv.part", "jira.csv.crdownload"):
        (inbox.folder / name).write_text("a,b\n1,2\n")
    (inbox.folder / "sub").mkdir()
    assert inbox.waiting() == {}
    assert inbox.run(interval=0.01, polls=3) == []
    assert sorted(p.name for p in inbox.folder.iterdir()) == sorted(
        [".DS_Store", "~$plan.xlsx", "export.csv.part", "jira.csv.crdownload", "sub"]
    )


def test_a_refused_upload_moves_every_file_with_every_problem_and_stores_nothing(inbox):
    (inbox.folder / GOOD).write_text(GOOD_TEXT)
    (inbox.folder / "milestones.csv").write_text(
        "milestone_id,project_id,name,owner,baseline_finish\nM1,P-NOPE,One,Ann,someday\n"
    )
    (result,) = inbox.run(interval=0.01, polls=2)
    assert not result.stored
    assert (
        "milestones.csv, sheet milestones, row 2, column baseline_finish: 'someday' is not a date; "
        in (result.lines[0])
    )
    for name in (GOOD, "milestones.csv"):
        moved = inbox.folder / "rejected" / name
        assert moved.exists() and not (inbox.folder / name).exists()
        assert (moved.parent / f"{name}.problems.txt").read_text().splitlines() == list(result.lines)
    log = (inbox.folder / LOG_NAME).read_text().splitlines()
    assert len(log) == 1 and "rejected  milestones.csv, projects.csv: 1 problem, nothing stored" in log[0]
    with Store.open(inbox.folder.parent / "kpi.duckdb") as store:
        assert store.is_empty()


def test_a_name_already_in_the_done_folder_is_kept_and_the_new_file_gets_the_time_added(inbox):
    (inbox.folder / "done").mkdir()
    (inbox.folder / "done" / GOOD).write_text("last week's file\n")
    (inbox.folder / GOOD).write_text(GOOD_TEXT)
    (result,) = inbox.run(interval=0.01, polls=2)
    assert result.stored
    assert (inbox.folder / "done" / GOOD).read_text() == "last week's file\n"
    (renamed,) = [p for p in (inbox.folder / "done").iterdir() if p.name != GOOD]
    assert renamed.name.startswith("projects.") and renamed.suffix == ".csv"
    assert renamed.read_text() == GOOD_TEXT


def test_until_idle_stops_after_the_waiting_files_are_handled(inbox):
    shutil.copy(FLEET_DIR / GOOD, inbox.folder / GOOD)
    results = inbox.run(interval=0.01, until_idle=True)
    assert [r.files for r in results] == [(GOOD,)]


def test_a_folder_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(InputError, match="does not exist or is not a folder"):
        Inbox(tmp_path / "missing", ingest=lambda paths: [])


def test_the_done_folder_cannot_be_the_inbox_itself(tmp_path):
    with pytest.raises(InputError, match="cannot be the inbox folder"):
        Inbox(tmp_path, ingest=lambda paths: [], done=tmp_path)
