"""What-if scenarios (DOMAIN.md section 4): golden rows of the worked example, rules, invariants."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from builders import fleet_portfolio, kpi, milestone, portfolio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from strategies import open_milestones, portfolios

from kpi_engine.core.errors import OutOfRangeError, ScenarioError
from kpi_engine.core.money import round_cents
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.engine.compute import EngineResult, compute
from kpi_engine.engine.schedule import prepare_schedule
from kpi_engine.store import Store
from kpi_engine.whatif.scenarios import (
    Scenario,
    SetFinish,
    Slip,
    SlipProject,
    Workaround,
    compare_scenarios,
    escalation_rises,
    kpi_differences,
    run_scenario,
)

REPO = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORKAROUND = Workaround("M1", date(2026, 8, 31), 50_000, 0.6)


@pytest.fixture(scope="module")
def fleet():
    return fleet_portfolio()


@pytest.fixture(scope="module")
def fleet_base(fleet) -> EngineResult:
    return compute(fleet)


@pytest.fixture(scope="module")
def two_weeks(fleet, fleet_base):
    return run_scenario(fleet, Scenario("Vendor two weeks later", (Slip("M1", 14),)), base=fleet_base)


# ---------------------------------------------------------------------- golden rows (DOMAIN.md section 5)
def test_m1_slipping_14_more_days_moves_m1_and_m3(two_weeks):
    moved = two_weeks.moved.select("milestone_id", "before", "after", "moved_days", "is_direct")
    expected = pl.DataFrame(
        {
            "milestone_id": ["M1", "M3"],
            "before": [date(2026, 9, 21), date(2026, 10, 21)],
            "after": [date(2026, 10, 5), date(2026, 11, 4)],
            "moved_days": [14, 14],
            "is_direct": [True, False],
        }
    )
    assert_frame_equal(moved, expected)
    assert two_weeks.scenario.milestone("M1")["computed_finish"] == date(2026, 10, 5)
    assert two_weeks.scenario.milestone("M3")["computed_finish"] == date(2026, 11, 4)


def test_m1_slipping_leaves_nothing_of_cost_per_mile_ramped_in_by_its_target(two_weeks):
    cpm = two_weeks.kpi_diff.filter(pl.col("kpi_id") == "K-CPM").row(0, named=True)
    assert cpm["projected_before"] == pytest.approx(2.0179, abs=1e-4)
    assert cpm["projected_after"] == pytest.approx(2.05)
    assert cpm["shortfall_after"] == pytest.approx(0.10)
    assert two_weeks.scenario.kpi("K-CPM")["projected"] == pytest.approx(2.05)


def test_m1_slipping_puts_31_days_of_value_at_risk(two_weeks):
    assert two_weeks.scenario.link("M1", "K-CPM")["value_at_risk"] == pytest.approx(590_476, abs=1)
    assert two_weeks.scenario.milestone("M1")["value_at_risk"] == pytest.approx(590_476, abs=1)
    # M3 loses 14 more days of 20,000 a week: 60,000 -> 100,000
    assert two_weeks.value_at_risk_total_after - two_weeks.value_at_risk_total_before == pytest.approx(
        190_476.19 + 40_000, abs=1
    )


def test_workaround_for_m1_recovers_240k_for_50k(fleet, fleet_base):
    result = run_scenario(fleet, Scenario("Workaround", (WORKAROUND,)), base=fleet_base)
    row = result.mitigations.row(0, named=True)
    assert row["recovered_value"] == pytest.approx(240_000, abs=1)
    assert row["net_value"] == pytest.approx(190_000, abs=1)
    assert row["net_value"] == row["recovered_value"] - row["cost"]
    # 0.6 x 133,333.33 / 7 = 11,428.57 a day of slip: 50,000 is covered on the fifth day
    assert row["break_even_days"] == 5
    assert result.moved.height == 0
    assert result.value_at_risk_total_net == pytest.approx(result.value_at_risk_total_before - 240_000, abs=1)


def test_workaround_on_a_slipped_milestone_counts_the_days_inside_the_period(fleet, fleet_base):
    result = run_scenario(fleet, Scenario("Both", (Slip("M1", 14), WORKAROUND)), base=fleet_base)
    assert result.mitigations["recovered_value"][0] == pytest.approx(0.6 * 590_476, abs=1)


# ---------------------------------------------------------------------- break-even and recovery rules
@pytest.mark.parametrize(
    ("start", "cost", "recovered", "break_even"),
    [
        pytest.param(date(2026, 8, 31), 0.0, 240_000, 0, id="free-workaround-pays-at-once"),
        pytest.param(date(2026, 9, 14), 50_000, 0.6 * 133_333.33 / 7 * 7, 14 + 5, id="late-start-counts-from-start"),
        pytest.param(date(2026, 8, 31), 400_000, 240_000, None, id="cost-above-whole-period-never-pays"),
        pytest.param(date(2026, 10, 1), 1.0, 0.0, None, id="starting-after-the-target-recovers-nothing"),
    ],
)
def test_recovery_and_break_even(fleet, fleet_base, start, cost, recovered, break_even):
    result = run_scenario(fleet, Scenario("w", (Workaround("M1", start, cost, 0.6),)), base=fleet_base)
    row = result.mitigations.row(0, named=True)
    assert row["recovered_value"] == pytest.approx(recovered, abs=1)
    assert row["break_even_days"] == break_even


def test_break_even_crosses_kinks_of_several_links():
    # Two links: 7,000 a week from the baseline finish to 2026-09-30, 14,000 a week to 2026-12-31.
    p = portfolio(
        as_of=date(2026, 6, 1),
        milestones=[milestone("A", date(2026, 9, 1), forecast_finish=date(2026, 9, 11))],
        kpis=[kpi("K1", target_date=date(2026, 9, 30)), kpi("K2", target_date=date(2026, 12, 31))],
        links=[
            {"milestone_id": "A", "kpi_id": "K1", "value_per_week": 7_000.0},
            {"milestone_id": "A", "kpi_id": "K2", "value_per_week": 14_000.0},
        ],
    )
    # 3,000 a day while both count (30 days to 09-30 = 90,000), then 2,000 a day
    result = run_scenario(p, Scenario("w", (Workaround("A", date(2026, 9, 1), 100_000, 1.0),)))
    row = result.mitigations.row(0, named=True)
    assert row["recovered_value"] == pytest.approx(30_000)
    assert row["break_even_days"] == 35


# ---------------------------------------------------------------------- other changes
def test_project_slip_moves_its_open_milestones_and_their_successors(fleet, fleet_base):
    result = run_scenario(fleet, Scenario("Route late", (SlipProject("P-ROUTE", 7),)), base=fleet_base)
    assert result.moved.select("milestone_id", "moved_days", "is_direct").rows() == [("M1", 7, True), ("M3", 7, False)]


def test_set_finish_pulls_m1_in_and_m3_follows(fleet, fleet_base):
    result = run_scenario(fleet, Scenario("Vendor on time", (SetFinish("M1", date(2026, 9, 1)),)), base=fleet_base)
    after = dict(result.moved.select("milestone_id", "after").rows())
    assert after == {"M1": date(2026, 9, 1), "M3": date(2026, 10, 1)}
    assert result.value_at_risk_total_after < result.value_at_risk_total_before


def test_a_slip_that_makes_a_kpi_miss_raises_escalations(fleet, fleet_base):
    # M3 finishing after 2026-12-31 loses the whole 3.0 points: on-time delivery drops to 92 and misses
    result = run_scenario(fleet, Scenario("Driver app slips", (Slip("M3", 80),)), base=fleet_base)
    otd = result.kpi_diff.filter(pl.col("kpi_id") == "K-OTD").row(0, named=True)
    assert (otd["misses_before"], otd["misses_after"]) == (False, True)
    rises = result.escalations.filter(pl.col("milestone_id") == "M3").row(0, named=True)
    assert (rises["kpi_id"], rises["escalation_level_before"], rises["escalation_level_after"]) == ("K-OTD", 2, 3)
    assert rises["escalate_to_after"] == "Marco Bellini"


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(Slip("M9", 3), "there is no milestone 'M9' in the snapshot of 2026-06-15", id="unknown-milestone"),
        pytest.param(
            SlipProject("P-X", 3), "there is no project 'P-X' in the snapshot of 2026-06-15", id="unknown-project"
        ),
        pytest.param(
            Slip("M2", 3),
            "milestone 'M2' (Telematics retrofit complete) finished on 2026-05-29; a finished milestone cannot slip",
            id="slip-finished-milestone",
        ),
        pytest.param(SlipProject("P-TELE", 3), "project 'P-TELE' has no open milestones", id="slip-finished-project"),
        pytest.param(
            Slip("M1", -3),
            "cannot be negative (got -3 days); to bring a milestone forward, set its finish",
            id="negative-slip",
        ),
        pytest.param(
            Workaround("M1", date(2026, 8, 31), 1.0, 1.5),
            "must recover a fraction between 0 and 1, got 1.5",
            id="fraction-above-one",
        ),
        pytest.param(
            Workaround("M1", date(2026, 8, 31), -5.0, 0.5), "cannot have a negative cost, got -5.0", id="negative-cost"
        ),
        pytest.param(
            Workaround("M1", date(2026, 6, 1), 1.0, 0.5),
            "cannot start on 2026-06-01, before the snapshot",
            id="workaround-in-the-past",
        ),
        pytest.param(
            Workaround("M4", date(2026, 8, 31), 1.0, 0.5),
            "a workaround has nothing left to recover",
            id="workaround-on-finished-milestone",
        ),
        pytest.param(
            SetFinish("M1", date(2026, 6, 1)),
            "cannot be set to finish on 2026-06-01, before the snapshot",
            id="set-finish-in-the-past",
        ),
        pytest.param(
            Slip("M1", 3651),
            "the slip of milestone 'M1' can be at most 3,650 days (ten years), got 3,651",
            id="slip-over-ten-years",
        ),
        pytest.param(
            SlipProject("P-ROUTE", 10**12),
            "the slip of project 'P-ROUTE' can be at most 3,650 days",
            id="project-slip-1e12",
        ),
        pytest.param(
            SetFinish("M1", date(9999, 12, 31)),
            "the finish set for milestone 'M1' must fall between 1900-01-01 and 2199-12-31, got 9999-12-31",
            id="set-finish-placeholder",
        ),
        pytest.param(
            Workaround("M1", date(2026, 8, 31), 1e308, 0.5),
            "can cost at most 1,000,000,000,000",
            id="workaround-cost-1e308",
        ),
        pytest.param(
            Workaround("M1", date(2300, 1, 1), 1.0, 0.5),
            "must fall between 1900-01-01 and 2199-12-31, got 2300-01-01",
            id="workaround-start-past-2199",
        ),
    ],
)
def test_a_scenario_that_does_not_fit_the_snapshot_is_refused(fleet, fleet_base, change, message):
    with pytest.raises(ScenarioError, match=r"^scenario 'Bad': ") as err:
        run_scenario(fleet, Scenario("Bad", (change,)), base=fleet_base)
    assert message in str(err.value)


def test_two_workarounds_for_one_milestone_are_refused(fleet, fleet_base):
    with pytest.raises(ScenarioError, match=r"milestone 'M1' .* has two workarounds"):
        run_scenario(fleet, Scenario("Bad", (WORKAROUND, WORKAROUND)), base=fleet_base)


# ---------------------------------------------------------------------- specs: saving, reading, parsing
def test_spec_round_trips_through_json_and_the_store(tmp_path):
    scenario = Scenario(
        "Plan B", (Slip("M1", 14), SetFinish("M3", date(2026, 11, 1)), SlipProject("P-DRV", 3), WORKAROUND)
    )
    text = json.dumps(scenario.to_dict())
    assert Scenario.from_dict(json.loads(text)) == scenario
    with Store.open(tmp_path / "kpi.duckdb") as store:
        scenario_id = store.save_scenario(scenario.name, scenario.to_dict(), None, author="Pat")
        store.rename_scenario(scenario_id, "Plan C")
        loaded = store.load_scenario(scenario_id)
    assert Scenario.from_dict(loaded["spec"], name=loaded["name"]) == Scenario("Plan C", scenario.changes)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"changes": [{"kind": "delay", "milestone_id": "M1"}]},
            "unknown kind of scenario change 'delay'",
            id="unknown-kind",
        ),
        pytest.param(
            {"changes": [{"kind": "slip", "milestone_id": "M1"}]}, "a 'slip' change needs days", id="missing-field"
        ),
        pytest.param(
            {"changes": [{"kind": "slip", "milestone_id": "M1", "days": 1.5}]},
            "whole number of days",
            id="fractional-days",
        ),
        pytest.param(
            {"changes": [{"kind": "set_finish", "milestone_id": "M1", "finish": "31/08/2026"}]},
            "must be a date written YYYY-MM-DD",
            id="bad-date",
        ),
        pytest.param({"changes": "M1=14"}, "must be a list", id="changes-not-a-list"),
        pytest.param(
            {"changes": [{"kind": "slip", "milestone_id": "M1", "days": 1e300}]},
            "can be at most 3,650 days",
            id="days-1e300",
        ),
        pytest.param(
            {"changes": [{"kind": "slip", "milestone_id": "M1", "days": float("inf")}]},
            "whole number of days",
            id="days-infinite",
        ),
        pytest.param(
            {"changes": [{"kind": "set_finish", "milestone_id": "M1", "finish": "9999-12-31"}]},
            "must fall between 1900-01-01 and 2199-12-31",
            id="placeholder-date",
        ),
    ],
)
def test_malformed_specs_are_refused(spec, message):
    with pytest.raises(ScenarioError, match=message):
        Scenario.from_dict(spec)


def test_slips_that_push_a_finish_past_any_calendar_are_refused():
    """Each slip is within its range, but a thousand of them down one chain add up past 9999-12-31."""
    chain = [milestone(f"M{i}", date(2026, 8, 1)) for i in range(1000)]
    dependencies = [{"predecessor_id": f"M{i}", "successor_id": f"M{i + 1}"} for i in range(999)]
    p = portfolio(milestones=chain, dependencies=dependencies)
    with pytest.raises(OutOfRangeError, match=r"milestone 'M\d+' would finish after 9999-12-31"):
        run_scenario(p, Scenario("Everything late", (SlipProject("P", 3650),)))


# ---------------------------------------------------------------------- comparing
def test_compare_puts_scenarios_side_by_side(fleet, fleet_base, two_weeks):
    workaround = run_scenario(fleet, Scenario("Workaround", (WORKAROUND,)), base=fleet_base)
    same_name = run_scenario(fleet, Scenario("Workaround", (Slip("M5", 1),)), base=fleet_base)
    table = compare_scenarios([two_weeks, workaround, same_name])
    assert table.columns == [
        "figure",
        "kpi_id",
        "unit",
        "baseline",
        "Vendor two weeks later",
        "Workaround",
        "Workaround (2)",
    ]
    figures = {(f, k): row for f, k, *row in table.drop("unit").rows()}
    assert figures[("value at risk", None)][:2] == pytest.approx([460_000, 690_476], abs=1)
    assert figures[("net value of workarounds", None)][2] == pytest.approx(190_000, abs=1)
    assert figures[("milestones moved", None)] == [0, 2, 0, 1]
    assert figures[("projected", "K-CPM")][:2] == pytest.approx([2.0179, 2.05], abs=1e-4)


def test_compare_takes_two_to_four_scenarios_of_one_snapshot(fleet, fleet_base, two_weeks):
    with pytest.raises(ScenarioError, match="between two and 4 scenarios"):
        compare_scenarios([two_weeks])
    with pytest.raises(ScenarioError, match="between two and 4 scenarios"):
        compare_scenarios([two_weeks] * 5)
    later = run_scenario(fleet_portfolio_as_of(date(2026, 6, 22)), Scenario("A week later"))
    with pytest.raises(ScenarioError, match="on different snapshots"):
        compare_scenarios([two_weeks, later])


def fleet_portfolio_as_of(as_of: date) -> Portfolio:
    return Portfolio.from_tables(fleet_portfolio().tables(), as_of)


# ---------------------------------------------------------------------- invariants
def _full_differences(result) -> tuple[pl.DataFrame, pl.DataFrame, float]:
    """The differences recomputed from the complete scenario result (the slow, obvious way)."""
    base, full = result.baseline, result.scenario
    links = base.portfolio.links
    lonely = full.milestones.filter(~pl.col("milestone_id").is_in(links["milestone_id"].implode()))
    return (
        kpi_differences(base.kpis, full.kpis),
        escalation_rises(base, full.milestones["milestone_id"], full.links, lonely, links),
        full.value_at_risk_total,
    )


@st.composite
def scenarios_on(draw: st.DrawFn) -> tuple:
    p = draw(portfolios())
    candidates = open_milestones(p)
    changes = []
    if candidates:
        for mid in draw(st.lists(st.sampled_from(candidates), max_size=2, unique=True)):
            changes.append(Slip(mid, draw(st.integers(0, 120))))
        if draw(st.booleans()):
            mid = draw(st.sampled_from(candidates))
            changes.append(SetFinish(mid, p.as_of + timedelta(days=draw(st.integers(0, 200)))))
        if draw(st.booleans()):
            project = p.milestones.filter(pl.col("milestone_id") == draw(st.sampled_from(candidates)))["project_id"]
            changes.append(SlipProject(project.item(), draw(st.integers(0, 60))))
        if draw(st.booleans()):
            mid = draw(st.sampled_from(candidates))
            changes.append(
                Workaround(mid, p.as_of, float(draw(st.integers(0, 10)) * 10_000), draw(st.integers(0, 4)) / 4)
            )
    return p, Scenario("random", tuple(changes))


@FAST
@given(scenarios_on())
def test_quick_differences_equal_those_of_the_complete_recomputation(case):
    p, scenario = case
    result = run_scenario(p, scenario)
    kpi_diff, escalations, total = _full_differences(result)
    assert_frame_equal(result.kpi_diff, kpi_diff)
    assert_frame_equal(result.escalations, escalations)
    assert result.value_at_risk_total_after == pytest.approx(total, rel=1e-9, abs=1e-6)
    moved = set(
        result.scenario.milestones.join(
            result.baseline.milestones.select("milestone_id", pl.col("computed_finish").alias("_before")),
            on="milestone_id",
        )
        .filter(pl.col("computed_finish") != pl.col("_before"))["milestone_id"]
        .to_list()
    )
    assert set(result.moved["milestone_id"].to_list()) == moved


@FAST
@given(portfolios(), st.data())
def test_a_zero_slip_changes_nothing(p, data):
    candidates = open_milestones(p)
    changes = (
        tuple(Slip(mid, 0) for mid in data.draw(st.lists(st.sampled_from(candidates), unique=True)))
        if candidates
        else ()
    )
    result = run_scenario(p, Scenario("zero", changes))
    assert result.moved.height == 0 and result.escalations.height == 0
    assert result.value_at_risk_total_after == result.value_at_risk_total_before
    assert_frame_equal(
        result.kpi_diff.select(pl.col("projected_after").alias("p")),
        result.kpi_diff.select(pl.col("projected_before").alias("p")),
    )
    sort = ["milestone_id"]
    assert_frame_equal(result.scenario.milestones.sort(sort), result.baseline.milestones.sort(sort))
    assert_frame_equal(result.scenario.exceptions.drop("new"), result.baseline.exceptions.drop("new"))


@FAST
@given(portfolios(), st.data())
def test_a_larger_slip_never_reduces_value_at_risk(p, data):
    candidates = open_milestones(p)
    if not candidates:
        return
    schedule = prepare_schedule(p)
    base = compute(p)
    mid = data.draw(st.sampled_from(candidates))
    days = sorted(data.draw(st.lists(st.integers(0, 200), min_size=2, max_size=4)))
    totals = [
        run_scenario(p, Scenario("s", (Slip(mid, d),)), base=base, schedule=schedule).value_at_risk_total_after
        for d in days
    ]
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(totals))


@FAST
@given(scenarios_on())
def test_a_workaround_nets_recovered_value_minus_cost_and_never_recovers_more_than_is_at_risk(case):
    p, scenario = case
    result = run_scenario(p, scenario)
    for row in result.mitigations.iter_rows(named=True):
        # money is to the cent: the net is the difference rounded to cents
        assert row["net_value"] == round_cents(row["recovered_value"] - row["cost"])
        at_risk = result.scenario.milestone(row["milestone_id"])["value_at_risk"]
        assert 0 <= row["recovered_value"] <= row["fraction"] * at_risk + 0.01
        if row["break_even_days"] is not None:
            assert row["break_even_days"] >= 0


def test_recomputing_reuses_the_prepared_schedule(fleet, fleet_base):
    schedule = prepare_schedule(fleet)
    first = run_scenario(fleet, Scenario("a", (Slip("M1", 14),)), base=fleet_base, schedule=schedule)
    again = run_scenario(fleet, Scenario("a", (Slip("M1", 14),)), base=fleet_base, schedule=schedule)
    assert first.schedule is schedule and again.schedule is schedule
    assert np.array_equal(first.finish, again.finish)
    assert_frame_equal(first.moved, again.moved)


# ---------------------------------------------------------------------- the whatif command (CLI.md)
@pytest.fixture(scope="module")
def fleet_db(tmp_path_factory) -> str:
    from kpi_engine import cli

    db = str(tmp_path_factory.mktemp("whatif") / "kpi.duckdb")
    csvs = sorted(str(p) for p in (REPO / "tests" / "fixtures" / "fleet").glob("*.csv"))
    assert cli.main(["ingest", *csvs, "--db", db, "--as-of", "2026-06-15"]) == 0
    return db


def test_whatif_json_holds_baseline_and_scenario(fleet_db, capsys):
    from kpi_engine import cli

    capsys.readouterr()
    assert cli.main(["whatif", "--db", fleet_db, "--slip", "M1=14", "--workaround", "M1:2026-08-31:50000:0.6"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"baseline", "scenario"}
    assert set(out["baseline"]) == {"milestones", "kpis", "value_at_risk_total"}
    assert set(out["scenario"]) == {"milestones", "kpis", "value_at_risk_total", "mitigations"}
    m1 = next(m for m in out["scenario"]["milestones"] if m["milestone_id"] == "M1")
    assert set(m1) == {"milestone_id", "computed_finish", "slip_days", "computed_status", "value_at_risk"}
    assert (m1["computed_finish"], m1["slip_days"], m1["computed_status"]) == ("2026-10-05", 35, "Red")
    assert m1["value_at_risk"] == pytest.approx(590_476, abs=1)
    m3 = next(m for m in out["scenario"]["milestones"] if m["milestone_id"] == "M3")
    assert m3["computed_finish"] == "2026-11-04"
    cpm = next(k for k in out["scenario"]["kpis"] if k["kpi_id"] == "K-CPM")
    assert set(cpm) == {"kpi_id", "name", "owner", "unit", "direction", "projected", "target", "shortfall", "misses"}
    assert cpm["projected"] == pytest.approx(2.05) and cpm["misses"] is True
    assert out["baseline"]["value_at_risk_total"] == pytest.approx(460_000, abs=1)
    (mitigation,) = out["scenario"]["mitigations"]
    assert set(mitigation) == {"milestone_id", "recovered_value", "cost", "net_value"}
    assert mitigation["recovered_value"] == pytest.approx(0.6 * 590_476, abs=1)


def test_whatif_workaround_golden_row_on_the_command_line(fleet_db, capsys):
    from kpi_engine import cli

    capsys.readouterr()
    assert cli.main(["whatif", "--db", fleet_db, "--workaround", "M1:2026-08-31:50000:0.6"]) == 0
    (mitigation,) = json.loads(capsys.readouterr().out)["scenario"]["mitigations"]
    assert mitigation["recovered_value"] == pytest.approx(240_000, abs=1)
    assert mitigation["net_value"] == pytest.approx(190_000, abs=1)


def test_whatif_table_reads_like_a_briefing(fleet_db, capsys):
    from kpi_engine import cli

    capsys.readouterr()
    assert cli.main(["whatif", "--db", fleet_db, "--slip-project", "P-ROUTE=14", "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("What-if on the snapshot of 2026-06-15: every open milestone of P-ROUTE slips 14 days.")
    assert "M3            Driver app rollout        2026-10-21     2026-11-04            14  follows" in out
    assert "Value at risk: 460,000 -> 690,476 USD (+230,476)" in out


def test_whatif_names_what_does_not_fit_and_exits_1(fleet_db, capsys):
    from kpi_engine import cli

    capsys.readouterr()
    assert cli.main(["whatif", "--db", fleet_db, "--slip", "M2=3"]) == 1
    assert capsys.readouterr().err.strip() == (
        "milestone 'M2' (Telematics retrofit complete) finished on 2026-05-29; a finished milestone cannot slip"
    )
