"""What other pages need of the snapshot shown is prepared in the background once a page is drawn.

(``ui.loaders.prepare_in_background``, started by app.py after every page.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from app_helpers import no_errors
from streamlit.testing.v1 import AppTest

from ui import loaders


def _wait_for_preparation() -> None:
    """Join every preparation thread still running."""
    for thread in threading.enumerate():
        if thread.name == loaders.PREPARE_THREAD:
            thread.join(timeout=120)
            assert not thread.is_alive(), "the preparation did not finish"


@pytest.fixture
def older_reads(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Every call reading older snapshots for the report and slip histories (the snapshot ids asked for)."""
    calls: list[list[int]] = []
    real = loaders.older_snapshots

    def counting(store, snapshot_ids, settings):  # type: ignore[no-untyped-def]
        calls.append(list(snapshot_ids))
        return real(store, snapshot_ids, settings)

    monkeypatch.setattr(loaders, "older_snapshots", counting)
    return calls


def test_the_first_page_starts_reading_the_older_snapshots_the_drill_down_needs(
    writable_db: Path, open_app: Callable[..., AppTest], older_reads: list[list[int]]
) -> None:
    at = open_app(writable_db)  # the Portfolio pulse needs no older snapshot itself
    assert no_errors(at)
    _wait_for_preparation()
    assert len(older_reads) == 1 and len(older_reads[0]) >= 5  # the sample's weeks before the last two
    at.switch_page("pages/exceptions.py")
    at.run()
    assert no_errors(at)
    # the drill-down's reporting sentences and slip history came from what was prepared
    assert any("report" in element.value for element in at.get("html")), "no reporting sentence shown"
    _wait_for_preparation()
    assert len(older_reads) == 1


def test_a_snapshot_is_prepared_once_per_process(writable_db: Path, open_app: Callable[..., AppTest]) -> None:
    started: list[str] = []
    real_start = threading.Thread.start

    def start(thread: threading.Thread) -> None:
        if thread.name == loaders.PREPARE_THREAD:
            started.append(thread.name)
        real_start(thread)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threading.Thread, "start", start)
        at = open_app(writable_db)
        at.switch_page("pages/heatmap.py")
        at.run()
        at.switch_page("pages/governance.py")
        at.run()
    _wait_for_preparation()
    assert started == [loaders.PREPARE_THREAD]


def test_a_failed_preparation_leaves_the_pages_to_compute_and_show_it(
    writable_db: Path, open_app: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = loaders.reports_by_person
    failing = {"on": True}

    def flaky(path: str, snapshot_id: int, settings: loaders.SettingsKey):  # type: ignore[no-untyped-def]
        if failing["on"]:
            raise RuntimeError("the database went away")
        return real(path, snapshot_id, settings)

    monkeypatch.setattr(loaders, "reports_by_person", flaky)
    at = open_app(writable_db)
    assert no_errors(at)  # the failure stays in the background thread
    _wait_for_preparation()
    failing["on"] = False
    at.switch_page("pages/exceptions.py")
    at.run()
    assert no_errors(at)
    assert any("report" in element.value for element in at.get("html"))
