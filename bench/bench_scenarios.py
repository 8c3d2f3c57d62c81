"""What-if benchmark on a generated portfolio, against a same-run floor.

Measures (medians, the cases taking turns so that a noisy spell of the shared machine hits
them alike): recomputing a single-slip scenario (a different open milestone each time, as
a slider would) on a snapshot whose schedule and result are at hand, the same followed by
the scenario's complete engine result, and the floor, one Polars join of links to
milestones and KPIs with a group-by (the least a recomputation must do). Preparing the
schedule (once per snapshot) is timed on its own. The Monte Carlo simulation has its own
benchmark, ``bench.bench_montecarlo``.

Run with ``python -m bench.bench_scenarios [--milestones 10000]``.

Wall times are reported first, then CPU seconds (``time.process_time``), which move less
with the load of the shared machine.

Where a single slip's time goes (wall time per step, 200 slips at 10k milestones, load
average 1.5-3): the engine's figures for the touched milestones and changed KPIs (status
~16%, escalation ~14%, KPI projection ~12%, link figures ~4%), the differences (KPI
differences, moved milestones, escalation rises ~22%), the downstream cone's
propagation ~2%; every other milestone's figures are the snapshot's own, kept per result
(``kpi_engine.whatif.base_rows``). Most steps work on a few dozen rows, so their time is
Polars' fixed cost per call (about 25-120 us here) rather than data.

The complete result (``result.scenario``, ``kpi_engine.whatif.complete``) is the
snapshot's result with the reached rows put in, about 15-18 ms after the slip: the
reached milestones' exception rows built again ~30%, sorting the list ~15%, replacing the
reached rows of milestones, links and KPIs ~15%, the reached milestones' roll-up ~8%,
keeping the other exception rows and flagging new ones the rest.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from bench.bench_engine import floor
from bench.common import cpu_medians, interleaved_medians, median_seconds, peak_rss_mb, print_table
from bench.portfolio_gen import generate_portfolio
from kpi_engine.core.settings import Settings
from kpi_engine.engine.compute import evaluate
from kpi_engine.engine.schedule import prepare_schedule
from kpi_engine.whatif.scenarios import Scenario, ScenarioResult, Slip, run_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--milestones", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    portfolio = generate_portfolio(milestones=args.milestones, seed=0)
    settings = Settings()
    schedule = prepare_schedule(portfolio)
    base = evaluate(portfolio, schedule, schedule.finish(), settings)
    rng = np.random.default_rng(1)
    open_ids = schedule.milestones.filter(schedule.milestones["actual_finish"].is_null())["milestone_id"]
    picks = itertools.cycle(open_ids.gather(rng.choice(open_ids.len(), 50, replace=False)).to_list())

    def one_slip() -> ScenarioResult:
        return run_scenario(portfolio, Scenario("slider", (Slip(next(picks), 14),)), settings, base, schedule)

    def nothing() -> None:
        return None

    timings = interleaved_medians(
        {
            "slip": (nothing, one_slip),
            "complete": (nothing, lambda: one_slip().scenario),
            "floor": (nothing, lambda: floor(portfolio)),
        },
        repeat=args.repeat,
        warmup=2,
    )
    cpu = cpu_medians(
        {"slip": one_slip, "complete": lambda: one_slip().scenario, "floor": lambda: floor(portfolio)},
        repeat=args.repeat,
    )
    prepare = median_seconds(lambda: prepare_schedule(portfolio), repeat=5)
    moved = run_scenario(portfolio, Scenario("x", (Slip(open_ids[0], 14),)), settings, base, schedule).moved.height
    print(
        f"{args.milestones:,} milestones, {portfolio.tasks.height:,} tasks, "
        f"{portfolio.dependencies.height:,} dependencies, {portfolio.links.height:,} links, "
        f"{portfolio.kpis.height:,} KPIs; {schedule.graph.levels} levels"
    )
    join = timings["floor"]
    print_table(
        [
            ("prepare_schedule (once per snapshot)", prepare, ""),
            (
                "single-slip scenario recompute",
                timings["slip"],
                f"{timings['slip'] / join:.1f}x the join floor; a slip moves e.g. {moved} milestone(s)",
            ),
            (
                "  with the complete scenario EngineResult",
                timings["complete"],
                f"{timings['complete'] / join:.1f}x the join floor (built on first use of result.scenario)",
            ),
            ("floor: join links+milestones+KPIs, group-by", join, "same run, alternating"),
        ]
    )
    print("CPU time (all threads of this process; moves less with the machine's load):")
    print_table(
        [
            ("single-slip scenario recompute, CPU", cpu["slip"], f"{cpu['slip'] / cpu['floor']:.1f}x the join floor"),
            (
                "  with the complete scenario EngineResult, CPU",
                cpu["complete"],
                f"{cpu['complete'] / cpu['floor']:.1f}x the join floor",
            ),
            ("floor, CPU", cpu["floor"], "same run, alternating"),
        ]
    )
    print(f"peak RSS: {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
