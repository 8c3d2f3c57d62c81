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


#: (milestone x run) cells drawn at once by :func:`_history_slips`: keeps each block's temporaries in cache.
DRAW_BLOCK_CELLS = 1 << 18


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
    rng: np.random.Generator, pools: Pools, pool: np.ndarray, steps: np.ndarray, slips: np.ndarray, rows: np.ndarray
) -> None:
    """Write into ``slips[rows[i]]`` the sum of ``steps[i]`` bootstrap moves from pool ``pool[i]``, per run (at least 0).

    Drawing k moves per (milestone, run) would cost up to 52 draws a cell. Instead each
    pool gets banks of pre-drawn sums of 0-7 moves and of 0, 8, 16, ... 56 moves (each
    bank entry a random entry of the bank below plus one more move, or eight), and the
    sum of k moves is one entry of the bank for ``k % 8`` plus one of the bank for
    ``8 * (k // 8)``: two look-ups a cell, both positions from one random number. The
    cells are drawn a block of milestones at a time (the generator gives the same numbers
    in blocks as at once), so the look-ups' temporaries stay in cache.
    """
    n_pools, runs = pools.lengths.size, slips.shape[1]
    bank_rows = (np.arange(n_pools, dtype=np.int64) * BANK_SIZE)[:, None]

    banks = np.empty((16, n_pools, BANK_SIZE), dtype=np.int32)  # sums of 0-7 moves, then of 0, 8, ... 56
    picked = np.empty((n_pools, BANK_SIZE), dtype=np.int64)
    drawn_too = np.empty((n_pools, BANK_SIZE), dtype=np.int32)

    def resample(bank: np.ndarray, out: np.ndarray) -> None:
        """``out`` gets a random entry of the same pool's ``bank`` per entry (buffers reused: no fresh memory)."""
        np.add(rng.integers(0, BANK_SIZE, (n_pools, BANK_SIZE), dtype=np.int32), bank_rows, out=picked)
        np.take(bank.ravel(), picked, out=out, mode="clip")  # every position is in range: clip only skips the check

    def next_bank(below: int, step: int, at: int) -> None:
        """Bank ``at`` is a random entry of bank ``below`` plus one of bank ``step`` (drawn in that order)."""
        resample(banks[below], banks[at])
        resample(banks[step], drawn_too)
        banks[at] += drawn_too

    picks = (rng.random((n_pools, BANK_SIZE)) * pools.lengths[:, None]).astype(np.int64)
    banks[0] = 0
    banks[1] = pools.values[pools.offsets[:, None] + picks]
    for k in range(2, 8):
        next_bank(k - 1, 1, k)
    banks[8] = 0
    next_bank(7, 1, 9)  # eight moves
    for k in range(10, 16):
        next_bank(k - 1, 9, k)
    flat = banks.ravel()
    bits = BANK_SIZE.bit_length() - 1
    index: type[np.signedinteger[Any]] = np.int32 if flat.size < np.iinfo(np.int32).max else np.int64
    first = (((steps % 8) * n_pools + pool) * BANK_SIZE).astype(index)
    second = (((8 + steps // 8) * n_pools + pool) * BANK_SIZE).astype(index)
    block = max(1, DRAW_BLOCK_CELLS // runs)
    for lo in range(0, pool.size, block):
        hi = min(pool.size, lo + block)
        drawn = rng.integers(0, 1 << (2 * bits), (hi - lo, runs), dtype=np.int32)
        position: np.ndarray[Any, np.dtype[np.signedinteger[Any]]] = drawn.astype(index, copy=False)
        low_bits = position & (BANK_SIZE - 1)
        low_bits += first[lo:hi, None]
        total = flat[low_bits]
        position >>= bits
        position += second[lo:hi, None]
        total += flat[position]
        np.maximum(total, 0, out=total)
        slips[rows[lo:hi]] = total


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
        _history_slips(rng, pools, pool, steps, slips, hist)
    return slips
