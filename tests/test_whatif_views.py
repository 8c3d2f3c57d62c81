"""Frames of the What-if page: choices, drafts, a scenario's figures, comparisons, simulation summaries."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from builders import fleet_portfolio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from strategies import open_milestones, portfolios

from kpi_engine.core.portfolio import Portfolio
from kpi_engine.engine.compute import EngineResult, compute
from kpi_engine.whatif import views as wv
from kpi_engine.whatif.scenarios import (
    Scenario,
    SetFinish,
    Slip,
    SlipProject,
    Workaround,
    compare_scenarios,
    run_scenario,
)
from kpi_engine.whatif.simulation import ValueAtRiskDistribution, simulate

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORKAROUND = Workaround("M1", date(2026, 8, 31), 50_000, 0.6)


@pytest.fixture(scope="module")
def fleet() -> Portfolio:
    return fleet_portfolio()


@pytest.fixture(scope="module")
def fleet_base(fleet: Portfolio) -> EngineResult:
    return compute(fleet)


def run(fleet: Portfolio, base: EngineResult, *changes: object, name: str = "test"):
    return run_scenario(fleet, Scenario(name, tuple(changes)), base=base)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- choices
def test_milestone_choices_offer_open_milestones_most_value_at_risk_first(fleet_base):
    choices = wv.milestone_choices(fleet_base.milestones)
    assert choices.row(0, named=True)["label"] == "M1 · Routing software go-live"
    finished = fleet_base.milestones.filter(pl.col("actual_finish").is_not_null())["milestone_id"].to_list()
    assert finished and not set(finished) & set(choices["milestone_id"].to_list())
    assert choices["value_at_risk"].to_list() == sorted(choices["value_at_risk"].to_list(), reverse=True)


def test_project_choices_count_open_milestones(fleet_base):
    choices = wv.project_choices(fleet_base.milestones)
    route = choices.filter(pl.col("project_id") == "P-ROUTE").row(0, named=True)
    assert route["label"] == "P-ROUTE · Fleet routing optimization (1 open milestone)"
    assert route["open_milestones"] == 1
    assert "P-TELE" not in choices["project_id"].to_list()  # its only milestone has finished


# ---------------------------------------------------------------------------- the draft
def test_a_draft_becomes_a_scenario_without_its_zero_day_slips():
    draft = wv.ScenarioDraft(
        slips=(("M1", 14), ("M3", 0)),
        project_slips=(("P-DRV", 7),),
        set_finishes=(("M5", date(2026, 9, 1)),),
        workarounds=(("M1", date(2026, 8, 31), 50_000.0, 0.6),),
    )
    assert draft.to_scenario("Vendor late") == Scenario(
        "Vendor late", (Slip("M1", 14), SlipProject("P-DRV", 7), SetFinish("M5", date(2026, 9, 1)), WORKAROUND)
    )
    assert draft.describe() == "M1 +14 days; project P-DRV +7 days; M5 finishes 2026-09-01; workaround on M1"


def test_a_draft_of_zero_day_slips_is_empty():
    assert wv.ScenarioDraft().is_empty
    assert wv.ScenarioDraft(slips=(("M1", 0),)).is_empty
    assert not wv.ScenarioDraft(workarounds=(("M1", date(2026, 8, 31), 0.0, 0.5),)).is_empty
    assert wv.ScenarioDraft().describe() == "no changes"


def test_a_saved_scenario_opens_as_a_draft_with_its_slips_added_up():
    scenario = Scenario("s", (Slip("M1", 7), Slip("M3", 3), Slip("M1", 7), WORKAROUND))
    draft = wv.ScenarioDraft.from_scenario(scenario)
    assert draft.slips == (("M1", 14), ("M3", 3))
    assert draft.workarounds == (("M1", date(2026, 8, 31), 50_000, 0.6),)


@given(
    st.lists(st.tuples(st.sampled_from(["M1", "M3", "M5"]), st.integers(1, 120)), unique_by=lambda t: t[0]),
    st.lists(st.tuples(st.sampled_from(["P-ROUTE", "P-DRV"]), st.integers(1, 120)), unique_by=lambda t: t[0]),
)
def test_a_draft_survives_the_round_trip_through_a_saved_spec(slips, project_slips):
    draft = wv.ScenarioDraft(slips=tuple(slips), project_slips=tuple(project_slips))
    spec = draft.to_scenario("x").to_dict()
    assert wv.ScenarioDraft.from_scenario(Scenario.from_dict(spec)) == draft


# ---------------------------------------------------------------------------- one scenario (worked example)
def test_summary_of_m1_slipping_14_days_with_the_workaround(fleet, fleet_base):
    result = run(fleet, fleet_base, Slip("M1", 14), WORKAROUND)
    summary = wv.summary(result)
    assert summary.value_at_risk_before == pytest.approx(fleet_base.value_at_risk_total)
    # M1 loses 190,476 more (31 days instead of 21), M3 40,000 more (14 more days)
    assert summary.value_at_risk_after - summary.value_at_risk_before == pytest.approx(190_476.19 + 40_000, abs=0.5)
    assert summary.workaround_cost == 50_000
    assert summary.net_of_workarounds == pytest.approx(summary.recovered - 50_000)
    assert summary.value_at_risk_net == pytest.approx(summary.value_at_risk_after - summary.recovered)
    assert summary.milestones_moved == 2
    assert summary.kpis_missing_before == summary.kpis_missing_after


def test_kpi_before_after_keeps_the_kpis_that_move(fleet, fleet_base):
    kpis = wv.kpi_before_after(run(fleet, fleet_base, Slip("M1", 14)).kpi_diff)
    assert kpis["kpi_id"].to_list() == ["K-CPM"]
    row = kpis.row(0, named=True)
    assert row["label"] == "K-CPM · Cost per mile (USD/mile)"
    assert row["projected_before"] == pytest.approx(2.0179, abs=1e-4)
    assert row["projected_after"] == pytest.approx(2.05)
    assert row["verdict"] == "misses by more"
    # after is the highest of the three values, target the lowest
    assert row["x_after"] == pytest.approx(0.88) and row["x_target"] == pytest.approx(0.12)
    assert 0.12 < row["x_before"] < 0.88


def test_kpi_before_after_is_empty_when_nothing_moves(fleet, fleet_base):
    assert wv.kpi_before_after(run(fleet, fleet_base, WORKAROUND).kpi_diff).height == 0


def test_moved_milestones_name_cause_dates_and_value_at_risk(fleet, fleet_base):
    moved = wv.moved_milestones(run(fleet, fleet_base, Slip("M1", 14)))
    expected = pl.DataFrame(
        {
            "milestone_id": ["M1", "M3"],
            "cause": ["scenario change", "downstream"],
            "before": [date(2026, 9, 21), date(2026, 10, 21)],
            "after": [date(2026, 10, 5), date(2026, 11, 4)],
            "moved_days": [14, 14],
            "value_at_risk_before": [400_000.0, 60_000.0],
            "value_at_risk_after": [590_476.19, 100_000.0],
        }
    )
    assert_frame_equal(moved.select(expected.columns), expected, abs_tol=0.5)


def test_waterfall_runs_from_the_changes_to_the_net_change(fleet, fleet_base):
    result = run(fleet, fleet_base, Slip("M1", 14), WORKAROUND)
    steps = wv.value_at_risk_waterfall(result)
    assert steps["step"].to_list() == [
        "M1 · Routing software go-live",
        "M3 · Driver app rollout",
        "Workaround on M1",
        "Net change",
    ]
    assert steps["kind"].to_list() == ["increase", "increase", "decrease", "total"]
    # every step starts where the one before ended; the net change matches the totals
    assert steps["start"].to_list()[1:3] == pytest.approx(steps["end"].to_list()[:2])
    net = result.value_at_risk_total_net - result.value_at_risk_total_before
    assert steps["end"][2] == pytest.approx(net)
    assert steps.row(3, named=True) == pytest.approx({**steps.row(3, named=True), "start": 0.0, "end": net})
    assert steps["amount"][2] == pytest.approx(-result.recovered_total)


def test_waterfall_sums_the_smallest_milestones_into_one_step(fleet, fleet_base):
    result = run(fleet, fleet_base, Slip("M1", 14))
    steps = wv.value_at_risk_waterfall(result, top=1)
    assert steps["step"].to_list() == ["M1 · Routing software go-live", "Other milestones (1)", "Net change"]
    assert steps["amount"][1] == pytest.approx(40_000)


def test_a_scenario_that_changes_no_value_at_risk_shows_the_two_equal_totals(fleet, fleet_base):
    # M6 is tied to no KPI: it moves, the value at risk does not
    result = run(fleet, fleet_base, Slip("M6", 14))
    assert result.moved["milestone_id"].to_list() == ["M6"]
    steps = wv.value_at_risk_waterfall(result)
    before = result.value_at_risk_total_before
    assert steps.select("step", "kind", "start", "end", "amount").rows() == [
        ("Snapshot as is", "snapshot", 0.0, before, before),
        ("This scenario", "scenario", 0.0, pytest.approx(before), pytest.approx(before)),
    ]
    assert wv.changes_nothing(steps)
    assert not any(steps[c].is_nan().any() or steps[c].null_count() for c in ("start", "end", "amount"))
    assert wv.waterfall_caption(steps, "USD") == (
        f"This scenario changes nothing: the value at risk stays at {before:,.0f} USD."
    )


def test_a_scenario_that_changes_the_value_at_risk_has_no_zero_state_caption(fleet, fleet_base):
    steps = wv.value_at_risk_waterfall(run(fleet, fleet_base, Slip("M1", 14)))
    assert not wv.changes_nothing(steps)
    assert wv.waterfall_caption(steps, "USD") is None


def test_mitigation_table_shows_the_worked_example_workaround(fleet, fleet_base):
    table = wv.mitigation_table(run(fleet, fleet_base, WORKAROUND))
    row = table.row(0, named=True)
    assert row["name"] == "Routing software go-live"
    assert row["recovered_value"] == pytest.approx(240_000, abs=0.5)
    assert row["net_value"] == pytest.approx(190_000, abs=0.5)
    assert row["verdict"] == "pays off"


@pytest.mark.parametrize(
    ("cost", "verdict"),
    [
        pytest.param(300_000, "costs more than it recovers", id="pays-off-only-if-later"),
        pytest.param(10_000_000, "never recovers its cost", id="never-pays-off"),
    ],
)
def test_mitigation_verdicts(fleet, fleet_base, cost, verdict):
    workaround = Workaround("M1", date(2026, 8, 31), cost, 0.6)
    assert wv.mitigation_table(run(fleet, fleet_base, workaround))["verdict"].to_list() == [verdict]


# ---------------------------------------------------------------------------- invariants on random portfolios
@given(portfolios(min_milestones=2, max_milestones=15), st.data())
@FAST
def test_per_milestone_value_at_risk_equals_the_complete_recomputation(portfolio, data):
    open_ids = open_milestones(portfolio)
    if not open_ids:
        return
    slipped = data.draw(st.lists(st.sampled_from(open_ids), min_size=1, max_size=3, unique=True))
    days = data.draw(st.integers(1, 60))
    result = run_scenario(portfolio, Scenario("r", tuple(Slip(m, days) for m in slipped)))
    quick = wv.milestone_value_at_risk(result)
    full = result.scenario.milestones.select("milestone_id", "value_at_risk")
    joined = quick.join(full, on="milestone_id")
    assert joined.height == result.moved.height
    assert np.allclose(joined["value_at_risk_after"].to_numpy(), joined["value_at_risk"].to_numpy())
    steps = wv.value_at_risk_waterfall(result, top=2)
    assert not any(steps[c].is_nan().any() or steps[c].null_count() for c in ("start", "end", "amount"))
    if wv.changes_nothing(steps):  # the two totals, equal to the cent
        assert steps["end"].to_list() == pytest.approx(
            [result.value_at_risk_total_before, result.value_at_risk_total_net], abs=0.01
        )
        return
    assert steps["end"][-1] == pytest.approx(
        result.value_at_risk_total_net - result.value_at_risk_total_before, abs=1e-6
    )
    assert float(steps["amount"][:-1].sum()) == pytest.approx(float(steps["end"][-1]), abs=1e-6)


# ---------------------------------------------------------------------------- comparing
def test_comparison_table_reads_as_text(fleet, fleet_base):
    two_weeks = run(fleet, fleet_base, Slip("M1", 14), name="Two weeks")
    mitigated = run(fleet, fleet_base, WORKAROUND, name="Workaround")
    names = dict(zip(fleet_base.kpis["kpi_id"].to_list(), fleet_base.kpis["name"].to_list(), strict=False))
    table = wv.comparison_table(compare_scenarios([two_weeks, mitigated]), names, "USD")
    assert table.columns == ["figure", "Snapshot as is", "Two weeks", "Workaround"]
    rows = {r["figure"]: r for r in table.iter_rows(named=True)}
    assert rows["Net value of workarounds"]["Workaround"] == "190,000 USD"
    assert rows["Milestones moved"]["Two weeks"] == "2"
    assert rows["K-CPM · Cost per mile: projected (USD/mile)"]["Two weeks"] == "2.050"
    # KPIs no scenario moves are left out
    assert not any(label.startswith("K-IDLE") for label in rows)


def test_comparison_bars_hold_the_money_figures_per_scenario(fleet, fleet_base):
    compared = compare_scenarios(
        [run(fleet, fleet_base, Slip("M1", 14), name="A"), run(fleet, fleet_base, WORKAROUND, name="B")]
    )
    bars = wv.comparison_bars(compared)
    assert bars.height == 9
    assert bars["scenario"].unique(maintain_order=True).to_list() == ["Snapshot as is", "A", "B"]
    net = bars.filter((pl.col("figure") == "Net value of workarounds") & (pl.col("scenario") == "B"))
    assert net["value"].item() == pytest.approx(190_000, abs=0.5)


def test_comparison_bars_measure_each_scenario_against_the_snapshot(fleet, fleet_base):
    """Regression: side-by-side bars on a 0-7M scale hid differences of 0.2M; the chart draws ``change``."""
    compared = compare_scenarios(
        [run(fleet, fleet_base, Slip("M1", 14), name="A"), run(fleet, fleet_base, WORKAROUND, name="B")]
    )
    bars = wv.comparison_bars(compared)
    snapshot = bars.filter(pl.col("scenario") == "Snapshot as is")
    assert snapshot["change"].to_list() == [0.0, 0.0, 0.0]
    for row in bars.iter_rows(named=True):
        before = snapshot.filter(pl.col("figure") == row["figure"])["value"].item()
        assert row["change"] == pytest.approx(row["value"] - before)
    slipped = bars.filter((pl.col("figure") == "Value at risk") & (pl.col("scenario") == "A"))
    assert slipped["change"].item() > 0


# ---------------------------------------------------------------------------- Monte Carlo summaries
def test_histogram_counts_every_run():
    totals = np.array([1.0, 2.0, 2.0, 3.0, 10.0])
    bins = wv.histogram(totals, bins=3)
    assert bins["runs"].sum() == 5
    assert bins["bin_start"][0] == 1.0 and bins["bin_end"][-1] == 10.0
    assert bins["share"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("totals", "rows"),
    [
        pytest.param(np.full(20, 400_000.0), 1, id="every-run-the-same"),
        pytest.param(np.array([]), 0, id="no-runs"),
    ],
)
def test_histogram_of_degenerate_totals(totals, rows):
    assert wv.histogram(totals).height == rows


def test_percentile_marks():
    marks = wv.percentile_marks(ValueAtRiskDistribution(np.zeros(1), 1.0, 2.0, 3.0, 1.5, 0.5))
    assert marks.rows() == [("P50", 1.0), ("P80", 2.0), ("P95", 3.0)]


def test_simulation_summaries_say_which_distribution_was_used(fleet):
    result = simulate(fleet, runs=40, seed=1, project_overrides={"P-ROUTE": (0, 7, 21)})
    counts = wv.distribution_counts(result.milestones)
    assert counts.row(0, named=True) == {"distribution": "triangular override: project", "milestones": 1, "projects": 1}
    caption = wv.distribution_caption(result.milestones)
    assert caption.startswith("Slip distribution used: your triangular range for 1 milestone of the chosen project")
    assert "default slips by duration (the reference class) for 3 milestones (too little history yet)" in caption
    plain = wv.distribution_caption(simulate(fleet, runs=5, default_slips=False).milestones)
    assert "no slip for 4 milestones (no history yet)" in plain


def test_critical_milestones_say_where_their_slips_came_from(fleet):
    result = simulate(fleet, runs=40, seed=1, overrides={"M5": (0, 1, 3)})
    critical = wv.critical_milestones(result, top=3)
    assert critical.columns == [*result.criticality.columns, "source"]
    assert critical.height == 3
    sources = dict(critical.select("milestone_id", "source").rows())
    assert sources["M1"] == "reference class: over 180 days"  # one snapshot: too little history
    assert critical["milestone_id"].to_list() == result.criticality["milestone_id"].head(3).to_list()
    fan = wv.fan(result.trajectory, result.kpis, "K-CPM")
    assert fan.columns == ["date", "p10", "p50", "p90", "target_value"]
    assert fan["target_value"].unique().to_list() == [1.95]
    assert (fan["p10"] <= fan["p90"] + 1e-12).all()
    ordered = wv.kpi_confidence(result.kpis)["p_meet"].to_list()
    assert ordered == sorted(ordered)
