"""Quantiles by selection give what ``np.quantile`` gives, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kpi_engine.whatif.simulation.quantiles import inverted_cdf_quantiles, linear_quantiles, order_statistics

values = st.integers(1, 6).flatmap(
    lambda rows: st.integers(1, 40).flatmap(
        lambda runs: arrays(
            np.float64,
            (rows, runs),
            elements=st.one_of(
                st.floats(-1e9, 1e9, allow_nan=False),
                st.sampled_from([0.0, 1.0, -2.5]),  # ties
                st.just(float("nan")),
            ),
        )
    )
)
shares = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6).map(tuple)


@settings(max_examples=300, deadline=None)
@given(values, shares)
def test_linear_quantiles_equal_numpy(data: np.ndarray, levels: tuple[float, ...]) -> None:
    expected = np.quantile(data, levels, axis=1)
    assert np.array_equal(linear_quantiles(data.copy(), levels), expected, equal_nan=True)


@settings(max_examples=300, deadline=None)
@given(values, shares)
def test_inverted_cdf_quantiles_equal_numpy(data: np.ndarray, levels: tuple[float, ...]) -> None:
    expected = np.quantile(data, levels, axis=1, method="inverted_cdf")
    assert np.array_equal(inverted_cdf_quantiles(data.copy(), levels), expected, equal_nan=True)


def test_order_statistics_of_a_thousand_runs() -> None:
    # the 50th, 80th and 95th percentiles of 1,000 sorted runs are the 500th, 800th and 950th values
    assert order_statistics(1000, (0.5, 0.8, 0.95)).tolist() == [499, 799, 949]


def test_selection_partitions_in_place_and_leaves_the_values() -> None:
    data = np.array([[5.0, 1.0, 4.0, 2.0, 3.0]])
    result = linear_quantiles(data, (0.5,))
    assert result.tolist() == [[3.0]]
    assert sorted(data[0].tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0]
