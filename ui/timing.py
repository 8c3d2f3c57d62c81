"""How long each script run takes on the server, written to the server log when asked.

With ``KPI_RUN_TIMES=1`` in the environment, every run of a page writes one line to the
server's standard error::

    kpi run-time path="exceptions" frame=0.012 page=0.083 total=0.095

``path`` is the page's address (empty for the default page), ``frame`` app.py's own
work before the page (the sample check, the sign-in notice, the snapshot picker) and
``page`` the page script. What a browser waits for beyond ``total``
is Streamlit sending the page and the browser drawing it; ``bench.bench_browser`` prints
both side by side. Off by default: nothing is measured or written.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("kpi_dashboard.timing")
#: The prefix of each line, for tools that read the log.
PREFIX = "kpi run-time"


def enabled() -> bool:
    """Whether ``KPI_RUN_TIMES`` asks for run times (``1``, ``true`` or ``yes``)."""
    return os.environ.get("KPI_RUN_TIMES", "").strip().lower() in ("1", "true", "yes")


def _logger() -> logging.Logger:
    """The timing logger, writing plain lines to standard error (its handler added once)."""
    if not any(getattr(h, "kpi_run_times", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.kpi_run_times = True  # type: ignore[attr-defined]  # marks the handler added here
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return log


class RunClock:
    """The times of one script run: the frame's part and the page's."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.page_started: float | None = None

    def page_starts(self) -> None:
        """Mark the end of app.py's frame and the start of the page script."""
        self.page_started = time.perf_counter()


@contextmanager
def run_clock(path: str) -> Iterator[RunClock]:
    """Time one run of the page at address ``path``; write its line when :func:`enabled` (also when the page stops early)."""
    clock = RunClock()
    try:
        yield clock
    finally:
        if enabled():
            end = time.perf_counter()
            page_start = clock.page_started if clock.page_started is not None else end
            _logger().info(
                '%s path="%s" frame=%.3f page=%.3f total=%.3f',
                PREFIX,
                path,
                page_start - clock.started,
                end - page_start,
                end - clock.started,
            )
