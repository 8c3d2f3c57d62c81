"""Start the dashboard: ``python -m ui.serve [Streamlit options]``.

The same as ``streamlit run app.py`` (every option given is handed to Streamlit, e.g.
``--server.port 8502``), except that the work of a first page starts before any browser
asks for it:

- an empty database begins receiving the bundled sample before Streamlit's server starts,
  in a process of its own (:mod:`ui.preload`);
- once the server answers, while the browser fetches the page, the modules the app's
  scripts import are imported (:data:`ui.preload.PAGE_LIBRARIES` and every module of
  :mod:`ui`: about 0.8 s of a first run, most of it pandas and Altair). Imported earlier,
  they would hold back the server's own start.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
import threading
import time
from pathlib import Path

import ui
from ui import preload

log = logging.getLogger(__name__)

#: The dashboard's script.
APP = Path(__file__).resolve().parents[1] / "app.py"


def main(argv: list[str] | None = None) -> None:
    """Preload a first start's work, then run Streamlit's ``run`` command on :data:`APP` (does not return).

    Parameters
    ----------
    argv
        Streamlit options; default the command line's.
    """
    preload.start()
    from streamlit.web import cli

    threading.Thread(target=_import_app_modules_once_serving, name="kpi-app-imports", daemon=True).start()
    cli.main(["run", str(APP), *(sys.argv[1:] if argv is None else argv)], prog_name="streamlit")


def _import_app_modules_once_serving() -> None:
    """Wait until Streamlit's server has started, then import what the app's scripts import."""
    from streamlit.runtime import Runtime, RuntimeState

    while not (Runtime.exists() and Runtime.instance().state is not RuntimeState.INITIAL):
        time.sleep(0.02)
    names = [f"ui.{module.name}" for module in pkgutil.iter_modules(ui.__path__) if module.name != "serve"]
    for name in (*preload.PAGE_LIBRARIES, *names):
        try:
            importlib.import_module(name)
        except Exception:  # the script that imports it reports the failure to the user
            log.debug("importing %s ahead of the first page failed", name, exc_info=True)


if __name__ == "__main__":
    main()
