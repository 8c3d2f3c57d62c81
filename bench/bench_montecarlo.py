"""Monte Carlo benchmark on a generated portfolio with a 12-week history, against a same-run floor.

Measures (medians, the cases taking turns so that a noisy spell of the shared machine hits
them alike): a simulation of ``--runs`` runs without the fan chart, the same with it, and
the floor, one numpy pass over a (milestones x runs) float array, the least a simulation
must do. The process's peak resident memory is reported last (the simulations are the
only large allocations after the portfolio is generated).

Run with ``python -m bench.bench_montecarlo [--milestones 10000] [--runs 1000]``.

Where the time goes (cProfile in CPU seconds, 1,000 runs x 10k milestones, 27 dependency
levels, with the fan chart, 1.9 s in all on the loaded machine): the per-run figures over
the links whose milestone moves (ramps, value at risk to the cent, criticality) ~30%, the
fan chart's cumulative bincounts ~30%, quantiles (``np.partition`` for milestones,
``np.quantile`` for KPIs and the fan) ~15%, drawing the history slips ~10%, propagation
through the levels on int32 days ~8%, Polars set-up ~5%. Before: 4.6 s, of which the
per-run figures and the fan chart's ramps at every grid date 2.9 s.
"""

from __future__ import annotations

import argparse
import resource

import numpy as np

from bench.common import interleaved_medians, print_table
from bench.portfolio_gen import generate_history, generate_portfolio
from kpi_engine.engine.schedule import prepare_schedule
from kpi_engine.whatif.simulation import simulate


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--milestones", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000, help="Monte Carlo runs")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    portfolio = generate_portfolio(milestones=args.milestones, seed=0)
    history = generate_history(portfolio, snapshots=12, seed=0)
    schedule = prepare_schedule(portfolio)
    cells = np.random.default_rng(0).random((args.milestones, args.runs))
    setup_rss = peak_rss_mb()

    def monte_carlo(trajectory: bool) -> object:
        return simulate(
            portfolio, runs=args.runs, seed=0, history=history, base_schedule=schedule, trajectory=trajectory
        )

    def nothing() -> None:
        return None

    timings = interleaved_medians(
        {
            "mc": (nothing, lambda: monte_carlo(False)),
            "mc_fan": (nothing, lambda: monte_carlo(True)),
            "numpy": (nothing, lambda: (cells * 2.0).sum(axis=1)),
        },
        repeat=args.repeat,
    )
    result = monte_carlo(False)
    n, runs = args.milestones, args.runs
    print(
        f"{n:,} milestones, {portfolio.links.height:,} links, {portfolio.kpis.height:,} KPIs; "
        f"{schedule.graph.levels} levels; history {history.height:,} rows; {runs:,} runs"
    )
    floor = timings["numpy"]
    print_table(
        [
            ("Monte Carlo", timings["mc"], f"{timings['mc'] / floor:.1f}x the numpy pass"),
            ("Monte Carlo with fan chart", timings["mc_fan"], f"{timings['mc_fan'] / floor:.1f}x the numpy pass"),
            (f"floor: one numpy pass over {n:,} x {runs:,} floats", floor, "same run, alternating"),
        ]
    )
    var = result.value_at_risk  # type: ignore[attr-defined]
    print(f"value at risk: planned {var.deterministic:,.0f}, p50 {var.p50:,.0f}, p95 {var.p95:,.0f}")
    print(f"peak RSS: {peak_rss_mb():,.0f} MB ({setup_rss:,.0f} MB after generating the portfolio)")


if __name__ == "__main__":
    main()
