"""The store: snapshots with carry-forward, one-transaction ingest, changes, and the small tables."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from builders import FakeFile, FakeUpload, upload
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from kpi_engine.core.errors import DatabaseBusyError, InputError, NoDataError, NotFoundError, UploadRejected
from kpi_engine.core.schema import TABLES
from kpi_engine.core.settings import Settings
from kpi_engine.store import CHANGES_SCHEMA, Store, kpi_actual_changes, milestone_changes, resolve_db_path

PORTFOLIO = dict(
    objectives="""
        objective_id,name,owner
        O1,Cut cost,Dana
    """,
    kpis="""
        kpi_id,name,objective_id,owner,direction,baseline_value,target_value,period_start,target_date
        K1,Cost per mile,O1,Sam,lower_is_better,2.1,1.95,2026-01-01,2026-09-30
    """,
    projects="""
        project_id,name,owner
        PA,Project A,Ann
        PB,Project B,Bob
    """,
    milestones="""
        milestone_id,project_id,name,owner,baseline_finish,forecast_finish,actual_finish,reported_status
        A1,PA,A one,Ann,2026-08-31,2026-09-07,,Green
        A2,PA,A two,Ann,2026-10-31,2026-10-31,,Green
        B1,PB,B one,Bob,2026-07-31,2026-07-31,,Amber
    """,
    tasks="""
        task_id,milestone_id,name,forecast_finish
        TA1,A1,Task A1,2026-09-01
        TB1,B1,Task B1,2026-07-15
    """,
    links="""
        milestone_id,kpi_id,kpi_delta
        A1,K1,-0.1
        B1,K1,-0.05
    """,
    dependencies="""
        predecessor_id,successor_id,lag_days
        B1,A2,3
    """,
)

#: A second week's upload of project PA alone: A1 slips three weeks and gains a task.
WEEK2_PROJECT_A = dict(
    milestones="""
        milestone_id,project_id,name,owner,baseline_finish,forecast_finish,actual_finish,reported_status
        A1,PA,A one,Ann,2026-08-31,2026-09-21,,Amber
    """,
    tasks="""
        task_id,milestone_id,name,forecast_finish
        TA9,A1,New task,2026-09-20
    """,
)


@pytest.fixture
def store(store_url: str):
    """An empty store of each kind (see ``store_url`` in conftest.py)."""
    with Store.open(store_url) as opened:
        yield opened


@pytest.fixture
def loaded(store: Store) -> Store:
    """A store holding the portfolio above as snapshot 1 of 2026-06-01."""
    store.ingest(upload(**PORTFOLIO), date(2026, 6, 1), author="test")
    return store


def ids(frame: pl.DataFrame, column: str) -> list[str]:
    return sorted(frame[column].to_list())


# ---------------------------------------------------------------------- opening
def test_db_path_falls_back_to_env_then_default(monkeypatch, tmp_path):
    monkeypatch.delenv("KPI_DB", raising=False)
    assert resolve_db_path() == Path("data/kpi.duckdb")
    monkeypatch.setenv("KPI_DB", str(tmp_path / "env.duckdb"))
    assert resolve_db_path() == tmp_path / "env.duckdb"
    assert resolve_db_path(tmp_path / "arg.duckdb") == tmp_path / "arg.duckdb"


def test_open_creates_folder_and_tables_idempotently(tmp_path):
    path = tmp_path / "new" / "folder" / "kpi.duckdb"
    with Store.open(path) as first:
        assert first.is_empty()
    with Store.open(path) as again:
        assert again.is_empty()
        assert again.snapshots().height == 0


def test_in_memory_database_for_throwaway_work():
    with Store.open(":memory:") as store:
        store.ingest(upload(**PORTFOLIO), date(2026, 6, 1))
        assert store.snapshot_ids() == [1]


def test_duckdb_cannot_read_files(store):
    with pytest.raises(Exception, match="disabled by configuration"):
        store._rows("SELECT * FROM read_csv('/etc/hostname')")


def test_busy_database_raises_after_timeout(tmp_path):
    path = tmp_path / "busy.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(DatabaseBusyError) as err:
            Store.open(path, busy_timeout=0.3)
        assert str(err.value) == (
            f"the database file {path} is in use by another program "
            "(for example the dashboard or a scheduled job); try again in a moment"
        )
    finally:
        holder.kill()
        holder.wait()
    with Store.open(path, busy_timeout=5) as store:  # free again once the other program stops
        assert store.is_empty()


def test_not_a_database_file_is_an_input_error(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("these are my notes")
    with pytest.raises(InputError, match="cannot be opened"):
        Store.open(path)


# ---------------------------------------------------------------------- empty database
def test_empty_store_says_no_data(store):
    with pytest.raises(NoDataError, match=r"^No data yet: upload a week's exports or load the sample portfolio\.$"):
        store.latest_snapshot_id()
    with pytest.raises(NoDataError):
        store.load_portfolio()


# ---------------------------------------------------------------------- ingest
def test_first_upload_stores_every_table(loaded):
    snapshot = loaded.latest_snapshot_id()
    portfolio = loaded.load_portfolio()
    assert snapshot == 1
    assert portfolio.as_of == date(2026, 6, 1)
    assert ids(portfolio.milestones, "milestone_id") == ["A1", "A2", "B1"]
    assert portfolio.dependencies["lag_days"].to_list() == [3]
    assert portfolio.kpi_actuals.height == 0
    assert loaded.changes().height == 0  # nothing to compare the first snapshot with


def test_a_portfolio_loads_only_the_tables_asked_for(loaded):
    whole = loaded.load_portfolio()
    some = loaded.load_portfolio(tables=("milestones", "links"))
    assert_frame_equal(some.milestones, whole.milestones)
    assert_frame_equal(some.links, whole.links)
    assert whole.projects.height > 0 and some.projects.height == 0
    assert some.projects.schema == whole.projects.schema
    with pytest.raises(NotFoundError, match="there is no table 'milestone'"):
        loaded.load_portfolio(tables=("milestone",))


def test_portfolios_read_together_are_those_read_one_by_one(loaded):
    week2 = upload(**WEEK2_PROJECT_A)
    loaded.ingest(week2, date(2026, 6, 8))
    snapshot_ids = loaded.snapshots()["snapshot_id"].to_list()
    together = loaded.load_portfolios(snapshot_ids)
    assert list(together) == snapshot_ids == [1, 2]
    for snapshot_id in snapshot_ids:
        alone = loaded.load_portfolio(snapshot_id)
        assert together[snapshot_id].as_of == alone.as_of
        for name, table in alone.tables().items():
            assert_frame_equal(together[snapshot_id].tables()[name], table)
    # the weekly upload removed A2 and replaced TA1: each snapshot has its own rows
    assert ids(together[1].milestones, "milestone_id") == ["A1", "A2", "B1"]
    assert ids(together[2].tasks, "task_id") == ["TA9", "TB1"]
    assert loaded.load_portfolios([2], tables=["tasks"])[2].milestones.height == 0
    with pytest.raises(NoDataError):
        loaded.load_portfolios([99])


def test_result_counts_rows_and_lists_files(store):
    result = store.ingest(upload(**PORTFOLIO), date(2026, 6, 1))
    assert result.snapshot_id == 1 and not result.unchanged
    assert result.rows == {
        "objectives": 1,
        "kpis": 1,
        "kpi_actuals": 0,
        "projects": 2,
        "milestones": 3,
        "tasks": 2,
        "dependencies": 1,
        "links": 2,
        "people": 0,
        "mitigations": 0,
    }
    assert [f.name for f in result.files] == [f"{t}.csv" for t in PORTFOLIO]


def test_identical_upload_again_is_a_no_op(loaded):
    again = loaded.ingest(upload(**PORTFOLIO), date(2026, 6, 1))
    assert again.unchanged
    assert again.snapshot_id == 1
    assert again.message == "These files were already loaded for 2026-06-01 (snapshot 1); nothing new was stored."
    assert again.previous_snapshot_id is None
    assert loaded.snapshot_ids() == [1]


def test_same_files_for_another_date_make_a_new_snapshot(loaded):
    result = loaded.ingest(upload(**PORTFOLIO), date(2026, 6, 8))
    assert not result.unchanged and result.snapshot_id == 2
    assert result.changes.height == 0


def test_partial_upload_carries_other_projects_forward(loaded):
    week2 = upload(**WEEK2_PROJECT_A)
    result = loaded.ingest(week2, date(2026, 6, 8))
    portfolio = loaded.load_portfolio()
    # Project A now holds only what was uploaded for it (A2 is gone); project B is untouched.
    assert ids(portfolio.milestones, "milestone_id") == ["A1", "B1"]
    assert ids(portfolio.tasks, "task_id") == ["TA9", "TB1"]
    # Tables not in the upload are carried forward whole.
    assert portfolio.links.height == 2 and portfolio.projects.height == 2
    assert result.rows["milestones"] == 2 and result.rows["links"] == 2
    # The first snapshot is intact.
    assert ids(loaded.load_portfolio(1).milestones, "milestone_id") == ["A1", "A2", "B1"]


def test_tasks_alone_scope_by_their_milestones_project(loaded):
    week2 = upload(
        tasks="""
            task_id,milestone_id,name,forecast_finish
            TB2,B1,Other task,2026-07-20
        """
    )
    loaded.ingest(week2, date(2026, 6, 8))
    tasks = loaded.load_portfolio().tasks
    # B1 belongs to PB in the previous snapshot, so PB's tasks are replaced; PA's stay.
    assert ids(tasks, "task_id") == ["TA1", "TB2"]


def test_dependencies_are_scoped_by_successor(loaded):
    week2 = upload(
        dependencies="""
            predecessor_id,successor_id,lag_days
            A1,B1,0
        """
    )
    loaded.ingest(week2, date(2026, 6, 8))
    deps = loaded.load_portfolio().dependencies
    # B1 -> A2 belongs to PA (successor A2) and is kept; A1 -> B1 is PB's.
    assert sorted(zip(deps["predecessor_id"], deps["successor_id"], strict=False)) == [("A1", "B1"), ("B1", "A2")]


def test_moved_task_is_not_duplicated(loaded):
    week2 = upload(
        tasks="""
            task_id,milestone_id,name,forecast_finish
            TA1,B1,Moved task,2026-07-20
        """
    )
    loaded.ingest(week2, date(2026, 6, 8))
    tasks = loaded.load_portfolio().tasks
    assert tasks.filter(pl.col("task_id") == "TA1")["milestone_id"].to_list() == ["B1"]


def test_kpis_and_actuals_are_upserted_by_key(loaded):
    loaded.ingest(
        upload(
            kpi_actuals="""
            kpi_id,as_of,value
            K1,2026-05-31,2.05
        """
        ),
        date(2026, 6, 8),
    )
    loaded.ingest(
        upload(
            kpi_actuals="""
                kpi_id,as_of,value
                K1,2026-05-31,2.04
                K1,2026-06-30,2.01
            """,
            kpis="""
                kpi_id,name,objective_id,owner,direction,baseline_value,target_value,period_start,target_date
                K2,Idle hours,,Sam,lower_is_better,6,5,2026-01-01,2026-12-31
            """,
        ),
        date(2026, 6, 15),
    )
    portfolio = loaded.load_portfolio()
    expected = pl.DataFrame(
        {"kpi_id": ["K1", "K1"], "as_of": [date(2026, 5, 31), date(2026, 6, 30)], "value": [2.04, 2.01]}
    )
    assert_frame_equal(portfolio.kpi_actuals.sort("as_of"), expected)
    assert ids(portfolio.kpis, "kpi_id") == ["K1", "K2"]


def test_unknown_project_rejects_the_whole_upload(loaded):
    bad = upload(
        milestones="""
            milestone_id,project_id,name,owner,baseline_finish
            A1,PA,A one,Ann,2026-08-31
            X1,P-X,Mystery,Max,2026-09-30
        """,
        tasks="""
            task_id,milestone_id,name,forecast_finish
            TX1,X1,Mystery task,2026-09-01
        """,
    )
    with pytest.raises(UploadRejected) as err:
        loaded.ingest(bad, date(2026, 6, 8))
    assert err.value.lines() == [
        "milestones.csv, sheet milestones, row 3, column project_id: "
        "unknown project 'P-X'; add it to the projects sheet or fix the id"
    ]
    # Nothing of it was stored, and the earlier snapshot is intact.
    assert loaded.snapshot_ids() == [1]
    assert loaded.files()["file_name"].to_list() == sorted(f"{t}.csv" for t in PORTFOLIO)
    assert ids(loaded.load_portfolio().milestones, "milestone_id") == ["A1", "A2", "B1"]
    for table in TABLES:
        assert loaded._rows(f'SELECT DISTINCT snapshot_id FROM "{table}"') in ([(1,)], [])


def test_unknown_objective_and_kpi_are_rejected(store):
    bad = upload(
        kpis="""
            kpi_id,name,objective_id,owner,direction,baseline_value,target_value,period_start,target_date
            K1,Cost,O-NONE,Sam,lower_is_better,2,1,2026-01-01,2026-12-31
        """,
        kpi_actuals="""
            kpi_id,as_of,value
            K9,2026-05-31,1.0
        """,
    )
    with pytest.raises(UploadRejected) as err:
        store.ingest(bad, date(2026, 6, 1))
    assert [p.message for p in err.value.problems] == [
        "unknown objective 'O-NONE'; add it to the objectives sheet or fix the id",
        "unknown KPI 'K9'; add it to the kpis sheet or fix the id",
    ]
    assert store.is_empty()


def test_dangling_links_and_tasks_are_warnings_not_rejections(loaded):
    week2 = upload(
        links="""
            milestone_id,kpi_id,kpi_delta
            A1,K1,-0.1
            A1,K-GONE,1
        """,
        tasks="""
            task_id,milestone_id,name,forecast_finish
            TZ,M-GONE,Orphan,2026-09-01
        """,
    )
    result = loaded.ingest(week2, date(2026, 6, 8))
    assert result.snapshot_id == 2
    assert [str(w) for w in result.warnings] == [
        "tasks.csv, sheet tasks, row 2, column milestone_id: unknown milestone 'M-GONE'; "
        "the row is kept and listed as a governance finding until it exists",
        "links.csv, sheet links, row 3, column kpi_id: unknown KPI 'K-GONE'; "
        "the row is kept and listed as a governance finding until it exists",
    ]
    assert "TZ" in loaded.load_portfolio().tasks["task_id"].to_list()


def test_carried_rows_naming_a_removed_milestone_are_reported(loaded):
    week2 = upload(
        milestones="""
            milestone_id,project_id,name,owner,baseline_finish
            B2,PB,B two,Bob,2026-12-31
        """
    )
    result = loaded.ingest(week2, date(2026, 6, 8))
    messages = [(w.file, w.sheet, w.column, w.message) for w in result.warnings]
    # B1 is gone: its task, its link and the dependency it drives now dangle.
    assert [(file, sheet, column) for file, sheet, column, _ in messages] == [
        ("snapshot 1", "tasks", "milestone_id"),
        ("snapshot 1", "links", "milestone_id"),
        ("snapshot 1", "dependencies", "predecessor_id"),
    ]
    assert messages[0][3].startswith(
        "1 row(s) kept from the previous snapshot name milestone 'B1', which this upload removed"
    )


def test_dry_run_stores_nothing(loaded):
    week2 = upload(
        milestones="""
            milestone_id,project_id,name,owner,baseline_finish,forecast_finish,reported_status
            A1,PA,A one,Ann,2026-08-31,2026-09-21,Green
        """
    )
    result = loaded.ingest(week2, date(2026, 6, 8), dry_run=True)
    assert result.snapshot_id is None
    assert result.changes["change"].to_list() == ["removed", "forecast_moved"]
    assert loaded.snapshot_ids() == [1]


def test_backdated_upload_builds_on_the_snapshot_before_it(loaded):
    loaded.ingest(
        upload(
            projects="""
        project_id,name,owner
        PC,Project C,Cy
    """
        ),
        date(2026, 6, 15),
    )
    loaded.ingest(
        upload(
            projects="""
        project_id,name,owner
        PD,Project D,Di
    """
        ),
        date(2026, 6, 8),
    )
    assert loaded.snapshot_ids() == [1, 3, 2]
    assert ids(loaded.load_portfolio(3).projects, "project_id") == ["PA", "PB", "PD"]
    assert ids(loaded.load_portfolio().projects, "project_id") == ["PA", "PB", "PC"]
    assert loaded.previous_snapshot_id(2) == 3
    assert loaded.previous_snapshot_id(1) is None


# ---------------------------------------------------------------------- changes
def test_changes_since_previous_snapshot(loaded):
    week2 = upload(
        milestones="""
            milestone_id,project_id,name,owner,baseline_finish,forecast_finish,actual_finish,reported_status
            A1,PA,A one,Ann,2026-08-31,2026-09-21,,at risk
            A3,PA,A three,Ann,2026-11-30,,,
            B1,PB,B one,Bob,2026-07-31,2026-07-30,2026-07-30,done
        """
    )
    result = loaded.ingest(week2, date(2026, 6, 8))
    expected = pl.DataFrame(
        {
            "snapshot_id": [2] * 6,
            "change": ["added", "removed", "completed", "forecast_moved", "forecast_moved", "status_changed"],
            "milestone_id": ["A3", "A2", "B1", "A1", "B1", "A1"],
            "project_id": ["PA", "PA", "PB", "PA", "PB", "PA"],
            "name": ["A three", "A two", "B one", "A one", "B one", "A one"],
            "detail": [
                "added, baseline finish 2026-11-30",
                "removed",
                "completed on 2026-07-30",
                "forecast moved from 2026-09-07 to 2026-09-21 (+14 days)",
                "forecast moved from 2026-07-31 to 2026-07-30 (-1 day)",
                "reported status changed from Green to Amber",
            ],
            "days": [None, None, None, 14, -1, None],
        },
        schema=CHANGES_SCHEMA,
    )
    assert_frame_equal(result.changes, expected)
    assert_frame_equal(loaded.changes(), expected)
    assert_frame_equal(loaded.changes(2), expected)
    # B1's status went from Amber to Complete as well.
    assert "B1" not in result.changes.filter(pl.col("change") == "status_changed")["milestone_id"].to_list()


def test_kpi_actuals_and_budgets_count_as_changes(loaded):
    """Regression: an upload that changed KPI actuals and budgets said "0 change(s)"."""
    loaded.ingest(upload(kpi_actuals="kpi_id,as_of,value\nK1,2026-05-31,2.08"), date(2026, 6, 8))
    week3 = upload(
        kpi_actuals="""
            kpi_id,as_of,value
            K1,2026-05-31,2.07
            K1,2026-06-30,2.05
        """,
        projects="""
            project_id,name,owner,budget
            PA,Project A,Ann,399999.99
            PB,Project B,Bob,
        """,
    )
    result = loaded.ingest(week3, date(2026, 6, 15))
    changes = result.changes.select("change", "project_id", "name", "detail")
    assert changes.rows() == [
        ("kpi_actual_added", None, "Cost per mile (K1)", "actual for 2026-06-30 reported: 2.050"),
        ("kpi_actual_changed", None, "Cost per mile (K1)", "actual for 2026-05-31 changed from 2.080 to 2.070"),
        ("budget_changed", "PA", "Project A", "budget changed from none to 399,999.99"),
    ]
    assert "3 change(s) since snapshot 2" in result.message
    assert_frame_equal(loaded.changes(3), result.changes)


def test_kpi_actual_changes_come_by_kpi_then_kind_then_date():
    """Regression: two actuals of one KPI removed at once came in the order of a hash join, which varied."""
    old = pl.DataFrame(
        {
            "kpi_id": ["K2", "K1", "K1", "K1", "K1"],
            "as_of": [date(2026, 5, 3), date(2026, 6, 7), date(2026, 5, 3), date(2026, 5, 24), date(2026, 5, 17)],
            "value": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    new = pl.DataFrame({"kpi_id": ["K1", "K1"], "as_of": [date(2026, 6, 14), date(2026, 5, 17)], "value": [6.0, 5.5]})
    kpis = pl.DataFrame({"kpi_id": ["K1", "K2"], "name": ["Cost", "Fuel"]})
    for _ in range(5):  # the same every time
        changes = kpi_actual_changes(old, new, kpis, 2).select("name", "detail")
        assert changes.rows() == [
            ("Cost (K1)", "actual for 2026-06-14 reported: 6.000"),
            ("Cost (K1)", "actual for 2026-05-17 changed from 5.000 to 5.500"),
            ("Cost (K1)", "actual for 2026-05-03 removed (was 3.000)"),
            ("Cost (K1)", "actual for 2026-05-24 removed (was 4.000)"),
            ("Cost (K1)", "actual for 2026-06-07 removed (was 2.000)"),
            ("Fuel (K2)", "actual for 2026-05-03 removed (was 1.000)"),
        ]


def test_status_change_ignores_spelling_of_the_same_status():
    old = pl.DataFrame({"milestone_id": ["M"], "reported_status": ["green"]})
    new = pl.DataFrame({"milestone_id": ["M"], "reported_status": ["On Track"]})
    cols = {
        "project_id": pl.String,
        "name": pl.String,
        "baseline_finish": pl.Date,
        "forecast_finish": pl.Date,
        "actual_finish": pl.Date,
    }
    old, new = (f.with_columns(pl.lit(None, dtype).alias(c) for c, dtype in cols.items()) for f in (old, new))
    assert milestone_changes(old, new, 2).height == 0


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    old_days=st.lists(st.integers(-60, 60) | st.none(), min_size=1, max_size=8),
    shift=st.lists(st.integers(-30, 30), min_size=8, max_size=8),
)
def test_forecast_days_moved_are_the_date_difference(old_days, shift):
    base = date(2026, 9, 1)
    n = len(old_days)
    old = pl.DataFrame(
        {"milestone_id": [f"M{i}" for i in range(n)], "forecast_days": old_days},
        schema={"milestone_id": pl.String, "forecast_days": pl.Int64},
    )
    old = old.with_columns(
        pl.lit("P").alias("project_id"),
        pl.col("milestone_id").alias("name"),
        pl.lit(base).alias("baseline_finish"),
        (pl.lit(base) + pl.duration(days=pl.col("forecast_days"))).alias("forecast_finish"),
        pl.lit(None, pl.Date).alias("actual_finish"),
        pl.lit("Green").alias("reported_status"),
    ).drop("forecast_days")
    new = old.with_columns(pl.col("forecast_finish") + pl.duration(days=pl.Series(shift[:n])))
    moved = milestone_changes(old, new, 2)
    expected = {f"M{i}": s for i, (d, s) in enumerate(zip(old_days, shift, strict=False)) if d is not None and s != 0}
    assert set(moved["change"]) <= {"forecast_moved"}
    assert dict(zip(moved["milestone_id"], moved["days"], strict=False)) == expected


# ---------------------------------------------------------------------- readers
def test_snapshots_listing(loaded):
    loaded.ingest(
        upload(
            tasks="""
        task_id,milestone_id,name,forecast_finish
        TA2,A1,Another,2026-08-01
    """
        ),
        date(2026, 6, 8),
        author="pmo",
    )
    listing = loaded.snapshots()
    assert listing["snapshot_id"].to_list() == [1, 2]
    assert listing["as_of"].to_list() == [date(2026, 6, 1), date(2026, 6, 8)]
    assert listing["author"].to_list() == ["test", "pmo"]
    assert listing["files"].to_list()[1] == ["tasks.csv"]
    assert listing["rows"].to_list()[1] == {
        "objectives": 1,
        "kpis": 1,
        "kpi_actuals": 0,
        "projects": 2,
        "milestones": 3,
        "tasks": 2,
        "dependencies": 1,
        "links": 2,
        "people": 0,
        "mitigations": 0,
    }


def test_milestone_history_spans_every_snapshot(loaded):
    loaded.ingest(
        upload(
            milestones="""
        milestone_id,project_id,name,owner,baseline_finish,forecast_finish
        B1,PB,B one,Bob,2026-07-31,2026-08-14
    """
        ),
        date(2026, 6, 8),
    )
    history = loaded.load_milestone_history()
    b1 = history.filter(pl.col("milestone_id") == "B1")
    assert b1["as_of"].to_list() == [date(2026, 6, 1), date(2026, 6, 8)]
    assert b1["forecast_finish"].to_list() == [date(2026, 7, 31), date(2026, 8, 14)]
    assert history.columns == [
        "snapshot_id",
        "as_of",
        "milestone_id",
        "project_id",
        "baseline_finish",
        "forecast_finish",
        "actual_finish",
        "reported_status",
    ]


def test_original_files_are_kept_once(store):
    first = upload(**PORTFOLIO)
    store.ingest(first, date(2026, 6, 1), sources=first.files)
    store.ingest(first, date(2026, 6, 8), sources=first.files)
    trail = store.files()
    assert trail.height == 2 * len(PORTFOLIO)
    assert store.files(2)["snapshot_id"].unique().to_list() == [2]
    projects = first.files[2]
    assert store.file_bytes(projects.sha256) == projects.data
    assert store._rows("SELECT count(*) FROM file_contents") == [(len(PORTFOLIO),)]  # each content once
    with pytest.raises(NotFoundError):
        store.file_bytes("0" * 64)


def test_unknown_snapshot_id(loaded):
    with pytest.raises(NoDataError, match="There is no snapshot 9"):
        loaded.load_portfolio(9)


def test_concurrent_reads_and_writes_from_threads(loaded):
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(5):
                assert loaded.load_portfolio().milestones.height == 3
        except BaseException as err:  # collected, asserted below
            errors.append(err)

    def write(i: int) -> None:
        try:
            loaded.save_scenario(f"s{i}", {"slips": [i]}, 1)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=read) for _ in range(3)] + [
        threading.Thread(target=write, args=(i,)) for i in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(loaded.list_scenarios()["name"].to_list()) == ["s0", "s1", "s2"]


# ---------------------------------------------------------------------- settings, scenarios, mappings
def test_settings_round_trip(store):
    assert store.settings() == Settings()
    changed = Settings(amber_days=5, red_days=10, escalation_value=100_000.0, currency="EUR")
    store.save_settings(changed)
    assert store.settings() == changed


def test_scenario_crud(store):
    spec = {"slips": [{"milestone_id": "M1", "days": 14}], "from": date(2026, 8, 31)}
    sid = store.save_scenario("Vendor late", spec, snapshot_id=1, author="pmo")
    loaded = store.load_scenario(sid)
    assert loaded["name"] == "Vendor late" and loaded["author"] == "pmo" and loaded["snapshot_id"] == 1
    assert loaded["spec"] == {"slips": [{"milestone_id": "M1", "days": 14}], "from": "2026-08-31"}

    store.update_scenario(sid, {"slips": []})
    store.rename_scenario(sid, "Vendor on time")
    assert store.load_scenario(sid)["spec"] == {"slips": []}
    assert store.list_scenarios()["name"].to_list() == ["Vendor on time"]

    with pytest.raises(InputError, match="a scenario named 'vendor on time' already exists"):
        store.save_scenario("vendor on time", {}, 1)
    second = store.save_scenario("Other", {}, None)
    assert second > sid

    store.delete_scenario(sid)
    assert store.list_scenarios()["scenario_id"].to_list() == [second]
    with pytest.raises(NotFoundError, match=f"there is no saved scenario with id {sid}"):
        store.load_scenario(sid)
    with pytest.raises(NotFoundError):
        store.rename_scenario(sid, "x")
    with pytest.raises(NotFoundError):
        store.delete_scenario(sid)


def test_mapping_profiles(store):
    assert store.mapping_profiles() == []
    store.save_mapping_profile("Jira cloud", {"milestones": {"Key": "milestone_id"}})
    store.save_mapping_profile("Jira cloud", {"milestones": {"Issue key": "milestone_id"}})
    store.save_mapping_profile("Asana", {})
    assert store.mapping_profiles() == ["Asana", "Jira cloud"]
    assert store.load_mapping_profile("Jira cloud") == {"milestones": {"Issue key": "milestone_id"}}
    with pytest.raises(
        NotFoundError, match="there is no mapping profile named 'Smartsheet'; saved profiles: Asana, Jira cloud"
    ):
        store.load_mapping_profile("Smartsheet")


# ---------------------------------------------------------------------- refused at the door: the merged schedule
def test_a_dependency_cycle_is_refused_naming_its_milestones_and_nothing_is_stored(loaded):
    cyclic = upload(
        dependencies="""
            predecessor_id,successor_id,lag_days
            B1,A2,3
            A2,A1,0
            A1,B1,0
        """
    )
    with pytest.raises(UploadRejected) as caught:
        loaded.ingest(cyclic, date(2026, 6, 8))
    assert [str(p) for p in caught.value.problems] == [
        "dependencies.csv, sheet dependencies, row 4, column successor_id: these dependencies form a cycle "
        "A1 -> B1 -> A2 -> A1: a milestone would wait for itself, so no finish date can be computed; "
        "remove or correct one of them (also on rows 2, 3)"
    ]
    assert loaded.snapshot_ids() == [1]


def test_a_milestone_depending_on_itself_is_refused(loaded):
    with pytest.raises(UploadRejected) as caught:
        loaded.ingest(upload(dependencies="predecessor_id,successor_id\nA1,A1\n"), date(2026, 6, 8))
    (problem,) = caught.value.problems
    assert (problem.file, problem.row, problem.column) == ("dependencies.csv", 2, "successor_id")
    assert "form a cycle A1 -> A1:" in problem.message
    assert loaded.snapshot_ids() == [1]


def test_a_cycle_closed_with_a_carried_forward_row_is_refused(loaded):
    # B1 -> A2 (project A's dependency) is carried forward; project B's upload closes the loop
    closing = upload(dependencies="predecessor_id,successor_id,lag_days\nA2,B1,0\n")
    with pytest.raises(UploadRejected) as caught:
        loaded.ingest(closing, date(2026, 6, 8))
    (problem,) = caught.value.problems
    assert (problem.file, problem.sheet, problem.row, problem.column) == (
        "dependencies.csv",
        "dependencies",
        2,
        "successor_id",
    )
    assert problem.message.startswith("these dependencies form a cycle A2 -> B1 -> A2:")
    assert problem.message.endswith("(the others are carried forward from snapshot 1)")
    assert loaded.snapshot_ids() == [1]


def test_a_cycle_formed_by_carried_rows_once_a_milestone_appears_is_refused(loaded):
    # the dependency naming the unknown Z1 is kept (a governance finding) and closes nothing ...
    loaded.ingest(upload(dependencies="predecessor_id,successor_id\nZ1,A1\nA1,Z1\n"), date(2026, 6, 8))
    # ... until milestone Z1 is uploaded: then the two carried rows form a cycle
    adding = upload(milestones="milestone_id,project_id,name,owner,baseline_finish\nZ1,PB,Zed,Bob,2026-09-01\n")
    with pytest.raises(UploadRejected) as caught:
        loaded.ingest(adding, date(2026, 6, 15))
    (problem,) = caught.value.problems
    assert (problem.file, problem.sheet, problem.row) == ("snapshot 2", "dependencies", None)
    assert "A1 -> Z1 -> A1" in problem.message and problem.message.endswith("(all carried forward)")
    assert loaded.snapshot_ids() == [1, 2]


def test_computed_finishes_past_the_last_accepted_date_are_refused(loaded):
    far = upload(
        milestones="""
            milestone_id,project_id,name,owner,baseline_finish
            A1,PA,A one,Ann,2026-08-31
            A2,PA,A two,Ann,2026-10-31
            B1,PB,B one,Bob,2199-06-30
        """,
        dependencies="""
            predecessor_id,successor_id,lag_days
            B1,A2,3650
        """,
    )
    with pytest.raises(UploadRejected) as caught:
        loaded.ingest(far, date(2026, 6, 8))
    (problem,) = caught.value.problems
    assert (problem.file, problem.row, problem.column) == ("dependencies.csv", 2, "lag_days")
    assert problem.message.startswith("milestone 'A2' would finish on 2209-06-28 after its predecessors")
    assert loaded.snapshot_ids() == [1]


def test_a_snapshot_date_outside_the_accepted_dates_is_refused(store):
    with pytest.raises(InputError, match="the snapshot date 9999-12-31 is outside the dates"):
        store.ingest(upload(**PORTFOLIO), date(9999, 12, 31))
    assert store.is_empty()


# ---------------------------------------------------------------------- rows naming an unknown milestone
def test_rows_naming_a_mistyped_milestone_go_away_with_the_corrected_file(loaded):
    typo = upload(
        links="""
            milestone_id,kpi_id,kpi_delta
            A1,K1,-0.1
            A33,K1,-0.2
        """,
        dependencies="""
            predecessor_id,successor_id,lag_days
            A1,A33,0
        """,
        tasks="""
            task_id,milestone_id,name,forecast_finish
            T33,A33,Typo task,2026-09-01
        """,
    )
    loaded.ingest(typo, date(2026, 6, 8))
    kept = loaded.load_portfolio()
    assert "A33" in kept.links["milestone_id"].to_list()
    assert "A33" in kept.dependencies["successor_id"].to_list()
    assert "T33" in kept.tasks["task_id"].to_list()
    # the corrected files: the rows naming A33 belonged to no project, so the upload replaces them
    corrected = upload(links=PORTFOLIO["links"], dependencies=PORTFOLIO["dependencies"], tasks=PORTFOLIO["tasks"])
    result = loaded.ingest(corrected, date(2026, 6, 15))
    fixed = loaded.load_portfolio()
    assert sorted(fixed.links["milestone_id"].to_list()) == ["A1", "B1"]
    assert fixed.dependencies.select("predecessor_id", "successor_id").rows() == [("B1", "A2")]
    assert sorted(fixed.tasks["task_id"].to_list()) == ["TA1", "TB1"]
    assert result.rows["links"] == 2 and result.warnings == []


def test_rows_naming_an_unknown_milestone_stay_while_their_table_is_not_uploaded(loaded):
    loaded.ingest(upload(links="milestone_id,kpi_id\nA33,K1\n"), date(2026, 6, 8))
    loaded.ingest(upload(milestones=PORTFOLIO["milestones"]), date(2026, 6, 15))
    assert "A33" in loaded.load_portfolio().links["milestone_id"].to_list()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("  ", "a mapping profile needs a name", id="blank"),
        pytest.param("x" * 81, "is 81 characters long; shorten it to 80 characters or fewer", id="too-long"),
        pytest.param("Finance\ntracker", "must fit on one line", id="two-lines"),
    ],
)
def test_a_mapping_profile_name_must_fit_a_picker(store, name, message):
    with pytest.raises(InputError, match=message):
        store.save_mapping_profile(name, {"table": "milestones", "columns": {}})
    assert store.mapping_profiles() == []


# ---------------------------------------------------------------------- which project and milestone an export is
def export(source: str = "msproject", name: str = "plan.csv", **sheets: str) -> FakeUpload:
    """An upload a tool wrote: the same tables as :func:`upload`, all from one file of ``source``."""
    made = upload(**sheets)
    tables = {t: f.with_columns(pl.lit(name).alias("_file")) for t, f in made.tables.items()}
    data = "".join(f.data.decode() for f in made.files).encode()
    report = FakeFile(
        name, hashlib.sha256(data).hexdigest(), len(data), source, {t: f.height for t, f in tables.items()}, data
    )
    return FakeUpload(tables, [report])


def test_an_export_of_a_project_not_in_the_portfolio_creates_it_with_no_owner(loaded):
    from kpi_engine.analysis import analyse

    result = loaded.ingest(
        export(
            milestones="""
                milestone_id,project_id,name,owner,baseline_finish
                Depot build-5,Depot build,Chargers installed,Kofi,2026-09-30
            """
        ),
        date(2026, 6, 8),
    )
    assert result.identity.projects.select("export_project", "project_id", "project_name", "how").rows() == [
        ("Depot build", "Depot build", "Depot build", "created")
    ]
    projects = loaded.load_portfolio().projects
    assert projects.filter(pl.col("project_id") == "Depot build").select("name", "owner").rows() == [
        ("Depot build", None)
    ]
    # the other projects are kept as they were
    assert projects.filter(pl.col("project_id") == "PA")["owner"].to_list() == ["Ann"]
    findings = analyse(loaded).exceptions.filter(pl.col("finding") == "project has no owner")
    assert findings.select("kind", "project_id", "escalation_level").rows() == [("governance", "Depot build", 0)]
    assert findings["why"].item().startswith("Project Depot build: has no owner")
    # a finding on one of its milestones has nobody to go to either, and says so
    lonely = analyse(loaded).exceptions.filter(pl.col("finding") == "not tied to any KPI")
    assert (
        lonely.filter(pl.col("project_id") == "Depot build")["why"]
        .item()
        .endswith("Its project has no owner: the PMO should name one.")
    )


def test_a_template_milestone_of_an_unknown_project_is_still_refused(loaded):
    with pytest.raises(UploadRejected, match="unknown project 'P-X'"):
        loaded.ingest(
            upload(milestones="milestone_id,project_id,name,owner,baseline_finish\nX1,P-X,X,Max,2026-09-30"),
            date(2026, 6, 8),
        )


def test_an_export_is_matched_by_project_name_ignoring_case_and_spacing(loaded):
    result = loaded.ingest(
        export(
            milestones="""
                milestone_id,project_id,name,owner,baseline_finish
                PRJ-1,  project   A ,A one,Ann,2026-08-31
                PRJ-2,  project   A ,A two,Ann,2026-10-31
            """
        ),
        date(2026, 6, 8),
    )
    assert result.identity.projects.select("project_id", "how").rows() == [("PA", "matched by name")]
    portfolio = loaded.load_portfolio()
    assert ids(portfolio.projects, "project_id") == ["PA", "PB"]
    assert portfolio.milestones.filter(pl.col("project_id") == "PA")["milestone_id"].sort().to_list() == ["A1", "A2"]


def test_attach_puts_an_export_in_the_project_the_user_names(loaded):
    sheet = """
        milestone_id,project_id,name,owner,baseline_finish
        B-9,Project A,B one,Bob,2026-07-31
    """
    result = loaded.ingest(export(milestones=sheet), date(2026, 6, 8), attach={"Project A": "PB"})
    assert result.identity.projects.select("export_project", "project_id", "how").rows() == [
        ("Project A", "PB", "chosen")
    ]
    # attached to PB, its milestone is B1 by name
    assert result.identity.milestones.select("tool_key", "milestone_id", "how").rows() == [("B-9", "B1", "same name")]
    with pytest.raises(UploadRejected, match="there is no project 'NOPE' to attach this export to"):
        loaded.ingest(export(milestones=sheet), date(2026, 6, 9), attach={"Project A": "NOPE"})


def test_an_exported_milestone_keeps_its_id_by_name_then_by_tool_key(loaded):
    first = loaded.ingest(
        export(
            milestones="""
                milestone_id,project_id,name,owner,baseline_finish
                PA-7,PA,a  ONE,Ann,2026-08-31
                PA-8,PA,A two,Ann,2026-10-31
            """,
            tasks="""
                task_id,milestone_id,name,forecast_finish
                PA-3,PA-7,Build,2026-09-03
            """,
        ),
        date(2026, 6, 8),
    )
    assert first.identity.milestones.select("tool_key", "milestone_id", "how").rows() == [
        ("PA-7", "A1", "same name"),
        ("PA-8", "A2", "same name"),
    ]
    # the next week the tool renames it: the key it came with last time still finds it
    second = loaded.ingest(
        export(
            milestones="""
                milestone_id,project_id,name,owner,baseline_finish
                PA-7,PA,Go-live renamed,Ann,2026-08-31
                PA-8,PA,A two,Ann,2026-10-31
            """,
        ),
        date(2026, 6, 15),
    )
    assert second.identity.milestones.select("tool_key", "milestone_id", "how").rows() == [
        ("PA-7", "A1", "tool key"),
        ("PA-8", "A2", "tool key"),
    ]
    portfolio = loaded.load_portfolio()
    assert portfolio.milestones.filter(pl.col("milestone_id") == "A1")["name"].to_list() == ["Go-live renamed"]
    # the KPI link and the export's task follow the milestone
    assert portfolio.links.filter(pl.col("milestone_id") == "A1")["kpi_id"].to_list() == ["K1"]
    assert second.removals.height == 0
    assert loaded._rows("SELECT project_id, tool_key, milestone_id FROM milestone_keys ORDER BY 2") == [
        ("PA", "PA-7", "A1"),
        ("PA", "PA-8", "A2"),
    ]


def test_an_upload_that_removes_milestones_lists_them_and_is_refused_unless_allowed(loaded):
    from kpi_engine.analysis import removal_values
    from kpi_engine.store import RemovalsRefused

    replacing = export(
        milestones="""
            milestone_id,project_id,name,owner,baseline_finish
            PA-1,PA,Something else,Ann,2026-08-31
        """
    )
    dry = loaded.ingest(replacing, date(2026, 6, 8), dry_run=True, allow_removals=False)
    assert dry.removals.select("milestone_id", "kpi_ids", "dependencies").rows() == [("A1", ["K1"], 0), ("A2", [], 1)]
    with pytest.raises(RemovalsRefused) as refused:
        loaded.ingest(replacing, date(2026, 6, 8), allow_removals=False)
    assert refused.value.base == 1
    assert refused.value.lines()[0].startswith(
        "snapshot 1, sheet milestones, row -, column milestone_id: removes milestone 'A1' (A one, project PA): "
        "disconnects its link to KPI K1"
    )
    assert loaded.snapshot_ids() == [1]
    assert loaded._rows("SELECT count(*) FROM milestone_keys") == [(0,)]
    valued = removal_values(loaded, refused.value.removals, refused.value.base)
    assert valued["value_at_risk"].to_list() == [0.0, 0.0]  # no value per week in this portfolio
    stored = loaded.ingest(replacing, date(2026, 6, 8), allow_removals=True)
    assert ids(stored.removals, "milestone_id") == ["A1", "A2"]
    assert ids(loaded.load_portfolio().milestones, "milestone_id") == ["B1", "PA-1"]


# ---------------------------------------------------------------------- uploads of one date are one week
def test_uploads_of_one_date_are_versions_of_one_week(loaded):
    week2 = date(2026, 6, 8)
    loaded.ingest(upload(tasks="task_id,milestone_id,name,forecast_finish\nTA2,A1,Another,2026-08-01"), week2)
    amended = loaded.ingest(
        upload(
            milestones="""
                milestone_id,project_id,name,owner,baseline_finish,forecast_finish
                B1,PB,B one,Bob,2026-07-31,2026-08-14
            """
        ),
        week2,
    )
    assert (amended.snapshot_id, amended.version, amended.amends, amended.previous_snapshot_id) == (3, 2, 2, 1)
    assert "version 2 of that week, amending snapshot 2" in amended.message
    listing = loaded.snapshots()
    assert listing.select("snapshot_id", "version", "latest").rows() == [(1, 1, True), (2, 1, False), (3, 2, True)]
    # the amendment builds on the first upload of the week (its task is kept) ...
    assert "TA2" in loaded.load_portfolio(3).tasks["task_id"].to_list()
    # ... and is compared with the previous week, not with the first version of its own
    assert loaded.previous_snapshot_id(3) == 1
    assert loaded.previous_snapshot_id(2) == 1
    assert loaded.changes(3).filter(pl.col("change") == "forecast_moved")["milestone_id"].to_list() == ["B1"]
    third = loaded.ingest(
        upload(tasks="task_id,milestone_id,name,forecast_finish\nTA3,A1,Third,2026-08-01"), date(2026, 6, 15)
    )
    assert loaded.previous_snapshot_id(third.snapshot_id) == 3
    # the audit trail keeps every upload with its files
    assert loaded.files()["snapshot_id"].unique().sort().to_list() == [1, 2, 3, 4]


def test_the_history_has_one_row_per_milestone_and_week(loaded):
    from kpi_engine.analysis import milestone_history

    week2 = date(2026, 6, 8)
    loaded.ingest(upload(tasks="task_id,milestone_id,name,forecast_finish\nTA2,A1,Another,2026-08-01"), week2)
    loaded.ingest(upload(tasks="task_id,milestone_id,name,forecast_finish\nTA2,A1,Another,2026-09-20"), week2)
    history = milestone_history(loaded).filter(pl.col("milestone_id") == "A1")
    assert history.select("snapshot_id", "as_of").rows() == [(1, date(2026, 6, 1)), (3, week2)]


def test_an_amended_week_is_compared_with_the_week_before_not_with_its_first_version(loaded):
    from kpi_engine.analysis import analyse

    week2 = date(2026, 6, 8)
    slipped = upload(
        milestones="""
            milestone_id,project_id,name,owner,baseline_finish,forecast_finish
            B1,PB,B one,Bob,2026-07-31,2026-08-31
        """
    )
    first = loaded.ingest(slipped, week2)
    amended = loaded.ingest(upload(tasks="task_id,milestone_id,name,forecast_finish\nTA2,A1,Another,2026-08-01"), week2)

    def b1_rows(snapshot_id: int) -> pl.DataFrame:
        rows = analyse(loaded, snapshot_id).exceptions
        return rows.filter((pl.col("milestone_id") == "B1") & (pl.col("kind") == "milestone"))

    # B1 went Red this week: new in both versions of the week, since the week before had it Green
    assert b1_rows(first.snapshot_id)["new"].to_list() == [True]
    assert b1_rows(amended.snapshot_id)["new"].to_list() == [True]
    assert b1_rows(amended.snapshot_id)["computed_status"].to_list() == ["Red"]
