"""Monte Carlo simulation of slips: distributions of finishes, KPI projections and value at risk.

Every open milestone draws a random extra slip per run; each run is propagated through
the dependencies and the KPI figures of DOMAIN.md section 2 are recomputed. Runs are an
array axis (numpy), propagation goes one topological generation at a time, so 1,000 runs
cost about as much as a few hundred deterministic recomputations.

Where a milestone's slip comes from (first that applies):

1. a triangular ``(min, most likely, max)`` override for the milestone, in days;
2. a triangular override for its project;
3. its project's history, when the project has enough observations: the sum of k
   moves drawn at random (bootstrap) from how much its milestones' computed finishes
   moved between consecutive snapshots, k being the number of snapshot intervals left
   until the milestone's computed finish (capped);
4. the whole portfolio's history, the same way, when it has enough observations;
5. too little history (a first snapshot, a new portfolio): the reference class of the
   milestone's duration, a triangular slip from :data:`REFERENCE_CLASSES` (longer
   milestones slip more), so that a single snapshot still shows a spread. With
   ``default_slips=False`` such milestones draw no slip instead.

Slips are never negative: the computed finish is already the earliest the plan allows,
and a negative slip would let a milestone finish before its predecessors. Milestones that
have finished (or whose finish a scenario sets) do not slip.

>>> result = simulate(portfolio, runs=1000, seed=7, history=milestone_history(store))  # doctest: +SKIP
>>> result.kpis.select("kpi_id", "p_meet", "p80")                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from kpi_engine.core.errors import InputError
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.settings import Settings
from kpi_engine.engine.schedule import LATEST_DAY, Schedule, day_number, days, prepare_schedule
from kpi_engine.whatif.scenarios import Scenario, apply_changes
from kpi_engine.whatif.simulation.fan_chart import fan_frame, fan_quantiles, month_ends
from kpi_engine.whatif.simulation.propagation import FINISH_CAP, propagate_runs
from kpi_engine.whatif.simulation.run_figures import moving_links, per_run_figures
from kpi_engine.whatif.simulation.run_inputs import link_arrays, plan_figures, ranked_kpis
from kpi_engine.whatif.simulation.slip_choice import (
    MIN_HISTORY_OBSERVATIONS,
    MIN_PROJECT_OBSERVATIONS,
    Pools,
    Triangle,
    check_triangle,
    choose_distributions,
)
from kpi_engine.whatif.simulation.slip_draws import STEP_LIMIT, draw_slips
from kpi_engine.whatif.simulation.summaries import (
    ValueAtRiskDistribution,
    criticality_frame,
    kpi_summary,
    milestone_summary,
    value_at_risk_summary,
)

#: At most this many snapshot intervals of moves are summed for one milestone (a year of weeks).
MAX_STEPS = 52


#: Most (milestone x run) cells one simulation holds (finishes are 4 bytes a cell).
MAX_CELLS = 50_000_000


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate` returns.

    Attributes
    ----------
    runs, seed
        How many runs, and the seed that reproduces them.
    kpis
        Per KPI: ``kpi_id, name, unit, direction, target_value, projected`` (the
        deterministic projection), ``p_meet`` (share of runs meeting the target),
        ``p50, p80, p95`` and ``mean`` of the projected value. ``pXX`` is the value the
        KPI reaches or beats in XX% of runs: the XXth percentile for a lower-is-better
        KPI, the (100 - XX)th for a higher-is-better one.
    milestones
        Per milestone: ``milestone_id, name, project_id, computed_finish`` (deterministic),
        ``p50_finish, p80_finish, p95_finish`` (dates by which that share of runs has
        finished), ``distribution`` (a :class:`SlipDistribution` value) and
        ``distribution_used`` (the text to show, e.g. "history: project P-ROUTE").
    value_at_risk
        Total value at risk per run and its percentiles.
    criticality
        Per linked milestone: ``milestone_id, name, project_id, open, criticality``: the
        share of runs in which one of its links has a non-zero KPI impact on a KPI that
        misses its target in that run; highest first.
    trajectory
        Per KPI and date (``as_of``, each month end before the target date, the target
        date): ``p10, p50, p90`` of the KPI's value, for a fan chart.
    """

    runs: int
    seed: int
    kpis: pl.DataFrame
    milestones: pl.DataFrame
    value_at_risk: ValueAtRiskDistribution
    criticality: pl.DataFrame
    trajectory: pl.DataFrame


def simulate(
    portfolio: Portfolio,
    settings: Settings | None = None,
    runs: int = 1000,
    seed: int = 0,
    history: pl.DataFrame | None = None,
    overrides: Mapping[str, Triangle] | None = None,
    project_overrides: Mapping[str, Triangle] | None = None,
    base_schedule: Schedule | None = None,
    scenario: Scenario | None = None,
    min_project_observations: int = MIN_PROJECT_OBSERVATIONS,
    max_steps: int = MAX_STEPS,
    trajectory: bool = True,
    min_history_observations: int = MIN_HISTORY_OBSERVATIONS,
    default_slips: bool = True,
) -> SimulationResult:
    """Draw random slips for every open milestone and summarise ``runs`` propagated outcomes.

    Parameters
    ----------
    portfolio
        The snapshot.
    settings
        Thresholds and currency (kept for symmetry with the engine; the simulated
        figures do not depend on them).
    runs
        Number of runs (at least 1).
    seed
        Seed of the random generator: the same inputs and seed give the same output.
    history
        :func:`kpi_engine.analysis.milestone_history` up to this snapshot; without it
        (or with too little of it) milestones without an override draw from their
        reference class (:data:`REFERENCE_CLASSES`).
    overrides
        Milestone id -> triangular ``(min, most likely, max)`` slip in days.
    project_overrides
        Project id -> triangular slip in days for each of its open milestones.
    base_schedule
        The snapshot's prepared schedule, when already at hand.
    scenario
        A what-if scenario to simulate on top of (its slips and set finishes apply to
        every run; workarounds are ignored here).
    min_project_observations
        Observed moves a project needs before its own history is used.
    max_steps
        Most snapshot intervals of moves summed for one milestone (1 to 63).
    trajectory
        Also compute the per-KPI fan chart (the costliest summary).
    min_history_observations
        Observed moves the whole portfolio needs before its history is used.
    default_slips
        Whether milestones with too little history draw from their reference class
        (True) or draw no slip, every run following the plan (False).

    Raises
    ------
    InputError
        Fewer than one run or more than :data:`MAX_CELLS` (milestones x runs), an
        override naming an unknown milestone or project, or an override range that is
        not ``0 <= min <= most likely <= max``.
    ScenarioError
        When ``scenario`` does not fit the snapshot.
    """
    del settings  # the simulated figures do not depend on thresholds
    _check_run_counts(runs, max_steps)
    schedule = base_schedule if base_schedule is not None else prepare_schedule(portfolio)
    milestones = schedule.milestones
    _check_size(runs, milestones.height)
    overrides, project_overrides = _checked_overrides(portfolio, milestones, overrides, project_overrides)
    plan = _plan(portfolio, schedule, scenario)
    as_of = day_number(portfolio.as_of)
    chosen, pools = choose_distributions(
        milestones,
        plan.fixed,
        _durations(milestones, plan.deterministic, as_of),
        history,
        overrides,
        project_overrides,
        min_project_observations,
        min_history_observations,
        default_slips,
    )
    finish = _simulated_finishes(schedule, plan, chosen, pools, as_of, runs, seed, max_steps)
    kpis = ranked_kpis(portfolio)
    links = link_arrays(portfolio, milestones, portfolio.kpis["kpi_id"].gather(kpis.order), kpis.ranked)
    grid = [
        portfolio.as_of,
        *month_ends(portfolio.as_of, max(portfolio.kpis["target_date"].to_list(), default=portfolio.as_of)),
    ]
    grid_days = np.array([day_number(d) for d in grid], dtype=np.float64)
    reference, engine_projected = plan_figures(portfolio, schedule, plan.deterministic, links, kpis)
    moving = moving_links(links, finish, plan.deterministic)
    projected, value_at_risk, critical, m_with_links = per_run_figures(
        links,
        moving,
        finish,
        plan.deterministic,
        reference,
        kpis.ranked["target_value"].to_numpy(),
        kpis.ranked["lower"].to_numpy(),
    )
    fan = (
        fan_quantiles(
            links, moving, finish, plan.deterministic, reference.start_value, kpis.ranked["t"].to_numpy(), grid_days
        )
        if trajectory
        else None
    )
    back = np.argsort(kpis.order)  # rank of each KPI row
    projected = projected[back]
    milestone_frame = milestone_summary(milestones, plan.fixed, plan.deterministic, finish, chosen)
    del finish
    return SimulationResult(
        runs=runs,
        seed=seed,
        kpis=kpi_summary(portfolio.kpis, kpis.start, projected, engine_projected),
        milestones=milestone_frame,
        value_at_risk=value_at_risk_summary(value_at_risk, reference.value_at_risk),
        criticality=criticality_frame(milestones, plan.fixed, m_with_links, critical, runs),
        trajectory=fan_frame(portfolio.kpis, grid, grid_days, kpis.start["t"].to_numpy(), projected, fan, kpis.order),
    )


def _check_run_counts(runs: int, max_steps: int) -> None:
    """Refuse a number of runs below 1 (or not a whole number) and a ``max_steps`` out of range.

    Raises
    ------
    InputError
        Naming the value given.
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise InputError(f"the number of runs must be a whole number of at least 1, got {runs!r}")
    if not 1 <= max_steps <= STEP_LIMIT:
        raise InputError(f"max_steps must be between 1 and {STEP_LIMIT}, got {max_steps}")


def _check_size(runs: int, n: int) -> None:
    """Refuse a simulation of more than :data:`MAX_CELLS` (milestones x runs), naming the runs that fit.

    Raises
    ------
    InputError
        The simulation would not fit.
    """
    if n * runs > MAX_CELLS:
        raise InputError(
            f"{runs:,} runs on {n:,} milestones is more than one simulation can hold; "
            f"use at most {max(1, MAX_CELLS // max(n, 1)):,} runs"
        )


def _checked_overrides(
    portfolio: Portfolio,
    milestones: pl.DataFrame,
    overrides: Mapping[str, Triangle] | None,
    project_overrides: Mapping[str, Triangle] | None,
) -> tuple[dict[str, Triangle], dict[str, Triangle]]:
    """Return the milestone and project slip ranges, each checked and naming something in the snapshot.

    Raises
    ------
    InputError
        A range that is not ``0 <= min <= most likely <= max``, or an unknown milestone or project.
    """
    by_milestone = {str(k): check_triangle(f"milestone '{k}'", v) for k, v in (overrides or {}).items()}
    by_project = {str(k): check_triangle(f"project '{k}'", v) for k, v in (project_overrides or {}).items()}
    unknown = sorted(set(by_milestone) - set(milestones["milestone_id"].to_list()))
    if unknown:
        raise InputError(
            f"slip ranges name milestones that are not in the snapshot of {portfolio.as_of}: " + ", ".join(unknown)
        )
    unknown = sorted(set(by_project) - set(portfolio.projects["project_id"].to_list()))
    if unknown:
        raise InputError(
            f"slip ranges name projects that are not in the snapshot of {portfolio.as_of}: " + ", ".join(unknown)
        )
    return by_milestone, by_project


@dataclass(frozen=True)
class _Plan:
    """The plan every run starts from: the scenario's changes applied, and its deterministic finishes."""

    own: np.ndarray
    fixed: np.ndarray
    extra: np.ndarray
    deterministic: np.ndarray


def _plan(portfolio: Portfolio, schedule: Schedule, scenario: Scenario | None) -> _Plan:
    """Apply the scenario's slips and set finishes (if any) and compute the deterministic finishes.

    Raises
    ------
    ScenarioError
        The scenario does not fit the snapshot.
    """
    if scenario is not None:
        applied = apply_changes(portfolio, schedule, scenario)
        own, fixed, extra = applied.own, applied.fixed, applied.extra
    else:
        own, fixed, extra = schedule.own, schedule.fixed, np.zeros(schedule.milestones.height, dtype=np.int64)
    return _Plan(own, fixed, extra, schedule.finish(extra=extra, own=own, fixed=fixed))


def _durations(milestones: pl.DataFrame, deterministic: np.ndarray, as_of: int) -> np.ndarray:
    """Each milestone's planned duration in days, which picks its reference class.

    Without a baseline start, the days from ``as_of`` to its deterministic finish (at least 0).
    """
    return (
        milestones.select(
            (days(pl.col("baseline_finish")) - days(pl.col("baseline_start"))).fill_null(
                pl.Series(np.maximum(deterministic - as_of, 0))
            )
        )
        .to_series()
        .to_numpy()
    )


def _simulated_finishes(
    schedule: Schedule,
    plan: _Plan,
    chosen: pl.DataFrame,
    pools: Pools | None,
    as_of: int,
    runs: int,
    seed: int,
    max_steps: int,
) -> np.ndarray:
    """Draw every run's slips and propagate them: finishes ``(milestones, runs)`` as int32 day numbers."""
    rng = np.random.default_rng(seed)
    slips = draw_slips(rng, chosen, pools, plan.deterministic, as_of, runs, max_steps)
    if plan.extra.any():
        slips += np.minimum(plan.extra, FINISH_CAP).astype(np.int32)[:, None]
    finish = propagate_runs(schedule.graph, plan.own, plan.fixed, slips)
    # a random finish past the last date any calendar holds stops there: every figure
    # (KPI ramps, value at risk) is already settled long before it
    np.minimum(finish, LATEST_DAY, out=finish)
    return finish
