"""Jira CSV exports (issue navigator "Export CSV (all fields)" or "current fields").

Mapping (data/sample/exports/README.md shows it with an example):

- Epics (``Issue Type`` = Epic) become milestones: id = ``Issue key``, project = ``Project key``,
  owner = ``Assignee``, baseline finish = ``Custom field (Baseline Finish)`` or ``Original due
  date`` when present and filled, else ``Due date``; forecast finish = ``Due date``; baseline
  start = ``Custom field (Start date)``; actual finish = ``Resolved``; reported status Complete
  when the status category (else the status) is Done, Closed or Resolved; otherwise a
  custom health field (``Custom field (Health)`` or ``(RAG Status)``: Green / Yellow / Red,
  On track / At risk / Off track) when filled; otherwise the status itself when it is a
  health word (a workflow with ``Blocked`` or ``At Risk`` states); otherwise blank (=
  Unknown: a state such as To Do or In Progress says nothing about schedule health).
- Other issues become tasks of their epic (``Custom field (Epic Link)``, ``Parent`` or ``Parent
  id``, followed up through stories for sub-tasks): forecast finish = ``Due date`` (the
  ``Resolved`` date for a resolved issue without one), actual finish = ``Resolved``.  Issues
  under no epic of the upload, or open without a due date, are left out with a warning.
- ``Labels`` (every repeated column) like ``kpi:K-CPM`` link the issue's epic to that KPI.
- ``Outward issue link (Blocks)`` between issues of different epics makes the blocking epic a
  finish-to-start predecessor of the blocked one.
- One project per ``Project key`` (name ``Project name``, owner ``Project lead``) when the
  export has a ``Project lead`` column.

Links, projects and dependencies implied this way yield to rows a template gives.
Several Jira files in one upload (exports are limited to 1000 issues) are read together.
"""

from __future__ import annotations

import polars as pl

from kpi_engine.core.errors import Problem
from kpi_engine.core.schema import STATUS_WORDS
from kpi_engine.ingest.model import PROVENANCE, Block, Outcome
from kpi_engine.ingest.tools.common import (
    build,
    distinct_dependencies,
    kpi_links,
    not_imported,
    part,
    pick,
    read_together,
    status_text,
    upload_place,
)

SOURCE = "jira"

FIELDS: dict[str, tuple[str, ...]] = {
    "key": ("issuekey",),
    "id": ("issueid",),
    "type": ("issuetype",),
    "summary": ("summary",),
    "assignee": ("assignee",),
    "status": ("status",),
    "category": ("statuscategory",),
    "due": ("duedate",),
    "resolved": ("resolved", "resolutiondate"),
    "baseline": ("customfieldbaselinefinish", "baselinefinish", "originalduedate", "customfieldoriginalduedate"),
    "start": ("customfieldstartdate", "startdate", "customfieldbaselinestart"),
    "epic_link": ("customfieldepiclink", "epiclink"),
    "parent": ("parent", "parentkey"),
    "parent_id": ("parentid",),
    "project_key": ("projectkey",),
    "project_name": ("projectname",),
    "project_lead": ("projectlead",),
    "health": (
        "customfieldhealth",
        "customfieldragstatus",
        "customfieldrag",
        "customfieldstatushealth",
        "health",
        "ragstatus",
    ),
}

DONE = ("done", "closed", "resolved", "complete", "completed")
KPI_LABEL = "kpi:"

#: the ``Issue Type`` is Epic (any case); false for a blank type
_IS_EPIC = (pl.col("type").str.to_lowercase() == "epic").fill_null(False)


def _issues(block: Block) -> tuple[pl.DataFrame, dict[str, str]]:
    """Read the issues of one Jira export: picked fields plus ``_labels`` and ``_blocks`` lists.

    Every repeated ``Labels`` column (split on spaces) is gathered into ``_labels`` and every
    ``Outward issue link (Blocks)`` column (split on commas) into ``_blocks``, items stripped
    and blanks dropped.  Returns the frame and field -> header as the file shows it.
    """
    frame, labels = pick(block, FIELDS)
    label_cols = block.by_key.get("labels", [])
    blocks_cols = block.by_key.get("outwardissuelinkblocks", [])

    def gather(cols: list[str], split: str) -> pl.Expr:
        if not cols:
            return pl.lit([], dtype=pl.List(pl.String))
        return (
            pl.concat_list(pl.col(c).str.split(split).fill_null(pl.lit([], dtype=pl.List(pl.String))) for c in cols)
            .list.eval(pl.element().str.strip_chars())
            .list.eval(pl.element().filter(pl.element().is_not_null() & (pl.element() != "")))
        )

    extra = block.data.select("_row", _labels=gather(label_cols, " "), _blocks=gather(blocks_cols, ",")).drop("_row")
    return pl.concat([frame, extra], how="horizontal"), labels


def _issue_table(blocks: list[Block]) -> tuple[pl.DataFrame, dict[str, str]]:
    """All issues of the upload in one frame, numbered by ``_pos`` in upload order.

    The blocks are read with :func:`_issues` and stacked; a field's header is the one of
    the first file that has it.
    """
    issues, labels = read_together(blocks, _issues)
    return issues.with_row_index("_pos"), labels


def _parent_of_each_issue(issues: pl.DataFrame) -> pl.DataFrame:
    """The parent issue key of every issue key: ``key`` and ``_parent`` (null when none is found).

    The parent is written as an epic link, a parent key or a parent id (first filled of
    these); it is looked up among the issue keys, then the issue ids, of the upload.  The
    first row of a repeated key wins.
    """
    keys = issues.select("key", "id").filter(pl.col("key").is_not_null())
    by_id = keys.filter(pl.col("id").is_not_null()).select(pl.col("id").alias("_ref"), pl.col("key").alias("_to"))
    by_key = keys.select(pl.col("key").alias("_ref"), pl.col("key").alias("_to"))
    refs = pl.concat([by_key, by_id]).unique("_ref", keep="first")
    return (
        issues.select("key", _ref=pl.coalesce("epic_link", "parent", "parent_id"))
        .filter(pl.col("key").is_not_null())
        .join(refs, on="_ref", how="left", maintain_order="left")
        .select("key", _parent=pl.col("_to"))
        .unique("key", keep="first")
    )


def _epic_of_each_issue(issues: pl.DataFrame) -> pl.DataFrame:
    """Add ``_epic`` (the key of the epic each issue belongs to) and ``_is_epic`` to the issues.

    An epic belongs to itself; other issues follow their parents up to three levels
    (sub-task -> story -> epic), one join per level, and belong to the first epic met.
    ``_epic`` is null for issues under no epic of the upload.
    """
    parents = _parent_of_each_issue(issues)
    is_epic = issues.select("key", _is_epic=_IS_EPIC).filter(pl.col("key").is_not_null()).unique("key", keep="first")
    walk = (
        issues.select("key")
        .join(is_epic, on="key", how="left", maintain_order="left")
        .with_columns(_epic=pl.when(pl.col("_is_epic")).then(pl.col("key")), _cur=pl.col("key"))
    )
    for _ in range(3):
        walk = (
            walk.join(parents.rename({"key": "_cur", "_parent": "_up"}), on="_cur", how="left", maintain_order="left")
            .join(is_epic.rename({"key": "_up", "_is_epic": "_up_epic"}), on="_up", how="left", maintain_order="left")
            .with_columns(
                _epic=pl.coalesce("_epic", pl.when(pl.col("_up_epic")).then(pl.col("_up"))),
                _cur=pl.col("_up"),
            )
            .drop("_up", "_up_epic")
        )
    return pl.concat([issues, walk.select("_epic")], how="horizontal").with_columns(_is_epic=_IS_EPIC)


def _milestones(issues: pl.DataFrame, labels: dict[str, str]) -> tuple[pl.DataFrame, dict[str, str]]:
    """The milestones part: one per epic, with the canonical columns and their header labels.

    The baseline finish is the baseline field when filled, else the due date; the reported
    status is Complete when the status category (else the status) is a done word, else the
    custom health field (Health, RAG Status), else the status when it is a health word
    (Blocked, At Risk, On Track), else blank.
    """
    col = pl.col
    done = pl.coalesce("category", "status").str.to_lowercase().is_in(DONE)
    # a workflow state named after health (Blocked, At Risk, On Track) says it; others say nothing
    status_word = col("status").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    health_state = pl.when(status_word.is_in(list(STATUS_WORDS))).then(col("status"))
    reported = pl.when(done).then(pl.lit("Complete")).otherwise(pl.coalesce(status_text(col("health")), health_state))
    return build(
        issues.filter(col("_is_epic")),
        labels,
        {
            "milestone_id": (col("key"), ("key",), "Issue key"),
            "project_id": (col("project_key"), ("project_key",), "Project key"),
            "name": (col("summary"), ("summary",), "Summary"),
            "owner": (col("assignee"), ("assignee",), "Assignee"),
            "baseline_start": (col("start"), ("start",), "Custom field (Start date)"),
            "baseline_finish": (pl.coalesce("baseline", "due"), ("baseline", "due"), "Due date"),
            "forecast_finish": (col("due"), ("due",), "Due date"),
            "actual_finish": (col("resolved"), ("resolved",), "Resolved"),
            "reported_status": (reported, ("health", "category", "status"), "Status"),
        },
    )


def _tasks(issues: pl.DataFrame, labels: dict[str, str]) -> tuple[pl.DataFrame, dict[str, str], list[Problem]]:
    """The tasks part (issues other than epics) and warnings for the issues left out.

    An issue under no epic of the upload, or open (not resolved) without a due date, is not
    imported and gets a warning saying why; the others become tasks of their epic, due by
    their due date (their resolved date when they have none).
    """
    col = pl.col
    others = issues.filter(~col("_is_epic"))
    no_epic = col("_epic").is_null()
    no_date = ~no_epic & col("due").is_null() & col("resolved").is_null()
    warnings = not_imported(
        others,
        no_epic,
        labels.get("key", "Issue key"),
        "the issue belongs to no epic of this upload, so to no milestone; it was not imported",
    )
    warnings += not_imported(
        others,
        no_date,
        labels.get("due", "Due date"),
        "the open issue has no due date, so it cannot move its epic's forecast; it was not imported",
    )
    tasks, task_labels = build(
        others.filter(~no_epic & ~no_date),
        labels,
        {
            "task_id": (col("key"), ("key",), "Issue key"),
            "milestone_id": (col("_epic"), (), "Custom field (Epic Link)"),
            "name": (col("summary"), ("summary",), "Summary"),
            "owner": (col("assignee"), ("assignee",), "Assignee"),
            "forecast_finish": (pl.coalesce("due", "resolved"), ("due", "resolved"), "Due date"),
            "actual_finish": (col("resolved"), ("resolved",), "Resolved"),
        },
    )
    return tasks, task_labels, warnings


def _kpi_links(issues: pl.DataFrame) -> pl.DataFrame:
    """Links from ``kpi:`` labels: each such label of an issue links the issue's epic to that KPI.

    Issues under no epic are skipped; see :func:`~kpi_engine.ingest.tools.common.kpi_links`
    for the rows returned.
    """
    return kpi_links(issues.filter(pl.col("_epic").is_not_null()), "_epic", pl.col("_labels"), KPI_LABEL)


def _dependencies(issues: pl.DataFrame) -> pl.DataFrame:
    """Dependencies from ``Outward issue link (Blocks)``: the blocking issue's epic precedes the blocked one's.

    The blocked issues are looked up by key (first row of a repeated key); links to issues
    not in the upload are dropped, and so are pairs within one epic and repeated pairs.
    """
    epic_of = (
        issues.select(pl.col("key").alias("_blocked"), pl.col("_epic").alias("successor_id"))
        .filter(pl.col("_blocked").is_not_null())
        .unique("_blocked", keep="first")
    )
    return distinct_dependencies(
        issues.filter(pl.col("_epic").is_not_null())
        .select("_pos", *PROVENANCE, predecessor_id="_epic", _blocked="_blocks")
        .explode("_blocked")
        .join(epic_of, on="_blocked", how="inner")
    )


def _projects(issues: pl.DataFrame, labels: dict[str, str]) -> tuple[pl.DataFrame, dict[str, str]]:
    """The projects part: one per ``Project key``, from the first issue that names it.

    The name is the ``Project name`` (the key when blank) and the owner the ``Project lead``.
    """
    col = pl.col
    return build(
        issues.filter(col("project_key").is_not_null()).unique("project_key", keep="first", maintain_order=True),
        labels,
        {
            "project_id": (col("project_key"), ("project_key",), "Project key"),
            "name": (pl.coalesce("project_name", "project_key"), ("project_name", "project_key"), "Project name"),
            "owner": (col("project_lead"), ("project_lead",), "Project lead"),
        },
    )


def adapt(blocks: list[Block]) -> Outcome:
    """Map the issues of one or more Jira CSV exports onto milestones, tasks, links, projects, dependencies."""
    outcome = Outcome()
    issues, labels = _issue_table(blocks)
    issues = _epic_of_each_issue(issues)
    where = upload_place(blocks)
    opts = {"decimal_comma": blocks[0].sheet.decimal_comma, "epoch1904": blocks[0].sheet.epoch1904}

    milestones, milestone_labels = _milestones(issues, labels)
    outcome.parts.append(part(where, "milestones", milestones, milestone_labels, SOURCE, **opts))

    tasks, task_labels, warnings = _tasks(issues, labels)
    outcome.warnings += warnings
    outcome.parts.append(part(where, "tasks", tasks, task_labels, SOURCE, **opts))

    links = _kpi_links(issues)
    if links.height:
        outcome.parts.append(
            part(where, "links", links, {"milestone_id": "Labels", "kpi_id": "Labels"}, SOURCE, derived=True)
        )

    deps = _dependencies(issues)
    if deps.height:
        dep_labels = {
            "predecessor_id": "Issue key",
            "successor_id": "Outward issue link (Blocks)",
            "lag_days": "lag_days",
        }
        outcome.parts.append(part(where, "dependencies", deps, dep_labels, SOURCE, derived=True))

    if "project_lead" in labels:
        projects, project_labels = _projects(issues, labels)
        outcome.parts.append(part(where, "projects", projects, project_labels, SOURCE, derived=True))
    return outcome
