"""Browser benchmark: what a user waits for in headless Chromium, against an empty Streamlit app.

Each round starts two servers on 127.0.0.1 with ``streamlit run``, one after the other (the
order alternates between rounds; this machine is shared and noisy, so compare within one run):

- the floor: a two-page Streamlit app that draws one title per page, written into a
  temporary folder. Its first start and its page changes are what Streamlit and the
  browser cost on this machine before the dashboard does anything;
- the dashboard (``app.py``) on a fresh, empty DuckDB file in a temporary folder: its first
  start includes the automatic load of the bundled sample (eight weekly snapshots). It is
  started as the README says, ``python -m ui.serve``; ``--launch run`` starts it with
  ``streamlit run app.py`` instead, ``--launch both`` both ways in each round (each on a
  fresh file), to compare them in one run.

Timed, in wall seconds:

- first start: from launching the server process until the default page shows its
  title and Streamlit's script state is "not running" (the running indicator is gone);
- cold: a page opened for the first time in that server process (a click on its sidebar
  link, from the page before it in the navigation order), until its title shows and the
  script has finished;
- warm: the same page opened again ``--warm`` times later in the same session;
- script cold / warm: the seconds the server spent running the page's script (app.py's
  frame and the page), as the dashboard writes them to its log with ``KPI_RUN_TIMES=1``
  (:mod:`ui.timing`): a page's first run in the process, and the median of its later runs.
  What a browser waits for beyond these is Streamlit sending the page and Chromium
  drawing it.

With ``--think S``, S seconds pass on each page before the next is opened, as when a person
reads it. The default, 0, opens the next page as soon as one is drawn.

The figures are medians over ``--rounds`` rounds (warm: over every warm visit). Run with
``python -m bench.bench_browser [--rounds 3] [--warm 2] [--think 0] [--launch serve|run|both]``; needs Playwright and Debian's
Chromium (``/usr/bin/chromium``). Nothing is written into the repository.

Profile (py-spy on the dashboard's server, the sample, the shared machine loaded):

- first start: app.py's first run is the sample load (about 60%: ``Store.ingest`` 72% of
  it, about 250 DuckDB statements for eight weeks, the merge, the checks and the recorded
  changes, each a few ms; reading and checking the files 27%) and the Portfolio pulse
  (about 12%: the engine for the snapshot shown and the one before it). The next week's
  files are now read while a week is stored.
- Exceptions, first open: 86% of its script was the reporting sentences of the drill-down,
  which need every older snapshot: each was loaded whole and computed by the full engine.
  They are now computed up to their statuses only (``kpi_engine.engine.compute.statuses``)
  from the seven tables that needs, read in one query per table for all older snapshots
  (``Store.load_portfolios``). Through AppTest, alternating with the code before, the
  page's first visit took 0.33-0.40 s against 0.60-0.68 s; in the server under load the
  older snapshots are still about 70% of it, most of it Polars collecting tiny frames.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.browser_helpers import wait_healthy

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The dashboard's pages in the order of its navigation: (URL path, title the page shows).
PAGES = (
    ("pulse", "Portfolio pulse"),
    ("exceptions", "Exceptions"),
    ("heatmap", "Heatmap"),
    ("kpis", "KPIs"),
    ("whatif", "What-if scenarios"),
    ("governance", "Governance"),
    ("my_items", "My items"),
    ("upload", "Upload"),
    ("history", "History"),
    ("settings", "Settings"),
)
#: The floor: an empty two-page app (what Streamlit itself costs per page).
FLOOR_APP = """
import streamlit as st

def first():
    st.title("Floor one")

def second():
    st.title("Floor two")

st.navigation([st.Page(first, title="Floor one", url_path="one", default=True),
               st.Page(second, title="Floor two", url_path="two")]).run()
"""
FLOOR_PAGES = (("one", "Floor one"), ("two", "Floor two"))
#: Seconds to wait for a page before the benchmark gives up.
TIMEOUT_S = 180.0

#: True when the page shows ``title`` in an h1 and the script has finished.
_READY = """(title) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')) return false;
  return [...document.querySelectorAll('h1')].some((h) => h.innerText.trim() === title);
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_command(script: Path, how: str) -> list[str]:
    """The command that starts ``script``: ``streamlit run`` it, or the dashboard's ``python -m ui.serve``."""
    if how == "serve":
        return [sys.executable, "-m", "ui.serve"]
    return [sys.executable, "-m", "streamlit", "run", str(script)]


@contextmanager
def server(
    command: list[str], cwd: Path, env: dict[str, str], log: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    """Run ``command`` (a Streamlit start) on a free loopback port; yield (address, process, start time)."""
    port = _free_port()
    command = [*command, "--server.headless", "true", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    with log.open("wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield f"http://127.0.0.1:{port}", process, start
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _ready(page: Any, title: str) -> None:
    """Wait until ``title`` shows and the script finished, then for the browser to paint."""
    page.wait_for_function(_READY, arg=title, timeout=TIMEOUT_S * 1000, polling=20)
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def _open(page: Any, url_path: str | None, title: str) -> float:
    """Click the sidebar link of a page (None: the default page); return the seconds until it is ready."""
    ending = f"/{url_path}" if url_path else "/"  # the default page's address is the app's own
    link = page.locator(f'[data-testid="stSidebarNavLink"][href$="{ending}"]').first
    start = time.perf_counter()
    link.click()
    _ready(page, title)
    return time.perf_counter() - start


@dataclass
class Figures:
    """What one app showed over the rounds: first starts, and per page its cold and warm times."""

    first_start: list[float] = field(default_factory=list)
    server_up: list[float] = field(default_factory=list)
    cold: dict[str, list[float]] = field(default_factory=dict)
    warm: dict[str, list[float]] = field(default_factory=dict)
    script_cold: dict[str, list[float]] = field(default_factory=dict)
    script_warm: dict[str, list[float]] = field(default_factory=dict)


#: A line of :mod:`ui.timing` in the server log.
_RUN_TIME = re.compile(r'kpi run-time path="(?P<path>[^"]*)" .*total=(?P<total>[0-9.]+)')


def read_run_times(log: Path, default_page: str, into: Figures) -> None:
    """Add the script run times a dashboard server logged: each page's first run, then its later runs."""
    seen: set[str] = set()
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        found = _RUN_TIME.search(line)
        if found is None:
            continue
        path = found["path"] or default_page
        bucket = into.script_warm if path in seen else into.script_cold
        bucket.setdefault(path, []).append(float(found["total"]))
        seen.add(path)


def measure(
    browser: Any,
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    pages: tuple[tuple[str, str], ...],
    warm: int,
    think: float,
    log: Path,
    into: Figures,
) -> None:
    """Start the app with ``command`` once, open its default page, then every other page cold and ``warm`` times warm.

    ``think`` seconds pass on each page before the next is opened (a person reading it).
    """
    with server(command, cwd, env, log) as (url, process, start):
        # polled every 50 ms: the first start is measured to the moment it answers
        wait_healthy(url, process, timeout=TIMEOUT_S, poll=0.05)
        into.server_up.append(time.perf_counter() - start)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        try:
            page.goto(url, timeout=TIMEOUT_S * 1000)
            _ready(page, pages[0][1])
            into.first_start.append(time.perf_counter() - start)
            # cold: the first visit of every page; the default page is visited again at the end
            order = [*pages[1:], pages[0]]
            for url_path, title in order:
                link = None if url_path == pages[0][0] else url_path
                page.wait_for_timeout(think * 1000)
                into.cold.setdefault(url_path, []).append(_open(page, link, title))
            for _ in range(warm):
                for url_path, title in order:
                    link = None if url_path == pages[0][0] else url_path
                    page.wait_for_timeout(think * 1000)
                    into.warm.setdefault(url_path, []).append(_open(page, link, title))
        finally:
            context.close()


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(app: Figures, floor: Figures, rounds: int, warm: int, think: float) -> None:
    """Print the medians, each next to the floor of the same run."""
    floor_cold = _median([s for values in floor.cold.values() for s in values])
    floor_warm = _median([s for values in floor.warm.values() for s in values])
    print(
        f"medians over {rounds} rounds (warm: {warm} visits a round; {think:g} s on a page before the next); "
        "floor = an empty two-page Streamlit app"
    )
    print(f"{'what':<34} {'seconds':>8} {'floor s':>8}")
    print(
        f"{'first start, sample load included':<34} {_median(app.first_start):8.2f} {_median(floor.first_start):8.2f}"
    )
    print(f"{'  of which: server answers health':<34} {_median(app.server_up):8.2f} {_median(floor.server_up):8.2f}")
    print(
        f"{'page':<34} {'cold s':>8} {'warm s':>8} {'script cold s':>14} {'script warm s':>14}"
        f"   floor: cold {floor_cold:.2f} s, warm {floor_warm:.2f} s"
    )
    for url_path, _ in PAGES:
        cold = app.cold.get(url_path, [])
        note = " (the default page: cold is its second visit, its script's first run the first start)"
        script_cold = _median(app.script_cold.get(url_path, []))
        script_warm = _median(app.script_warm.get(url_path, []))
        print(
            f"{url_path:<34} {_median(cold):8.2f} {_median(app.warm.get(url_path, [])):8.2f}"
            f" {script_cold:14.2f} {script_warm:14.2f}{note if url_path == PAGES[0][0] else ''}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh servers per app (alternating with the floor)")
    parser.add_argument("--warm", type=int, default=2, help="warm visits of every page per round")
    parser.add_argument("--think", type=float, default=0.0, help="seconds spent on a page before the next")
    parser.add_argument(
        "--launch",
        choices=("serve", "run", "both"),
        default="serve",
        help="start the dashboard as the README does (python -m ui.serve), with streamlit run app.py, or both in turn",
    )
    parser.add_argument("--logs", type=Path, help="a folder to keep the servers' logs in (default: dropped)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    launches = ("serve", "run") if args.launch == "both" else (args.launch,)
    apps = {how: Figures() for how in launches}
    floor = Figures()
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kpi-bench-browser-") as folder_name:
        folder = Path(folder_name)
        floor_script = folder / "floor_app.py"
        floor_script.write_text(FLOOR_APP, encoding="utf-8")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for round_no in range(args.rounds):
                    runs: list[tuple[str, list[str], Path, dict[str, str], tuple[tuple[str, str], ...], Figures]] = [
                        ("floor", launch_command(floor_script, "run"), folder, dict(os.environ), FLOOR_PAGES, floor)
                    ]
                    for how, into in apps.items():
                        db = folder / f"round{round_no}-{how}.duckdb"  # fresh: the app loads the sample itself
                        env = {**os.environ, "KPI_DB": str(db), "KPI_RUN_TIMES": "1"}
                        runs.append((how, launch_command(ROOT / "app.py", how), ROOT, env, PAGES, into))
                    for name, command, cwd, env, pages, into in runs if round_no % 2 == 0 else runs[::-1]:
                        log = (args.logs or folder) / f"{name}-{round_no}.log"
                        measure(browser, command, cwd, env, pages, args.warm, args.think, log, into)
                        if into is not floor:
                            read_run_times(log, PAGES[0][0], into)
                    firsts = ", ".join(f"{how} {into.first_start[-1]:.2f} s" for how, into in apps.items())
                    print(f"round {round_no + 1}: first start {firsts}", flush=True)
            finally:
                browser.close()
    for how, app in apps.items():
        print(f"\nthe dashboard started with {'python -m ui.serve' if how == 'serve' else 'streamlit run app.py'}")
        report(app, floor, args.rounds, args.warm, args.think)


if __name__ == "__main__":
    main()
