"""Jira CSV exports (issue navigator "Export CSV (all fields)" or "current fields").

Mapping (data/sample/exports/README.md shows it with an example):

- Epics (``Issue Type`` = Epic) become milestones: id = ``Issue key``, project = ``Project key``,
  owner = ``Assignee``, baseline finish = ``Custom field (Baseline Finish)`` or ``Original due
  date`` when present and filled, else ``Due date``; forecast finish = ``Due date``; baseline
  start = ``Custom field (Start date)``; actual finish = ``Resolved``; reported status Complete
  when the status (category) is Done, Closed or Resolved, otherwise blank (= Unknown: a Jira
  workflow state says nothing about schedule health).
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

from kpi_engine.ingest.model import PROVENANCE, Block, Outcome
from kpi_engine.ingest.tools.common import build, distinct_dependencies, not_imported, part, pick

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
}

DONE = ("done", "closed", "resolved", "complete", "completed")
KPI_LABEL = "kpi:"


def _issues(block: Block) -> tuple[pl.DataFrame, dict[str, str]]:
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


def adapt(blocks: list[Block]) -> Outcome:
    """Map the issues of one or more Jira CSV exports onto milestones, tasks, links, projects, dependencies."""
    outcome = Outcome()
    read = [_issues(b) for b in blocks]
    labels: dict[str, str] = {}
    for _, lab in reversed(read):
        labels.update(lab)
    issues = pl.concat([f for f, _ in read], how="vertical_relaxed").with_row_index("_pos")
    first = blocks[0]
    where = (first.file, first.name) if len(blocks) == 1 else (", ".join(dict.fromkeys(b.file for b in blocks)), "-")

    epic = pl.col("type").str.to_lowercase() == "epic"
    keys = issues.select("key", "id", _is_epic=epic.fill_null(False)).filter(pl.col("key").is_not_null())
    by_id = keys.filter(pl.col("id").is_not_null()).select(pl.col("id").alias("_ref"), pl.col("key").alias("_to"))
    by_key = keys.select(pl.col("key").alias("_ref"), pl.col("key").alias("_to"))
    refs = pl.concat([by_key, by_id]).unique("_ref", keep="first")
    # parent reference as written (epic link, parent key or parent id) -> parent issue key
    parents = (
        issues.select("key", _ref=pl.coalesce("epic_link", "parent", "parent_id"))
        .filter(pl.col("key").is_not_null())
        .join(refs, on="_ref", how="left", maintain_order="left")
        .select("key", _parent=pl.col("_to"))
        .unique("key", keep="first")
    )
    is_epic = keys.select("key", "_is_epic").unique("key", keep="first")
    # follow parents up to three levels (sub-task -> story -> epic), one join per level
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
    issues = pl.concat([issues, walk.select("_epic")], how="horizontal").with_columns(_is_epic=epic.fill_null(False))
    done = pl.coalesce("category", "status").str.to_lowercase().is_in(DONE)
    col = pl.col
    opts = {"decimal_comma": first.sheet.decimal_comma, "epoch1904": first.sheet.epoch1904}

    milestones, milestone_labels = build(
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
            "reported_status": (pl.when(done).then(pl.lit("Complete")), ("category", "status"), "Status"),
        },
    )
    outcome.parts.append(part(where, "milestones", milestones, milestone_labels, SOURCE, **opts))

    others = issues.filter(~col("_is_epic"))
    no_epic = col("_epic").is_null()
    no_date = ~no_epic & col("due").is_null() & col("resolved").is_null()
    outcome.warnings += not_imported(
        others,
        no_epic,
        labels.get("key", "Issue key"),
        "the issue belongs to no epic of this upload, so to no milestone; it was not imported",
    )
    outcome.warnings += not_imported(
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
    outcome.parts.append(part(where, "tasks", tasks, task_labels, SOURCE, **opts))

    tags = (
        issues.filter(pl.col("_epic").is_not_null())
        .select("_epic", "_labels", *PROVENANCE)
        .explode("_labels")
        .filter(pl.col("_labels").str.to_lowercase().str.starts_with(KPI_LABEL))
        .select(
            *PROVENANCE,
            milestone_id=pl.col("_epic"),
            kpi_id=pl.col("_labels").str.slice(len(KPI_LABEL)).str.strip_chars(),
        )
        .unique(["milestone_id", "kpi_id"], keep="first", maintain_order=True)
    )
    if tags.height:
        outcome.parts.append(
            part(where, "links", tags, {"milestone_id": "Labels", "kpi_id": "Labels"}, SOURCE, derived=True)
        )

    epic_of = (
        issues.select(pl.col("key").alias("_blocked"), pl.col("_epic").alias("successor_id"))
        .filter(pl.col("_blocked").is_not_null())
        .unique("_blocked", keep="first")
    )
    deps = distinct_dependencies(
        issues.filter(pl.col("_epic").is_not_null())
        .select("_pos", *PROVENANCE, predecessor_id="_epic", _blocked="_blocks")
        .explode("_blocked")
        .join(epic_of, on="_blocked", how="inner")
    )
    if deps.height:
        outcome.parts.append(
            part(
                where,
                "dependencies",
                deps,
                {
                    "predecessor_id": "Issue key",
                    "successor_id": "Outward issue link (Blocks)",
                    "lag_days": "lag_days",
                },
                SOURCE,
                derived=True,
            )
        )

    if "project_lead" in labels:
        projects, project_labels = build(
            issues.filter(col("project_key").is_not_null()).unique("project_key", keep="first", maintain_order=True),
            labels,
            {
                "project_id": (col("project_key"), ("project_key",), "Project key"),
                "name": (pl.coalesce("project_name", "project_key"), ("project_name", "project_key"), "Project name"),
                "owner": (col("project_lead"), ("project_lead",), "Project lead"),
            },
        )
        outcome.parts.append(part(where, "projects", projects, project_labels, SOURCE, derived=True))
    return outcome
