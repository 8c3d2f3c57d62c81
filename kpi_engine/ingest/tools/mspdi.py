"""MS Project XML files (MSPDI: File > Save As > XML Format), and .mpp files converted to it.

Mapping (data/sample/exports/README.md shows it with an example):

- The file is parsed with ``defusedxml``: a document type declaration (DTD) or entity is
  refused, so no entity can expand and nothing outside the file is fetched.
- Project id: ``Project/Title``, else ``Project/Name`` without its extension, else the file
  name without extension.  Tasks are ``Project/Tasks/Task``; blank rows (``IsNull`` = 1) and
  the project summary task (``UID`` 0 / ``OutlineLevel`` 0) are not tasks.
- ``Summary`` = 1 tasks are phases, not work: not imported.  ``Milestone`` = 1 tasks become
  milestones: id ``<project>-<UID>``, name ``Name``, owner the ``Resource`` names of the
  task's ``Assignment`` s (comma separated, in file order), baseline start/finish the
  ``Baseline`` with ``Number`` 0 (``Start`` / ``Finish``; without one the ``Finish`` is the
  baseline and the upload says so), forecast finish ``Finish``, actual finish
  ``ActualFinish``, percent complete ``PercentComplete``, reported status the task's
  custom field (``ExtendedAttribute``) whose alias or name is Status, Health or RAG
  (e.g. ``Text1`` renamed ``Status``).
- Other tasks are tasks of the milestone their successor links lead to (follow
  ``PredecessorLink`` s forward until a milestone; fewest links wins, then the first in the
  file); a task whose successors reach no milestone belongs to the first milestone below it
  under the same summary, else to its summary's milestone (the outline rule of the CSV
  export).  Tasks that still have none are left out with a warning.
- ``PredecessorLink`` (``PredecessorUID``, ``Type`` 1 = finish-to-start, ``LinkLag``,
  ``LagFormat``): ``LinkLag`` is in tenths of a minute.  A lag in working time (formats
  minutes, hours, days, weeks, months) is counted in working days of the project's
  ``MinutesPerDay`` (default 480, an 8-hour day): days = LinkLag / 10 / MinutesPerDay.
  An elapsed lag (``em``, ``eh``, ``ed``, ``ew``, ``emo``) is counted in calendar days:
  days = LinkLag / 10 / 1440.  Percentage lags are a problem naming the task.  Links
  between milestones then follow the CSV export's rule (a task stands for its milestone;
  only finish-to-start; the largest lag between two milestones is kept; the model counts
  whole days, so a lag of part of a day is a problem naming the task).
- Problems and warnings name the sheet ``Tasks`` and, as row, the task's ``ID`` (the row
  number MS Project shows).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field

import defusedxml
import defusedxml.ElementTree as SafeET
import polars as pl

from kpi_engine.core.errors import InputError, Problem
from kpi_engine.ingest.limits import max_plan_tasks
from kpi_engine.ingest.model import Outcome, SourceFile, file_stem
from kpi_engine.ingest.tools.common import SCHEDULE_FIELDS, schedule_parts, status_text
from kpi_engine.ingest.tools.plans import (
    STATUS_FIELD_NAMES,
    check_task_count,
    field_key,
    lag_text,
    lead_milestones,
    plan_block,
)

SOURCE = "msproject"
SHEET = "Tasks"

#: Link Type -> the letters the Predecessors text uses.
LINK_TYPES = {"0": "FF", "1": "FS", "2": "SF", "3": "SS"}
#: LagFormat values of elapsed (calendar) time: em, eh, ed, ew, emo and their estimated forms.
ELAPSED_FORMATS = frozenset({"4", "6", "8", "10", "12", "36", "38", "40", "42", "44"})
#: LagFormat values of a percentage of the predecessor's duration.
PERCENT_FORMATS = frozenset({"19", "20", "51", "52"})
#: Working minutes in a day when the project does not say (MS Project's default).
DEFAULT_MINUTES_PER_DAY = 480.0

#: field -> the element a problem names
LABELS = {
    "name": "Name",
    "owner": "Assignment",
    "bstart": "Baseline Start",
    "bfinish": "Baseline Finish",
    "finish": "Finish",
    "afinish": "ActualFinish",
    "pct": "PercentComplete",
    "status": "Status",
    "preds": "PredecessorLink",
    "key": "UID",
    "project": "Title",
}


def _local(tag: str) -> str:
    """An element name without its namespace (``{http://...}Task`` -> ``Task``)."""
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in element if _local(child.tag) == name)


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in _children(element, name):
        text = (child.text or "").strip()
        return text or None
    return None


@dataclass
class _Task:
    """What one Task element says, as text."""

    number: int
    values: dict[str, str] = field(default_factory=dict)
    baseline: dict[str, str] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)


def _read_task(element: ET.Element, number: int) -> _Task:
    task = _Task(number)
    for child in element:
        name = _local(child.tag)
        if name == "Baseline":
            values = {_local(c.tag): (c.text or "").strip() for c in child}
            if values.get("Number", "0") == "0":
                task.baseline = values
        elif name == "PredecessorLink":
            task.links.append({_local(c.tag): (c.text or "").strip() for c in child})
        elif name == "ExtendedAttribute":
            fid, value = _child_text(child, "FieldID"), _child_text(child, "Value")
            if fid is not None and value is not None:
                task.custom[fid] = value
        elif len(child) == 0:
            task.values[name] = (child.text or "").strip()
    return task


def parse_xml(data: bytes) -> ET.Element:
    """Parse MS Project XML safely and return its ``Project`` element.

    Raises
    ------
    InputError
        A DTD, entity or external reference (refused unread), XML that is damaged, or a
        document that is not an MS Project XML file.
    """
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise InputError(
            "the XML file declares a document type (DTD), which can make a small file expand without "
            "limit or read other files; it is refused. Save the plan again from MS Project as XML"
        ) from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise InputError(
            "the XML file declares entities (text that expands when read, or a reference to another file); "
            "it is refused. Save the plan again from MS Project as XML"
        ) from None
    except ET.ParseError as err:
        raise InputError(f"the XML file is damaged and cannot be read ({err})") from None
    except LookupError as err:
        # the XML declaration names an encoding Python does not know (encoding="TF-8")
        raise InputError(f"the XML file is damaged and cannot be read: its declaration names {err}") from None
    if _local(root.tag) != "Project":
        raise InputError(
            f"the XML file is not an MS Project XML file: its first element is <{_local(root.tag)}>, "
            "not <Project>; in MS Project use File > Save As > XML Format"
        )
    return root


def _project_id(root: ET.Element, file: str) -> str:
    title = _child_text(root, "Title")
    if title:
        return title
    name = _child_text(root, "Name")
    return file_stem(name) if name else file_stem(file)


def _minutes_per_day(root: ET.Element) -> float:
    text = _child_text(root, "MinutesPerDay")
    try:
        minutes = float(text) if text else DEFAULT_MINUTES_PER_DAY
    except ValueError:
        minutes = DEFAULT_MINUTES_PER_DAY
    return minutes if minutes > 0 else DEFAULT_MINUTES_PER_DAY


def _status_fields(root: ET.Element) -> list[str]:
    """FieldIDs of the project's custom fields named Status, Health or RAG (alias first)."""
    found = []
    for attrs in _children(root, "ExtendedAttributes"):
        for attr in _children(attrs, "ExtendedAttribute"):
            names = [_child_text(attr, "Alias"), _child_text(attr, "FieldName")]
            fid = _child_text(attr, "FieldID")
            if fid and any(n and field_key(n) in STATUS_FIELD_NAMES for n in names):
                found.append(fid)
    return found


def _owners(root: ET.Element) -> dict[str, str]:
    """Task UID -> resource names of its assignments, comma separated in file order."""
    names = {}
    for resources in _children(root, "Resources"):
        for resource in _children(resources, "Resource"):
            uid, name = _child_text(resource, "UID"), _child_text(resource, "Name")
            if uid is not None and name:
                names[uid] = name
    owners: dict[str, list[str]] = {}
    for assignments in _children(root, "Assignments"):
        for assignment in _children(assignments, "Assignment"):
            task, resource_uid = _child_text(assignment, "TaskUID"), _child_text(assignment, "ResourceUID")
            name = names.get(resource_uid or "")
            if task is not None and name and name not in owners.setdefault(task, []):
                owners[task].append(name)
    return {task: ", ".join(people) for task, people in owners.items()}


def _flag(task: _Task, name: str) -> bool:
    return task.values.get(name, "0").lower() in ("1", "true")


def read_mspdi(file: SourceFile, data: bytes | None = None) -> Outcome:
    """Map an MS Project XML file onto milestones, tasks and dependencies.

    Parameters
    ----------
    file
        The uploaded file (its name locates every problem).
    data
        The XML to read when it is not the file's own bytes (an .mpp converted to XML).

    Raises
    ------
    InputError
        The file cannot be read as MS Project XML (see :func:`parse_xml`) or holds more
        tasks than ``KPI_MAX_PLAN_TASKS``.
    """
    root = parse_xml(file.data if data is None else data)
    elements = [t for tasks in _children(root, "Tasks") for t in _children(tasks, "Task")]
    check_task_count(len(elements), max_plan_tasks(), "tasks")
    project = _project_id(root, file.name)
    per_day = _minutes_per_day(root)
    status_ids = _status_fields(root)
    owners = _owners(root)
    outcome = Outcome()
    records = []
    for number, element in enumerate(elements, start=1):
        task = _read_task(element, number)
        uid, level = task.values.get("UID", ""), task.values.get("OutlineLevel", "1") or "1"
        if _flag(task, "IsNull") or uid == "0" or level == "0":
            continue
        row = int(task.values["ID"]) if task.values.get("ID", "").isdigit() else number
        if not uid.isdigit():
            outcome.problems.append(Problem(file.name, SHEET, row, "UID", f"the task's UID '{uid}' is not a number"))
            continue
        if not level.isdigit():
            message = f"'{level}' is not a whole number"
            outcome.problems.append(Problem(file.name, SHEET, row, "OutlineLevel", message))
            continue
        preds = []
        for link in task.links:
            lag, problem = _lag(link, per_day, file.name, row)
            kind = LINK_TYPES.get(link.get("Type", "1") or "1")
            if problem is None and kind is None:
                message = f"link from task UID {link.get('PredecessorUID', '?')}: Type '{link.get('Type')}' is not 0-3"
                problem = Problem(file.name, SHEET, row, "PredecessorLink", message)
            if problem is not None:
                outcome.problems.append(problem)
                continue
            preds.append(f"{link.get('PredecessorUID', '')}{kind}{lag}")
        records.append(
            {
                "name": task.values.get("Name") or None,
                "owner": owners.get(uid),
                "bstart": task.baseline.get("Start") or None,
                "bfinish": task.baseline.get("Finish") or None,
                "finish": task.values.get("Finish") or None,
                "afinish": task.values.get("ActualFinish") or None,
                "pct": task.values.get("PercentComplete") or None,
                "status": next((task.custom[f] for f in status_ids if f in task.custom), None),
                "preds": ",".join(preds) or None,
                "_id": uid,
                "_level": int(level),
                "_summary": _flag(task, "Summary"),
                "_ms": _flag(task, "Milestone") and not _flag(task, "Summary"),
                "_row": row,
                "_links": [link.get("PredecessorUID", "") for link in task.links],
            }
        )
    if not records:
        outcome.problems.append(Problem(file.name, SHEET, None, "", "the plan holds no tasks"))
        return outcome
    frame = pl.DataFrame(
        records,
        schema={
            **dict.fromkeys(SCHEDULE_FIELDS, pl.String),
            "_id": pl.String,
            "_level": pl.Int64,
            "_summary": pl.Boolean,
            "_ms": pl.Boolean,
            "_row": pl.Int64,
            "_links": pl.List(pl.String),
        },
    )
    lead = lead_milestones(
        frame["_id"].to_list(),
        frame["_ms"].to_list(),
        ((pred, succ) for succ, preds in zip(frame["_id"], frame["_links"], strict=True) for pred in preds),
    )
    rows = frame.drop("_links").with_columns(
        _project=pl.lit(project),
        _key=pl.lit(f"{project}-") + pl.col("_id"),
        _lead=pl.Series(lead, dtype=pl.Int64),
        _file=pl.lit(file.name),
        _sheet=pl.lit(SHEET),
        status=status_text(pl.col("status")),
    )
    labels = {f: LABELS[f] for f in (*SCHEDULE_FIELDS, "key", "project")}
    result = schedule_parts(plan_block(file.name, SHEET, rows), rows, labels, SOURCE, "MS Project", LABELS)
    outcome.extend(result)
    return outcome


def _lag(link: dict[str, str], per_day: float, file: str, row: int) -> tuple[str, Problem | None]:
    """The lag text of one PredecessorLink (``+2d``, ``+1ed``, blank), or a problem naming the task."""
    raw = link.get("LinkLag", "0") or "0"
    lag_format = link.get("LagFormat", "7") or "7"
    pred = link.get("PredecessorUID", "?")
    try:
        tenths = float(raw)
        if not math.isfinite(tenths):
            raise ValueError(raw)
    except ValueError:
        return "", Problem(
            file, SHEET, row, "PredecessorLink", f"link from task UID {pred}: LinkLag '{raw}' is not a number"
        )
    if tenths != 0 and lag_format in PERCENT_FORMATS:
        return "", Problem(
            file,
            SHEET,
            row,
            "PredecessorLink",
            f"link from task UID {pred}: a lag given as a percentage of the predecessor's duration is not "
            "supported; give it in days",
        )
    elapsed = lag_format in ELAPSED_FORMATS
    days = tenths / 10 / (1440.0 if elapsed else per_day)
    return lag_text(days, elapsed=elapsed), None
