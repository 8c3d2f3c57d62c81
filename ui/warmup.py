"""Import the libraries the pages draw with while the server has other work to do.

The first page a new server shows pays for importing Altair (with jsonschema and
narwhals), pandas and pyarrow: about 1.5-2.5 s on a two-core machine, longer than the
page's own work. Nothing needs them before a page draws a chart or a table, so the app's
first run starts importing them in a background thread (:func:`start`) and goes on:
opening the database, loading the sample into an empty one and computing the snapshot
overlap with the imports instead of waiting behind them.

Only third-party libraries are imported here, never the dashboard's own modules: a page
importing one of them at the same moment simply waits for the thread to finish it (Python
locks each module while it is imported), and no lock cycle can form with our modules.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading

log = logging.getLogger(__name__)

#: What the pages import on their first run, heaviest first.
LIBRARIES = ("altair", "pandas", "pyarrow")

_lock = threading.Lock()
_started: list[threading.Thread] = []


def enabled() -> bool:
    """Whether the warm-up runs (``KPI_WARMUP=0`` turns it off)."""
    return os.environ.get("KPI_WARMUP", "1").strip() != "0"


def _import_all() -> None:
    for name in LIBRARIES:
        try:
            importlib.import_module(name)
        except Exception:  # the page that needs it will say what is wrong
            log.debug("warming up %s failed", name, exc_info=True)


def start() -> None:
    """Start importing :data:`LIBRARIES` in a daemon thread, once per process."""
    if not enabled():
        return
    with _lock:
        if _started:
            return
        thread = threading.Thread(target=_import_all, name="kpi-warmup", daemon=True)
        _started.append(thread)
    thread.start()
