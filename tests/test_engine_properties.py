"""Invariants of the engine on random portfolios (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from builders import frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from kpi_engine.core.portfolio import Portfolio
from kpi_engine.engine.compute import compute

AS_OF = date(2026, 6, 1)
DAY0 = date(2026, 3, 1)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def portfolios(draw, on_time: bool = False) -> Portfolio:
    """Random acyclic portfolios: dependencies only run from lower to higher milestone index."""
    n = draw(st.integers(1, 12))
    n_kpis = draw(st.integers(1, 4))
    milestones, tasks, deps, links = [], [], [], []
    for i in range(n):
        baseline = DAY0 + timedelta(days=draw(st.integers(95, 300)))
        duration = draw(st.integers(0, 20))
        done = not on_time and draw(st.booleans()) and draw(st.booleans())
        slip = 0 if on_time else draw(st.integers(-10, 40))
        milestones.append(
            {
                "milestone_id": f"M{i}",
                "project_id": "P",
                "name": f"m{i}",
                "owner": "Pat Lead",
                "baseline_start": baseline - timedelta(days=duration),
                "baseline_finish": baseline,
                "forecast_finish": baseline + timedelta(days=slip),
                "actual_finish": baseline + timedelta(days=slip) if done else None,
                "reported_status": draw(st.sampled_from(["Green", "Amber", "Red", None, "Done"])),
            }
        )
        for j in range(draw(st.integers(0, 2))):
            late = 0 if on_time else draw(st.integers(-20, 30))
            tasks.append(
                {
                    "task_id": f"T{i}-{j}",
                    "milestone_id": f"M{i}",
                    "name": "t",
                    "forecast_finish": baseline + timedelta(days=min(late, 0) if on_time else late),
                }
            )
        for k in range(n_kpis):
            if on_time or draw(st.booleans()):
                links.append(
                    {
                        "milestone_id": f"M{i}",
                        "kpi_id": f"K{k}",
                        "kpi_delta": draw(st.floats(-2, 2, allow_nan=False)),
                        "ramp_days": float(draw(st.integers(0, 60))),
                        "value_per_week": float(draw(st.integers(0, 100_000))),
                    }
                )
        if i and not on_time:
            for p in draw(st.sets(st.integers(0, i - 1), max_size=2)):
                deps.append({"predecessor_id": f"M{p}", "successor_id": f"M{i}", "lag_days": draw(st.integers(0, 10))})
    kpis = [
        {
            "kpi_id": f"K{k}",
            "name": f"k{k}",
            "owner": "Kim Owner",
            "objective_id": "O",
            "direction": draw(st.sampled_from(["higher_is_better", "lower_is_better"])),
            "baseline_value": 10.0,
            "target_value": draw(st.floats(5, 15, allow_nan=False)),
            "period_start": date(2026, 1, 1),
            "target_date": DAY0 + timedelta(days=draw(st.integers(120, 400))),
        }
        for k in range(n_kpis)
    ]
    tables = {
        "objectives": frame("objectives", [{"objective_id": "O", "name": "o", "owner": "Olga Exec"}]),
        "projects": frame("projects", [{"project_id": "P", "name": "p", "owner": "Pat Owner", "sponsor": "Sue"}]),
        "milestones": frame("milestones", milestones),
        "tasks": frame("tasks", tasks),
        "dependencies": frame("dependencies", deps),
        "links": frame("links", links),
        "kpis": frame("kpis", kpis),
    }
    return Portfolio.from_tables(tables, AS_OF)


def delayed(portfolio: Portfolio, index: int, days: int) -> Portfolio:
    """The same portfolio with one open milestone's forecast ``days`` later."""
    ids = portfolio.milestones["milestone_id"]
    target = ids[index % len(ids)]
    milestones = portfolio.milestones.with_columns(
        pl.when((pl.col("milestone_id") == target) & pl.col("actual_finish").is_null())
        .then(pl.coalesce("forecast_finish", "baseline_finish") + pl.duration(days=days))
        .otherwise(pl.col("forecast_finish"))
        .alias("forecast_finish")
    )
    return Portfolio.from_tables({**portfolio.tables(), "milestones": milestones}, portfolio.as_of)


@FAST
@given(portfolios(), st.integers(0, 50), st.integers(1, 60))
def test_delaying_a_milestone_never_brings_anything_earlier_or_cheaper(portfolio, index, days):
    before, after = compute(portfolio), compute(delayed(portfolio, index, days))
    joined = before.milestones.join(after.milestones, on="milestone_id", suffix="_after")
    assert (joined["computed_finish_after"] >= joined["computed_finish"]).all()
    links = before.links.join(after.links, on=["milestone_id", "kpi_id"], suffix="_after")
    assert (links["value_at_risk_after"] >= links["value_at_risk"] - 1e-6).all()


@FAST
@given(portfolios(on_time=True))
def test_an_on_time_portfolio_has_no_milestone_exceptions(portfolio):
    result = compute(portfolio)
    assert result.exceptions.filter(pl.col("kind") == "milestone").height == 0
    assert (result.milestones["slip_days"] == 0).all()


@FAST
@given(portfolios())
def test_exception_list_is_sorted_by_money_then_shortfall_then_slip(portfolio):
    rows = compute(portfolio).exceptions
    keys = rows.select(
        pl.col("value_at_risk").fill_null(-1e18),
        pl.col("kpi_shortfall").fill_null(0.0),  # DOMAIN.md section 3: none counts as 0
        pl.col("slip_days").cast(pl.Float64).fill_null(-1e18),
    ).rows()
    assert keys == sorted(keys, reverse=True)


@FAST
@given(portfolios(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_row_order(portfolio, rnd):
    shuffled = {
        name: table.sample(fraction=1.0, shuffle=True, seed=rnd.randint(0, 10**6))
        for name, table in portfolio.tables().items()
    }
    a = compute(portfolio)
    b = compute(Portfolio.from_tables(shuffled, portfolio.as_of))
    assert_frame_equal(a.exceptions, b.exceptions)
    assert_frame_equal(a.kpis.sort("kpi_id"), b.kpis.sort("kpi_id"), check_exact=False, rel_tol=1e-9)
    assert_frame_equal(a.milestones.sort("milestone_id"), b.milestones.sort("milestone_id"), check_exact=False)
