"""MS Project exports (File > Save As / Export to CSV or Excel, a task table).

Mapping (data/sample/exports/README.md shows it with an example):

- Rows with ``Summary`` = Yes are phases, not work: they are not imported (without a
  ``Summary`` column, a row followed by a deeper ``Outline Level`` is a summary).
- Rows with ``Milestone`` = Yes become milestones (without a ``Milestone`` column: rows
  whose ``Duration`` is 0).  Id = ``<project>-<Unique ID>`` (``ID`` when there is no
  ``Unique ID``), owner = ``Resource Names`` (allocations such as ``[50%]`` dropped),
  baseline start/finish = ``Baseline Start`` / ``Baseline Finish``, forecast finish =
  ``Finish``, actual finish = ``Actual Finish``, percent complete = ``% Complete``.  ``NA``
  is an empty date; a milestone whose ``Baseline Finish`` is NA takes its ``Finish`` as
  baseline (it then shows no slip) and the upload carries a warning saying so.
- Other rows are tasks of the first milestone below them under the same summary; a task
  with no milestone below it under its summary belongs to the milestone its summary belongs
  to (same rule, one outline level up).  Tasks that still have no milestone (work after the
  last milestone) are left out with a warning.
- ``Predecessors`` (``3``, ``3FS+2 days``, ``4,7SS``) name row ``ID`` s.  Only finish-to-start
  links are supported; lags in days (``d``, ``ed``, counted as calendar days) or weeks (``w``,
  ``ew`` = 7 days), negative lags allowed.  A link from a row to a row of another milestone
  becomes a dependency between their milestones (a task stands for its milestone); when
  several links join the same two milestones the largest lag is kept.
- Reported status: a custom text field renamed ``Status`` (or ``Health``, ``RAG``; e.g.
  ``Text1`` with that name) or MS Project's own ``Status`` column: Green / Yellow / Red and
  the other words of the model are kept, ``On Schedule`` is Green, ``Late`` Red,
  ``Complete`` Complete; ``Future Task``, ``Not Started`` and ``In Progress`` say nothing
  about health and read as blank.
- Project: the ``Project`` column when present, else the name of the project summary
  task (the row MS Project numbers ``ID`` 0, ``Outline Level`` 0, exported when "Project
  Summary Task" is shown), else the file name without extension.  No project row is made (an MS
  Project export does not name the project's owner); the upload matches the name to a
  portfolio project or creates it.
"""

from __future__ import annotations

import polars as pl

from kpi_engine.ingest.model import Block, Outcome, file_stem, problems_where
from kpi_engine.ingest.tools.common import (
    each_block,
    flag_problems,
    milestone_flag,
    pick,
    row_position,
    schedule_parts,
    status_text,
)
from kpi_engine.ingest.values import to_flag, to_number

SOURCE = "msproject"

FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "uid": ("uniqueid",),
    "level": ("outlinelevel",),
    "summary": ("summary",),
    "milestone": ("milestone",),
    "name": ("name", "taskname"),
    "duration": ("duration",),
    "finish": ("finish",),
    "bstart": ("baselinestart",),
    "bfinish": ("baselinefinish",),
    "afinish": ("actualfinish",),
    "pct": ("percentcomplete",),
    "owner": ("resourcenames",),
    "preds": ("predecessors",),
    "project": ("project", "projectname"),
    "status": ("status", "health", "ragstatus", "rag", "reportedstatus"),
}

#: field -> the header MS Project gives it (named when an export lacks it)
EXPECTED = {
    "name": "Name",
    "owner": "Resource Names",
    "bstart": "Baseline Start",
    "bfinish": "Baseline Finish",
    "finish": "Finish",
    "afinish": "Actual Finish",
    "pct": "% Complete",
    "preds": "Predecessors",
    "status": "Status",
}


def adapt_block(block: Block) -> Outcome:
    """Map one MS Project task table onto milestones, tasks and dependencies."""
    rows, labels = pick(block, FIELDS)
    is_milestone, problems = milestone_flag(block, labels, "Yes/No")
    if is_milestone is None:
        return Outcome(problems=problems)
    for field in ("summary", "milestone"):
        if field in labels:
            problems += flag_problems(rows, field, labels[field])
    level = to_number(pl.col("level"))
    if "level" in labels:
        problems += problems_where(
            rows,
            pl.col("level").is_not_null() & (level.is_null() | (level != level.round(0))),
            labels["level"],
            pl.format("'{}' is not a whole number", pl.col("level")),
        )
    rows = rows.with_columns(
        _level=pl.when(level == level.round(0)).then(level).fill_null(1).cast(pl.Int64),
        _project=pl.col("project").fill_null(pl.lit(_project_title(rows, labels, block))),
        _id=pl.col("id") if "id" in labels else row_position(block),
        _ms=is_milestone,
        # MS Project allocations such as "Priya Raman[50%]" say nothing about who owns the row
        owner=pl.col("owner").str.replace_all(r"\[[^\]]*\]", "").str.strip_chars(),
        status=status_text(pl.col("status")),
    )
    if "summary" in labels:
        rows = rows.with_columns(_summary=to_flag(pl.col("summary")).fill_null(False))
    else:
        # without a Summary column, a row followed by a deeper one is a summary
        rows = rows.with_columns(_summary=(pl.col("_level").shift(-1) > pl.col("_level")).fill_null(False))
    rows = rows.with_columns(
        _ms=pl.col("_ms") & ~pl.col("_summary"),
        _key=pl.format("{}-{}", pl.col("_project"), pl.col("uid") if "uid" in labels else pl.col("_id")),
    )
    labels = {**labels, "key": labels.get("uid", labels.get("id", "ID"))}
    labels.setdefault("project", "Project")
    outcome = schedule_parts(block, rows, labels, SOURCE, "MS Project", EXPECTED, flags_read=not problems)
    outcome.problems[:0] = problems
    return outcome


def _project_title(rows: pl.DataFrame, labels: dict[str, str], block: Block) -> str:
    """The name of the project summary task (``ID`` 0 or ``Outline Level`` 0), else the file's name."""
    marks = []
    if "id" in labels:
        marks.append(pl.col("id").str.strip_chars() == "0")
    if "level" in labels:
        marks.append(to_number(pl.col("level")) == 0)
    if marks and "name" in labels:
        names = rows.filter(pl.any_horizontal(marks).fill_null(False) & pl.col("name").is_not_null())["name"]
        if names.len():
            return str(names[0])
    return file_stem(block.file)


def adapt(blocks: list[Block]) -> Outcome:
    """Map every MS Project sheet of the upload (each file is its own schedule)."""
    return each_block(blocks, adapt_block)
