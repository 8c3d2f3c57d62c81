"""Dashboard benchmark: page reruns of the Streamlit app on a large database, against the engine.

Builds a DuckDB file in a temporary folder holding a generated portfolio (``--milestones``
milestones, five tasks each, KPIs, links and dependencies at the generator's defaults) as
two snapshots a week apart, the second with the forecasts of a tenth of the open
milestones moved. The portfolio goes in the way a PMO's files do: one canonical CSV per
table, read with ``read_upload`` and stored with ``Store.ingest``. ``--sample`` uses the
bundled sample (eight weekly snapshots) instead.

Then, in the same run (this machine is shared and noisy, so compare within one run):

- baselines: ``analyse(store)`` for the latest snapshot (what a cold cache must pay on
  the first page a user opens) and a plain ``store.load_portfolio()``;
- the floor: an empty Streamlit page (one title) through ``streamlit.testing.v1.AppTest``,
  its first run and the median of its reruns;
- each page through ``AppTest`` on that file, as the server runs it (app.py's navigation on
  every run): its first visit in the session after the pages before it (the engine's
  results of the snapshot cached, as for a user who starts on the default page), the
  median of ``--repeat`` warm reruns, and, in a second pass, its cold run with every cached
  result cleared first (the Store stays open; the engine included).

Run with ``python -m bench.bench_dashboard [--milestones 100000] [--repeat 3] [--sample]``.
Nothing is written into the repository; the temporary folder is removed at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench.common import median_seconds
from bench.portfolio_gen import AS_OF, generate_portfolio
from kpi_engine.analysis import analyse
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.ingest import SourceFile, read_upload
from kpi_engine.store import Store

APP = Path(__file__).resolve().parents[1] / "app.py"
#: The pages that read a snapshot, in the order a user meets them (upload and settings write).
PAGES = ("pulse", "exceptions", "heatmap", "kpis", "governance", "history", "whatif")
#: Seconds AppTest waits for one run before it gives up; generous, a cold page at 100k is slow.
RUN_TIMEOUT = 1800.0
#: A generated tasks.csv is over the dashboard's 50 MB limit at a few hundred thousand
#: milestones; the benchmark is not about that limit.
UPLOAD_LIMIT_MB = 4096.0


# ------------------------------------------------------------------ the database
def _csv_files(tables: dict[str, pl.DataFrame]) -> list[SourceFile]:
    """One canonical CSV per non-empty table, as a PMO would upload them."""
    return [SourceFile(f"{name}.csv", frame.write_csv().encode()) for name, frame in tables.items() if frame.height]


def _ingest(store: Store, tables: dict[str, pl.DataFrame], as_of: object) -> None:
    files = _csv_files(tables)
    upload = read_upload(files, max_file_mb=UPLOAD_LIMIT_MB)
    store.ingest(upload, as_of, author="bench", sources=files)  # type: ignore[arg-type]


def moved_forecasts(milestones: pl.DataFrame, share: float = 0.1, seed: int = 2) -> pl.DataFrame:
    """Return ``milestones`` with the forecasts of ``share`` of the open ones moved 1-21 days later."""
    rng = np.random.default_rng(seed)
    n = milestones.height
    moves = np.where(rng.random(n) < share, rng.integers(1, 22, n), 0)
    return milestones.with_columns(
        pl.when(pl.col("actual_finish").is_null())
        .then(pl.col("forecast_finish") + pl.duration(days=pl.lit(pl.Series(moves))))
        .otherwise(pl.col("forecast_finish"))
        .alias("forecast_finish")
    )


#: Stores the week after the database's latest into an open Store (the app's own).
Upload = Callable[[Store], None]


def build_generated(path: Path, milestones: int) -> tuple[str, Upload]:
    """Store a generated portfolio as two snapshots a week apart; return a description and the next week's upload."""
    portfolio: Portfolio = generate_portfolio(milestones=milestones, tasks_per_milestone=5, seed=1)
    tables = portfolio.tables()
    with Store.open(path) as store:
        _ingest(store, tables, AS_OF - timedelta(days=7))
        # the second week: only the milestones file, a tenth of the open forecasts moved
        _ingest(store, {"milestones": moved_forecasts(tables["milestones"])}, AS_OF)
    sizes = ", ".join(f"{frame.height:,} {name}" for name, frame in tables.items())
    # the third week alike, other forecasts moved
    third = {"milestones": moved_forecasts(tables["milestones"], seed=3)}
    return f"generated portfolio, 2 snapshots: {sizes}", lambda store: _ingest(store, third, AS_OF + timedelta(days=7))


def build_sample(path: Path) -> tuple[str, Upload]:
    """Store the bundled sample; return a description and the next week's upload (its last week again)."""
    from kpi_engine.sample import load_sample

    with Store.open(path) as store:
        results = load_sample(store)
        milestones = store.load_portfolio().milestones.height
        latest = store.snapshots()["as_of"].to_list()[-1]
    week = sorted((APP.parent / "data" / "sample" / "weeks").iterdir())[-1]
    files = [SourceFile(p.name, p.read_bytes()) for p in sorted(week.glob("*.csv"))]

    def upload(store: Store) -> None:
        store.ingest(read_upload(files), latest + timedelta(days=7), author="bench", sources=files)

    return f"bundled sample, {len(results)} snapshots, {milestones} milestones in the latest", upload


# ------------------------------------------------------------------ the app
def _clear_results() -> None:
    """Forget every cached result (data and shared resources alike), keeping the open Store."""
    from ui import loaders

    loaders.clear()


class _PageErrors(logging.Handler):
    """Keeps the unexpected errors the pages log (``ui.errors``), instead of printing tracebacks."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        err = record.exc_info[1] if record.exc_info else None
        self.seen.append(f"{type(err).__name__}: {str(err).splitlines()[0]}" if err else record.getMessage())


@contextmanager
def page_errors() -> Iterator[_PageErrors]:
    """Collect what the dashboard's error guard logs while the pages run."""
    log = logging.getLogger("kpi_dashboard")
    handler = _PageErrors()
    log.addHandler(handler)
    propagate, log.propagate = log.propagate, False
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.propagate = propagate


def _timed_run(at: object, errors: _PageErrors) -> tuple[float, str | None]:
    """Run the app once; return the seconds and the error the page showed (None when none)."""
    errors.seen.clear()
    start = time.perf_counter()
    at.run()  # type: ignore[attr-defined]
    seconds = time.perf_counter() - start
    shown = list(at.exception) or list(at.error)  # type: ignore[attr-defined]
    if errors.seen:
        return seconds, errors.seen[0]
    return seconds, (str(shown[0].value).splitlines()[0] if shown else None)


def quiet_bare_mode() -> None:
    """Hide the bare-mode notices ("No runtime found ...", one per cached function) that would bury the table.

    A filter, because AppTest sets Streamlit's log levels again on every run.
    """
    for name in ("streamlit.runtime.caching.cache_data_api", "streamlit.runtime.scriptrunner_utils.script_run_context"):
        logging.getLogger(name).addFilter(lambda record: record.levelno >= logging.ERROR)


#: The floor: an empty page (one title), what a run of Streamlit itself costs.
FLOOR_PAGE = 'import streamlit as st\n\nst.title("Floor")\n'


def measure_floor(repeat: int) -> tuple[float, float]:
    """Return an empty page's first run and the median of ``repeat`` reruns (seconds)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(FLOOR_PAGE, default_timeout=RUN_TIMEOUT)
    start = time.perf_counter()
    at.run()
    first = time.perf_counter() - start
    return first, median_seconds(at.run, repeat=repeat, warmup=0)


PageFigures = tuple[str, float, float, float, float | None, str | None]


def measure_pages(db: Path, repeat: int, upload: Upload | None = None) -> tuple[float, list[PageFigures]]:
    """Return the app's first run and (page, first visit s, cold s, warm median s, after s, error or None) per page.

    First visit: the page opened for the first time in the session, after the pages before
    it (the engine's results of the snapshot are cached by then, as they are for a user who
    starts on the default page). Cold: the page run with every cached result cleared first
    (the Store stays open), the engine included. Warm: the median of ``repeat`` reruns. A
    page that shows an error is still timed (the error is what a user would see) and the
    others go on. After: the page's first visit once ``upload`` stored the next week
    (:func:`_after_an_upload`; None without ``upload``).
    """
    from streamlit.testing.v1 import AppTest

    from ui import pages_mode

    os.environ["KPI_DB"] = str(db)
    os.environ["KPI_AUTOLOAD_SAMPLE"] = "0"
    visits: dict[str, tuple[float, float, str | None]] = {}
    colds: dict[str, tuple[float, str | None]] = {}
    with pages_mode.navigation_as_served(), page_errors() as errors:
        at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
        first, _ = _timed_run(at, errors)  # imports, opening the Store, the default page computed
        for page in PAGES:
            at.switch_page(f"pages/{page}.py")
            visit, failure = _timed_run(at, errors)
            warm_runs = [_timed_run(at, errors) for _ in range(repeat)]
            failure = failure or next((f for _, f in warm_runs if f), None)
            visits[page] = (visit, statistics.median(s for s, _ in warm_runs), failure)
        for page in PAGES:
            at.switch_page(f"pages/{page}.py")
            _clear_results()
            colds[page] = _timed_run(at, errors)
        afters = _after_an_upload(at, errors, upload) if upload is not None else {}
    rows = []
    for page in PAGES:
        visit, warm, failure = visits[page]
        cold, cold_failure = colds[page]
        after, after_failure = afters.get(page, (None, None))
        rows.append((page, visit, cold, warm, after, failure or cold_failure or after_failure))
    return first, rows


def _after_an_upload(at: Any, errors: _PageErrors, upload: Upload) -> dict[str, tuple[float, str | None]]:
    """Each page's first visit after a new snapshot arrives, in a session that had every page open on the one before.

    Every page runs once more first (the latest snapshot's results cached, as for readers
    at work), then ``upload`` stores the next week through the app's own Store, and each
    page is opened in turn: the first one notices the new snapshot and computes it.
    """
    from ui import loaders

    for page in PAGES:
        at.switch_page(f"pages/{page}.py")
        _timed_run(at, errors)
    upload(loaders.store())
    found = {}
    for page in PAGES:
        at.switch_page(f"pages/{page}.py")
        found[page] = _timed_run(at, errors)
    return found


# ------------------------------------------------------------------ report
Row = tuple[str, float | None, float | None, float | None, float | None, str]


def print_rows(rows: list[Row]) -> None:
    """Print ``(what, first visit s, cold s, warm median s, after an upload s, note)`` rows aligned."""
    width = max(len(row[0]) for row in rows)

    def cell(value: float | None) -> str:
        return f"{value:13.3f}" if value is not None else f"{'':>13}"

    print(
        f"{'what':<{width}}  {'first visit s':>13}  {'cold s':>13}  {'warm median s':>13}  {'after upload s':>14}  note"
    )
    for what, visit, cold, warm, after, note in rows:
        print(f"{what:<{width}}  {cell(visit)}  {cell(cold)}  {cell(warm)}  {cell(after):>14}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--milestones", type=int, default=100_000, help="milestones of the generated portfolio")
    parser.add_argument("--repeat", type=int, default=3, help="warm reruns (and baseline runs) per median")
    parser.add_argument("--sample", action="store_true", help="use the bundled sample instead")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kpi-bench-dashboard-") as folder:
        db = Path(folder) / "bench.duckdb"
        start = time.perf_counter()
        what, upload = build_sample(db) if args.sample else build_generated(db, args.milestones)
        print(f"{what}; database built in {time.perf_counter() - start:.1f} s")

        with Store.open(db) as store:
            analysed = median_seconds(lambda: analyse(store), repeat=args.repeat)
            loaded = median_seconds(store.load_portfolio, repeat=args.repeat)
        quiet_bare_mode()
        floor_first, floor_warm = measure_floor(args.repeat)
        first, pages = measure_pages(db, args.repeat, upload)

        rows: list[Row] = [
            ("floor: an empty page (one title)", floor_first, None, floor_warm, None, "Streamlit's own cost per run"),
            ("baseline: analyse(store), latest snapshot", None, analysed, None, None, f"median of {args.repeat}"),
            ("baseline: store.load_portfolio()", None, loaded, None, None, f"median of {args.repeat}"),
            (
                "app: first run (pulse, fresh process)",
                first,
                None,
                None,
                None,
                "imports, Store.open, both snapshots analysed",
            ),
        ]
        rows += [
            (f"page: {page}", visit, cold, warm, after, f"the page shows an error: {failure}" if failure else "")
            for page, visit, cold, warm, after, failure in pages
        ]
        print_rows(rows)
        print(
            "first visit: opened after the pages above it, the snapshot's engine results cached; "
            "cold: every cached result cleared first (the engine included); warm: median of reruns; "
            "after upload: first visit once the next week is stored, every page open on the week before"
        )


if __name__ == "__main__":
    main()
