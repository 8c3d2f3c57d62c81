"""Another program holding a database file: the dashboard or a scheduled job, in a process of its own.

>>> with holding(db):                    # doctest: +SKIP
...     ...  # other programs cannot open db here
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def holding(db: Path) -> Iterator[None]:
    """Hold ``db`` open in another process (never let go when idle) until the block ends."""
    script = f"""
        import sys
        from kpi_engine.store import Store
        store = Store.open({str(db)!r})
        print("ready", flush=True)
        sys.stdin.readline()
        store.close()
    """
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
