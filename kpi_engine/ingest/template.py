"""The canonical template: reading its sheets / CSVs and writing a blank workbook to fill in."""

from __future__ import annotations

import io

import polars as pl

from kpi_engine.core.errors import Problem
from kpi_engine.core.schema import DIRECTIONS, STATUSES, TABLES
from kpi_engine.ingest.headers import HEADER_KEYS, match_columns, normalise_header
from kpi_engine.ingest.model import PROVENANCE, Block, Outcome, TablePart

#: What each canonical column holds, shown as the header comment of the template.
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "objectives": {
        "objective_id": "Short unique code of the objective, e.g. O-FLEET.",
        "name": "What the organisation wants to achieve.",
        "owner": "One accountable person (escalations of level 3 go here).",
        "description": "Free text.",
    },
    "kpis": {
        "kpi_id": "Short unique code of the KPI, e.g. K-CPM.",
        "name": "Name of the KPI as people say it.",
        "objective_id": "The objective this KPI measures (objective_id of the objectives sheet).",
        "owner": "One accountable person.",
        "unit": "Unit shown after values, e.g. USD/mile, %, hours.",
        "direction": "higher_is_better or lower_is_better.",
        "baseline_value": "Value at period_start.",
        "target_value": "Value to reach by target_date.",
        "period_start": "First day of the period the target covers.",
        "target_date": "Day by which the target must be met (not before period_start).",
    },
    "kpi_actuals": {
        "kpi_id": "The KPI measured (kpi_id of the kpis sheet).",
        "as_of": "Day the value was measured.",
        "value": "Measured value, in the KPI's unit.",
    },
    "projects": {
        "project_id": "Short unique code of the project, e.g. P-ROUTE.",
        "name": "Project name.",
        "program": "Program the project belongs to.",
        "portfolio": "Portfolio the project belongs to.",
        "owner": "Project manager: first escalation level.",
        "sponsor": "Executive sponsor: escalations for milestones tied to no KPI.",
        "budget": "Approved budget, in the currency of the settings.",
    },
    "milestones": {
        "milestone_id": "Short unique code of the milestone, e.g. M1.",
        "project_id": "The project delivering it (project_id of the projects sheet).",
        "name": "What is delivered.",
        "owner": "One accountable person.",
        "baseline_start": "Planned start; with baseline_finish it gives the milestone's duration.",
        "baseline_finish": "Approved (baseline) finish date.",
        "forecast_finish": "Date the project now expects; blank = baseline_finish.",
        "actual_finish": "Date it was delivered; blank while open.",
        "percent_complete": "0 to 100.",
        "reported_status": "Status the project reports: Green, Amber, Red or Complete (blank = Unknown).",
    },
    "tasks": {
        "task_id": "Unique code of the task.",
        "milestone_id": "The milestone this task delivers.",
        "name": "What is done.",
        "owner": "Person doing it.",
        "forecast_finish": "Date the task is now expected to finish.",
        "actual_finish": "Date it finished; blank while open.",
    },
    "dependencies": {
        "predecessor_id": "Milestone that must finish first.",
        "successor_id": "Milestone that starts after it (finish-to-start).",
        "lag_days": "Whole calendar days between them (default 0, may be negative).",
    },
    "links": {
        "milestone_id": "Milestone whose delivery moves the KPI.",
        "kpi_id": "KPI it moves.",
        "kpi_delta": "Change of the KPI in its unit once fully ramped (signed; default 0).",
        "ramp_days": "Days after delivery until the full change is reached (default 0).",
        "value_per_week": "Money gained per week the milestone is live (default 0).",
    },
    "people": {
        "name": "A person as the other sheets name them (Smith, John = John Smith).",
        "email": "Where their escalation digests go; blank = to the PMO address in the settings.",
        "chat": "Optional Slack or Microsoft Teams incoming-webhook URL (https://...) for their digests.",
    },
    "mitigations": {
        "milestone_id": "Late milestone the workaround helps (optional sheet: candidate workarounds).",
        "name": "Short name of the workaround, unique per milestone.",
        "start_date": "Date from which it recovers value (not before the period of the milestone's KPIs).",
        "cost": "What it costs, in the currency of the settings (0 or more).",
        "fraction": "Share of the milestone's value at risk it recovers, 0 to 1 (0.6 = 60 %).",
    },
}


def _kind(dtype: object) -> str:
    if dtype == pl.Date:
        return "Date (YYYY-MM-DD)"
    if dtype == pl.Float64:
        return "Number"
    if dtype == pl.Int64:
        return "Whole number"
    return "Text"


def template_part(
    block: Block,
    table: str,
    *,
    source: str = "template",
    mapped: dict[str, str] | None = None,
    date_order: str | None = None,
) -> Outcome:
    """Map a block with canonical (or synonym, or mapped) headers onto ``table``.

    Parameters
    ----------
    mapped
        canonical column -> sheet column ``ci`` chosen by a user's column mapping; the
        other columns are still matched by name and synonyms.

    Two headers meaning the same column are a problem; headers meaning nothing are a
    warning (they are not read).
    """
    outcome = Outcome()
    matched, clashes = match_columns(table, block.headers)
    mapped = mapped or {}
    taken = set(mapped.values())
    for column in mapped:
        clashes.pop(column, None)
    columns = {**{c: ci for c, ci in matched.items() if ci not in taken and c not in mapped}, **mapped}
    for column, texts in clashes.items():
        if column in columns:
            outcome.problems.append(
                Problem(
                    block.file,
                    block.name,
                    block.header_row,
                    texts[1],
                    f"columns '{texts[0]}' and '{texts[1]}' both mean {column}; keep one of them",
                )
            )
    used = set(columns.values())
    for i, text in enumerate(block.headers):
        known = HEADER_KEYS[table].get(normalise_header(text)) if text is not None else None
        if text is None or f"c{i}" in used or known in clashes:
            continue
        if known is None:
            message = f"column is not part of the {table} table and was not read"
        else:  # the user's mapping reads this column from another header
            message = f"column was not read: {known} comes from '{block.label(columns[known])}'"
        outcome.warnings.append(Problem(block.file, block.name, block.header_row, text, message))
    frame = block.data.select(*(pl.col(ci).alias(c) for c, ci in columns.items()), *PROVENANCE)
    labels = {c: block.label(ci) for c, ci in columns.items()}
    labels.update({c: c for c in TABLES[table] if c not in labels})
    outcome.parts.append(
        TablePart(
            table=table,
            frame=frame,
            labels=labels,
            file=block.file,
            sheet=block.name,
            source=source,
            decimal_comma=block.sheet.decimal_comma,
            epoch1904=block.sheet.epoch1904,
            date_order=date_order,
        )
    )
    return outcome


def template_workbook() -> bytes:
    """Return a blank canonical workbook (.xlsx) to fill in.

    One sheet per table with its columns; each header carries a comment saying whether
    the column is required and what it holds; ``kpis.direction`` and
    ``milestones.reported_status`` offer drop-downs; date columns are formatted
    YYYY-MM-DD.
    """
    from kpi_engine.output.safe_output import new_workbook

    out = io.BytesIO()
    book = new_workbook(out)
    required_fmt = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    optional_fmt = book.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    date_fmt = book.add_format({"num_format": "yyyy-mm-dd"})
    # direction must be one of two words; a status may be any accepted word, so Excel only warns
    drop_downs = {
        ("kpis", "direction"): (list(DIRECTIONS), "stop"),
        ("milestones", "reported_status"): ([s for s in STATUSES if s != "Unknown"], "warning"),
    }
    for table, columns in TABLES.items():
        sheet = book.add_worksheet(table)
        sheet.freeze_panes(1, 0)
        for i, (name, col) in enumerate(columns.items()):
            need = "Required." if col.required else "Optional."
            default = f" Default {col.default}." if col.default is not None else ""
            comment = f"{need} {_kind(col.dtype)}.{default}\n{DESCRIPTIONS[table][name]}"
            sheet.write_string(0, i, name, required_fmt if col.required else optional_fmt)
            sheet.write_comment(0, i, comment, {"x_scale": 2, "y_scale": 1.4})
            sheet.set_column(i, i, max(14, len(name) + 4), date_fmt if col.dtype == pl.Date else None)
            if (table, name) in drop_downs:
                choices, strictness = drop_downs[table, name]
                sheet.data_validation(
                    1,
                    i,
                    1_048_575,
                    i,
                    {
                        "validate": "list",
                        "source": choices,
                        "error_title": name,
                        "error_message": "Choose one of: " + ", ".join(choices),
                        "error_type": strictness,
                        "ignore_blank": True,
                    },
                )
    book.close()
    return out.getvalue()
