"""Run times in the server log (ui/timing.py): one line per script run when asked, nothing otherwise."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from ui import timing

LINE = re.compile(
    r'^kpi run-time path="(?P<path>[^"]*)" frame=(?P<frame>[0-9.]+) page=(?P<page>[0-9.]+) total=(?P<total>[0-9.]+)$'
)


@pytest.fixture
def run_lines(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """What the timing logger writes during a test (``.messages``)."""
    logger = logging.getLogger("kpi_dashboard.timing")
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)


def test_each_run_of_a_page_writes_its_path_and_times(sample_db, open_app, monkeypatch, run_lines):
    monkeypatch.setenv("KPI_RUN_TIMES", "1")
    at = open_app(sample_db, "pages/exceptions.py")
    at.run()
    found = [LINE.match(line) for line in run_lines.messages]
    assert all(found) and len(found) == 3
    assert [m["path"] for m in found if m] == ["", "exceptions", "exceptions"]
    for m in found:
        assert m is not None
        total = float(m["total"])
        assert total > 0
        assert abs(float(m["frame"]) + float(m["page"]) - total) <= 0.002  # rounded to milliseconds
    assert not at.exception


def test_nothing_is_written_unless_asked(sample_db, open_app, monkeypatch, run_lines):
    monkeypatch.delenv("KPI_RUN_TIMES", raising=False)
    open_app(sample_db, "pages/governance.py")
    assert run_lines.messages == []


def test_a_page_that_stops_early_is_still_timed(monkeypatch, run_lines):
    monkeypatch.setenv("KPI_RUN_TIMES", "yes")
    with pytest.raises(RuntimeError), timing.run_clock("settings") as clock:
        clock.page_starts()
        raise RuntimeError("the page stopped")
    (line,) = run_lines.messages
    found = LINE.match(line)
    assert found is not None and found["path"] == "settings"
