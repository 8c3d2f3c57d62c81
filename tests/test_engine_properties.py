"""Invariants of the engine on random portfolios (hypothesis)."""

from __future__ import annotations

import itertools
import json

import polars as pl
import pytest
from builders import frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from strategies import portfolios

from kpi_engine.core.bounds import (
    EARLIEST_DATE,
    LATEST_COMPUTED_DATE,
    LATEST_DATE,
    MAX_KPI_VALUE,
    MAX_LAG_DAYS,
    MAX_RAMP_DAYS,
    MAX_VALUE_PER_WEEK,
)
from kpi_engine.core.errors import CycleError
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.engine.compute import STATUS_TABLES, compute, statuses
from kpi_engine.engine.exception_list import EXCEPTION_COLUMNS
from kpi_engine.output.formats import to_json

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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


@FAST
@given(portfolios())
def test_statuses_are_the_milestones_of_the_full_computation(portfolio):
    found = compute(portfolio).milestones
    alone = statuses(Portfolio.from_tables({t: portfolio.tables()[t] for t in STATUS_TABLES}, portfolio.as_of))
    assert_frame_equal(alone, found.select(alone.columns))
    assert found["watermelon"].dtype == pl.Boolean and "computed_status" in alone.columns


# ---------------------------------------------------------------------- cycles
@st.composite
def cyclic_portfolios(draw) -> Portfolio:
    """A random acyclic portfolio plus edges that close at least one cycle (a self-loop or a reversed path)."""
    portfolio = draw(portfolios())
    deps = portfolio.dependencies
    ids = portfolio.milestones["milestone_id"].to_list()
    extra = []
    if deps.height and draw(st.booleans()):
        # reverse some existing dependencies: each closes a two-milestone cycle
        rows = draw(st.lists(st.integers(0, deps.height - 1), min_size=1, max_size=3, unique=True))
        extra += [(deps["successor_id"][r], deps["predecessor_id"][r]) for r in rows]
    else:
        extra.append((loop := draw(st.sampled_from(ids)), loop))  # a milestone waiting for itself
    added = frame("dependencies", [{"predecessor_id": a, "successor_id": b, "lag_days": 0} for a, b in extra])
    merged = pl.concat([deps, added]).unique(["predecessor_id", "successor_id"], keep="first", maintain_order=True)
    return Portfolio.from_tables({**portfolio.tables(), "dependencies": merged}, portfolio.as_of)


@FAST
@given(cyclic_portfolios())
def test_a_cycle_is_always_found_and_named_in_dependency_order(portfolio):
    with pytest.raises(CycleError) as caught:
        compute(portfolio)
    edges = set(portfolio.dependencies.select("predecessor_id", "successor_id").rows())
    assert caught.value.cycles
    for cycle in caught.value.cycles:
        assert cycle[0] == cycle[-1] == min(cycle)  # closed, starting at its smallest id
        assert len(set(cycle[:-1])) == len(cycle) - 1  # each milestone once
        assert all((a, b) in edges for a, b in itertools.pairwise(cycle))
        assert " -> ".join(cycle) in str(caught.value)


# ---------------------------------------------------------------------- extreme but accepted values
@st.composite
def extreme_portfolios(draw) -> Portfolio:
    """Random portfolios whose values sit at the edges of kpi_engine/core/bounds.py."""
    portfolio = draw(portfolios())
    edge_days = st.sampled_from([-MAX_LAG_DAYS, -1, 0, 1, MAX_LAG_DAYS])
    deps = portfolio.dependencies.with_columns(
        pl.Series("lag_days", [draw(edge_days) for _ in range(portfolio.dependencies.height)], dtype=pl.Int64)
    )
    links = portfolio.links.with_columns(
        pl.Series(
            "ramp_days", [float(draw(st.sampled_from([0, 1, MAX_RAMP_DAYS]))) for _ in range(portfolio.links.height)]
        ),
        pl.Series(
            "value_per_week",
            [draw(st.sampled_from([0.0, 0.01, 125_000.0, MAX_VALUE_PER_WEEK])) for _ in range(portfolio.links.height)],
            dtype=pl.Float64,
        ),
        pl.Series(
            "kpi_delta",
            [
                draw(st.sampled_from([-MAX_KPI_VALUE, -1e-9, 0.0, 1e-9, MAX_KPI_VALUE]))
                for _ in range(portfolio.links.height)
            ],
            dtype=pl.Float64,
        ),
    )
    far = draw(st.sampled_from([LATEST_DATE, EARLIEST_DATE, None]))
    milestones = portfolio.milestones
    if far is not None:
        # one open milestone's forecast at an edge of the accepted dates
        milestones = milestones.with_columns(
            pl.when((pl.int_range(pl.len()) == 0) & pl.col("actual_finish").is_null())
            .then(pl.lit(far))
            .otherwise(pl.col("forecast_finish"))
            .alias("forecast_finish")
        )
    return Portfolio.from_tables(
        {**portfolio.tables(), "dependencies": deps, "links": links, "milestones": milestones}, portfolio.as_of
    )


@FAST
@given(extreme_portfolios())
def test_values_at_the_edges_of_their_ranges_give_finite_figures_and_valid_json(portfolio):
    result = compute(portfolio)
    milestones = result.milestones
    assert milestones["computed_finish"].max() <= LATEST_COMPUTED_DATE
    assert milestones["value_at_risk"].is_finite().all()
    assert result.links["value_at_risk"].is_finite().all() and result.links["kpi_impact"].is_finite().all()
    # money to the cent
    for amounts in (result.links["value_at_risk"], milestones["value_at_risk"]):
        assert (amounts == amounts.round(2)).all()
    json.loads(to_json(result.exceptions.select(list(EXCEPTION_COLUMNS))))
    assert result.exceptions["why"].is_not_null().all()
