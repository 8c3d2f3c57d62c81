"""Compute what the other pages read while a person looks at the first one.

Every page reads frames cached per (database file, snapshot, settings) in
:mod:`ui.loaders` and :mod:`ui.specs`. Without help, the first visit of a page pays for its
own: the exceptions drill-down for the slip history and the report history of every
snapshot, the governance page for the credibility tables. Once a page has been drawn,
:func:`start` computes them for the snapshot shown in one background thread, in the order a
person usually opens the pages (exceptions, heatmap, KPIs, what-if, governance, my items).

The thread fills the same caches the pages read, so nothing is computed twice: a page
opened while the thread still computes a frame waits for that frame (Streamlit computes
one cached value at a time per key) instead of starting again. The thread runs only
inside the server (``streamlit run``), never in ``streamlit.testing`` runs, and
``KPI_PREWARM=0`` turns it off.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import streamlit as st
from streamlit import runtime

# imported here, in the script's own thread, never first in the background one
from ui import loaders, specs, whatif

log = logging.getLogger(__name__)

At = tuple[str, int, loaders.SettingsKey]

_lock = threading.Lock()
#: The snapshots whose frames were computed, or are being computed, in this process.
_started: set[At] = set()


def enabled() -> bool:
    """Whether pages are computed ahead (``KPI_PREWARM=0`` turns it off); only inside the server."""
    return runtime.exists() and os.environ.get("KPI_PREWARM", "1").strip() != "0"


def steps(at: At) -> list[tuple[str, Callable[[], object]]]:
    """What is computed ahead for a snapshot, in order: (what, how)."""
    path, snapshot_id, settings = at
    return [
        ("exception filters", lambda: loaders.exception_filter_options(*at)),
        ("escalation loop", lambda: loaders.loop(*at)),
        ("slip history", lambda: loaders.history(path, snapshot_id)),
        ("report history", lambda: loaders.reports_by_person(*at)),
        ("slip heatmap", lambda: specs.slip_heatmap(at, "program", "max_slip_days")),
        ("KPI heatmap", lambda: specs.kpi_program_heatmap(at)),
        ("what-if choices", lambda: whatif.choices(at)),
        ("governance findings", lambda: loaders.governance(*at)),
        ("credibility", lambda: loaders.credibility(path, snapshot_id, settings, "person")),
        ("watermelon weeks", lambda: loaders.watermelon_weeks(*at)),
        ("unreachable people", lambda: loaders.unreachable(*at)),
    ]


@st.cache_resource(show_spinner=False, max_entries=8)
def _computed(path: str, snapshot_id: int, settings: loaders.SettingsKey) -> bool:
    # Called as a cached function, so the cached functions it calls show no spinner (there
    # is no page to show one on); each step on its own, a failure is the page's to report.
    for what, compute in steps((path, snapshot_id, settings)):
        try:
            compute()
        except Exception:
            log.debug("computing the %s ahead failed", what, exc_info=True)
    return True


def _run(at: At) -> None:
    try:
        _computed(*at)
    except Exception:
        log.debug("computing the pages ahead failed", exc_info=True)


def after_run() -> None:
    """Start computing ahead for the snapshot the session shows (see :func:`start`); quiet on failure."""
    if not enabled():
        return
    from ui import context

    try:
        ctx = context.current()
    except Exception:  # the page already reported what is wrong
        return
    if ctx is not None:
        start(ctx.at)


def start(at: At) -> None:
    """Compute the pages' frames of snapshot ``at`` in a background thread, once per process."""
    if not enabled():
        return
    with _lock:
        if at in _started:
            return
        _started.add(at)
    threading.Thread(target=_run, args=(at,), name="kpi-prewarm", daemon=True).start()
