"""The exception list (kpi_engine/engine/exception_list.py): its order and its sentences."""

from __future__ import annotations

from datetime import date

import polars as pl
from builders import fleet_portfolio, kpi, milestone, portfolio

from kpi_engine.core.portfolio import Portfolio
from kpi_engine.engine.compute import compute


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
