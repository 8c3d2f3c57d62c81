"""Monte Carlo simulation of slips: distributions of finishes, KPI projections and value at risk.

Every open milestone draws a random extra slip per run; each run is propagated through
the dependencies and the KPI figures of DOMAIN.md section 2 are recomputed. Runs are an
array axis (numpy), propagation goes one topological generation at a time, so 1,000 runs
cost about as much as a few hundred deterministic recomputations.

Where a milestone's slip comes from (first that applies):

1. a triangular ``(min, most likely, max)`` override for the milestone, in days;
2. a triangular override for its project;
3. its project's history, when the project has enough observations: the sum of k
   moves drawn at random (bootstrap) from how much its milestones' computed finishes
   moved between consecutive snapshots, k being the number of snapshot intervals left
   until the milestone's computed finish (capped);
4. the whole portfolio's history, the same way, when it has enough observations;
5. too little history (a first snapshot, a new portfolio): the reference class of the
   milestone's duration, a triangular slip from :data:`REFERENCE_CLASSES` (longer
   milestones slip more), so that a single snapshot still shows a spread. With
   ``default_slips=False`` such milestones draw no slip instead.

Slips are never negative: the computed finish is already the earliest the plan allows,
and a negative slip would let a milestone finish before its predecessors. Milestones that
have finished (or whose finish a scenario sets) do not slip.

>>> result = simulate(portfolio, runs=1000, seed=7, history=milestone_history(store))  # doctest: +SKIP
>>> result.kpis.select("kpi_id", "p_meet", "p80")                                     # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import polars as pl

from kpi_engine.core.bounds import MAX_SLIP_DAYS
from kpi_engine.core.errors import InputError
from kpi_engine.core.money import cents_array, round_cents
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.settings import Settings
from kpi_engine.engine.graph import DependencyGraph
from kpi_engine.engine.kpis import kpi_projection, latest_actuals, link_figures
from kpi_engine.engine.schedule import LATEST_DAY, Schedule, day_number, days, prepare_schedule
from kpi_engine.whatif.scenarios import Scenario, apply_changes

#: A project's own history is used once it holds at least this many observed moves.
MIN_PROJECT_OBSERVATIONS = 20
#: The whole portfolio's history is used once it holds at least this many observed moves;
#: with fewer, milestones draw from their reference class.
MIN_HISTORY_OBSERVATIONS = 20
#: The default slip distribution when there is too little history (docs/choices.md):
#: (longest duration in days, or None for any longer, (min, most likely, max) slip in days).
#: A milestone's duration is ``baseline_finish - baseline_start``, or the days from the
#: snapshot date to its computed finish when it has no baseline start.
REFERENCE_CLASSES: tuple[tuple[int | None, tuple[float, float, float]], ...] = (
    (30, (0.0, 2.0, 14.0)),
    (90, (0.0, 5.0, 30.0)),
    (180, (0.0, 10.0, 45.0)),
    (None, (0.0, 15.0, 90.0)),
)
#: At most this many snapshot intervals of moves are summed for one milestone (a year of weeks).
MAX_STEPS = 52
#: :func:`_history_slips` sums at most 63 moves (two octal digits).
STEP_LIMIT = 63
#: Pre-drawn sums per pool and number of moves (see :func:`_history_slips`); a power of two.
BANK_SIZE = 512
#: Number of (run x link) cells computed at once: keeps each temporary near 8 MB.
CHUNK_CELLS = 1_000_000
#: Most (milestone x run) cells one simulation holds (finishes are 4 bytes a cell).
MAX_CELLS = 50_000_000
#: Simulated finishes are held at or below this day number (int32 with room for any lag
#: or duration added to it); :data:`~kpi_engine.engine.schedule.LATEST_DAY` is far below.
FINISH_CAP = 1 << 29
#: Same tolerance as :func:`kpi_engine.engine.kpis.kpi_projection`: float noise is not a miss.
MISS_TOLERANCE = 1e-9


class SlipDistribution(StrEnum):
    """Where a milestone's random slip comes from (the ``distribution`` column).

    ``distribution_used`` adds the project to the per-project choices and the duration
    to the reference class, e.g. "history: project P-ROUTE", "triangular override:
    project P-DRV", "reference class: 31-90 days".
    """

    TRIANGULAR = "triangular override"
    TRIANGULAR_PROJECT = "triangular override: project"
    HISTORY_PROJECT = "history: project"
    HISTORY_PORTFOLIO = "history: portfolio"
    REFERENCE_CLASS = "reference class"
    NO_HISTORY = "no history: zero"
    FINISHED = "finished: no slip"
    SET_BY_SCENARIO = "finish set by the scenario: no slip"


@dataclass(frozen=True)
class ValueAtRiskDistribution:
    """Total value at risk over all links: per run (``totals``), percentiles and mean
    (higher is worse), and the deterministic figure of the unchanged plan."""

    totals: np.ndarray
    p50: float
    p80: float
    p95: float
    mean: float
    deterministic: float


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate` returns.

    Attributes
    ----------
    runs, seed
        How many runs, and the seed that reproduces them.
    kpis
        Per KPI: ``kpi_id, name, unit, direction, target_value, projected`` (the
        deterministic projection), ``p_meet`` (share of runs meeting the target),
        ``p50, p80, p95`` and ``mean`` of the projected value. ``pXX`` is the value the
        KPI reaches or beats in XX% of runs: the XXth percentile for a lower-is-better
        KPI, the (100 - XX)th for a higher-is-better one.
    milestones
        Per milestone: ``milestone_id, name, project_id, computed_finish`` (deterministic),
        ``p50_finish, p80_finish, p95_finish`` (dates by which that share of runs has
        finished), ``distribution`` (a :class:`SlipDistribution` value) and
        ``distribution_used`` (the text to show, e.g. "history: project P-ROUTE").
    value_at_risk
        Total value at risk per run and its percentiles.
    criticality
        Per linked milestone: ``milestone_id, name, project_id, open, criticality``: the
        share of runs in which one of its links has a non-zero KPI impact on a KPI that
        misses its target in that run; highest first.
    trajectory
        Per KPI and date (``as_of``, each month end before the target date, the target
        date): ``p10, p50, p90`` of the KPI's value, for a fan chart.
    """

    runs: int
    seed: int
    kpis: pl.DataFrame
    milestones: pl.DataFrame
    value_at_risk: ValueAtRiskDistribution
    criticality: pl.DataFrame
    trajectory: pl.DataFrame


# ---------------------------------------------------------------------------- distributions
Triangle = tuple[float, float, float]


def _typical_interval(intervals: pl.Series) -> float:
    """Median days between two observed moves, at least one day."""
    median = intervals.median()
    return max(1.0, float(median)) if isinstance(median, (int, float)) else 1.0


def _check_triangle(owner: str, values: object) -> Triangle:
    try:
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise TypeError
        low, mode, high = (float(v) for v in values)
    except (TypeError, ValueError):
        raise InputError(
            f"the slip range of {owner} must be three numbers of days (min, most likely, max), got {values!r}"
        ) from None
    if not all(math.isfinite(v) for v in (low, mode, high)):
        raise InputError(f"the slip range of {owner} must be finite numbers of days, got {values!r}")
    if low < 0:
        raise InputError(f"the slip range of {owner} cannot start below 0 days, got {low:g}")
    if high > MAX_SLIP_DAYS:
        raise InputError(f"the slip range of {owner} can reach at most {MAX_SLIP_DAYS:,} days, got {high:g}")
    if not low <= mode <= high:
        raise InputError(
            f"the slip range of {owner} must satisfy min <= most likely <= max, got {low:g}, {mode:g}, {high:g}"
        )
    return low, mode, high


def history_moves(history: pl.DataFrame) -> pl.DataFrame:
    """Return the observed moves of open milestones' computed finishes between snapshots.

    Parameters
    ----------
    history
        :func:`kpi_engine.analysis.milestone_history` output.

    Returns
    -------
    pl.DataFrame
        ``project_id, moved_days, interval_days``: one row per milestone and snapshot
        after its first, kept when the milestone was still open at the earlier snapshot
        (its computed finish on or after that snapshot's date), so finished milestones,
        which can no longer move, do not dilute the history.
    """
    ordered = history.sort("milestone_id", "as_of", "snapshot_id").with_columns(
        pl.col("computed_finish").shift(1).over("milestone_id").alias("_prev_finish"),
        pl.col("as_of").shift(1).over("milestone_id").alias("_prev_as_of"),
    )
    return ordered.filter(
        pl.col("moved_days").is_not_null() & (pl.col("_prev_finish") >= pl.col("_prev_as_of"))
    ).select(
        "project_id",
        pl.col("moved_days").cast(pl.Int64),
        (days(pl.col("as_of")) - days(pl.col("_prev_as_of"))).alias("interval_days"),
    )


@dataclass(frozen=True)
class _Pools:
    """Observed moves grouped by pool; pool ``i`` holds ``values[offsets[i]:offsets[i] + lengths[i]]``."""

    values: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    interval_days: float


def reference_class(duration: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """The reference class of a duration in days (:data:`REFERENCE_CLASSES`).

    Returns its label ("0-30 days", ..., "over 180 days") and its slip range
    ``[min, most likely, max]`` as a list.
    """
    label = pl.lit(f"over {REFERENCE_CLASSES[-2][0]} days")
    triangle = pl.lit(list(REFERENCE_CLASSES[-1][1]))
    # built from the last class up: each earlier class wraps the rest
    bounds = [0] + [high + 1 for high, _ in REFERENCE_CLASSES[:-1] if high is not None]
    for (high, values), low in reversed(list(zip(REFERENCE_CLASSES[:-1], bounds, strict=False))):
        inside = duration <= high
        label = pl.when(inside).then(pl.lit(f"{low}-{high} days")).otherwise(label)
        triangle = pl.when(inside).then(pl.lit(list(values))).otherwise(triangle)
    return label, triangle


def _choose_distributions(
    milestones: pl.DataFrame,
    fixed: np.ndarray,
    duration: np.ndarray,
    history: pl.DataFrame | None,
    overrides: Mapping[str, Triangle],
    project_overrides: Mapping[str, Triangle],
    min_project_observations: int,
    min_history_observations: int,
    default_slips: bool,
) -> tuple[pl.DataFrame, _Pools | None]:
    """Pick each milestone's distribution; return ``kind, pool, low, mode, high`` per milestone and the pools."""
    moves = history_moves(history) if history is not None and history.height else None
    if moves is not None and moves.height == 0:
        moves = None
    counts = (
        moves.group_by("project_id")
        .len()
        .filter(pl.col("len") >= min_project_observations)
        .sort("project_id")["project_id"]
        if moves is not None
        else pl.Series("project_id", [], dtype=pl.String)
    )
    # pool 0 is the whole portfolio, pools 1.. the projects with enough history
    pool_index = pl.DataFrame({"project_id": counts, "_pool": np.arange(1, counts.len() + 1, dtype=np.int64)})
    tri = pl.DataFrame(
        {"milestone_id": list(overrides), "_t": [list(v) for v in overrides.values()]},
        schema={"milestone_id": pl.String, "_t": pl.List(pl.Float64)},
    )
    tri_project = pl.DataFrame(
        {"project_id": list(project_overrides), "_tp": [list(v) for v in project_overrides.values()]},
        schema={"project_id": pl.String, "_tp": pl.List(pl.Float64)},
    )
    class_label, class_triangle = reference_class(pl.col("_duration"))
    frame = (
        milestones.select(
            "milestone_id",
            "project_id",
            pl.Series("_fixed", fixed, dtype=pl.Boolean),
            pl.col("actual_finish").is_not_null().alias("_finished"),
            pl.Series("_duration", duration, dtype=pl.Int64),
        )
        .with_columns(
            class_label.alias("_class"),
            class_triangle.cast(pl.List(pl.Float64)).alias("_rc"),
        )
        .join(tri, on="milestone_id", how="left", maintain_order="left")
        .join(tri_project, on="project_id", how="left", maintain_order="left")
        .join(pool_index, on="project_id", how="left", maintain_order="left")
    )
    has_history = moves is not None and moves.height >= min_history_observations
    kind = (
        pl.when(pl.col("_finished"))
        .then(pl.lit(SlipDistribution.FINISHED.value))
        .when(pl.col("_fixed"))
        .then(pl.lit(SlipDistribution.SET_BY_SCENARIO.value))
        .when(pl.col("_t").is_not_null())
        .then(pl.lit(SlipDistribution.TRIANGULAR.value))
        .when(pl.col("_tp").is_not_null())
        .then(pl.lit(SlipDistribution.TRIANGULAR_PROJECT.value))
        .when(pl.col("_pool").is_not_null())
        .then(pl.lit(SlipDistribution.HISTORY_PROJECT.value))
        .when(pl.lit(has_history))
        .then(pl.lit(SlipDistribution.HISTORY_PORTFOLIO.value))
        .when(pl.lit(default_slips))
        .then(pl.lit(SlipDistribution.REFERENCE_CLASS.value))
        .otherwise(pl.lit(SlipDistribution.NO_HISTORY.value))
    )
    reference = pl.col("distribution") == SlipDistribution.REFERENCE_CLASS.value
    triangle = pl.coalesce("_t", "_tp", pl.when(reference).then(pl.col("_rc")))
    chosen = (
        frame.with_columns(kind.alias("distribution"))
        .select(
            "milestone_id",
            "project_id",
            "distribution",
            pl.when(pl.col("distribution") == SlipDistribution.HISTORY_PROJECT.value)
            .then(pl.col("_pool"))
            .when(pl.col("distribution") == SlipDistribution.HISTORY_PORTFOLIO.value)
            .then(pl.lit(0, pl.Int64))
            .alias("pool"),
            triangle.list.get(0, null_on_oob=True).alias("low"),
            triangle.list.get(1, null_on_oob=True).alias("mode"),
            triangle.list.get(2, null_on_oob=True).alias("high"),
            "_class",
        )
        .with_columns(
            pl.when(
                pl.col("distribution").is_in(
                    [SlipDistribution.HISTORY_PROJECT.value, SlipDistribution.TRIANGULAR_PROJECT.value]
                )
            )
            .then(pl.concat_str(pl.col("distribution"), pl.lit(" "), pl.col("project_id")))
            .when(pl.col("distribution") == SlipDistribution.REFERENCE_CLASS.value)
            .then(pl.concat_str(pl.col("distribution"), pl.lit(": "), pl.col("_class")))
            .otherwise(pl.col("distribution"))
            .alias("distribution_used")
        )
        .drop("_class")
    )
    if moves is None:
        return chosen, None
    pooled = pl.concat(
        [
            moves.select(pl.lit(0, pl.Int64).alias("_pool"), "moved_days"),
            moves.join(pool_index, on="project_id").select("_pool", "moved_days"),
        ]
    ).sort("_pool", maintain_order=True)
    lengths = pooled.group_by("_pool").len().sort("_pool")["len"].to_numpy().astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    pools = _Pools(
        pooled["moved_days"].to_numpy().astype(np.int64),
        offsets,
        lengths,
        _typical_interval(moves["interval_days"]),
    )
    return chosen, pools


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
    rng: np.random.Generator, pools: _Pools, pool: np.ndarray, steps: np.ndarray, runs: int
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


def _draw_slips(
    rng: np.random.Generator,
    chosen: pl.DataFrame,
    pools: _Pools | None,
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
        slips[hist] = np.maximum(drawn, 0, out=drawn)
    return slips


# ---------------------------------------------------------------------------- per-run figures
def _month_ends(start: date, end: date) -> list[date]:
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


def _segments(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets of runs of equal values in sorted ``keys``, and the value of each run."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64), keys
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, keys[starts]


def _confidence(values: np.ndarray, lower_is_better: np.ndarray, q: float) -> np.ndarray:
    """Per row, the value reached or beaten in a share ``q`` of the runs."""
    high = np.quantile(values, q, axis=1, method="inverted_cdf")
    low = np.quantile(values, 1.0 - q, axis=1, method="inverted_cdf")
    return np.where(lower_is_better, high, low)


@dataclass(frozen=True)
class _Links:
    """The resolvable links as row vectors ``(1, L)``, sorted by KPI (latest target first), then input order.

    Runs are rows and links columns in the per-run arrays: sums per KPI and per milestone
    are then ``reduceat`` along contiguous rows, about three times faster than down columns.
    Ramps are written so that one expression serves both kinds of link with the same float
    operations as :func:`kpi_engine.engine.kpis.ramp`: ``clip((elapsed + eps) / span, 0, 1)`` with
    ``span = ramp_days, eps = 0`` for a ramp (exactly ``elapsed / ramp_days``), and
    ``span = 1e-9, eps = 0.5`` for none (0 before delivery, 1 from the day of delivery).
    """

    milestone: np.ndarray
    rank: np.ndarray
    delta: np.ndarray
    span: np.ndarray
    eps: np.ndarray
    value_per_week: np.ndarray
    baseline: np.ndarray
    target: np.ndarray
    start: np.ndarray
    counted_from: np.ndarray


def _ramp(elapsed_plus_eps: np.ndarray, span: np.ndarray) -> np.ndarray:
    share = elapsed_plus_eps / span
    return np.clip(share, 0.0, 1.0, out=share)


@dataclass(frozen=True)
class _Reference:
    """The deterministic figures each run is measured against, KPIs in rank order.

    Runs are computed as the reference plus the sum of their per-link differences from it,
    so a run that equals the deterministic schedule reproduces the engine's own figures
    bit for bit, whatever order the engine summed its links in.
    """

    projected: np.ndarray  # (KPIs,) kpi_projection's values
    start_value: np.ndarray  # (KPIs,) the value at the latest actual (or the baseline)
    gain: np.ndarray  # (1, L) each link's KPI movement by the target
    value_at_risk: float  # link_figures' total
    link_value_at_risk: np.ndarray  # (1, L)


def _subset(links: _Links, columns: np.ndarray) -> _Links:
    """The links at ``columns`` (indices into the link axis), in the same order."""
    return _Links(
        milestone=links.milestone[columns],
        rank=links.rank[columns],
        **{
            name: getattr(links, name)[:, columns]
            for name in ("delta", "span", "eps", "value_per_week", "baseline", "target", "start", "counted_from")
        },
    )


def _moving_links(links: _Links, finish: np.ndarray, deterministic: np.ndarray) -> np.ndarray:
    """Whether each link's milestone finishes off its deterministic date in some run.

    The other links add nothing to a run's difference from the reference (their per-run
    figures are the reference's own), so only these enter the (runs x links) arrays.
    """
    linked = np.unique(links.milestone)
    rows = finish[linked]
    steady = (rows.min(axis=1) == deterministic[linked]) & (rows.max(axis=1) == deterministic[linked])
    moving = np.ones(finish.shape[0], dtype=bool)
    moving[linked[steady]] = False
    return moving[links.milestone]


def _kpi_sums(values: np.ndarray, kpi_starts: np.ndarray, kpi_ranks: np.ndarray, n_kpis: int) -> np.ndarray:
    """Per row, the sum of ``values`` (rows x links, links grouped by KPI) for each KPI rank; 0 for a KPI without links."""
    out = np.zeros((values.shape[0], n_kpis))
    if kpi_starts.size:
        out[:, kpi_ranks] = np.add.reduceat(values, kpi_starts, axis=1)
    return out


def _grid_position(days_: np.ndarray, grid_days: np.ndarray) -> np.ndarray:
    """For whole day numbers, how many grid dates fall strictly before each (``np.searchsorted``, left).

    A look-up table over the grid's span of days replaces the binary search.
    """
    first, last = int(grid_days[0]), int(grid_days[-1])
    table = np.searchsorted(grid_days, np.arange(first, last + 2)).astype(np.int32)
    offset = np.subtract(days_, first, dtype=np.int64)
    np.clip(offset, 0, last + 1 - first, out=offset)
    return table[offset]


def _reached_on_grid(
    f: np.ndarray, f_days: np.ndarray, links: _Links, n_kpis: int, grid_days: np.ndarray
) -> np.ndarray:
    """Each KPI's movement reached by each grid date: ``(grid date, KPI rank, run)``.

    ``f`` holds the links' finishes (runs x links) as floats, ``f_days`` the same as
    whole day numbers. Instead of evaluating every link's ramp at every grid date, each
    link adds its full movement once, at the first date its ramp is complete (a
    cumulative sum carries it to the later dates), and its partial share only at the few
    dates inside its ramp, with the same float expression as :func:`_ramp`
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


def _per_run(
    links: _Links,
    finish: np.ndarray,
    deterministic: np.ndarray,
    reference: _Reference,
    k_target: np.ndarray,
    k_lower: np.ndarray,
    grid_days: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Per-run figures from finishes ``(milestones, runs)``; KPIs in rank order.

    Returns the projected value ``(KPI rank, run)``, the value at risk per run, in how
    many runs each linked milestone is critical, those milestones' indices and, when
    ``grid_days`` is given, each KPI's value ``(grid date, KPI rank, run)`` for the fan chart.

    Only links whose milestone moves off its deterministic finish in some run enter the
    (runs x links) arrays; the others keep the reference's figures in every run (they add
    nothing to a run's difference from it) and are hurt, or not, in the runs where their
    KPI misses.
    """
    n_kpis, runs = reference.projected.size, finish.shape[1]
    by_milestone = np.argsort(links.milestone, kind="stable")
    m_starts, m_with_links = _segments(links.milestone[by_milestone])
    moving = _moving_links(links, finish, deterministic)
    mov, steady = np.flatnonzero(moving), np.flatnonzero(~moving)
    sub = _subset(links, mov)
    kpi_starts, kpi_ranks = _segments(sub.rank)
    gain = reference.gain[:, mov]
    link_value_at_risk = reference.link_value_at_risk[:, mov]
    target_eps, start_eps = sub.target + sub.eps, sub.start + sub.eps
    # days counted run from counted_from to the target (inclusive); none when the target comes first
    last_counted = np.maximum(sub.target + 1.0, sub.counted_from)
    no_negative_values = bool((sub.value_per_week >= 0).all())
    reach_at_target = _ramp(sub.target - sub.baseline + sub.eps, sub.span)

    # steady links: their finish is the deterministic one in every run
    still = _subset(links, steady)
    f_still = deterministic[still.milestone].astype(np.float64)[None, :]
    still_at_target = _ramp(still.target + still.eps - f_still, still.span)
    still_reach = _ramp(still.target - still.baseline + still.eps, still.span)
    still_hurts = (f_still > still.baseline) & (np.abs(still.delta * (still_reach - still_at_target)) > 1e-12)
    hurting = steady[still_hurts[0]]
    still_starts, still_ranks = _segments(still.rank)
    path = None
    if grid_days is not None:
        path = np.empty((grid_days.size, n_kpis, runs))
        still_start = _ramp(still.start + still.eps - f_still, still.span)
        still_already = _kpi_sums(still.delta * still_start, still_starts, still_ranks, n_kpis)[0]
        still_reached = np.stack(
            [
                _kpi_sums(
                    still.delta * _ramp(day + still.eps - f_still, still.span), still_starts, still_ranks, n_kpis
                )[0]
                for day in grid_days
            ]
        )

    projected = np.empty((runs, n_kpis))
    value_at_risk = np.empty(runs)
    critical = np.zeros(m_with_links.size, dtype=np.int64)
    chunk = max(1, CHUNK_CELLS // max(1, mov.size))
    for lo in range(0, runs, chunk):
        hi = min(runs, lo + chunk)
        f_days = np.ascontiguousarray(finish[sub.milestone, lo:hi].T)  # (runs, moving links)
        f = f_days.astype(np.float64)
        at_target = _ramp(target_eps - f, sub.span)
        at_start = _ramp(start_eps - f, sub.span)
        change = np.subtract(at_target, at_start)
        change *= sub.delta
        change -= gain
        value = np.repeat(reference.projected[None, :], hi - lo, axis=0)
        if kpi_starts.size:
            value[:, kpi_ranks] += np.add.reduceat(change, kpi_starts, axis=1)
        del change
        projected[lo:hi] = value
        misses = np.where(k_lower, value - k_target, k_target - value) > MISS_TOLERANCE
        # each link's value to the cent, as link_figures counts it
        lost = np.clip(f, sub.counted_from, last_counted)
        lost -= sub.counted_from
        lost *= sub.value_per_week
        lost /= 7.0
        _cents_in_place(lost, no_negative_values)
        lost -= link_value_at_risk
        value_at_risk[lo:hi] = reference.value_at_risk + lost.sum(axis=1)
        del lost
        hurts = np.zeros((hi - lo, links.milestone.size), dtype=bool)
        gap = np.subtract(reach_at_target, at_target, out=at_target)
        gap *= sub.delta
        np.abs(gap, out=gap)
        moved_hurts = gap > 1e-12
        moved_hurts &= f > sub.baseline
        moved_hurts &= misses[:, sub.rank]
        hurts[:, mov] = moved_hurts
        hurts[:, hurting] = misses[:, links.rank[hurting]]
        if m_starts.size:
            critical += np.logical_or.reduceat(hurts[:, by_milestone], m_starts, axis=1).sum(axis=0)
        if path is not None and grid_days is not None:
            already = _kpi_sums(sub.delta * at_start, kpi_starts, kpi_ranks, n_kpis) + still_already
            reached = _reached_on_grid(f, f_days, sub, n_kpis, grid_days)
            reached += still_reached[:, :, None]
            reached += reference.start_value[None, :, None]
            reached -= already.T[None, :, :]
            path[:, :, lo:hi] = reached
    return projected.T, value_at_risk, critical, m_with_links, path


def _cents_in_place(amounts: np.ndarray, non_negative: bool = False) -> np.ndarray:
    """:func:`kpi_engine.core.money.cents_array` without temporaries (the same float operations).

    With ``non_negative`` (every amount at least 0) the sign handling is skipped.
    """
    sign = None if non_negative else np.signbit(amounts)
    if sign is not None:
        np.abs(amounts, out=amounts)
    amounts *= 100
    amounts += 0.5
    np.floor(amounts, out=amounts)
    amounts /= 100
    if sign is not None:
        np.negative(amounts, out=amounts, where=sign)
    return amounts


def simulate(
    portfolio: Portfolio,
    settings: Settings | None = None,
    runs: int = 1000,
    seed: int = 0,
    history: pl.DataFrame | None = None,
    overrides: Mapping[str, Triangle] | None = None,
    project_overrides: Mapping[str, Triangle] | None = None,
    base_schedule: Schedule | None = None,
    scenario: Scenario | None = None,
    min_project_observations: int = MIN_PROJECT_OBSERVATIONS,
    max_steps: int = MAX_STEPS,
    trajectory: bool = True,
    min_history_observations: int = MIN_HISTORY_OBSERVATIONS,
    default_slips: bool = True,
) -> SimulationResult:
    """Draw random slips for every open milestone and summarise ``runs`` propagated outcomes.

    Parameters
    ----------
    portfolio
        The snapshot.
    settings
        Thresholds and currency (kept for symmetry with the engine; the simulated
        figures do not depend on them).
    runs
        Number of runs (at least 1).
    seed
        Seed of the random generator: the same inputs and seed give the same output.
    history
        :func:`kpi_engine.analysis.milestone_history` up to this snapshot; without it
        (or with too little of it) milestones without an override draw from their
        reference class (:data:`REFERENCE_CLASSES`).
    overrides
        Milestone id -> triangular ``(min, most likely, max)`` slip in days.
    project_overrides
        Project id -> triangular slip in days for each of its open milestones.
    base_schedule
        The snapshot's prepared schedule, when already at hand.
    scenario
        A what-if scenario to simulate on top of (its slips and set finishes apply to
        every run; workarounds are ignored here).
    min_project_observations
        Observed moves a project needs before its own history is used.
    max_steps
        Most snapshot intervals of moves summed for one milestone (1 to 63).
    trajectory
        Also compute the per-KPI fan chart (the costliest summary).
    min_history_observations
        Observed moves the whole portfolio needs before its history is used.
    default_slips
        Whether milestones with too little history draw from their reference class
        (True) or draw no slip, every run following the plan (False).

    Raises
    ------
    InputError
        Fewer than one run or more than :data:`MAX_CELLS` (milestones x runs), an
        override naming an unknown milestone or project, or an override range that is
        not ``0 <= min <= most likely <= max``.
    ScenarioError
        When ``scenario`` does not fit the snapshot.
    """
    del settings  # the simulated figures do not depend on thresholds
    _check_run_counts(runs, max_steps)
    schedule = base_schedule if base_schedule is not None else prepare_schedule(portfolio)
    milestones = schedule.milestones
    _check_size(runs, milestones.height)
    overrides, project_overrides = _checked_overrides(portfolio, milestones, overrides, project_overrides)
    plan = _plan(portfolio, schedule, scenario)
    as_of = day_number(portfolio.as_of)
    chosen, pools = _choose_distributions(
        milestones,
        plan.fixed,
        _durations(milestones, plan.deterministic, as_of),
        history,
        overrides,
        project_overrides,
        min_project_observations,
        min_history_observations,
        default_slips,
    )
    finish = _simulated_finishes(schedule, plan, chosen, pools, as_of, runs, seed, max_steps)
    kpis = _ranked_kpis(portfolio)
    links = _link_arrays(portfolio, milestones, portfolio.kpis["kpi_id"].gather(kpis.order), kpis.ranked)
    grid = [
        portfolio.as_of,
        *_month_ends(portfolio.as_of, max(portfolio.kpis["target_date"].to_list(), default=portfolio.as_of)),
    ]
    grid_days = np.array([day_number(d) for d in grid], dtype=np.float64)
    reference, engine_projected = _reference(portfolio, schedule, plan.deterministic, links, kpis)
    projected, value_at_risk, critical, m_with_links, path = _per_run(
        links,
        finish,
        plan.deterministic,
        reference,
        kpis.ranked["target_value"].to_numpy(),
        kpis.ranked["lower"].to_numpy(),
        grid_days if trajectory else None,
    )
    back = np.argsort(kpis.order)  # rank of each KPI row
    projected = projected[back]
    if path is not None:
        path = path[:, back]
    milestone_frame = _milestone_summary(milestones, plan, finish, chosen)
    del finish
    return SimulationResult(
        runs=runs,
        seed=seed,
        kpis=_kpi_summary(portfolio.kpis, kpis.start, projected, engine_projected),
        milestones=milestone_frame,
        value_at_risk=_value_at_risk_summary(value_at_risk, reference.value_at_risk),
        criticality=_criticality(milestones, plan.fixed, m_with_links, critical, runs),
        trajectory=_fan(portfolio.kpis, grid, grid_days, kpis.start["t"].to_numpy(), projected, path),
    )


# ---------------------------------------------------------------------------- the steps of simulate
def _check_run_counts(runs: int, max_steps: int) -> None:
    """Refuse a number of runs below 1 (or not a whole number) and a ``max_steps`` out of range.

    Raises
    ------
    InputError
        Naming the value given.
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise InputError(f"the number of runs must be a whole number of at least 1, got {runs!r}")
    if not 1 <= max_steps <= STEP_LIMIT:
        raise InputError(f"max_steps must be between 1 and {STEP_LIMIT}, got {max_steps}")


def _check_size(runs: int, n: int) -> None:
    """Refuse a simulation of more than :data:`MAX_CELLS` (milestones x runs), naming the runs that fit.

    Raises
    ------
    InputError
        The simulation would not fit.
    """
    if n * runs > MAX_CELLS:
        raise InputError(
            f"{runs:,} runs on {n:,} milestones is more than one simulation can hold; "
            f"use at most {max(1, MAX_CELLS // max(n, 1)):,} runs"
        )


def _checked_overrides(
    portfolio: Portfolio,
    milestones: pl.DataFrame,
    overrides: Mapping[str, Triangle] | None,
    project_overrides: Mapping[str, Triangle] | None,
) -> tuple[dict[str, Triangle], dict[str, Triangle]]:
    """Return the milestone and project slip ranges, each checked and naming something in the snapshot.

    Raises
    ------
    InputError
        A range that is not ``0 <= min <= most likely <= max``, or an unknown milestone or project.
    """
    by_milestone = {str(k): _check_triangle(f"milestone '{k}'", v) for k, v in (overrides or {}).items()}
    by_project = {str(k): _check_triangle(f"project '{k}'", v) for k, v in (project_overrides or {}).items()}
    unknown = sorted(set(by_milestone) - set(milestones["milestone_id"].to_list()))
    if unknown:
        raise InputError(
            f"slip ranges name milestones that are not in the snapshot of {portfolio.as_of}: " + ", ".join(unknown)
        )
    unknown = sorted(set(by_project) - set(portfolio.projects["project_id"].to_list()))
    if unknown:
        raise InputError(
            f"slip ranges name projects that are not in the snapshot of {portfolio.as_of}: " + ", ".join(unknown)
        )
    return by_milestone, by_project


@dataclass(frozen=True)
class _Plan:
    """The plan every run starts from: the scenario's changes applied, and its deterministic finishes."""

    own: np.ndarray
    fixed: np.ndarray
    extra: np.ndarray
    deterministic: np.ndarray


def _plan(portfolio: Portfolio, schedule: Schedule, scenario: Scenario | None) -> _Plan:
    """Apply the scenario's slips and set finishes (if any) and compute the deterministic finishes.

    Raises
    ------
    ScenarioError
        The scenario does not fit the snapshot.
    """
    if scenario is not None:
        applied = apply_changes(portfolio, schedule, scenario)
        own, fixed, extra = applied.own, applied.fixed, applied.extra
    else:
        own, fixed, extra = schedule.own, schedule.fixed, np.zeros(schedule.milestones.height, dtype=np.int64)
    return _Plan(own, fixed, extra, schedule.finish(extra=extra, own=own, fixed=fixed))


def _durations(milestones: pl.DataFrame, deterministic: np.ndarray, as_of: int) -> np.ndarray:
    """Each milestone's planned duration in days, which picks its reference class.

    Without a baseline start, the days from ``as_of`` to its deterministic finish (at least 0).
    """
    return (
        milestones.select(
            (days(pl.col("baseline_finish")) - days(pl.col("baseline_start"))).fill_null(
                pl.Series(np.maximum(deterministic - as_of, 0))
            )
        )
        .to_series()
        .to_numpy()
    )


def _simulated_finishes(
    schedule: Schedule,
    plan: _Plan,
    chosen: pl.DataFrame,
    pools: _Pools | None,
    as_of: int,
    runs: int,
    seed: int,
    max_steps: int,
) -> np.ndarray:
    """Draw every run's slips and propagate them: finishes ``(milestones, runs)`` as int32 day numbers."""
    rng = np.random.default_rng(seed)
    slips = _draw_slips(rng, chosen, pools, plan.deterministic, as_of, runs, max_steps)
    if plan.extra.any():
        slips += np.minimum(plan.extra, FINISH_CAP).astype(np.int32)[:, None]
    finish = propagate_runs(schedule.graph, plan.own, plan.fixed, slips)
    # a random finish past the last date any calendar holds stops there: every figure
    # (KPI ramps, value at risk) is already settled long before it
    np.minimum(finish, LATEST_DAY, out=finish)
    return finish


def propagate_runs(graph: DependencyGraph, own: np.ndarray, fixed: np.ndarray, slips: np.ndarray) -> np.ndarray:
    """Propagate every run's slips through the dependency levels, in place: finishes ``(milestones, runs)``.

    The same rule as :func:`kpi_engine.engine.graph.propagate` (a milestone finishes at the
    latest of its own date and each predecessor's finish plus the edge's days, then its
    slip is added; fixed milestones keep their own date), on int32 day numbers with runs
    as the second axis, one vectorised step per topological level. ``slips`` (int32) is
    overwritten with the finishes and returned. Finishes are held at or below
    :data:`FINISH_CAP` (far past any calendar) so that no chain of slips overflows int32.

    Parameters
    ----------
    graph
        The snapshot's dependency graph.
    own
        Each milestone's own earliest finish, day numbers ``(milestones,)``.
    fixed
        Milestones that neither slip nor follow their predecessors.
    slips
        Extra days per (milestone, run), int32, at least 0.
    """
    own32 = np.minimum(own, FINISH_CAP).astype(np.int32)
    finish = slips
    finish[fixed] = 0
    np.minimum(finish, FINISH_CAP, out=finish)
    finish += own32[:, None]
    for edges in graph.edge_slices:
        src, dst = graph.src[edges], graph.dst[edges]
        if src.size == 0:
            continue
        candidate = finish[src]
        candidate += graph.weight[edges].astype(np.int32)[:, None]
        # edges are sorted by successor within a level: one reduceat per level
        starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
        targets = dst[starts]
        free = ~fixed[targets]
        best = np.maximum.reduceat(candidate, starts, axis=0)[free]
        targets = targets[free]
        # a milestone is updated once, at its own level: its finish so far is its own date plus its slip
        current = finish[targets]
        best -= own32[targets][:, None]
        best += current
        np.maximum(current, best, out=current)
        np.minimum(current, FINISH_CAP, out=current)
        finish[targets] = current
    return finish


@dataclass(frozen=True)
class _RankedKpis:
    """Each KPI's start, target and direction (``start``, in input order) and the same ranked latest target first.

    ``ranked`` is ``start[order]``: ``order[rank]`` is the KPI's row (see :func:`_per_run`).
    """

    start: pl.DataFrame
    order: np.ndarray
    ranked: pl.DataFrame


def _ranked_kpis(portfolio: Portfolio) -> _RankedKpis:
    """Per KPI: where it starts (latest actual, else baseline), its target and direction, ranked."""
    kpis = portfolio.kpis
    start = kpis.join(
        latest_actuals(portfolio.kpi_actuals, portfolio.as_of), on="kpi_id", how="left", maintain_order="left"
    ).select(
        days(pl.coalesce("actual_date", "period_start")).alias("a"),
        pl.coalesce("actual_value", "baseline_value").alias("v"),
        days(pl.col("target_date")).alias("t"),
        days(pl.col("period_start")).alias("ps"),
        pl.col("target_value"),
        (pl.col("direction") == "lower_is_better").alias("lower"),
    )
    order = np.argsort(-start["t"].to_numpy(), kind="stable")
    return _RankedKpis(start, order, start[order])


def _reference(
    portfolio: Portfolio, schedule: Schedule, deterministic: np.ndarray, links: _Links, kpis: _RankedKpis
) -> tuple[_Reference, pl.Series]:
    """The engine's own figures for the deterministic plan, and its projection per KPI (input order).

    Every run is measured against them, so a run that follows the plan reproduces the engine.
    """
    reference_milestones = schedule.with_finish(deterministic)
    known, positions = schedule.refs.resolvable_links(portfolio.links)
    engine_kpis = portfolio.kpis.select("kpi_id").join(
        kpi_projection(
            portfolio.kpis, portfolio.kpi_actuals, known, reference_milestones, portfolio.as_of, positions
        ).select("kpi_id", "projected"),
        on="kpi_id",
        how="left",
        maintain_order="left",
    )
    engine_value_at_risk = round_cents(
        float(link_figures(known, reference_milestones, portfolio.kpis, positions)["value_at_risk"].sum())
    )
    f_det = deterministic[links.milestone].astype(np.float64)[None, :]
    inside_det = np.maximum(np.minimum(f_det, links.target + 1.0) - links.counted_from, 0.0)
    reference = _Reference(
        projected=engine_kpis["projected"].to_numpy()[kpis.order],
        start_value=kpis.ranked["v"].to_numpy(),
        gain=links.delta
        * (_ramp(links.target + links.eps - f_det, links.span) - _ramp(links.start + links.eps - f_det, links.span)),
        value_at_risk=engine_value_at_risk,
        link_value_at_risk=cents_array(links.value_per_week * inside_det / 7.0),
    )
    return reference, engine_kpis["projected"]


def _milestone_summary(milestones: pl.DataFrame, plan: _Plan, finish: np.ndarray, chosen: pl.DataFrame) -> pl.DataFrame:
    """Per milestone: deterministic finish, p50/p80/p95 finishes over the runs, and the distribution used.

    Milestones that cannot move keep their deterministic finish (no quantile over equal values).
    """
    varying = np.flatnonzero(~plan.fixed)
    quantiles = np.repeat(plan.deterministic[None, :], 3, axis=0)
    if varying.size:
        kth = order_statistics(finish.shape[1], (0.5, 0.8, 0.95))
        moving = finish[varying]
        moving.partition(kth, axis=1)
        quantiles[:, varying] = moving[:, kth].T
    return milestones.select("milestone_id", "name", "project_id").with_columns(
        pl.Series("computed_finish", plan.deterministic.astype(np.int32)).cast(pl.Date),
        *[
            pl.Series(name, quantiles[i].astype(np.int32)).cast(pl.Date)
            for i, name in enumerate(["p50_finish", "p80_finish", "p95_finish"])
        ],
        chosen["distribution"],
        chosen["distribution_used"],
    )


def order_statistics(runs: int, shares: tuple[float, ...]) -> np.ndarray:
    """Positions in ``runs`` sorted values of the ``inverted_cdf`` quantiles at ``shares``.

    ``np.partition`` at these positions gives what ``np.quantile(..., method="inverted_cdf")``
    gives, without sorting or copying per quantile; the positions are numpy's own (its
    quantile of the ranks ``0 .. runs - 1``).
    """
    return np.quantile(np.arange(runs), shares, method="inverted_cdf").astype(np.int64)


def _kpi_summary(
    kpis: pl.DataFrame, start: pl.DataFrame, projected: np.ndarray, engine_projected: pl.Series
) -> pl.DataFrame:
    """Per KPI: the deterministic projection, the share of runs meeting the target, percentiles and mean."""
    lower, target = start["lower"].to_numpy(), start["target_value"].to_numpy()
    gap = np.where(lower[:, None], projected - target[:, None], target[:, None] - projected)
    return (
        kpis.select("kpi_id", "name", "unit", "direction", "target_value")
        .with_columns(
            pl.Series("p_meet", (gap <= MISS_TOLERANCE).mean(axis=1)),
            *[pl.Series(f"p{int(q * 100)}", _confidence(projected, lower, q)) for q in (0.5, 0.8, 0.95)],
            pl.Series("mean", projected.mean(axis=1)),
            engine_projected,
        )
        .select(
            "kpi_id", "name", "unit", "direction", "target_value", "projected", "p_meet", "p50", "p80", "p95", "mean"
        )
    )


def _value_at_risk_summary(value_at_risk: np.ndarray, deterministic: float) -> ValueAtRiskDistribution:
    """Total value at risk per run, to the cent, with its percentiles, mean and the plan's own figure."""
    totals = cents_array(value_at_risk)
    var_q = np.quantile(totals, [0.5, 0.8, 0.95], method="inverted_cdf")
    return ValueAtRiskDistribution(
        totals,
        float(var_q[0]),
        float(var_q[1]),
        float(var_q[2]),
        round_cents(float(totals.mean())),
        deterministic,
    )


def _criticality(
    milestones: pl.DataFrame, fixed: np.ndarray, m_with_links: np.ndarray, critical: np.ndarray, runs: int
) -> pl.DataFrame:
    """Per linked milestone: the share of runs in which it hurts a KPI that misses; highest first."""
    return (
        milestones[m_with_links]
        .select("milestone_id", "name", "project_id")
        .with_columns(pl.Series("open", ~fixed[m_with_links]), pl.Series("criticality", critical / runs))
        .sort(["criticality", "milestone_id"], descending=[True, False])
    )


def _link_arrays(portfolio: Portfolio, milestones: pl.DataFrame, ranked_ids: pl.Series, ranked: pl.DataFrame) -> _Links:
    """The resolvable links as row vectors, sorted by KPI rank then input order."""
    index = pl.DataFrame(
        {"milestone_id": milestones["milestone_id"], "_m": np.arange(milestones.height, dtype=np.int64)}
    )
    kpi_rank = pl.DataFrame({"kpi_id": ranked_ids, "_k": np.arange(ranked_ids.len(), dtype=np.int64)})
    links = (
        portfolio.links.with_row_index("_row")
        .join(index, on="milestone_id")
        .join(kpi_rank, on="kpi_id")
        .join(milestones.select("milestone_id", days(pl.col("baseline_finish")).alias("_bf")), on="milestone_id")
        .sort("_k", "_row")
    )
    rank = links["_k"].to_numpy()

    def column(values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float64)[None, :]

    ramp_days = links["ramp_days"].to_numpy()
    has_ramp = ramp_days > 0
    baseline = column(links["_bf"].to_numpy())
    return _Links(
        milestone=links["_m"].to_numpy(),
        rank=rank,
        delta=column(links["kpi_delta"].to_numpy()),
        span=column(np.where(has_ramp, ramp_days, 1e-9)),
        eps=column(np.where(has_ramp, 0.0, 0.5)),
        value_per_week=column(links["value_per_week"].to_numpy()),
        baseline=baseline,
        target=column(ranked["t"].to_numpy()[rank]),
        start=column(ranked["a"].to_numpy()[rank]),
        counted_from=np.maximum(baseline, column(ranked["ps"].to_numpy()[rank])),
    )


def _fan(
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
    fan = np.quantile(path[g_idx, k_idx], [0.1, 0.5, 0.9], axis=1)
    end = np.quantile(projected, [0.1, 0.5, 0.9], axis=1)
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
