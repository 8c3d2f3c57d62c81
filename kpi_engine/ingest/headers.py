"""Header and sheet-name matching: the one place that lists the names people use.

A header matches when it equals a canonical column name or one of its synonyms after
normalising both: case, spaces and punctuation are ignored (``Milestone ID`` =
``milestone_id`` = ``MILESTONE-ID``), ``%`` reads as "percent" and ``#`` as "number".
"""

from __future__ import annotations

import re

from kpi_engine.core.schema import TABLES

_PUNCT = re.compile(r"[^0-9a-z]+")


def normalise_header(text: str) -> str:
    """Return the matching key of a header or sheet name.

    Examples
    --------
    >>> normalise_header("% Complete")
    'percentcomplete'
    >>> normalise_header(" Milestone ID ")
    'milestoneid'
    """
    lowered = text.strip().lower().replace("%", " percent ").replace("#", " number ").replace("&", " and ")
    return _PUNCT.sub("", lowered)


#: Canonical table -> other sheet / file names people give it.
TABLE_ALIASES: dict[str, tuple[str, ...]] = {
    "objectives": ("objective", "goals", "strategic objectives"),
    "kpis": ("kpi", "metrics", "key performance indicators"),
    "kpi_actuals": ("kpi actual", "actuals", "kpi values", "measurements"),
    "projects": ("project",),
    "milestones": ("milestone",),
    "tasks": ("task",),
    "dependencies": ("dependency", "deps", "milestone dependencies"),
    "links": ("link", "kpi links", "milestone kpi links", "milestone links"),
    "people": ("person", "contacts", "contact list", "directory"),
    "mitigations": ("mitigation", "workarounds", "workaround", "candidate workarounds"),
}

#: Canonical table -> canonical column -> synonyms (the canonical name always matches too).
#: A synonym may mean different columns in different tables (``Due Date`` is a milestone's
#: baseline finish but a task's forecast finish), never two columns of one table.
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "objectives": {
        "objective_id": ("Objective ID", "ID", "Objective Key", "Objective Code"),
        "name": ("Name", "Objective", "Objective Name", "Title"),
        "owner": ("Owner", "Objective Owner", "Accountable"),
        "description": ("Description", "Details"),
    },
    "kpis": {
        "kpi_id": ("KPI ID", "KPI", "ID", "Metric ID", "KPI Key", "KPI Code"),
        "name": ("Name", "KPI Name", "Metric", "Metric Name", "Title"),
        "objective_id": ("Objective ID", "Objective"),
        "owner": ("Owner", "KPI Owner", "Accountable"),
        "unit": ("Unit", "Units", "UoM", "Unit of Measure"),
        "direction": ("Direction", "Polarity", "Better When"),
        "baseline_value": ("Baseline", "Baseline Value", "Start Value", "Starting Value"),
        "target_value": ("Target", "Target Value", "Goal", "Goal Value"),
        "period_start": ("Period Start", "Start", "Start Date", "Period From", "From"),
        "target_date": ("Target Date", "Deadline", "Due Date", "Due", "Period End", "End Date"),
    },
    "kpi_actuals": {
        "kpi_id": ("KPI ID", "KPI", "Metric ID"),
        "as_of": ("As Of", "As Of Date", "Date", "Measured On", "Measurement Date", "Period End"),
        "value": ("Value", "Actual", "Actual Value", "Measurement", "Measured Value"),
    },
    "projects": {
        "project_id": ("Project ID", "ID", "Project Key", "Project Code", "Key", "Code"),
        "name": ("Name", "Project Name", "Project", "Title"),
        "program": ("Program", "Programme", "Program Name"),
        "portfolio": ("Portfolio", "Portfolio Name"),
        "owner": ("Owner", "Project Owner", "Project Manager", "PM", "Project Lead", "Lead", "Manager"),
        "sponsor": ("Sponsor", "Executive Sponsor", "Project Sponsor"),
        "budget": ("Budget", "Total Budget", "Budget Amount", "Approved Budget"),
    },
    "milestones": {
        "milestone_id": ("Milestone ID", "ID", "Milestone Key", "Milestone Code", "Key"),
        "project_id": ("Project ID", "Project", "Project Key", "Project Code"),
        "name": ("Name", "Milestone", "Milestone Name", "Title", "Description"),
        "owner": ("Owner", "Assignee", "Assigned To", "Responsible", "Milestone Owner", "Accountable"),
        "baseline_start": ("Baseline Start", "Planned Start", "Start", "Start Date"),
        "baseline_finish": (
            "Baseline Finish",
            "Baseline End",
            "Baseline Date",
            "Due Date",
            "Due",
            "Planned Finish",
            "Planned End",
            "Planned Date",
            "Target Date",
        ),
        "forecast_finish": (
            "Forecast",
            "Forecast Finish",
            "Forecast Date",
            "Forecast End",
            "Expected Finish",
            "Estimated Finish",
            "Finish",
            "End Date",
        ),
        "actual_finish": ("Actual Finish", "Actual End", "Actual Date", "Completed", "Completed On", "Done Date"),
        "percent_complete": ("% Complete", "Percent Complete", "Pct Complete", "Progress", "Complete %"),
        "reported_status": ("Status", "Reported Status", "RAG", "RAG Status", "Health"),
    },
    "tasks": {
        "task_id": ("Task ID", "ID", "Key", "Task Key"),
        "milestone_id": ("Milestone ID", "Milestone", "Milestone Key"),
        "name": ("Name", "Task", "Task Name", "Title", "Summary"),
        "owner": ("Owner", "Assignee", "Assigned To", "Resource", "Resource Names", "Responsible"),
        "forecast_finish": (
            "Forecast Finish",
            "Forecast",
            "Forecast Date",
            "Due Date",
            "Due",
            "Finish",
            "End Date",
            "Expected Finish",
        ),
        "actual_finish": ("Actual Finish", "Actual End", "Completed", "Completed On", "Done Date", "Resolved"),
    },
    "dependencies": {
        "predecessor_id": ("Predecessor ID", "Predecessor", "Predecessor Milestone", "From Milestone", "Depends On"),
        "successor_id": ("Successor ID", "Successor", "Successor Milestone", "To Milestone"),
        "lag_days": ("Lag Days", "Lag", "Lag (days)", "Delay Days"),
    },
    "links": {
        "milestone_id": ("Milestone ID", "Milestone"),
        "kpi_id": ("KPI ID", "KPI"),
        "kpi_delta": ("KPI Delta", "Delta", "Impact", "KPI Impact", "Expected Impact"),
        "ramp_days": ("Ramp Days", "Ramp", "Ramp-up Days", "Ramp Up Days"),
        "value_per_week": ("Value per Week", "Weekly Value", "Value/Week", "Value per wk"),
    },
    "people": {
        "name": ("Name", "Person", "Full Name"),
        "email": ("Email", "E-mail", "Email Address", "E-mail Address", "Mail"),
        "chat": ("Chat", "Chat Webhook", "Webhook", "Webhook URL", "Slack", "Teams"),
    },
    "mitigations": {
        "milestone_id": ("Milestone ID", "Milestone"),
        "name": ("Name", "Workaround", "Mitigation", "Title"),
        "start_date": ("Start Date", "Start", "From", "From Date"),
        "cost": ("Cost", "Cost Amount"),
        "fraction": ("Fraction", "Fraction Recovered", "Recovered Fraction", "Share Recovered"),
    },
}


def _keys_by_table() -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    for table, columns in TABLES.items():
        keys: dict[str, str] = {}
        for column in columns:
            for text in (column, *SYNONYMS[table].get(column, ())):
                key = normalise_header(text)
                if keys.setdefault(key, column) != column:
                    raise AssertionError(f"header '{text}' means two columns of {table}")
        result[table] = keys
    return result


#: Canonical table -> normalised header -> canonical column.
HEADER_KEYS: dict[str, dict[str, str]] = _keys_by_table()

_TABLE_KEYS: dict[str, str] = {
    normalise_header(text): table for table, aliases in TABLE_ALIASES.items() for text in (table, *aliases)
}


def table_for_name(name: str) -> str | None:
    """The canonical table a sheet or file stem names (``Kpi Actuals`` -> ``kpi_actuals``), or None."""
    return _TABLE_KEYS.get(normalise_header(name))


def accepted_headers(table: str, column: str) -> list[str]:
    """The headers that fill ``column`` of ``table``, canonical name first (for messages)."""
    return [column, *SYNONYMS[table].get(column, ())]


def match_columns(table: str, headers: tuple[str | None, ...]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Match a header row against a canonical table.

    Returns
    -------
    matched : dict
        canonical column -> sheet column ``ci`` (the leftmost header that means it).
    clashes : dict
        canonical column -> the header texts, when two or more headers mean the same column.
    """
    keys = HEADER_KEYS[table]
    seen: dict[str, list[int]] = {}
    for i, text in enumerate(headers):
        if text is None:
            continue
        column = keys.get(normalise_header(text))
        if column is not None:
            seen.setdefault(column, []).append(i)
    matched = {column: f"c{idx[0]}" for column, idx in seen.items()}
    clashes = {column: [headers[i] or "" for i in idx] for column, idx in seen.items() if len(idx) > 1}
    return matched, clashes


def named_columns(table: str, row: list[str | None]) -> set[str]:
    """The canonical columns of ``table`` that a row of cells names (as headers)."""
    keys = HEADER_KEYS[table]
    return {keys[k] for k in (normalise_header(h) for h in row if h) if k in keys}
