"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import FLEET_DIR
from hypothesis import settings
from pg_server import PgServer, ServerUnavailable, running_server

from kpi_engine.core.errors import InputError
from kpi_engine.store.backends import extension_files

REPO = Path(__file__).resolve().parents[1]

# Property tests draw the same examples on every run, so that a run on main passes or fails
# the same way twice; HYPOTHESIS_PROFILE=explore draws new ones to hunt for bugs.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden files under tests/fixtures/golden from the current output",
    )
    parser.addoption(
        "--all-backends",
        action="store_true",
        help="run the CLI suites on the shared store too, not only the store suite (several minutes more)",
    )


#: Suites that run on the shared store only with --all-backends: each of their tests stores
#: several uploads, which take about a second each on DuckLake, and together they would
#: take the default run past ten minutes. The store suite runs on both backends always.
ALL_BACKENDS_ONLY = frozenset({"test_cli", "test_cli_loop"})


#: Tests that drive headless Chromium: with ``-n 2`` they all run in one of the two test
#: processes, one browser at a time, rather than two browsers and two servers at once.
BROWSER_GROUP = "browser"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the browser journeys together; leave the CLI suites' shared-store variants out of the default run.

    See :data:`BROWSER_GROUP` and :data:`ALL_BACKENDS_ONLY`.
    """
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.xdist_group(BROWSER_GROUP))
    if config.getoption("--all-backends"):
        return
    later = [
        item
        for item in items
        if getattr(item, "callspec", None) is not None
        and item.callspec.params.get("store_url") == "shared"  # type: ignore[attr-defined]
        and item.module is not None
        and item.module.__name__ in ALL_BACKENDS_ONLY
    ]
    if later:
        config.hook.pytest_deselected(items=later)
        chosen = set(map(id, later))
        items[:] = [item for item in items if id(item) not in chosen]


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """Whether this run rewrites the golden files instead of comparing with them."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def fleet_dir() -> Path:
    """The worked example of DOMAIN.md section 5, one CSV per sheet plus fleet.xlsx."""
    return FLEET_DIR


# ---------------------------------------------------------------------- the two kinds of store
#: The kinds of store the store and CLI suites run against: the embedded file and the shared store.
STORE_KINDS = ("file", "shared")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server on 127.0.0.1 for the whole run, from a temporary ``initdb``.

    When it cannot start, the shared-store tests fail in CI (``$CI`` set) and are skipped,
    with the reason, elsewhere.
    """
    try:
        with running_server() as server:
            yield server
    except ServerUnavailable as err:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is needed for the shared-store tests and did not start: {err}")
        pytest.skip(f"PostgreSQL did not start, so the shared-store tests are skipped: {err}")


@pytest.fixture
def lake_extensions() -> None:
    """The DuckLake and postgres extension packages built for the installed DuckDB.

    When they are missing, as for PostgreSQL: a failure in CI, a skip with the reason elsewhere.
    """
    try:
        extension_files()
    except InputError as err:
        if os.environ.get("CI"):
            pytest.fail(f"the shared-store tests cannot run: {err}")
        pytest.skip(f"the shared-store tests are skipped: {err}")


@pytest.fixture
def shared_store_url(request: pytest.FixtureRequest, tmp_path: Path, lake_extensions: None) -> str:
    """The address of a fresh shared store: a new database on the test server and a new data folder."""
    server: PgServer = request.getfixturevalue("pg_server")
    return server.url(server.create_database(), tmp_path / "lake-data")


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each kind: a DuckDB file, or a shared store on PostgreSQL."""
    if request.param == "file":
        return str(tmp_path / "kpi.duckdb")
    return str(request.getfixturevalue("shared_store_url"))
