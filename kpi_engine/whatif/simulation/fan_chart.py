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


def _grid_position(days_: np.ndarray, grid_days: np.ndarray) -> np.ndarray:
    """For whole day numbers, how many grid dates fall strictly before each (``np.searchsorted``, left).

    A look-up table over the grid's span of days replaces the binary search.
    """
    first, last = int(grid_days[0]), int(grid_days[-1])
    table = np.searchsorted(grid_days, np.arange(first, last + 2)).astype(np.int32)
    offset = np.subtract(days_, first, dtype=np.int64)
    np.clip(offset, 0, last + 1 - first, out=offset)
    return table[offset]


def reached_on_grid(
    f: np.ndarray, f_days: np.ndarray, links: LinkArrays, n_kpis: int, grid_days: np.ndarray
) -> np.ndarray:
    """Each KPI's movement reached by each grid date: ``(grid date, KPI rank, run)``.

    ``f`` holds the links' finishes (runs x links) as floats, ``f_days`` the same as
    whole day numbers. Instead of evaluating every link's ramp at every grid date, each
    link adds its full movement once, at the first date its ramp is complete (a
    cumulative sum carries it to the later dates), and its partial share only at the few
    dates inside its ramp, with the same float expression as :func:`ramp_share`
    (``delta * (date - finish) / ramp_days``).
    """
    runs, n_links = f.shape
    n_grid = grid_days.size
    ramp_days = np.where(links.eps == 0.0, links.span, 0.0)
    plane = n_kpis * runs  # one grid date's (KPI, run) values
    cells = (n_grid + 1) * plane
    base = links.rank[None, :] * runs + np.arange(runs, dtype=np.int64)[:, None]
    # grid dates are whole days: a date is on or after finish + ramp when it is on or after its ceiling
    complete = _grid_position(f_days + np.ceil(ramp_days).astype(np.int64), grid_days)
    delta = np.broadcast_to(links.delta, (runs, n_links))
    where = complete.astype(np.int64)
    where *= plane
    where += base
    # (without links bincount returns integers)
    full = np.bincount(where.ravel(), weights=delta.ravel(), minlength=cells).astype(np.float64, copy=False)
    full = full.reshape(n_grid + 1, n_kpis, runs)
    del where
    reached = np.cumsum(full[:n_grid], axis=0, out=full[:n_grid])
    first = _grid_position(f_days + 1, grid_days)  # first date after delivery
    ramping = np.nonzero(first < complete)
    if ramping[0].size:
        date_index, stop = first[ramping], complete[ramping]
        cell, column = base[ramping], ramping[1]
        f_ramping = f[ramping]
        at: list[np.ndarray] = []
        share: list[np.ndarray] = []
        while date_index.size:
            at.append(date_index * plane + cell)
            share.append(links.delta[0, column] * ((grid_days[date_index] - f_ramping) / links.span[0, column]))
            date_index = date_index + 1
            more = date_index < stop
            date_index, stop, cell, column, f_ramping = (
                date_index[more],
                stop[more],
                cell[more],
                column[more],
                f_ramping[more],
            )
        partial = np.bincount(np.concatenate(at), weights=np.concatenate(share), minlength=n_grid * plane)
        reached += partial.reshape(n_grid, n_kpis, runs)
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
