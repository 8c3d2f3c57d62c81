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
    "mitigations": 0,
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
def db(store_url: str) -> str:
    """An empty store of each kind (see ``store_url`` in conftest.py)."""
    return store_url


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


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        pytest.param(["simulate", "--seed", "-1"], "use a whole number from 0 to 4,294,967,295", id="negative-seed"),
        pytest.param(["simulate", "--seed", "1e9"], "use a whole number from 0 to 4,294,967,295", id="seed-not-whole"),
        pytest.param(["simulate", "--seed", "99999999999"], "from 0 to 4,294,967,295", id="seed-too-large"),
        pytest.param(["simulate", "--runs", "0"], "use a whole number from 1 to 1,000,000", id="no-runs"),
        pytest.param(["simulate", "--runs", "10000000"], "from 1 to 1,000,000", id="too-many-runs"),
        pytest.param(["whatif", "--slip", "M1=-3"], "must be a whole number from 0 to 3,650", id="negative-slip"),
        pytest.param(["whatif", "--slip", "M1=999999"], "from 0 to 3,650", id="slip-too-long"),
        pytest.param(["whatif", "--slip-project", "P-ROUTE=-1"], "from 0 to 3,650", id="negative-project-slip"),
        pytest.param(
            ["whatif", "--workaround", "M1:2026-08-31:1e300:0.5"],
            "must be a number from 0 to 1,000,000,000,000",
            id="workaround-cost-1e300",
        ),
        pytest.param(
            ["whatif", "--workaround", "M1:2026-08-31:nan:0.5"], "from 0 to 1,000,000,000,000", id="workaround-cost-nan"
        ),
        pytest.param(
            ["whatif", "--workaround", "M1:9999-12-31:100:0.5"],
            "outside the accepted dates 1900-01-01 to 2199-12-31",
            id="workaround-placeholder-date",
        ),
        pytest.param(
            ["ingest", "x.csv", "--as-of", "9999-12-31"],
            "the date 9999-12-31 is outside the accepted dates 1900-01-01 to 2199-12-31",
            id="as-of-placeholder",
        ),
        pytest.param(["ingest", "x.csv", "--max-upload-mb", "inf"], "is not a number greater than 0", id="max-mb-inf"),
        pytest.param(
            ["settings", "--set", "escalation_value=nan"], "must be a finite number", id="escalation-value-nan"
        ),
        pytest.param(["settings", "--set", "red_days=-2"], "cannot be negative", id="negative-red-days"),
        pytest.param(["settings", "--set", "colour=red"], "unknown setting 'colour'", id="unknown-setting"),
        pytest.param(["kpis", "--format", "xml"], "invalid choice: 'xml'", id="unknown-format"),
    ],
)
def test_every_option_out_of_its_range_is_bad_usage_in_one_line(argv, allowed, capsys, db):
    assert cli.main([*argv, "--db", db]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"python -m kpi_engine {argv[0]}: error: argument")
    assert allowed in err[0]
    assert not Path(db).exists()  # refused before anything was opened


@pytest.mark.slow
def test_a_negative_seed_prints_no_traceback(tmp_path):
    result = run("simulate", "--seed", "-1", "--db", str(tmp_path / "kpi.duckdb"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "python -m kpi_engine simulate: error: argument --seed: '-1' is not a seed: use a whole number from 0 "
        "to 4,294,967,295 (see python -m kpi_engine simulate --help)"
    ]


def test_an_unexpected_error_is_one_line_not_a_traceback(monkeypatch, capsys, db):
    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "cmd_kpis", broken)
    monkeypatch.delenv("KPI_DEBUG", raising=False)
    assert cli.main(["kpis", "--db", db]) == 1
    assert capsys.readouterr().err == (
        "unexpected error (ZeroDivisionError: division by zero); this is a bug, please report it\n"
    )


def test_whatif_options_parse():
    args = cli.build_parser().parse_args(
        [
            "whatif",
            "--slip",
            "M1=14",
            "--slip",
            "PROJ:9=+3",
            "--slip-project",
            "P-ROUTE=7",
            "--workaround",
            "M1:2026-08-31:50000:0.6",
        ]
    )
    assert args.slip == [("M1", 14), ("PROJ:9", 3)]
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
    assert set(subparsers) - set(commands) == {"settings", "compact"}  # the commands beyond the contract
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
        "people 11, mitigations 0"
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
        "version",
        "created_at",
        "author",
        *FLEET_ROWS,
        "files",
    ]
    assert set(rule) == {"-", " "}
    assert row.split()[:3] == ["1", "2026-06-08", "1"]
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
        "workaround_budget": 0.0,
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


# ---------------------------------------------------------------------- decision support (DOMAIN.md section 7)
MITIGATIONS_CSV = (
    "milestone_id,name,start_date,cost,fraction\n"
    "M1,Vendor war room,2026-08-31,50000,0.6\n"
    "M1,Second vendor,2026-08-31,150000,0.9\n"
    "M3,Overtime,2026-09-01,20000,0.5\n"
)


@pytest.fixture
def fleet_with_candidates(fleet_dir, tmp_path, db) -> str:
    """The worked example as of 2026-06-15 with three candidate workarounds."""
    (tmp_path / "mitigations.csv").write_text(MITIGATIONS_CSV)
    files = [str(p) for p in sorted(fleet_dir.glob("*.csv"))] + [str(tmp_path / "mitigations.csv")]
    assert cli.main(["ingest", *files, "--db", db, "--as-of", "2026-06-15"]) == 0
    return db


def test_optimize_json_chooses_the_best_set(fleet_with_candidates, capsys):
    capsys.readouterr()
    assert cli.main(["optimize", "--db", fleet_with_candidates, "--budget", "100000", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"budget", "chosen", "total_cost", "total_recovered", "total_net", "frontier"}
    assert [(c["milestone_id"], c["name"]) for c in out["chosen"]] == [("M1", "Vendor war room"), ("M3", "Overtime")]
    assert out["total_cost"] == 70_000
    assert out["total_net"] == pytest.approx(200_000, abs=0.02)
    assert [p["budget"] for p in out["frontier"]] == [0, 20_000, 50_000, 70_000, 150_000, 170_000]


def test_optimize_with_no_budget_chooses_nothing(fleet_with_candidates, capsys):
    capsys.readouterr()
    assert cli.main(["optimize", "--db", fleet_with_candidates, "--budget", "0", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["chosen"], out["total_cost"], out["total_net"]) == ([], 0, 0)


@pytest.mark.parametrize("budget", ["-1", "lots", "nan", "inf"])
def test_optimize_budget_that_is_negative_or_not_a_number_is_bad_usage(budget, capsys):
    assert cli.main(["optimize", f"--budget={budget}"]) == 2
    err = capsys.readouterr().err
    assert (
        f"argument --budget: '{budget}' is not a budget: use a number from 0 to 1,000,000,000,000, e.g. 250000" in err
    )
    assert len(err.strip().splitlines()) == 1


def test_mitigation_with_bad_values_is_rejected_with_file_row_and_column(fleet_dir, tmp_path, db, capsys):
    (tmp_path / "mitigations.csv").write_text(
        "milestone_id,name,start_date,cost,fraction\n"
        "M1,Too much,2026-08-31,50000,1.5\n"
        "M1,Paid to us,2026-08-31,-10,0.5\n"
        "M9,Nowhere,2026-08-31,10,0.5\n"
        "M1,Too early,2025-01-01,10,0.5\n"
    )
    files = [str(p) for p in sorted(fleet_dir.glob("*.csv"))] + [str(tmp_path / "mitigations.csv")]
    assert cli.main(["ingest", *files, "--db", db, "--as-of", "2026-06-15"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert "mitigations.csv, sheet mitigations, row 2, column fraction: '1.5' is outside 0 to 1" in lines
    assert "mitigations.csv, sheet mitigations, row 3, column cost: '-10' cannot be negative" in lines
    with Store.open(db) as store:
        assert store.is_empty()


def test_mitigation_naming_an_unknown_milestone_or_starting_before_the_period_is_rejected(
    fleet_dir, tmp_path, db, capsys
):
    (tmp_path / "mitigations.csv").write_text(
        "milestone_id,name,start_date,cost,fraction\nM9,Nowhere,2026-08-31,10,0.5\nM1,Too early,2025-01-01,10,0.5\n"
    )
    files = [str(p) for p in sorted(fleet_dir.glob("*.csv"))] + [str(tmp_path / "mitigations.csv")]
    assert cli.main(["ingest", *files, "--db", db, "--as-of", "2026-06-15"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "mitigations.csv, sheet mitigations, row 2, column milestone_id: unknown milestone 'M9'; "
        "add it to the milestones sheet or fix the id",
        "mitigations.csv, sheet mitigations, row 3, column start_date: starts on 2025-01-01, before the period of "
        "its milestone's KPIs (from 2026-01-01); start on 2026-01-01 or later",
    ]
    with Store.open(db) as store:
        assert store.is_empty()


def test_mitigations_are_carried_forward(fleet_with_candidates, fleet_dir, capsys):
    assert (
        cli.main(["ingest", str(fleet_dir / "milestones.csv"), "--db", fleet_with_candidates, "--as-of", "2026-06-22"])
        == 0
    )
    with Store.open(fleet_with_candidates) as store:
        assert store.load_portfolio().mitigations.height == 3


def test_credibility_json_over_three_weeks(fleet_dir, db, capsys):
    files = [str(p) for p in sorted(fleet_dir.glob("*.csv"))]
    for as_of in ("2026-06-15", "2026-06-22", "2026-06-29"):
        assert cli.main(["ingest", *files, "--db", db, "--as-of", as_of]) == 0
    capsys.readouterr()
    assert cli.main(["credibility", "--db", db, "--format", "json"]) == 0
    rows = {row["person"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["Priya Raman"] == {"person": "Priya Raman", "reports": 3, "watermelons": 3, "credibility": 0.0}
    assert rows["Luis Ortega"] == {"person": "Luis Ortega", "reports": 3, "watermelons": 3, "credibility": 0.0}
    assert rows["Jo Park"] == {"person": "Jo Park", "reports": 3, "watermelons": 0, "credibility": 1.0}


def test_report_writes_a_deck(fleet_with_candidates, tmp_path, capsys):
    out = tmp_path / "board.pptx"
    assert cli.main(["report", "--db", fleet_with_candidates, "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"Wrote {out}: 5 exceptions")
    assert out.read_bytes()[:2] == b"PK"


# ---------------------------------------------------------------------- exports: projects, milestones, weeks
SAMPLE_EXPORTS = REPO / "data" / "sample" / "exports"


@pytest.fixture
def sample_db(tmp_path: Path) -> str:
    """The bundled sample portfolio (eight weeks, the last 2026-06-15) in a fresh database."""
    from kpi_engine.sample import load_sample

    path = tmp_path / "sample.duckdb"
    with Store.open(path) as store:
        load_sample(store)
    return str(path)


def test_an_export_that_removes_a_milestone_is_refused_with_what_it_disconnects(sample_db, capsys):
    from kpi_engine.analysis import analyse

    with Store.open(sample_db) as store:
        before = store.snapshot_ids()
        value = analyse(store).link("M3", "K-OTD")["value_at_risk"]
    export = str(SAMPLE_EXPORTS / "msproject_driver_app.csv")
    assert cli.main(["ingest", export, "--db", sample_db, "--as-of", "2026-06-22"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "This upload removes milestone 'M3' (Driver app rollout, project P-DRV): disconnects its link to KPI K-OTD "
        f"and 1 dependency; its value at risk of {value:,.0f} USD leaves the totals.",
        "Nothing was stored. Upload the missing milestones too, or add --allow-removals to remove them.",
    ]
    with Store.open(sample_db) as store:
        assert store.snapshot_ids() == before

    assert cli.main(["ingest", export, "--db", sample_db, "--as-of", "2026-06-22", "--allow-removals"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "Project 'P-DRV' (Driver mobile app) matched by id: msproject_driver_app.csv." in out
    assert "New milestones: 4." in out
    assert out[-1].startswith("This upload removes milestone 'M3' (Driver app rollout, project P-DRV)")


def test_an_export_of_a_new_project_creates_it_and_the_project_option_attaches_it(sample_db, tmp_path, capsys):
    header, _summary, *rows = (SAMPLE_EXPORTS / "msproject_driver_app.csv").read_text().splitlines()
    # MS Project's project summary task (ID 0) names the project; no Project column
    plan = tmp_path / "plan.csv"
    summary = "0,0,Depot  electrification,162 days,Mon 3/2/26,Tue 10/13/26,,0,Yes,No,Mon 3/2/26,Fri 9/25/26,NA,38%,"
    plan.write_text("\n".join([header.rsplit(",", 1)[0], summary, *(r.rsplit(",", 1)[0] for r in rows)]) + "\n")

    assert cli.main(["ingest", str(plan), "--db", sample_db, "--as-of", "2026-06-22"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        "Project 'Depot  electrification' (Depot  electrification) created from plan.csv: "
        "it has no owner until the PMO names one."
    ) in out
    assert cli.main(["exceptions", "--db", sample_db, "--format", "json"]) == 0
    rows_json = json.loads(capsys.readouterr().out)
    (finding,) = [r for r in rows_json if r["kind"] == "governance" and r["milestone_id"] is r["kpi_id"] is None]
    assert finding["why"] == "Project Depot  electrification: has no owner; the PMO names one accountable person."
    # the table names the project of the finding, which has neither milestone nor KPI
    assert cli.main(["exceptions", "--db", sample_db]) == 0
    header, _rule, *lines = capsys.readouterr().out.splitlines()
    assert header.split()[:4] == ["kind", "project_id", "milestone_id", "kpi_id"]
    (line,) = [line for line in lines if "project has no owner" in line]
    assert line.startswith("governance  Depot  electrification  ")

    # attached to the Driver app project instead, the same file replaces its milestones (confirmed)
    assert cli.main(["ingest", str(plan), "--db", sample_db, "--as-of", "2026-06-29", "--project", "P-DRV"]) == 1
    assert "removes milestone 'M3'" in capsys.readouterr().err
    argv = ["ingest", str(plan), "--db", sample_db, "--as-of", "2026-06-29", "--project", "P-DRV", "--allow-removals"]
    assert cli.main(argv) == 0
    assert "Project 'P-DRV' (Driver mobile app) chosen (the export names 'Depot  electrification'): plan.csv." in (
        capsys.readouterr().out.splitlines()
    )

    assert cli.main(["ingest", str(plan), "--db", sample_db, "--project", "NOPE"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "plan.csv, sheet -, row -, column Project: there is no project 'NOPE' to attach this export to"
    ]


def test_the_project_option_needs_a_tool_export(fleet_dir, capsys, db):
    assert cli.main(["ingest", str(fleet_dir / "fleet.xlsx"), "--db", db, "--project", "P-A"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "--project attaches tool exports to a project, but these files hold no tool export"
    ]


def test_uploads_of_one_date_list_as_versions_of_one_week(fleet_dir, tmp_path, capsys, db):
    csvs = sorted(str(p) for p in fleet_dir.glob("*.csv"))
    assert cli.main(["ingest", *csvs, "--db", db, "--as-of", "2026-06-08"]) == 0
    week = tmp_path / "week"
    week.mkdir()
    (week / "tasks.csv").write_text((fleet_dir / "tasks.csv").read_text())
    (week / "milestones.csv").write_text(
        (fleet_dir / "milestones.csv").read_text().replace("2026-09-07,,80", "2026-09-14,,80")
    )
    assert cli.main(["ingest", str(week / "tasks.csv"), "--db", db, "--as-of", "2026-06-15"]) == 0
    capsys.readouterr()
    assert cli.main(["ingest", str(week / "milestones.csv"), "--db", db, "--as-of", "2026-06-15"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Stored snapshot 3 as of 2026-06-15 (version 2 of that week, amending snapshot 2)")
    assert "Changes since snapshot 1: 1 forecast moved." in out
    assert cli.main(["snapshots", "--db", db, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["snapshot_id"], s["as_of"]) for s in listed] == [(1, "2026-06-08"), (2, "2026-06-15"), (3, "2026-06-15")]
    assert all(set(s) == {"snapshot_id", "as_of", "created_at", "files", "rows"} for s in listed)
