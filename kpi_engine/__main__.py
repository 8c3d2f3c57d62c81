"""``python -m kpi_engine``: the headless commands (see kpi_engine.cli)."""

from __future__ import annotations

import sys

from kpi_engine.cli import main

if __name__ == "__main__":
    # Names of people and places are not ASCII; a Windows console must not fail on them.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8")
    sys.exit(main())
