"""Synthetic portfolios of any size for benchmarks, built with vectorised numpy.

>>> from bench.portfolio_gen import generate_portfolio     # doctest: +SKIP
>>> portfolio = generate_portfolio(milestones=10_000)      # doctest: +SKIP

The shape mimics a real PMO portfolio: ten milestones a project, baselines spread over
two years around ``as_of``, a third of the milestones already done, most forecasts on
time and a tail of late ones, tasks that sometimes run past their milestone, and
finish-to-start dependencies that respect the baseline plan (a successor's baseline
leaves room for its predecessor, its lag and its own duration), so only real slips
cascade. Every id is zero-padded so that sorting by id keeps generation order.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from kpi_engine.core.portfolio import Portfolio

AS_OF = date(2026, 6, 15)


def _ids(prefix: str, n: int) -> pl.Series:
    """``prefix`` + 1..n zero-padded to at least five digits."""
    width = max(5, len(str(n)))
    return pl.select(
        pl.concat_str(pl.lit(prefix), pl.int_range(1, n + 1).cast(pl.String).str.zfill(width)).alias("id")
    )["id"]


def _names(label: str, n: int) -> pl.Series:
    return pl.select(pl.format(f"{label} {{}}", pl.int_range(1, n + 1)).alias("name"))["name"]


def _dates(day_offsets: np.ndarray, start: date, valid: np.ndarray | None = None) -> pl.Series:
    """Dates ``start + offset`` (offsets in days); null where ``valid`` is False."""
    base = (start - date(1970, 1, 1)).days
    dates = pl.Series(np.asarray(day_offsets, dtype=np.int64) + base).cast(pl.Int32).cast(pl.Date)
    if valid is None:
        return dates
    return pl.select(pl.when(pl.Series(valid)).then(dates).alias("d"))["d"]


def generate_portfolio(
    milestones: int = 10_000,
    tasks_per_milestone: int = 5,
    kpis: int | None = None,
    links: int | None = None,
    dependencies: int | None = None,
    projects: int | None = None,
    seed: int = 0,
    as_of: date = AS_OF,
) -> Portfolio:
    """Return a random but realistic portfolio in the canonical model.

    Parameters
    ----------
    milestones
        Number of milestones.
    tasks_per_milestone
        Tasks per milestone (every milestone gets the same number).
    kpis
        Number of KPIs; default one per 20 milestones (at least 3).
    links
        Number of (milestone, KPI) links before duplicates are dropped; default one per milestone.
    dependencies
        Number of finish-to-start dependencies before duplicates are dropped; default 1.5 per milestone.
    projects
        Number of projects; default one per ten milestones.
    seed
        Seed of the random generator: the same arguments give the same portfolio.
    as_of
        Snapshot date.
    """
    rng = np.random.default_rng(seed)
    n = milestones
    n_kpis = kpis if kpis is not None else max(3, n // 20)
    n_links = links if links is not None else n
    n_deps = dependencies if dependencies is not None else (3 * n) // 2
    n_projects = projects if projects is not None else max(1, n // 10)
    n_objectives = max(1, n_kpis // 10)
    people = _names("Person", max(10, n // 25)).to_numpy()

    objectives = pl.DataFrame(
        {
            "objective_id": _ids("O-", n_objectives),
            "name": _names("Objective", n_objectives),
            "owner": rng.choice(people, n_objectives),
        }
    )

    # KPIs: half lower-is-better (costs), half higher-is-better (rates); targets 5-15% better.
    lower = rng.random(n_kpis) < 0.5
    baseline_value = rng.uniform(50, 150, n_kpis).round(2)
    improvement = baseline_value * rng.uniform(0.05, 0.15, n_kpis)
    target_value = np.where(lower, baseline_value - improvement, baseline_value + improvement).round(2)
    target_offset = rng.integers(60, 560, n_kpis)  # target dates from mid-August 2026 to 2027
    kpi_ids = _ids("K-", n_kpis)
    kpi_frame = pl.DataFrame(
        {
            "kpi_id": kpi_ids,
            "name": _names("KPI", n_kpis),
            "objective_id": _ids("O-", n_objectives).gather(rng.integers(0, n_objectives, n_kpis)),
            "owner": rng.choice(people, n_kpis),
            "unit": rng.choice(np.array(["USD", "%", "hours", "days"], dtype=object), n_kpis),
            "direction": np.where(lower, "lower_is_better", "higher_is_better"),
            "baseline_value": baseline_value,
            "target_value": target_value,
            "period_start": _dates(np.zeros(n_kpis, dtype=np.int64), date(2026, 1, 1)),
            "target_date": _dates(target_offset, as_of),
        }
    )
    # two actuals per KPI this year, drifting a little towards the target
    actual_kpi = np.repeat(np.arange(n_kpis), 2)
    drift = rng.uniform(0.0, 0.3, actual_kpi.size) * (target_value - baseline_value)[actual_kpi]
    kpi_actuals = pl.DataFrame(
        {
            "kpi_id": kpi_ids.gather(actual_kpi),
            "as_of": _dates(np.tile(np.array([-76, -15]), n_kpis), as_of),
            "value": (baseline_value[actual_kpi] + drift).round(3),
        }
    )

    project_ids = _ids("P-", n_projects)
    projects_frame = pl.DataFrame(
        {
            "project_id": project_ids,
            "name": _names("Project", n_projects),
            "program": pl.select(pl.format("Program {}", pl.int_range(0, n_projects) % 20 + 1))["literal"],
            "portfolio": pl.select(pl.format("Portfolio {}", pl.int_range(0, n_projects) % 4 + 1))["literal"],
            "owner": rng.choice(people, n_projects),
            "sponsor": rng.choice(people, n_projects),
            "budget": rng.uniform(5e4, 5e6, n_projects).round(0),
        }
    )

    # Milestones in baseline order: index order is time order, which the dependency
    # generator below relies on.
    baseline_finish = np.sort(rng.integers(-365, 545, n))
    duration = rng.integers(10, 90, n)
    done = baseline_finish < rng.integers(-30, 30, n)  # mostly the ones planned before as_of
    late = rng.random(n) < 0.3
    forecast_slip = np.where(late, rng.gamma(2.0, 10.0, n).astype(np.int64), rng.integers(-3, 2, n))
    forecast_finish = np.where(done, baseline_finish + forecast_slip, np.maximum(baseline_finish + forecast_slip, -30))
    actual_finish = np.minimum(baseline_finish + np.where(late, forecast_slip, 0), -1)
    status_words = np.array(["Green", "on track", "Amber", "at risk", "Red", None], dtype=object)
    reported = rng.choice(status_words, n, p=[0.45, 0.15, 0.15, 0.05, 0.1, 0.1])
    milestone_ids = _ids("M-", n)
    milestone_frame = pl.DataFrame(
        {
            "milestone_id": milestone_ids,
            "project_id": project_ids.gather(rng.integers(0, n_projects, n)),
            "name": _names("Milestone", n),
            "owner": rng.choice(people, n),
            "baseline_start": _dates(baseline_finish - duration, as_of),
            "baseline_finish": _dates(baseline_finish, as_of),
            "forecast_finish": _dates(forecast_finish, as_of),
            "actual_finish": _dates(actual_finish, as_of, done),
            "percent_complete": np.where(done, 100.0, rng.uniform(0, 95, n).round(0)),
            "reported_status": np.where(done, "Complete", reported),
        }
    )

    task_milestone = np.repeat(np.arange(n), tasks_per_milestone)
    task_done = done[task_milestone] | (rng.random(task_milestone.size) < 0.3)
    task_finish = forecast_finish[task_milestone] - rng.integers(0, 20, task_milestone.size)
    task_late = rng.random(task_milestone.size) < 0.05
    task_finish = task_finish + np.where(task_late, rng.integers(1, 30, task_milestone.size), 0)
    n_tasks = task_milestone.size
    tasks_frame = pl.DataFrame(
        {
            "task_id": _ids("T-", n_tasks),
            "milestone_id": milestone_ids.gather(task_milestone),
            "name": _names("Task", n_tasks),
            "owner": rng.choice(people, n_tasks),
            "forecast_finish": _dates(task_finish, as_of),
            "actual_finish": _dates(np.minimum(task_finish, -1), as_of, task_done),
        }
    )

    # Dependencies: a successor's predecessor is one of the 30 latest milestones whose
    # baseline finish leaves room for the lag and the successor's duration.
    dst = rng.integers(0, n, n_deps)
    lag = rng.integers(0, 8, n_deps)
    room = np.searchsorted(baseline_finish, baseline_finish[dst] - duration[dst] - lag, side="right") - 1
    src = room - rng.integers(0, 30, n_deps)
    keep = src >= 0
    dependency_frame = pl.DataFrame(
        {
            "predecessor_id": milestone_ids.gather(src[keep]),
            "successor_id": milestone_ids.gather(dst[keep]),
            "lag_days": lag[keep],
        }
    ).unique(["predecessor_id", "successor_id"], keep="first", maintain_order=True)

    link_milestone = rng.integers(0, n, n_links)
    link_kpi = rng.integers(0, n_kpis, n_links)
    gap = (target_value - baseline_value)[link_kpi]
    links_frame = pl.DataFrame(
        {
            "milestone_id": milestone_ids.gather(link_milestone),
            "kpi_id": kpi_ids.gather(link_kpi),
            "kpi_delta": (gap * rng.uniform(0.02, 0.3, n_links)).round(4),
            "ramp_days": rng.choice(np.array([0.0, 14.0, 28.0, 60.0, 90.0]), n_links),
            "value_per_week": rng.uniform(1_000, 60_000, n_links).round(0),
        }
    ).unique(["milestone_id", "kpi_id"], keep="first", maintain_order=True)

    return Portfolio.from_tables(
        {
            "objectives": objectives,
            "kpis": kpi_frame,
            "kpi_actuals": kpi_actuals,
            "projects": projects_frame,
            "milestones": milestone_frame,
            "tasks": tasks_frame,
            "dependencies": dependency_frame,
            "links": links_frame,
        },
        as_of,
    )


if __name__ == "__main__":
    sample = generate_portfolio()
    for name, table in sample.tables().items():
        print(f"{name:13s} {table.height:>8,d} rows")


def generate_history(portfolio: Portfolio, snapshots: int = 12, interval_days: int = 7, seed: int = 0) -> pl.DataFrame:
    """Return a made-up weekly history of every milestone's computed finish, ending at ``portfolio``.

    Same columns as :func:`kpi_engine.analysis.milestone_history`. Each week a milestone's
    computed finish stays put (85%), slips by a gamma-distributed number of days (12%,
    about 5 days on average) or comes back one to three days (3%).
    """
    from kpi_engine.engine.schedule import compute_schedule

    rng = np.random.default_rng(seed)
    current = compute_schedule(portfolio)
    n = current.height
    finish = current["computed_finish"].cast(pl.Int32).cast(pl.Int64).to_numpy()
    kind = rng.random((n, snapshots - 1))
    moves = np.where(
        kind < 0.85, 0, np.where(kind < 0.97, np.ceil(rng.gamma(1.5, 3.0, kind.shape)), -rng.integers(1, 4, kind.shape))
    ).astype(np.int64)
    # moves[:, s] happens between snapshot s and s + 1; finishes before the latest follow backwards
    later = np.cumsum(moves[:, ::-1], axis=1)[:, ::-1]
    finishes = np.concatenate([finish[:, None] - later, finish[:, None]], axis=1)
    as_of_day = (portfolio.as_of - date(1970, 1, 1)).days
    snapshot_days = as_of_day - interval_days * np.arange(snapshots - 1, -1, -1)
    frame = pl.DataFrame(
        {
            "snapshot_id": np.tile(np.arange(1, snapshots + 1, dtype=np.int64), n),
            "as_of": pl.Series(np.tile(snapshot_days, n)).cast(pl.Int32).cast(pl.Date),
            "milestone_id": current["milestone_id"].gather(np.repeat(np.arange(n), snapshots)),
            "project_id": current["project_id"].gather(np.repeat(np.arange(n), snapshots)),
            "baseline_finish": current["baseline_finish"].gather(np.repeat(np.arange(n), snapshots)),
            "computed_finish": pl.Series(finishes.reshape(-1)).cast(pl.Int32).cast(pl.Date),
        }
    )
    return frame.with_columns(
        (pl.col("computed_finish").cast(pl.Int32) - pl.col("baseline_finish").cast(pl.Int32))
        .cast(pl.Int64)
        .alias("slip_days"),
        pl.col("computed_finish").cast(pl.Int32).cast(pl.Int64).diff().over("milestone_id").alias("moved_days"),
    )
