"""The command-line contract of CLI.md: arguments, exit statuses, messages, JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from kpi_engine import cli
from kpi_engine.core.errors import DatabaseBusyError
from kpi_engine.store import Store

REPO = Path(__file__).resolve().parents[1]
CLI_MD = REPO / "docs" / "cli.md"

FLEET_ROWS = {
    "objectives": 2,
    "kpis": 3,
    "kpi_actuals": 3,
    "projects": 6,
    "milestones": 6,
    "tasks": 3,
    "dependencies": 1,
    "links": 5,
    "people": 11,
}
UNKNOWN_PROJECT_LINE = (
    "milestones.csv, sheet milestones, row 3, column project_id: "
    "unknown project 'P-X'; add it to the projects sheet or fix the id"
)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m kpi_engine`` in a fresh process, as a scheduled job would."""
    return subprocess.run(
        [sys.executable, "-m", "kpi_engine", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "kpi.duckdb")


@pytest.fixture
def unknown_project(tmp_path: Path) -> Path:
    """A folder whose milestones name a project nobody uploaded."""
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "projects.csv").write_text("project_id,name,owner\nP-A,Project A,Ann\n")
    (folder / "milestones.csv").write_text(
        "milestone_id,project_id,name,owner,baseline_finish\nM1,P-A,One,Ann,2026-08-31\nM2,P-X,Two,Ann,2026-09-30\n"
    )
    return folder


# ---------------------------------------------------------------------- in a fresh process
def test_ingest_fleet_then_list_snapshots_as_json(fleet_dir, db):
    csvs = sorted(str(p) for p in fleet_dir.glob("*.csv"))
    ingested = run("ingest", *csvs, "--db", db, "--as-of", "2026-06-15")
    assert ingested.returncode == 0, ingested.stderr
    assert ingested.stdout.startswith("Stored snapshot 1 as of 2026-06-15 from 9 file(s)")

    listed = run("snapshots", "--db", db, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    snapshots = json.loads(listed.stdout)
    assert len(snapshots) == 1
    (snapshot,) = snapshots
    assert set(snapshot) == {"snapshot_id", "as_of", "created_at", "files", "rows"}
    assert snapshot["snapshot_id"] == 1 and snapshot["as_of"] == "2026-06-15"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", snapshot["created_at"])
    assert snapshot["files"] == sorted(Path(p).name for p in csvs)
    assert snapshot["rows"] == FLEET_ROWS


def test_rejected_upload_exits_1_with_one_line_per_problem(unknown_project, db):
    result = run("ingest", str(unknown_project), "--db", db, "--as-of", "2026-06-15")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [UNKNOWN_PROJECT_LINE]
    assert result.stdout == ""
    with Store.open(db) as store:
        assert store.is_empty()


def test_bad_usage_exits_2():
    result = run("ingest")
    assert result.returncode == 2
    assert "the following arguments are required: PATH" in result.stderr


# ---------------------------------------------------------------------- in process
def test_bad_date_is_bad_usage(capsys, db):
    assert cli.main(["ingest", "x.csv", "--db", db, "--as-of", "15/06/2026"]) == 2
    assert "argument --as-of: invalid date '15/06/2026': use YYYY-MM-DD, e.g. 2026-06-15" in capsys.readouterr().err


def test_unknown_command_and_format_are_bad_usage(capsys):
    assert cli.main(["export"]) == 2
    assert cli.main(["snapshots", "--format", "csv"]) == 2


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--slip", "M1"], id="slip-without-days"),
        pytest.param(["--slip", "M1=two"], id="slip-days-not-a-number"),
        pytest.param(["--slip-project", "=5"], id="slip-without-id"),
        pytest.param(["--workaround", "M1:2026-08-31:50000"], id="workaround-missing-fraction"),
        pytest.param(["--workaround", "M1:2026-08-31:50000:1.5"], id="workaround-fraction-over-1"),
        pytest.param(["--workaround", "M1:31/08/2026:50000:0.6"], id="workaround-bad-date"),
    ],
)
def test_whatif_options_are_checked(argv, capsys):
    assert cli.main(["whatif", *argv]) == 2
    assert "error: argument" in capsys.readouterr().err


def test_whatif_options_parse():
    args = cli.build_parser().parse_args(
        [
            "whatif",
            "--slip",
            "M1=14",
            "--slip",
            "PROJ:9=-3",
            "--slip-project",
            "P-ROUTE=7",
            "--workaround",
            "M1:2026-08-31:50000:0.6",
        ]
    )
    assert args.slip == [("M1", 14), ("PROJ:9", -3)]
    assert args.slip_project == [("P-ROUTE", 7)]
    assert args.workaround == [("M1", date(2026, 8, 31), 50000.0, 0.6)]
    assert args.format == "json"


def test_every_command_and_option_of_the_contract_is_accepted():
    """Fails when CLI.md names a command or option the parser does not know."""
    block = CLI_MD.read_text().split("```")[1]
    commands: dict[str, set[str]] = {}
    current = ""
    for line in block.splitlines():
        if line.startswith("python -m kpi_engine"):
            current = line.split()[3]
            commands[current] = set()
        if current:
            commands[current] |= set(re.findall(r"--[a-z-]+", line))
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    assert set(commands) <= set(subparsers)
    assert set(subparsers) - set(commands) == {"settings"}  # the one command beyond the contract
    for name, options in commands.items():
        known = {s for action in subparsers[name]._actions for s in action.option_strings}
        assert options <= known, name


def test_snapshots_of_an_empty_database(capsys, db):
    assert cli.main(["snapshots", "--db", db]) == 0
    assert capsys.readouterr().out == "No data yet: upload a week's exports or load the sample portfolio.\n"
    assert cli.main(["snapshots", "--db", db, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_ingest_again_and_snapshots_table(fleet_dir, capsys, db):
    assert cli.main(["ingest", str(fleet_dir / "fleet.xlsx"), "--db", db, "--as-of", "2026-06-08"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Stored snapshot 1 as of 2026-06-08 from 1 file(s)")
    assert out[1] == (
        "Rows: objectives 2, kpis 3, kpi_actuals 3, projects 6, milestones 6, tasks 3, dependencies 1, links 5, "
        "people 11"
    )
    assert out[2] == "Changes: none (this is the first snapshot)."

    assert cli.main(["ingest", str(fleet_dir / "fleet.xlsx"), "--db", db, "--as-of", "2026-06-08"]) == 0
    assert capsys.readouterr().out == (
        "These files were already loaded for 2026-06-08 (snapshot 1); nothing new was stored.\n"
    )

    assert cli.main(["snapshots", "--db", db]) == 0
    header, rule, row = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "snapshot_id",
        "as_of",
        "created_at",
        "author",
        *FLEET_ROWS,
        "files",
    ]
    assert set(rule) == {"-", " "}
    assert row.split()[:2] == ["1", "2026-06-08"]
    assert row.endswith("fleet.xlsx")


def test_ingest_reports_changes_since_the_previous_snapshot(fleet_dir, tmp_path, capsys, db):
    csvs = sorted(str(p) for p in fleet_dir.glob("*.csv"))
    assert cli.main(["ingest", *csvs, "--db", db, "--as-of", "2026-06-08"]) == 0
    week = tmp_path / "week"
    week.mkdir()
    lines = (fleet_dir / "milestones.csv").read_text().splitlines()
    # M1's forecast moves two weeks later and the office project gains a milestone.
    moved = [line.replace("2026-09-07,,80,Green", "2026-09-21,,80,Green") for line in lines]
    moved.append("M7,P-OFFICE,Office move,Jo Park,,2026-10-01,,,0,Green")
    (week / "milestones.csv").write_text("\n".join(moved) + "\n")
    capsys.readouterr()
    assert cli.main(["ingest", str(week), "--db", db, "--as-of", "2026-06-15"]) == 0
    captured = capsys.readouterr()
    assert "Changes since snapshot 1: 1 added, 1 forecast moved." in captured.out.splitlines()
    with Store.open(db) as store:
        moved_row = store.changes().filter(change="forecast_moved").to_dicts()[0]
    assert moved_row["detail"] == "forecast moved from 2026-09-07 to 2026-09-21 (+14 days)"
    assert moved_row["days"] == 14


def test_rejected_in_process_stores_nothing(unknown_project, capsys, db):
    assert cli.main(["ingest", str(unknown_project), "--db", db]) == 1
    assert capsys.readouterr().err.splitlines() == [UNKNOWN_PROJECT_LINE]


def test_file_over_the_size_limit_is_rejected(fleet_dir, capsys, db, monkeypatch):
    monkeypatch.setenv("KPI_MAX_UPLOAD_MB", "0.0001")
    assert cli.main(["ingest", str(fleet_dir / "fleet.xlsx"), "--db", db]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert re.fullmatch(
        r"fleet\.xlsx, sheet -, row -, column -: the file is 0\.0\d+ MB, over the 0\.0001 MB limit for one file; "
        r"split it or raise the limit with --max-upload-mb",
        err[0],
    )
    assert cli.main(["ingest", str(fleet_dir / "fleet.xlsx"), "--db", db, "--max-upload-mb", "5"]) == 0


def test_busy_database_exits_1_with_its_message(fleet_dir, capsys, db, monkeypatch):
    def busy(*args, **kwargs):
        raise DatabaseBusyError(f"the database file {db} is in use by another program")

    monkeypatch.setattr(Store, "open", busy)
    assert cli.main(["snapshots", "--db", db]) == 1
    assert capsys.readouterr().err == f"the database file {db} is in use by another program\n"


def test_db_defaults_to_the_environment(fleet_dir, tmp_path, capsys, monkeypatch):
    target = tmp_path / "from-env.duckdb"
    monkeypatch.setenv("KPI_DB", str(target))
    assert cli.main(["ingest", str(fleet_dir / "fleet.xlsx"), "--as-of", "2026-06-15"]) == 0
    with Store.open(target) as store:
        assert store.snapshot_ids() == [1]


def test_settings_are_shown_and_changed_from_the_command_line(capsys, db):
    assert (
        cli.main(["settings", "--db", str(db), "--set", "red_days=21", "--set", "currency=EUR", "--format", "json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {
        "amber_days": 7,
        "red_days": 21,
        "escalation_value": 250000.0,
        "currency": "EUR",
        "ack_days": 7,
        "pmo_email": "",
        "dashboard_url": "",
        "smtp_host": "",
        "smtp_port": 587,
        "smtp_security": "auto",
        "smtp_from": "",
        "smtp_user": "",
        "chat_webhook": "",
    }
    assert cli.main(["settings", "--db", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["red_days"] == 21


def test_a_bad_setting_is_refused_and_nothing_changes(capsys, db):
    assert cli.main(["settings", "--db", str(db), "--set", "amber_days=30"]) == 1
    assert capsys.readouterr().err.strip() == (
        "the Amber threshold (30 days) cannot exceed the Red threshold (14 days)"
    )
    assert cli.main(["settings", "--db", str(db), "--set", "red_days"]) == 2
