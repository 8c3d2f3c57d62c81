"""Which distribution each milestone's random slip is drawn from: overrides, history pools, reference classes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import polars as pl

from kpi_engine.core.bounds import MAX_SLIP_DAYS
from kpi_engine.core.errors import InputError
from kpi_engine.engine.schedule import days

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


Triangle = tuple[float, float, float]


def _typical_interval(intervals: pl.Series) -> float:
    """Median days between two observed moves, at least one day."""
    median = intervals.median()
    return max(1.0, float(median)) if isinstance(median, (int, float)) else 1.0


def check_triangle(owner: str, values: object) -> Triangle:
    """Return ``(min, most likely, max)`` of a slip range given for ``owner``, checked.

    Raises
    ------
    InputError
        Not three finite numbers, below 0, above :data:`~kpi_engine.core.bounds.MAX_SLIP_DAYS`,
        or not ``min <= most likely <= max``.
    """
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
class Pools:
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


def choose_distributions(
    milestones: pl.DataFrame,
    fixed: np.ndarray,
    duration: np.ndarray,
    history: pl.DataFrame | None,
    overrides: Mapping[str, Triangle],
    project_overrides: Mapping[str, Triangle],
    min_project_observations: int,
    min_history_observations: int,
    default_slips: bool,
) -> tuple[pl.DataFrame, Pools | None]:
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
    pools = Pools(
        pooled["moved_days"].to_numpy().astype(np.int64),
        offsets,
        lengths,
        _typical_interval(moves["interval_days"]),
    )
    return chosen, pools
