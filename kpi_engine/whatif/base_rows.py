"""The unchanged snapshot's rows a scenario reuses, lined up with the schedule's milestones and the KPIs.

A scenario recomputes the figures of the milestones and KPIs its change reaches and
takes everything else from the snapshot's own result. What it takes is derived here once
per (result, schedule) pair and kept (:func:`kpi_engine.whatif.kept.kept`): each
milestone's escalation context and value at risk by schedule row, each KPI's owners and
``misses`` by KPI row, the escalation rows the differences are measured against, and
each governance finding's rows and escalation (for the scenario's complete exception list).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.references import Positions, positions
from kpi_engine.engine.compute import EngineResult, finding_positions, governance_escalation
from kpi_engine.engine.kpis import kpi_starts
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
    kpi_starts
        Per KPI row: the KPI with its projection's starting point
        (:func:`~kpi_engine.engine.kpis.kpi_starts`).
    misses
        Per KPI row: whether the KPI misses its target.
    value_at_risk
        Per schedule row: the sum of its links' value at risk.
    link_escalation
        Per resolvable link: its ``escalation_level_before`` and ``escalate_to_before``.
    milestone_escalation
        The same per schedule row (what a milestone tied to no KPI is escalated by).
    finding_rows
        The schedule row of each governance finding's milestone and the KPI row of its
        KPI (-1 for none), in the order of ``base.governance``.
    governance
        Each governance finding's escalation (who should fix it), in the same order.
    exception_milestones
        The schedule row of each exception row's milestone (-1 for none).
    """

    links: pl.DataFrame
    positions: Positions
    linked: np.ndarray
    milestone_context: pl.DataFrame
    kpi_context: pl.DataFrame
    kpi_starts: pl.DataFrame
    misses: np.ndarray
    value_at_risk: np.ndarray
    link_escalation: pl.DataFrame
    milestone_escalation: pl.DataFrame
    finding_rows: Positions
    governance: pl.DataFrame
    exception_milestones: np.ndarray


def base_rows(base: EngineResult, schedule: Schedule, portfolio: Portfolio) -> BaseRows:
    """Return the :class:`BaseRows` of ``base`` on ``schedule``, derived once and kept while ``base`` lives."""
    return kept(base, "base_rows", lambda: _base_rows(base, schedule, portfolio), schedule, portfolio)


def _base_rows(base: EngineResult, schedule: Schedule, portfolio: Portfolio) -> BaseRows:
    links, link_rows = schedule.refs.resolvable_links(portfolio.links)
    milestone_ids = schedule.milestones.select("milestone_id")
    by_milestone = milestone_ids.join(
        base.milestones.select(
            "milestone_id",
            "project_owner",
            "sponsor",
            "previous_status",
            "has_finding",
            "escalation_level",
            "escalate_to",
        ),
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
    before = {"escalation_level": "escalation_level_before", "escalate_to": "escalate_to_before"}
    finding_rows = finding_positions(base.governance, portfolio.milestones, portfolio.kpis)
    return BaseRows(
        links=links,
        positions=link_rows,
        linked=linked,
        milestone_context=by_milestone.select("project_owner", "sponsor", "previous_status", "has_finding"),
        kpi_context=by_kpi.select("kpi_owner", "objective_owner"),
        kpi_starts=kpi_starts(portfolio.kpis, portfolio.kpi_actuals, portfolio.as_of),
        misses=by_kpi["misses"].fill_null(False).to_numpy(),
        value_at_risk=value_at_risk,
        link_escalation=base.links.select(list(before)).rename(before),
        milestone_escalation=by_milestone.select(list(before)).rename(before),
        finding_rows=finding_rows,
        governance=governance_escalation(base.governance, base.milestones, base.kpis, finding_rows, portfolio.projects),
        exception_milestones=positions([base.exception_rows["milestone_id"]], milestone_ids["milestone_id"])[0],
    )
