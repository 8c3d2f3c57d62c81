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


class GridReach:
    """Each KPI's movement reached by each grid date, for blocks of runs of one size: ``(grid date, KPI rank, run)``.

    Instead of evaluating every link's ramp at every grid date, each link's ramp is written
    as a piecewise-linear function of the date and scattered once into two accumulators:
    from the first grid date after its delivery it adds the slope ``delta / ramp_days`` and
    the offset ``-slope * finish``, and from the first date its ramp is complete it takes
    them back and adds its full ``delta``. A cumulative sum over the grid dates then gives,
    at date ``g``, ``offsets + g * slopes``: each link's ``delta * (g - finish) / ramp_days``
    inside its ramp, ``delta`` after it, 0 before (equal to :func:`ramp_share` up to float
    rounding). A link without a ramp adds its ``delta`` from the first date on or after its
    delivery. Dates are counted from the first grid date, so the products stay small and
    the rounding with them. Links are the outer axis, so one link's runs land side by side,
    and the buffers are allocated once and reused for every block of runs (fresh memory
    costs a page fault per 4 KB).

    Parameters
    ----------
    links
        The links to count (their ``rank`` is the KPI rank).
    n_kpis
        Number of KPIs.
    grid_days
        The grid dates as day numbers, ascending.
    runs
        Runs per block.
    """

    def __init__(self, links: LinkArrays, n_kpis: int, grid_days: np.ndarray, runs: int) -> None:
        n_links, n_grid = links.rank.size, grid_days.size
        has_ramp = links.eps[0] == 0.0
        self.runs, self.n_kpis, self.grid_days = runs, n_kpis, grid_days
        self.slope = np.where(has_ramp, links.delta[0] / links.span[0], 0.0)[:, None]  # (links, 1)
        self.delta = links.delta[0][:, None]
        # grid dates are whole days: a date is on or after finish + ramp when it is on or after its ceiling
        ramp_days = np.ceil(np.where(has_ramp, links.span[0], 0.0)).astype(np.int64)[:, None]
        self.plane = n_kpis * runs  # one grid date's (KPI, run) values
        self.base = ((links.rank * runs)[:, None] + np.arange(runs, dtype=np.int64)[None, :]).ravel()
        first_day, last_day = int(grid_days[0]), int(grid_days[-1])
        self.span = last_day + 1 - first_day
        # days from the first grid date to the first date on or after the end of the ramp, or after delivery
        self.to_complete, self.after_delivery = ramp_days - first_day, 1 - first_day
        # how many grid dates fall strictly before each day of the grid's span, times a plane
        self.table = np.searchsorted(grid_days, np.arange(first_day, last_day + 2)).astype(np.int64) * self.plane
        self.slope_cells = np.repeat(self.slope[:, 0], runs)
        self.days = np.empty((n_links, runs), dtype=np.intp)  # positions for np.take, no cast
        self.first = np.empty(n_links * runs, dtype=np.int64)
        self.complete = np.empty(n_links * runs, dtype=np.int64)
        self.offset = np.empty((n_links, runs))
        self.slopes = np.empty((n_grid + 1) * self.plane)
        self.offsets = np.empty((n_grid + 1) * self.plane)

    def _cells(self, f_days: np.ndarray, shift: np.ndarray | int, out: np.ndarray) -> np.ndarray:
        """The cell of each (link, run) at the first grid date on or after its finish plus ``shift`` days."""
        np.add(f_days, shift, out=self.days)
        np.clip(self.days, 0, self.span, out=self.days)
        np.take(self.table, self.days.ravel(), out=out)
        out += self.base
        return out

    def reached(self, f_days: np.ndarray) -> np.ndarray:
        """The movement reached by each grid date for finishes ``f_days`` ``(links, runs)`` in whole days.

        The result is a view of a buffer that the next call overwrites.
        """
        n_grid = self.grid_days.size
        complete = self._cells(f_days, self.to_complete, self.complete)
        first = self._cells(f_days, self.after_delivery, self.first)
        # -slope * (finish - first grid date), taken back where the ramp is complete
        offset = np.subtract(f_days, self.grid_days[0], out=self.offset)
        offset *= self.slope
        slopes, offsets = self.slopes, self.offsets
        slopes.fill(0.0)
        offsets.fill(0.0)
        np.add.at(slopes, first, self.slope_cells)
        np.subtract.at(slopes, complete, self.slope_cells)
        np.subtract.at(offsets, first, offset.ravel())
        offset += self.delta
        np.add.at(offsets, complete, offset.ravel())
        reached = offsets.reshape(n_grid + 1, self.n_kpis, self.runs)[:n_grid]
        slope_sums = slopes.reshape(n_grid + 1, self.n_kpis, self.runs)[:n_grid]
        # the cumulative sums over the grid dates, one contiguous plane at a time
        for g in range(1, n_grid):
            reached[g] += reached[g - 1]
            slope_sums[g] += slope_sums[g - 1]
        slope_sums *= (self.grid_days - self.grid_days[0])[:, None, None]
        reached += slope_sums
        return reached


def fan_frame(
    kpis: pl.DataFrame,
    grid: list[date],
    grid_days: np.ndarray,
    k_t: np.ndarray,
    projected: np.ndarray,
    path: np.ndarray | None,
    order: np.ndarray,
) -> pl.DataFrame:
    """Rows ``kpi_id, date, p10, p50, p90``: grid dates before each KPI's target, then the target.

    ``path`` holds each KPI's value ``(grid date, KPI rank, run)`` (``order[rank]`` is the
    KPI's row) and is partitioned in place, one grid date at a time; ``projected`` holds
    the values at the targets ``(KPI row, run)``.
    """
    schema = {"kpi_id": pl.String, "date": pl.Date, "p10": pl.Float64, "p50": pl.Float64, "p90": pl.Float64}
    if path is None or kpis.height == 0:
        return pl.DataFrame(schema=schema)
    ids = np.asarray(kpis["kpi_id"].to_list(), dtype=object)
    ranked_ids, ranked_targets = ids[order], k_t[order]
    kpi_ids: list[np.ndarray] = []
    dates: list[date] = []
    fans: list[np.ndarray] = []
    for g, day in enumerate(grid_days):
        before = np.flatnonzero(day < ranked_targets)
        if before.size == 0:
            continue
        plane = path[g] if before.size == ranked_targets.size else path[g, before]
        fans.append(linear_quantiles(plane, (0.1, 0.5, 0.9)))  # a plane of path, or a copy: partitioned in place
        kpi_ids.append(ranked_ids[before])
        dates.extend([grid[g]] * before.size)
    end = linear_quantiles(projected.copy(), (0.1, 0.5, 0.9))
    fan = np.concatenate([*fans, end], axis=1)
    return pl.DataFrame(
        {
            "kpi_id": np.concatenate([*kpi_ids, ids]).tolist(),
            "date": dates + kpis["target_date"].to_list(),
            "p10": fan[0],
            "p50": fan[1],
            "p90": fan[2],
        },
        schema=schema,
    ).sort("kpi_id", "date")
