"""The canonical data model (DOMAIN.md section 1), declared once.

Every reader, adapter, the store and the engine take their column names, types,
required flags and defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    dtype: type[pl.DataType] | pl.DataType
    required: bool = False
    default: object = None
    #: A required column whose cells may be blank: a blank owner is a governance finding
    #: (DOMAIN.md section 2, rule 9), not a reason to reject the upload.
    blank_allowed: bool = False


def _table(*columns: Column) -> dict[str, Column]:
    return {c.name: c for c in columns}


S, D, F, INT = pl.String, pl.Date, pl.Float64, pl.Int64

#: table name -> column name -> Column, in the order of DOMAIN.md section 1.
TABLES: dict[str, dict[str, Column]] = {
    "objectives": _table(
        Column("objective_id", S, True),
        Column("name", S, True),
        Column("owner", S, True),
        Column("description", S),
    ),
    "kpis": _table(
        Column("kpi_id", S, True),
        Column("name", S, True),
        Column("objective_id", S),
        Column("owner", S, True, blank_allowed=True),
        Column("unit", S),
        Column("direction", S, True),
        Column("baseline_value", F, True),
        Column("target_value", F, True),
        Column("period_start", D, True),
        Column("target_date", D, True),
    ),
    "kpi_actuals": _table(
        Column("kpi_id", S, True),
        Column("as_of", D, True),
        Column("value", F, True),
    ),
    "projects": _table(
        Column("project_id", S, True),
        Column("name", S, True),
        Column("program", S),
        Column("portfolio", S),
        Column("owner", S, True),
        Column("sponsor", S),
        Column("budget", F),
    ),
    "milestones": _table(
        Column("milestone_id", S, True),
        Column("project_id", S, True),
        Column("name", S, True),
        Column("owner", S, True, blank_allowed=True),
        Column("baseline_start", D),
        Column("baseline_finish", D, True),
        Column("forecast_finish", D),
        Column("actual_finish", D),
        Column("percent_complete", F),
        Column("reported_status", S),
    ),
    "tasks": _table(
        Column("task_id", S, True),
        Column("milestone_id", S, True),
        Column("name", S, True),
        Column("owner", S),
        Column("forecast_finish", D, True),
        Column("actual_finish", D),
    ),
    "dependencies": _table(
        Column("predecessor_id", S, True),
        Column("successor_id", S, True),
        Column("lag_days", INT, default=0),
    ),
    "links": _table(
        Column("milestone_id", S, True),
        Column("kpi_id", S, True),
        Column("kpi_delta", F, default=0.0),
        Column("ramp_days", F, default=0.0),
        Column("value_per_week", F, default=0.0),
    ),
    # Optional: how to reach the people the other tables name (DOMAIN.md section 6).
    "people": _table(
        Column("name", S, True),
        Column("email", S),
        Column("chat", S),
    ),
    # optional sheet: candidate workarounds for the budget optimiser (DOMAIN.md section 7)
    "mitigations": _table(
        Column("milestone_id", S, True),
        Column("name", S, True),
        Column("start_date", D, True),
        Column("cost", F, True),
        Column("fraction", F, True),
    ),
}

#: The columns that identify a row of each table; duplicates are rejected at ingest.
KEYS: dict[str, tuple[str, ...]] = {
    "objectives": ("objective_id",),
    "kpis": ("kpi_id",),
    "kpi_actuals": ("kpi_id", "as_of"),
    "projects": ("project_id",),
    "milestones": ("milestone_id",),
    "tasks": ("task_id",),
    "dependencies": ("predecessor_id", "successor_id"),
    "links": ("milestone_id", "kpi_id"),
    "people": ("name",),
    "mitigations": ("milestone_id", "name"),
}

DIRECTIONS = ("higher_is_better", "lower_is_better")

#: Status words as the engine uses them, best first (Unknown and Complete are outside the order).
STATUSES = ("Green", "Amber", "Red", "Complete", "Unknown")
STATUS_RANK = {"Green": 0, "Amber": 1, "Red": 2}

#: Free text a project may report -> canonical status (DOMAIN.md section 1).
STATUS_WORDS: dict[str, str] = {
    "green": "Green",
    "on track": "Green",
    "g": "Green",
    "ok": "Green",
    "amber": "Amber",
    "yellow": "Amber",
    "at risk": "Amber",
    "a": "Amber",
    "red": "Red",
    "off track": "Red",
    "late": "Red",
    "blocked": "Red",
    "r": "Red",
    "complete": "Complete",
    "completed": "Complete",
    "done": "Complete",
    "closed": "Complete",
}


def schema_of(table: str) -> dict[str, pl.DataType]:
    """Return the Polars schema (column name -> dtype) of a canonical table."""
    return {name: col.dtype for name, col in TABLES[table].items()}  # type: ignore[misc]  # dtype classes and instances alike


def required_columns(table: str) -> list[str]:
    """Return the names of the columns a table must have."""
    return [name for name, col in TABLES[table].items() if col.required]


def empty_table(table: str) -> pl.DataFrame:
    """Return an empty frame with the canonical schema of ``table``."""
    return pl.DataFrame(schema=schema_of(table))


def conform(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` with exactly the canonical columns, types and defaults of ``table``.

    Missing optional columns are added (filled with their default), extra columns are
    dropped and defaults fill blanks. Values are cast strictly: callers validate first.
    """
    exprs = []
    for name, col in TABLES[table].items():
        expr = pl.col(name).cast(col.dtype) if name in frame.columns else pl.lit(None, dtype=col.dtype).alias(name)
        if col.default is not None:
            expr = expr.fill_null(pl.lit(col.default, dtype=col.dtype))
        exprs.append(expr.alias(name))
    return frame.select(exprs)


def normalise_status(status: pl.Expr) -> pl.Expr:
    """Map free-text reported statuses onto Green / Amber / Red / Complete / Unknown.

    Text the table does not know is kept out of the Green-Amber-Red order as Unknown
    (ingest reports such values as problems, so only blanks reach here in practice).
    """
    key = status.str.strip_chars().str.to_lowercase()
    return key.replace_strict(STATUS_WORDS, default="Unknown", return_dtype=pl.String).fill_null("Unknown")
