"""The fan chart: each KPI's value at month ends over the runs, and its p10/p50/p90."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from kpi_engine.whatif.simulation.quantiles import linear_quantiles
from kpi_engine.whatif.simulation.run_inputs import LinkArrays


def month_ends(start: date, end: date) -> list[date]:
    """Month ends strictly after ``start`` and strictly before ``end``."""
    out: list[date] = []
    year, month = start.year, start.month
    while True:
        following = date(year + month // 12, month % 12 + 1, 1)
        last = following - timedelta(days=1)
        if last >= end:
            return out
        if last > start:
            out.append(last)
        year, month = following.year, following.month


def _grid_rows(days_: np.ndarray, shift: np.ndarray | int, grid_days: np.ndarray, row: int) -> np.ndarray:
    """For whole day numbers plus ``shift``, how many grid dates fall strictly before each, times ``row``.

    That is ``np.searchsorted(grid_days, days_ + shift) * row`` (int64), from a look-up
    table over the grid's span of days instead of a binary search.
    """
    first, last = int(grid_days[0]), int(grid_days[-1])
    table = np.searchsorted(grid_days, np.arange(first, last + 2)).astype(np.int64)
    table *= row
    # int32 day numbers (finishes stop at the last calendar day, ramps at ten years) stay int32
    offset = np.add(days_, np.asarray(shift, dtype=np.int64) - first, dtype=days_.dtype)
    np.clip(offset, 0, last + 1 - first, out=offset)
    return table[offset]


def reached_on_grid(f_days: np.ndarray, links: LinkArrays, n_kpis: int, grid_days: np.ndarray) -> np.ndarray:
    """Each KPI's movement reached by each grid date: ``(grid date, KPI rank, run)``.

    ``f_days`` holds the links' finishes ``(links, runs)`` as whole day numbers. Instead of
    evaluating every link's ramp at every grid date, each link's ramp is written as a
    piecewise-linear function of the date and scattered once into two accumulators: from
    the first grid date after its delivery it adds the slope ``delta / ramp_days`` and the
    offset ``-slope * finish``, and from the first date its ramp is complete it takes them
    back and adds its full ``delta``. A cumulative sum over the grid dates then gives, at
    date ``g``, ``offsets + g * slopes``: each link's ``delta * (g - finish) / ramp_days``
    inside its ramp, ``delta`` after it, 0 before (equal to :func:`ramp_share` up to float
    rounding). A link without a ramp adds its ``delta`` from the first date on or after its
    delivery. Dates are counted from the first grid date, so the products stay small and
    the rounding with them. Links are the outer axis, so one link's runs land side by side.
    """
    n_links, runs = f_days.shape
    n_grid = grid_days.size
    has_ramp = links.eps[0] == 0.0
    ramp_days = np.where(has_ramp, links.span[0], 0.0)
    slope = np.where(has_ramp, links.delta[0] / links.span[0], 0.0)[:, None]  # (links, 1)
    plane = n_kpis * runs  # one grid date's (KPI, run) values
    cells = (n_grid + 1) * plane
    base = (links.rank * runs)[:, None] + np.arange(runs, dtype=np.int64)[None, :]
    # grid dates are whole days: a date is on or after finish + ramp when it is on or after its ceiling
    complete = _grid_rows(f_days, np.ceil(ramp_days).astype(np.int64)[:, None], grid_days, plane)
    complete += base
    first = _grid_rows(f_days, 1, grid_days, plane)  # first date after delivery
    first += base
    del base
    # -slope * (finish - first grid date), taken back where the ramp is complete
    offset = np.subtract(f_days, grid_days[0], dtype=np.float64)
    offset *= slope
    slope_cells = np.broadcast_to(slope, (n_links, runs)).ravel()
    slopes = np.bincount(first.ravel(), weights=slope_cells, minlength=cells)
    slopes -= np.bincount(complete.ravel(), weights=slope_cells, minlength=cells)
    offsets = np.bincount(first.ravel(), weights=offset.ravel(), minlength=cells)
    np.negative(offsets, out=offsets)
    offset += links.delta[0][:, None]
    offsets += np.bincount(complete.ravel(), weights=offset.ravel(), minlength=cells)
    del first, complete, offset, slope_cells
    # (without links bincount returns integers)
    reached = np.asarray(offsets, dtype=np.float64).reshape(n_grid + 1, n_kpis, runs)[:n_grid]
    slope_sums = np.asarray(slopes, dtype=np.float64).reshape(n_grid + 1, n_kpis, runs)[:n_grid]
    # the cumulative sums over the grid dates, one contiguous plane at a time
    for g in range(1, n_grid):
        reached[g] += reached[g - 1]
        slope_sums[g] += slope_sums[g - 1]
    slope_sums *= (grid_days - grid_days[0])[:, None, None]
    reached += slope_sums
    return reached


def fan_frame(
    kpis: pl.DataFrame,
    grid: list[date],
    grid_days: np.ndarray,
    k_t: np.ndarray,
    projected: np.ndarray,
    path: np.ndarray | None,
) -> pl.DataFrame:
    """Rows ``kpi_id, date, p10, p50, p90``: grid dates before each KPI's target, then the target."""
    schema = {"kpi_id": pl.String, "date": pl.Date, "p10": pl.Float64, "p50": pl.Float64, "p90": pl.Float64}
    if path is None or kpis.height == 0:
        return pl.DataFrame(schema=schema)
    ids = np.asarray(kpis["kpi_id"].to_list(), dtype=object)
    g_idx, k_idx = np.nonzero(grid_days[:, None] < k_t[None, :])
    fan = linear_quantiles(path[g_idx, k_idx], (0.1, 0.5, 0.9))  # the gather is a copy: partitioned in place
    end = linear_quantiles(projected.copy(), (0.1, 0.5, 0.9))
    return pl.DataFrame(
        {
            "kpi_id": np.concatenate([ids[k_idx], ids]).tolist(),
            "date": [grid[g] for g in g_idx] + kpis["target_date"].to_list(),
            "p10": np.concatenate([fan[0], end[0]]),
            "p50": np.concatenate([fan[1], end[1]]),
            "p90": np.concatenate([fan[2], end[2]]),
        },
        schema=schema,
    ).sort("kpi_id", "date")
