"""Engine benchmark: the full computation of one snapshot against a same-run floor.

The floor is one Polars join of links to milestones and KPIs with a group-by over the same
data: the least any engine must do. Each size runs in a process of its own, so that its
peak resident memory (``resource.getrusage``) is its own: 100k milestones (500k tasks,
10k KPIs, 150k links, 100k dependencies) and a tenth of that, for the growth ratio.
Engine and floor take turns (one run of each per round) and medians are reported.

``full engine`` is :func:`~kpi_engine.engine.compute.compute` as every caller gets it:
figures, escalations and the ordered exception list, whose ``why`` sentences are written
when a page or file shows rows (``EngineResult.with_why``). ``engine + every sentence``
also writes all of them (``EngineResult.exceptions``), as the CLI's full list does.

Run with ``python -m bench.bench_engine [--scale 1.0] [--repeat 5]``.

Profile (cProfile, cumulative share of ``compute`` at 100k milestones, 3-5 runs; the shared
machine was loaded, so shares are rough; py-spy's default sampling leaves out the time the
main thread waits for Polars' worker threads, so it under-counts the lazy plans):

before (every ``why`` written in one lazy plan, seven-key sort of 29 columns)
    build_exception_list 30-40% (the sentences about 60% of it, the sort about 15%),
    prepare_schedule 21-38% (resolve 13-23%, stable argsort and lexsort of the edges
    6-11%), governance_findings 8-10%, gathering every milestone column for 150k pairs 5%,
    _roll_up 3-4% (a join and a stable argsort), pair_escalation 3%.
after round 3 (sentences on demand, rows chosen and ordered on positions and integer ranks)
    build_exception_list 35% (gathering the ~100k chosen rows' 28 columns once: 11%),
    prepare_schedule 26% (resolve 18%, graph levels and edge order 6%), pair_escalation 9%,
    governance_findings 5%, KPI projection 5%, status 5%, _roll_up 4%, finding rows 3%.
now (one stable numpy sort on packed integer ranks; ids looked up once per run of equal
values; findings carry their milestone and KPI rows; escalation, status and KPI moves on
row positions in numpy; owners judged once per distinct text), CPU 5.8-6.0x the floor
(shares from cProfile and from per-stage CPU time):
    build_exception_list 27-29% (gathering the chosen rows' columns 9%, the order 5%),
    prepare_schedule 28-31% (resolve 16-23%, graph levels and edge order 6-7%),
    governance findings with their rows 10-14% (owner checks 4%), pair escalation 4-6%,
    _roll_up 5-6%, KPI projection 3-4%, link figures 3-4%, status 3-4%.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import polars as pl

from bench.common import cpu_medians, interleaved_medians, peak_rss_mb, print_table
from bench.portfolio_gen import generate_portfolio
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.engine.compute import compute


def floor(portfolio: Portfolio) -> pl.DataFrame:
    """One join of links to milestones and KPIs and a group-by: the baseline to compare with."""
    return (
        portfolio.links.join(portfolio.milestones, on="milestone_id")
        .join(portfolio.kpis, on="kpi_id")
        .group_by("kpi_id")
        .agg(pl.col("kpi_delta").sum(), pl.col("value_per_week").sum(), pl.len())
    )


def portfolio_at(scale: float) -> Portfolio:
    """The benchmark portfolio at ``scale`` x (100k milestones, 10k KPIs, 150k links, 100k dependencies)."""
    return generate_portfolio(
        milestones=int(100_000 * scale),
        tasks_per_milestone=5,
        kpis=int(10_000 * scale),
        links=int(150_000 * scale),
        dependencies=int(100_000 * scale),
        seed=1,
    )


def measure(scale: float, repeat: int) -> dict[str, float]:
    """Median seconds of the engine, the engine with every sentence, and the floor, plus peak RSS (MB)."""
    portfolio = portfolio_at(scale)
    medians = interleaved_medians(
        {
            "engine": (_nothing, lambda: compute(portfolio)),
            "sentences": (_nothing, lambda: compute(portfolio).exceptions),
            "floor": (_nothing, lambda: floor(portfolio)),
        },
        repeat=repeat,
    )
    cpu = cpu_medians({"engine": lambda: compute(portfolio), "floor": lambda: floor(portfolio)}, repeat)
    return {
        **medians,
        "engine_cpu": cpu["engine"],
        "floor_cpu": cpu["floor"],
        "milestones": float(portfolio.milestones.height),
        "peak_mb": peak_rss_mb(),
    }


def _nothing() -> None:
    """No set-up between runs."""


def _in_child(scale: float, repeat: int) -> dict[str, float]:
    """Run :func:`measure` in a fresh Python process (its own peak memory) and return its figures."""
    command = [sys.executable, "-m", "bench.bench_engine", "--child", "--scale", str(scale), "--repeat", str(repeat)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k milestones, 500k tasks, 10k KPIs")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", action="store_true", help="measure one size and print its figures as JSON")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.scale, args.repeat)))
        return
    large = _in_child(args.scale, args.repeat)
    small = _in_child(args.scale / 10, args.repeat)
    rows = []
    for figures in (large, small):
        n, base = int(figures["milestones"]), figures["floor"]
        rows += [
            (f"full engine, {n:,} milestones", figures["engine"], f"{figures['engine'] / base:.1f}x the floor"),
            ("  engine + every why sentence", figures["sentences"], f"{figures['sentences'] / base:.1f}x the floor"),
            ("  floor: join links+milestones+KPIs, group-by", base, f"same run; peak RSS {figures['peak_mb']:.0f} MB"),
            (
                "  CPU time: engine / floor",
                figures["engine_cpu"],
                f"{figures['engine_cpu'] / figures['floor_cpu']:.1f}x the floor's {figures['floor_cpu'] * 1000:.1f} ms",
            ),
        ]
    rows.append(
        (
            "growth 10x the data",
            large["engine"],
            f"{large['engine'] / small['engine']:.1f}x the time "
            f"(floor {large['floor'] / small['floor']:.1f}x; with every sentence "
            f"{large['sentences'] / small['sentences']:.1f}x; CPU time "
            f"{large['engine_cpu'] / small['engine_cpu']:.1f}x)",
        )
    )
    print_table(rows)


if __name__ == "__main__":
    main()
