"""Engine benchmark: the full computation of one snapshot against a same-run floor.

The floor is one Polars join of links to milestones and KPIs with a group-by over the same
data: the least any engine must do. Run with ``python -m bench.bench_engine [--scale 0.1]``;
``--growth`` also runs at a tenth of the size to check that time grows linearly.
"""

from __future__ import annotations

import argparse

import polars as pl

from bench.common import interleaved_medians, print_table
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


def measure(scale: float, repeat: int) -> tuple[float, float, int]:
    """Return (engine seconds, floor seconds, milestones) at ``scale`` x the issue's sizes."""
    n = int(100_000 * scale)
    portfolio = generate_portfolio(
        milestones=n,
        tasks_per_milestone=5,
        kpis=int(10_000 * scale),
        links=int(150_000 * scale),
        dependencies=int(100_000 * scale),
        seed=1,
    )
    medians = interleaved_medians(
        {"engine": (_nothing, lambda: compute(portfolio)), "floor": (_nothing, lambda: floor(portfolio))}, repeat=repeat
    )
    return medians["engine"], medians["floor"], n


def _nothing() -> None:
    """No set-up between runs."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k milestones, 500k tasks, 10k KPIs")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--growth", action="store_true", help="also run at scale/10 and report the growth")
    args = parser.parse_args()
    engine, base, n = measure(args.scale, args.repeat)
    rows = [
        (f"full engine, {n:,} milestones", engine, f"{engine / base:.1f}x the floor"),
        ("floor: join links+milestones+KPIs, group-by", base, "same run"),
    ]
    if args.growth:
        small_engine, _, small_n = measure(args.scale / 10, args.repeat)
        rows.append(
            (
                f"full engine, {small_n:,} milestones",
                small_engine,
                f"10x the data costs {engine / small_engine:.1f}x the time",
            )
        )
    print_table(rows)


if __name__ == "__main__":
    main()
