"""The read-only views the dashboard shows, on the worked example and tiny portfolios."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from builders import fleet_portfolio, kpi, milestone, portfolio
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from kpi_engine.core.errors import NotFoundError
from kpi_engine.engine import views
from kpi_engine.engine.compute import EngineResult, compute


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
        pytest.param(
            views.ExceptionFilter(kinds=("governance",)), [("M5", None), ("M6", None), (None, "K-IDLE")], id="kind"
        ),
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


def test_exception_totals_count_watermelon_milestones_once(fleet):
    rows = views.exception_rows(fleet, views.ExceptionFilter())
    # the worked example: M1 and M3 are the two watermelons; give M1 a second KPI row
    doubled = pl.concat([rows, rows.filter(pl.col("milestone_id") == "M1")])
    totals = views.exception_totals(doubled)
    assert totals.rows == rows.height + 1
    assert totals.watermelon_rows == 3
    assert totals.watermelon_milestones == 2
    assert totals.value_at_risk == pytest.approx(float(doubled["value_at_risk"].sum()))


def test_exception_totals_of_no_rows(fleet):
    totals = views.exception_totals(views.exception_rows(fleet, views.ExceptionFilter(programs=("nowhere",))))
    assert totals == views.ExceptionTotals(0, 0.0, 0, 0)


def test_exception_labels_name_milestone_and_kpi(fleet):
    assert views.exception_label(fleet.exceptions).to_list() == [
        "M1 Routing software go-live -> Cost per mile",
        "M3 Driver app rollout -> On-time delivery rate",
        "M5: several owners",
        "M6: not tied to any KPI",
        "K-IDLE: no work drives this KPI",
    ]


def ownerless_project() -> EngineResult:
    """Project P-DEP (Depot electrification), created from an export with no owner, beside project P."""
    return compute(
        portfolio(
            projects=[
                {"project_id": "P", "name": "Project P", "owner": "Pat Owner", "sponsor": "Sue Sponsor"},
                {"project_id": "P-DEP", "name": "Depot electrification"},
            ],
            milestones=[
                milestone("D1", date(2026, 7, 1), project_id="P-DEP", forecast_finish=date(2026, 7, 20)),
                milestone("D2", date(2026, 9, 1), project_id="P-DEP"),
                milestone("M1", date(2026, 9, 1)),
            ],
            kpis=[kpi("K1")],
            links=[
                {"milestone_id": m, "kpi_id": "K1", "kpi_delta": -0.1, "value_per_week": 700.0} for m in ("D1", "M1")
            ],
        )
    )


def test_a_finding_on_a_project_is_labelled_with_its_project_id_and_name():
    exceptions = ownerless_project().exceptions
    labels = dict(zip(exceptions["finding"].to_list(), views.exception_label(exceptions).to_list(), strict=True))
    assert labels["project has no owner"] == "P-DEP Depot electrification: project has no owner"
    assert not any(label.startswith("?") for label in labels.values())


def test_a_finding_on_no_existing_id_is_labelled_with_its_sentence():
    result = compute(
        portfolio(
            milestones=[milestone("M1", date(2026, 9, 1))],
            kpis=[kpi("K1")],
            links=[{"milestone_id": "M1", "kpi_id": "K1", "kpi_delta": -0.1}],
            tasks=[
                {"task_id": "T9", "milestone_id": "NOPE", "name": "Stray task", "forecast_finish": date(2026, 8, 1)}
            ],
        )
    )
    dangling = result.exceptions.filter(pl.col("milestone_id").is_null() & pl.col("kpi_id").is_null())
    assert views.exception_label(dangling).to_list() == [
        "Task T9: Task T9 names unknown milestone 'NOPE'. The PMO should correct the id."
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
    assert frame.select("program", "computed_status").rows() == [
        ("Fleet Optimization", "Red"),
        ("Customer Experience", "Red"),
    ]
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
        dependencies=[
            {"predecessor_id": "A", "successor_id": "B"},
            {"predecessor_id": "B", "successor_id": "C"},
            {"predecessor_id": "A", "successor_id": "C"},
            {"predecessor_id": "C", "successor_id": "D"},
        ],
    )
    result = compute(chain)
    deps = views.milestone_dependencies(result, "A")
    # C is reached directly and through B: listed once, at its shortest distance
    assert deps.select("milestone_id", "depth").rows() == [("B", 1), ("C", 1), ("D", 2)]
    assert views.milestone_dependencies(result, "D").select("milestone_id", "depth").rows() == [
        ("C", 1),
        ("A", 2),
        ("B", 2),
    ]


def _walked(edges: list[tuple[str, str, int]], start: str, forward: bool) -> list[tuple[int, str, str, int]]:
    """The plain breadth-first walk the dependencies view gives: (depth, milestone, via, lag), each milestone once."""
    seen, frontier, found, depth = {start}, [start], [], 0
    while frontier:
        depth += 1
        step: dict[str, tuple[str, int]] = {}
        for here, there, lag in (e if forward else (e[1], e[0], e[2]) for e in edges):  # in the edges' order
            if here in frontier and there not in seen and there not in step:
                step[there] = (here, lag)
        seen |= set(step)
        found += [(depth, there, via, lag) for there, (via, lag) in step.items()]
        frontier = list(step)
    return sorted(found)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 12),
    pairs=st.lists(st.tuples(st.integers(0, 13), st.integers(0, 13), st.integers(0, 9)), max_size=30),
    start=st.integers(0, 12),
)
def test_dependencies_are_the_breadth_first_walk_of_the_graph(n, pairs, start):
    """Every milestone up and down once, at its least depth, through the first connection in the file's order.

    Ids 12 and 13 name no milestone: those dependencies are left out. Edges go from a lower
    to a higher index (a stored schedule has no cycle); duplicates and parallel paths occur.
    """
    edges = [(f"M{min(a, b)}", f"M{max(a, b)}", lag) for a, b, lag in pairs if a != b]
    chain = portfolio(
        milestones=[milestone(f"M{i}", date(2026, 7, 1)) for i in range(n)],
        dependencies=[{"predecessor_id": a, "successor_id": b, "lag_days": lag} for a, b, lag in edges],
    )
    known = [e for e in edges if int(e[0][1:]) < n and int(e[1][1:]) < n]
    rows = views.milestone_dependencies(compute(chain), f"M{start}")
    for direction, forward in (("downstream", True), ("upstream", False)):
        got = rows.filter(pl.col("direction") == direction).select("depth", "milestone_id", "via", "lag_days").rows()
        assert sorted(got) == (_walked(known, f"M{start}", forward) if start < n else [])


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
    history = pl.DataFrame(
        {
            "snapshot_id": [2, 1, 1],
            "as_of": [date(2026, 6, 8), date(2026, 6, 1), date(2026, 6, 1)],
            "milestone_id": ["A", "A", "B"],
        }
    )
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
    snaps = pl.DataFrame(
        {
            "snapshot_id": [1, 2],
            "as_of": [date(2026, 6, 1), date(2026, 6, 8)],
            "rows": [{"milestones": 3, "tasks": 5}, {"milestones": 4, "tasks": 5}],
        }
    )
    table = views.snapshot_table(snaps)
    assert table.select("snapshot_id", "milestones").rows() == [(2, 4), (1, 3)]


def test_change_counts_most_frequent_first():
    changes = pl.DataFrame({"change": ["forecast_moved", "added", "forecast_moved"]})
    assert views.change_counts(changes) == {"forecast_moved": 2, "added": 1}


# ------------------------------------------------------------------ large portfolios: what a page draws

#: The most rows of data a chart may hold (the charting library refuses more).
CHART_LIMIT = 5_000


def test_a_long_table_says_it_shows_only_its_first_rows():
    assert views.shown_caption(1_000, 109_089) == (
        "Showing the first 1,000 of 109,089 rows; filter to narrow, or export all"
    )
    assert views.shown_caption(300, 300) is None
    assert views.shown_caption(2, 5, "links", "click a cell to narrow") == (
        "Showing the first 2 of 5 links; click a cell to narrow, or export all"
    )


def test_pulse_draws_tiles_for_the_worst_misses_and_lists_the_rest(fleet):
    kpis = views.pulse_kpis(fleet.kpis, tiles=1)
    assert kpis.tiles["kpi_id"].to_list() == ["K-IDLE"]  # misses by 20% of its target, cost per mile by 1%
    assert (kpis.missing, kpis.more_missing, kpis.total) == (2, 1, fleet.kpis.height)
    assert kpis.on_track.height == kpis.total - kpis.missing
    assert not kpis.on_track["misses"].any()
    every = views.pulse_kpis(fleet.kpis)
    assert every.tiles["kpi_id"].to_list() == ["K-IDLE", "K-CPM"] and every.more_missing == 0


def bars_input(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"program": pl.String, "computed_status": pl.String, "value_at_risk": pl.Float64}, orient="row"
    ).with_columns(pl.lit("P").alias("project_id"), pl.lit("P").alias("project_name"))


def test_value_at_risk_bars_sum_the_smaller_programs_into_one_bar_last():
    milestones = bars_input(
        [
            ("A", "Red", 300.0),
            ("B", "Red", 200.0),
            ("B", "Amber", 50.0),
            ("C", "Red", 100.0),
            ("D", "Amber", 50.0),
            ("E", "Green", 0.0),
        ]
    )
    bars = views.value_at_risk_by(milestones, "program", groups=3)
    assert bars.select("program", "computed_status", "value_at_risk").rows() == [
        ("A", "Red", 300.0),
        ("B", "Amber", 50.0),
        ("B", "Red", 200.0),
        ("2 other programs", "Amber", 50.0),
        ("2 other programs", "Red", 100.0),
    ]
    assert bars["value_at_risk"].sum() == pytest.approx(700.0)
    assert bars["milestones"].sum() == 5
    assert_frame_equal(views.value_at_risk_by(milestones, "program", groups=4), views.value_at_risk_by(milestones))


def slip_cells(groups: int, months: int) -> pl.DataFrame:
    """Heatmap cells of ``groups`` groups over ``months`` months: group i slips i days, worth 1000 - i."""
    return pl.DataFrame(
        {
            "group": [f"G{i:05d}" for i in range(groups) for _ in range(months)],
            "month": [f"{2026 + m // 12}-{m % 12 + 1:02d}" for _ in range(groups) for m in range(months)],
            "max_slip_days": [i for i in range(groups) for _ in range(months)],
            "value_at_risk": [float(1000 - i) for i in range(groups) for _ in range(months)],
        }
    )


def test_slip_heatmap_keeps_the_groups_with_the_worst_slip_or_the_most_value_at_risk():
    cells = slip_cells(5, 2)
    worst = views.top_slip_cells(cells, "max_slip_days", rows=2)
    ranks = worst.cells.select("group", "row_rank").unique().sort("row_rank")
    assert ranks.rows() == [("G00004", 0), ("G00003", 1)]
    assert (worst.rows, worst.rows_total, worst.columns, worst.trimmed) == (2, 5, 2, True)
    money = views.top_slip_cells(cells, "value_at_risk", rows=2)
    assert sorted(money.cells["group"].unique().to_list()) == ["G00000", "G00001"]
    assert views.heatmap_caption(worst, "projects", views.HEATMAP_MEASURES["max_slip_days"], "months") == (
        "Showing the 2 projects with the worst slip of 5; click a cell to list its rows, or narrow with the table below"
    )


def test_a_heatmap_that_fits_is_drawn_whole_and_captioned_nothing(fleet):
    cells = views.slip_heatmap(fleet.milestones, "program")
    top = views.top_slip_cells(cells, "value_at_risk")
    assert not top.trimmed
    assert_frame_equal(top.cells.drop("row_rank"), cells, check_row_order=False)
    assert views.heatmap_caption(top, "programs", "most value at risk", "months") is None


def test_too_many_months_keep_those_with_the_worst_slip():
    cells = slip_cells(2, 3).with_columns(
        pl.when(pl.col("month") == "2026-02").then(99).otherwise(pl.col("max_slip_days")).alias("max_slip_days")
    )
    top = views.top_slip_cells(cells, "max_slip_days", rows=2, columns=1)
    assert top.cells["month"].unique().to_list() == ["2026-02"]
    assert (top.columns, top.columns_total) == (1, 3)
    assert "in their 1 months with the worst slip of 3" in views.heatmap_caption(
        top, "programs", "worst slip", "months"
    )


@settings(max_examples=25, deadline=None)
@given(
    groups=st.integers(1, 400), months=st.integers(1, 80), measure=st.sampled_from(["max_slip_days", "value_at_risk"])
)
def test_a_heatmap_never_holds_more_cells_than_a_chart_takes(groups, months, measure):
    top = views.top_slip_cells(slip_cells(groups, months), measure)
    assert top.cells.height <= views.HEATMAP_ROWS * views.HEATMAP_COLUMNS <= CHART_LIMIT
    assert top.rows == min(groups, views.HEATMAP_ROWS) and top.rows_total == groups


def test_kpi_heatmap_keeps_the_kpis_that_lose_most_of_their_planned_movement():
    cells = pl.DataFrame(
        {
            "kpi_id": ["K1", "K1", "K2", "K3", "K3"],
            "kpi": ["One", "One", "Two", "Three", "Three"],
            "program": ["A", "B", "A", "A", "B"],
            "planned": [1.0, 1.0, 10.0, 4.0, 4.0],
            "lost": [0.5, 0.5, 9.0, 0.0, 0.4],
            "value_at_risk": [1.0, 1.0, 0.0, 500.0, 500.0],
        }
    )
    top = views.top_kpi_cells(cells, rows=2, columns=1)
    # K2 loses 90% of its movement, K1 50%, K3 5% (whatever its money); program A loses the most of those two
    assert top.cells.select("kpi_id", "program", "row_rank").rows() == [("K1", "A", 1), ("K2", "A", 0)]
    assert (top.rows_total, top.columns_total) == (3, 2)


def test_kpi_heatmap_cells_add_up_to_the_share_lost(fleet):
    cells = views.kpi_program_impact(fleet.links, fleet.milestones, fleet.kpis)
    shares = cells.select(pl.when(pl.col("planned") > 0).then(pl.col("lost") / pl.col("planned")).otherwise(0.0))
    assert shares.to_series().to_list() == pytest.approx(cells["lost_share"].to_list())
    assert not views.top_kpi_cells(cells).trimmed


def test_pickers_offer_the_first_matches_and_what_is_already_picked():
    choices = pl.DataFrame(
        {
            "milestone_id": ["M1", "M2", "M3", "M4"],
            "label": ["M1 · Routing go-live", "M2 · Telematics", "M3 · Driver app", "M4 · Routing pilot"],
        }
    )
    assert views.offered_choices(choices, "milestone_id", limit=2) == ["M1", "M2"]
    assert views.offered_choices(choices, "milestone_id", "ROUTING") == ["M1", "M4"]
    assert views.offered_choices(choices, "milestone_id", "routing", limit=1, keep=["M3", "M1", "GONE"]) == ["M1", "M3"]
    assert views.offered_choices(choices, "milestone_id", "nothing like it") == []


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 3_000), min_size=1, max_size=3), limit=st.integers(10, 2_000))
def test_thinning_a_line_keeps_its_ends_in_order_within_the_limit(sizes, limit):
    line = pl.DataFrame(
        {
            "series": [f"S{i}" for i, n in enumerate(sizes) for _ in range(n)],
            "x": [x for n in sizes for x in range(n)],
        }
    )
    thinned = views.thin(line, limit, by="series")
    if line.height <= limit:
        assert_frame_equal(thinned, line)
    assert thinned.height <= limit
    for i, n in enumerate(sizes):
        xs = thinned.filter(pl.col("series") == f"S{i}")["x"].to_list()
        assert xs[0] == 0 and xs[-1] == n - 1 and xs == sorted(xs)


def test_a_kpi_chart_marks_the_milestones_that_lose_it_the_most(fleet):
    drivers = views.kpi_drivers(fleet, "K-CPM")
    marked = views.chart_drivers(drivers, limit=1)
    assert marked["milestone_id"].to_list() == ["M1"]  # the slip that costs cost per mile 0.0679
    assert_frame_equal(views.chart_drivers(drivers), drivers)


# ------------------------------------------------------------------ the previous snapshot as context


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    from kpi_engine.sample import load_sample
    from kpi_engine.store import Store

    store = Store.open(tmp_path_factory.mktemp("sample") / "kpi.duckdb")
    load_sample(store)
    yield store
    store.close()


def test_analyse_with_the_previous_result_given_is_the_same(sample_store):
    from kpi_engine.analysis import analyse

    latest = sample_store.latest_snapshot_id()
    previous = analyse(sample_store, sample_store.previous_snapshot_id(latest))  # with its own context
    given_context = analyse(sample_store, latest, previous=previous)
    computed = analyse(sample_store, latest)
    for name in ("milestones", "links", "kpis", "exceptions"):
        assert_frame_equal(getattr(given_context, name), getattr(computed, name))
    assert computed.exceptions["new"].any() and not computed.exceptions["new"].all()
