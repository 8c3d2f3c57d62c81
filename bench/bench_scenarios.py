"""What-if and Monte Carlo benchmark on a generated portfolio, against same-run floors.

Measures (medians): preparing a snapshot's schedule once, recomputing a single-slip
scenario (a different open milestone each time, as a slider would), materialising the
scenario's complete engine result, and a Monte Carlo simulation with a 12-week history.
The floors, measured in the same run because this machine is shared and noisy: one
Polars join of links to milestones and KPIs with a group-by (the least a recomputation
must do), and one numpy pass over a (milestones x runs) float array (the least a
simulation must do).

Run with ``python -m bench.bench_scenarios [--milestones 10000] [--runs 1000]``.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from bench.bench_engine import floor
from bench.common import median_seconds, print_table
from bench.portfolio_gen import generate_history, generate_portfolio
from kpi_engine.core.settings import Settings
from kpi_engine.engine.compute import evaluate
from kpi_engine.engine.schedule import prepare_schedule
from kpi_engine.whatif.scenarios import Scenario, Slip, run_scenario
from kpi_engine.whatif.simulation import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--milestones", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000, help="Monte Carlo runs")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    portfolio = generate_portfolio(milestones=args.milestones, seed=0)
    history = generate_history(portfolio, snapshots=12, seed=0)
    settings = Settings()
    schedule = prepare_schedule(portfolio)
    base = evaluate(portfolio, schedule, schedule.finish(), settings)
    rng = np.random.default_rng(1)
    open_ids = schedule.milestones.filter(schedule.milestones["actual_finish"].is_null())["milestone_id"]
    picks = itertools.cycle(open_ids.gather(rng.choice(open_ids.len(), 50, replace=False)).to_list())

    def one_slip() -> object:
        return run_scenario(portfolio, Scenario("slider", (Slip(next(picks), 14),)), settings, base, schedule)

    def complete_result() -> object:
        return one_slip().scenario  # type: ignore[attr-defined]

    def monte_carlo(trajectory: bool) -> object:
        return simulate(
            portfolio, settings, runs=args.runs, seed=0, history=history, base_schedule=schedule, trajectory=trajectory
        )

    cells = np.random.default_rng(0).random((args.milestones, args.runs))
    n, runs, repeat = args.milestones, args.runs, args.repeat
    timings = {
        "prepare": median_seconds(lambda: prepare_schedule(portfolio), repeat=repeat),
        "slip": median_seconds(one_slip, repeat=max(20, repeat)),
        "complete": median_seconds(complete_result, repeat=repeat),
        "floor": median_seconds(lambda: floor(portfolio), repeat=max(20, repeat)),
        "mc": median_seconds(lambda: monte_carlo(False), repeat=max(3, repeat // 2), warmup=1),
        "mc_fan": median_seconds(lambda: monte_carlo(True), repeat=max(3, repeat // 2), warmup=0),
        "numpy": median_seconds(lambda: (cells * 2.0).sum(axis=1), repeat=repeat),
    }
    result = monte_carlo(False)
    moved = run_scenario(portfolio, Scenario("x", (Slip(open_ids[0], 14),)), settings, base, schedule).moved.height
    print(
        f"{n:,} milestones, {portfolio.tasks.height:,} tasks, {portfolio.dependencies.height:,} dependencies, "
        f"{portfolio.links.height:,} links, {portfolio.kpis.height:,} KPIs; {schedule.graph.levels} levels; "
        f"history {history.height:,} rows"
    )
    print_table(
        [
            ("prepare_schedule (once per snapshot)", timings["prepare"], ""),
            (
                "single-slip scenario recompute",
                timings["slip"],
                f"{timings['slip'] / timings['floor']:.1f}x the join floor; a slip moves e.g. {moved} milestone(s)",
            ),
            ("  + complete scenario EngineResult", timings["complete"], "on first use of result.scenario"),
            ("floor: join links+milestones+KPIs, group-by", timings["floor"], "same run"),
            (
                f"Monte Carlo, {runs:,} runs",
                timings["mc"],
                f"{timings['mc'] / timings['numpy']:.0f}x one numpy pass over {n:,} x {runs:,}",
            ),
            (f"Monte Carlo, {runs:,} runs, with fan chart", timings["mc_fan"], ""),
            (f"floor: one numpy pass over {n:,} x {runs:,} floats", timings["numpy"], "same run"),
        ]
    )
    var = result.value_at_risk  # type: ignore[attr-defined]
    print(f"value at risk: planned {var.deterministic:,.0f}, p50 {var.p50:,.0f}, p95 {var.p95:,.0f}")


if __name__ == "__main__":
    main()
