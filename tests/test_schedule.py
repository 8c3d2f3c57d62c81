"""Computed finish and slip (DOMAIN.md section 2, rules 1-2)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from builders import milestone, portfolio
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_engine.core.errors import CycleError
from kpi_engine.engine.graph import edge_order
from kpi_engine.engine.schedule import compute_schedule


def finishes(p) -> dict[str, date]:
    return dict(compute_schedule(p).select("milestone_id", "computed_finish").iter_rows())


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param(dict(forecast_finish=date(2026, 8, 1)), date(2026, 8, 1), id="forecast-wins"),
        pytest.param({}, date(2026, 7, 1), id="blank-forecast-uses-baseline"),
        pytest.param(dict(forecast_finish=date(2026, 5, 1)), date(2026, 6, 1), id="open-past-forecast-is-as-of"),
        pytest.param(
            dict(actual_finish=date(2026, 5, 20), forecast_finish=date(2026, 9, 1)),
            date(2026, 5, 20),
            id="finished-early-keeps-actual",
        ),
    ],
)
def test_own_finish(row, expected):
    p = portfolio(milestones=[milestone("A", date(2026, 7, 1), **row)])
    assert finishes(p)["A"] == expected


def test_latest_open_task_pushes_the_milestone_but_finished_tasks_do_not():
    p = portfolio(
        milestones=[milestone("A", date(2026, 7, 1))],
        tasks=[
            {"task_id": "T1", "milestone_id": "A", "name": "open", "forecast_finish": date(2026, 7, 20)},
            {
                "task_id": "T2",
                "milestone_id": "A",
                "name": "done late",
                "forecast_finish": date(2026, 9, 1),
                "actual_finish": date(2026, 5, 1),
            },
        ],
    )
    assert finishes(p)["A"] == date(2026, 7, 20)


def test_successor_waits_for_predecessor_plus_lag_plus_its_own_duration():
    p = portfolio(
        milestones=[
            milestone("A", date(2026, 7, 1), forecast_finish=date(2026, 7, 11)),
            milestone("B", date(2026, 7, 20), baseline_start=date(2026, 7, 10)),
        ],
        dependencies=[{"predecessor_id": "A", "successor_id": "B", "lag_days": 3}],
    )
    assert finishes(p)["B"] == date(2026, 7, 24)  # 11 + 3 lag + 10 duration


def test_chain_propagates_through_every_level_and_finished_successor_stays_put():
    p = portfolio(
        milestones=[
            milestone("A", date(2026, 7, 1), forecast_finish=date(2026, 8, 1)),
            milestone("B", date(2026, 7, 2)),
            milestone("C", date(2026, 7, 3)),
            milestone("D", date(2026, 7, 4), actual_finish=date(2026, 5, 30)),
        ],
        dependencies=[
            {"predecessor_id": "A", "successor_id": "B", "lag_days": 1},
            {"predecessor_id": "B", "successor_id": "C", "lag_days": 1},
            {"predecessor_id": "A", "successor_id": "D", "lag_days": 0},
        ],
    )
    got = finishes(p)
    assert (got["B"], got["C"], got["D"]) == (date(2026, 8, 2), date(2026, 8, 3), date(2026, 5, 30))


def test_slip_is_signed_days_against_baseline():
    p = portfolio(milestones=[milestone("A", date(2026, 7, 10), actual_finish=date(2026, 7, 3))])
    assert compute_schedule(p)["slip_days"].to_list() == [-7]


def test_cycle_is_a_data_error_naming_only_the_milestones_on_it():
    p = portfolio(
        milestones=[milestone(m, date(2026, 7, 1)) for m in "ABCD"],
        dependencies=[
            {"predecessor_id": "A", "successor_id": "B"},
            {"predecessor_id": "B", "successor_id": "C"},
            {"predecessor_id": "C", "successor_id": "A"},
            {"predecessor_id": "C", "successor_id": "D"},
        ],
    )
    with pytest.raises(CycleError) as err:
        compute_schedule(p)
    assert err.value.cycles == [["A", "B", "C", "A"]]
    assert err.value.milestone_ids == ["A", "B", "C"]
    assert str(err.value) == (
        "dependencies form a cycle A -> B -> C -> A; a milestone cannot wait for itself, "
        "so no finish date can be computed: remove or correct one of these dependencies"
    )


def test_dependency_on_unknown_milestone_is_ignored_by_the_schedule():
    p = portfolio(
        milestones=[milestone("A", date(2026, 7, 1))],
        dependencies=[{"predecessor_id": "GHOST", "successor_id": "A", "lag_days": 100}],
    )
    assert finishes(p)["A"] == date(2026, 7, 1)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60))
    )
)
def test_edges_are_ordered_by_level_then_successor_then_position_like_lexsort(case):
    """The one-key sort of the dependency edges gives np.lexsort's (stable, two-key) order."""
    n, edges = case
    level = np.array([lvl for lvl, _ in edges], dtype=np.int64)
    dst = np.array([d for _, d in edges], dtype=np.int64)
    assert edge_order(level, dst, n).tolist() == np.lexsort((dst, level)).tolist()
