"""The notification and decision log: what was sent to whom, and what was decided.

The log is append-only. The store keeps it (:mod:`kpi_engine.store.loop_log`); the loop's
pure functions read it as frames of these schemas. Every row names its item by the item
key of DOMAIN.md section 6, (kind, milestone_id, kpi_id, finding), and the snapshot it
was made on: the loop counts days in snapshot dates, never on the wall clock. A finding on
a project (``project has no owner``) has neither milestone nor KPI, so its key also holds the
project (``finding_project``, null on every other item): two ownerless projects are two items.
"""

from __future__ import annotations

import polars as pl

#: An item: an exception row, keyed as the engine keys them across snapshots.
#: ``finding_project`` is the project of a finding on a project, null on every other item.
ITEM_KEY = ["kind", "milestone_id", "kpi_id", "finding", "finding_project"]

#: The words of a decision (DOMAIN.md section 6, rule 2), in the order a form offers them.
DECISIONS = ("recover", "workaround", "accept", "escalate")
#: Decisions that must say by when.
NEEDS_DUE = ("recover", "workaround")
#: Decisions that put an item in hand: nobody is reminded of it while they stand.
STANDING = ("recover", "workaround", "accept")

#: Why an item is in a digest (CLI.md ``notify``).
REASONS = ("new", "higher level", "overdue", "reminder")

#: One row per item delivered to a person in a notification run.
NOTIFICATION_COLUMNS = pl.Schema(
    {
        "run_id": pl.Int64(),
        "snapshot_id": pl.Int64(),
        "as_of": pl.Date(),
        "sent_at": pl.Datetime("us"),
        "kind": pl.String(),
        "milestone_id": pl.String(),
        "kpi_id": pl.String(),
        "finding": pl.String(),
        "finding_project": pl.String(),
        #: the person the item was escalated to, as the data names them
        "person": pl.String(),
        "person_key": pl.String(),
        #: the e-mail address it went to (the PMO's when ``forwarded``), or null for chat only
        "address": pl.String(),
        "forwarded": pl.Boolean(),
        #: "email", "chat" or "email, chat": the channels that accepted it
        "channels": pl.String(),
        "escalation_level": pl.Int64(),
        "reason": pl.String(),
        "value_at_risk": pl.Float64(),
        #: the decision the item had when it was sent (null when none)
        "decision_id": pl.Int64(),
    }
)

#: One row per decision recorded; never updated, a later one supersedes.
DECISION_COLUMNS = pl.Schema(
    {
        "decision_id": pl.Int64(),
        "recorded_at": pl.Datetime("us"),
        "snapshot_id": pl.Int64(),
        "as_of": pl.Date(),
        "kind": pl.String(),
        "milestone_id": pl.String(),
        "kpi_id": pl.String(),
        "finding": pl.String(),
        "finding_project": pl.String(),
        "decision": pl.String(),
        "decided_by": pl.String(),
        "due": pl.Date(),
        "note": pl.String(),
        #: a workaround's cost, first day and fraction of the value at risk it recovers
        "cost": pl.Float64(),
        "start_date": pl.Date(),
        "fraction": pl.Float64(),
        #: the item as it stood when decided
        "value_at_risk": pl.Float64(),
        "escalation_level": pl.Int64(),
        "escalate_to": pl.String(),
    }
)

#: One row per notification run that sent (or tried to send) something.
RUN_COLUMNS = pl.Schema(
    {
        "run_id": pl.Int64(),
        "started_at": pl.Datetime("us"),
        "snapshot_id": pl.Int64(),
        "as_of": pl.Date(),
        "messages": pl.Int64(),
        "failures": pl.Int64(),
        #: "Name <address>" of every digest the servers accepted
        "recipients": pl.List(pl.String()),
        #: "Name <address>: what the server said" of every digest that was not sent
        "failed": pl.List(pl.String()),
    }
)


def empty_notifications() -> pl.DataFrame:
    """An empty notification log."""
    return pl.DataFrame(schema=NOTIFICATION_COLUMNS)


def empty_decisions() -> pl.DataFrame:
    """An empty decision log."""
    return pl.DataFrame(schema=DECISION_COLUMNS)


def empty_runs() -> pl.DataFrame:
    """An empty list of notification runs."""
    return pl.DataFrame(schema=RUN_COLUMNS)


def item_id() -> pl.Expr:
    """One text per item key (for grouping, joining and links): ``kind|milestone|kpi|finding|project``.

    Parts that are blank (a governance finding on a KPI has no milestone, only a finding on
    a project has a project) are empty; ids are never blank, so no two items share a text.
    """
    return pl.concat_str([pl.col(c).fill_null("") for c in ITEM_KEY], separator="|").alias("item")
