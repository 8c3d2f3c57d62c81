"""The exception list (kpi_engine/engine/exception_list.py): its order and its sentences."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
from builders import fleet_portfolio, kpi, milestone, portfolio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from strategies import portfolios_with_findings

from kpi_engine.core.portfolio import Portfolio
from kpi_engine.engine.compute import compute
from kpi_engine.engine.exception_list import _order, sort_exceptions


def test_a_missing_shortfall_counts_as_zero_in_the_order():
    """A Red milestone 50 days late with no KPI comes before 10-day slips when no money is at risk (regression)."""
    late = date(2026, 8, 1)
    result = compute(
        portfolio(
            milestones=[
                milestone("NOKPI", late, forecast_finish=date(2026, 9, 20)),  # 50 days late, tied to no KPI
                milestone("SLIP", late, forecast_finish=date(2026, 8, 11)),  # 10 days late, its KPI meets
            ],
            kpis=[kpi("K", target_value=2.0)],
            links=[{"milestone_id": "SLIP", "kpi_id": "K"}],
        )
    )
    rows = result.exceptions.filter(pl.col("kind") == "milestone")
    assert rows.select("milestone_id", "kpi_shortfall", "slip_days").rows() == [
        ("NOKPI", None, 50),
        ("SLIP", 0.0, 10),
    ]


def test_why_names_the_kpi_owner_when_the_kpi_has_no_objective():
    """Level 3 of a KPI with no objective goes to its owner, and the sentence says so (regression)."""
    fleet = fleet_portfolio()
    kpis = fleet.kpis.with_columns(
        pl.when(pl.col("kpi_id") == "K-CPM").then(None).otherwise(pl.col("objective_id")).alias("objective_id")
    )
    result = compute(Portfolio.from_tables({**fleet.tables(), "kpis": kpis}, fleet.as_of))
    top = result.exceptions.row(0, named=True)
    assert (top["milestone_id"], top["escalation_level"], top["escalate_to"]) == ("M1", 3, "Sam Okafor")
    assert top["why"].endswith("400,000 USD of value is lost this period. Sam Okafor (KPI owner) must act.")


def test_why_names_the_objective_owner_when_there_is_one():
    top = compute(fleet_portfolio()).exceptions.row(0, named=True)
    assert top["why"].endswith("Dana Whitfield (objective owner) must act.")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios_with_findings())
def test_the_list_is_in_the_order_of_the_seven_keys(portfolio):
    """Rows chosen and ordered on positions and integer ranks come in sort_exceptions' order."""
    rows = compute(portfolio).exceptions
    assert_frame_equal(sort_exceptions(rows), rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios_with_findings(), st.randoms(use_true_random=False))
def test_sentences_written_for_chosen_rows_are_those_of_the_whole_list(portfolio, rnd):
    """with_why on any rows, in any order, writes what the whole list says for them."""
    result = compute(portfolio)
    chosen = rnd.sample(range(result.exception_rows.height), k=rnd.randint(0, result.exception_rows.height))
    assert_frame_equal(result.with_why(result.exception_rows[chosen]), result.exceptions[chosen])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, -0.0, 1.5, 2.0, 250_000.0, float("nan")]),
            st.integers(0, 2),
            st.integers(0, 3),
        ),
        max_size=40,
    ),
    st.sampled_from([3, 2**31, 2**40]),
)
def test_the_packed_order_is_the_order_of_its_keys_whether_or_not_they_fit_one_integer(rows, width):
    """Money descending (NaN first), then each integer key ascending, ties in row order; keys too
    wide to share one int64 are sorted as separate keys."""
    value = np.array([r[0] for r in rows], dtype=np.float64)
    first = np.array([r[1] for r in rows], dtype=np.int64)
    second = np.array([r[2] for r in rows], dtype=np.int64) * (width // 3)
    order = _order(value, [(first, width), (second, width), (first, width)])

    expected = sorted(
        range(len(rows)),
        key=lambda i: (not np.isnan(value[i]), 0.0 if np.isnan(value[i]) else -value[i], first[i], second[i], i),
    )
    assert order.tolist() == expected
