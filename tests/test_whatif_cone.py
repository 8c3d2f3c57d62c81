"""The what-if's downstream cone: recomputing only what a change reaches gives the figures of a full recomputation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from builders import fleet_portfolio, scenario_from_scratch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from strategies import portfolios, schedule_changes

from kpi_engine.core.settings import Settings
from kpi_engine.engine.compute import evaluate
from kpi_engine.engine.graph import propagate
from kpi_engine.engine.schedule import prepare_schedule
from kpi_engine.whatif.cone import baseline, propagate_cone
from kpi_engine.whatif.scenarios import Scenario, SetFinish, Slip, apply_changes, escalation_rises, run_scenario

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(portfolios(), st.data())
def test_incremental_what_if_equals_a_full_recompute(p, data):
    schedule = prepare_schedule(p)
    base = evaluate(p, schedule, schedule.finish(), Settings())
    # two scenarios on one schedule: the second starts from the kept baseline, not from the first
    for _ in range(2):
        scenario = Scenario("random", data.draw(schedule_changes(p)))
        result = run_scenario(p, scenario, base=base, schedule=schedule)
        applied = apply_changes(p, schedule, scenario)
        full_finish = propagate(schedule.graph, applied.own, applied.fixed, applied.extra)
        assert np.array_equal(result.finish, full_finish)

        full = scenario_from_scratch(result)  # the complete engine result, nothing reused
        diff = result.kpi_diff.select("kpi_id", "projected_after", "shortfall_after", "misses_after")
        expected = base.kpis.select("kpi_id").join(
            full.kpis.select(
                "kpi_id",
                pl.col("projected").alias("projected_after"),
                pl.col("shortfall").alias("shortfall_after"),
                pl.col("misses").alias("misses_after"),
            ),
            on="kpi_id",
        )
        assert_frame_equal(diff.sort("kpi_id"), expected.sort("kpi_id"))
        assert result.value_at_risk_total_after == pytest.approx(full.value_at_risk_total, rel=1e-9, abs=1e-6)

        before = base.milestones.select("milestone_id", pl.col("computed_finish").alias("_before"))
        moved = full.milestones.join(before, on="milestone_id").filter(pl.col("computed_finish") != pl.col("_before"))
        assert sorted(result.moved["milestone_id"].to_list()) == sorted(moved["milestone_id"].to_list())

        links = p.links
        lonely = full.milestones.filter(~pl.col("milestone_id").is_in(links["milestone_id"].implode()))
        rises = escalation_rises(base, full.milestones["milestone_id"], full.links, lonely, links)
        assert_frame_equal(result.escalations, rises)


@FAST
@given(portfolios(), st.data())
def test_the_cone_holds_every_milestone_that_moves(p, data):
    schedule = prepare_schedule(p)
    applied = apply_changes(p, schedule, Scenario("random", data.draw(schedule_changes(p))))
    before = baseline(schedule).finish
    after, cone = propagate_cone(schedule.graph, before, applied.own, applied.fixed, applied.extra, applied.direct)
    assert not (after != before)[~cone].any()
    assert cone[applied.direct].all()
    # the cone is closed downstream: no edge leaves it
    assert not (cone[schedule.graph.src] & ~cone[schedule.graph.dst]).any()


def test_a_finish_set_earlier_pulls_its_successors_in():
    fleet = fleet_portfolio()
    schedule = prepare_schedule(fleet)
    slipped = run_scenario(fleet, Scenario("late", (Slip("M1", 30),)), schedule=schedule)
    pulled = run_scenario(fleet, Scenario("early", (SetFinish("M1", fleet.as_of),)), schedule=schedule)
    m3 = slipped.moved.filter(pl.col("milestone_id") == "M3").row(0, named=True)
    assert m3["moved_days"] == 30
    m3 = pulled.moved.filter(pl.col("milestone_id") == "M3").row(0, named=True)
    assert m3["moved_days"] < 0


def test_the_baseline_is_kept_per_schedule_and_read_only():
    fleet = fleet_portfolio()
    first, second = prepare_schedule(fleet), prepare_schedule(fleet)
    assert baseline(first) is baseline(first)
    assert baseline(first) is not baseline(second)
    assert np.array_equal(baseline(first).finish, first.finish())
    with pytest.raises(ValueError, match="read-only"):
        baseline(first).finish[0] = 0
    ids = first.milestones["milestone_id"].to_list()
    assert [baseline(first).position[mid] for mid in ids] == list(range(len(ids)))


def test_kept_values_follow_every_object_they_depend_on():
    import gc

    from kpi_engine.whatif.kept import kept

    class Frozen:
        pass

    owner, first, second = Frozen(), Frozen(), Frozen()
    calls: list[object] = []

    def derive(source: object):
        def run() -> object:
            calls.append(source)
            return len(calls)

        return run

    assert kept(owner, "n", derive(first), first) == 1
    assert kept(owner, "n", derive(first), first) == 1  # kept
    assert kept(owner, "n", derive(second), second) == 2  # another object it depends on: derived again
    assert kept(owner, "m", derive(first), first) == 3  # another name
    del owner
    gc.collect()
    again = Frozen()
    assert kept(again, "n", derive(first), first) == 4  # a new owner never sees an old owner's value


def test_a_kept_value_goes_when_an_object_it_depends_on_goes():
    import gc

    from kpi_engine.whatif import kept as keeper

    class Frozen:
        pass

    owner, source = Frozen(), Frozen()
    keeper.kept(owner, "n", lambda: 1, source)
    held = len(keeper._KEPT)
    del source
    gc.collect()
    assert len(keeper._KEPT) == held - 1


def test_an_object_collected_while_the_kept_values_are_locked_does_not_hang_the_thread():
    """The collector runs finalizers at any allocation, also inside kept()'s own locked section.

    A test run hung there once: a finalizer that drops a kept value ran in the thread that
    held the lock, and waited for it for good. Here the last reference to a source goes
    while its thread holds the lock, so its finalizer runs right there.
    """
    import threading

    from kpi_engine.whatif import kept as keeper

    class Frozen:
        pass

    sources = [Frozen()]
    keeper.kept(Frozen, "n", lambda: 1, sources[0])
    held = len(keeper._KEPT)
    finished = threading.Event()

    def drop_while_locked() -> None:
        with keeper._LOCK:
            sources.clear()  # the source's last reference: its finalizer runs now, in this thread
        finished.set()

    worker = threading.Thread(target=drop_while_locked, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert finished.is_set(), "a finalizer waited for the lock its own thread held"
    assert len(keeper._KEPT) == held - 1
