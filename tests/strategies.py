"""Hypothesis strategies for random portfolios, shared by engine, scenario and simulation tests.

>>> @given(portfolios())                          # doctest: +SKIP
... def test_something(portfolio): ...

Dependencies only run from a lower to a higher milestone index, so every portfolio is
acyclic. Values stay on grids (whole days, quarter units, round money) so that shrunk
examples read like a planner's data.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from builders import frame
from hypothesis import strategies as st

from kpi_engine.core.portfolio import Portfolio

AS_OF = date(2026, 6, 1)
PERIOD_START = date(2026, 1, 1)
STATUSES = ["Green", "Amber", "Red", "on track", "at risk", None]


def _day(offset: int) -> date:
    return AS_OF + timedelta(days=offset)


@st.composite
def portfolios(
    draw: st.DrawFn,
    min_milestones: int = 1,
    max_milestones: int = 30,
    max_kpis: int = 4,
    max_projects: int = 3,
    finished_share: float = 0.25,
    on_time: bool = False,
) -> Portfolio:
    """A random valid portfolio as of :data:`AS_OF`.

    Parameters
    ----------
    min_milestones, max_milestones
        How many milestones (1-30 by default).
    max_kpis
        At most this many KPIs (at least one).
    max_projects
        At most this many projects; milestones are spread over them.
    finished_share
        Rough share of milestones that have an actual finish (on or before ``AS_OF``).
    on_time
        Every milestone on plan: open, its baseline after ``AS_OF``, no slip, no task
        forecast after it, no dependencies, and linked to every KPI.

    Every milestone has 0-2 tasks, up to two predecessors among lower indices, and a link
    to each KPI with probability one half; KPIs have 0-2 actuals before ``AS_OF`` and a
    target date 30-300 days after it.
    """
    n = draw(st.integers(min_milestones, max_milestones))
    n_kpis = draw(st.integers(1, max_kpis))
    n_projects = draw(st.integers(1, max_projects))
    projects = [
        {"project_id": f"P{p}", "name": f"Project {p}", "owner": f"Owner {p}", "sponsor": "Sue Sponsor"}
        for p in range(n_projects)
    ]
    milestones, tasks, dependencies, links = [], [], [], []
    for i in range(n):
        baseline = draw(st.integers(1, 240) if on_time else st.integers(-60, 240))
        duration = draw(st.integers(0, 30))
        slip = 0 if on_time else draw(st.integers(-10, 40))
        done = not on_time and draw(st.floats(0, 1)) < finished_share
        milestones.append(
            {
                "milestone_id": f"M{i}",
                "project_id": f"P{draw(st.integers(0, n_projects - 1))}",
                "name": f"Milestone {i}",
                "owner": "Mo Lead",
                "baseline_start": _day(baseline - duration) if draw(st.booleans()) else None,
                "baseline_finish": _day(baseline),
                "forecast_finish": _day(baseline + slip) if draw(st.booleans()) else None,
                "actual_finish": _day(min(baseline + slip, -1)) if done else None,
                "reported_status": "Complete" if done else draw(st.sampled_from(STATUSES)),
            }
        )
        for j in range(draw(st.integers(0, 2))):
            late = 0 if on_time else draw(st.integers(-20, 30))
            tasks.append(
                {
                    "task_id": f"T{i}-{j}",
                    "milestone_id": f"M{i}",
                    "name": f"Task {i}-{j}",
                    "forecast_finish": _day(baseline + late),
                    "actual_finish": _day(min(baseline + late, -1)) if draw(st.booleans()) else None,
                }
            )
        if i and not on_time:
            for p in sorted(draw(st.sets(st.integers(0, i - 1), max_size=2))):
                dependencies.append(
                    {"predecessor_id": f"M{p}", "successor_id": f"M{i}", "lag_days": draw(st.integers(0, 10))}
                )
        for k in range(n_kpis):
            if on_time or draw(st.booleans()):
                links.append(
                    {
                        "milestone_id": f"M{i}",
                        "kpi_id": f"K{k}",
                        "kpi_delta": draw(st.integers(-8, 8)) / 4,
                        "ramp_days": float(draw(st.sampled_from([0, 0, 7, 14, 30, 60]))),
                        "value_per_week": float(draw(st.integers(0, 20)) * 5_000),
                    }
                )
    kpis, actuals = [], []
    for k in range(n_kpis):
        kpis.append(
            {
                "kpi_id": f"K{k}",
                "name": f"KPI {k}",
                "objective_id": "O",
                "owner": "Kim Owner",
                "unit": "u",
                "direction": draw(st.sampled_from(["higher_is_better", "lower_is_better"])),
                "baseline_value": 10.0,
                "target_value": draw(st.integers(20, 60)) / 4,
                "period_start": PERIOD_START,
                "target_date": _day(draw(st.integers(30, 300))),
            }
        )
        for offset in sorted(draw(st.sets(st.integers(1, 150), max_size=2))):
            actuals.append({"kpi_id": f"K{k}", "as_of": _day(-offset), "value": draw(st.integers(30, 50)) / 4})
    tables = {
        "objectives": frame("objectives", [{"objective_id": "O", "name": "Objective", "owner": "Olga Exec"}]),
        "projects": frame("projects", projects),
        "milestones": frame("milestones", milestones),
        "tasks": frame("tasks", tasks),
        "dependencies": frame("dependencies", dependencies),
        "links": frame("links", links),
        "kpis": frame("kpis", kpis),
        "kpi_actuals": frame("kpi_actuals", actuals),
    }
    return Portfolio.from_tables(tables, AS_OF)


def open_milestones(portfolio: Portfolio) -> list[str]:
    """Ids of the milestones without an actual finish (the ones a scenario may slip)."""
    return portfolio.milestones.filter(portfolio.milestones["actual_finish"].is_null())["milestone_id"].to_list()


@st.composite
def schedule_changes(draw: st.DrawFn, portfolio: Portfolio) -> tuple:
    """Changes that move finishes on ``portfolio``: slips of open milestones (0-120 days), a set
    finish (possibly earlier than the computed one, pulling successors in) and a project slip.

    Returns a tuple of :mod:`kpi_engine.whatif.scenarios` changes (empty when nothing is open).
    """
    from kpi_engine.whatif.scenarios import SetFinish, Slip, SlipProject

    candidates = open_milestones(portfolio)
    if not candidates:
        return ()
    changes: list = [
        Slip(mid, draw(st.integers(0, 120)))
        for mid in draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3, unique=True))
    ]
    if draw(st.booleans()):
        changes.append(SetFinish(draw(st.sampled_from(candidates)), AS_OF + timedelta(days=draw(st.integers(0, 200)))))
    if draw(st.booleans()):
        mid = draw(st.sampled_from(candidates))
        project = portfolio.milestones.filter(portfolio.milestones["milestone_id"] == mid)["project_id"].item()
        changes.append(SlipProject(project, draw(st.integers(0, 60))))
    return tuple(changes)


@st.composite
def portfolios_with_findings(draw: st.DrawFn) -> Portfolio:
    """A random portfolio plus governance findings: a blank and a shared owner, dangling ids, an idle KPI."""
    base = draw(portfolios())
    ids = base.milestones["milestone_id"]
    blank, shared = draw(st.sampled_from(ids.to_list())), draw(st.sampled_from(ids.to_list()))
    milestones = base.milestones.with_columns(
        pl.when(pl.col("milestone_id") == blank)
        .then(None)
        .when(pl.col("milestone_id") == shared)
        .then(pl.lit("Ann Lee / Bob Stone"))
        .otherwise(pl.col("owner"))
        .alias("owner")
    )
    extra_links = frame(
        "links",
        [
            {"milestone_id": "M-GONE", "kpi_id": "K0", "kpi_delta": 1.0, "value_per_week": 10.0},
            {"milestone_id": ids[0], "kpi_id": "K-GONE", "kpi_delta": 1.0, "value_per_week": 10.0},
        ],
    )
    idle = frame("kpis", [{**base.kpis.row(0, named=True), "kpi_id": "K-IDLE", "name": "Idle"}])
    tables = {
        **base.tables(),
        "milestones": milestones,
        "links": pl.concat([base.links, extra_links], how="diagonal_relaxed") if draw(st.booleans()) else base.links,
        "kpis": pl.concat([base.kpis, idle]) if draw(st.booleans()) else base.kpis,
    }
    return Portfolio.from_tables(tables, base.as_of)
