"""The worked example of DOMAIN.md section 5, figure by figure."""

from __future__ import annotations

from datetime import date

import pytest
from builders import fleet_portfolio

from kpi_engine.engine.compute import EngineResult, compute


@pytest.fixture(scope="module")
def result() -> EngineResult:
    return compute(fleet_portfolio())


def test_m1_finishes_with_its_vendor_task_and_is_a_red_watermelon(result):
    m1 = result.milestone("M1")
    assert (m1["computed_finish"], m1["slip_days"], m1["computed_status"], m1["watermelon"]) == (
        date(2026, 9, 21),
        21,
        "Red",
        True,
    )


def test_m1_link_loses_part_of_the_ramp_and_400k(result):
    link = result.link("M1", "K-CPM")
    assert link["kpi_impact"] == pytest.approx(-0.1 * (1 - 9 / 28))
    assert round(link["kpi_impact"], 4) == -0.0679
    assert link["value_at_risk"] == pytest.approx(400_000, abs=1)


def test_cost_per_mile_misses_its_target(result):
    kpi = result.kpi("K-CPM")
    assert kpi["projected"] == pytest.approx(2.0179, abs=1e-4)
    assert kpi["target_value"] == 1.95
    assert kpi["shortfall"] == pytest.approx(0.0679, abs=1e-4)
    assert kpi["misses"] is True


def test_m1_escalates_to_the_objective_owner(result):
    m1 = result.milestone("M1")
    assert (m1["escalation_level"], m1["escalate_to"]) == (3, "Dana Whitfield")


def test_m3_follows_m1_by_lag_and_duration(result):
    m3 = result.milestone("M3")
    assert (m3["computed_finish"], m3["slip_days"], m3["computed_status"], m3["watermelon"]) == (
        date(2026, 10, 21),
        21,
        "Red",
        True,
    )


def test_m3_loses_60k_while_on_time_delivery_still_meets(result):
    assert result.link("M3", "K-OTD")["value_at_risk"] == pytest.approx(60_000)
    otd = result.kpi("K-OTD")
    assert otd["projected"] == pytest.approx(95.0)
    assert otd["misses"] is False


def test_idle_hours_stays_at_baseline_and_is_driven_by_no_work(result):
    idle = result.kpi("K-IDLE")
    assert (idle["projected"], idle["target_value"], idle["misses"]) == (6.0, 5.0, True)
    findings = result.governance.filter(result.governance["kpi_id"] == "K-IDLE")["finding"].to_list()
    assert findings == ["no work drives this KPI"]


def test_governance_names_two_owners_and_a_milestone_tied_to_nothing(result):
    findings = {(r["subject_id"], r["finding"]) for r in result.governance.iter_rows(named=True)}
    assert findings == {("M5", "several owners"), ("M6", "not tied to any KPI"), ("K-IDLE", "no work drives this KPI")}


def test_five_exception_rows_in_the_documented_order(result):
    rows = result.exceptions.select("kind", "milestone_id", "kpi_id").rows()
    assert rows == [
        ("milestone", "M1", "K-CPM"),
        ("milestone", "M3", "K-OTD"),
        ("governance", "M5", None),
        ("governance", "M6", None),
        ("governance", None, "K-IDLE"),
    ]


def test_top_exception_explains_the_causal_chain_in_one_sentence(result):
    why = result.exceptions["why"][0]
    assert why == (
        "Routing software go-live (Fleet routing optimization, Priya Raman) now finishes 2026-09-21, "
        "21 days late, reported Green; Cost per mile reaches 2.018 USD/mile by 2026-09-30 against a "
        "target of 1.950; 400,000 USD of value is lost this period. Dana Whitfield (objective owner) must act."
    )
