"""The escalation loop without a server: the worked example week by week, runs recorded as sent."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import polars as pl
from builders import fleet_portfolio

from kpi_engine.core.portfolio import Portfolio
from kpi_engine.engine.compute import EngineResult, compute
from kpi_engine.loop.digests import Digest, plan_digests, sent_rows
from kpi_engine.loop.items import open_items
from kpi_engine.loop.log import DECISION_COLUMNS, empty_decisions, empty_notifications
from kpi_engine.loop.status import item_status


@dataclass
class Loop:
    """A portfolio uploaded again and again, with its notification and decision log."""

    portfolio: Portfolio = field(default_factory=fleet_portfolio)
    ack_days: int = 7
    notifications: pl.DataFrame = field(default_factory=empty_notifications)
    decisions: pl.DataFrame = field(default_factory=empty_decisions)
    result: EngineResult | None = None
    snapshot_id: int = 0
    runs: int = 0
    ticks: int = 0

    def _now(self) -> datetime:
        """A clock that moves one minute per event, so events of one snapshot keep their order."""
        self.ticks += 1
        return datetime(2026, 1, 1) + timedelta(minutes=self.ticks)

    def upload(self, as_of: date, portfolio: Portfolio | None = None) -> None:
        """A new snapshot dated ``as_of`` (the same data unless another portfolio is given)."""
        self.snapshot_id += 1
        base = portfolio or self.portfolio
        self.result = compute(replace(base, as_of=as_of), previous=self.result)

    @property
    def as_of(self) -> date:
        assert self.result is not None
        return self.result.portfolio.as_of

    def status(self) -> pl.DataFrame:
        assert self.result is not None
        return item_status(open_items(self.result), self.notifications, self.decisions, self.as_of, self.ack_days)

    def notify(self) -> list[Digest]:
        """One run whose every message the server accepts."""
        assert self.result is not None
        digests = plan_digests(self.status(), self.result.portfolio.people, pmo_email="pmo@fleet.example")
        self.runs += 1
        for digest in digests:
            rows = sent_rows(
                digest,
                run_id=self.runs,
                snapshot_id=self.snapshot_id,
                as_of=self.as_of,
                sent_at=self._now(),
                channels=["email"],
            )
            self.notifications = pl.concat([self.notifications, rows])
        return digests

    def decide(self, milestone_id: str | None, kpi_id: str | None, decision: str, by: str, **extra: object) -> None:
        """Record a decision on the open item of that milestone and KPI (or finding)."""
        status = self.status()
        match = pl.col("milestone_id").eq_missing(milestone_id) & pl.col("kpi_id").eq_missing(kpi_id)
        if "finding" in extra:
            match &= pl.col("finding") == extra.pop("finding")
        item = status.filter(match).row(0, named=True)
        row = {
            "decision_id": self.decisions.height + 1,
            "recorded_at": self._now(),
            "snapshot_id": self.snapshot_id,
            "as_of": self.as_of,
            "kind": item["kind"],
            "milestone_id": item["milestone_id"],
            "kpi_id": item["kpi_id"],
            "finding": item["finding"],
            "decision": decision,
            "decided_by": by,
            "value_at_risk": item["value_at_risk"],
            "escalation_level": item["escalation_level"],
            "escalate_to": item["escalate_to"],
            **extra,
        }
        self.decisions = pl.concat([self.decisions, pl.DataFrame([row], schema=DECISION_COLUMNS)])


def received(digests: list[Digest]) -> dict[str, list[tuple[str, int, str]]]:
    """Person -> (subject of each item, level, reason), as a reader of the digests sees them."""
    return {
        d.person: [
            (row["milestone_id"] or row["kpi_id"], row["escalation_level"], row["reason"])
            for row in d.items.iter_rows(named=True)
        ]
        for d in digests
    }
