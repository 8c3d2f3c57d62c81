"""Timing helpers shared by the benchmarks: medians, and ratios against a same-run floor."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable


def median_seconds(work: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Run ``work`` ``warmup + repeat`` times and return the median wall time of the timed runs."""
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(
    cases: dict[str, tuple[Callable[[], object], Callable[[], object]]], repeat: int, warmup: int = 1
) -> dict[str, float]:
    """Median wall time of each case's ``work``; its ``setup`` runs untimed before every run.

    Unlike :func:`median_seconds` the cases take turns (one run of each per
    round), so a noisy spell of the shared machine hits all of them alike and the ratios
    between them stay meaningful.
    """
    times: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(warmup + repeat):
        for name, (setup, work) in cases.items():
            setup()
            start = time.perf_counter()
            work()
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def print_table(rows: list[tuple[str, float, str]]) -> None:
    """Print ``(label, seconds, note)`` rows aligned, seconds as milliseconds."""
    width = max(len(label) for label, _, _ in rows)
    for label, seconds, note in rows:
        print(f"{label:<{width}}  {seconds * 1000:10.1f} ms  {note}")


def cpu_medians(cases: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median CPU seconds (all threads of this process) of each case, the cases taking turns.

    Wall time on a loaded machine also counts waiting for a core; CPU time counts only
    the work, so its ratio moves less when other processes compete.
    """
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, work in cases.items():
            start = time.process_time()
            work()
            times[name].append(time.process_time() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
