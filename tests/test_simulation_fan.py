"""The fan chart's accumulators give each KPI's value at every grid date as the ramps do, run by run."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_engine.whatif.simulation.fan_chart import GridReach
from kpi_engine.whatif.simulation.run_inputs import LinkArrays, ramp_share


def _links(ranks: list[int], ramps: list[int], deltas: list[float]) -> LinkArrays:
    """Links in rank order; a ramp of 0 days is a step on the day of delivery (as the engine counts it)."""
    ramp = np.asarray(ramps, dtype=np.float64)[None, :]
    row = np.zeros_like(ramp)
    return LinkArrays(
        milestone=np.arange(len(ranks)),
        rank=np.asarray(sorted(ranks), dtype=np.int64),
        delta=np.asarray(deltas, dtype=np.float64)[None, :],
        span=np.where(ramp > 0, ramp, 1e-9),
        eps=np.where(ramp > 0, 0.0, 0.5),
        value_per_week=row,
        baseline=row,
        target=row,
        start=row,
        counted_from=row,
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[LinkArrays, int, np.ndarray, np.ndarray]:
    n_kpis = draw(st.integers(1, 4))
    n_links = draw(st.integers(0, 12))
    runs = draw(st.integers(1, 6))
    links = _links(
        draw(st.lists(st.integers(0, n_kpis - 1), min_size=n_links, max_size=n_links)),
        draw(st.lists(st.sampled_from([0, 1, 7, 30, 45, 90, 400]), min_size=n_links, max_size=n_links)),
        draw(st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=n_links, max_size=n_links)),
    )
    start = 20_000
    steps = draw(st.lists(st.integers(1, 40), min_size=0, max_size=8))
    grid = start + np.cumsum([0, *steps]).astype(np.float64)
    finishes = draw(st.lists(st.integers(start - 60, start + 400), min_size=n_links * runs, max_size=n_links * runs))
    f_days = np.asarray(finishes, dtype=np.int32).reshape(n_links, runs)
    return links, n_kpis, grid, f_days


@settings(max_examples=200, deadline=None)
@given(cases())
def test_grid_reach_equals_each_links_ramp_summed(case: tuple[LinkArrays, int, np.ndarray, np.ndarray]) -> None:
    links, n_kpis, grid, f_days = case
    runs = f_days.shape[1]
    reached = GridReach(grid, runs, max(1, links.rank.size), n_kpis).reached(links, n_kpis, f_days)
    expected = np.zeros((grid.size, n_kpis, runs))
    for g, day in enumerate(grid):
        share = ramp_share(day + links.eps[0][:, None] - f_days, links.span[0][:, None])
        np.add.at(expected[g], links.rank, links.delta[0][:, None] * share)
    assert reached.shape == expected.shape
    np.testing.assert_allclose(reached, expected, rtol=0, atol=1e-9 * max(1.0, float(np.abs(links.delta).sum())))


def test_a_ramp_is_counted_in_part_inside_and_whole_after() -> None:
    # one KPI, a 30-day ramp of +6 delivered on day 20,000; grid dates 0, 10, 30 and 40 days later
    links = _links([0], [30], [6.0])
    grid = np.array([20_000.0, 20_010.0, 20_030.0, 20_040.0])
    reached = GridReach(grid, 1, 1, 1).reached(links, 1, np.array([[20_000]], dtype=np.int32))
    np.testing.assert_allclose(reached[:, 0, 0], [0.0, 2.0, 6.0, 6.0], atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(cases(), st.data())
def test_the_first_grid_dates_alone_reach_what_all_of_them_reach_there(
    case: tuple[LinkArrays, int, np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    links, n_kpis, grid, f_days = case
    runs = f_days.shape[1]
    n_dates = data.draw(st.integers(1, grid.size))
    reach = GridReach(grid, runs, max(1, links.rank.size), n_kpis)
    everything = reach.reached(links, n_kpis, f_days).copy()
    first_dates = reach.reached(links, n_kpis, f_days, n_dates)
    assert np.array_equal(first_dates, everything[:n_dates])
