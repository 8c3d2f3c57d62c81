"""The dashboard and other programs on one database file: a scheduled CLI ingest while the app
runs shows at the next rerun; a page opened while another program holds the file says busy."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from app_helpers import no_errors
from reliability.holder import holding
from streamlit.testing.v1 import AppTest

from ui.context import SNAPSHOT_KEY

ROOT = Path(__file__).resolve().parents[2]
WEEK = ROOT / "data" / "sample" / "weeks" / "2026-06-15"


def _cli_ingest(db: Path, as_of: str) -> subprocess.CompletedProcess[str]:
    """A scheduled job: the CLI storing a week's files into the app's database file."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kpi_engine",
            "ingest",
            *(str(p) for p in sorted(WEEK.glob("*.csv"))),
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
