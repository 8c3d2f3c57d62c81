"""Load benchmark: K browser sessions on two app instances of one shared store while two writers upload.

Everything runs on this machine, on 127.0.0.1: a throwaway PostgreSQL server (started as
the tests start theirs, ``tests/pg_server.py``), a shared store on it holding the bundled
sample (eight weekly snapshots), and two ``streamlit run app.py`` instances on that store.
For each K in ``--sessions``:

- the floor: K sessions at once on an empty one-page Streamlit app (what Streamlit and
  Chromium cost per page load at that concurrency on this machine, right now);
- the load: K sessions at once (each its own browser context in one headless Chromium,
  the odd ones on the first instance, the even ones on the second), each opening
  ``--loads`` pages in turn (Portfolio pulse, Exceptions, Heatmap, KPIs, ...) as fresh page
  loads, while two writer processes each store ``--uploads`` weekly uploads through the
  CLI (``python -m kpi_engine ingest ... --db URL``), one after the other.

A page's time is from ``goto`` until its title shows and Streamlit's script has finished;
the figures are the median (p50) and 95th percentile (p95) over every page load of the
phase. At the end the store must hold the sample's snapshots plus one per upload: every
upload landed, none twice. K stops growing when a page fails to load or p95 passes
``--limit`` seconds; the highest K reached is reported.

Run with ``python -m bench.bench_load [--sessions 1 2 4 8] [--loads 3] [--uploads 2]``;
needs Debian's ``postgresql`` package, Playwright and Debian's Chromium
(``/usr/bin/chromium``). Nothing is written into the repository.

Figures on the shared 2-core machine (``--sessions 1 2 4 8 --loads 3 --uploads 2 --limit 60``,
2026-12-07, load average before-after each phase; docs/speed.md has the details)::

      K floor p50 floor p95  page p50  page p95 loads failed uploads rebased    load avg
      1     0.50s     1.47s     1.64s     2.94s     3      0       4       3   8.8-8.0
      2     0.89s     2.36s    12.74s    25.87s     6      0       4       3   7.7-8.4
      4     1.24s     4.95s    13.45s    22.85s    12      0       4       2   9.7-12.5
      8     3.91s    11.91s    27.43s    38.61s    24      0       4       2  15.0-17.6
    snapshots at the end: 24 (the sample's 8 plus 16 uploads that landed)

Second run (``--sessions 8 16 --loads 3 --uploads 2 --limit 60``, 2026-12-07, nothing else
running on the machine)::

      K floor p50 floor p95  page p50  page p95 loads failed uploads rebased    load avg
      8     2.37s     8.80s    15.35s    25.53s    24      0       4       2   8.0-15.4
     16     7.45s    22.52s    39.85s    70.31s    48      0       4       3  17.3-31.2
    snapshots at the end: 16 (the sample's 8 plus 8 uploads that landed)
    highest K with every page loaded and p95 <= 60 s: 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.bench_browser import _READY, CHROMIUM, CHROMIUM_ARGS, ROOT, launch_command, server
from tests.e2e.browser_helpers import wait_healthy

sys.path.insert(0, str(ROOT / "tests"))
from pg_server import running_server

#: The pages each session opens in turn: (URL path, title the page shows); the default page is at the app's own address.
PAGES = (("", "Portfolio pulse"), ("exceptions", "Exceptions"), ("heatmap", "Heatmap"), ("kpis", "KPIs"))
#: The floor: one page that draws its title.
FLOOR_APP = 'import streamlit as st\n\nst.title("Floor")\n'
#: The week each writer uploads again under new dates (a PMO's weekly partial upload).
WEEK = ROOT / "data" / "sample" / "weeks" / "2026-06-15"
#: The first date the writers upload for; each upload is a week later than the one before.
FIRST_UPLOAD = date(2026, 6, 22)
#: Seconds to wait for a page before it counts as failed.
TIMEOUT_S = 180.0


@dataclass
class Phase:
    """What one phase measured: page times, failures, uploads and the load average around it."""

    times: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    uploads: int = 0
    rebased: int = 0
    load: tuple[float, float] = (0.0, 0.0)

    def percentile(self, share: float) -> float:
        """The page time below which ``share`` of the loads fell (nearest rank)."""
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))] if ordered else 0.0


async def _session(browser: Any, base: str, pages: tuple[tuple[str, str], ...], loads: int, into: Phase) -> None:
    """One person: a browser context of their own, opening ``loads`` pages as fresh page loads."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = await context.new_page()
        for i in range(loads):
            path, title = pages[i % len(pages)]
            start = time.perf_counter()
            try:
                await page.goto(f"{base}/{path}", timeout=TIMEOUT_S * 1000)
                await page.wait_for_function(_READY, arg=title, timeout=TIMEOUT_S * 1000, polling=50)
            except Exception as err:  # a page that does not load is a result, not a crash
                into.failures.append(f"{base}/{path}: {str(err).splitlines()[0]}")
                continue
            into.times.append(time.perf_counter() - start)
    finally:
        await context.close()


async def _sessions(bases: list[str], k: int, pages: tuple[tuple[str, str], ...], loads: int, into: Phase) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            await asyncio.gather(*(_session(browser, bases[i % len(bases)], pages, loads, into) for i in range(k)))
        finally:
            await browser.close()


def _writer(url: str, dates: list[date], into: Phase, guard: threading.Lock) -> None:
    """Store the week once per date through the CLI, one upload after the other."""
    for as_of in dates:
        done = subprocess.run(
            [sys.executable, "-m", "kpi_engine", "ingest", str(WEEK), "--db", url, "--as-of", as_of.isoformat()],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        with guard:
            if done.returncode != 0:
                into.failures.append(f"upload {as_of}: {done.stderr.strip().splitlines()[-1:]}")
                continue
            into.uploads += 1
            into.rebased += "Another upload was stored first" in done.stdout


def run_phase(
    bases: list[str], k: int, pages: tuple[tuple[str, str], ...], loads: int, writes: list[list[date]], url: str
) -> Phase:
    """K sessions at once, with a writer thread per list of dates running alongside."""
    phase = Phase()
    guard = threading.Lock()
    writers = [threading.Thread(target=_writer, args=(url, dates, phase, guard)) for dates in writes]
    before = os.getloadavg()[0]
    for writer in writers:
        writer.start()
    asyncio.run(_sessions(bases, k, pages, loads, phase))
    for writer in writers:
        writer.join()
    phase.load = (before, os.getloadavg()[0])
    return phase


def _start(stack: ExitStack, script: Path, how: str, env: dict[str, str], log: Path) -> str:
    """Start ``script`` as ``how`` says (:func:`~bench.bench_browser.launch_command`); return its address once healthy."""
    cwd = ROOT if how == "serve" else script.parent
    url, process, _ = stack.enter_context(server(launch_command(script, how), cwd, env, log))
    wait_healthy(url, process, timeout=TIMEOUT_S, poll=0.05)
    return url


def _warm(bases: list[str], pages: tuple[tuple[str, str], ...]) -> None:
    """Open every page once on every instance: the figures are of running servers, not first starts."""
    phase = Phase()
    asyncio.run(_sessions(bases, len(bases), pages, len(pages), phase))
    if phase.failures:
        raise RuntimeError(f"the servers did not serve their pages: {phase.failures[0]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8], help="the values of K, in order")
    parser.add_argument("--loads", type=int, default=3, help="page loads per session")
    parser.add_argument("--uploads", type=int, default=2, help="uploads per writer per phase")
    parser.add_argument("--limit", type=float, default=30.0, help="p95 seconds past which K stops growing")
    args = parser.parse_args(argv)

    from kpi_engine.sample import load_sample
    from kpi_engine.store import Store

    with tempfile.TemporaryDirectory(prefix="kpi-bench-load-") as tmp, running_server() as pg, ExitStack() as stack:
        folder = Path(tmp)
        url = pg.url(pg.create_database(), folder / "lake")
        with Store.open(url) as store:
            start_count = len(load_sample(store))
        env = {**os.environ, "KPI_DB": url, "KPI_AUTOLOAD_SAMPLE": "0", "PYTHONPATH": str(ROOT)}
        (folder / "floor.py").write_text(FLOOR_APP)
        floor = [_start(stack, folder / "floor.py", "run", env, folder / "floor.log")]
        # the app as deploy/Dockerfile starts it
        app = [_start(stack, ROOT / "app.py", "serve", env, folder / f"app-{n}.log") for n in (1, 2)]
        _warm(app, PAGES)
        floor_pages = (("", "Floor"),)
        _warm(floor, floor_pages)

        next_date = FIRST_UPLOAD
        uploads = 0
        reached = 0
        print(
            f"{'K':>3} {'floor p50':>9} {'floor p95':>9} {'page p50':>9} {'page p95':>9} "
            f"{'loads':>5} {'failed':>6} {'uploads':>7} {'rebased':>7} {'load avg':>11}"
        )
        for k in args.sessions:
            floor_phase = run_phase(floor, k, floor_pages, args.loads, [], url)
            writes = []
            for _ in range(2):
                writes.append([next_date + timedelta(weeks=i) for i in range(args.uploads)])
                next_date += timedelta(weeks=args.uploads)
            phase = run_phase(app, k, PAGES, args.loads, writes, url)
            uploads += phase.uploads
            print(
                f"{k:>3} {floor_phase.percentile(0.5):>8.2f}s {floor_phase.percentile(0.95):>8.2f}s "
                f"{phase.percentile(0.5):>8.2f}s {phase.percentile(0.95):>8.2f}s {len(phase.times):>5} "
                f"{len(phase.failures):>6} {phase.uploads:>7} {phase.rebased:>7} "
                f"{phase.load[0]:>5.1f}-{phase.load[1]:<5.1f}",
                flush=True,
            )
            for failure in phase.failures + floor_phase.failures:
                print(f"    failed: {failure}")
            if phase.failures or floor_phase.failures or phase.percentile(0.95) > args.limit:
                break
            reached = k
        with Store.open(url) as store:
            stored = len(store.snapshot_ids())
        print(f"snapshots at the end: {stored} (the sample's {start_count} plus {uploads} uploads that landed)")
        print(f"highest K with every page loaded and p95 <= {args.limit:.0f} s: {reached}")
        if stored != start_count + uploads:
            raise SystemExit("an upload was lost or stored twice")


if __name__ == "__main__":
    main()
