"""The first start's sample load ahead of the first page (``python -m ui.serve``, :mod:`ui.preload`).

Each test starts the real loading process on a database of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kpi_engine import sample
from kpi_engine.sample import sample_weeks
from kpi_engine.store import Store
from ui import preload


@pytest.fixture(autouse=True)
def no_earlier_loads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no load begun in this process, and waits for the one it began."""
    monkeypatch.setattr(preload, "_load", None)
    monkeypatch.delenv("KPI_AUTOLOAD_SAMPLE", raising=False)
    yield
    if preload._load is not None:
        preload._load.wait(timeout=120)


def _as_of_dates(db: Path | str) -> list[str]:
    with Store.open(db) as store:
        return [d.isoformat() for d in store.snapshots()["as_of"].to_list()]


def test_the_preload_fills_an_empty_database_with_every_sample_week(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "kpi.duckdb"
    monkeypatch.setenv("KPI_DB", str(db))
    preload.start()
    assert preload.pending(str(db))  # a process of its own: start() does not wait for it
    preload.wait(str(db))
    assert not preload.pending(str(db))
    assert _as_of_dates(db) == [as_of.isoformat() for as_of, _ in sample_weeks()]


def test_a_relative_database_path_is_the_one_in_the_folder_the_dashboard_started_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # not the repository: the app's data/ would be elsewhere
    monkeypatch.setenv("KPI_DB", "team.duckdb")
    preload.start()
    preload.wait("team.duckdb")
    assert len(_as_of_dates(tmp_path / "team.duckdb")) == len(sample_weeks())


def test_the_preload_leaves_a_database_holding_snapshots_as_it_was(
    sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "kpi.duckdb"
    db.write_bytes(sample_db.read_bytes())
    with Store.open(db) as store:
        before = store.snapshots()
    monkeypatch.setenv("KPI_DB", str(db))
    preload.start()
    preload.wait(str(db))
    with Store.open(db) as store:
        assert store.snapshots().equals(before)


def test_nothing_is_preloaded_when_the_sample_is_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "kpi.duckdb"
    monkeypatch.setenv("KPI_DB", str(db))
    monkeypatch.setenv("KPI_AUTOLOAD_SAMPLE", "0")
    preload.start()
    assert not preload.pending(str(db))
    preload.wait(str(db))  # returns at once
    assert not db.exists()


def test_a_second_start_in_one_process_starts_no_second_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "kpi.duckdb"
    monkeypatch.setenv("KPI_DB", str(db))
    preload.start()
    first = preload._load
    preload.start()
    assert first is not None and preload._load is first
    preload.wait(str(db))
    assert len(_as_of_dates(db)) == len(sample_weeks())


def test_a_failed_preload_says_why_and_the_wait_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "kpi.duckdb"
    db.write_text("not a database", encoding="utf-8")
    monkeypatch.setenv("KPI_DB", str(db))
    preload.start()
    preload.wait(str(db))
    assert preload._load is not None and preload._load.returncode == 1
    err = capfd.readouterr().err
    assert "loading the sample portfolio ahead of the first page failed" in err
    assert f"the database file {db} cannot be opened" in err
    assert db.read_text(encoding="utf-8") == "not a database"  # left as it was


def test_the_app_waits_for_a_pending_preload_instead_of_loading_the_sample_itself(
    store_url: str, monkeypatch: pytest.MonkeyPatch, open_app: Callable[..., AppTest]
) -> None:
    # A database file's lock would make the app wait anyway; a shared store has no such lock,
    # and an app that did not wait would show the weeks stored so far, or load them again.
    monkeypatch.setenv("KPI_DB", store_url)
    loads_here: list[object] = []
    monkeypatch.setattr(sample, "load_sample", lambda store, *args: loads_here.append(store))
    preload.start()
    assert preload.pending(store_url)
    at = open_app(store_url)  # its first run begins while the other process is still loading
    assert not at.exception
    assert loads_here == []  # the app process loaded nothing itself
    weeks = sample_weeks()
    assert _as_of_dates(store_url) == [as_of.isoformat() for as_of, _ in weeks]  # every week once
    picker = at.sidebar.selectbox(key="snapshot_id")
    assert picker.options[0].startswith(f"{weeks[-1][0]:%-d %b %Y} (latest)")  # the newest week first
    assert len(picker.options) == len(weeks)
