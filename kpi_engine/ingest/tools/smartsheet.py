"""Smartsheet project sheets exported to CSV or Excel.

Mapping (data/sample/exports/README.md shows it with an example):

- A row is a milestone when its ``Milestone`` checkbox column is checked (true, yes, 1, x).
  A sheet without a ``Milestone`` column uses Smartsheet's own convention instead: rows whose
  ``Duration`` is 0.  A sheet with neither column is a problem.
- Every other row is a task of the first milestone below it (within the same ``Project``
  when the sheet has that column).  Exports carry no indentation, so parent rows are read
  as tasks too; tasks after the last milestone are left out with a warning.
- Ids: ``<project>-<Row ID>``, or ``<project>-<n>`` where n is the row's position in the sheet
  (1 = first row under the header), which is the number ``Predecessors`` refer to.
- owner = ``Assigned To``; baseline start/finish = ``Baseline Start`` / ``Baseline Finish``
  (``End Date`` when blank, with a warning); forecast finish = ``End Date``; actual finish =
  ``Actual Finish`` when present, else the ``End Date`` of rows whose ``Status`` is Complete or
  whose ``% Complete`` is 100; percent complete = ``% Complete``.
- Reported status: ``Status`` = Complete wins; else the ``Health`` (or ``RAG``) symbol column:
  Red, Yellow, Green and Blue (Smartsheet's RYGB symbols; Blue marks finished work and reads
  as Complete); else ``Status`` when it holds a health word (Green / Yellow / Red, At Risk,
  ...).  ``Not Started`` and ``In Progress`` say nothing about health and are read as blank.
- ``Predecessors`` as for MS Project (``3``, ``3FS +2d``; only finish-to-start).
- Project id and name: the ``Project`` column when present, else the file name without
  extension.  No project row is made (the export does not name the project's owner).
"""

from __future__ import annotations

import polars as pl

from kpi_engine.core.schema import STATUS_WORDS
from kpi_engine.ingest.model import Block, Outcome, file_stem
from kpi_engine.ingest.tools.common import (
    each_block,
    flag_problems,
    milestone_flag,
    pick,
    row_position,
    schedule_parts,
    status_text,
)
from kpi_engine.ingest.values import to_number

SOURCE = "smartsheet"

FIELDS: dict[str, tuple[str, ...]] = {
    "rowid": ("rowid", "row", "rownumber"),
    "name": ("taskname", "name"),
    "milestone": ("milestone",),
    "duration": ("duration",),
    "finish": ("enddate", "finish", "end"),
    "bstart": ("baselinestart",),
    "bfinish": ("baselinefinish", "baselineend", "baselineenddate"),
    "afinish": ("actualfinish", "actualend", "actualenddate"),
    "owner": ("assignedto", "assignee", "owner"),
    "status": ("status",),
    "health": ("health", "ragstatus", "rag"),
    "preds": ("predecessors",),
    "pct": ("percentcomplete", "complete"),
    "project": ("project", "projectname"),
}

#: field -> the header Smartsheet gives it (named when an export lacks it)
EXPECTED = {
    "name": "Task Name",
    "owner": "Assigned To",
    "bstart": "Baseline Start",
    "bfinish": "Baseline Finish",
    "finish": "End Date",
    "afinish": "Actual Finish",
    "pct": "% Complete",
    "status": "Health",
    "preds": "Predecessors",
}


def adapt_block(block: Block) -> Outcome:
    """Map one Smartsheet sheet onto milestones, tasks and dependencies."""
    rows, labels = pick(block, FIELDS)
    is_milestone, problems = milestone_flag(block, labels, "a checkbox")
    if is_milestone is None:
        return Outcome(problems=problems)
    if "milestone" in labels:
        problems += flag_problems(rows, "milestone", labels["milestone"])
    status_key = pl.col("status").str.to_lowercase().str.replace_all(r"\s+", " ")
    finished = status_key.replace_strict(STATUS_WORDS, default=None) == "Complete"
    full = to_number(pl.col("pct")) == 100
    rows = rows.with_columns(
        _level=pl.lit(1, dtype=pl.Int64),
        _summary=pl.lit(False),
        _project=pl.col("project").fill_null(pl.lit(file_stem(block.file))),
        _id=pl.col("rowid") if "rowid" in labels else row_position(block),
        _ms=is_milestone,
        # Complete in Status wins; else the Health symbol; else a health word in Status
        status=pl.coalesce(
            pl.when(finished).then(pl.col("status")), status_text(pl.col("health")), status_text(pl.col("status"))
        ),
        afinish=pl.col("afinish")
        if "afinish" in labels
        else pl.when((finished | full).fill_null(False)).then(pl.col("finish")),
    ).with_columns(_key=pl.format("{}-{}", pl.col("_project"), pl.col("_id")))
    labels = {**labels, "key": labels.get("rowid", "Row ID"), "project": labels.get("project", "Project")}
    if "health" in labels:
        labels["status"] = labels["health"]
    if "afinish" not in labels:
        labels["afinish"] = labels.get("finish", "End Date")
    outcome = schedule_parts(block, rows, labels, SOURCE, "Smartsheet", EXPECTED, flags_read=not problems)
    outcome.problems[:0] = problems
    return outcome


def adapt(blocks: list[Block]) -> Outcome:
    """Map every Smartsheet sheet of the upload (each file is its own sheet of rows)."""
    return each_block(blocks, adapt_block)
