"""Decisions on items (DOMAIN.md section 6, rule 2): which item, whether the decision holds, who may take it.

Pure checks, shared by the CLI and the dashboard, so that both refuse the same things
with the same words and store nothing: an item that is not open, a decision word that
does not exist, a due date before the snapshot, a workaround without its figures, and, with
sign-in on, anyone but the person the item is escalated to or the PMO.

A workaround's figures are the what-if workaround of DOMAIN.md section 4: from a first
day, at a cost, recovering a fraction of the milestone's value at risk; its net value is
computed exactly as on the What-if page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from kpi_engine.core.errors import InputError, NotFoundError
from kpi_engine.engine.compute import EngineResult
from kpi_engine.loop.log import DECISIONS, NEEDS_DUE
from kpi_engine.loop.people import person_key

#: The longest note a decision keeps: a paragraph or two, enough to say why.
NOTE_CHARS = 2000
#: The longest name of the person who decides.
BY_CHARS = 120


@dataclass(frozen=True)
class DecisionRequest:
    """A decision as someone asks to record it."""

    milestone_id: str | None
    kpi_id: str | None
    finding: str | None
    decision: str
    by: str
    due: date | None = None
    note: str = ""
    cost: float | None = None
    start: date | None = None
    fraction: float | None = None
    #: the project of a finding on a project ("project has no owner"), with ``finding``
    project_id: str | None = None

    def describe_item(self) -> str:
        """The item as the request names it, e.g. ``M3 -> K-OTD`` or ``K-IDLE: no work drives this KPI``."""
        return item_label(
            {
                "milestone_id": self.milestone_id,
                "kpi_id": self.kpi_id,
                "finding": self.finding,
                "finding_project": self.project_id,
            }
        )


def item_label(row: dict[str, Any]) -> str:
    """An item as people name it: ``M3 -> K-OTD``, ``K-IDLE: no work drives this KPI``, ``project P-9: project has no owner``."""
    subject = " -> ".join(p for p in (row["milestone_id"], row["kpi_id"]) if p)
    subject = subject or (f"project {row['finding_project']}" if row.get("finding_project") else "-")
    return f"{subject}: {row['finding']}" if row["finding"] else subject


def find_item(
    status: pl.DataFrame,
    milestone_id: str | None,
    kpi_id: str | None,
    finding: str | None,
    project_id: str | None = None,
) -> dict[str, Any]:
    """Return the open item a milestone, KPI and finding name (one row of the item status).

    Without ``finding`` the item is the milestone's row for that KPI (or its row with no KPI);
    with it, the governance finding on that milestone or KPI (case ignored), or with
    ``project_id`` instead, the finding on that project (``project has no owner``).

    Raises
    ------
    NotFoundError
        No open item matches; the message lists the open items of that milestone, KPI or project.
    InputError
        Neither a milestone nor a KPI (nor a project with a finding) is named.
    """
    if not milestone_id and not kpi_id and not (project_id and finding):
        raise InputError(
            "name the item: its milestone (and KPI), or the milestone, KPI or project of a governance finding"
        )
    if finding:
        match = (pl.col("kind") == "governance") & (pl.col("finding").str.to_lowercase() == finding.strip().lower())
        if milestone_id:
            match &= pl.col("milestone_id") == milestone_id
        if kpi_id:
            match &= pl.col("kpi_id") == kpi_id
        if project_id and not milestone_id and not kpi_id:
            match &= pl.col("finding_project") == project_id
    else:
        match = (
            (pl.col("kind") == "milestone")
            & pl.col("milestone_id").eq_missing(milestone_id or None)
            & pl.col("kpi_id").eq_missing(kpi_id or None)
        )
    found = status.filter(match)
    if found.height:
        return found.row(0, named=True)
    wanted = item_label(
        {"milestone_id": milestone_id, "kpi_id": kpi_id, "finding": finding, "finding_project": project_id}
    )
    near = status.filter(
        (pl.col("milestone_id").eq_missing(milestone_id) & pl.lit(bool(milestone_id)))
        | (pl.col("kpi_id").eq_missing(kpi_id) & pl.lit(bool(kpi_id)))
        | (pl.col("finding_project").eq_missing(project_id) & pl.lit(bool(project_id)))
    )
    if near.height:
        listed = "; ".join(item_label(row) for row in near.iter_rows(named=True))
        named = " or ".join(p for p in (milestone_id, kpi_id, project_id) if p)
        raise NotFoundError(f"no open item {wanted} in the latest snapshot; the open items of {named}: {listed}")
    raise NotFoundError(
        f"no open item {wanted} in the latest snapshot: it is not in the exception list (closed, or never there)"
    )


def check_decision(request: DecisionRequest, as_of: date) -> None:
    """Refuse a decision that cannot be recorded as asked.

    Raises
    ------
    InputError
        An unknown decision word, no name, a name on several lines or too long, a note
        longer than :data:`NOTE_CHARS`, a missing or past due date for ``recover``
        and ``workaround``, or a workaround without a usable cost, first day and fraction.
    """
    if request.decision not in DECISIONS:
        raise InputError(f"unknown decision '{request.decision}'; use one of {', '.join(DECISIONS)}")
    if not request.by.strip():
        raise InputError("say who decides: a decision needs the name of the person who takes it")
    if len(request.by.strip()) > BY_CHARS or any(c in request.by for c in "\r\n"):
        raise InputError(f"the name of who decides must be one line of at most {BY_CHARS} characters")
    if len(request.note.strip()) > NOTE_CHARS:
        raise InputError(
            f"the note is {len(request.note.strip()):,} characters long; shorten it to {NOTE_CHARS:,} characters or fewer"
        )
    if request.decision in NEEDS_DUE and request.due is None:
        raise InputError(f"a {request.decision} decision needs a due date: by when will it be done?")
    if request.due is not None and request.due < as_of:
        raise InputError(
            f"the due date {request.due:%Y-%m-%d} is before the snapshot date {as_of:%Y-%m-%d}; "
            "a decision cannot be due in the past"
        )
    if request.decision == "workaround":
        if request.cost is None or request.start is None or request.fraction is None:
            raise InputError("a workaround needs its cost, its first day and the fraction of the value it recovers")
        if not math.isfinite(request.cost) or request.cost < 0:
            raise InputError(f"the workaround's cost cannot be negative, got {request.cost:g}")
        if not 0 <= request.fraction <= 1:
            raise InputError(f"the fraction recovered must be between 0 and 1, got {request.fraction:g}")
        if not request.milestone_id:
            raise InputError("a workaround recovers a milestone's value: this item has no milestone")


def decider_problem(item: dict[str, Any], by: str, *, is_pmo: bool) -> str | None:
    """Why ``by`` may not decide on ``item`` with sign-in on (None when they may).

    The person the item is now escalated to may decide, matched by the owner rule; so may
    anyone with the PMO role.
    """
    if is_pmo:
        return None
    target = item.get("escalate_to")
    if target and person_key(by) == person_key(target):
        return None
    who = f"{target} (the person it is escalated to)" if target else "the PMO"
    return f"{by} may not decide on this item: only {who} or the PMO may"


@dataclass(frozen=True)
class WorkaroundValue:
    """A workaround's money: what it recovers, what it costs, the difference."""

    recovered_value: float
    cost: float
    net_value: float


def workaround_value(
    result: EngineResult, milestone_id: str, start: date, cost: float, fraction: float
) -> WorkaroundValue:
    """The net value of a workaround on the snapshot, exactly as the What-if page computes it."""
    from kpi_engine.whatif.scenarios import Scenario, Workaround, run_scenario

    scenario = Scenario("decision", (Workaround(milestone_id, start, cost, fraction),))
    mitigations = run_scenario(result.portfolio, scenario, result.settings, base=result).mitigations
    recovered = float(mitigations["recovered_value"].sum())
    return WorkaroundValue(recovered_value=recovered, cost=cost, net_value=recovered - cost)


def decision_row(request: DecisionRequest, item: dict[str, Any], *, snapshot_id: int, as_of: date) -> dict[str, Any]:
    """The values a decision is stored with (:data:`~kpi_engine.loop.log.DECISION_COLUMNS`)."""
    workaround = request.decision == "workaround"
    return {
        "snapshot_id": snapshot_id,
        "as_of": as_of,
        "kind": item["kind"],
        "milestone_id": item["milestone_id"],
        "kpi_id": item["kpi_id"],
        "finding": item["finding"],
        "finding_project": item["finding_project"],
        "decision": request.decision,
        "decided_by": " ".join(request.by.split()),
        "due": request.due,
        "note": request.note.strip() or None,
        "cost": request.cost if workaround else None,
        "start_date": request.start if workaround else None,
        "fraction": request.fraction if workaround else None,
        "value_at_risk": item["value_at_risk"],
        "escalation_level": item["escalation_level"],
        "escalate_to": item["escalate_to"],
    }
