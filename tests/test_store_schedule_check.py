"""The schedule check of a partial upload: only what it may have moved, with the same problems as the whole check.

A snapshot keeps a date no computed finish of it passes; an upload that moves nothing by
more than the days since its base passes on that bound, any other is checked whole. Every
test here compares with the whole check, run on a store whose bounds were dropped (as a
file written before they were kept).
"""

from __future__ import annotations

import io
import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from builders import FakeUpload, upload
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_store import PORTFOLIO

from kpi_engine.core.bounds import LATEST_DATE
from kpi_engine.core.errors import UploadRejected
from kpi_engine.store import Store

BASE_DAY = date(2026, 6, 1)


def outcome(db: Path, partial: FakeUpload, as_of: date) -> list[str] | dict[str, int]:
    """The problems an upload is refused for, else the rows the snapshot it makes holds."""
    with Store.open(db) as store:
        try:
            return store.ingest(partial, as_of).rows
        except UploadRejected as refused:
            return [str(p) for p in refused.problems]


def both_ways(tmp_path: Path, base: FakeUpload, partial: FakeUpload, as_of: date) -> list[str] | dict[str, int]:
    """Store ``base``, then ``partial`` on a store that keeps the bound and on one that does not; same outcome."""
    kept, dropped = tmp_path / "kept.duckdb", tmp_path / "dropped.duckdb"
    for db in (kept, dropped):
        with Store.open(db) as store:
            store.ingest(base, BASE_DAY)
    with duckdb.connect(str(dropped)) as raw:
        assert raw.execute("SELECT count(*) FROM schedule_bounds").fetchall() == [(1,)]
        raw.execute("DELETE FROM schedule_bounds")
    result = outcome(kept, partial, as_of)
    assert outcome(dropped, partial, as_of) == result
    return result


# ---------------------------------------------------------------------- the bound
def test_each_checked_snapshot_keeps_a_bound_on_its_finishes_and_a_later_upload_moves_it(store_url):
    with Store.open(store_url) as store:
        store.ingest(upload(**PORTFOLIO), BASE_DAY)
        # A2 finishes last: B1 (2026-07-31) + 3 days of lag; A2 has no baseline start, so no duration
        assert store._rows("SELECT * FROM schedule_bounds") == [(1, date(2026, 10, 31))]
        # a KPI upload a week later: the schedule's rows are the base's, the bound moves by 7 days
        store.ingest(upload(kpi_actuals="kpi_id,as_of,value\nK1,2026-06-05,2.0\n"), BASE_DAY + timedelta(days=7))
        # a milestone upload that moves nothing further passes on the moved bound
        store.ingest(
            upload(milestones="milestone_id,project_id,name,owner,baseline_finish\nB1,PB,B one,Bob,2026-07-31\n"),
            BASE_DAY + timedelta(days=14),
        )
        assert store._rows("SELECT * FROM schedule_bounds ORDER BY snapshot_id") == [
            (1, date(2026, 10, 31)),
            (2, date(2026, 11, 7)),
            (3, date(2026, 11, 14)),
        ]


# ---------------------------------------------------------------------- cycles
def test_a_cycle_closed_by_a_carried_row_and_an_uploaded_row_on_a_partial_upload_is_refused(tmp_path):
    # B1 -> A2 belongs to project A and is carried; project B's milestones and its dependency A2 -> B1 close it
    partial = upload(
        milestones="""
            milestone_id,project_id,name,owner,baseline_finish,forecast_finish
            B1,PB,B one,Bob,2026-07-31,2026-07-31
        """,
        dependencies="""
            predecessor_id,successor_id,lag_days
            A2,B1,0
        """,
    )
    (problem,) = both_ways(tmp_path, upload(**PORTFOLIO), partial, BASE_DAY + timedelta(days=7))
    assert problem == (
        "dependencies.csv, sheet dependencies, row 2, column successor_id: these dependencies form a cycle "
        "A2 -> B1 -> A2: a milestone would wait for itself, so no finish date can be computed; remove or "
        "correct one of them (the others are carried forward from snapshot 1)"
    )


def test_an_uploaded_dependency_the_base_already_had_is_not_new(tmp_path):
    # project A re-uploads its dependency B1 -> A2 with the same lag: nothing moves, the upload is stored
    partial = upload(dependencies="predecessor_id,successor_id,lag_days\nB1,A2,3\n")
    rows = both_ways(tmp_path, upload(**PORTFOLIO), partial, BASE_DAY + timedelta(days=7))
    assert isinstance(rows, dict) and rows["dependencies"] == 1


# ---------------------------------------------------------------------- late finishes
def late_portfolio(lag: int) -> dict[str, str]:
    """Project PA's A1 leads to project PB's B1 with ``lag`` days; B1 lasts from 1900 to its baseline finish."""
    return {
        **PORTFOLIO,
        "milestones": """
            milestone_id,project_id,name,owner,baseline_start,baseline_finish,forecast_finish
            A1,PA,A one,Ann,,2026-05-01,
            A2,PA,A two,Ann,,2026-10-31,2026-10-31
            B1,PB,B one,Bob,1900-01-01,2063-07-01,
        """,
        "tasks": "task_id,milestone_id,name,forecast_finish\n",
        "dependencies": f"predecessor_id,successor_id,lag_days\nA1,B1,{lag}\n",
    }


def finish_of_b1(as_of: date, lag: int) -> date:
    """A1 is open and planned before ``as_of``: it finishes on ``as_of``; B1 after the lag and its duration."""
    return as_of + timedelta(days=lag) + (date(2063, 7, 1) - date(1900, 1, 1))


def lag_finishing_b1_on(day: date) -> int:
    return (day - finish_of_b1(BASE_DAY, 0)).days


def test_a_late_finish_downstream_in_a_project_not_in_the_upload_is_refused(tmp_path):
    lag = lag_finishing_b1_on(LATEST_DATE - timedelta(days=30))
    base = upload(**late_portfolio(lag))
    # a week later project PA's upload moves A1 two months later: B1, of project PB, passes the last date
    partial = upload(
        milestones="""
            milestone_id,project_id,name,owner,baseline_finish,forecast_finish
            A1,PA,A one,Ann,2026-05-01,2026-08-08
            A2,PA,A two,Ann,2026-10-31,2026-10-31
        """
    )
    (problem,) = both_ways(tmp_path, base, partial, BASE_DAY + timedelta(days=7))
    finish = finish_of_b1(date(2026, 8, 8), lag)
    assert finish > LATEST_DATE
    assert problem.startswith(
        f"snapshot 1, sheet dependencies, row -, column lag_days: milestone 'B1' would finish on {finish} after its predecessors"
    )


@pytest.mark.parametrize("with_milestones", [False, True], ids=["tasks alone", "tasks and milestones"])
def test_an_open_task_moved_later_that_pushes_a_finish_late_is_refused(tmp_path, with_milestones):
    lag = lag_finishing_b1_on(LATEST_DATE - timedelta(days=30))
    tasks = "task_id,milestone_id,name,forecast_finish\nT1,A1,Build,{}\n"
    base = upload(**{**late_portfolio(lag), "tasks": tasks.format("2026-05-01")})
    # a week later project PA's task of A1 ends two months later: so do A1 and, after it, B1 of project PB
    partial = {"tasks": tasks.format("2026-08-08")}
    if with_milestones:
        partial["milestones"] = "milestone_id,project_id,name,owner,baseline_finish\nA1,PA,A one,Ann,2026-05-01\n"
    (problem,) = both_ways(tmp_path, base, upload(**partial), BASE_DAY + timedelta(days=7))
    finish = finish_of_b1(date(2026, 8, 8), lag)
    assert finish > LATEST_DATE
    assert f"milestone 'B1' would finish on {finish} after its predecessors" in problem


def test_a_later_snapshot_date_alone_can_push_a_finish_past_the_last_date(tmp_path):
    # B1 finishes 3 days before the last date; an open milestone finishes no earlier than the snapshot date
    lag = lag_finishing_b1_on(LATEST_DATE - timedelta(days=3))
    base = upload(**late_portfolio(lag))
    unrelated = upload(
        milestones="""
            milestone_id,project_id,name,owner,baseline_finish,forecast_finish
            A1,PA,A one,Ann,2026-05-01,
            A2,PA,A two,Ann,2026-10-31,2026-11-02
        """
    )
    # two days later B1 still fits; a week later it does not, though the upload moved nothing leading to it
    assert isinstance(both_ways(tmp_path, base, unrelated, BASE_DAY + timedelta(days=2)), dict)
    for db in tmp_path.glob("*.duckdb"):
        db.unlink()
    (problem,) = both_ways(tmp_path, base, unrelated, BASE_DAY + timedelta(days=7))
    assert f"milestone 'B1' would finish on {LATEST_DATE + timedelta(days=4)} after" in problem


# ---------------------------------------------------------------------- random uploads
def frames_upload(tables: dict[str, pl.DataFrame]) -> FakeUpload:
    """An upload of one CSV per table, from typed frames."""
    texts = {}
    for table, frame in tables.items():
        buffer = io.StringIO()
        frame.write_csv(buffer)
        texts[table] = buffer.getvalue()
    return upload(**texts)


@st.composite
def base_and_partial(draw: st.DrawFn) -> tuple[FakeUpload, FakeUpload, date]:
    """A base of up to 12 milestones in 3 projects, some lasting centuries so that finishes come near the last
    date, and a later partial upload of some projects' milestones, tasks and dependencies, some moved."""
    n = draw(st.integers(2, 12))
    project = [draw(st.integers(0, 2)) for _ in range(n)]

    def milestone(i: int, shift: int) -> dict[str, object]:
        long = draw(st.booleans())
        start = date(1900, 1, 1) + timedelta(days=draw(st.integers(0, 3000))) if long else None
        baseline = BASE_DAY + timedelta(days=draw(st.integers(-60, 200)))
        forecast = draw(st.sampled_from([None, baseline + timedelta(days=shift)]))
        done = draw(st.integers(0, 5)) == 0
        return {
            "milestone_id": f"M{i}",
            "project_id": f"P{project[i]}",
            "name": f"Milestone {i}",
            "owner": "Mo",
            "baseline_start": start,
            "baseline_finish": baseline,
            "forecast_finish": forecast,
            "actual_finish": min(baseline, BASE_DAY - timedelta(days=1)) if done else None,
        }

    lags = st.sampled_from([0, 3, 10, 3650])
    milestones = pl.DataFrame([milestone(i, draw(st.integers(-10, 40))) for i in range(n)])
    edges = {(p, i) for i in range(1, n) for p in draw(st.sets(st.integers(0, i - 1), max_size=2))}
    dependencies = pl.DataFrame(
        [{"predecessor_id": f"M{p}", "successor_id": f"M{i}", "lag_days": draw(lags)} for p, i in sorted(edges)],
        schema={"predecessor_id": pl.String, "successor_id": pl.String, "lag_days": pl.Int64},
    )
    tasks = pl.DataFrame(
        [
            {"task_id": f"T{i}", "milestone_id": f"M{i}", "name": "Task", "forecast_finish": BASE_DAY}
            for i in range(n)
            if draw(st.booleans())
        ],
        schema={"task_id": pl.String, "milestone_id": pl.String, "name": pl.String, "forecast_finish": pl.Date},
    )
    projects = pl.DataFrame({"project_id": [f"P{p}" for p in range(3)], "name": ["A", "B", "C"], "owner": "Ann"})
    base = {"projects": projects, "milestones": milestones, "tasks": tasks, "dependencies": dependencies}

    # the partial upload: the rows of some projects, some of them moved; maybe new dependencies, even backwards
    chosen = draw(st.sets(st.integers(0, 2), min_size=1))
    ours = pl.Series([p in chosen for p in project])
    partial: dict[str, pl.DataFrame] = {}
    if draw(st.booleans()):
        moved = [draw(st.sampled_from([0, 0, 5, 40, 400])) for _ in range(n)]
        partial["milestones"] = milestones.with_columns(
            pl.col("forecast_finish").fill_null(pl.col("baseline_finish")) + pl.duration(days=pl.Series(moved)),
            pl.when(pl.Series([draw(st.integers(0, 5)) == 0 for _ in range(n)]))
            .then(None)
            .otherwise(pl.col("actual_finish"))
            .alias("actual_finish"),
        ).filter(ours)
    if draw(st.booleans()):
        partial["tasks"] = tasks.with_columns(pl.col("forecast_finish") + pl.duration(days=draw(lags))).filter(
            pl.col("milestone_id").is_in([f"M{i}" for i in range(n) if project[i] in chosen])
        )
    if draw(st.booleans()):
        extra = [
            {"predecessor_id": f"M{draw(st.integers(0, n - 1))}", "successor_id": f"M{i}", "lag_days": draw(lags)}
            for i in range(n)
            if project[i] in chosen and draw(st.booleans())
        ]
        ours_deps = dependencies.filter(
            pl.col("successor_id").is_in([f"M{i}" for i in range(n) if project[i] in chosen])
        )
        partial["dependencies"] = pl.concat([ours_deps, pl.DataFrame(extra, schema=dependencies.schema)]).unique(
            ["predecessor_id", "successor_id"], keep="first", maintain_order=True
        )
    if not partial:
        partial["milestones"] = milestones.filter(ours)
    days_later = draw(st.sampled_from([0, 1, 7, 30]))
    return frames_upload(base), frames_upload(partial), BASE_DAY + timedelta(days=days_later)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(base_and_partial())
def test_the_check_of_a_partial_upload_finds_what_the_whole_check_finds(case):
    base, partial, as_of = case
    with tempfile.TemporaryDirectory() as folder:
        try:
            with Store.open(Path(folder) / "probe.duckdb") as probe:
                probe.ingest(base, BASE_DAY)
        except UploadRejected:
            return  # a base that is refused itself stores nothing to build on
        both_ways(Path(folder), base, partial, as_of)


def test_a_file_whose_snapshot_keeps_no_bound_is_checked_whole_and_keeps_one_from_then_on(tmp_path):
    db = tmp_path / "kpi.duckdb"
    with Store.open(db) as store:
        store.ingest(upload(**PORTFOLIO), BASE_DAY)
    with duckdb.connect(str(db)) as raw:
        raw.execute("DELETE FROM schedule_bounds")
    with Store.open(db) as store:
        store.ingest(upload(kpi_actuals="kpi_id,as_of,value\nK1,2026-06-05,2.0\n"), BASE_DAY + timedelta(days=7))
        assert store._rows("SELECT count(*) FROM schedule_bounds") == [(0,)]
        store.ingest(
            upload(milestones="milestone_id,project_id,name,owner,baseline_finish\nB1,PB,B one,Bob,2026-07-31\n"),
            BASE_DAY + timedelta(days=14),
        )
        assert store._rows("SELECT * FROM schedule_bounds") == [(3, date(2026, 10, 31))]


@pytest.mark.parametrize("days_later", [0, 7])
def test_a_dry_run_keeps_no_bound(tmp_path, days_later):
    with Store.open(tmp_path / "kpi.duckdb") as store:
        store.ingest(upload(**PORTFOLIO), BASE_DAY)
        store.ingest(upload(**PORTFOLIO), BASE_DAY + timedelta(days=days_later), dry_run=True)
        assert store._rows("SELECT snapshot_id FROM schedule_bounds") == [(1,)]
