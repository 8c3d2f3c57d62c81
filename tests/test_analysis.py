"""Stored snapshots computed with their context (kpi_engine/analysis.py): a bad earlier snapshot never spoils a later one.

An older version could store what ingest now refuses (a dependency cycle, a forecast of
9999-12-31 with a successor). These tests write such a snapshot directly, bypassing the
checks, and show that it fails alone while every later snapshot still reads.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from builders import FLEET_DIR
from polars.testing import assert_frame_equal

from kpi_engine import cli
from kpi_engine.analysis import analyse, milestone_history
from kpi_engine.core.errors import CycleError, OutOfRangeError
from kpi_engine.ingest import read_paths, read_upload
from kpi_engine.store import Store
from kpi_engine.store import merge as store_merge


def fleet_upload():
    paths = sorted(FLEET_DIR.glob("*.csv"))
    files = read_paths(paths)
    return read_upload(files), files


def store_unchecked(db: Path, upload, as_of: date, monkeypatch: pytest.MonkeyPatch) -> None:
    """Store an upload as an older version would have: without the schedule checks."""
    with monkeypatch.context() as patched:
        patched.setattr(store_merge, "_schedule_problems", lambda *args: [])
        with Store.open(db) as store:
            store.ingest(upload, as_of)


def with_rows(upload, table: str, frame: pl.DataFrame):
    return replace(upload, tables={**upload.tables, table: frame})


@pytest.fixture
def cyclic_then_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Snapshot 1 (2026-06-15) holds the cycle M1 -> M3 -> M1; snapshot 2 (2026-06-22) is the clean example."""
    db = tmp_path / "kpi.duckdb"
    upload, _ = fleet_upload()
    deps = upload.tables["dependencies"]
    back = deps.with_columns(
        pl.lit("M3").alias("predecessor_id"), pl.lit("M1").alias("successor_id"), pl.lit(3, pl.Int64).alias("_row")
    )
    store_unchecked(db, with_rows(upload, "dependencies", pl.concat([deps, back])), date(2026, 6, 15), monkeypatch)
    assert (
        cli.main(
            [
                "ingest",
                str(FLEET_DIR / "milestones.csv"),
                str(FLEET_DIR / "dependencies.csv"),
                "--db",
                str(db),
                "--as-of",
                "2026-06-22",
            ]
        )
        == 0
    )
    return db


def test_a_stored_cyclic_snapshot_fails_alone_with_the_cycle_named(cyclic_then_clean):
    with Store.open(cyclic_then_clean) as store:
        with pytest.raises(CycleError, match="dependencies form a cycle M1 -> M3 -> M1"):
            analyse(store, 1)
        latest = analyse(store)
    assert latest.exceptions.select("kind", "milestone_id", "kpi_id").rows() == [
        ("milestone", "M1", "K-CPM"),
        ("milestone", "M3", "K-OTD"),
        ("governance", "M5", None),
        ("governance", "M6", None),
        ("governance", None, "K-IDLE"),
    ]
    # without a readable previous snapshot: no "Amber or Red last week too" bump, nothing new
    assert latest.milestone("M1")["previous_status"] is None
    assert latest.exceptions["new"].to_list() == [False] * 5


def test_the_slip_history_leaves_a_bad_snapshot_out(cyclic_then_clean):
    with Store.open(cyclic_then_clean) as store:
        history = milestone_history(store)
    assert history["snapshot_id"].unique().to_list() == [2]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["exceptions", "--format", "json"], id="exceptions"),
        pytest.param(["kpis", "--format", "json"], id="kpis"),
        pytest.param(["whatif", "--slip", "M1=14"], id="whatif"),
        pytest.param(["simulate", "--runs", "20"], id="simulate"),
    ],
)
def test_every_reading_command_works_on_the_snapshot_after_a_bad_one(cyclic_then_clean, argv, capsys):
    capsys.readouterr()
    assert cli.main([*argv, "--db", str(cyclic_then_clean)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) and captured.err == ""


def test_a_stored_placeholder_date_fails_alone_and_simulate_recovers_once_it_is_corrected(
    tmp_path, monkeypatch, capsys
):
    db = tmp_path / "kpi.duckdb"
    upload, _ = fleet_upload()
    milestones = upload.tables["milestones"].with_columns(
        pl.when(pl.col("milestone_id") == "M1")
        .then(pl.lit(date(9999, 12, 31)))
        .otherwise(pl.col("forecast_finish"))
        .alias("forecast_finish")
    )
    store_unchecked(db, with_rows(upload, "milestones", milestones), date(2026, 6, 15), monkeypatch)
    # M1 finishes 9999-12-31 and its successor M3 thirty days later: no calendar holds that
    with Store.open(db) as store, pytest.raises(OutOfRangeError, match="milestone 'M3' would finish after 9999-12-31"):
        analyse(store)
    assert cli.main(["exceptions", "--db", str(db), "--format", "json"]) == 1
    assert capsys.readouterr().err.startswith("milestone 'M3' would finish after 9999-12-31")
    # the corrected milestones the next week: every command reads again, simulate included
    assert cli.main(["ingest", str(FLEET_DIR / "milestones.csv"), "--db", str(db), "--as-of", "2026-06-22"]) == 0
    for argv in (["simulate", "--runs", "20"], ["whatif"], ["exceptions", "--format", "json"]):
        capsys.readouterr()
        assert cli.main([*argv, "--db", str(db)]) == 0, argv
        assert capsys.readouterr().err == ""
    assert cli.main(["report", "--db", str(db), "--out", str(tmp_path / "board.xlsx")]) == 0


def test_the_slip_history_from_known_results_is_the_history_computed_afresh(tmp_path):
    from kpi_engine.engine.compute import compute
    from kpi_engine.sample import load_sample

    with Store.open(tmp_path / "kpi.duckdb") as store:
        load_sample(store)
        latest = store.latest_snapshot_id()
        previous = store.previous_snapshot_id(latest)
        known = {i: compute(store.load_portfolio(i), store.settings()).milestones for i in (latest, previous)}
        fresh = milestone_history(store, latest)
        reused = milestone_history(store, latest, known)
    assert fresh.height > 0 and fresh["moved_days"].drop_nulls().abs().sum() > 0
    assert fresh["snapshot_id"].n_unique() > 2
    assert_frame_equal(reused, fresh)


def test_an_older_snapshot_gives_the_reports_and_the_history_computed_alone(tmp_path):
    from kpi_engine.analysis import (
        OlderSnapshot,
        older_snapshot,
        older_snapshots,
        report_snapshot_ids,
        snapshot_reports,
    )
    from kpi_engine.engine.compute import compute
    from kpi_engine.engine.credibility import report_rows
    from kpi_engine.sample import load_sample

    with Store.open(tmp_path / "kpi.duckdb") as store:
        load_sample(store)
        latest = store.latest_snapshot_id()
        olders = {i: older_snapshot(store, i) for i in report_snapshot_ids(store, latest)}
        together = older_snapshots(store, list(olders))
        assert list(together) == list(olders)
        for snapshot_id, found in together.items():
            assert isinstance(found, OlderSnapshot)
            assert_frame_equal(found.reports, olders[snapshot_id].reports)
            assert_frame_equal(found.milestones, olders[snapshot_id].milestones)
        for snapshot_id, found in olders.items():
            assert_frame_equal(found.reports, snapshot_reports(store, snapshot_id))
            # the same reports as the full engine's result gives
            whole = compute(store.load_portfolio(snapshot_id), store.settings())
            assert_frame_equal(found.reports, report_rows(whole, snapshot_id))
        reused = milestone_history(store, latest, {i: found.milestones for i, found in olders.items()})
        fresh = milestone_history(store, latest)
    assert sum(found.reports["watermelon"].sum() for found in olders.values()) > 0
    assert_frame_equal(reused, fresh)


def test_an_older_snapshot_that_cannot_be_computed_says_why(cyclic_then_clean):
    from kpi_engine.analysis import older_snapshot

    with Store.open(cyclic_then_clean) as store, pytest.raises(CycleError):
        older_snapshot(store, 1)


def test_older_snapshots_read_together_keep_the_error_of_one_that_cannot_be_computed(cyclic_then_clean):
    from kpi_engine.analysis import OlderSnapshot, older_snapshots

    with Store.open(cyclic_then_clean) as store:
        found = older_snapshots(store, [1, 2])
    assert isinstance(found[1], CycleError)
    assert isinstance(found[2], OlderSnapshot) and found[2].milestones.height > 0
