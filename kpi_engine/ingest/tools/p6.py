"""Primavera P6 schedules exported as .xer (File > Export > Primavera PM - (XER)).

An .xer is text: a header line ``ERMHDR<TAB>version<TAB>...``, then tables, each a ``%T``
line (table name), a ``%F`` line (field names) and ``%R`` lines (records), all tab
separated; ``%E`` ends the file.  This module reads it with its own small reader.

Mapping (data/sample/exports/README.md shows it with an example):

- Project: every ``PROJECT`` record; project id ``proj_short_name``.  A file holding several
  projects is read whole, each project's milestones under its own id, and the upload
  carries a warning saying so.
- ``TASK`` records with ``task_type`` ``TT_FinMile`` (finish milestone) or ``TT_Mile`` (start
  milestone) become milestones: id ``<project>-<task_code>``, name ``task_name``, owner the
  ``RSRC.rsrc_name`` of the task's ``TASKRSRC`` records (comma separated), baseline start /
  finish ``target_start_date`` / ``target_end_date``, forecast finish ``early_end_date``
  (``act_end_date`` once finished; a start milestone, which has no end, uses its start
  dates), actual finish ``act_end_date``, percent complete ``phys_complete_pct``, reported
  status Complete when ``status_code`` is ``TK_Complete``, else the activity's user-defined
  text field (``UDFTYPE`` / ``UDFVALUE``) labelled Status, Health or RAG, else blank.
- WBS summaries (``TT_WBS``) and level-of-effort activities (``TT_LOE``, which span other
  work) are not imported; other activities are tasks.
- A task belongs to the milestone its successor relationships (``TASKPRED``) lead to
  (follow successors until a milestone; fewest links wins, then the first in the file);
  a task whose successors reach no milestone belongs to the first milestone after it in
  its WBS element (activities of an element ordered by finish date, then activity id),
  else to the milestone its WBS element belongs to (the same rule one level up in
  ``PROJWBS``).  Tasks that still have none are left out with a warning.
- ``TASKPRED`` (``pred_task_id`` -> ``task_id``, ``pred_type`` ``PR_FS``, ``lag_hr_cnt``):
  the lag is in hours; days = lag_hr_cnt / ``day_hr_cnt`` of the predecessor's calendar
  (``CALENDAR``; P6 counts a relationship's lag on the predecessor's calendar by
  default), 8 hours when the calendar does not say.  Links between milestones then follow
  the MS Project rule (a task stands for its milestone; only finish-to-start, the largest
  lag between two milestones kept; a lag of part of a day is a problem).
- Problems and warnings name the table (``TASK``, ``TASKPRED``) and, as row, the line of
  the .xer file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import polars as pl

from kpi_engine.core.errors import InputError, Problem
from kpi_engine.ingest.limits import max_plan_tasks
from kpi_engine.ingest.model import Outcome, SourceFile
from kpi_engine.ingest.readers import decode
from kpi_engine.ingest.tools.common import SCHEDULE_FIELDS, schedule_parts
from kpi_engine.ingest.tools.plans import (
    STATUS_FIELD_NAMES,
    check_task_count,
    field_key,
    lag_text,
    lead_milestones,
    plan_block,
)

SOURCE = "p6"
SHEET = "TASK"
#: The oldest XER version read (P6 6.0; every later release keeps these tables and fields).
OLDEST_VERSION = (6, 0)
MILESTONE_TYPES = ("TT_FinMile", "TT_Mile")
#: Activity types that are not work of their own: not imported.
SUMMARY_TYPES = ("TT_WBS", "TT_LOE")
LINK_TYPES = {"PR_FS": "FS", "PR_SS": "SS", "PR_FF": "FF", "PR_SF": "SF"}
#: Hours in a working day when the calendar does not say (P6's default).
DEFAULT_DAY_HOURS = 8.0
#: Fields of TASK every export has; a file without them is not a usable schedule.
TASK_FIELDS = ("task_id", "proj_id", "task_code", "task_name", "task_type")

LABELS = {
    "name": "task_name",
    "owner": "TASKRSRC",
    "bstart": "target_start_date",
    "bfinish": "target_end_date",
    "finish": "early_end_date",
    "afinish": "act_end_date",
    "pct": "phys_complete_pct",
    "status": "status_code",
    "preds": "TASKPRED",
    "key": "task_code",
    "project": "proj_short_name",
}


@dataclass
class Table:
    """One table of an .xer: its field names and records, each with the line it was on."""

    name: str
    fields: list[str]
    line: int
    records: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def parse_xer(data: bytes) -> dict[str, Table]:
    """Read the tables of an .xer file.

    Raises
    ------
    InputError
        The file does not start with ``ERMHDR``, is of a version older than 6.0, or is
        damaged (a record before any table, a record with more values than fields, no
        ``%E`` at the end: a file cut off would otherwise lose its last rows unseen).
    """
    text = decode(data).decode("utf-8")
    lines = text.split("\n")
    header = lines[0].rstrip("\r").split("\t") if lines else []
    if not header or header[0] != "ERMHDR":
        raise InputError(
            "the file is not a Primavera P6 schedule (.xer): it does not start with ERMHDR; "
            "in P6 use File > Export > Primavera PM (XER)"
        )
    version = header[1] if len(header) > 1 else ""
    parts = version.split(".")
    if not (len(parts) >= 1 and parts[0].isdigit()):
        raise InputError(f"the .xer header names no version ('{version}'); the file may be damaged")
    if (int(parts[0]), int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0) < OLDEST_VERSION:
        raise InputError(
            f"the .xer was exported by P6 version {version}, which this program does not read "
            "(6.0 or later); export it again from a current P6"
        )
    tables: dict[str, Table] = {}
    current: Table | None = None
    ended = False
    for number, raw in enumerate(lines[1:], start=2):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        kind, _, rest = line.partition("\t")
        if kind == "%T":
            current = tables.setdefault(rest.strip(), Table(rest.strip(), [], number))
        elif kind == "%F":
            if current is None:
                raise InputError(f"line {number}: a field list (%F) comes before any table (%T); the file is damaged")
            current.fields = rest.split("\t")
        elif kind == "%R":
            if current is None or not current.fields:
                raise InputError(f"line {number}: a record (%R) comes before its table's fields; the file is damaged")
            values = rest.split("\t")
            if len(values) > len(current.fields):
                raise InputError(
                    f"line {number}, table {current.name}: the record has {len(values)} values but the table "
                    f"has {len(current.fields)} fields; the file is damaged"
                )
            # a record may end early (P6 leaves trailing blank fields out): the rest are blank
            padded = values + [""] * (len(current.fields) - len(values))
            current.records.append((number, {f: v.strip() for f, v in zip(current.fields, padded, strict=True)}))
        elif kind == "%E":
            ended = True
            break
        else:
            raise InputError(
                f"line {number}: '{kind[:20]}' is not an .xer line (%T, %F, %R or %E); the file is damaged"
            )
    if not ended:
        # P6 closes every export with %E: without it the file was cut off and rows may be missing
        raise InputError("the .xer file ends without its end mark (%E): it was cut off; export it again from P6")
    return tables


def _records(tables: dict[str, Table], name: str) -> list[tuple[int, dict[str, str]]]:
    return tables[name].records if name in tables else []


def _hours(text: str | None, default: float) -> float:
    try:
        value = float(text) if text else default
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass
class _Plan:
    """The lookups a TASK record needs, built from the other tables."""

    projects: dict[str, str]
    owners: dict[str, str]
    day_hours: dict[str, float]
    status: dict[str, str]
    wbs_parent: dict[str, str]
    wbs_order: dict[str, int]


def _lookups(tables: dict[str, Table]) -> _Plan:
    projects = {
        r.get("proj_id", ""): r.get("proj_short_name") or r.get("proj_id", "") for _, r in _records(tables, "PROJECT")
    }
    names = {r.get("rsrc_id", ""): r.get("rsrc_name", "") for _, r in _records(tables, "RSRC")}
    owners: dict[str, list[str]] = {}
    for _, r in _records(tables, "TASKRSRC"):
        name = names.get(r.get("rsrc_id", ""))
        task_id = r.get("task_id", "")
        if name and name not in owners.setdefault(task_id, []):
            owners[task_id].append(name)
    day_hours = {
        r.get("clndr_id", ""): _hours(r.get("day_hr_cnt"), DEFAULT_DAY_HOURS) for _, r in _records(tables, "CALENDAR")
    }
    status_types = {
        r.get("udf_type_id", "")
        for _, r in _records(tables, "UDFTYPE")
        if r.get("table_name") == "TASK" and field_key(r.get("udf_type_label", "")) in STATUS_FIELD_NAMES
    }
    status = {
        r.get("fk_id", ""): r.get("udf_text", "")
        for _, r in _records(tables, "UDFVALUE")
        if r.get("udf_type_id") in status_types and r.get("udf_text")
    }
    wbs = [r for _, r in _records(tables, "PROJWBS")]
    wbs_parent = {r.get("wbs_id", ""): r.get("parent_wbs_id", "") for r in wbs}
    ordered = sorted(wbs, key=lambda r: (_int(r.get("seq_num")), _int(r.get("wbs_id"))))
    wbs_order = {r.get("wbs_id", ""): i for i, r in enumerate(ordered)}
    return _Plan(projects, {t: ", ".join(p) for t, p in owners.items()}, day_hours, status, wbs_parent, wbs_order)


def _int(text: str | None) -> int:
    return int(text) if text and text.lstrip("-").isdigit() else 0


def _wbs_path(wbs_id: str, plan: _Plan) -> list[str]:
    """The WBS elements from the top down to ``wbs_id`` (guarded against a loop in a damaged file)."""
    path: list[str] = []
    while wbs_id and wbs_id in plan.wbs_parent and wbs_id not in path:
        path.append(wbs_id)
        wbs_id = plan.wbs_parent[wbs_id]
    return path[::-1]


def read_xer(file: SourceFile) -> Outcome:
    """Map a Primavera P6 .xer file onto milestones, tasks and dependencies.

    Raises
    ------
    InputError
        The file is not an .xer, is damaged or of an old version (:func:`parse_xer`), has
        no TASK table with its usual fields, or holds more activities than
        ``KPI_MAX_PLAN_TASKS``.
    """
    tables = parse_xer(file.data)
    if "TASK" not in tables or not tables["TASK"].records:
        raise InputError("the .xer file holds no activities (no TASK records)")
    missing = [f for f in TASK_FIELDS if f not in tables["TASK"].fields]
    if missing:
        raise InputError(f"the TASK table of the .xer file lacks the fields {', '.join(missing)}; the file is damaged")
    tasks = tables["TASK"].records
    check_task_count(len(tasks), max_plan_tasks(), "activities")
    plan = _lookups(tables)
    outcome = Outcome()
    if len(plan.projects) > 1:
        outcome.warnings.append(
            Problem(
                file.name,
                "PROJECT",
                None,
                "proj_short_name",
                f"the file holds {len(plan.projects)} projects ({', '.join(plan.projects.values())}); "
                "all were read, each project's milestones under its own id",
            )
        )
    calendar_of = {r["task_id"]: r.get("clndr_id", "") for _, r in tasks}
    preds: dict[str, list[str]] = {}
    pairs: list[tuple[str, str]] = []
    for line, link in _records(tables, "TASKPRED"):
        pred, succ = link.get("pred_task_id", ""), link.get("task_id", "")
        hours = link.get("lag_hr_cnt", "0") or "0"
        try:
            lag_hours = float(hours)
            if not math.isfinite(lag_hours):
                raise ValueError(hours)
        except ValueError:
            outcome.problems.append(
                Problem(file.name, "TASKPRED", line, "lag_hr_cnt", f"'{hours}' is not a number of hours")
            )
            continue
        days = lag_hours / plan.day_hours.get(calendar_of.get(pred, ""), DEFAULT_DAY_HOURS)
        kind = LINK_TYPES.get(link.get("pred_type") or "PR_FS")
        if kind is None:
            outcome.problems.append(
                Problem(
                    file.name,
                    "TASKPRED",
                    line,
                    "pred_type",
                    f"'{link.get('pred_type')}' is not a P6 relationship type (PR_FS, PR_SS, PR_FF or PR_SF)",
                )
            )
            continue
        preds.setdefault(succ, []).append(f"{pred}{kind}{lag_text(days, elapsed=False)}")
        pairs.append((pred, succ))
    records: list[dict[str, object]] = []
    for line, r in tasks:
        task_type = r.get("task_type", "")
        done = r.get("status_code") == "TK_Complete"
        start_milestone = task_type == "TT_Mile"
        finish = r.get("early_end_date") or (r.get("early_start_date") if start_milestone else None)
        actual = r.get("act_end_date") or (r.get("act_start_date") if start_milestone and done else None)
        baseline = r.get("target_end_date") or (r.get("target_start_date") if start_milestone else None)
        project = plan.projects.get(r.get("proj_id", ""), r.get("proj_id", ""))
        records.append(
            {
                "name": r.get("task_name") or None,
                "owner": plan.owners.get(r["task_id"]),
                "bstart": r.get("target_start_date") or None,
                "bfinish": baseline or None,
                "finish": (finish or (actual if done else None)) or None,
                "afinish": actual or None,
                "pct": r.get("phys_complete_pct") or None,
                "status": "Complete" if done else plan.status.get(r["task_id"]),
                "preds": ",".join(preds.get(r["task_id"], ())) or None,
                "_id": r["task_id"],
                "_project": project,
                "_code": r.get("task_code") or r["task_id"],
                "_wbs": r.get("wbs_id", ""),
                "_summary": task_type in SUMMARY_TYPES,
                "_ms": task_type in MILESTONE_TYPES,
                "_row": line,
            }
        )
    rows = _outline(records, plan)
    lead = lead_milestones(rows["_id"].to_list(), rows["_ms"].to_list(), pairs)
    rows = rows.with_columns(_lead=pl.Series(lead, dtype=pl.Int64), _file=pl.lit(file.name))
    labels = dict(LABELS)
    outcome.extend(schedule_parts(plan_block(file.name, SHEET, rows), rows, labels, SOURCE, "P6", LABELS))
    return outcome


def _outline(records: list[dict[str, object]], plan: _Plan) -> pl.DataFrame:
    """The activities in outline order: per project, WBS elements (as summary rows) in their order,
    each element's activities by finish date then activity id before its child elements.

    Gives every row the ``_level``, ``_key`` and ``_sheet`` :func:`schedule_parts` reads.
    """
    wbs_rows = []
    seen: set[tuple[str, str]] = set()
    for r in records:
        path = _wbs_path(str(r["_wbs"]), plan)
        for depth, wbs_id in enumerate(path, start=1):
            if (str(r["_project"]), wbs_id) in seen:
                continue
            seen.add((str(r["_project"]), wbs_id))
            wbs_rows.append(
                {
                    **dict.fromkeys(SCHEDULE_FIELDS),
                    "_id": f"wbs:{wbs_id}",
                    "_project": r["_project"],
                    "_code": f"wbs:{wbs_id}",
                    "_summary": True,
                    "_ms": False,
                    "_row": 0,
                    "_level": depth,
                    "_sort": [plan.wbs_order.get(w, 0) for w in path[:depth]],
                    "_finish": "",
                }
            )
        r["_level"] = len(path) + 1
        # an element's own activities come before its child elements: -1 sorts first
        r["_sort"] = [*(plan.wbs_order.get(w, 0) for w in path), -1]
        r["_finish"] = str(r["finish"] or r["bfinish"] or "")
    ordered = sorted(
        [*records, *wbs_rows], key=lambda r: (str(r["_project"]), r["_sort"], r["_finish"], str(r["_code"]))
    )
    frame = pl.DataFrame(
        [{k: v for k, v in r.items() if k not in ("_sort", "_finish", "_wbs")} for r in ordered],
        schema={
            **dict.fromkeys(SCHEDULE_FIELDS, pl.String),
            "_id": pl.String,
            "_project": pl.String,
            "_code": pl.String,
            "_summary": pl.Boolean,
            "_ms": pl.Boolean,
            "_row": pl.Int64,
            "_level": pl.Int64,
        },
    )
    return frame.with_columns(_key=pl.format("{}-{}", pl.col("_project"), pl.col("_code")), _sheet=pl.lit(SHEET)).drop(
        "_code"
    )
