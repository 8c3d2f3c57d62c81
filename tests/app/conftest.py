"""Fixtures of the dashboard tests: the sample portfolio in a database file, and the app.

Loading the sample takes seconds, so it is loaded once per session; tests that only read
share that file, tests that write get their own copy.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from app_helpers import APP, TIMEOUT
from streamlit.testing.v1 import AppTest

from kpi_engine.sample import load_sample
from kpi_engine.store import Store
from ui import pages_mode


@pytest.fixture(scope="session", autouse=True)
def navigation_as_served() -> Iterator[None]:
    """Every AppTest run keeps app.py's navigation (why: ``ui/pages_mode.py``)."""
    with pages_mode.navigation_as_served():
        yield


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file holding the bundled sample (8 weekly snapshots); never written to."""
    path = tmp_path_factory.mktemp("sample") / "sample.duckdb"
    with Store.open(path) as store:
        load_sample(store)
    return path


@pytest.fixture
def writable_db(sample_db: Path, tmp_path: Path) -> Path:
    """A private copy of the sample database for a test that stores something."""
    path = tmp_path / "kpi.duckdb"
    shutil.copyfile(sample_db, path)
    return path


@pytest.fixture
def open_app(monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """Start the app on a database file, optionally on another page, and run it once."""

    def start(db: Path, page: str | None = None) -> AppTest:
        monkeypatch.setenv("KPI_DB", str(db))
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        if page is not None:
            at.switch_page(page)
            at.run()
        return at

    return start
