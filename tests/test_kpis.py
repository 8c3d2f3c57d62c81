"""Link impact, value at risk and KPI projection (DOMAIN.md section 2, rules 3-5)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from builders import kpi, milestone, portfolio

from kpi_engine.engine.compute import compute
from kpi_engine.engine.kpis import ramp


@pytest.mark.parametrize(
    ("elapsed", "ramp_days", "expected"),
    [(-1, 10, 0.0), (0, 0, 1.0), (5, 10, 0.5), (30, 10, 1.0), (-3, 0, 0.0)],
)
def test_ramp(elapsed, ramp_days, expected):
    out = pl.select(ramp(pl.lit(elapsed), pl.lit(float(ramp_days)))).item()
    assert out == expected


def one_link(ms: dict, link: dict | None = None, kpi_row: dict | None = None, actuals=(), as_of=date(2026, 6, 1)):
    return compute(
        portfolio(
            as_of=as_of,
            milestones=[ms],
            kpis=[kpi_row or kpi("K")],
            links=[
                {
                    "milestone_id": ms["milestone_id"],
                    "kpi_id": "K",
                    "kpi_delta": -0.5,
                    "ramp_days": 0,
                    "value_per_week": 7000,
                    **(link or {}),
                }
            ],
            kpi_actuals=list(actuals),
        )
    )


def test_finishing_early_loses_nothing_and_gains_in_the_projection():
    r = one_link(milestone("A", date(2026, 9, 1), actual_finish=date(2026, 5, 1)), as_of=date(2026, 6, 1))
    link = r.link("A", "K")
    assert (link["kpi_impact"], link["value_at_risk"]) == (0.0, 0.0)
    # delivered before as_of with no actual: the baseline 2.0 still moves by the whole delta
    assert r.kpi("K")["projected"] == pytest.approx(1.5)


def test_ramp_partially_realised_by_the_target_date():
    r = one_link(milestone("A", date(2026, 12, 1), forecast_finish=date(2026, 12, 21)), link={"ramp_days": 20})
    # baseline: 30/20 -> fully ramped; computed: 10/20 -> half ramped
    assert r.link("A", "K")["kpi_impact"] == pytest.approx(-0.5 * (1 - 0.5))
    assert r.kpi("K")["projected"] == pytest.approx(2.0 - 0.25)


def test_actuals_after_a_delivery_already_contain_its_effect():
    r = one_link(
        milestone("A", date(2026, 3, 1), actual_finish=date(2026, 3, 1)),
        actuals=[
            {"kpi_id": "K", "as_of": date(2026, 4, 30), "value": 1.4},
            {"kpi_id": "K", "as_of": date(2026, 7, 31), "value": 9.9},
        ],  # after as_of: ignored
    )
    assert r.kpi("K")["projected"] == pytest.approx(1.4)
    assert r.kpi("K")["actual_date"] == date(2026, 4, 30)


def test_slip_window_partly_outside_the_kpi_period_counts_only_days_inside():
    r = one_link(
        milestone("A", date(2026, 12, 20), forecast_finish=date(2027, 1, 10)),
        kpi_row=kpi("K", target_date=date(2026, 12, 31)),
    )
    # [Dec 20, Jan 10) inside [.., Dec 31] = 12 days at 1,000 a day
    assert r.link("A", "K")["value_at_risk"] == pytest.approx(12_000)


def test_slip_window_starting_before_the_period_counts_from_period_start():
    r = one_link(
        milestone("A", date(2025, 12, 25), forecast_finish=date(2026, 1, 5), actual_finish=date(2026, 1, 5)),
        kpi_row=kpi("K", period_start=date(2026, 1, 1)),
    )
    assert r.link("A", "K")["value_at_risk"] == pytest.approx(4_000)


def test_multiple_links_per_milestone_each_carry_their_own_figures():
    r = compute(
        portfolio(
            milestones=[milestone("A", date(2026, 9, 1), forecast_finish=date(2026, 9, 8))],
            kpis=[kpi("K1"), kpi("K2", direction="higher_is_better", baseline_value=10.0, target_value=12.0)],
            links=[
                {"milestone_id": "A", "kpi_id": "K1", "kpi_delta": -1.0, "value_per_week": 700},
                {"milestone_id": "A", "kpi_id": "K2", "kpi_delta": 2.0, "value_per_week": 1400},
            ],
        )
    )
    assert r.link("A", "K1")["value_at_risk"] == pytest.approx(700)
    assert r.link("A", "K2")["value_at_risk"] == pytest.approx(1400)
    assert r.milestone("A")["value_at_risk"] == pytest.approx(2100)
    assert r.kpi("K2")["projected"] == pytest.approx(12.0)
    assert r.kpi("K2")["misses"] is False


def test_higher_is_better_shortfall_is_target_minus_projected():
    r = one_link(
        milestone("A", date(2026, 9, 1)),
        link={"kpi_delta": 1.0},
        kpi_row=kpi("K", direction="higher_is_better", baseline_value=10.0, target_value=12.5),
    )
    assert r.kpi("K")["shortfall"] == pytest.approx(1.5)
