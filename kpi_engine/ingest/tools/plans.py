"""Pieces the readers of whole plan files share (MS Project XML and .mpp, Primavera P6 .xer).

A plan file is not a sheet of cells: its reader builds the rows a schedule adapter
prepares (:data:`~kpi_engine.ingest.tools.common.SCHEDULE_FIELDS` plus the ids, levels and
flags) and hands them to :func:`~kpi_engine.ingest.tools.common.schedule_parts`, so a plan
file gives milestones, tasks and dependencies of the same shape as a CSV export.

Rows of a plan file are located by a number a planner finds: the task ``ID`` (the row
number MS Project shows) or the line of the .xer file.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

import polars as pl

from kpi_engine.core.errors import InputError
from kpi_engine.ingest.model import Block, Sheet

#: Normalised names of a custom field that holds a reported status (RAG).
STATUS_FIELD_NAMES = frozenset({"status", "health", "rag", "ragstatus", "reportedstatus", "statusrag", "projectstatus"})


def field_key(text: str) -> str:
    """A custom field name without case, spaces and punctuation (``RAG status`` -> ``ragstatus``)."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def plan_block(file: str, sheet: str, rows: pl.DataFrame) -> Block:
    """A Block holding the prepared rows of a plan file, named after the file and its task table.

    ``rows`` carries the provenance columns; the block's sheet holds no cells (a plan
    file has none), only its file and table name for the parts made from it.
    """
    empty = Sheet(file=file, name=sheet, cells=pl.DataFrame({"_row": pl.Series([], dtype=pl.Int64)}))
    return Block(empty, 0, (), rows)


def lag_text(days: float, *, elapsed: bool) -> str:
    """A lag in days as the Predecessors text reads it (``+2d``, ``-0.5ed``, blank for none)."""
    if days == 0:
        return ""
    rounded = round(days, 4)
    amount = f"{int(rounded)}" if rounded == int(rounded) else f"{abs(rounded):g}"
    amount = amount.lstrip("-")
    return f"{'-' if days < 0 else '+'}{amount}{'ed' if elapsed else 'd'}"


def lead_milestones(ids: Sequence[str], is_milestone: Sequence[bool], links: Iterable[tuple[str, str]]) -> list[int]:
    """For each row, the position of the milestone its successor links lead to (-1 when none).

    The rule: from a task, follow its successors (any link type) until a milestone is
    reached; the milestone reached in the fewest links wins, and among those the one
    first in the file.  A milestone leads to itself.  Found with one breadth-first walk
    backwards from every milestone at once, so it is linear in rows and links.

    Parameters
    ----------
    ids
        The id links name, per row.
    is_milestone
        Whether each row is a milestone.
    links
        (predecessor id, successor id) pairs; ids that are no row are ignored.
    """
    position = {row_id: i for i, row_id in enumerate(ids)}
    predecessors: dict[int, list[int]] = {}
    for pred, succ in links:
        p, s = position.get(pred), position.get(succ)
        if p is not None and s is not None and p != s:
            predecessors.setdefault(s, []).append(p)
    lead = [i if ms else -1 for i, ms in enumerate(is_milestone)]
    queue = deque(i for i, ms in enumerate(is_milestone) if ms)
    while queue:
        at = queue.popleft()
        for p in predecessors.get(at, ()):
            if lead[p] < 0:
                lead[p] = lead[at]
                queue.append(p)
    return lead


def check_task_count(count: int, limit: int, what: str) -> None:
    """Refuse a plan with more tasks than the limit, before any row is built.

    Raises
    ------
    InputError
        ``count`` is over ``limit``.
    """
    if count > limit:
        raise InputError(
            f"the plan holds {count:,} {what}, over the limit of {limit:,} "
            "(KPI_MAX_PLAN_TASKS); split the plan or raise the limit"
        )
