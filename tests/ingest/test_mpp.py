"""MS Project .mpp through MPXJ: real plans saved by MS Project, and the fleet sample as MPXJ writes it.

Real .mpp files (``data/sample/exports/mpxj``, MPXJ's own test plans) are checked field by
field against MPXJ's reading of each task, and a protected one is refused. MPXJ cannot
write .mpp files, so the fleet plan (with its lags) reaches the .mpp reader as MPX, made
from the XML sample by MPXJ itself: MPXJ's reader recognises a file by its content, so that
is the same path an .mpp takes (read by MPXJ, written as MS Project XML, mapped).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from kpi_engine.ingest import SourceFile, read_paths, read_upload

from .support import SAMPLE_EXPORTS, accepted, problem_lines

REPO = SAMPLE_EXPORTS.parents[2]

pytest.importorskip("mpxj")


def _mpx_of_sample() -> bytes:
    from kpi_engine.ingest.tools.mpp import _java

    java = _java()  # starts the JVM as an .mpp upload does
    from java.io import ByteArrayOutputStream
    from org.mpxj.mpx import MPXWriter

    project = java["reader"]().read(str(SAMPLE_EXPORTS / "msproject_telematics.xml"))
    out = ByteArrayOutputStream()
    MPXWriter().write(project, out)
    return bytes(out.toByteArray())


def test_a_plan_read_by_mpxj_maps_as_its_xml() -> None:
    from_xml = accepted(
        SourceFile("msproject_telematics.xml", (SAMPLE_EXPORTS / "msproject_telematics.xml").read_bytes())
    )
    from_mpp = accepted(SourceFile("telematics.mpp", _mpx_of_sample()))
    assert from_mpp.files[0].source == "msproject"
    # the MPX format keeps no custom field aliases, so the reported status is the one difference
    columns = [c for c in from_xml.tables["milestones"].columns if c not in ("reported_status", "_file")]
    assert from_mpp.tables["milestones"].select(columns).rows() == from_xml.tables["milestones"].select(columns).rows()
    for table in ("tasks", "dependencies"):
        assert from_mpp.tables[table].drop("_file").rows() == from_xml.tables[table].drop("_file").rows()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "it holds no format MPXJ reads"),
        (b"MS Project plan, but only in name", "it holds no format MPXJ reads"),
    ],
)
def test_a_damaged_mpp_is_refused_naming_the_file(data: bytes, expected: str) -> None:
    lines = problem_lines(SourceFile("plan.mpp", data))
    assert len(lines) == 1 and lines[0].startswith("plan.mpp, sheet -, row -, column -: "), lines
    assert expected in lines[0]


@pytest.mark.parametrize(
    ("reader_says", "expected"),
    [
        ("File is password protected", "the plan is protected with a password; remove the password"),
        ("File is password protected. Please enter password.", "the plan is protected with a password"),
        (
            "Invalid file format MSProject.MPP4",
            "the plan was saved by a version of MS Project this program cannot read",
        ),
        ("Error reading file\nat org.mpxj...", "the plan is damaged and cannot be read (Error reading file)"),
    ],
)
def test_what_mpxj_says_becomes_a_message_for_the_planner(reader_says: str, expected: str) -> None:
    from kpi_engine.ingest.tools.mpp import SAVE_AS_XML, _reader_problem

    message = _reader_problem(reader_says)
    assert message.startswith(expected) and message.endswith(SAVE_AS_XML)
    assert "\n" not in message


def test_without_java_an_mpp_upload_is_refused_with_what_to_install(tmp_path: Path) -> None:
    """A machine with no Java runtime: the Java installations are hidden in a mount namespace of its own.

    The upload goes through the CLI in that namespace, onto a store holding one week: the
    .mpp is refused with what to install and the stored week is untouched.
    """
    from kpi_engine.ingest.tools.mpp import NO_JAVA

    db = _store_of_one_week(tmp_path)
    plan = tmp_path / "telematics.mpp"
    plan.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    hidden = tmp_path / "no_java"
    hidden.mkdir()
    # JAVA_HOME unset; /usr/bin/java then points into the hidden /usr/lib/jvm and resolves to nothing
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    script = f'mount --bind "{hidden}" /usr/lib/jvm && exec "$0" "$@"'
    hide_java = ["unshare", "-m", "sh", "-c", script]
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0 or not Path("/usr/lib/jvm").is_dir():
        reason = f"cannot hide the Java runtime here (unshare -m: {probe.stderr.strip() or 'no /usr/lib/jvm'})"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    done = _ingest_with_cli(plan, db, prefix=hide_java, env=env)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"telematics.mpp, sheet -, row -, column -: {NO_JAVA}", done.stderr
    assert _stored_dates(db) == [date(2026, 6, 1)]


def _store_of_one_week(folder: Path) -> Path:
    """A database in ``folder`` holding the sample portfolio as one snapshot of 1 June 2026."""
    from kpi_engine.store import Store

    db = folder / "kpi.duckdb"
    with Store.open(db) as store:
        store.ingest(
            read_upload(read_paths([SAMPLE_EXPORTS.parent / "portfolio"])), as_of=date(2026, 6, 1), author="pmo"
        )
    return db


def _ingest_with_cli(
    plan: Path, db: Path, prefix: tuple[str, ...] | list[str] = (), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``kpi_engine ingest PLAN`` as of 8 June 2026 into ``db``, run after ``prefix`` (a command that runs it)."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "kpi_engine", "ingest", str(plan), "--db", str(db), "--as-of", "2026-06-08"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )


def _stored_dates(db: Path) -> list[date]:
    from kpi_engine.store import Store

    with Store.open(db) as store:
        return [store.snapshot_as_of(s) for s in store.snapshot_ids()]


REAL_PLANS = SAMPLE_EXPORTS / "mpxj"


def _day(value: object) -> date | None:
    """The day of a java.time.LocalDateTime MPXJ returns, or None."""
    return None if value is None else date.fromisoformat(str(value)[:10])


def _mpxj_view(path: Path) -> dict[str, dict[str, object]]:
    """Every task of a plan as MPXJ's own API reads it, by the id the upload gives it."""
    from kpi_engine.ingest.tools.mpp import _java

    project = _java()["reader"]().read(str(path))
    title = str(project.getProjectProperties().getProjectTitle() or path.stem)
    view = {}
    for task in project.getTasks():
        if task.getUniqueID() == 0 or task.getSummary():
            continue
        owners = [str(a.getResource().getName()) for a in task.getResourceAssignments() if a.getResource()]
        view[f"{title}-{task.getUniqueID()}"] = {
            "row": int(task.getID()),
            "milestone": bool(task.getMilestone()),
            "name": str(task.getName()),
            "owner": ", ".join(owners) or None,
            "baseline_start": _day(task.getBaselineStart()),
            "baseline_finish": _day(task.getBaselineFinish()) or _day(task.getFinish()),
            "forecast_finish": _day(task.getFinish()),
            "actual_finish": _day(task.getActualFinish()),
            "percent_complete": float(task.getPercentageComplete()),
        }
    return view


@pytest.mark.parametrize(
    ("plan", "milestone_of"),
    [
        # every subtask leads through its successor links to "Complete" (UID 5)
        ("mpp9baseline.mpp", {uid: "5" for uid in ("2", "3", "4", "6", "7")}),
        # three chains of four tasks, each ending in its own milestone
        (
            "slack9.mpp",
            {
                **{uid: "5" for uid in ("1", "2", "3", "4")},
                **{uid: "11" for uid in ("7", "8", "9", "10")},
                **{uid: "16" for uid in ("12", "13", "14", "15")},
            },
        ),
    ],
)
def test_a_real_mpp_maps_every_field_as_mpxj_reads_it(plan: str, milestone_of: dict[str, str]) -> None:
    """Real plans saved by MS Project: each mapped field equals what MPXJ's API says of the task."""
    path = REAL_PLANS / plan
    parsed = accepted(SourceFile(plan, path.read_bytes()))
    view = _mpxj_view(path)
    project = next(iter(view)).rsplit("-", 1)[0]
    assert parsed.files[0].source == "msproject"

    milestones = {row["milestone_id"]: row for row in parsed.tables["milestones"].iter_rows(named=True)}
    assert set(milestones) == {key for key, task in view.items() if task["milestone"]}
    for key, row in milestones.items():
        task = view[key]
        assert row["project_id"] == project and row["_row"] == task["row"]
        for field in ("name", "owner", "baseline_start", "baseline_finish", "forecast_finish", "actual_finish"):
            assert row[field] == task[field], (key, field)
        assert row["percent_complete"] == pytest.approx(task["percent_complete"])

    tasks = {row["task_id"]: row for row in parsed.tables["tasks"].iter_rows(named=True)}
    assert {key: row["milestone_id"] for key, row in tasks.items()} == {
        f"{project}-{uid}": f"{project}-{m}" for uid, m in milestone_of.items()
    }
    for key, row in tasks.items():
        for field in ("name", "owner", "forecast_finish", "actual_finish"):
            assert row[field] == view[key][field], (key, field)
    # every other task is named in a warning, none dropped silently
    left_out = {task["row"] for key, task in view.items() if not task["milestone"] and key not in tasks}
    warned = {w.row for w in parsed.warnings if w.message.endswith("it was not imported")}
    assert warned == left_out


def test_the_real_baseline_plan_holds_what_ms_project_shows() -> None:
    """Anchors read off the plan itself, so a reader that lost a field everywhere would not agree with MPXJ by chance."""
    parsed = accepted(SourceFile("mpp9baseline.mpp", (REAL_PLANS / "mpp9baseline.mpp").read_bytes()))
    (milestone,) = parsed.tables["milestones"].iter_rows(named=True)
    assert (milestone["name"], milestone["baseline_finish"], milestone["forecast_finish"]) == (
        "Complete",
        date(2006, 9, 13),
        date(2006, 9, 14),
    )
    by_name = {row["name"]: row for row in parsed.tables["tasks"].iter_rows(named=True)}
    assert by_name["Subtask 5"]["owner"] == "Jon Iles, Wade Golden"
    assert by_name["Subtask 2"]["actual_finish"] == date(2006, 9, 5)
    assert by_name["Subtask 3"]["actual_finish"] is None
    assert sorted(w.row for w in parsed.warnings) == [10, 11, 14]


def test_a_password_protected_mpp_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    """A real plan saved with a password in MS Project: the CLI names the file, says what to do, and stores nothing."""
    from kpi_engine.ingest.tools.mpp import SAVE_AS_XML

    plan = REAL_PLANS / "password-protected-mpp9.mpp"
    lines = problem_lines(SourceFile(plan.name, plan.read_bytes()))
    assert len(lines) == 1, lines
    assert lines[0].startswith("password-protected-mpp9.mpp, sheet -, row -, column -: the plan is protected")
    assert lines[0].endswith(SAVE_AS_XML)

    db = _store_of_one_week(tmp_path)
    done = _ingest_with_cli(plan, db)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == lines[0]
    assert _stored_dates(db) == [date(2026, 6, 1)]
