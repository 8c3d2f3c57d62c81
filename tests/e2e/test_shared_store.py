"""Two dashboard servers on one shared store, both showing a snapshot the CLI stores while they run.

Each server is its own process on the same ``postgresql://`` store (a fresh database on the
test PostgreSQL server), one started with ``python -m ui.serve``, the other with ``streamlit
run app.py``; the CLI writes to the store as a scheduled job would.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import ROOT, require_chromium, serve, wait_for_app
from builders import FLEET_DIR
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def _cli_ingest(url: str, as_of: str, *files: Path) -> str:
    """Store files as a snapshot through the CLI; return what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "kpi_engine", "ingest", *map(str, files), "--db", url, "--as-of", as_of],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _next_week(folder: Path) -> Path:
    """The fleet's milestones.csv with M1's forecast a week later: a PMO's weekly partial upload."""
    text = (FLEET_DIR / "milestones.csv").read_text().replace("2026-08-31,2026-09-07", "2026-08-31,2026-09-14")
    folder.mkdir()
    (folder / "milestones.csv").write_text(text)
    return folder / "milestones.csv"


def _expect_snapshot(page, label: str, header: str) -> None:
    """The sidebar picker shows ``label`` (e.g. "15 Jun 2026 (latest) · #1") and the page header begins with ``header``."""
    expect(page.get_by_test_id("stSidebar").get_by_role("combobox", name="Snapshot")).to_have_value(label)
    expect(page.get_by_text(re.compile("^" + re.escape(header))).first).to_be_visible()


@pytest.fixture
def two_servers(shared_store_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two dashboard servers on one shared store that holds the fleet example as snapshot 1."""
    require_chromium()
    assert "Stored snapshot 1" in _cli_ingest(shared_store_url, "2026-06-15", *sorted(FLEET_DIR.glob("*.csv")))
    with contextlib.ExitStack() as stack:
        urls = []
        for name, launcher in (("a", "serve"), ("b", "streamlit run")):
            folder = tmp_path / f"server-{name}"
            folder.mkdir()
            urls.append(stack.enter_context(contextlib.contextmanager(serve)(shared_store_url, folder, launcher)))
        yield urls[0], urls[1]


def test_two_servers_on_one_shared_store_both_show_a_snapshot_the_cli_stores(
    browser, two_servers: tuple[str, str], shared_store_url: str, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pages = [context.new_page() for _ in two_servers]
    try:
        for page, server in zip(pages, two_servers, strict=True):
            page.set_default_timeout(60_000)
            page.goto(server)
            wait_for_app(page)
            _expect_snapshot(page, "15 Jun 2026 (latest) · #1", "As of 15 Jun 2026 (snapshot #1)")

        out = _cli_ingest(shared_store_url, "2026-06-22", _next_week(tmp_path / "week"))
        assert "Stored snapshot 2" in out

        for number, page in enumerate(pages):
            page.reload()  # a fresh page load on each server: a new session, a new run
            wait_for_app(page)
            _expect_snapshot(
                page, "22 Jun 2026 (latest) · #2", "As of 22 Jun 2026 (snapshot #2) · compared with 15 Jun 2026"
            )
            assert page.get_by_test_id("stException").count() == 0
            # the screenshot once every element has drawn (no placeholder left)
            page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')")
            page.screenshot(path=str(tmp_path / f"server-{number + 1}.png"), full_page=True)
    finally:
        context.close()
