"""The drill-down of a finding on a project ("project has no owner"): the project, its milestones, what to do.

A finding on a project names neither a milestone nor a KPI, so it has no causal chain to
draw. What the PMO needs instead is the project itself: who (nobody) answers for it, the
milestones that hang on it and how to name its owner.

>>> view = project_finding(result, "Depot electrification")   # doctest: +SKIP
>>> view.headline("USD")                                       # doctest: +SKIP
'Project Depot electrification has no owner: 4 milestones, 1 late, 0 USD of value at risk.'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from kpi_engine.engine.compute import EngineResult

#: Columns of :attr:`ProjectFinding.milestones`, in the order a table shows them.
PROJECT_MILESTONE_COLUMNS = [
    "milestone_id",
    "name",
    "owner",
    "baseline_finish",
    "computed_finish",
    "slip_days",
    "computed_status",
    "reported_status",
    "value_at_risk",
]


def finding_on_project(row: Mapping[str, Any]) -> str | None:
    """The project an exception row's finding is on, or None when the row is about a milestone or a KPI.

    >>> finding_on_project({"kind": "governance", "milestone_id": None, "kpi_id": None, "project_id": "P-9"})
    'P-9'
    >>> finding_on_project({"kind": "governance", "milestone_id": "M5", "kpi_id": None, "project_id": "P-1"})
    """
    on_nothing_else = row.get("milestone_id") is None and row.get("kpi_id") is None
    return row.get("project_id") if row.get("kind") == "governance" and on_nothing_else else None


def project_title(project_id: str, name: str | None) -> str:
    """A project as people name it: its id, then its name when the name says more.

    >>> project_title("RTE", "Fleet routing platform")
    'RTE Fleet routing platform'
    >>> project_title("Depot build", "Depot build")
    'Depot build'
    """
    return project_id if not name or name == project_id else f"{project_id} {name}"


@dataclass(frozen=True)
class ProjectFinding:
    """One project as the drill-down of a finding on it shows it.

    Attributes
    ----------
    project_id, name
        The project's id and name.
    owner, sponsor
        Its owner and sponsor (None when blank: "project has no owner").
    program, portfolio
        Where it sits (None when blank).
    milestones
        Its milestones (:data:`PROJECT_MILESTONE_COLUMNS`), latest computed finish last.
    """

    project_id: str
    name: str
    owner: str | None
    sponsor: str | None
    program: str | None
    portfolio: str | None
    milestones: pl.DataFrame

    @property
    def title(self) -> str:
        """The project's id and name (:func:`project_title`)."""
        return project_title(self.project_id, self.name)

    @property
    def value_at_risk(self) -> float:
        """Value at risk over the project's milestones (0 when none)."""
        return float(self.milestones["value_at_risk"].fill_null(0.0).sum())

    @property
    def late(self) -> int:
        """How many of its open milestones finish after their baseline (one done late is not counted)."""
        open_late = (pl.col("slip_days").fill_null(0) > 0) & (pl.col("computed_status") != "Complete")
        return self.milestones.select(open_late.sum()).item()

    def headline(self, currency: str) -> str:
        """One sentence: who answers for the project and what hangs on it."""
        n = self.milestones.height
        count = f"{n} milestone" + ("" if n == 1 else "s")
        where = ", ".join(p for p in (self.program, self.portfolio) if p)
        where = f" ({where})" if where else ""
        who = f"owner {self.owner}" if self.owner else "no owner"
        return (
            f"Project {self.title}{where} has {who}: {count}, {self.late} late, "
            f"{self.value_at_risk:,.0f} {currency} of value at risk."
        )

    def what_to_do(self) -> list[str]:
        """The steps that close the finding, in order."""
        if self.owner:
            return [f"The project's owner is {self.owner}; the finding closes with the next snapshot."]
        steps = [
            "Name one accountable person as the project's owner: upload a projects sheet with the row "
            f"of project '{self.project_id}' giving its owner (and sponsor); the finding closes with that snapshot.",
            "Until then, exceptions on its milestones that escalate to the project owner (level 1) reach nobody, "
            "and findings on them go to the PMO.",
        ]
        if self.sponsor is None:
            steps.append(
                "It has no sponsor either: exceptions on its milestones that escalate to the sponsor "
                "(levels 2 and 3) reach nobody as well; name one with the owner."
            )
        return steps


def project_finding(result: EngineResult, project_id: str) -> ProjectFinding | None:
    """Return the project a finding names with its milestones, or None when the snapshot has no such project.

    Parameters
    ----------
    result
        The snapshot's engine result.
    project_id
        The project of the finding (the exception row's ``project_id``).
    """
    project = result.portfolio.projects.filter(pl.col("project_id") == project_id)
    if project.height == 0:
        return None
    row = project.row(0, named=True)
    milestones = (
        result.milestones.filter(pl.col("project_id") == project_id)
        .sort("computed_finish", "milestone_id", nulls_last=True)
        .select(PROJECT_MILESTONE_COLUMNS)
    )
    return ProjectFinding(
        project_id=project_id,
        name=row["name"] or project_id,
        owner=row["owner"],
        sponsor=row["sponsor"],
        program=row["program"],
        portfolio=row["portfolio"],
        milestones=milestones,
    )
