"""The dashboard and other programs on one store: a scheduled CLI ingest while the app runs shows
at the next rerun (on a database file and on a shared store, where each app instance keeps its
computed results per snapshot and settings); a page opened while another program holds the file
says busy."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from app_helpers import no_errors
from builders import FLEET_DIR
from reliability.holder import holding
from streamlit.testing.v1 import AppTest

from kpi_engine.ingest import read_paths, read_upload
from kpi_engine.store import Store
from ui import loaders
from ui.context import SNAPSHOT_KEY

ROOT = Path(__file__).resolve().parents[2]
WEEK = ROOT / "data" / "sample" / "weeks" / "2026-06-15"


def _cli_ingest(db: Path | str, as_of: str, *files: Path) -> subprocess.CompletedProcess[str]:
    """A scheduled job: the CLI storing files (default: a sample week's) into the app's store."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kpi_engine",
            "ingest",
            *(str(p) for p in files or sorted(WEEK.glob("*.csv"))),
            "--db",
            str(db),
            "--as-of",
            as_of,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), "KPI_DB_BUSY_TIMEOUT": "30"},
    )


def test_a_cli_ingest_while_the_app_runs_shows_at_the_next_rerun(
    writable_db: Path, open_app: Callable[..., AppTest]
) -> None:
    at = open_app(writable_db)
    latest = at.session_state[SNAPSHOT_KEY]

    done = _cli_ingest(writable_db, "2026-06-22")  # gets in once the app's Store is idle

    assert done.returncode == 0, done.stderr
    at.run()
    assert no_errors(at)
    picker = at.sidebar.selectbox(key=SNAPSHOT_KEY)
    assert picker.value == latest + 1  # a session on the latest snapshot follows the new one
    assert "22 Jun 2026 (latest)" in picker.format_func(picker.value)


def test_after_a_cli_ingest_only_the_new_snapshot_is_computed(
    writable_db: Path, open_app: Callable[..., AppTest]
) -> None:
    """The snapshot that was the latest is the new one's previous snapshot: its result is reused, not recomputed.

    So is the snapshot before it, which the reporting history of the Exceptions page needs:
    it was computed as the context of the snapshot shown before, and is not computed again as
    an older snapshot.
    """
    loaders.clear()
    path = str(writable_db)
    at = open_app(writable_db, "pages/exceptions.py")
    assert no_errors(at)
    key = loaders.settings_key(path)
    shown = at.session_state[SNAPSHOT_KEY]
    was_latest = loaders.result(path, shown, key)
    context = loaders.previous_result(path, shown, key)
    with Store.open(writable_db) as store:
        context_id = store.previous_snapshot_id(shown)
    assert context is not None and context_id is not None

    done = _cli_ingest(writable_db, "2026-06-22")
    assert done.returncode == 0, done.stderr
    at.run()

    assert no_errors(at)
    new = at.session_state[SNAPSHOT_KEY]
    assert new == shown + 1
    assert loaders.previous_result(path, new, key) is was_latest
    assert loaders.computed(path, context_id, key) is context
    # the report history took it from the results, not from a run of its own
    assert (path, context_id, key) not in loaders._older


def test_a_snapshot_another_program_dates_before_the_latest_makes_the_app_compute_again(
    writable_db: Path, open_app: Callable[..., AppTest]
) -> None:
    """The latest snapshot now compares with the back-dated one: its cached result (and every other) is forgotten."""
    loaders.clear()
    path = str(writable_db)
    at = open_app(writable_db)
    key = loaders.settings_key(path)
    latest = at.session_state[SNAPSHOT_KEY]
    kept = loaders.result(path, latest, key)

    done = _cli_ingest(writable_db, "2026-06-10")  # between the two latest weeks
    assert done.returncode == 0, done.stderr
    at.run()

    assert no_errors(at)
    assert at.session_state[SNAPSHOT_KEY] == latest  # the latest is still the latest
    again = loaders.result(path, latest, key)
    assert again is not kept
    with Store.open(writable_db) as store:
        assert store.previous_snapshot_id(latest) == latest + 1
    assert loaders.previous_result(path, latest, key).portfolio.as_of == date(2026, 6, 10)


def test_a_session_on_an_older_snapshot_stays_there(writable_db: Path, open_app: Callable[..., AppTest]) -> None:
    at = open_app(writable_db)
    latest = at.session_state[SNAPSHOT_KEY]
    at.sidebar.selectbox(key=SNAPSHOT_KEY).set_value(latest - 2).run()

    assert _cli_ingest(writable_db, "2026-06-22").returncode == 0
    at.run()

    assert at.sidebar.selectbox(key=SNAPSHOT_KEY).value == latest - 2


def test_a_page_opened_while_another_program_holds_the_file_says_busy(
    writable_db: Path, open_app: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPI_DB_BUSY_TIMEOUT", "0.3")
    with holding(writable_db):
        at = open_app(writable_db)

        assert not at.exception
        assert any("is in use by another program" in e.value for e in at.error)

    at.run()  # the other program is done: the same session works again
    assert no_errors(at)


def test_on_a_shared_store_a_cli_ingest_shows_at_the_next_rerun_and_computed_snapshots_stay_cached(
    shared_store_url: str, open_app: Callable[..., AppTest], tmp_path: Path
) -> None:
    """The app asks the shared store for its latest DuckLake snapshot on every rerun.

    An engine result is kept per (store, snapshot, settings) in the app's process: a rerun
    hands out the very same object, and a snapshot stored by another program adds a result
    without throwing away the ones of the snapshots before it (they never change).
    """
    files = read_paths(sorted(FLEET_DIR.glob("*.csv")))
    with Store.open(shared_store_url) as store:
        store.ingest(read_upload(files), date(2026, 6, 15), author="first", sources=files)
    at = open_app(shared_store_url)
    assert no_errors(at)
    assert at.session_state[SNAPSHOT_KEY] == 1
    key = loaders.settings_key(shared_store_url)
    first = loaders.result(shared_store_url, 1, key)
    at.run()
    assert loaders.result(shared_store_url, 1, key) is first

    week = tmp_path / "milestones.csv"
    moved = (FLEET_DIR / "milestones.csv").read_text().replace("2026-08-31,2026-09-07", "2026-08-31,2026-09-14")
    week.write_text(moved)
    done = _cli_ingest(shared_store_url, "2026-06-22", week)
    assert done.returncode == 0, done.stderr
    at.run()

    assert no_errors(at)
    picker = at.sidebar.selectbox(key=SNAPSHOT_KEY)
    assert picker.value == 2
    assert "22 Jun 2026 (latest)" in picker.format_func(picker.value)
    assert loaders.settings_key(shared_store_url) == key
    assert loaders.result(shared_store_url, 1, key) is first
    second = loaders.result(shared_store_url, 2, key)
    assert second is not first
    m1 = {
        result: r.portfolio.milestones.filter(milestone_id="M1")["forecast_finish"].item()
        for result, r in (("first", first), ("second", second))
    }
    assert m1 == {"first": date(2026, 9, 7), "second": date(2026, 9, 14)}
