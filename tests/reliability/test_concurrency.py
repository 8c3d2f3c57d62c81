"""Many users at once: Streamlit runs sessions as threads sharing one Store.

Four threads upload partial weeks while four read (portfolios, the snapshot list, the
full analysis). Afterwards every snapshot holds exactly what its upload and the snapshot
it started from hold: nothing lost, nothing half-written, no exception anywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from kpi_engine.analysis import analyse
from kpi_engine.ingest import ParsedUpload, SourceFile, read_upload
from kpi_engine.store import Store

BASE_DAY = date(2026, 6, 1)
WRITERS, ROUNDS, READERS = 4, 3, 4

BASE = {
    "objectives.csv": "objective_id,name,owner\nO1,Cut cost,Dana Whitfield\n",
    "kpis.csv": (
        "kpi_id,name,objective_id,owner,direction,baseline_value,target_value,period_start,target_date\n"
        "K1,Cost per mile,O1,Sam Okafor,lower_is_better,2.1,1.9,2026-01-01,2026-12-31\n"
    ),
    "projects.csv": "project_id,name,owner,sponsor\nP0,Base project,Ann Lee,Dana Whitfield\n",
    "milestones.csv": (
        "milestone_id,project_id,name,owner,baseline_finish,forecast_finish\n"
        "P0-M1,P0,Base go-live,Ann Lee,2026-09-30,2026-10-14\n"
    ),
    "links.csv": "milestone_id,kpi_id,kpi_delta,ramp_days,value_per_week\nP0-M1,K1,-0.1,14,50000\n",
}


@dataclass(frozen=True)
class Week:
    """One writer's partial upload: a new project with its milestones and tasks."""

    author: str
    as_of: date
    project: str
    milestones: frozenset[str]
    tasks: frozenset[str]
    upload: ParsedUpload


def week(writer: int, round_: int) -> Week:
    project = f"P{writer}{round_}"
    count = (writer + 1) * (round_ + 2)
    milestones = [f"{project}-M{i}" for i in range(count)]
    tasks = [f"{m}-T{j}" for m in milestones for j in range(2)]
    files = [
        SourceFile("projects.csv", f"project_id,name,owner\n{project},Project {project},Ann Lee\n".encode()),
        SourceFile(
            "milestones.csv",
            (
                "milestone_id,project_id,name,owner,baseline_finish\n"
                + "".join(f"{m},{project},Step {m},Bob Roy,2026-10-01\n" for m in milestones)
            ).encode(),
        ),
        SourceFile(
            "tasks.csv",
            (
                "task_id,milestone_id,name,owner,forecast_finish\n"
                + "".join(f"{t},{t.rsplit('-', 1)[0]},Task {t},Cy Ode,2026-09-15\n" for t in tasks)
            ).encode(),
        ),
    ]
    return Week(
        author=f"writer-{writer}-{round_}",
        as_of=BASE_DAY + timedelta(days=1 + round_ * WRITERS + writer),
        project=project,
        milestones=frozenset(milestones),
        tasks=frozenset(tasks),
        upload=read_upload(files),
    )


def run_threads(targets: list[Callable[[], None]]) -> list[BaseException]:
    """Start every target at once; return what they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(targets))

    def guarded(target: Callable[[], None]) -> None:
        try:
            start.wait()
            target()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return errors


def expected_contents(store: Store, weeks: dict[str, Week]) -> dict[int, tuple[frozenset[str], frozenset[str]]]:
    """Milestones and tasks each snapshot must hold, replayed in commit (id) order.

    A snapshot starts from the latest earlier-committed snapshot dated on or before it
    and adds its own upload's project.
    """
    listed = store.snapshots().sort("snapshot_id")
    contents: dict[int, tuple[frozenset[str], frozenset[str]]] = {}
    done: list[tuple[date, int]] = []
    for sid, as_of, author in listed.select("snapshot_id", "as_of", "author").iter_rows():
        earlier = [(d, i) for d, i in done if d <= as_of]
        milestones, tasks = contents[max(earlier)[1]] if earlier else (frozenset(), frozenset())
        if author == "base":
            milestones, tasks = frozenset({"P0-M1"}), frozenset()
        else:
            milestones, tasks = milestones | weeks[author].milestones, tasks | weeks[author].tasks
        contents[sid] = (milestones, tasks)
        done.append((as_of, sid))
    return contents


def test_eight_threads_upload_and_read_at_once_and_lose_nothing(tmp_path: Path) -> None:
    weeks = {w.author: w for w in (week(t, r) for t in range(WRITERS) for r in range(ROUNDS))}
    store = Store.open(tmp_path / "kpi.duckdb")
    base = read_upload([SourceFile(name, text.encode()) for name, text in BASE.items()])
    store.ingest(base, BASE_DAY, author="base")
    writing = threading.Event()
    writing.set()
    reads = {"portfolios": 0, "lists": 0, "analyses": 0, "checked": 0}

    def writer(index: int) -> Callable[[], None]:
        def run() -> None:
            for round_ in range(ROUNDS):
                w = weeks[f"writer-{index}-{round_}"]
                result = store.ingest(w.upload, w.as_of, author=w.author)
                assert result.snapshot_id is not None and not result.unchanged

        return run

    def read_latest() -> None:
        while writing.is_set():
            portfolio = store.load_portfolio()
            assert portfolio.milestones.height >= 1
            reads["portfolios"] += 1

    def list_snapshots() -> None:
        while writing.is_set():
            listed = store.snapshots()
            assert listed["snapshot_id"].n_unique() == listed.height
            reads["lists"] += 1

    def analyse_latest() -> None:
        while writing.is_set():
            result = analyse(store)
            assert result.milestones.height == result.portfolio.milestones.height
            reads["analyses"] += 1

    def check_complete() -> None:
        """Every snapshot a reader sees holds the rows its row counts promise."""
        while writing.is_set():
            listed = store.snapshots()
            for sid, rows in listed.select("snapshot_id", "rows").iter_rows():
                portfolio = store.load_portfolio(sid)
                assert portfolio.milestones.height == rows["milestones"]
                assert portfolio.tasks.height == rows["tasks"]
            reads["checked"] += 1

    writers = [writer(i) for i in range(WRITERS)]
    readers = [read_latest, list_snapshots, analyse_latest, check_complete]
    assert len(writers) + len(readers) == 8

    def writers_then_stop() -> list[BaseException]:
        errors = run_threads(writers)
        writing.clear()
        return errors

    outcome: dict[str, list[BaseException]] = {}
    everyone = [lambda: outcome.setdefault("writers", writers_then_stop()), *readers]
    errors = run_threads(everyone)

    assert errors == [] and outcome["writers"] == []
    assert all(count > 0 for count in reads.values()), reads
    assert store.snapshots().height == 1 + WRITERS * ROUNDS
    for sid, (milestones, tasks) in expected_contents(store, weeks).items():
        portfolio = store.load_portfolio(sid)
        assert set(portfolio.milestones["milestone_id"]) == milestones, sid
        assert set(portfolio.tasks["task_id"]) == tasks, sid
    store.close()


def test_regression_two_stores_on_one_file_write_in_turn(tmp_path: Path) -> None:
    """Two Stores on one file in one process each had a lock of their own: concurrent uploads
    took the same snapshot id and failed with a DuckDB constraint error."""
    path = tmp_path / "kpi.duckdb"
    first, second = Store.open(path), Store.open(str(tmp_path / "." / "kpi.duckdb"))  # spelled two ways
    weeks = [week(t, r) for t in range(WRITERS) for r in range(2)]

    def writer(store: Store, mine: list[Week]) -> Callable[[], None]:
        return lambda: [store.ingest(w.upload, w.as_of, author=w.author) for w in mine]

    errors = run_threads([writer(first if i % 2 else second, weeks[i::WRITERS]) for i in range(WRITERS)])

    assert errors == []
    assert sorted(first.snapshots()["author"]) == sorted(w.author for w in weeks)
    first.close()
    second.close()


@pytest.mark.parametrize("conflicts", [1, 4])
def test_a_write_meeting_a_transaction_conflict_is_retried(tmp_path: Path, conflicts: int) -> None:
    import duckdb

    store = Store.open(tmp_path / "kpi.duckdb")
    attempts = []

    def work(cur: duckdb.DuckDBPyConnection) -> int:
        attempts.append(1)
        if len(attempts) <= conflicts:
            raise duckdb.TransactionException("TransactionContext Error: Catalog write-write conflict on create")
        return cur.execute("SELECT 42").fetchall()[0][0]

    assert store._write(work) == 42
    assert len(attempts) == conflicts + 1
    store.close()
