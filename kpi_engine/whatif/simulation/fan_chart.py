"""The fan chart: each KPI's value at month ends over the runs, and its p10/p50/p90."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from kpi_engine.whatif.simulation.quantiles import linear_quantiles
from kpi_engine.whatif.simulation.run_inputs import LinkArrays, kpi_sums, ramp_in_place, ramp_share, segments, subset


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


#: (link x run) cells of one block of KPIs: keeps a block's accumulators and temporaries in cache.
FAN_BLOCK_CELLS = 250_000


class GridReach:
    """Each KPI's movement reached by each grid date, one block of KPIs at a time: ``(grid date, KPI, run)``.

    Instead of evaluating every link's ramp at every grid date, each link's ramp is written
    as a piecewise-linear function of the date and scattered once into two accumulators:
    from the first grid date after its delivery it adds the slope ``delta / ramp_days`` and
    the offset ``-slope * finish``, and from the first date its ramp is complete it takes
    them back and adds its full ``delta``. A cumulative sum over the grid dates then gives,
    at date ``g``, ``offsets + g * slopes``: each link's ``delta * (g - finish) / ramp_days``
    inside its ramp, ``delta`` after it, 0 before (equal to :func:`ramp_share` up to float
    rounding). A link without a ramp adds its ``delta`` from the first date on or after its
    delivery. Dates are counted from the first grid date, so the products stay small and
    the rounding with them. Links are the outer axis, so one link's runs land side by side.
    The buffers are allocated once, for the largest block, and reused by every block
    (fresh memory costs a page fault per 4 KB).

    Parameters
    ----------
    grid_days
        The grid dates as day numbers, ascending.
    runs
        Runs (the last axis of every block).
    max_links, max_kpis
        The most links and KPIs one block holds.
    """

    def __init__(self, grid_days: np.ndarray, runs: int, max_links: int, max_kpis: int) -> None:
        n_grid = grid_days.size
        self.runs, self.grid_days = runs, grid_days
        first_day, last_day = int(grid_days[0]), int(grid_days[-1])
        self.first_day, self.span = first_day, last_day + 1 - first_day
        self.run_cells = np.arange(runs, dtype=np.int64)[None, :]
        # how many grid dates fall strictly before each day of the grid's span
        self.before = np.searchsorted(grid_days, np.arange(first_day, last_day + 2)).astype(np.int64)
        self.days = np.empty(max_links * runs, dtype=np.intp)  # positions for np.take, no cast
        self.first = np.empty(max_links * runs, dtype=np.int64)
        self.complete = np.empty(max_links * runs, dtype=np.int64)
        self.offset = np.empty(max_links * runs)
        self.slopes = np.empty((n_grid + 1) * max_kpis * runs)
        self.offsets = np.empty((n_grid + 1) * max_kpis * runs)

    def _cells(
        self, f_days: np.ndarray, shift: np.ndarray, base: np.ndarray, table: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """The cell of each (link, run) at the first grid date on or after its finish plus ``shift`` days."""
        days = self.days[: out.size].reshape(f_days.shape)
        np.add(f_days, shift, out=days)
        cells = out.reshape(f_days.shape)
        np.take(table, days, out=cells, mode="clip")  # days before the grid's first or after its last: its ends
        cells += base
        cells += self.run_cells
        return out

    def reached(self, links: LinkArrays, n_kpis: int, f_days: np.ndarray, n_dates: int | None = None) -> np.ndarray:
        """The movement reached by each grid date for finishes ``f_days`` ``(links, runs)`` in whole days.

        ``links.rank`` counts the block's KPIs from 0 (``n_kpis`` of them). Only the first
        ``n_dates`` grid dates are counted (all by default): what falls after them lands in
        the accumulators' last plane, which is never read. The result is a view of a buffer
        that the next call overwrites.
        """
        n_grid, runs = self.grid_days.size if n_dates is None else n_dates, self.runs
        n_cells = f_days.size
        plane = n_kpis * runs  # one grid date's (KPI, run) values
        has_ramp = links.eps[0] == 0.0
        slope = np.where(has_ramp, links.delta[0] / links.span[0], 0.0)[:, None]  # (links, 1)
        # grid dates are whole days: a date is on or after finish + ramp when it is on or after its ceiling
        ramp_days = np.ceil(np.where(has_ramp, links.span[0], 0.0)).astype(np.int64)[:, None]
        table = np.minimum(self.before, n_grid) * plane
        base = (links.rank * runs)[:, None]
        # days from the first grid date to the first date on or after the end of the ramp, or after delivery
        complete = self._cells(f_days, ramp_days - self.first_day, base, table, self.complete[:n_cells])
        first = self._cells(f_days, np.array([[1 - self.first_day]]), base, table, self.first[:n_cells])
        # -slope * (finish - first grid date), taken back where the ramp is complete
        offset = self.offset[:n_cells].reshape(f_days.shape)
        np.subtract(f_days, self.grid_days[0], out=offset)
        offset *= slope
        slope_cells = np.repeat(slope[:, 0], runs)
        size = (n_grid + 1) * plane
        slopes, offsets = self.slopes[:size], self.offsets[:size]
        slopes.fill(0.0)
        offsets.fill(0.0)
        np.add.at(slopes, first, slope_cells)
        np.subtract.at(slopes, complete, slope_cells)
        np.subtract.at(offsets, first, offset.ravel())
        offset += links.delta[0][:, None]
        np.add.at(offsets, complete, offset.ravel())
        reached = offsets.reshape(n_grid + 1, n_kpis, runs)[:n_grid]
        slope_sums = slopes.reshape(n_grid + 1, n_kpis, runs)[:n_grid]
        # the cumulative sums over the grid dates, one contiguous plane at a time
        for g in range(1, n_grid):
            reached[g] += reached[g - 1]
            slope_sums[g] += slope_sums[g - 1]
        slope_sums *= (self.grid_days[:n_grid] - self.grid_days[0])[:, None, None]
        reached += slope_sums
        return reached


def _kpi_blocks(counts: np.ndarray, runs: int) -> list[tuple[int, int]]:
    """Consecutive KPI ranks ``[first, last)`` whose links (``counts`` per rank) fill about :data:`FAN_BLOCK_CELLS`."""
    max_links = max(1, FAN_BLOCK_CELLS // runs)
    max_kpis = max(1, FAN_BLOCK_CELLS // (8 * runs))
    blocks, first, links = [], 0, 0
    for k, count in enumerate(counts.tolist()):
        if k > first and (links + count > max_links or k - first >= max_kpis):
            blocks.append((first, k))
            first, links = k, 0
        links += count
    if counts.size:
        blocks.append((first, counts.size))
    return blocks


def fan_quantiles(
    links: LinkArrays,
    moving: np.ndarray,
    finish: np.ndarray,
    deterministic: np.ndarray,
    start_value: np.ndarray,
    ranked_targets: np.ndarray,
    grid_days: np.ndarray,
) -> np.ndarray:
    """p10, p50 and p90 over the runs of each KPI's value at each grid date before its target.

    Returns ``(3, grid date, KPI rank)``, NaN where the grid date is not before the KPI's
    target. Blocks of KPIs are computed over all runs at once and summarised straight
    away: the values ``(grid date, KPI, run)`` of one block at a time, never those of all
    KPIs. A KPI's value is where it starts, plus each of its links' movement reached by the
    date, less what its links had reached by its start (as :func:`per_run_figures` counts
    the projection); links whose milestone never moves off ``deterministic`` (not
    ``moving``) add the same in every run.

    Parameters
    ----------
    links
        The resolvable links, sorted by KPI rank.
    moving
        Per link: whether its milestone finishes off its deterministic date in some run.
    finish
        Finishes ``(milestones, runs)``, int32 day numbers.
    deterministic
        The plan's own finishes.
    start_value
        Each KPI's value at its latest actual (or baseline), by rank.
    ranked_targets
        Each KPI's target date as a day number, by rank.
    grid_days
        The grid dates as day numbers, ascending.
    """
    n_kpis, runs, n_grid = start_value.size, finish.shape[1], grid_days.size
    fan = np.full((3, n_grid, n_kpis), np.nan)
    needed = grid_days[:, None] < ranked_targets[None, :]  # (grid date, KPI rank)
    # links whose milestone never moves: the same values in every run
    still = subset(links, np.flatnonzero(~moving))
    f_still = deterministic[still.milestone].astype(np.float64)[None, :]
    still_starts, still_ranks = segments(still.rank)
    still_start = ramp_share(still.start + still.eps - f_still, still.span)
    still_already = kpi_sums(still.delta * still_start, still_starts, still_ranks, n_kpis)[0]
    still_reached = np.stack(
        [
            kpi_sums(
                still.delta * ramp_share(day + still.eps - f_still, still.span), still_starts, still_ranks, n_kpis
            )[0]
            for day in grid_days
        ]
    )
    still_reached += start_value[None, :]

    sub = subset(links, np.flatnonzero(moving))
    start_eps = sub.start + sub.eps
    bounds = np.searchsorted(sub.rank, np.arange(n_kpis + 1))  # each rank's links in sub
    blocks = _kpi_blocks(np.diff(bounds), runs)
    widest = max((bounds[b] - bounds[a] for a, b in blocks), default=0)
    grid_reach = GridReach(grid_days, runs, max(1, widest), max((b - a for a, b in blocks), default=1))
    for first, last in blocks:
        if not needed[:, first:last].any():
            continue
        lo, hi = bounds[first], bounds[last]
        block = subset(sub, np.arange(lo, hi))
        block = LinkArrays(**{**vars(block), "rank": block.rank - first})
        f_days = finish[block.milestone]  # (links, runs)
        f = f_days.T.astype(np.float64, order="C")  # (runs, links), as per_run_figures sums them
        at_start = ramp_in_place(np.subtract(start_eps[:, lo:hi], f), block.span)
        kpi_starts, kpi_ranks = segments(block.rank)
        already = kpi_sums(block.delta * at_start, kpi_starts, kpi_ranks, last - first)
        already += still_already[first:last]
        # each KPI needs the grid dates before its target, a prefix of the grid: the longest of the block
        n_dates = int(needed[:, first:last].sum(axis=0).max())
        reached = grid_reach.reached(block, last - first, f_days, n_dates)
        reached += still_reached[:n_dates, first:last, None]
        reached -= already.T[None, :, :]
        for g in range(n_dates):
            rows = np.flatnonzero(needed[g, first:last])
            if rows.size == 0:
                continue
            plane = reached[g] if rows.size == last - first else reached[g, rows]
            fan[:, g, first + rows] = linear_quantiles(plane, (0.1, 0.5, 0.9))  # sorts the plane in place
    return fan


def fan_frame(
    kpis: pl.DataFrame,
    grid: list[date],
    grid_days: np.ndarray,
    k_t: np.ndarray,
    projected: np.ndarray,
    fan: np.ndarray | None,
    order: np.ndarray,
) -> pl.DataFrame:
    """Rows ``kpi_id, date, p10, p50, p90``: grid dates before each KPI's target, then the target.

    ``fan`` holds the quantiles at the grid dates from :func:`fan_quantiles` (``order[rank]``
    is a KPI's row); ``projected`` holds the values at the targets ``(KPI row, run)``.
    """
    schema = {"kpi_id": pl.String, "date": pl.Date, "p10": pl.Float64, "p50": pl.Float64, "p90": pl.Float64}
    if fan is None or kpis.height == 0:
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
        fans.append(fan[:, g, before])
        kpi_ids.append(ranked_ids[before])
        dates.extend([grid[g]] * before.size)
    end = linear_quantiles(projected.copy(), (0.1, 0.5, 0.9))
    fan_rows = np.concatenate([*fans, end], axis=1)
    return pl.DataFrame(
        {
            "kpi_id": np.concatenate([*kpi_ids, ids]).tolist(),
            "date": dates + kpis["target_date"].to_list(),
            "p10": fan_rows[0],
            "p50": fan_rows[1],
            "p90": fan_rows[2],
        },
        schema=schema,
    ).sort("kpi_id", "date")
