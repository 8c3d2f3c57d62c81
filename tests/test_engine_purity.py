"""The engine stays usable from Python and the CLI: no module of kpi_engine pulls in UI code."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import kpi_engine

REPO = Path(__file__).resolve().parents[1]
MODULES = sorted(info.name for info in pkgutil.walk_packages(kpi_engine.__path__, "kpi_engine."))


def test_the_walk_finds_every_room() -> None:
    """Fails when the walk misses a layer (a folder without __init__.py is not walked)."""
    rooms = {name.split(".")[1] for name in MODULES}
    assert {"core", "engine", "ingest", "whatif", "store", "output", "cli"} <= rooms


def test_no_engine_module_imports_streamlit_or_altair() -> None:
    """Import every module of kpi_engine in a fresh interpreter and look at what came along."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {MODULES!r}:\n"
        "    if name != 'kpi_engine.__main__':\n"
        "        importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {'streamlit', 'altair'})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert json.loads(out.stdout) == []
