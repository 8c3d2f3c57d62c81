"""The exception list: what needs a decision, ordered by money (DOMAIN.md section 3)."""

from __future__ import annotations

from typing import TypeVar

import polars as pl

from kpi_engine.core.text import kpi_value, thousands

#: Columns of an exception row, in the order of DOMAIN.md section 3 (CLI JSON uses these names).
EXCEPTION_COLUMNS: dict[str, pl.DataType] = {
    "kind": pl.String(),
    "milestone_id": pl.String(),
    "milestone_name": pl.String(),
    "project_id": pl.String(),
    "project_name": pl.String(),
    "owner": pl.String(),
    "kpi_id": pl.String(),
    "kpi_name": pl.String(),
    "kpi_owner": pl.String(),
    "baseline_finish": pl.Date(),
    "computed_finish": pl.Date(),
    "slip_days": pl.Int64(),
    "reported_status": pl.String(),
    "computed_status": pl.String(),
    "watermelon": pl.Boolean(),
    "kpi_projected": pl.Float64(),
    "kpi_target": pl.Float64(),
    "kpi_shortfall": pl.Float64(),
    "kpi_impact": pl.Float64(),
    "value_at_risk": pl.Float64(),
    "escalation_level": pl.Int64(),
    "escalate_to": pl.String(),
    "why": pl.String(),
}

#: Extra columns kept for filtering and drill-down (not part of the CLI contract).
CONTEXT_COLUMNS: dict[str, pl.DataType] = {
    "finding": pl.String(),
    "program": pl.String(),
    "portfolio": pl.String(),
    "objective_id": pl.String(),
    "objective_name": pl.String(),
    "escalate_role": pl.String(),
}

SORT_KEYS = ["value_at_risk", "kpi_shortfall", "slip_days"]


def _lateness() -> pl.Expr:
    slip = pl.col("slip_days")
    return (
        pl.when(slip > 0)
        .then(pl.format("{} days late", slip))
        .when(slip < 0)
        .then(pl.format("{} days early", -slip))
        .otherwise(pl.lit("on time"))
    )


def _subject() -> pl.Expr:
    return pl.format(
        "{} ({}, {})",
        pl.col("milestone_name"),
        pl.col("project_name").fill_null(pl.col("project_id")),
        pl.col("owner").fill_null("no owner"),
    )


def _act() -> pl.Expr:
    return (
        pl.when(pl.col("escalate_to").is_not_null())
        .then(pl.format(" {} ({}) must act.", pl.col("escalate_to"), pl.col("escalate_role")))
        .otherwise(pl.lit(""))
    )


def kpi_clause() -> pl.Expr:
    """The KPI part of a milestone's sentence, over a KPI frame (one row per KPI).

    Built once per KPI rather than once per exception row: a KPI has many milestones.
    """
    unit = pl.when(pl.col("unit").is_not_null()).then(pl.format(" {}", pl.col("unit"))).otherwise(pl.lit(""))
    target = kpi_value(pl.col("target_value"))
    return (
        pl.when(pl.col("shortfall") > 0)
        .then(
            pl.format(
                "; {} reaches {}{} by {} against a target of {}",
                pl.col("name"),
                kpi_value(pl.col("projected")),
                unit,
                pl.col("target_date"),
                target,
            )
        )
        .otherwise(
            pl.format("; {} still meets its target of {}{} by {}", pl.col("name"), target, unit, pl.col("target_date"))
        )
    )


def milestone_why(currency: str, largest_value: float | None = None) -> pl.Expr:
    """One sentence: who, what, how late, reported as what, which KPI, by how much, money, who acts.

    Needs ``kpi_clause`` (from :func:`kpi_clause`; null for a milestone tied to no KPI).
    ``largest_value`` bounds ``value_at_risk`` when known (see :func:`~kpi_engine.core.text.thousands`).
    """
    finishes = (
        pl.when(pl.col("computed_status") == "Complete").then(pl.lit("finished")).otherwise(pl.lit("now finishes"))
    )
    reported = (
        pl.when(pl.col("reported_status") == "Unknown")
        .then(pl.lit("no status reported"))
        .otherwise(pl.format("reported {}", pl.col("reported_status")))
    )
    money = (
        pl.when(pl.col("value_at_risk") >= 0.5)
        .then(
            pl.format(
                "; {} {} of value is lost this period.",
                thousands(pl.col("value_at_risk"), largest_value),
                pl.lit(currency),
            )
        )
        .otherwise(pl.lit("."))
    )
    return pl.concat_str(
        _subject(),
        pl.lit(" "),
        finishes,
        pl.lit(" "),
        pl.col("computed_finish").cast(pl.String),
        pl.lit(", "),
        _lateness(),
        pl.lit(", "),
        reported,
        pl.col("kpi_clause").fill_null("; it is tied to no KPI"),
        money,
        _act(),
    )


def governance_why() -> pl.Expr:
    """One sentence naming the subject, the finding and who should fix it."""
    subject = (
        pl.when(pl.col("milestone_name").is_not_null() & (pl.col("subject") == "milestone"))
        .then(_subject())
        .when(pl.col("kpi_name").is_not_null() & (pl.col("subject") == "kpi"))
        .then(
            pl.format(
                "KPI {} ({}, {})", pl.col("kpi_name"), pl.col("kpi_id"), pl.col("kpi_owner").fill_null("no owner")
            )
        )
        .when(pl.col("subject") == "project")
        .then(pl.format("Project {}", pl.col("subject_id")))
        .otherwise(pl.format("{} {}", pl.col("subject").str.to_titlecase(), pl.col("subject_id")))
    )
    fix = (
        pl.when(pl.col("subject") == "project")
        .then(pl.lit(""))
        .when(pl.col("escalate_to").is_not_null())
        .then(pl.format(" {} ({}) should fix it.", pl.col("escalate_to"), pl.col("escalate_role")))
        .otherwise(pl.lit(" The PMO should correct the id."))
    )
    return pl.concat_str(subject, pl.lit(": "), pl.col("detail"), pl.lit("."), fix)


#: An eager or a lazy frame: sorting keeps whichever it is given.
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


def _largest(amounts: pl.Series) -> float:
    """The largest absolute amount of a money column (0 when it is empty)."""
    top = amounts.abs().max()
    return float(top) if isinstance(top, (int, float)) else 0.0


def sort_exceptions(exceptions: FrameT) -> FrameT:
    """Order by value at risk, then shortfall, then slip (descending), then ids.

    A missing shortfall (a row with no KPI) counts as 0, as DOMAIN.md section 3 says: a
    milestone 50 days late with no KPI comes before a 10-day slip of a KPI that meets its
    target. A missing slip (a finding on a KPI) comes last among equals.
    """
    value, shortfall, slip = SORT_KEYS
    return exceptions.sort(
        [
            pl.col(value).fill_null(0.0),
            pl.col(shortfall).fill_null(0.0),
            pl.col(slip),
            "kind",
            "milestone_id",
            "kpi_id",
            "finding",
        ],
        descending=[True, True, True, False, False, False, False],
        nulls_last=True,
    )


def build_exception_list(
    pairs: pl.DataFrame, lonely: pl.DataFrame, findings: pl.DataFrame, currency: str
) -> pl.DataFrame:
    """Assemble and order the exception list.

    Parameters
    ----------
    pairs
        (milestone, KPI) pairs with schedule, status, KPI and escalation columns.
    lonely
        Milestones tied to no KPI, with their escalation columns.
    findings
        Governance findings joined with the milestone / KPI they concern and escalation columns.
    currency
        Currency code for money in sentences.
    """
    wanted = {**EXCEPTION_COLUMNS, **CONTEXT_COLUMNS}
    needed = {
        **wanted,
        "kpi_clause": pl.String(),
        "detail": pl.String(),
        "subject": pl.String(),
        "subject_id": pl.String(),
    }

    def complete(frame: pl.DataFrame) -> pl.LazyFrame:
        return frame.lazy().with_columns(
            [pl.lit(None, t).alias(c) for c, t in needed.items() if c not in frame.columns]
        )

    milestone_rows = complete(pairs).filter(
        pl.col("computed_status").is_in(["Amber", "Red"])
        | pl.col("watermelon")
        | (pl.col("value_at_risk") > 0)
        | (pl.col("kpi_impact").abs() > 1e-12)
    )
    lonely_rows = complete(lonely).filter(pl.col("computed_status").is_in(["Amber", "Red"]) | pl.col("watermelon"))
    largest = max(_largest(pairs["value_at_risk"]), _largest(lonely["value_at_risk"]))
    parts = [
        frame.with_columns(
            pl.lit("milestone").alias("kind"),
            milestone_why(currency, largest).alias("why"),
            pl.lit(None, pl.String).alias("finding"),
        )
        for frame in (milestone_rows, lonely_rows)
    ]
    parts.append(complete(findings).with_columns(pl.lit("governance").alias("kind"), governance_why().alias("why")))
    # one lazy plan: the three parts are built in parallel and sorted once
    rows = pl.concat([part.select([pl.col(c).cast(t) for c, t in wanted.items()]) for part in parts])
    return sort_exceptions(rows).collect()
