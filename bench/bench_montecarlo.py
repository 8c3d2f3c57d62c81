"""Monte Carlo benchmark on a generated portfolio with a 12-week history, against a same-run floor.

Measures (medians, the cases taking turns so that a noisy spell of the shared machine hits
them alike): a simulation of ``--runs`` runs without the fan chart, the same with it, and
the floor, one numpy pass over a (milestones x runs) float array, the least a simulation
must do. The process's peak resident memory is reported last (the simulations are the
only large allocations after the portfolio is generated).

Run with ``python -m bench.bench_montecarlo [--milestones 10000] [--runs 1000]``.

The machine is shared: wall times swing with its load, so CPU seconds (all threads of
this process, ``time.process_time``) are reported beside them and the ratios to the floor
are the figures to compare between runs.

Where the time goes (CPU seconds per step, 1,000 runs x 10k milestones, 26 dependency
levels, 5,853 of the 9,995 links on a milestone that moves, 988 history pools; medians of
7 taken step by step under a load average of about 21, so every figure is inflated by
perhaps a third): without the fan chart about 0.6 s: the per-run figures (ramps, value at
risk to the cent, criticality, in chunks of 2^18 run x link cells) ~0.22 s, drawing the
slips ~0.21 s (of which the 26 rounds of bank resampling, one random position per bank
entry, about half), choosing the distributions (Polars) ~0.06 s, propagation through the
levels on int32 days ~0.06 s, milestone percentiles (rows sorted in blocks) ~0.02 s, the
plan's own figures and link arrays ~0.015 s. The fan chart adds about 0.35 s, computed one
block of about 250 links' KPIs at a time over all runs (py-spy, share of the fan's time):
the four ``ufunc.at`` scatters into the slope and offset accumulators ~24%, the day-to-cell
look-ups ~18%, the ramps' start values and per-KPI sums ~12%, the slopes and offsets
~9%, cumulative sums over the month ends and the per-KPI terms ~10%, sorting each (month
end, KPI) row of runs for p10/p50/p90 ~8%. Before this round (the old and the new code
one after the other, same machine): 0.83-0.90 s and 1.66-1.77 s CPU, of which
``np.maximum.reduceat`` along the milestone axis in the propagation (~0.1 s, now each
successor's first edge and a maximum with its second, third, ... edge), ``np.partition``
at three to seven positions (now numpy's vectorised sort, 4-5x faster on rows of 1,000),
the whole (month end x KPI x run) path of 76 MB written chunk by chunk and partitioned
afterwards (now each KPI block's values are summarised straight away, and only the month
ends before the block's latest target are counted), and fresh (milestones x runs)
temporaries in the slip draws (now drawn a block of milestones at a time into the slips).
"""

from __future__ import annotations

import argparse

import numpy as np

from bench.common import cpu_medians, interleaved_medians, peak_rss_mb, print_table
from bench.portfolio_gen import generate_history, generate_portfolio
from kpi_engine.engine.schedule import prepare_schedule
from kpi_engine.whatif.simulation import simulate


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
    cpu = cpu_medians(
        {
            "mc": lambda: monte_carlo(False),
            "mc_fan": lambda: monte_carlo(True),
            "numpy": lambda: (cells * 2.0).sum(axis=1),
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
    print("CPU time (all threads of this process; moves less with the machine's load):")
    cpu_floor = cpu["numpy"]
    print_table(
        [
            ("Monte Carlo, CPU", cpu["mc"], f"{cpu['mc'] / cpu_floor:.1f}x the numpy pass"),
            ("Monte Carlo with fan chart, CPU", cpu["mc_fan"], f"{cpu['mc_fan'] / cpu_floor:.1f}x the numpy pass"),
            ("floor, CPU", cpu_floor, "same run, alternating"),
        ]
    )
    var = result.value_at_risk  # type: ignore[attr-defined]
    print(f"value at risk: planned {var.deterministic:,.0f}, p50 {var.p50:,.0f}, p95 {var.p95:,.0f}")
    print(f"peak RSS: {peak_rss_mb():,.0f} MB ({setup_rss:,.0f} MB after generating the portfolio)")


if __name__ == "__main__":
    main()
