"""Errors as people see them: a KpiError's own message, anything else a friendly note.

Details of unexpected errors go to the server log only; no page ever shows a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl
import streamlit as st

from kpi_engine.core.errors import KpiError, Problem, UploadRejected
from ui import format as fmt

log = logging.getLogger("kpi_dashboard")

FRIENDLY = (
    "Something went wrong while drawing this page. The details are in the server log; "
    "try another snapshot or reload the page, and tell the PMO if it happens again."
)


def problems_frame(problems: list[Problem]) -> pl.DataFrame:
    """Return problems as a table: file, sheet, row, column, problem."""
    return pl.DataFrame(
        {
            "file": [p.file for p in problems],
            "sheet": [p.sheet for p in problems],
            "row": [p.row for p in problems],
            "column": [p.column for p in problems],
            "problem": [p.message for p in problems],
        },
        schema={"file": pl.String, "sheet": pl.String, "row": pl.Int64, "column": pl.String, "problem": pl.String},
    )


#: Problems listed as sentences; all of them are in the table under the list.
LISTED_PROBLEMS = 30


def problem_sentence(problem: Problem) -> str:
    """One problem as people read it: "milestones.csv, sheet -, row 2, column baseline_finish: ..."."""
    where = [problem.file or "the upload"]
    if problem.sheet and problem.sheet != "-":
        where.append(f"sheet {problem.sheet}")
    if problem.row is not None:
        where.append(f"row {problem.row}")
    if problem.column:
        where.append(f"column {problem.column}")
    return ", ".join(where) + f": {problem.message}"


def show_problems(problems: list[Problem], key: str = "problems") -> None:
    """Show every problem of an upload: the first as wrapped sentences, all of them in a table."""
    items = "".join(
        f"<li style='margin-bottom:0.3rem;overflow-wrap:anywhere'>{fmt.escape(problem_sentence(p))}</li>"
        for p in problems[:LISTED_PROBLEMS]
    )
    more = (
        f"<p>… and {len(problems) - LISTED_PROBLEMS:,} more: see the table below.</p>"
        if len(problems) > LISTED_PROBLEMS
        else ""
    )
    st.html(f"<ul style='font-size:0.95rem;line-height:1.45;padding-left:1.2rem'>{items}</ul>{more}")
    st.dataframe(
        problems_frame(problems),
        hide_index=True,
        placeholder="–",
        width="stretch",
        key=key,
        column_config={
            "file": st.column_config.TextColumn("File"),
            "sheet": st.column_config.TextColumn("Sheet"),
            "row": st.column_config.NumberColumn("Row", format="%d", width="small"),
            "column": st.column_config.TextColumn("Column"),
            "problem": st.column_config.TextColumn("Problem", width="large"),
        },
        height=min(38 + 35 * max(len(problems), 1), 420),
    )


def show_error(err: BaseException) -> None:
    """Show an error: a KpiError's message as it is, anything else as a friendly note."""
    if isinstance(err, UploadRejected):
        st.error(
            f"The upload was rejected: {len(err.problems)} problem(s) found. Nothing of it was stored; "
            "fix the files and upload them again.",
            icon=":material/block:",
        )
        show_problems(err.problems, key="rejected_problems")
    elif isinstance(err, KpiError):
        st.error(fmt.plain(err, one_line=False, limit=None), icon=":material/error:")
    else:
        log.error("unexpected error on a page", exc_info=err)
        st.error(FRIENDLY, icon=":material/sentiment_dissatisfied:")


@contextmanager
def guard() -> Iterator[None]:
    """Run a page body; show its errors instead of a traceback.

    Streamlit's own control flow (``st.stop``, ``st.rerun``, ``st.switch_page``) derives
    from BaseException, not Exception, so it passes through untouched.
    """
    try:
        yield
    except Exception as err:
        show_error(err)
