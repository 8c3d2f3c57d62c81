"""Escalation level and the person to notify (DOMAIN.md section 2, rule 8)."""

from __future__ import annotations

import polars as pl

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
