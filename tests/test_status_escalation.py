"""Computed status, watermelons and escalation (DOMAIN.md section 2, rules 6-8)."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import polars as pl
import pytest
from builders import fleet_portfolio, kpi, milestone, portfolio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from strategies import portfolios

from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.references import resolve
from kpi_engine.core.settings import Settings
from kpi_engine.engine.compute import compute
from kpi_engine.engine.escalation import pair_escalation, pair_escalation_at

AS_OF = date(2026, 6, 1)
ESCALATION = ["escalation_level", "escalate_to", "escalate_role"]


def status_of(slip: int, reported: str | None = None, settings: Settings | None = None) -> dict:
    base = date(2026, 8, 1)
    ms = milestone("A", base, forecast_finish=date.fromordinal(base.toordinal() + slip), reported_status=reported)
    r = compute(
        portfolio(milestones=[ms], kpis=[kpi("K")], links=[{"milestone_id": "A", "kpi_id": "K", "kpi_delta": 0.0}]),
        settings,
    )
    return r.milestone("A")


@pytest.mark.parametrize(("slip", "expected"), [(0, "Green"), (7, "Green"), (8, "Amber"), (14, "Amber"), (15, "Red")])
def test_thresholds(slip, expected):
    assert status_of(slip)["computed_status"] == expected


def test_thresholds_come_from_settings():
    assert status_of(5, settings=Settings(amber_days=2, red_days=4))["computed_status"] == "Red"


@pytest.mark.parametrize(
    ("reported", "slip", "watermelon"),
    [
        ("On track", 15, True),
        ("amber", 15, True),
        ("late", 15, False),
        ("G", 8, True),
        ("", 20, False),
        ("Done", 20, False),
        ("Red", 0, False),
    ],
)
def test_watermelon_when_reported_better_than_computed(reported, slip, watermelon):
    assert status_of(slip, reported)["watermelon"] is watermelon


def test_small_slip_that_costs_a_missed_kpi_is_red():
    r = compute(
        portfolio(
            milestones=[milestone("A", date(2026, 12, 20), forecast_finish=date(2027, 1, 2))],
            kpis=[kpi("K", target_value=1.5)],
            links=[{"milestone_id": "A", "kpi_id": "K", "kpi_delta": -0.5}],
        )
    )
    assert r.kpi("K")["misses"] is True
    assert r.milestone("A")["slip_days"] == 13
    assert r.milestone("A")["computed_status"] == "Red"


def build(slip: int, value_per_week: float, target: float = 1.0, objective: bool = True, previous=None):
    ms = milestone("A", date(2026, 8, 1), forecast_finish=date.fromordinal(date(2026, 8, 1).toordinal() + slip))
    k = kpi("K", target_value=target, objective_id="O" if objective else None)
    p = portfolio(
        milestones=[ms],
        kpis=[k],
        kpi_actuals=[{"kpi_id": "K", "as_of": date(2026, 5, 31), "value": 1.0}],
        links=[{"milestone_id": "A", "kpi_id": "K", "kpi_delta": 0.0, "value_per_week": value_per_week}],
    )
    return compute(p, previous=previous)


@pytest.mark.parametrize(
    ("slip", "vpw", "target", "level", "who"),
    [
        pytest.param(0, 0, 1.0, 0, None, id="on-time-meets"),
        pytest.param(10, 0, 1.0, 1, "Pat Owner", id="amber-to-project-owner"),
        pytest.param(20, 0, 1.0, 2, "Kim Owner", id="red-to-kpi-owner"),
        pytest.param(0, 0, 0.5, 2, "Kim Owner", id="kpi-misses-to-kpi-owner"),
        pytest.param(10, 7 * 25_000, 1.0, 3, "Olga Exec", id="value-at-risk-over-threshold-to-objective-owner"),
        pytest.param(20, 0, 0.5, 3, "Olga Exec", id="red-and-kpi-misses"),
    ],
)
def test_escalation_levels(slip, vpw, target, level, who):
    m = build(slip, vpw, target).milestone("A")
    assert (m["escalation_level"], m["escalate_to"]) == (level, who)


def test_level_three_goes_to_kpi_owner_when_kpi_has_no_objective():
    m = build(20, 0, 0.5, objective=False).milestone("A")
    assert (m["escalation_level"], m["escalate_to"]) == (3, "Kim Owner")


def test_one_level_more_when_already_amber_in_previous_snapshot():
    previous = build(10, 0)
    m = build(10, 0, previous=previous).milestone("A")
    assert (m["escalation_level"], m["escalate_to"]) == (2, "Kim Owner")


def test_no_bump_when_it_was_green_last_week():
    previous = build(0, 0)
    assert build(10, 0, previous=previous).milestone("A")["escalation_level"] == 1


def test_milestone_without_kpi_escalates_to_project_owner_then_sponsor():
    def lonely(slip: int) -> dict:
        ms = milestone("A", date(2026, 8, 1), forecast_finish=date.fromordinal(date(2026, 8, 1).toordinal() + slip))
        return compute(portfolio(milestones=[ms])).milestone("A")

    assert (lonely(0)["escalation_level"], lonely(0)["escalate_to"]) == (1, "Pat Owner")  # governance finding
    assert (lonely(20)["escalation_level"], lonely(20)["escalate_to"]) == (2, "Sue Sponsor")


def test_new_exceptions_are_flagged_against_the_previous_snapshot():
    previous = build(10, 0)
    current = build(10, 0, previous=previous)
    assert current.exceptions.filter(current.exceptions["kind"] == "milestone")["new"].to_list() == [False]
    fresh = build(10, 0, previous=build(0, 0))
    assert fresh.exceptions.filter(fresh.exceptions["kind"] == "milestone")["new"].to_list() == [True]


# ---------------------------------------------------------------------- money at the threshold (to the cent)
def test_fleet_pair_at_exactly_250k_escalates_to_level_3():
    """125,000 a week for 14 days is 250,000: M3 -> K-OTD reaches the objective owner (regression)."""
    fleet = fleet_portfolio()
    links = fleet.links.with_columns(
        pl.when(pl.col("milestone_id") == "M3")
        .then(125_000.0)
        .otherwise(pl.col("value_per_week"))
        .alias("value_per_week")
    )
    tasks = fleet.tasks.with_columns(  # M1 finishes 2026-09-14, so M3 finishes 14 days late
        pl.when(pl.col("task_id") == "T1")
        .then(date(2026, 9, 14))
        .otherwise(pl.col("forecast_finish"))
        .alias("forecast_finish")
    )
    result = compute(Portfolio.from_tables({**fleet.tables(), "links": links, "tasks": tasks}, fleet.as_of))
    pair = result.link("M3", "K-OTD")
    assert (result.milestone("M3")["computed_status"], result.milestone("M3")["slip_days"]) == ("Amber", 14)
    assert pair["value_at_risk"] == 250_000.0
    assert (pair["escalation_level"], pair["escalate_to"]) == (3, "Marco Bellini")


def money_case(cents: int, days: int, others: int, threshold: float = 250_000.0):
    """Milestone A (days late, ``cents / 100`` a week) linked to K, plus ``others`` unrelated late links."""
    base = date(2026, 8, 1)
    milestones = [milestone("A", base, forecast_finish=base + timedelta(days=days))]
    links = [{"milestone_id": "A", "kpi_id": "K", "value_per_week": cents / 100}]
    for i in range(others):
        milestones.append(milestone(f"B{i}", base, forecast_finish=base + timedelta(days=3 + i)))
        links.append({"milestone_id": f"B{i}", "kpi_id": f"K{i}", "value_per_week": 1_000.0 * (i + 1) + 0.01})
    kpis = [kpi("K", target_value=2.0)] + [kpi(f"K{i}", target_value=2.0) for i in range(others)]
    # statuses stay Green so that only the money decides the level
    settings = Settings(amber_days=3650, red_days=3650, escalation_value=threshold)
    return compute(portfolio(milestones=milestones, kpis=kpis, links=links), settings).link("A", "K")


@pytest.mark.parametrize("others", [0, 1, 2, 5])
def test_125k_a_week_for_14_days_is_exactly_250k_whatever_the_number_of_links(others):
    pair = money_case(12_500_000, 14, others)
    assert pair["value_at_risk"] == 250_000.0
    assert pair["escalation_level"] == 3


@st.composite
def weekly_amounts_near_the_threshold(draw: st.DrawFn) -> tuple[int, int, int]:
    """(cents a week, days late, other links): often within a few cents of 250,000 over the days."""
    days = draw(st.integers(1, 150))
    at_threshold = -(-25_000_000 * 7 // days)  # the fewest cents a week reaching 250,000.00
    cents = draw(
        st.one_of(
            st.integers(at_threshold - 3, at_threshold + 3),
            st.integers(0, 100_000_000_000),  # anything up to 10**9 a week
        )
    )
    return max(cents, 0), days, draw(st.integers(0, 4))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(weekly_amounts_near_the_threshold())
def test_value_at_risk_is_exact_to_the_cent_and_the_threshold_compares_cents(case):
    cents, days, others = case
    pair = money_case(cents, days, others)
    # exact arithmetic: cents * days / 7, rounded to a whole cent (no ties: 7 is odd)
    exact = Fraction(cents * days, 7)
    expected_cents = int(exact + Fraction(1, 2))
    assert pair["value_at_risk"] == expected_cents / 100
    assert (pair["escalation_level"] == 3) == (expected_cents >= 25_000_000)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    portfolios(),
    st.data(),
    st.sampled_from([0.0, 100.0, 25_000.0, 250_000.0]),
)
def test_escalation_on_row_positions_is_the_escalation_on_gathered_columns(p, data, threshold):
    """The engine's positional escalation gives what the column rule gives, for any previous
    status, finding flag and threshold (nulls included)."""
    base = compute(p)
    n = base.milestones.height
    statuses = st.sampled_from([None, "Green", "Amber", "Red", "Complete"])
    milestones = base.milestones.with_columns(
        pl.Series("previous_status", data.draw(st.lists(statuses, min_size=n, max_size=n)), dtype=pl.String),
        pl.Series("has_finding", data.draw(st.lists(st.booleans(), min_size=n, max_size=n))),
    )
    kpis = base.kpis.with_columns(
        pl.Series(
            "objective_owner",
            data.draw(st.lists(st.sampled_from([None, "Oona"]), min_size=base.kpis.height, max_size=base.kpis.height)),
            dtype=pl.String,
        )
    )
    refs = resolve(p)
    known, (m, k) = refs.resolvable_links(p.links)
    links = known.with_columns(base.links["value_at_risk"])
    chosen = Settings(escalation_value=threshold)

    gathered = links.with_columns(
        *milestones.select("computed_status", "previous_status", "has_finding", "project_owner")[m],
        *kpis.select("misses", pl.col("owner").alias("kpi_owner"), "objective_owner")[k],
    )
    expected = pair_escalation(gathered, chosen).select(ESCALATION)

    assert_frame_equal(pair_escalation_at(links, (m, k), milestones, kpis, chosen).select(ESCALATION), expected)
