"""Frames of the escalation loop that the pages, the CLI and the board workbook show.

Each takes the item status (:func:`~kpi_engine.loop.status.item_status`) and the log and
returns a small frame ready to display: the exception list with its decisions, one
person's inbox, an item's history, the people one can act as, the notification runs.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from kpi_engine.engine.exception_list import CONTEXT_COLUMNS, EXCEPTION_COLUMNS
from kpi_engine.loop.log import ITEM_KEY, item_id
from kpi_engine.loop.people import contacts, person_key, person_key_expr

#: What the CLI's ``exceptions`` adds to each row (CLI.md).
LOOP_FIELDS = ["decision", "decision_by", "decision_due", "first_notified"]

#: Columns of an item's history.
HISTORY_COLUMNS = pl.Schema(
    {
        "kind": pl.String(),
        "milestone_id": pl.String(),
        "kpi_id": pl.String(),
        "finding": pl.String(),
        "finding_project": pl.String(),
        "as_of": pl.Date(),
        "at": pl.Datetime("us"),
        "event": pl.String(),
        "who": pl.String(),
        "escalation_level": pl.Int64(),
        "detail": pl.String(),
    }
)


def exceptions_with_loop(status: pl.DataFrame) -> pl.DataFrame:
    """The exception list as the loop sees it: the re-escalated level and person, and each row's decision.

    ``status`` is the item status of a snapshot; the result keeps the exception list's
    order and columns (DOMAIN.md section 3 and the context columns) with ``new``,
    :data:`LOOP_FIELDS` and the rest of the status after them.
    """
    first = [*EXCEPTION_COLUMNS, *CONTEXT_COLUMNS, "new", *LOOP_FIELDS]
    present = [c for c in first if c in status.columns]
    return status.select(*present, *(c for c in status.columns if c not in present))


def undecided(exceptions: pl.DataFrame) -> pl.DataFrame:
    """The rows nobody has decided on yet (the Exceptions page's "no decision yet" filter)."""
    return exceptions.filter(pl.col("decision").is_null())


def people_to_pick(status: pl.DataFrame, people: pl.DataFrame) -> list[str]:
    """Everyone one can look at My items as: the people sheet and whoever an open item reaches, by name."""
    named = pl.concat(
        [
            contacts(people).select("person_key", "name"),
            status.select("person_key", pl.col("escalate_to").alias("name")).drop_nulls(),
        ]
    ).unique("person_key", keep="first", maintain_order=True)
    return sorted(named["name"].to_list(), key=str.lower)


def person_for_email(people: pl.DataFrame, email: str | None) -> str | None:
    """The name the people sheet gives an e-mail address (case ignored), or None."""
    if not email:
        return None
    found = contacts(people).filter(pl.col("email").str.to_lowercase() == email.strip().lower())
    return found["name"][0] if found.height else None


def my_items(status: pl.DataFrame, person: str) -> pl.DataFrame:
    """The open items escalated to ``person`` (owner rule), worst first."""
    key = person_key(person)
    return status.filter(pl.col("person_key") == key).sort(
        ["decision_overdue", "value_at_risk", "escalation_level", "position"],
        descending=[True, True, True, False],
        nulls_last=True,
    )


def my_decisions(decisions: pl.DataFrame, status: pl.DataFrame, person: str) -> pl.DataFrame:
    """The decisions ``person`` recorded, newest first, with whether each item is still open."""
    key = person_key(person)
    open_items = status.select(item_id(), pl.lit(True).alias("open"))
    return (
        decisions.filter(person_key_expr(pl.col("decided_by")) == key)
        .with_columns(item_id())
        .join(open_items, on="item", how="left")
        .with_columns(pl.col("open").fill_null(False))
        .sort("decision_id", descending=True)
    )


def overdue(status: pl.DataFrame, person: str | None = None) -> pl.DataFrame:
    """Open items whose latest decision is past its due date (of ``person`` only, when given)."""
    rows = status.filter(pl.col("decision_overdue"))
    if person is not None:
        key = person_key(person)
        rows = rows.filter((pl.col("person_key") == key) | (person_key_expr(pl.col("decision_by")) == key))
    return rows


def _reasons_up() -> pl.Expr:
    parts = [
        pl.when(pl.col("raised_by_waiting") > 0).then(
            pl.format("{} days without a decision (+{})", pl.col("days_undecided"), pl.col("raised_by_waiting"))
        ),
        pl.when(pl.col("raised_by_overdue") > 0).then(
            pl.format("a decision went overdue (+{})", pl.col("raised_by_overdue"))
        ),
        pl.when(pl.col("raised_by_escalate") > 0).then(
            pl.format("escalated by a decision (+{})", pl.col("raised_by_escalate"))
        ),
    ]
    return pl.concat_str(parts, separator="; ", ignore_nulls=True)


def item_history(
    status: pl.DataFrame, notifications: pl.DataFrame, decisions: pl.DataFrame, as_of: date
) -> pl.DataFrame:
    """Every item's story: notified, decided, re-escalated, closed (columns :data:`HISTORY_COLUMNS`).

    Rows of the log dated after ``as_of`` are left out. An item the log names that is not
    open any more is "closed" as of ``as_of``; an open item above the engine's level is
    "re-escalated", with the reasons. Ordered by item, then date.
    """
    sent = notifications.filter(pl.col("as_of") <= as_of)
    decided = decisions.filter(pl.col("as_of") <= as_of)
    via = pl.when(pl.col("forwarded")).then(pl.lit(", forwarded to the PMO")).otherwise(pl.lit(""))
    where = pl.when(pl.col("address").is_not_null()).then(pl.format(" <{}>", pl.col("address"))).otherwise(pl.lit(""))
    parts = [
        sent.select(
            *ITEM_KEY,
            "as_of",
            pl.col("sent_at").alias("at"),
            pl.lit("notified").alias("event"),
            pl.col("person").alias("who"),
            "escalation_level",
            pl.format("{}{} by {}{} ({})", pl.col("person"), where, pl.col("channels"), via, pl.col("reason")).alias(
                "detail"
            ),
        ),
        decided.select(
            *ITEM_KEY,
            "as_of",
            pl.col("recorded_at").alias("at"),
            pl.lit("decided").alias("event"),
            pl.col("decided_by").alias("who"),
            "escalation_level",
            pl.concat_str(
                [
                    pl.col("decision"),
                    pl.when(pl.col("due").is_not_null()).then(pl.format("due {}", pl.col("due"))),
                    pl.when(pl.col("decision") == "workaround").then(
                        pl.format(
                            "from {}, cost {}, recovering {}",
                            pl.col("start_date"),
                            pl.col("cost").round(0).cast(pl.Int64),
                            pl.col("fraction"),
                        )
                    ),
                    pl.col("note"),
                ],
                separator="; ",
                ignore_nulls=True,
            ).alias("detail"),
        ),
        status.filter(pl.col("escalation_level") > pl.col("engine_level")).select(
            *ITEM_KEY,
            pl.lit(as_of).alias("as_of"),
            pl.lit(None, pl.Datetime("us")).alias("at"),
            pl.lit("re-escalated").alias("event"),
            pl.col("escalate_to").alias("who"),
            "escalation_level",
            pl.format(
                "from level {} to {} ({}): {}",
                pl.col("engine_level"),
                pl.col("escalation_level"),
                pl.col("escalate_role").fill_null("-"),
                _reasons_up(),
            ).alias("detail"),
        ),
    ]
    logged = pl.concat([p.select(*ITEM_KEY).cast(pl.String) for p in parts[:2]]).unique()
    closed = logged.join(status.select(ITEM_KEY), on=ITEM_KEY, how="anti", nulls_equal=True).select(
        *ITEM_KEY,
        pl.lit(as_of).alias("as_of"),
        pl.lit(None, pl.Datetime("us")).alias("at"),
        pl.lit("closed").alias("event"),
        pl.lit(None, pl.String).alias("who"),
        pl.lit(None, pl.Int64).alias("escalation_level"),
        pl.lit(f"no longer in the exception list of the snapshot of {as_of:%Y-%m-%d}").alias("detail"),
    )
    events = pl.concat([p.cast(HISTORY_COLUMNS) for p in [*parts, closed]])
    order = {"notified": 1, "decided": 0, "re-escalated": 2, "closed": 3}
    return (
        events.with_columns(pl.col("event").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
        .sort([*ITEM_KEY, "as_of", "at", "_order"], nulls_last=True)
        .drop("_order")
    )


def history_of(
    history: pl.DataFrame,
    milestone_id: str | None,
    kpi_id: str | None,
    finding: str | None,
    finding_project: str | None = None,
) -> pl.DataFrame:
    """The events of one item (from :func:`item_history`), oldest first (``finding_project``: see ITEM_KEY)."""
    return history.filter(
        pl.col("milestone_id").eq_missing(milestone_id)
        & pl.col("kpi_id").eq_missing(kpi_id)
        & pl.col("finding").eq_missing(finding)
        & pl.col("finding_project").eq_missing(finding_project)
    )


def runs_table(runs: pl.DataFrame) -> pl.DataFrame:
    """Notification runs for the History page, newest first: when, how many, to whom, what failed."""
    return runs.select(
        "run_id",
        "started_at",
        "as_of",
        "messages",
        "failures",
        pl.col("recipients").list.join(", ").alias("recipients"),
        pl.col("failed").list.join("; ").alias("failed"),
    )


def item_position(rows: pl.DataFrame, milestone_id: str | None, kpi_id: str | None, finding: str | None) -> int | None:
    """The position of an item in ``rows`` (a deep link names it by ids), or None when it is not there."""
    if not (milestone_id or kpi_id):
        return None
    found = rows.with_row_index("_at").filter(
        pl.col("milestone_id").eq_missing(milestone_id or None)
        & pl.col("kpi_id").eq_missing(kpi_id or None)
        & pl.col("finding").eq_missing(finding or None)
    )
    return int(found["_at"][0]) if found.height else None


def item_summary(item: dict[str, Any]) -> str:
    """Where an item stands, in a sentence: level and person, and its latest decision."""
    level, person, role = item.get("escalation_level"), item.get("escalate_to"), item.get("escalate_role")
    where = f"Level {level}: with {person} ({role})." if person else "Nobody is named to act on it."
    raised = int(item.get("escalation_level") or 0) - int(item.get("engine_level") or 0)
    if raised > 0:
        where += f" Raised {raised} level(s) by the loop."
    decision = item.get("decision")
    if decision is None:
        first = item.get("first_notified")
        told = f" First notified {first:%Y-%m-%d}." if isinstance(first, date) else " Not notified yet."
        return f"{where} No decision yet.{told}"
    due = item.get("decision_due")
    due_text = f", due {due:%Y-%m-%d}" if isinstance(due, date) else ""
    late = " It is overdue." if item.get("decision_overdue") else ""
    return f"{where} Decision: {decision} by {item.get('decision_by')}{due_text}.{late}"


def item_title() -> pl.Expr:
    """A title per item: ``M1 Routing software go-live -> Cost per mile``, ``M5 Fuel card renegotiation:
    several owners``, ``KPI K-IDLE Idle hours per truck per week: no work drives this KPI``,
    ``Project P-9 Depot build: project has no owner``."""
    subject = (
        pl.when(pl.col("milestone_id").is_not_null())
        .then(
            pl.concat_str(
                pl.col("milestone_id"), pl.lit(" "), pl.col("milestone_name").fill_null(""), ignore_nulls=True
            )
        )
        .when(pl.col("kpi_id").is_not_null() | pl.col("finding_project").is_null())
        .then(pl.format("KPI {} {}", pl.col("kpi_id").fill_null("?"), pl.col("kpi_name").fill_null("")))
        # the name only when it says more than the id (a project an export created is named by its id)
        .when(pl.col("project_name").is_null() | (pl.col("project_name") == pl.col("finding_project")))
        .then(pl.format("Project {}", pl.col("finding_project")))
        .otherwise(pl.format("Project {} {}", pl.col("finding_project"), pl.col("project_name")))
        .str.strip_chars()
    )
    return (
        pl.when(pl.col("kind") == "governance")
        .then(pl.format("{}: {}", subject, pl.col("finding")))
        .when(pl.col("kpi_name").is_not_null())
        .then(pl.format("{} → {}", subject, pl.col("kpi_name")))
        .otherwise(subject)
    )


def item_labels(rows: pl.DataFrame) -> pl.Series:
    """:func:`item_title` of every row, as a Series named ``item`` (ids only where names are missing)."""
    optional = ("milestone_name", "kpi_name", "project_name", "finding_project")
    names = [pl.lit(None, pl.String).alias(c) for c in optional if c not in rows.columns]
    return rows.with_columns(names).select(item_title().alias("item")).to_series()
