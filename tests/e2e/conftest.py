"""A real dashboard server on the sample portfolio, driven by headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_helpers import CHROMIUM, require_chromium, serve
from playwright.sync_api import expect

# A page may take longer than Playwright's 5 s to show what a test expects while the other
# test process works alongside (``-n 2``): every ``expect`` waits as long as a page action does.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the dashboard as the README does (``python -m ui.serve``) on a fresh database: it loads the sample itself."""
    require_chromium()
    folder = tmp_path_factory.mktemp("e2e")
    yield from serve(folder / "kpi.duckdb", folder)


@pytest.fixture(scope="session")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dashboard on a portfolio whose every name is a hostile string (``tests/hostile_text.py``)."""
    from hostile_text import hostile_portfolio

    require_chromium()
    folder = tmp_path_factory.mktemp("e2e_hostile")
    yield from serve(hostile_portfolio(folder / "hostile.duckdb"), folder)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright (its own browser download does not work here)."""
    require_chromium()
    from playwright import sync_api as playwright_sync

    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
