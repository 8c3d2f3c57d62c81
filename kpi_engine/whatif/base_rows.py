"""The unchanged snapshot's rows a scenario reuses, lined up with the schedule's milestones and the KPIs.

A scenario recomputes the figures of the milestones and KPIs its change reaches and
takes everything else from the snapshot's own result. What it takes is derived here once
per (result, schedule) pair and kept (:func:`kpi_engine.whatif.kept.kept`): each
milestone's escalation context and value at risk by schedule row, each KPI's owners and
``misses`` by KPI row, and the escalation rows the differences are measured against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.references import Positions
from kpi_engine.engine.compute import EngineResult
from kpi_engine.engine.schedule import Schedule
from kpi_engine.whatif.kept import kept


@dataclass(frozen=True)
class BaseRows:
    """The snapshot's own figures, by row.

    Attributes
    ----------
    links
        The resolvable links (the engine's canonical ones) and ``positions``: the schedule
        row of each one's milestone and the ``portfolio.kpis`` row of its KPI.
    linked
        Boolean per schedule row: a resolvable link ties the milestone to a KPI.
    milestone_context
        Per schedule row: ``project_owner, sponsor, previous_status, has_finding``.
    kpi_context
        Per KPI row: ``kpi_owner, objective_owner``.
    misses
        Per KPI row: whether the KPI misses its target.
    value_at_risk
        Per schedule row: the sum of its links' value at risk.
    escalation
        Every (milestone, KPI) pair and KPI-less milestone with its escalation:
        ``milestone_id, kpi_id, escalation_level_before, escalate_to_before``.
    """

    links: pl.DataFrame
    positions: Positions
    linked: np.ndarray
    milestone_context: pl.DataFrame
    kpi_context: pl.DataFrame
    misses: np.ndarray
    value_at_risk: np.ndarray
    escalation: pl.DataFrame


def base_rows(base: EngineResult, schedule: Schedule, portfolio: Portfolio) -> BaseRows:
    """Return the :class:`BaseRows` of ``base`` on ``schedule``, derived once and kept while ``base`` lives."""
    return kept(base, "base_rows", lambda: _base_rows(base, schedule, portfolio), schedule, portfolio)


def _base_rows(base: EngineResult, schedule: Schedule, portfolio: Portfolio) -> BaseRows:
    links, positions = schedule.refs.resolvable_links(portfolio.links)
    milestone_ids = schedule.milestones.select("milestone_id")
    by_milestone = milestone_ids.join(
        base.milestones.select("milestone_id", "project_owner", "sponsor", "previous_status", "has_finding"),
        on="milestone_id",
        how="left",
        maintain_order="left",
    )
    by_kpi = portfolio.kpis.select("kpi_id").join(
        base.kpis.select("kpi_id", pl.col("owner").alias("kpi_owner"), "objective_owner", "misses"),
        on="kpi_id",
        how="left",
        maintain_order="left",
    )
    value_at_risk = (
        milestone_ids.join(
            base.links.group_by("milestone_id").agg(pl.col("value_at_risk").sum()),
            on="milestone_id",
            how="left",
            maintain_order="left",
        )["value_at_risk"]
        .fill_null(0.0)
        .to_numpy()
    )
    linked = schedule.refs.linked_milestones(schedule.milestones.height)
    lonely = base.milestones.filter(~pl.col("milestone_id").is_in(links["milestone_id"].implode()))
    escalation = pl.concat(
        [
            base.links.select("milestone_id", "kpi_id", "escalation_level", "escalate_to"),
            lonely.select("milestone_id", pl.lit(None, pl.String).alias("kpi_id"), "escalation_level", "escalate_to"),
        ]
    ).rename({"escalation_level": "escalation_level_before", "escalate_to": "escalate_to_before"})
    return BaseRows(
        links=links,
        positions=positions,
        linked=linked,
        milestone_context=by_milestone.drop("milestone_id"),
        kpi_context=by_kpi.select("kpi_owner", "objective_owner"),
        misses=by_kpi["misses"].fill_null(False).to_numpy(),
        value_at_risk=value_at_risk,
        escalation=escalation,
    )
