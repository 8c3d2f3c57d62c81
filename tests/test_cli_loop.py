"""The loop's commands (CLI.md): decide, decisions, notify; bad input stores nothing."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from builders import FLEET_DIR

from kpi_engine import cli
from kpi_engine.ingest import read_paths, read_upload
from kpi_engine.store import Store, is_url

M3 = ["--milestone", "M3", "--kpi", "K-OTD"]


@pytest.fixture(scope="module")
def fleet_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "kpi.duckdb"
    with Store.open(path) as store:
        store.ingest(read_upload(read_paths(sorted(FLEET_DIR.glob("*.csv")))), date(2026, 6, 15))
    return path


@pytest.fixture
def db(fleet_db: Path, store_url: str) -> str:
    """The fleet example as snapshot 1, in a store of each kind (a file is copied from ``fleet_db``)."""
    if not is_url(store_url):
        shutil.copyfile(fleet_db, store_url)
        return store_url
    with Store.open(store_url) as store:
        store.ingest(read_upload(read_paths(sorted(FLEET_DIR.glob("*.csv")))), date(2026, 6, 15))
    return store_url


def _decide(db: str, *argv: str) -> int:
    return cli.main(["decide", "--db", db, *argv])


def _stored(db: str) -> int:
    with Store.open(db) as store:
        return store.loop_log.decisions().height


def test_decisions_are_listed_oldest_first_as_json(db, capsys) -> None:
    assert _decide(db, *M3, "--by", "Marco Bellini", "--decision", "recover", "--due", "2026-06-29") == 0
    assert _decide(db, "--kpi", "K-IDLE", "--finding", "No work drives this KPI", "--by", "Sam Okafor", "--decision",
                   "escalate", "--note", "not mine to fix") == 0  # fmt: skip
    capsys.readouterr()
    assert cli.main(["decisions", "--db", db, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    for row in rows:
        assert set(row) == {
            "milestone_id",
            "kpi_id",
            "finding",
            "decision",
            "by",
            "due",
            "note",
            "recorded_at",
            "snapshot_id",
        }
    assert [
        (r["milestone_id"], r["kpi_id"], r["finding"], r["decision"], r["by"], r["due"], r["note"]) for r in rows
    ] == [
        ("M3", "K-OTD", None, "recover", "Marco Bellini", "2026-06-29", None),
        (None, "K-IDLE", "no work drives this KPI", "escalate", "Sam Okafor", None, "not mine to fix"),
    ]
    assert [r["snapshot_id"] for r in rows] == [1, 1]


def test_a_workaround_shows_its_net_value_as_the_what_if_computes_it(db, capsys) -> None:
    argv = ["--milestone", "M1", "--kpi", "K-CPM", "--by", "Dana Whitfield", "--decision", "workaround"]
    assert (
        _decide(db, *argv, "--due", "2026-09-30", "--cost", "50000", "--start", "2026-08-31", "--fraction", "0.6") == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "The workaround recovers 240,000 USD for 50,000 USD: net value 190,000 USD."
    with Store.open(db) as store:
        row = store.loop_log.decisions().row(0, named=True)
    assert (row["cost"], row["start_date"], row["fraction"]) == (50000.0, date(2026, 8, 31), 0.6)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--milestone", "M2", "--kpi", "K-CPM"],
            "no open item M2 -> K-CPM in the latest snapshot; the open items of M2 or K-CPM: M1 -> K-CPM",
            id="not-open",
        ),
        pytest.param(
            ["--milestone", "M9"],
            "no open item M9 in the latest snapshot: it is not in the exception list (closed, or never there)",
            id="unknown",
        ),
        pytest.param(
            ["--milestone", "M3"],
            "no open item M3 in the latest snapshot; the open items of M3: M3 -> K-OTD",
            id="milestone-without-its-kpi",
        ),
        pytest.param(
            ["--milestone", "M5", "--finding", "no owner"],
            "no open item M5: no owner in the latest snapshot; the open items of M5: M5: several owners",
            id="wrong-finding",
        ),
        pytest.param(
            [*M3, "--due", "2026-06-14"],
            "the due date 2026-06-14 is before the snapshot date 2026-06-15; a decision cannot be due in the past",
            id="due-before-snapshot",
        ),
        pytest.param(
            [*M3, "--note", "x" * 2001],
            "the note is 2,001 characters long; shorten it to 2,000 characters or fewer",
            id="note-too-long",
        ),
    ],
)
def test_bad_input_exits_1_with_one_line_and_stores_nothing(db, capsys, argv, message) -> None:
    base = ["--by", "Marco Bellini", "--decision", "recover"]
    if "--due" not in argv:
        base += ["--due", "2026-06-29"]
    assert _decide(db, *argv, *base) == 1
    assert capsys.readouterr().err == message + "\n"
    assert _stored(db) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--decision", "ignore"], "argument --decision: invalid choice: 'ignore'", id="unknown-word"),
        pytest.param(["--decision", "recover"], "a recover decision needs --due YYYY-MM-DD", id="recover-without-due"),
        pytest.param(
            ["--decision", "workaround", "--due", "2026-09-30", "--cost", "5"],
            "a workaround decision needs --cost, --start and --fraction",
            id="workaround-without-figures",
        ),
        pytest.param(["--decision", "accept", "--due", "30/09/2026"], "invalid date '30/09/2026'", id="bad-date"),
        pytest.param(
            ["--decision", "workaround", "--fraction", "1.5"], "not a fraction between 0 and 1", id="fraction-over-1"
        ),
    ],
)
def test_bad_usage_exits_2_and_stores_nothing(db, capsys, argv, message) -> None:
    assert _decide(db, *M3, "--by", "Marco Bellini", *argv) == 2
    assert message in capsys.readouterr().err
    assert _stored(db) == 0


def test_an_item_named_by_nothing_is_bad_usage(db, capsys) -> None:
    assert _decide(db, "--by", "Marco Bellini", "--decision", "accept") == 2
    assert "name the item with --milestone (and --kpi), or --kpi or --project with --finding" in capsys.readouterr().err


def test_an_item_closed_by_a_later_snapshot_takes_no_decision(db, tmp_path, capsys) -> None:
    fixed = tmp_path / "week"
    fixed.mkdir()
    text = (FLEET_DIR / "milestones.csv").read_text().replace("Ann Lee / Bob Stone", "Ann Lee")
    (fixed / "milestones.csv").write_text(text)
    assert cli.main(["ingest", str(fixed), "--db", db, "--as-of", "2026-06-22"]) == 0
    capsys.readouterr()
    argv = ["--milestone", "M5", "--finding", "several owners", "--by", "Ann Lee", "--decision", "accept"]
    assert _decide(db, *argv) == 1
    assert "no open item M5: several owners in the latest snapshot" in capsys.readouterr().err


def test_someone_else_deciding_is_recorded_with_a_note(db, capsys) -> None:
    assert _decide(db, *M3, "--by", "The PMO", "--decision", "accept") == 0
    assert capsys.readouterr().err == "note: the item is escalated to Marco Bellini; recorded as decided by The PMO.\n"


def test_notify_json_has_the_fields_of_the_contract(db, capsys) -> None:
    assert cli.main(["notify", "--db", db, "--dry-run", "--format", "json"]) == 0
    digests = json.loads(capsys.readouterr().out)
    assert len(digests) == 5
    for digest in digests:
        assert set(digest) == {"to", "name", "items", "sent"} and digest["sent"] is False
        for item in digest["items"]:
            assert set(item) == {
                "kind",
                "milestone_id",
                "kpi_id",
                "finding",
                "escalation_level",
                "value_at_risk",
                "reason",
            }
    dana = next(d for d in digests if d["name"] == "Dana Whitfield")
    assert dana["items"][0]["value_at_risk"] == pytest.approx(400_000, abs=0.02)


def test_ack_days_is_a_setting(db, capsys) -> None:
    assert cli.main(["settings", "--db", db, "--set", "ack_days=3", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ack_days"] == 3
    assert cli.main(["settings", "--db", db, "--set", "ack_days=0"]) == 2
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .endswith("setting 'ack_days' must be at least 1 day, got 0 (see python -m kpi_engine settings --help)")
    )


def _new_project_export(tmp_path: Path, project: str) -> Path:
    """The sample MS Project export, as the plan of a project the portfolio does not hold yet."""
    text = (FLEET_DIR.parents[2] / "data" / "sample" / "exports" / "msproject_driver_app.csv").read_text()
    path = tmp_path / f"{project}.csv"
    path.write_text(text.replace(",P-DRV\n", f",{project}\n"))
    return path


def test_two_projects_with_no_owner_are_two_items_each_decided_on_its_own(db, tmp_path, capsys) -> None:
    """The finding names neither milestone nor KPI: its project tells the two items apart (it goes to the PMO)."""
    exports = [_new_project_export(tmp_path, name) for name in ("Depot build", "Yard app")]
    assert cli.main(["ingest", "--db", db, "--as-of", "2026-06-22", *map(str, exports)]) == 0
    capsys.readouterr()
    argv = ["--finding", "project has no owner", "--by", "The PMO", "--decision", "accept"]
    assert _decide(db, "--project", "Depot build", *argv) == 0
    assert "for project Depot build: project has no owner" in capsys.readouterr().out
    assert _decide(db, "--project", "Depot build", *argv) == 0  # a later decision supersedes
    assert _decide(db, "--project", "P-NONE", *argv) == 1
    assert "no open item project P-NONE: project has no owner" in capsys.readouterr().err
    with Store.open(db) as store:
        decided = store.loop_log.decisions()
        assert decided.select("finding", "finding_project").unique().rows() == [("project has no owner", "Depot build")]
        from kpi_engine.loop.service import loop_state

        status = loop_state(store).status.filter(pl.col("finding") == "project has no owner")
    assert status.sort("finding_project").select("finding_project", "decision").rows() == [
        ("Depot build", "accept"),
        ("Yard app", None),
    ]
