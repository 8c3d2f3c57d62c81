"""Timing helpers shared by the benchmarks: medians, and ratios against a same-run floor."""

from __future__ import annotations

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


def print_table(rows: list[tuple[str, float, str]]) -> None:
    """Print ``(label, seconds, note)`` rows aligned, seconds as milliseconds."""
    width = max(len(label) for label, _, _ in rows)
    for label, seconds, note in rows:
        print(f"{label:<{width}}  {seconds * 1000:10.1f} ms  {note}")
