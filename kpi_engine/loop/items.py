"""Items and the chain of people each one climbs (DOMAIN.md section 6, rule 3).

An item is an exception row; it is open while the latest snapshot lists it. Each item
climbs one chain of people as its level rises:

- a milestone tied to a KPI: project owner (1), KPI owner (2), objective owner (3, or the
  KPI owner when the objective has none);
- a milestone tied to no KPI, or a governance finding on a milestone: project owner (1),
  project sponsor (2 and 3, or the project owner when there is none);
- a governance finding on a KPI: KPI owner (2), objective owner (3).

At the level the engine computed (section 2, rule 8) the engine's own choice stands (a
KPI whose owner is the problem goes to its objective's owner already at level 2).
"""

from __future__ import annotations

import polars as pl

from kpi_engine.engine.compute import EngineResult
from kpi_engine.loop.log import item_id

#: Who each level of each chain reaches, for sentences.
CHAIN_ROLES = {
    "kpi": {1: "project owner", 2: "KPI owner", 3: "objective owner"},
    "sponsor": {1: "project owner", 2: "sponsor", 3: "sponsor"},
}


def open_items(result: EngineResult) -> pl.DataFrame:
    """Return the exception list of a result with what the loop needs to climb each chain.

    Adds ``finding_project`` (the project of a finding on a project, which has neither
    milestone nor KPI; null otherwise), ``item`` (:func:`~kpi_engine.loop.log.item_id`), ``chain`` (``kpi`` or ``sponsor``),
    ``project_owner``, ``sponsor``, ``objective_owner``, ``engine_level`` (the level of
    rule 8) and ``position`` (the row's place in the engine's order).
    """
    milestones = result.milestones.select("milestone_id", "project_owner", "sponsor")
    kpis = result.kpis.select("kpi_id", "objective_owner")
    on_kpi = (pl.col("kind") == "governance") & pl.col("milestone_id").is_null()
    on_project = on_kpi & pl.col("kpi_id").is_null()
    return (
        result.exceptions.with_row_index("position")
        .join(milestones, on="milestone_id", how="left", maintain_order="left")
        .join(kpis, on="kpi_id", how="left", maintain_order="left")
        .with_columns(pl.when(on_project).then(pl.col("project_id")).alias("finding_project"))
        .with_columns(
            item_id(),
            pl.when(on_kpi | ((pl.col("kind") == "milestone") & pl.col("kpi_id").is_not_null()))
            .then(pl.lit("kpi"))
            .otherwise(pl.lit("sponsor"))
            .alias("chain"),
            pl.col("escalation_level").alias("engine_level"),
            pl.col("position").cast(pl.Int64),
        )
    )


def chain_person(level: pl.Expr) -> pl.Expr:
    """The person ``level`` reaches on each row's chain (null when the data names nobody)."""
    kpi_chain = (
        pl.when(level == 1)
        .then(pl.col("project_owner"))
        .when(level == 2)
        .then(pl.col("kpi_owner"))
        .when(level >= 3)
        .then(pl.coalesce("objective_owner", "kpi_owner"))
    )
    sponsor_chain = (
        pl.when(level == 1).then(pl.col("project_owner")).when(level >= 2).then(pl.coalesce("sponsor", "project_owner"))
    )
    return pl.when(pl.col("chain") == "kpi").then(kpi_chain).otherwise(sponsor_chain)


def chain_role(level: pl.Expr) -> pl.Expr:
    """The role of :func:`chain_person` ("project owner", "KPI owner", "sponsor", ...)."""
    kpi_chain = (
        pl.when(level == 1)
        .then(pl.lit("project owner"))
        .when(level == 2)
        .then(pl.lit("KPI owner"))
        .when((level >= 3) & pl.col("objective_owner").is_not_null())
        .then(pl.lit("objective owner"))
        .when(level >= 3)
        .then(pl.lit("KPI owner"))
    )
    sponsor_chain = (
        pl.when(level == 1)
        .then(pl.lit("project owner"))
        .when((level >= 2) & pl.col("sponsor").is_not_null())
        .then(pl.lit("sponsor"))
        .when(level >= 2)
        .then(pl.lit("project owner"))
    )
    return pl.when(pl.col("chain") == "kpi").then(kpi_chain).otherwise(sponsor_chain)
