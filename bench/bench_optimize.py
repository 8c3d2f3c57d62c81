"""Best set of workarounds for a budget: 2,000 candidates on 1,000 milestones, against a same-run floor.

Measures (medians): valuing every candidate on the unchanged snapshot
(:func:`~kpi_engine.whatif.optimize.candidate_values`), choosing the best set for a budget
with its frontier (:func:`~kpi_engine.whatif.optimize.best_workarounds`), and both
together, the way ``optimize --budget`` and the What-if page run them. The floor, measured
in the same run because this machine is shared and noisy, is one Polars join of links to
milestones and KPIs with a group-by (:func:`bench.bench_engine.floor`).

Costs are whole thousands (10,000 to 500,000), so the cost grid's step is 1,000 and the
answer is exact; ``--cents`` draws costs to the cent instead, which makes the grid coarser.
Target: the whole optimisation in under 1 s.

Run with ``python -m bench.bench_optimize [--milestones 1000] [--candidates 2000] [--budget 20000000]``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import timedelta

import numpy as np
import polars as pl

from bench.bench_engine import floor
from bench.common import median_seconds, print_table
from bench.portfolio_gen import generate_portfolio
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.schema import conform
from kpi_engine.engine.schedule import prepare_schedule
from kpi_engine.whatif.optimize import best_workarounds, candidate_values


def with_candidates(portfolio: Portfolio, candidates: int, cents: bool, seed: int = 0) -> Portfolio:
    """The portfolio with ``candidates`` random workarounds spread over its open milestones."""
    rng = np.random.default_rng(seed)
    open_ids = portfolio.milestones.filter(pl.col("actual_finish").is_null())["milestone_id"]
    picks = open_ids.gather(rng.integers(0, open_ids.len(), candidates))
    cost = rng.integers(10, 501, candidates) * 1000.0
    if cents:
        cost = cost + rng.integers(0, 100_000, candidates) / 100.0
    table = pl.DataFrame(
        {
            "milestone_id": picks,
            "name": [f"Workaround {i}" for i in range(candidates)],
            "start_date": [portfolio.as_of + timedelta(days=int(d)) for d in rng.integers(0, 60, candidates)],
            "cost": cost,
            "fraction": rng.uniform(0.1, 0.9, candidates).round(2),
        }
    )
    return replace(portfolio, mitigations=conform("mitigations", table))


def dense_values(milestones: int, candidates: int, cents: bool, seed: int = 1) -> pl.DataFrame:
    """Candidate values where every candidate is worth choosing, spread evenly over ``milestones``.

    The generated portfolio leaves most candidates with no positive net value (few of its
    milestones are late), which makes the choice easy; this is the hard case for the choice.
    """
    rng = np.random.default_rng(seed)
    cost = rng.integers(10, 501, candidates) * 1000.0
    if cents:
        cost = cost + rng.integers(0, 100_000, candidates) / 100.0
    net = rng.integers(1_000, 300_000, candidates).astype(float)
    return pl.DataFrame(
        {
            "milestone_id": [f"M{i % milestones}" for i in range(candidates)],
            "name": [f"Workaround {i}" for i in range(candidates)],
            "cost": cost,
            "recovered_value": cost + net,
            "net_value": net,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--milestones", type=int, default=1_000)
    parser.add_argument("--candidates", type=int, default=2_000)
    parser.add_argument("--budget", type=float, default=20_000_000)
    parser.add_argument("--cents", action="store_true", help="costs to the cent (a coarser cost grid)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    portfolio = with_candidates(generate_portfolio(milestones=args.milestones, seed=0), args.candidates, args.cents)
    schedule = prepare_schedule(portfolio)
    values = candidate_values(portfolio, schedule)
    dense = dense_values(args.milestones, args.candidates, args.cents)

    timings = {
        "values": median_seconds(lambda: candidate_values(portfolio, schedule), repeat=args.repeat),
        "choose": median_seconds(lambda: best_workarounds(values, args.budget), repeat=args.repeat),
        "total": median_seconds(
            lambda: best_workarounds(candidate_values(portfolio, prepare_schedule(portfolio)), args.budget),
            repeat=args.repeat,
        ),
        "dense": median_seconds(lambda: best_workarounds(dense, args.budget), repeat=args.repeat),
        "floor": median_seconds(lambda: floor(portfolio), repeat=max(20, args.repeat)),
    }
    optimum = best_workarounds(values, args.budget)
    useful = values.filter(pl.col("net_value") > 0)
    print(
        f"{portfolio.milestones.height:,} milestones, {portfolio.links.height:,} links; {values.height:,} candidates "
        f"on {values['milestone_id'].n_unique():,} milestones, {useful.height:,} with a positive net value; "
        f"budget {args.budget:,.0f}: {optimum.chosen.height:,} chosen, cost {optimum.total_cost:,.0f}, "
        f"net {optimum.total_net:,.0f}; grid step {optimum.step:,.2f} ({'exact' if optimum.exact else 'rounded up'}), "
        f"{optimum.frontier.height:,} frontier points"
    )
    hard = best_workarounds(dense, args.budget)
    print(
        f"dense case: {dense.height:,} candidates on {args.milestones:,} milestones, all with a positive net value: "
        f"{hard.chosen.height:,} chosen, cost {hard.total_cost:,.0f}, net {hard.total_net:,.0f}; grid step "
        f"{hard.step:,.2f} ({'exact' if hard.exact else 'rounded up'}), {hard.frontier.height:,} frontier points"
    )
    print_table(
        [
            ("value every candidate (candidate_values)", timings["values"], ""),
            ("choose the best set + frontier (best_workarounds)", timings["choose"], ""),
            ("whole optimisation (schedule, values, choice)", timings["total"], "target < 1,000 ms"),
            ("dense case: choose the best set + frontier", timings["dense"], "target < 1,000 ms"),
            (
                "floor: one join + group-by",
                timings["floor"],
                f"total = {timings['total'] / timings['floor']:.0f}x floor",
            ),
        ]
    )


if __name__ == "__main__":
    main()
