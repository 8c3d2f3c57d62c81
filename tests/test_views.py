"""The read-only views the dashboard shows, on the worked example and tiny portfolios."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from builders import fleet_portfolio, kpi, milestone, portfolio
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from kpi_engine import views
from kpi_engine.engine import EngineResult, compute
from kpi_engine.errors import NotFoundError


@pytest.fixture(scope="module")
def fleet() -> EngineResult:
    return compute(fleet_portfolio())


# ------------------------------------------------------------------ exception filters


def test_no_filter_keeps_every_row_in_order(fleet):
    assert_frame_equal(views.filter_exceptions(fleet.exceptions, views.ExceptionFilter()), fleet.exceptions)


def test_watermelons_only_keeps_the_two_red_watermelons(fleet):
    rows = views.filter_exceptions(fleet.exceptions, views.ExceptionFilter(watermelons_only=True))
    assert rows.select("milestone_id", "kpi_id").rows() == [("M1", "K-CPM"), ("M3", "K-OTD")]
    assert rows["watermelon"].all()


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        pytest.param(views.ExceptionFilter(programs=("Customer Experience",)), [("M3", "K-OTD")], id="program"),
        pytest.param(views.ExceptionFilter(projects=("P-ROUTE",)), [("M1", "K-CPM")], id="project"),
        pytest.param(views.ExceptionFilter(kpis=("K-IDLE",)), [(None, "K-IDLE")], id="kpi"),
        pytest.param(views.ExceptionFilter(objectives=("O-SERVICE",)), [("M3", "K-OTD")], id="objective"),
        pytest.param(views.ExceptionFilter(escalation_levels=(3,)), [("M1", "K-CPM")], id="level"),
        pytest.param(views.ExceptionFilter(kinds=("governance",)), [("M5", None), ("M6", None), (None, "K-IDLE")],
                     id="kind"),
        pytest.param(views.ExceptionFilter(owners=("Dana Whitfield",)), [("M1", "K-CPM")], id="owner-escalated-to"),
        pytest.param(views.ExceptionFilter(owners=("Luis Ortega",)), [("M3", "K-OTD")], id="owner-of-milestone"),
        pytest.param(views.ExceptionFilter(kinds=("milestone",), programs=("Corporate",)), [], id="filters-combine"),
    ],
)
def test_each_filter_narrows_to_its_rows(fleet, chosen, expected):
    rows = views.filter_exceptions(fleet.exceptions, chosen)
    assert rows.select("milestone_id", "kpi_id").rows() == expected


def test_new_only_keeps_rows_absent_last_week():
    before = compute(fleet_portfolio())
    # a week later the same portfolio: nothing is new
    same = compute(fleet_portfolio(), previous=before)
    assert views.filter_exceptions(same.exceptions, views.ExceptionFilter(new_only=True)).height == 0
    assert views.filter_exceptions(before.exceptions, views.ExceptionFilter(new_only=True)).height == 0


def test_filter_options_offer_labelled_choices(fleet):
    options = views.filter_options(fleet.exceptions)
    assert options["projects"]["P-ROUTE"] == "Fleet routing optimization (P-ROUTE)"
    assert options["kpis"]["K-CPM"] == "Cost per mile (K-CPM)"
    assert options["escalation_levels"] == {"1": "1", "2": "2", "3": "3"}
    assert "Dana Whitfield" in options["owners"]  # an escalation target is an owner choice too
    assert set(options["kinds"]) == {"milestone", "governance"}


@settings(max_examples=30, deadline=None)
@given(
    watermelons=st.booleans(),
    levels=st.lists(st.integers(0, 3), max_size=3, unique=True),
    kinds=st.lists(st.sampled_from(["milestone", "governance"]), max_size=2, unique=True),
)
def test_filtered_rows_are_a_subset_in_the_same_order(watermelons, levels, kinds):
    result = compute(fleet_portfolio())
    chosen = views.ExceptionFilter(watermelons_only=watermelons, escalation_levels=tuple(levels), kinds=tuple(kinds))
    rows = views.filter_exceptions(result.exceptions, chosen)
    whys = result.exceptions["why"].to_list()
    positions = [whys.index(w) for w in rows["why"].to_list()]
    assert positions == sorted(positions)
    if watermelons:
        assert rows["watermelon"].all()
    if levels:
        assert set(rows["escalation_level"].to_list()) <= set(levels)


def test_exception_rows_add_progress(fleet):
    rows = views.exception_rows(fleet, views.ExceptionFilter(projects=("P-ROUTE",)))
    assert rows["percent_complete"].to_list() == [80.0]


def test_exception_labels_name_milestone_and_kpi(fleet):
    assert views.exception_label(fleet.exceptions).to_list() == [
        "M1 Routing software go-live -> Cost per mile",
        "M3 Driver app rollout -> On-time delivery rate",
        "M5: several owners",
        "M6: not tied to any KPI",
        "K-IDLE: no work drives this KPI",
    ]


# ------------------------------------------------------------------ pulse


def test_pulse_counts_of_the_worked_example(fleet):
    counts = views.pulse_counts(fleet)
    assert counts.value_at_risk == pytest.approx(460_000, abs=1)
    assert (counts.red, counts.watermelons, counts.exceptions) == (2, 2, 5)
    assert counts.top_level_escalations == 1


def test_kpi_tiles_put_misses_first_and_read_the_trend():
    now = compute(fleet_portfolio())
    earlier = now.kpis.with_columns(
        pl.when(pl.col("kpi_id") == "K-CPM").then(2.0).otherwise(pl.col("projected")).alias("projected")
    )
    tiles = views.kpi_tiles(now.kpis, earlier)
    assert tiles["kpi_id"].to_list()[:2] == ["K-IDLE", "K-CPM"]  # both miss; idle misses by 20% of target
    cpm = tiles.filter(pl.col("kpi_id") == "K-CPM").row(0, named=True)
    # cost per mile went from 2.000 to 2.018: lower is better, so it got worse
    assert cpm["change"] == pytest.approx(0.0179, abs=1e-4)
    assert (cpm["trend"], cpm["status"]) == ("worse", "Red")
    otd = tiles.filter(pl.col("kpi_id") == "K-OTD").row(0, named=True)
    assert (otd["trend"], otd["status"]) == ("unchanged", "Green")


def test_kpi_tiles_without_previous_have_no_trend(fleet):
    tiles = views.kpi_tiles(fleet.kpis)
    assert tiles["trend"].null_count() == tiles.height


def test_value_at_risk_by_program(fleet):
    frame = views.value_at_risk_by(fleet.milestones, "program")
    assert frame.select("program", "computed_status").rows() == [("Fleet Optimization", "Red"),
                                                                 ("Customer Experience", "Red")]
    assert frame["value_at_risk"].sum() == pytest.approx(460_000, abs=1)


# ------------------------------------------------------------------ heatmaps


def test_slip_heatmap_cells_by_program_and_month_due(fleet):
    cells = views.slip_heatmap(fleet.milestones, "program")
    route = cells.filter((pl.col("group") == "Fleet Optimization") & (pl.col("month") == "2026-08")).row(0, named=True)
    assert (route["milestones"], route["red"], route["max_slip_days"]) == (1, 1, 21)
    assert route["value_at_risk"] == pytest.approx(400_000, abs=1)
    assert cells["milestones"].sum() == fleet.milestones.height


def test_clicked_cells_list_their_milestones(fleet):
    rows = views.milestones_in_cells(fleet.milestones, "project", [("Driver mobile app", "2026-09")])
    assert rows["milestone_id"].to_list() == ["M3"]
    everything = views.milestones_in_cells(fleet.milestones, "project", [])
    assert everything.height == fleet.milestones.height
    assert everything["milestone_id"][0] == "M1"  # largest value at risk first


def test_kpi_program_impact_compares_kpis_by_share_of_movement_lost(fleet):
    cells = views.kpi_program_impact(fleet.links, fleet.milestones, fleet.kpis)
    cpm = cells.filter(pl.col("kpi_id") == "K-CPM").row(0, named=True)
    # M1 loses 0.0679 of the 0.15 the program planned to take off cost per mile
    assert cpm["lost_share"] == pytest.approx(0.0679 / 0.15, abs=1e-3)
    assert cpm["links"] == 3
    otd = cells.filter(pl.col("kpi_id") == "K-OTD").row(0, named=True)
    assert (otd["lost_share"], otd["value_at_risk"]) == (0.0, pytest.approx(60_000))
    rows = views.links_in_cells(fleet.links, fleet.milestones, fleet.kpis, [("K-OTD", "Customer Experience")])
    assert sorted(rows["milestone_id"].to_list()) == ["M3", "M4"]


# ------------------------------------------------------------------ KPI trajectories


def test_projected_path_ends_at_the_kpi_projection(fleet):
    path = views.kpi_trajectory(fleet, "K-CPM")
    projected = path.filter(pl.col("series") == "Projected").sort("date")
    assert projected["date"][-1] == date(2026, 9, 30)
    assert projected["value"][-1] == pytest.approx(fleet.kpi("K-CPM")["projected"])
    assert projected["date"][0] == date(2026, 5, 31)  # starts at the latest actual
    assert projected["value"][0] == pytest.approx(2.05)


def test_baseline_plan_reaches_the_target_when_everything_is_on_time(fleet):
    plan = views.kpi_trajectory(fleet, "K-CPM").filter(pl.col("series") == "Baseline plan").sort("date")
    assert plan["value"][-1] == pytest.approx(1.95)
    # the ramp of M1 (baseline 31 Aug, 28 days) is complete on 28 Sep
    assert plan.filter(pl.col("date") == date(2026, 9, 28))["value"][0] == pytest.approx(1.95)


def test_actuals_are_those_up_to_the_snapshot(fleet):
    actual = views.kpi_trajectory(fleet, "K-CPM").filter(pl.col("series") == "Actual")
    assert actual.select("date", "value").rows() == [(date(2026, 3, 31), 2.1), (date(2026, 5, 31), 2.05)]


def test_kpi_without_actuals_or_links_is_flat_from_its_baseline(fleet):
    path = views.kpi_trajectory(fleet, "K-IDLE")
    assert path.filter(pl.col("series") == "Actual").height == 0
    assert set(path["value"].to_list()) == {6.0}
    assert path["date"].min() == date(2026, 1, 1)


def test_unknown_kpi_is_not_found(fleet):
    with pytest.raises(NotFoundError, match="K-NOPE"):
        views.kpi_trajectory(fleet, "K-NOPE")


def test_kpi_drivers_in_finish_order(fleet):
    drivers = views.kpi_drivers(fleet, "K-CPM")
    assert drivers["milestone_id"].to_list() == ["M2", "M5", "M1"]
    assert drivers.filter(pl.col("milestone_id") == "M1")["value_at_risk"][0] == pytest.approx(400_000, abs=1)


# ------------------------------------------------------------------ drill-down


def test_dependencies_up_and_down_the_chain(fleet):
    down = views.milestone_dependencies(fleet, "M1")
    assert down.select("direction", "depth", "milestone_id", "lag_days").rows() == [("downstream", 1, "M3", 7)]
    up = views.milestone_dependencies(fleet, "M3")
    assert up.select("direction", "milestone_id", "computed_status").rows() == [("upstream", "M1", "Red")]
    assert views.milestone_dependencies(fleet, "M6").height == 0


def test_dependencies_walk_transitively():
    chain = portfolio(
        milestones=[milestone(m, date(2026, 7, 1)) for m in ("A", "B", "C", "D")],
        dependencies=[{"predecessor_id": "A", "successor_id": "B"}, {"predecessor_id": "B", "successor_id": "C"},
                      {"predecessor_id": "A", "successor_id": "C"}, {"predecessor_id": "C", "successor_id": "D"}],
    )
    result = compute(chain)
    deps = views.milestone_dependencies(result, "A")
    # C is reached directly and through B: listed once, at its shortest distance
    assert deps.select("milestone_id", "depth").rows() == [("B", 1), ("C", 1), ("D", 2)]
    assert views.milestone_dependencies(result, "D").select("milestone_id", "depth").rows() == [
        ("C", 1), ("A", 2), ("B", 2)]


@pytest.mark.parametrize(
    ("milestone_id", "kind", "driver_id", "finish"),
    [
        pytest.param("M1", "task", "T1", date(2026, 9, 21), id="open-task-sets-the-finish"),
        pytest.param("M3", "upstream", "M1", date(2026, 10, 21), id="predecessor-sets-the-finish"),
        pytest.param("M2", "actual", "M2", date(2026, 5, 29), id="finished"),
        pytest.param("M6", "forecast", "M6", date(2026, 7, 15), id="own-forecast"),
    ],
)
def test_finish_driver_names_what_sets_the_computed_finish(fleet, milestone_id, kind, driver_id, finish):
    driver = views.finish_driver(fleet, milestone_id)
    assert (driver["kind"], driver["id"], driver["finish"]) == (kind, driver_id, finish)
    if kind != "actual":
        assert driver["finish"] == fleet.milestone(milestone_id)["computed_finish"]


def test_finish_driver_past_forecast_is_the_snapshot_date():
    late = portfolio(as_of=date(2026, 6, 1), milestones=[milestone("A", date(2026, 5, 1))])
    driver = views.finish_driver(compute(late), "A")
    assert (driver["kind"], driver["finish"]) == ("as_of", date(2026, 6, 1))


def test_causal_chain_of_the_routing_story(fleet):
    chain = views.causal_chain(fleet, "M1", "K-CPM")
    assert chain["level"].to_list() == ["task", "milestone", "project", "kpi", "objective"]
    assert chain["id"].to_list() == ["T1", "M1", "P-ROUTE", "K-CPM", "O-FLEET"]
    assert chain["status"].to_list() == ["Red", "Red", "Red", "Red", "Red"]
    assert chain["step"].to_list() == [0, 1, 2, 3, 4]
    assert "21 days late" in chain["detail"][1] and "watermelon" in chain["detail"][1]
    assert "2.018" in chain["detail"][3] and "1.950" in chain["detail"][3]


def test_causal_chain_without_kpi_stops_at_the_project(fleet):
    chain = views.causal_chain(fleet, "M6")
    assert chain["level"].to_list() == ["forecast", "milestone", "project"]


def test_causal_chain_of_a_pushed_milestone_starts_upstream(fleet):
    chain = views.causal_chain(fleet, "M3", "K-OTD")
    assert chain["level"][0] == "upstream milestone" and chain["id"][0] == "M1"
    assert chain["status"].to_list()[-2:] == ["Green", "Green"]  # K-OTD still meets its target


def test_slip_history_of_one_milestone():
    history = pl.DataFrame({
        "snapshot_id": [2, 1, 1], "as_of": [date(2026, 6, 8), date(2026, 6, 1), date(2026, 6, 1)],
        "milestone_id": ["A", "A", "B"],
    })
    assert views.milestone_slip_history(history, "A")["snapshot_id"].to_list() == [1, 2]


# ------------------------------------------------------------------ governance and history


def test_governance_sections_with_who_fixes_each(fleet):
    gov = views.governance_view(fleet.exceptions)
    assert gov.select("section", "escalate_to").rows() == [
        ("Ownership problems", "Ann Lee"),
        ("Milestones tied to no KPI", "Jo Park"),
        ("KPIs no work drives", "Sam Okafor"),
    ]


def test_governance_sections_hold_every_section(fleet):
    sections = views.governance_sections(fleet.exceptions)
    assert list(sections) == ["Ownership problems", "Milestones tied to no KPI", "KPIs no work drives", "Dangling ids"]
    assert [frame.height for frame in sections.values()] == [1, 1, 1, 0]


def test_dangling_ids_go_to_the_kpi_owner_or_else_the_pmo():
    dangling = portfolio(
        milestones=[milestone("A", date(2026, 7, 1))],
        kpis=[kpi("K")],
        links=[{"milestone_id": "A", "kpi_id": "K", "kpi_delta": -0.1}, {"milestone_id": "GHOST", "kpi_id": "K"}],
        tasks=[{"task_id": "T9", "milestone_id": "NOWHERE", "name": "Orphan", "forecast_finish": date(2026, 6, 9)}],
    )
    gov = views.governance_view(compute(dangling).exceptions).filter(pl.col("section") == "Dangling ids")
    assert gov.select("escalate_to", "escalate_role").rows() == [("Kim Owner", "KPI owner"), ("PMO", "PMO")]
    assert "GHOST" in gov["why"][0] and "NOWHERE" in gov["why"][1]


def test_snapshot_table_newest_first_with_row_counts():
    snaps = pl.DataFrame({
        "snapshot_id": [1, 2], "as_of": [date(2026, 6, 1), date(2026, 6, 8)],
        "rows": [{"milestones": 3, "tasks": 5}, {"milestones": 4, "tasks": 5}],
    })
    table = views.snapshot_table(snaps)
    assert table.select("snapshot_id", "milestones").rows() == [(2, 4), (1, 3)]


def test_change_counts_most_frequent_first():
    changes = pl.DataFrame({"change": ["forecast_moved", "added", "forecast_moved"]})
    assert views.change_counts(changes) == {"forecast_moved": 2, "added": 1}
