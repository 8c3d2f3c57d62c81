"""Asana project exports (Export > CSV).

Mapping (data/sample/exports/README.md shows it with an example):

- A top-level task (``Parent task`` blank) becomes a milestone when it has subtasks in the
  upload or carries the tag ``milestone``.  Id = ``Task ID``, project = the first of
  ``Projects``, owner = ``Assignee`` (``Assignee Email`` when blank), baseline start =
  ``Start Date``, baseline and forecast finish = ``Due Date``, actual finish =
  ``Completed At``; reported status Complete when completed, else the custom field
  ``Status`` (Asana's On track / At risk / Off track, or Green / Yellow / Red; Not started
  and In progress say nothing about health and read as blank), else blank (= Unknown).
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

from kpi_engine.core.errors import Problem
from kpi_engine.ingest.model import PROVENANCE, Block, Outcome, problems_where
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
    "status": ("status", "health", "ragstatus", "rag"),
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
    "status": "Status",
}

MILESTONE_TAG = "milestone"
KPI_TAG = "kpi:"

#: a row naming a ``Parent task`` is a subtask, the others are top-level tasks
_HAS_PARENT = pl.col("parent").is_not_null()
#: the owner of milestones and tasks: ``Assignee``, else ``Assignee Email``
_OWNER = (pl.coalesce("assignee", "email"), ("assignee", "email"), "Assignee")


def _task_table(blocks: list[Block]) -> tuple[pl.DataFrame, dict[str, str]]:
    """All tasks of the upload in one frame, with field -> header as the files show it.

    The blocks are picked and stacked in upload order; a field's header is the one of the
    first file that has it.
    """
    return read_together(blocks, lambda block: pick(block, FIELDS))


def _rounded_id_problems(rows: pl.DataFrame, header: dict[str, str]) -> list[Problem]:
    """Problems for ``Parent task`` and ``Blocked By`` ids that Excel rounded (``1.21143E+15``).

    The ``Task ID`` itself is checked with every id column by the validation; here the
    parent cells come first, then the dependency cells, each naming the value.
    """
    rounded = {
        "parent": is_rounded_id(pl.col("parent")),
        "blocked_by": split_list(pl.col("blocked_by")).list.eval(pl.element().str.contains(ROUNDED_ID)).list.any(),
    }
    problems: list[Problem] = []
    for field, mask in rounded.items():
        problems += problems_where(
            rows,
            mask.fill_null(False),
            header[field],
            pl.format(f"{ROUNDED_ID_MESSAGE} (value '{{}}')", pl.col(field)),
        )
    return problems


def _resolve_parents(rows: pl.DataFrame) -> pl.DataFrame:
    """Number the rows (``_pos``) and find the row of each subtask's parent (``_parent_pos``).

    Also adds ``_project`` (the first of the task's projects) and ``_tags`` (lower case).
    ``Parent task`` holds a Task ID or (in most exports) the parent's name, matched within
    the task's project; ``_ambiguous`` marks rows whose parent name several tasks of the
    project carry (their ``_parent_pos`` stays null unless the text is also a Task ID).
    """
    rows = rows.with_row_index("_pos").with_columns(
        _project=split_list(pl.col("projects")).list.first(),
        _tags=split_list(pl.col("tags")).list.eval(pl.element().str.to_lowercase()),
    )
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
    ambiguous = rows.join(ambiguous_names, left_on=["parent", "_project"], right_on=["_ref", "_proj"], how="semi")[
        "_pos"
    ]
    return rows.with_columns(_ambiguous=pl.col("_pos").is_in(ambiguous.implode()))


def _ambiguous_parent_problems(rows: pl.DataFrame, header: dict[str, str]) -> list[Problem]:
    """Problems for subtasks whose parent name matches several tasks of the project and no Task ID."""
    return problems_where(
        rows,
        pl.col("_ambiguous") & pl.col("_parent_pos").is_null(),
        header["parent"],
        pl.format("parent task '{}' matches several tasks of the project; export with Task IDs", pl.col("parent")),
    )


def _top_level_of_each_task(rows: pl.DataFrame) -> pl.DataFrame:
    """Add ``_top``: the position of each row's top-level ancestor (itself for a top-level task).

    Parents are followed one join per level, up to five levels (as deep as Asana nests);
    ``_top`` is null where the chain breaks (a parent not found in the upload) or runs deeper.
    """
    top_level = pl.when(~_HAS_PARENT).then(pl.col("_pos"))
    top = rows.select("_pos", _top=top_level, _up=pl.col("_parent_pos"))
    step = rows.select(_up="_pos", _next="_parent_pos", _up_top=top_level)
    for _ in range(5):
        top = (
            top.join(step, on="_up", how="left", maintain_order="left")
            .with_columns(_top=pl.coalesce("_top", "_up_top"), _up=pl.col("_next"))
            .drop("_next", "_up_top")
        )
    return rows.with_columns(_top=top["_top"])


def _milestone_of_each_task(rows: pl.DataFrame) -> pl.DataFrame:
    """Add ``_ms`` (the row is a milestone) and ``_milestone`` (the Task ID of its milestone).

    A top-level task is a milestone when some subtask of the upload reaches it or it carries
    the tag ``milestone``; every row belongs to the milestone of its top-level ancestor, if any.
    """
    has_parent = _HAS_PARENT
    parents_of_children = rows.filter(has_parent)["_top"].drop_nulls().unique()
    is_milestone = ~has_parent & (
        pl.col("_pos").is_in(parents_of_children.implode()) | pl.col("_tags").list.contains(MILESTONE_TAG)
    )
    rows = rows.with_columns(_ms=is_milestone.fill_null(False))
    ms_key = rows.filter(pl.col("_ms")).select(_top="_pos", _milestone="id")
    return rows.join(ms_key, on="_top", how="left", maintain_order="left")


def _milestones(rows: pl.DataFrame, labels: dict[str, str]) -> tuple[pl.DataFrame, dict[str, str]]:
    """The milestones part, with the canonical columns and their header labels.

    The due date is both baseline and forecast finish; the reported status is Complete for
    a completed milestone, else the custom field Status (On track, At risk, Off track), else blank.
    """
    col = pl.col
    return build(
        rows.filter(col("_ms")),
        labels,
        {
            "milestone_id": (col("id"), ("id",), "Task ID"),
            "project_id": (col("_project"), ("projects",), "Projects"),
            "name": (col("name"), ("name",), "Name"),
            "owner": _OWNER,
            "baseline_start": (col("start"), ("start",), "Start Date"),
            "baseline_finish": (col("due"), ("due",), "Due Date"),
            "forecast_finish": (col("due"), ("due",), "Due Date"),
            "actual_finish": (col("completed"), ("completed",), "Completed At"),
            "reported_status": (
                pl.when(col("completed").is_not_null()).then(pl.lit("Complete")).otherwise(status_text(col("status"))),
                ("status", "completed"),
                "Completed At",
            ),
        },
    )


def _tasks(
    rows: pl.DataFrame, labels: dict[str, str], header: dict[str, str]
) -> tuple[pl.DataFrame, dict[str, str], list[Problem]]:
    """The tasks part (subtasks of a milestone) and warnings for the rows left out.

    Warned and not imported: top-level tasks that are not milestones, subtasks whose parent
    is not in the upload (unless already reported as ambiguous or rounded), and open
    subtasks without a due date; the others are due by their due date (their completion
    date when they have none).
    """
    col = pl.col
    has_parent = _HAS_PARENT
    top_level_plain = ~has_parent & ~col("_ms")
    orphan = has_parent & col("_milestone").is_null() & ~col("_ambiguous") & ~is_rounded_id(col("parent"))
    no_date = has_parent & col("_milestone").is_not_null() & col("due").is_null() & col("completed").is_null()
    warnings = not_imported(
        rows,
        top_level_plain,
        header["name"],
        "a top-level task without subtasks and without the tag 'milestone' is neither a milestone nor part of one; "
        "it was not imported",
    )
    warnings += not_imported(
        rows,
        orphan,
        header["parent"],
        "the parent task is not in this upload, so the subtask belongs to no milestone; it was not imported",
    )
    warnings += not_imported(
        rows,
        no_date,
        header["due"],
        "the open subtask has no due date, so it cannot move its milestone's forecast; it was not imported",
    )
    tasks, task_labels = build(
        rows.filter(has_parent & col("_milestone").is_not_null() & ~no_date),
        labels,
        {
            "task_id": (col("id"), ("id",), "Task ID"),
            "milestone_id": (col("_milestone"), (), labels.get("parent", "Parent task")),
            "name": (col("name"), ("name",), "Name"),
            "owner": _OWNER,
            "forecast_finish": (pl.coalesce("due", "completed"), ("due", "completed"), "Due Date"),
            "actual_finish": (col("completed"), ("completed",), "Completed At"),
        },
    )
    return tasks, task_labels, warnings


def _linkable(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows that may yield links and dependencies: those of a milestone whose Task ID is not rounded.

    A rounded Task ID is reported on its own row; links and dependencies do not repeat it.
    """
    return rows.filter(pl.col("_milestone").is_not_null() & ~is_rounded_id(pl.col("_milestone")))


def _kpi_links(linkable: pl.DataFrame) -> pl.DataFrame:
    """Links from ``kpi:`` tags: each such tag of a task links the task's milestone to that KPI.

    See :func:`~kpi_engine.ingest.tools.common.kpi_links` for the rows returned.
    """
    return kpi_links(linkable, "_milestone", split_list(pl.col("tags")), KPI_TAG)


def _dependencies(linkable: pl.DataFrame) -> pl.DataFrame:
    """Dependencies from ``Blocked By``: the blocking task's milestone precedes this task's milestone.

    Blocking tasks are looked up by Task ID among the linkable rows (first row of a repeated
    id); pairs within one milestone and repeated pairs are dropped.
    """
    milestone_of = (
        linkable.select(_blocker=pl.col("id"), predecessor_id=pl.col("_milestone"))
        .filter(pl.col("_blocker").is_not_null())
        .unique("_blocker", keep="first")
    )
    return distinct_dependencies(
        linkable.select("_pos", *PROVENANCE, successor_id="_milestone", _blocker=split_list(pl.col("blocked_by")))
        .explode("_blocker")
        .join(milestone_of, on="_blocker", how="inner")
    )


def adapt(blocks: list[Block]) -> Outcome:
    """Map the tasks of one or more Asana CSV exports onto milestones, tasks, links and dependencies."""
    outcome = Outcome()
    rows, labels = _task_table(blocks)
    header = {f: labels.get(f, HEADERS[f]) for f in FIELDS}
    where = upload_place(blocks)
    opts = {"decimal_comma": blocks[0].sheet.decimal_comma, "epoch1904": blocks[0].sheet.epoch1904}

    outcome.problems += _rounded_id_problems(rows, header)
    rows = _resolve_parents(rows)
    outcome.problems += _ambiguous_parent_problems(rows, header)
    rows = _top_level_of_each_task(rows)
    rows = _milestone_of_each_task(rows)

    milestones, milestone_labels = _milestones(rows, labels)
    outcome.parts.append(part(where, "milestones", milestones, milestone_labels, SOURCE, **opts))

    tasks, task_labels, warnings = _tasks(rows, labels, header)
    outcome.warnings += warnings
    outcome.parts.append(part(where, "tasks", tasks, task_labels, SOURCE, **opts))

    linkable = _linkable(rows)
    links = _kpi_links(linkable)
    if links.height:
        tag_labels = dict.fromkeys(("milestone_id", "kpi_id"), header["tags"])
        outcome.parts.append(part(where, "links", links, tag_labels, SOURCE, derived=True))

    deps = _dependencies(linkable)
    if deps.height:
        dep_labels = dict.fromkeys(("predecessor_id", "successor_id", "lag_days"), header["blocked_by"])
        outcome.parts.append(part(where, "dependencies", deps, dep_labels, SOURCE, derived=True))
    return outcome
