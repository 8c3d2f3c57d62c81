"""A scenario's complete result (kpi_engine/whatif/complete.py): the snapshot's rows with the reached ones put in
equal the engine run on the scenario's finishes from scratch."""

from __future__ import annotations

from datetime import date

import polars as pl
from builders import fleet_portfolio, scenario_from_scratch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from strategies import portfolios_with_findings, schedule_changes

from kpi_engine.core.settings import Settings
from kpi_engine.engine.compute import EngineResult, compute, evaluate
from kpi_engine.engine.graph import propagate
from kpi_engine.engine.schedule import prepare_schedule
from kpi_engine.whatif.scenarios import Scenario, Slip, apply_changes, run_scenario

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_same_result(got: EngineResult, expected: EngineResult) -> None:
    assert_frame_equal(got.milestones, expected.milestones)
    assert_frame_equal(got.links, expected.links)
    assert_frame_equal(got.kpis, expected.kpis)
    assert_frame_equal(got.governance, expected.governance)
    assert_frame_equal(got.exception_rows, expected.exception_rows)
    assert_frame_equal(got.exceptions, expected.exceptions)


@FAST
@given(portfolios_with_findings(), st.data())
def test_the_complete_result_equals_the_engine_run_from_scratch(p, data):
    schedule = prepare_schedule(p)
    previous = None
    if data.draw(st.booleans(), label="with a previous snapshot"):
        # last week: the same portfolio with other finishes, so that statuses and the list differ
        applied = apply_changes(p, schedule, Scenario("last week", data.draw(schedule_changes(p))))
        last_week = propagate(schedule.graph, applied.own, applied.fixed, applied.extra)
        previous = evaluate(p, schedule, last_week, Settings())
    base = evaluate(p, schedule, schedule.finish(), Settings(), previous)
    # two scenarios on one snapshot: the second reuses the kept rows of the first
    for _ in range(2):
        result = run_scenario(p, Scenario("random", data.draw(schedule_changes(p))), base=base, schedule=schedule)
        assert_same_result(result.scenario, scenario_from_scratch(result))


def test_the_fleet_two_week_slip_is_the_engine_run_from_scratch():
    fleet = fleet_portfolio()
    base = compute(fleet)
    result = run_scenario(fleet, Scenario("two weeks", (Slip("M1", 14),)), base=base)
    m1 = result.scenario.exception_rows.filter(pl.col("milestone_id") == "M1", pl.col("kind") == "milestone")
    assert m1["computed_finish"].to_list() == [date(2026, 10, 5)]  # 14 days after the snapshot's own finish
    assert_same_result(result.scenario, scenario_from_scratch(result))
    # the rows were put into copies: the snapshot's own result is as it was
    assert_same_result(base, compute(fleet))


def test_a_change_that_reaches_nothing_gives_the_snapshot_s_own_rows():
    fleet = fleet_portfolio()
    result = run_scenario(fleet, Scenario("nothing"))
    assert_same_result(result.scenario, scenario_from_scratch(result))
    assert_frame_equal(result.scenario.exception_rows.drop("new"), result.baseline.exception_rows.drop("new"))
    assert not result.scenario.exception_rows["new"].any()
