"""Helpers the browser journeys share."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


def require_chromium() -> None:
    """Fail in CI, skip with the reason elsewhere, when Debian's Chromium is missing."""
    if Path(CHROMIUM).exists():
        return
    message = "Debian's chromium is not installed (.ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def wait_for_app(page) -> None:
    """Wait until Streamlit has finished running the script for the current page.

    The app's root says the script's state (``data-test-script-state``: ``running`` while a
    run or a requested rerun is under way, ``notRunning`` after it), and the status widget
    is empty once the run is over.
    """
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]').getAttribute('data-test-script-state')"
        " === 'notRunning'"
        " && (!document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.trim() === '')",
        timeout=60_000,
    )
    page.wait_for_timeout(500)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60.0, poll: float = 0.3) -> None:
    """Wait until the server at ``url`` answers its health check, polling every ``poll`` seconds.

    Raises RuntimeError when the process exits first or ``timeout`` runs out.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the dashboard exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(poll)
    raise RuntimeError("the dashboard did not become healthy in time")


#: The README's start of the dashboard, and Streamlit's own (the app then loads the sample itself).
LAUNCHERS = {"serve": ["-m", "ui.serve"], "streamlit run": ["-m", "streamlit", "run", "app.py"]}


def serve(db: Path | str, folder: Path, launcher: str = "serve") -> Iterator[str]:
    """Start the dashboard on ``db`` (a file or a shared store's address) until the caller is done; yield its address.

    ``launcher`` is a key of :data:`LAUNCHERS`: ``python -m ui.serve`` as the README says, or
    ``streamlit run app.py``.
    """
    log = (folder / "server.log").open("wb")  # the full tracebacks a user never sees
    port = _free_port()
    env = {**os.environ, "KPI_DB": str(db)}
    process = subprocess.Popen(
        [
            sys.executable,
            *LAUNCHERS[launcher],
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
