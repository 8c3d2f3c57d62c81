"""Where each open item stands in the escalation loop (DOMAIN.md section 6, rules 1-5).

:func:`item_status` is a pure function of the open items, the notification and decision
log and the snapshot date. It re-escalates each item on top of the engine's level, names
the person it now reaches, and says whether a notification run must tell them now, and
why (``new``, ``higher level``, ``overdue`` or ``reminder``).

Choices where the specification leaves room (docs/escalation.md says the same):

- Days are snapshot dates. An item is "first notified" on the date of the snapshot the
  first run that reached anyone about it was made on; a decision counts from the date of
  the snapshot it was recorded on.
- The days without a decision are the days since the item was first notified that no
  standing decision (``recover``, ``workaround``, ``accept``) covered; an ``escalate``
  decision hands the item up and leaves it undecided for the next person. Each full
  ``ack_days`` of them is one level more.
- A ``recover`` or ``workaround`` decision counts as overdue once its due date is before
  the snapshot date while it is the latest decision; one superseded before its due date
  never counts.
- An accepted item is sent again, as a ``reminder``, once its value at risk exceeds the
  value it had when it was accepted, and again each time it grows beyond what was sent.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from kpi_engine.loop.items import chain_person, chain_role
from kpi_engine.loop.log import ITEM_KEY, NEEDS_DUE, STANDING, item_id
from kpi_engine.loop.people import person_key_expr

#: Columns :func:`item_status` adds to the open items.
STATUS_COLUMNS: dict[str, pl.DataType] = {
    "escalation_level": pl.Int64(),
    "escalate_to": pl.String(),
    "escalate_role": pl.String(),
    "person_key": pl.String(),
    "first_notified": pl.Date(),
    "last_notified": pl.Date(),
    "days_undecided": pl.Int64(),
    "raised_by_waiting": pl.Int64(),
    "raised_by_overdue": pl.Int64(),
    "raised_by_escalate": pl.Int64(),
    "decision_id": pl.Int64(),
    "decision": pl.String(),
    "decision_by": pl.String(),
    "decision_due": pl.Date(),
    "decision_note": pl.String(),
    "decision_as_of": pl.Date(),
    "decision_overdue": pl.Boolean(),
    "in_hand": pl.Boolean(),
    "due": pl.Boolean(),
    "reason": pl.String(),
}


def _days(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_days()


def item_status(
    items: pl.DataFrame,
    notifications: pl.DataFrame,
    decisions: pl.DataFrame,
    as_of: date,
    ack_days: int,
) -> pl.DataFrame:
    """Re-escalate every open item and decide who must be told about it now, and why.

    Parameters
    ----------
    items
        The open items: :func:`~kpi_engine.loop.items.open_items` of the snapshot.
    notifications
        The notification log (:data:`~kpi_engine.loop.log.NOTIFICATION_COLUMNS`); rows of
        snapshots dated after ``as_of`` are ignored, so an older snapshot shows the loop as
        it stood then.
    decisions
        The decision log (:data:`~kpi_engine.loop.log.DECISION_COLUMNS`), likewise.
    as_of
        The snapshot date.
    ack_days
        Days of snapshot dates an item may wait for a decision before it goes up a level.

    Returns
    -------
    pl.DataFrame
        ``items`` in their order with ``escalation_level``, ``escalate_to`` and
        ``escalate_role`` replaced by the re-escalated ones (the engine's level stays in
        ``engine_level``) and the columns of :data:`STATUS_COLUMNS`: the latest decision,
        whether it is overdue, whether the item is in hand, and whether it is ``due`` to
        its person now with its ``reason``.
    """
    now = pl.lit(as_of, dtype=pl.Date)
    sent = notifications.filter(pl.col("as_of") <= as_of).with_columns(item_id())
    decided = decisions.filter(pl.col("as_of") <= as_of).with_columns(item_id())

    notified = sent.group_by("item").agg(
        pl.col("as_of").min().alias("first_notified"),
        pl.col("as_of").max().alias("last_notified"),
        pl.col("escalation_level").max().alias("_max_level_sent"),
    )

    # Each decision stands from its snapshot date until the next decision's (or now).
    history = (
        decided.sort("decision_id")
        .join(notified.select("item", "first_notified"), on="item", how="left")
        .with_columns(pl.col("as_of").shift(-1).over("item").alias("_next_as_of"))
    )
    standing_until = pl.min_horizontal(pl.col("_next_as_of").fill_null(now), now)
    standing_from = pl.max_horizontal("as_of", "first_notified")
    covered = (
        pl.when(pl.col("decision").is_in(STANDING) & pl.col("first_notified").is_not_null())
        .then(_days(standing_until, standing_from).clip(lower_bound=0))
        .otherwise(0)
    )
    overdue_passed = (
        pl.col("decision").is_in(NEEDS_DUE)
        & (pl.col("due") < now)
        & (pl.col("_next_as_of").is_null() | (pl.col("_next_as_of") > pl.col("due")))
    )
    per_item = history.group_by("item").agg(
        covered.sum().alias("_covered"),
        overdue_passed.sum().cast(pl.Int64).alias("raised_by_overdue"),
        (pl.col("decision") == "escalate").sum().cast(pl.Int64).alias("raised_by_escalate"),
        pl.col("decision_id").last(),
        pl.col("decision").last(),
        pl.col("decided_by").last().alias("decision_by"),
        pl.col("due").last().alias("decision_due"),
        pl.col("note").last().alias("decision_note"),
        pl.col("as_of").last().alias("decision_as_of"),
        pl.col("value_at_risk").last().alias("_decision_value"),
    )

    replaced = ("escalation_level", "escalate_to", "escalate_role")
    status = (
        items.drop([c for c in STATUS_COLUMNS if c in items.columns and c not in replaced])
        .rename({"escalation_level": "_engine_level_now", "escalate_to": "_engine_to", "escalate_role": "_engine_role"})
        .join(notified, on="item", how="left", maintain_order="left")
        .join(per_item, on="item", how="left", maintain_order="left")
        .with_columns(
            pl.col("raised_by_overdue").fill_null(0),
            pl.col("raised_by_escalate").fill_null(0),
            pl.when(pl.col("first_notified").is_not_null())
            .then((_days(now, pl.col("first_notified")) - pl.col("_covered").fill_null(0)).clip(lower_bound=0))
            .alias("days_undecided"),
        )
        .with_columns((pl.col("days_undecided").fill_null(0) // ack_days).cast(pl.Int64).alias("raised_by_waiting"))
    )
    level = pl.min_horizontal(
        pl.col("_engine_level_now")
        + pl.col("raised_by_waiting")
        + pl.col("raised_by_overdue")
        + pl.col("raised_by_escalate"),
        pl.lit(3),
    ).cast(pl.Int64)
    # the engine's level names the engine's person; a higher one climbs the item's chain
    engine_person = pl.col("_engine_to")
    status = status.with_columns(level.alias("escalation_level")).with_columns(
        pl.when(pl.col("escalation_level") == pl.col("_engine_level_now"))
        .then(engine_person)
        .otherwise(pl.coalesce(chain_person(pl.col("escalation_level")), engine_person))
        .alias("escalate_to"),
        pl.when(pl.col("escalation_level") == pl.col("_engine_level_now"))
        .then(pl.col("_engine_role"))
        .when(chain_person(pl.col("escalation_level")).is_not_null())
        .then(chain_role(pl.col("escalation_level")))
        .otherwise(pl.col("_engine_role"))
        .alias("escalate_role"),
    )
    # each distinct person once (an item list names a few thousand people for 100,000 rows)
    keys = status.select(pl.col("escalate_to").unique().drop_nulls()).with_columns(
        person_key_expr(pl.col("escalate_to")).alias("person_key")
    )
    status = status.join(keys, on="escalate_to", how="left", maintain_order="left")

    # What the person the item reaches now was already told.
    to_person = sent.group_by("item", "person_key").agg(
        pl.col("escalation_level").max().alias("_max_level_to_person"),
        pl.col("as_of").max().alias("_last_to_person"),
    )
    overdue_told = (
        sent.filter(pl.col("reason") == "overdue")
        .select("item", "decision_id")
        .unique()
        .with_columns(pl.lit(True).alias("_overdue_told"))
    )
    told_under_decision = sent.group_by("item", "decision_id").agg(
        pl.col("value_at_risk").max().alias("_value_told_under_decision")
    )
    status = (
        status.join(to_person, on=["item", "person_key"], how="left", maintain_order="left")
        .join(overdue_told, on=["item", "decision_id"], how="left", maintain_order="left")
        .join(told_under_decision, on=["item", "decision_id"], how="left", maintain_order="left")
    )

    decision = pl.col("decision")
    overdue = decision.is_in(NEEDS_DUE) & (pl.col("decision_due") < now)
    cents = pl.col("value_at_risk").round(2)
    grown = (
        (decision == "accept")
        & (cents > pl.col("_decision_value").round(2))
        & (pl.col("_value_told_under_decision").is_null() | (cents > pl.col("_value_told_under_decision").round(2)))
    )
    undecided = decision.is_null() | (decision == "escalate")
    reached = pl.col("escalate_to").is_not_null() & (pl.col("escalation_level") >= 1)
    told_at_level = pl.col("_max_level_to_person").fill_null(0) >= pl.col("escalation_level")
    remind = (
        (pl.col("escalation_level") == 3)
        & pl.col("_last_to_person").is_not_null()
        & (_days(now, pl.col("_last_to_person")) >= ack_days)
    )
    was_lower = pl.col("_max_level_sent").is_not_null() & (pl.col("_max_level_sent") < pl.col("escalation_level"))
    reason = (
        pl.when(~reached)
        .then(pl.lit(None, pl.String))
        .when(overdue & pl.col("_overdue_told").is_null())
        .then(pl.lit("overdue"))
        .when(grown)
        .then(pl.lit("reminder"))
        .when(undecided & ~told_at_level & was_lower)
        .then(pl.lit("higher level"))
        .when(undecided & ~told_at_level)
        .then(pl.lit("new"))
        .when(undecided & remind)
        .then(pl.lit("reminder"))
    )
    status = status.with_columns(
        overdue.fill_null(False).alias("decision_overdue"),
        (decision.is_in(STANDING) & ~overdue.fill_null(False)).fill_null(False).alias("in_hand"),
        reason.alias("reason"),
    ).with_columns(pl.col("reason").is_not_null().alias("due"))
    extra = [c for c in status.columns if c.startswith("_")]
    return status.drop(extra).with_columns([pl.col(c).cast(t) for c, t in STATUS_COLUMNS.items()])


__all__ = ["ITEM_KEY", "STATUS_COLUMNS", "item_status"]
