"""What a first start can do before any browser asks for a page (no Streamlit in here).

``python -m ui.serve`` (:mod:`ui.serve`) calls :func:`start` before Streamlit's server starts:
an empty database begins receiving the bundled sample in a process of its own
(``python -m ui.preload``), on the other core, while the server starts and the browser
loads the page. In a thread of the server's process the load's Python work would hold back
the server's start by as much as it gained. The app's first run
(:func:`ui.loaders.ensure_sample`) imports the page libraries while it waits for that load
(:func:`wait`) instead of starting its own. Started with ``streamlit run app.py``, nothing
is preloaded and the first run loads the sample itself.
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

#: Libraries the first page needs that nothing imports before it runs (about 0.5 s together).
PAGE_LIBRARIES = ("pandas", "altair")

#: The repository: ``python -m ui.preload`` imports this package from here.
ROOT = Path(__file__).resolve().parents[1]

#: The sample load this process started (at most one: a process serves one database).
_load: subprocess.Popen[bytes] | None = None
_GUARD = threading.Lock()


def autoload_sample() -> bool:
    """Whether an empty database gets the sample on start (``KPI_AUTOLOAD_SAMPLE=0`` turns it off)."""
    return os.environ.get("KPI_AUTOLOAD_SAMPLE", "1").strip() != "0"


def import_page_libraries() -> None:
    """Import :data:`PAGE_LIBRARIES` (a failure is left for the page that needs them to report)."""
    for name in PAGE_LIBRARIES:
        try:
            importlib.import_module(name)
        except ImportError:
            log.debug("importing %s ahead of the first page failed", name, exc_info=True)


def start() -> None:
    """Begin loading the sample into the app's database when it is empty, in a process of its own.

    The database is the app's (``$KPI_DB``, else ``data/kpi.duckdb``). Does nothing when
    :func:`autoload_sample` is off, or when a load of that database was already started by
    this process. The load's messages go to this process's error stream.
    """
    global _load
    if not autoload_sample():
        return
    with _GUARD:
        if _load is not None:
            return
        # Run in this process's folder, where a relative $KPI_DB points, with this package
        # importable from anywhere. Which database it loads is looked up when asked
        # (:func:`_load_of`): importing the store here would hold back the server's start
        # by a third of a second.
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        _load = subprocess.Popen([sys.executable, "-m", "ui.preload"], env={**os.environ, "PYTHONPATH": path})


def pending(path: str) -> bool:
    """Whether a load of ``path`` started by :func:`start` has not ended yet."""
    loading = _load_of(path)
    return loading is not None and loading.poll() is None


def wait(path: str) -> None:
    """Return once a load of ``path`` started by :func:`start` has ended (at once when none was).

    A load that failed has written why to the error stream; the app's first run then finds
    the database still empty and loads the sample itself.
    """
    loading = _load_of(path)
    if loading is not None:
        loading.wait()


def _load_of(path: str) -> subprocess.Popen[bytes] | None:
    """The load of ``path`` started by :func:`start`, if any."""
    from kpi_engine.store import resolve_db

    # the loading process inherited this one's environment and folder: it loads resolve_db()
    loading = _load
    return loading if loading is not None and resolve_db() == path else None


def load_sample_when_empty() -> bool:
    """Store the sample in ``$KPI_DB`` (else ``data/kpi.duckdb``) when it holds no snapshot.

    Returns
    -------
    bool
        Whether the sample was loaded (False: the database already held snapshots).
    """
    from kpi_engine.sample import load_sample
    from kpi_engine.store import Store, resolve_db

    with Store.open(resolve_db()) as store:
        if not store.is_empty():
            return False
        load_sample(store)
        return True


if __name__ == "__main__":
    try:
        load_sample_when_empty()
    except Exception:
        logging.basicConfig()
        log.exception("loading the sample portfolio ahead of the first page failed")
        sys.exit(1)
