"""Escalation level and the person to notify (DOMAIN.md section 2, rule 8)."""

from __future__ import annotations

import numpy as np
import polars as pl

from kpi_engine.core.references import Positions
from kpi_engine.core.settings import Settings

#: Who each level reaches, for sentences: level -> role.
ROLES_WITH_KPI = {1: "project owner", 2: "KPI owner", 3: "objective owner"}
ROLES_WITHOUT_KPI = {1: "project owner", 2: "sponsor", 3: "sponsor"}


def _bump(level: pl.Expr) -> pl.Expr:
    """One level more (max 3) when the milestone was Amber or Red in the previous snapshot too."""
    was_bad = pl.col("previous_status").is_in(["Amber", "Red"]) & pl.col("computed_status").is_in(["Amber", "Red"])
    return pl.when(was_bad & (level > 0)).then(pl.min_horizontal(level + 1, pl.lit(3))).otherwise(level)


def pair_escalation(pairs: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Add ``escalation_level``, ``escalate_to`` and ``escalate_role`` to (milestone, KPI) pairs.

    ``pairs`` needs ``computed_status``, ``previous_status``, ``has_finding``, ``misses``,
    ``value_at_risk``, ``project_owner``, ``kpi_owner`` and ``objective_owner``.
    """
    red, amber = pl.col("computed_status") == "Red", pl.col("computed_status") == "Amber"
    level = (
        pl.when((pl.col("value_at_risk") >= settings.escalation_value) | (red & pl.col("misses")))
        .then(3)
        .when(red | pl.col("misses"))
        .then(2)
        .when(amber | pl.col("has_finding"))
        .then(1)
        .otherwise(0)
    )
    return pairs.with_columns(_bump(level).cast(pl.Int64).alias("escalation_level")).with_columns(
        pl.when(pl.col("escalation_level") == 1)
        .then(pl.col("project_owner"))
        .when(pl.col("escalation_level") == 2)
        .then(pl.col("kpi_owner"))
        .when(pl.col("escalation_level") == 3)
        .then(pl.coalesce("objective_owner", "kpi_owner"))
        .alias("escalate_to"),
        # level 3 goes to the KPI's owner when the KPI has no objective (or it has no owner)
        pl.when((pl.col("escalation_level") == 3) & pl.col("objective_owner").is_null())
        .then(pl.lit(ROLES_WITH_KPI[2]))
        .otherwise(pl.col("escalation_level").replace_strict(ROLES_WITH_KPI, default=None, return_dtype=pl.String))
        .alias("escalate_role"),
    )


def milestone_escalation(milestones: pl.DataFrame) -> pl.DataFrame:
    """Add escalation for milestones tied to no KPI: project owner (1), sponsor (2 and 3).

    ``milestones`` needs ``computed_status``, ``previous_status``, ``has_finding``,
    ``project_owner`` and ``sponsor``.
    """
    level = (
        pl.when(pl.col("computed_status") == "Red")
        .then(2)
        .when((pl.col("computed_status") == "Amber") | pl.col("has_finding"))
        .then(1)
        .otherwise(0)
    )
    return milestones.with_columns(_bump(level).cast(pl.Int64).alias("escalation_level")).with_columns(
        pl.when(pl.col("escalation_level") == 1)
        .then(pl.col("project_owner"))
        .when(pl.col("escalation_level") >= 2)
        .then(pl.coalesce("sponsor", "project_owner"))
        .alias("escalate_to"),
        pl.col("escalation_level")
        .replace_strict(ROLES_WITHOUT_KPI, default=None, return_dtype=pl.String)
        .alias("escalate_role"),
    )


def _flag(values: pl.Series) -> np.ndarray:
    """A boolean column as a numpy array, null read as False (a rule's condition that is unknown does not hold)."""
    return values.fill_null(False).to_numpy()


def pair_escalation_at(
    links: pl.DataFrame,
    positions: Positions,
    milestones: pl.DataFrame,
    kpis: pl.DataFrame,
    settings: Settings,
) -> pl.DataFrame:
    """:func:`pair_escalation` on row positions: each link's milestone and KPI rows instead of gathered columns.

    Parameters
    ----------
    links
        Resolvable links with ``value_at_risk``.
    positions
        The row of each link's milestone in ``milestones`` and of its KPI in ``kpis``.
    milestones
        ``computed_status``, ``previous_status``, ``has_finding`` and ``project_owner`` per milestone.
    kpis
        ``misses``, ``owner`` and ``objective_owner`` per KPI.

    Returns
    -------
    pl.DataFrame
        ``links`` with ``escalation_level``, ``escalate_to`` and ``escalate_role``, the same
        values :func:`pair_escalation` gives.
    """
    m, k = positions
    status = milestones["computed_status"]
    red_now, amber_now = _flag(status == "Red"), _flag(status == "Amber")
    was_bad = ((red_now | amber_now) & _flag(milestones["previous_status"].is_in(["Amber", "Red"])))[m]
    red, amber = red_now[m], amber_now[m]
    misses = _flag(kpis["misses"])[k]
    costly = _flag(links["value_at_risk"] >= settings.escalation_value)
    level = np.select(
        [costly | (red & misses), red | misses, amber | _flag(milestones["has_finding"])[m]], [3, 2, 1], default=0
    ).astype(np.int64)
    level = np.where(was_bad & (level > 0), np.minimum(level + 1, 3), level)
    # whom to tell: one gather from the project owners, the KPI owners and the level-3 owners (or nobody)
    n, n_kpis = milestones.height, kpis.height
    no_objective_owner = kpis["objective_owner"].is_null().to_numpy()
    owners = pl.concat(
        [
            milestones["project_owner"].cast(pl.String),
            kpis["owner"].cast(pl.String),
            kpis.select(pl.coalesce("objective_owner", "owner")).to_series().cast(pl.String),
            pl.Series([None], dtype=pl.String),
        ],
        rechunk=True,  # one chunk: a gather from several chunks costs about twice as much
    )
    at = np.choose(level, [np.full(m.size, n + 2 * n_kpis), m, n + k, n + n_kpis + k])
    # level 3 goes to the KPI's owner when the KPI has no objective (or it has no owner)
    role = np.where((level == 3) & no_objective_owner[k], 2, level)
    roles = pl.Series([None, *(ROLES_WITH_KPI[i] for i in (1, 2, 3))], dtype=pl.String)
    return links.with_columns(
        pl.Series("escalation_level", level),
        owners.gather(at).alias("escalate_to"),
        roles.gather(role).alias("escalate_role"),
    )
