"""Rows kept once per change: every snapshot reads back as if each held a full copy of its rows.

A random run of uploads (full ones, partial ones, versions of one date, uploads dated
before the newest snapshot so that they build on an older one) is stored, and every
snapshot is read back and compared with a plain model that copies every row of the
snapshot an upload builds on. Files written by schema version 2 (every row of every
snapshot stored) open and read back as they did.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
from builders import FakeFile, FakeUpload, make_version_1, upload
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from test_store import PORTFOLIO
from test_store_consolidation import folding_at

from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.schema import KEYS, TABLES, conform, empty_table
from kpi_engine.store import SCHEMA_VERSION, Store, budget_changes, kpi_actual_changes, milestone_changes
from kpi_engine.store.changes import CHANGE_KINDS, CHANGES_SCHEMA
from kpi_engine.store.merge import MILESTONE_COLUMN, MISSING_KEY

FIXTURE = Path(__file__).parent / "fixtures" / "store_v2"


# ---------------------------------------------------------------------- a version-2 file
def write_version_2_store(path: Path) -> None:
    """Recreate the store the fixture holds (written by schema version 2, exported as Parquet)."""
    export = FIXTURE / "export"
    with duckdb.connect(str(path)) as raw:
        for statement in (export / "schema.sql").read_text().split(";"):
            if statement.strip():
                raw.execute(statement)
        for parquet in sorted(export.glob("*.parquet")):
            raw.execute(f'INSERT INTO "{parquet.stem}" SELECT * FROM read_parquet(?)', [str(parquet)])


def expected(name: str) -> pl.DataFrame:
    return pl.read_parquet(FIXTURE / f"expected_{name}.parquet")


def assert_reads_as_recorded(store: Store) -> None:
    """Every snapshot, its changes, the files and the history read back as version 2 read them."""
    assert_frame_equal(store.snapshots(), expected("snapshots"))
    assert_frame_equal(
        store.load_milestone_history().sort("snapshot_id", "milestone_id"),
        expected("history").sort("snapshot_id", "milestone_id"),
    )
    assert_frame_equal(store.files(), expected("files"))
    for sid in expected("snapshots")["snapshot_id"]:
        for table, frame in store.load_portfolio(sid).tables().items():
            assert_frame_equal(frame, expected(f"{sid}_{table}"))
        assert_frame_equal(store.changes(sid), expected(f"{sid}_changes"))
    for sha in expected("files")["sha256"]:
        assert hashlib.sha256(store.file_bytes(sha)).hexdigest() == sha


def test_a_version_2_store_opens_reads_back_as_it_did_and_takes_new_uploads(tmp_path):
    path = tmp_path / "v2.duckdb"
    write_version_2_store(path)
    with Store.open(path) as store:
        assert store._rows("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        assert_reads_as_recorded(store)
        # a new week on top of the newest, and one dated before it (built on snapshot 4)
        week = store.ingest(
            upload(tasks="task_id,milestone_id,name,forecast_finish\nTB1,B1,Task B1 moved,2026-07-30"),
            date(2026, 6, 29),
        )
        backdated = store.ingest(
            upload(tasks="task_id,milestone_id,name,forecast_finish\nTA1,A1,Task A1 again,2026-09-02"),
            date(2026, 6, 10),
        )
        assert (week.built_on, backdated.built_on) == (5, 4)
        tasks = store.load_portfolio(week.snapshot_id).tasks.sort("task_id")
        assert tasks.select("task_id", "name").rows() == [
            ("TA1", "Task A1"),
            ("TA3", "Task A3"),
            ("TB1", "Task B1 moved"),
        ]  # TX named a milestone no snapshot holds: the tasks upload replaced it
        assert store.load_portfolio(backdated.snapshot_id).tasks.sort("task_id")["name"].to_list() == [
            "Task A1 again",
            "Task B1",
        ]
        # only what changed was stored
        assert store._rows("SELECT count(*) FROM tasks WHERE snapshot_id IN (6, 7)") == [(2,)]
    with Store.open(path) as again:  # the migration ran once
        assert_frame_equal(again.load_portfolio(5).tasks, expected("5_tasks"))
        assert again._rows("SELECT count(*) FROM snapshot_lineage WHERE snapshot_id = 5") == [(1,)]


def test_a_store_written_before_versions_and_tool_keys_opens_and_numbers_its_versions(tmp_path):
    path = tmp_path / "old.duckdb"
    write_version_2_store(path)
    make_version_1(path)
    with Store.open(path) as store:
        listing = store.snapshots().select("snapshot_id", "version", "latest").rows()
        assert listing == [(1, 1, True), (4, 1, True), (2, 1, False), (3, 2, True), (5, 1, True)]
        assert store._rows("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        assert store._rows("SELECT count(*) FROM milestone_keys") == [(0,)]
        assert_frame_equal(store.load_portfolio(3).tasks, expected("3_tasks"))
        store.ingest(
            upload(tasks="task_id,milestone_id,name,forecast_finish\nTA4,A1,Fourth,2026-08-01"), date(2026, 6, 15)
        )
        assert store.snapshots().filter(pl.col("as_of") == date(2026, 6, 15))["version"].to_list() == [1, 2, 3]


# ---------------------------------------------------------------------- the full-copy model
_MILESTONE_COLUMN = {"tasks": "milestone_id", "links": "milestone_id", "dependencies": "successor_id"}
PROJECTS = ["P1", "P2", "P3"]
MILESTONES = [f"M{i}" for i in range(1, 8)]
TASKS = [f"T{i}" for i in range(1, 10)]
DAY = date(2026, 6, 1)


def model_merge(base: dict[str, pl.DataFrame] | None, uploaded: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The snapshot an upload makes, by copying the base's rows: the rules of Store.ingest, row by row."""
    if base is None:
        return {t: uploaded[t] if t in uploaded else empty_table(t) for t in TABLES}
    up_ms = uploaded["milestones"].rows(named=True) if "milestones" in uploaded else []
    project_of = {r["milestone_id"]: r["project_id"] for r in base["milestones"].rows(named=True)}
    project_of.update({r["milestone_id"]: r["project_id"] for r in up_ms})
    scope = {r["project_id"] for t in ("projects", "milestones") if t in uploaded for r in uploaded[t].rows(named=True)}
    for t, c in _MILESTONE_COLUMN.items():
        if t in uploaded:
            scope |= {project_of[m] for m in uploaded[t][c] if m in project_of}
    scope_ms = {m for m, p in project_of.items() if p in scope}
    new: dict[str, pl.DataFrame] = {}
    for table in TABLES:
        if table not in uploaded:
            new[table] = base[table]
            continue
        keys = {tuple(r[k] for k in KEYS[table]) for r in uploaded[table].rows(named=True)}
        kept = []
        for row in base[table].rows(named=True):
            if tuple(row[k] for k in KEYS[table]) in keys:
                continue
            if table == "milestones" and row["project_id"] in scope:
                continue
            if table in _MILESTONE_COLUMN:
                mid = row[_MILESTONE_COLUMN[table]]
                if mid in scope_ms or mid not in set(new["milestones"]["milestone_id"]):
                    continue
            kept.append(row)
        new[table] = pl.concat([pl.DataFrame(kept, schema=base[table].schema), uploaded[table]])
    return new


def model_changes(old: dict[str, pl.DataFrame], new: dict[str, pl.DataFrame], sid: int) -> pl.DataFrame:
    """What changed between two model snapshots, listed as the store lists it."""
    ms = ["milestone_id", "project_id", "name", "baseline_finish", "forecast_finish", "actual_finish"]
    ms.append("reported_status")
    parts = [
        milestone_changes(old["milestones"].select(ms), new["milestones"].select(ms), sid),
        kpi_actual_changes(
            old["kpi_actuals"].select("kpi_id", "as_of", "value"),
            new["kpi_actuals"].select("kpi_id", "as_of", "value"),
            new["kpis"].select("kpi_id", "name"),
            sid,
        ),
        budget_changes(
            old["projects"].select("project_id", "name", "budget"),
            new["projects"].select("project_id", "name", "budget"),
            sid,
        ),
    ]
    order = {kind: i for i, kind in enumerate(CHANGE_KINDS)}
    return (
        pl.concat(parts)
        .sort(pl.col("change").replace_strict(order, return_dtype=pl.Int64), maintain_order=True)
        .cast(CHANGES_SCHEMA)
    )


# ---------------------------------------------------------------------- random uploads
def _rows(draw: st.DrawFn, table: str, *, full: bool) -> list[dict]:
    """Rows of one table with unique keys; a partial upload brings a few, a full one the whole table."""
    day = st.integers(0, 120).map(lambda d: DAY + timedelta(days=d))
    if table == "projects":
        ids = PROJECTS if full else draw(st.lists(st.sampled_from(PROJECTS), min_size=1, unique=True))
        budget = st.sampled_from([None, 1000.0, 2500.0])
        return [{"project_id": p, "name": f"Project {p}", "owner": "Ann", "budget": draw(budget)} for p in ids]
    if table == "milestones":
        ids = draw(st.lists(st.sampled_from(MILESTONES), min_size=1, unique=True))
        return [
            {
                "milestone_id": m,
                "project_id": draw(st.sampled_from(PROJECTS)),
                "name": f"Milestone {m}",
                "owner": "Bob",
                "baseline_finish": draw(day),
                "forecast_finish": draw(day),
                "actual_finish": draw(st.none() | day),
                "reported_status": draw(st.sampled_from([None, "Green", "Red"])),
            }
            for m in ids
        ]
    if table == "tasks":
        ids = draw(st.lists(st.sampled_from(TASKS), min_size=1, unique=True))
        targets = st.sampled_from([*MILESTONES, "MX"])  # MX: a milestone no snapshot holds
        return [
            {"task_id": t, "milestone_id": draw(targets), "name": f"Task {t}", "forecast_finish": draw(day)}
            for t in ids
        ]
    if table == "links":
        ids = draw(st.lists(st.sampled_from(MILESTONES), min_size=1, unique=True))
        return [{"milestone_id": m, "kpi_id": "K1", "kpi_delta": draw(st.sampled_from([-0.1, 0.2]))} for m in ids]
    if table == "dependencies":
        pairs = draw(
            st.lists(st.tuples(st.integers(1, 7), st.integers(1, 7)).filter(lambda p: p[0] < p[1]), unique=True)
        )
        return [{"predecessor_id": f"M{a}", "successor_id": f"M{b}", "lag_days": b - a} for a, b in pairs]
    if table == "kpi_actuals":
        days = draw(st.lists(st.integers(0, 4), min_size=1, unique=True))
        return [
            {"kpi_id": "K1", "as_of": DAY + timedelta(weeks=d), "value": draw(st.sampled_from([1.0, 2.0]))}
            for d in days
        ]
    raise AssertionError(table)


FIXED = {
    "objectives": [{"objective_id": "O1", "name": "Cut cost", "owner": "Dana"}],
    "kpis": [
        {
            "kpi_id": "K1",
            "name": "Cost",
            "objective_id": "O1",
            "owner": "Sam",
            "direction": "lower_is_better",
            "baseline_value": 2.0,
            "target_value": 1.0,
            "period_start": date(2026, 1, 1),
            "target_date": date(2026, 12, 31),
        }
    ],
}
PARTS = ["projects", "milestones", "tasks", "links", "dependencies", "kpi_actuals"]


@st.composite
def upload_runs(draw: st.DrawFn) -> list[tuple[int, bool, dict[str, list[dict]]]]:
    """Uploads as (week of the as_of date, full?, rows per table); dates repeat and go back."""
    runs = []
    for _ in range(draw(st.integers(2, 6))):
        week = draw(st.integers(0, 3))
        full = draw(st.booleans())
        tables = PARTS if full else draw(st.lists(st.sampled_from(PARTS), min_size=1, max_size=3, unique=True))
        runs.append((week, full, {t: _rows(draw, t, full=full) for t in tables}))
    return runs


def as_upload(number: int, tables: dict[str, list[dict]]) -> FakeUpload:
    frames, files = {}, []
    for table, rows in tables.items():
        name = f"{table}.csv"
        frame = conform(table, pl.DataFrame(rows, schema={c: col.dtype for c, col in TABLES[table].items()}))
        frames[table] = frame.with_columns(
            pl.lit(name).alias("_file"), pl.lit(table).alias("_sheet"), pl.int_range(2, frame.height + 2).alias("_row")
        )
        data = f"upload {number}, {table}".encode()  # every upload distinct, never "already loaded"
        files.append(FakeFile(name, hashlib.sha256(data).hexdigest(), len(data), "template", {table: frame.height}))
    return FakeUpload(frames, files)


@settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(upload_runs())
def test_every_snapshot_reads_back_as_a_full_copy_of_its_rows(runs):
    assert_runs_read_back(runs)


@settings(
    max_examples=10,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(upload_runs())
def test_every_snapshot_reads_back_as_a_full_copy_when_every_upload_folds_its_chain(runs):
    # kpi_engine/store/consolidation.py: every upload built on a snapshot copies what it carries
    with folding_at(0.0):
        assert_runs_read_back(runs)


def assert_runs_read_back(runs: list[tuple[int, bool, dict[str, list[dict]]]]) -> None:
    """Store ``runs`` and check every snapshot, its changes and the history against the model."""
    model: dict[int, tuple[date, dict[str, pl.DataFrame]]] = {}
    with tempfile.TemporaryDirectory() as folder, Store.open(Path(folder) / "kpi.duckdb") as store:
        for number, (week, full, tables) in enumerate(runs):
            as_of = DAY + timedelta(weeks=week)
            earlier = sorted((d, sid) for sid, (d, _) in model.items() if d <= as_of)
            base = earlier[-1][1] if earlier else None
            if base is None:  # nothing to build on: the first upload of a store brings every table
                tables = {**{t: _rows_for_full(t) for t in PARTS}, **tables, "projects": _rows_for_full("projects")}
                full = True
            tables = {**FIXED, **tables} if full else tables
            uploaded = as_upload(number, tables)
            result = store.ingest(uploaded, as_of)
            assert result.snapshot_id == len(model) + 1 and result.built_on == base
            canonical = {t: f.select(list(TABLES[t])) for t, f in uploaded.tables.items()}
            merged = model_merge(model[base][1] if base is not None else None, canonical)
            model[result.snapshot_id] = (as_of, merged)
            assert result.rows == {t: f.height for t, f in merged.items()}, (
                result.rows,
                {t: f.height for t, f in merged.items()},
            )
            previous = [sid for d, sid in sorted((d, sid) for sid, (d, _) in model.items()) if d < as_of]
            if previous:
                want = model_changes(model[previous[-1]][1], merged, result.snapshot_id)
                assert_frame_equal(result.changes, want)
        history = []
        for sid, (as_of, tables) in model.items():
            got = store.load_portfolio(sid).tables()
            want = Portfolio.from_tables(tables, as_of).tables()
            for table in TABLES:
                assert_frame_equal(got[table], want[table])
            assert_missing_milestones_counted(store, sid, want)
            ms = want["milestones"].select(
                pl.lit(sid, pl.Int64).alias("snapshot_id"), pl.lit(as_of).alias("as_of"), pl.all()
            )
            history.append((as_of, sid, ms))
        want_history = pl.concat([f for _, _, f in sorted(history, key=lambda h: (h[0], h[1]))])
        got_history = store.load_milestone_history()
        assert_frame_equal(got_history, want_history.select(got_history.columns))


def assert_missing_milestones_counted(store: Store, snapshot_id: int, tables: dict[str, pl.DataFrame]) -> None:
    """The rows naming a milestone the snapshot lacks, as it keeps them per table, are those of ``tables``."""
    kept = json.loads(store._rows("SELECT row_counts FROM snapshots WHERE snapshot_id = ?", [snapshot_id])[0][0])
    held = tables["milestones"]["milestone_id"].implode()
    for table, count in kept[MISSING_KEY].items():
        named = tables[table][MILESTONE_COLUMN[table]]
        assert count == int((~named.is_in(held)).sum()), (snapshot_id, table, count)


def _rows_for_full(table: str) -> list[dict]:
    """A small complete table for a first upload drawn as a partial one."""
    if table == "projects":
        return [{"project_id": p, "name": f"Project {p}", "owner": "Ann"} for p in PROJECTS]
    if table == "milestones":
        return [
            {"milestone_id": "M1", "project_id": "P1", "name": "Milestone M1", "owner": "Bob", "baseline_finish": DAY}
        ]
    if table == "tasks":
        return [{"task_id": "T1", "milestone_id": "M1", "name": "Task T1", "forecast_finish": DAY}]
    if table == "links":
        return [{"milestone_id": "M1", "kpi_id": "K1"}]
    if table == "dependencies":
        return [{"predecessor_id": "M1", "successor_id": "M2"}]
    return [{"kpi_id": "K1", "as_of": DAY, "value": 1.0}]


def test_a_partial_upload_stores_only_its_own_rows(tmp_path):
    with Store.open(tmp_path / "kpi.duckdb") as store:
        store.ingest(upload(**PORTFOLIO), date(2026, 6, 1))
        result = store.ingest(
            upload(tasks="task_id,milestone_id,name,forecast_finish\nTA1,A1,Task A1 renamed,2026-09-01"),
            date(2026, 6, 8),
        )
        stored = {t: store._rows(f'SELECT count(*) FROM "{t}" WHERE snapshot_id = 2')[0][0] for t in TABLES}
        assert stored == {t: int(t == "tasks") for t in TABLES}
        # the task it replaced is marked as no longer in snapshot 2, and nothing else is
        removed = {t: store._rows(f'SELECT count(*) FROM "{t}_removals"')[0][0] for t in TABLES}
        assert removed == {t: int(t == "tasks") for t in TABLES}
        assert result.rows["tasks"] == 2 and store.load_portfolio(1).tasks["name"].to_list() == ["Task A1", "Task B1"]
        assert store.load_portfolio(2).tasks["name"].to_list() == ["Task B1", "Task A1 renamed"]
