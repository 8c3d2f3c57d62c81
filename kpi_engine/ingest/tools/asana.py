"""Asana project exports (Export > CSV).

Mapping (data/sample/exports/README.md shows it with an example):

- A top-level task (``Parent task`` blank) becomes a milestone when it has subtasks in the
  upload or carries the tag ``milestone``.  Id = ``Task ID``, project = the first of
  ``Projects``, owner = ``Assignee`` (``Assignee Email`` when blank), baseline start =
  ``Start Date``, baseline and forecast finish = ``Due Date``, actual finish =
  ``Completed At``; reported status Complete when completed, else blank (= Unknown).
- Subtasks (at any depth) become tasks of their top-level milestone: forecast finish =
  ``Due Date`` (``Completed At`` for a completed subtask without one), actual finish =
  ``Completed At``.  ``Parent task`` may hold the parent's Task ID or its name (names must
  be unique within the project).  Open subtasks without a due date, and top-level tasks
  that are neither milestones nor subtasks, are left out with a warning.
- ``Tags`` like ``kpi:K-OTD`` link the task's milestone to that KPI.
- ``Blocked By (Dependencies)`` (Task IDs) makes the blocking task's milestone a
  finish-to-start predecessor of this task's milestone (lag 0).
- 16-digit ids that Excel turned into ``1.21143E+15`` are problems: re-export.
- No project row is made (the export does not name a project owner).
Several Asana files in one upload are read together.
"""

from __future__ import annotations

import polars as pl

from kpi_engine.ingest.model import PROVENANCE, Block, Outcome, problems_where
from kpi_engine.ingest.tools.common import build, distinct_dependencies, not_imported, part, pick
from kpi_engine.ingest.values import ROUNDED_ID, ROUNDED_ID_MESSAGE, is_rounded_id, split_list

SOURCE = "asana"

FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("taskid",),
    "completed": ("completedat",),
    "name": ("name",),
    "assignee": ("assignee",),
    "email": ("assigneeemail",),
    "start": ("startdate",),
    "due": ("duedate",),
    "tags": ("tags",),
    "projects": ("projects",),
    "parent": ("parenttask", "parenttaskid"),
    "blocked_by": ("blockedbydependencies", "blockedby"),
}

#: field -> the header Asana gives it (named when an export lacks it)
HEADERS = {
    "id": "Task ID",
    "completed": "Completed At",
    "name": "Name",
    "assignee": "Assignee",
    "email": "Assignee Email",
    "start": "Start Date",
    "due": "Due Date",
    "tags": "Tags",
    "projects": "Projects",
    "parent": "Parent task",
    "blocked_by": "Blocked By (Dependencies)",
}

MILESTONE_TAG = "milestone"
KPI_TAG = "kpi:"


def adapt(blocks: list[Block]) -> Outcome:
    """Map the tasks of one or more Asana CSV exports onto milestones, tasks, links and dependencies."""
    outcome = Outcome()
    read = [pick(b, FIELDS) for b in blocks]
    labels: dict[str, str] = {}
    for _, lab in reversed(read):
        labels.update(lab)
    label = {f: labels.get(f, HEADERS[f]) for f in FIELDS}
    rows = pl.concat([f for f, _ in read], how="vertical_relaxed")
    first = blocks[0]
    where = (first.file, first.name) if len(blocks) == 1 else (", ".join(dict.fromkeys(b.file for b in blocks)), "-")

    # Task ID itself is checked with every id column by the validation
    rounded = {
        "parent": is_rounded_id(pl.col("parent")),
        "blocked_by": split_list(pl.col("blocked_by")).list.eval(pl.element().str.contains(ROUNDED_ID)).list.any(),
    }
    for field, mask in rounded.items():
        outcome.problems += problems_where(
            rows,
            mask.fill_null(False),
            label[field],
            pl.format(f"{ROUNDED_ID_MESSAGE} (value '{{}}')", pl.col(field)),
        )

    rows = rows.with_row_index("_pos").with_columns(
        _project=split_list(pl.col("projects")).list.first(),
        _tags=split_list(pl.col("tags")).list.eval(pl.element().str.to_lowercase()),
    )
    # "Parent task" holds a Task ID or (in most exports) the parent's name
    by_id = rows.filter(pl.col("id").is_not_null()).select(_ref=pl.col("id"), _parent_pos=pl.col("_pos"))
    names = rows.filter(pl.col("name").is_not_null()).select(
        _ref=pl.col("name"), _proj=pl.col("_project"), _parent_pos=pl.col("_pos")
    )
    ambiguous_names = names.filter(pl.struct("_ref", "_proj").is_duplicated()).select("_ref", "_proj").unique()
    by_name = names.unique(["_ref", "_proj"], keep="none")
    parent_ref = rows.select("_pos", "_project", _ref=pl.col("parent")).filter(pl.col("_ref").is_not_null())
    resolved = (
        parent_ref.join(by_id, on="_ref", how="left", maintain_order="left")
        .join(
            by_name.rename({"_parent_pos": "_by_name"}),
            left_on=["_ref", "_project"],
            right_on=["_ref", "_proj"],
            how="left",
            maintain_order="left",
        )
        .select("_pos", _parent_pos=pl.coalesce("_parent_pos", "_by_name"))
    )
    rows = rows.join(resolved, on="_pos", how="left", maintain_order="left")
    has_parent = pl.col("parent").is_not_null()
    ambiguous = rows.join(ambiguous_names, left_on=["parent", "_project"], right_on=["_ref", "_proj"], how="semi")[
        "_pos"
    ]
    outcome.problems += problems_where(
        rows,
        pl.col("_pos").is_in(ambiguous.implode()) & pl.col("_parent_pos").is_null(),
        label["parent"],
        pl.format("parent task '{}' matches several tasks of the project; export with Task IDs", pl.col("parent")),
    )
    # the top-level ancestor of every row, one join per level (Asana nests up to five levels)
    top = rows.select("_pos", _top=pl.when(~has_parent).then(pl.col("_pos")), _up=pl.col("_parent_pos"))
    step = rows.select(_up="_pos", _next="_parent_pos", _up_top=pl.when(~has_parent).then(pl.col("_pos")))
    for _ in range(5):
        top = (
            top.join(step, on="_up", how="left", maintain_order="left")
            .with_columns(_top=pl.coalesce("_top", "_up_top"), _up=pl.col("_next"))
            .drop("_next", "_up_top")
        )
    rows = rows.with_columns(_top=top["_top"])
    parents_of_children = rows.filter(has_parent)["_top"].drop_nulls().unique()
    is_milestone = ~has_parent & (
        pl.col("_pos").is_in(parents_of_children.implode()) | pl.col("_tags").list.contains(MILESTONE_TAG)
    )
    rows = rows.with_columns(_ms=is_milestone.fill_null(False))
    ms_key = rows.filter(pl.col("_ms")).select(_top="_pos", _milestone="id")
    rows = rows.join(ms_key, on="_top", how="left", maintain_order="left")
    col = pl.col
    owner = (pl.coalesce("assignee", "email"), ("assignee", "email"), "Assignee")
    opts = {"decimal_comma": first.sheet.decimal_comma, "epoch1904": first.sheet.epoch1904}
    milestones, milestone_labels = build(
        rows.filter(col("_ms")),
        labels,
        {
            "milestone_id": (col("id"), ("id",), "Task ID"),
            "project_id": (col("_project"), ("projects",), "Projects"),
            "name": (col("name"), ("name",), "Name"),
            "owner": owner,
            "baseline_start": (col("start"), ("start",), "Start Date"),
            "baseline_finish": (col("due"), ("due",), "Due Date"),
            "forecast_finish": (col("due"), ("due",), "Due Date"),
            "actual_finish": (col("completed"), ("completed",), "Completed At"),
            "reported_status": (
                pl.when(col("completed").is_not_null()).then(pl.lit("Complete")),
                ("completed",),
                "Completed At",
            ),
        },
    )
    outcome.parts.append(part(where, "milestones", milestones, milestone_labels, SOURCE, **opts))

    top_level_plain = ~has_parent & ~pl.col("_ms")
    orphan = (
        has_parent
        & pl.col("_milestone").is_null()
        & ~pl.col("_pos").is_in(ambiguous.implode())
        & ~is_rounded_id(pl.col("parent"))
    )
    no_date = has_parent & pl.col("_milestone").is_not_null() & pl.col("due").is_null() & pl.col("completed").is_null()
    outcome.warnings += not_imported(
        rows,
        top_level_plain,
        label["name"],
        "a top-level task without subtasks and without the tag 'milestone' is neither a milestone nor part of one; "
        "it was not imported",
    )
    outcome.warnings += not_imported(
        rows,
        orphan,
        label["parent"],
        "the parent task is not in this upload, so the subtask belongs to no milestone; it was not imported",
    )
    outcome.warnings += not_imported(
        rows,
        no_date,
        label["due"],
        "the open subtask has no due date, so it cannot move its milestone's forecast; it was not imported",
    )
    tasks, task_labels = build(
        rows.filter(has_parent & col("_milestone").is_not_null() & ~no_date),
        labels,
        {
            "task_id": (col("id"), ("id",), "Task ID"),
            "milestone_id": (col("_milestone"), (), labels.get("parent", "Parent task")),
            "name": (col("name"), ("name",), "Name"),
            "owner": owner,
            "forecast_finish": (pl.coalesce("due", "completed"), ("due", "completed"), "Due Date"),
            "actual_finish": (col("completed"), ("completed",), "Completed At"),
        },
    )
    outcome.parts.append(part(where, "tasks", tasks, task_labels, SOURCE, **opts))

    # a rounded Task ID is reported on its own row; links and dependencies do not repeat it
    usable = rows.filter(pl.col("_milestone").is_not_null() & ~is_rounded_id(pl.col("_milestone")))
    links = (
        usable.select("_milestone", *PROVENANCE, _tag=split_list(pl.col("tags")))
        .explode("_tag")
        .filter(pl.col("_tag").str.to_lowercase().str.starts_with(KPI_TAG))
        .select(*PROVENANCE, milestone_id="_milestone", kpi_id=pl.col("_tag").str.slice(len(KPI_TAG)).str.strip_chars())
        .unique(["milestone_id", "kpi_id"], keep="first", maintain_order=True)
    )
    if links.height:
        tag_labels = dict.fromkeys(("milestone_id", "kpi_id"), label["tags"])
        outcome.parts.append(part(where, "links", links, tag_labels, SOURCE, derived=True))

    milestone_of = (
        usable.select(_blocker=pl.col("id"), predecessor_id=pl.col("_milestone"))
        .filter(pl.col("_blocker").is_not_null())
        .unique("_blocker", keep="first")
    )
    deps = distinct_dependencies(
        usable.select("_pos", *PROVENANCE, successor_id="_milestone", _blocker=split_list(pl.col("blocked_by")))
        .explode("_blocker")
        .join(milestone_of, on="_blocker", how="inner")
    )
    if deps.height:
        outcome.parts.append(
            part(
                where,
                "dependencies",
                deps,
                dict.fromkeys(("predecessor_id", "successor_id", "lag_days"), label["blocked_by"]),
                SOURCE,
                derived=True,
            )
        )
    return outcome
