"""Drawing every run's slips at once: triangular draws and bootstrap sums of observed moves."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from kpi_engine.whatif.simulation.slip_choice import Pools, SlipDistribution

#: :func:`_history_slips` sums at most 63 moves (two octal digits).
STEP_LIMIT = 63


#: Pre-drawn sums per pool and number of moves (see :func:`_history_slips`); a power of two.
BANK_SIZE = 512


def _triangular(rng: np.random.Generator, low: np.ndarray, mode: np.ndarray, high: np.ndarray, runs: int) -> np.ndarray:
    """Whole-day triangular draws, one row per milestone (zero-width ranges allowed, unlike numpy's)."""
    u = rng.random((low.size, runs))
    width = high - low
    c = np.divide(mode - low, width, out=np.zeros_like(width), where=width > 0)[:, None]
    below = u < c
    rising = u * c
    np.sqrt(rising, out=rising)
    falling = np.subtract(1.0, u, out=u)
    falling *= 1.0 - c
    np.sqrt(falling, out=falling)
    np.subtract(1.0, falling, out=falling)
    x = np.where(below, rising, falling)
    x *= width[:, None]
    x += low[:, None]
    return np.rint(x, out=x).astype(np.int32)


def _history_slips(
    rng: np.random.Generator, pools: Pools, pool: np.ndarray, steps: np.ndarray, runs: int
) -> np.ndarray:
    """Sum of ``steps[i]`` bootstrap moves from pool ``pool[i]`` for every milestone i and run.

    Drawing k moves per (milestone, run) would cost up to 52 draws a cell. Instead each
    pool gets banks of pre-drawn sums of 0-7 moves and of 0, 8, 16, ... 56 moves (each
    bank entry a random entry of the bank below plus one more move, or eight), and the
    sum of k moves is one entry of the bank for ``k % 8`` plus one of the bank for
    ``8 * (k // 8)``: two look-ups a cell, both positions from one random number.
    """
    n_pools = pools.lengths.size
    rows = (np.arange(n_pools, dtype=np.int64) * BANK_SIZE)[:, None]

    def resample(bank: np.ndarray) -> np.ndarray:
        return bank.ravel()[rows + rng.integers(0, BANK_SIZE, (n_pools, BANK_SIZE), dtype=np.int32)]

    picks = (rng.random((n_pools, BANK_SIZE)) * pools.lengths[:, None]).astype(np.int64)
    one = pools.values[pools.offsets[:, None] + picks].astype(np.int32)
    zero = np.zeros_like(one)
    low = [zero, one]
    for _ in range(2, 8):
        low.append(resample(low[-1]) + resample(one))
    eight = resample(low[7]) + resample(one)
    high = [zero, eight]
    for _ in range(2, 8):
        high.append(resample(high[-1]) + resample(eight))
    flat = np.stack(low + high).ravel()  # (16 banks, pools, BANK_SIZE)
    bits = BANK_SIZE.bit_length() - 1
    index: type[np.signedinteger[Any]] = np.int32 if flat.size < np.iinfo(np.int32).max else np.int64
    first = (((steps % 8) * n_pools + pool) * BANK_SIZE).astype(index)
    second = (((8 + steps // 8) * n_pools + pool) * BANK_SIZE).astype(index)
    drawn = rng.integers(0, 1 << (2 * bits), (pool.size, runs), dtype=np.int32)
    position: np.ndarray[Any, np.dtype[np.signedinteger[Any]]] = drawn.astype(index, copy=False)
    # both look-ups in place on the drawn positions: no (milestones x runs) temporaries beyond two
    low_bits = position & (BANK_SIZE - 1)
    low_bits += first[:, None]
    total = flat[low_bits]
    del low_bits
    position >>= bits
    position += second[:, None]
    total += flat[position]
    return total


def draw_slips(
    rng: np.random.Generator,
    chosen: pl.DataFrame,
    pools: Pools | None,
    deterministic: np.ndarray,
    as_of: int,
    runs: int,
    max_steps: int,
) -> np.ndarray:
    """Extra days per (milestone, run), int32: triangular overrides first, then history; never negative."""
    slips = np.zeros((chosen.height, runs), dtype=np.int32)
    kind = chosen["distribution"].to_numpy()
    triangular = [
        SlipDistribution.TRIANGULAR.value,
        SlipDistribution.TRIANGULAR_PROJECT.value,
        SlipDistribution.REFERENCE_CLASS.value,
    ]
    tri = np.flatnonzero(np.isin(kind, triangular))
    if tri.size:
        slips[tri] = _triangular(
            rng, chosen["low"].to_numpy()[tri], chosen["mode"].to_numpy()[tri], chosen["high"].to_numpy()[tri], runs
        )
    hist = np.flatnonzero(chosen["pool"].is_not_null().to_numpy())
    if hist.size and pools is not None:
        remaining = np.maximum(deterministic[hist] - as_of, 0)
        steps = np.clip(np.ceil(remaining / pools.interval_days), 1, max_steps).astype(np.int64)
        pool = chosen["pool"].to_numpy()[hist].astype(np.int64)
        drawn = _history_slips(rng, pools, pool, steps, runs)
        np.maximum(drawn, 0, out=drawn)
        if hist.size == chosen.height:
            return drawn  # every milestone draws from history: no copy into the zeros
        slips[hist] = drawn
    return slips
