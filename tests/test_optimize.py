"""The best set of workarounds for a budget (DOMAIN.md section 7 rule 1): exact, checked against brute force."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date

import polars as pl
import pytest
from builders import fleet_portfolio, frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi_engine.core.errors import InputError
from kpi_engine.whatif.optimize import MAX_CELLS, best_workarounds, candidate_values, optimize
from kpi_engine.whatif.scenarios import Workaround, run_scenario

FLEET_CANDIDATES = [
    {"milestone_id": "M1", "name": "Vendor war room", "start_date": date(2026, 8, 31), "cost": 50_000, "fraction": 0.6},
    {"milestone_id": "M1", "name": "Second vendor", "start_date": date(2026, 8, 31), "cost": 150_000, "fraction": 0.9},
    {"milestone_id": "M3", "name": "Overtime", "start_date": date(2026, 9, 1), "cost": 20_000, "fraction": 0.5},
    {"milestone_id": "M3", "name": "Gold plating", "start_date": date(2026, 9, 1), "cost": 90_000, "fraction": 0.1},
]


@pytest.fixture(scope="module")
def fleet():
    return replace(fleet_portfolio(), mitigations=frame("mitigations", FLEET_CANDIDATES))


def values(rows: list[tuple[str, float, float]]) -> pl.DataFrame:
    """Candidates as (milestone_id, cost, net_value); recovered = cost + net."""
    return pl.DataFrame(
        {
            "milestone_id": [m for m, _, _ in rows],
            "name": [f"c{i}" for i in range(len(rows))],
            "cost": [float(c) for _, c, _ in rows],
            "recovered_value": [float(c + n) for _, c, n in rows],
            "net_value": [float(n) for _, _, n in rows],
        },
        schema={
            "milestone_id": pl.String,
            "name": pl.String,
            "cost": pl.Float64,
            "recovered_value": pl.Float64,
            "net_value": pl.Float64,
        },
    )


def brute_force(rows: list[tuple[str, float, float]], budget: float) -> tuple[float, float]:
    """(best total net, lowest total cost reaching it) over every choice of at most one per milestone."""
    by_milestone: dict[str, list[tuple[float, float]]] = {}
    for m, c, n in rows:
        by_milestone.setdefault(m, []).append((c, n))
    options = [[(0.0, 0.0), *group] for group in by_milestone.values()]
    best = (0.0, 0.0)
    for combo in itertools.product(*options):
        cost = sum(c for c, _ in combo)
        net = sum(n for _, n in combo)
        if cost <= budget + 1e-9 and (net > best[0] + 1e-9 or (abs(net - best[0]) <= 1e-9 and cost < best[1])):
            best = (net, cost)
    return best


# ---------------------------------------------------------------------- the worked example
def test_m1_war_room_is_valued_as_the_whatif_workaround(fleet):
    table = candidate_values(fleet)
    row = table.filter(pl.col("name") == "Vendor war room").row(0, named=True)
    whatif = run_scenario(fleet_portfolio(), _scenario(Workaround("M1", date(2026, 8, 31), 50_000, 0.6)))
    assert row["recovered_value"] == pytest.approx(whatif.mitigations["recovered_value"][0], abs=0.01)
    assert row["recovered_value"] == pytest.approx(240_000, abs=1)
    assert row["net_value"] == pytest.approx(190_000, abs=1)


def _scenario(*changes):
    from kpi_engine.whatif.scenarios import Scenario

    return Scenario("one", changes)


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        pytest.param(0, [], id="no-budget-chooses-nothing"),
        pytest.param(19_999, [], id="below-the-cheapest-useful"),
        pytest.param(50_000, ["Vendor war room"], id="war-room-alone"),
        pytest.param(70_000, ["Vendor war room", "Overtime"], id="war-room-and-overtime"),
        pytest.param(200_000, ["Second vendor", "Overtime"], id="second-vendor-beats-war-room"),
        pytest.param(10_000_000, ["Second vendor", "Overtime"], id="gold-plating-never-pays"),
    ],
)
def test_best_set_of_the_worked_example(fleet, budget, expected):
    optimum = optimize(fleet, budget)
    assert optimum.chosen["name"].to_list() == expected
    assert optimum.total_cost <= budget
    assert optimum.total_net == pytest.approx(optimum.total_recovered - optimum.total_cost, abs=0.011)


def test_frontier_rises_with_the_budget_and_ends_where_more_buys_nothing(fleet):
    frontier = optimize(fleet, 60_000).frontier
    assert frontier["budget"].to_list() == [0, 20_000, 50_000, 70_000, 150_000, 170_000]
    assert frontier["total_net"].is_sorted()
    assert frontier["total_net"][-1] == pytest.approx(optimize(fleet, 1e9).total_net)


def test_chosen_set_becomes_a_whatif_of_workarounds(fleet):
    scenario = optimize(fleet, 70_000).to_scenario("Best use of 70,000", fleet.as_of)
    result = run_scenario(fleet, scenario)
    assert result.mitigations["milestone_id"].to_list() == ["M1", "M3"]
    assert float(result.mitigations["net_value"].sum()) == pytest.approx(optimize(fleet, 70_000).total_net, abs=0.02)


def test_candidate_of_a_finished_milestone_recovers_nothing(fleet):
    done = fleet.milestones.with_columns(
        pl.when(pl.col("milestone_id") == "M1")
        .then(date(2026, 6, 1))
        .otherwise(pl.col("actual_finish"))
        .alias("actual_finish")
    )
    table = candidate_values(replace(fleet, milestones=done))
    assert table.filter(pl.col("milestone_id") == "M1")["recovered_value"].to_list() == [0.0, 0.0]


@pytest.mark.parametrize("budget", [-1, float("nan"), "lots", float("inf")])
def test_budget_that_is_negative_or_not_a_number_is_refused(budget):
    with pytest.raises(InputError, match="the budget must be a number of at least 0"):
        best_workarounds(values([("M1", 10, 5)]), budget)


# ---------------------------------------------------------------------- rules
def test_equal_totals_take_the_lower_cost():
    optimum = best_workarounds(values([("A", 30, 10), ("A", 10, 10)]), 40)
    assert optimum.chosen["name"].to_list() == ["c1"]
    assert (optimum.total_net, optimum.total_cost) == (10, 10)


def test_candidates_without_positive_net_are_never_chosen():
    optimum = best_workarounds(values([("A", 0, 0), ("B", 5, -1), ("C", 0, 0.001)]), 100)
    assert optimum.chosen.height == 0


def test_costs_too_fine_for_the_grid_are_rounded_up_and_never_exceed_the_budget():
    rows = [(f"M{i}", 1_000_000 + i * 0.37, 10.0 + i) for i in range(50)]
    optimum = best_workarounds(values(rows), 10_000_000.0)
    assert not optimum.exact and optimum.step > 0.01
    assert optimum.total_cost <= 10_000_000
    assert optimum.chosen.height == 9  # ten would cost 10,000,000 + cents
    assert MAX_CELLS >= 1000


candidate_rows = st.lists(
    st.tuples(
        st.sampled_from(["M1", "M2", "M3", "M4", "M5"]),
        st.integers(0, 40).map(lambda c: c * 250.0),
        st.integers(-5, 30).map(lambda n: n * 100.0),
    ),
    max_size=9,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=candidate_rows, budget=st.integers(0, 40).map(lambda b: b * 250.0))
def test_matches_brute_force_on_small_random_cases(rows, budget):
    optimum = best_workarounds(values(rows), budget)
    best_net, best_cost = brute_force(rows, budget)
    assert optimum.total_net == pytest.approx(best_net)
    assert optimum.total_cost == pytest.approx(best_cost)
    assert optimum.chosen["milestone_id"].is_unique().all()
    assert float(optimum.chosen["net_value"].sum()) == pytest.approx(best_net)
    # the frontier at this budget is the best total
    reached = optimum.frontier.filter(pl.col("budget") <= budget)["total_net"]
    assert reached[-1] == pytest.approx(best_net)
