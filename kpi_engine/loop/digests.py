"""The digests of a notification run: one per person, their due items worst first.

Pure: :func:`plan_digests` turns :func:`~kpi_engine.loop.status.item_status` and the
people table into :class:`Digest` objects (who, where to, which items); :func:`sent_rows`
turns a delivered digest into rows of the notification log. Rendering is
:mod:`kpi_engine.output.digest`; delivery :mod:`kpi_engine.loop.delivery`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from kpi_engine.loop.log import ITEM_KEY, NOTIFICATION_COLUMNS
from kpi_engine.loop.people import contacts

#: Order of the items of a digest: most money first, then the highest level, then the
#: exception list's own order.
DIGEST_ORDER = ["value_at_risk", "escalation_level", "position"]


@dataclass(frozen=True)
class Digest:
    """One message to one person: the items escalated to them that they must hear about now.

    Attributes
    ----------
    person
        The person as the people sheet names them (else as the data does).
    person_key
        Their key by the owner rule.
    to
        The e-mail address it goes to: theirs, or the PMO's when they have none
        (``forwarded``); None when neither exists (the run reports it as not sent).
    forwarded
        True when the person has no e-mail address and the PMO gets their digest.
    chat
        The webhook their digest is also posted to: their own, else the channel of the
        settings; None for none.
    items
        The due items (rows of the item status), worst first.
    """

    person: str
    person_key: str
    to: str | None
    forwarded: bool
    chat: str | None
    items: pl.DataFrame

    @property
    def value_at_risk(self) -> float:
        """Total value at risk of the digest's items."""
        return float(self.items["value_at_risk"].fill_null(0.0).sum())

    @property
    def label(self) -> str:
        """``Name <address>`` (or the name alone when there is no address), for reports."""
        return f"{self.person} <{self.to}>" if self.to else self.person


def plan_digests(
    status: pl.DataFrame, people: pl.DataFrame, *, pmo_email: str = "", chat_webhook: str = ""
) -> list[Digest]:
    """Group the due items by person into digests, ordered by person name.

    Parameters
    ----------
    status
        :func:`~kpi_engine.loop.status.item_status` of the latest snapshot.
    people
        The snapshot's people table (name, email, chat).
    pmo_email
        Where the digests of people with no e-mail address go; blank for nowhere.
    chat_webhook
        A channel webhook for everyone who has none of their own; blank for none.
    """
    due = status.filter(pl.col("due"))
    if due.height == 0:
        return []
    known = contacts(people)
    due = due.join(known, on="person_key", how="left", maintain_order="left", suffix="_contact")
    digests = []
    for (key,), items in due.partition_by("person_key", as_dict=True, maintain_order=True).items():
        first = items.row(0, named=True)
        email = first["email"]
        chat = first["chat"] or chat_webhook or None
        digests.append(
            Digest(
                person=first["name"] or first["escalate_to"],
                person_key=str(key),
                to=email or pmo_email or None,
                forwarded=email is None,
                chat=chat,
                items=items.sort(DIGEST_ORDER, descending=[True, True, False], nulls_last=True).drop(
                    "name", "email", "chat"
                ),
            )
        )
    return sorted(digests, key=lambda d: (d.person.lower(), d.person_key))


def sent_rows(
    digest: Digest,
    *,
    run_id: int,
    snapshot_id: int,
    as_of: date,
    sent_at: datetime,
    channels: list[str],
) -> pl.DataFrame:
    """The notification-log rows of a digest the servers accepted on ``channels``."""
    return digest.items.select(
        pl.lit(run_id, pl.Int64).alias("run_id"),
        pl.lit(snapshot_id, pl.Int64).alias("snapshot_id"),
        pl.lit(as_of, pl.Date).alias("as_of"),
        pl.lit(sent_at).alias("sent_at"),
        *ITEM_KEY,
        pl.col("escalate_to").alias("person"),
        pl.lit(digest.person_key).alias("person_key"),
        pl.lit(digest.to if "email" in channels else None, pl.String).alias("address"),
        pl.lit(digest.forwarded).alias("forwarded"),
        pl.lit(", ".join(channels)).alias("channels"),
        "escalation_level",
        "reason",
        "value_at_risk",
        "decision_id",
    ).cast(NOTIFICATION_COLUMNS)


def missing_contacts(status: pl.DataFrame, people: pl.DataFrame) -> pl.DataFrame:
    """People named as an escalation target with no e-mail address: a governance finding each.

    Returns
    -------
    pl.DataFrame
        ``person``, ``finding`` ("no contact details"), ``items`` (how many open items
        are escalated to them), ``value_at_risk`` and ``detail`` (a sentence), ordered by
        value at risk, then name.
    """
    known = contacts(people).filter(pl.col("email").is_not_null()).select("person_key")
    targets = status.filter(pl.col("person_key").is_not_null() & (pl.col("escalation_level") >= 1))
    return (
        targets.join(known, on="person_key", how="anti")
        .group_by("person_key")
        .agg(
            pl.col("escalate_to").first().alias("person"),
            pl.len().cast(pl.Int64).alias("items"),
            pl.col("value_at_risk").fill_null(0.0).sum().alias("value_at_risk"),
        )
        .with_columns(
            pl.lit("no contact details").alias("finding"),
            pl.format(
                "{} is named as the person to act on {} open item(s) but has no e-mail address in the people "
                "sheet; their digests go to the PMO address. Add them to the people sheet.",
                pl.col("person"),
                pl.col("items"),
            ).alias("detail"),
        )
        .sort(["value_at_risk", "person"], descending=[True, False])
        .select("person", "finding", "items", "value_at_risk", "detail")
    )
