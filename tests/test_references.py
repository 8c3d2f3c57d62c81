"""Milestone and KPI ids resolved to row positions once per snapshot (kpi_engine/core/references.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import polars as pl
from builders import frame, kpi, milestone, portfolio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from strategies import portfolios

from kpi_engine.core.references import UNKNOWN, positions, resolve
from kpi_engine.core.settings import Settings
from kpi_engine.engine.kpis import kpi_projection, link_figures
from kpi_engine.engine.schedule import compute_schedule
from kpi_engine.engine.status import computed_status


def test_every_reference_points_at_its_row_or_is_unknown():
    p = portfolio(
        milestones=[milestone("A", date(2026, 8, 1)), milestone("B", date(2026, 9, 1))],
        kpis=[kpi("K1"), kpi("K2")],
        links=[
            {"milestone_id": "B", "kpi_id": "K2"},
            {"milestone_id": "GHOST", "kpi_id": "K1"},
            {"milestone_id": "A", "kpi_id": "NOPE"},
        ],
        tasks=[
            {"task_id": "T1", "milestone_id": "B", "name": "t"},
            {"task_id": "T2", "milestone_id": "LOST", "name": "t"},
        ],
        dependencies=[{"predecessor_id": "A", "successor_id": "B"}, {"predecessor_id": "ZZ", "successor_id": "A"}],
    )
    refs = resolve(p)

    assert refs.link_milestone.tolist() == [1, UNKNOWN, 0]
    assert refs.link_kpi.tolist() == [1, 0, UNKNOWN]
    assert refs.task_milestone.tolist() == [1, UNKNOWN]
    assert (refs.predecessor.tolist(), refs.successor.tolist()) == ([0, UNKNOWN], [1, 0])
    # a link that cannot resolve drives nothing: A's only link names an unknown KPI, K1's only
    # link comes from an unknown milestone
    assert refs.linked_milestones(2).tolist() == [False, True]
    assert refs.linked_kpis(2).tolist() == [False, True]


def test_blank_ids_are_unknown_and_empty_tables_resolve():
    found = positions(
        [pl.Series([None, "A", ""], dtype=pl.String), pl.Series([], dtype=pl.String)], pl.Series(["A", "B"])
    )

    assert [f.tolist() for f in found] == [[UNKNOWN, 0, UNKNOWN], []]
    assert all(f.dtype == np.int64 for f in found)


@given(
    st.lists(st.text(alphabet="ABC", max_size=3), unique=True, max_size=8),
    st.lists(st.lists(st.text(alphabet="ABCD", max_size=3), max_size=12), min_size=1, max_size=4),
)
def test_positions_agree_with_a_dictionary_lookup(ids, columns):
    found = positions([pl.Series(c, dtype=pl.String) for c in columns], pl.Series(ids, dtype=pl.String))

    row_of = {value: row for row, value in enumerate(ids)}
    assert [f.tolist() for f in found] == [[row_of.get(v, UNKNOWN) for v in c] for c in columns]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios())
def test_gathering_by_position_gives_what_joining_on_ids_gives(p):
    """The engine's gather path (resolved references) and the join path (scenario subsets) agree,
    dangling links included."""
    links = pl.concat(
        [
            p.links,
            frame(
                "links",
                [
                    {"milestone_id": "GHOST", "kpi_id": p.kpis["kpi_id"][0], "kpi_delta": 1.0, "value_per_week": 700.0},
                    {
                        "milestone_id": p.milestones["milestone_id"][0],
                        "kpi_id": "NOPE",
                        "kpi_delta": 1.0,
                        "value_per_week": 700.0,
                    },
                ],
            ),
        ]
    )
    p = replace(p, links=links)
    refs, milestones = resolve(p), compute_schedule(p)
    by_pair = ["milestone_id", "kpi_id"]

    joined = link_figures(p.links, milestones, p.kpis)
    known, positions = refs.resolvable_links(p.links)
    gathered = link_figures(known, milestones, p.kpis, positions)
    assert_frame_equal(gathered.sort(by_pair), joined.sort(by_pair))

    projected = kpi_projection(p.kpis, p.kpi_actuals, p.links, milestones, p.as_of)
    assert_frame_equal(
        kpi_projection(p.kpis, p.kpi_actuals, known, milestones, p.as_of, positions).sort("kpi_id"),
        projected.sort("kpi_id"),
        check_exact=False,
        rel_tol=1e-12,
    )

    assert_frame_equal(
        computed_status(milestones, gathered, projected, Settings(), positions),
        computed_status(milestones, joined, projected, Settings()),
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet="ABC", max_size=2), unique=True, max_size=6),
    st.lists(st.tuples(st.sampled_from([None, "", "A", "B", "C", "Z"]), st.integers(1, 6)), max_size=10),
)
def test_runs_of_equal_ids_resolve_like_every_id_on_its_own(ids, runs):
    """A column listing a milestone's rows together (runs, nulls included) is looked up once per
    run, with the same positions as one lookup per value."""
    column = [value for value, length in runs for _ in range(length)]
    (found,) = positions([pl.Series(column, dtype=pl.String)], pl.Series(ids, dtype=pl.String))

    row_of = {value: row for row, value in enumerate(ids)}
    assert found.tolist() == [UNKNOWN if v is None else row_of.get(v, UNKNOWN) for v in column]
