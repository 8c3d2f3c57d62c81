"""An item's history (notified, decided, re-escalated, closed), in the drill-down and the board workbook."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import openpyxl
import polars as pl

from kpi_engine.loop.views import history_of, item_history
from kpi_engine.output.report import report_bytes

from .support import Loop


def _week_two() -> Loop:
    loop = Loop()
    loop.upload(date(2026, 6, 15))
    loop.notify()
    loop.decide("M3", "K-OTD", "recover", "Marco Bellini", due=date(2026, 6, 29), note="a second vendor team")
    loop.upload(date(2026, 6, 22))
    loop.notify()
    return loop


def _history(loop: Loop) -> pl.DataFrame:
    return item_history(loop.status(), loop.notifications, loop.decisions, loop.as_of)


def test_an_items_story_reads_in_order() -> None:
    loop = _week_two()
    m5 = history_of(_history(loop), "M5", None, "several owners")
    assert m5.select("as_of", "event", "who", "escalation_level").rows() == [
        (date(2026, 6, 15), "notified", "Ann Lee", 1),
        (date(2026, 6, 22), "notified", "Dana Whitfield", 2),
        (date(2026, 6, 22), "re-escalated", "Dana Whitfield", 2),
    ]
    assert m5["detail"].to_list()[1:] == [
        "Dana Whitfield <dana.whitfield@fleet.example> by email (higher level)",
        "from level 1 to 2 (sponsor): 7 days without a decision (+1)",
    ]
    m3 = history_of(_history(loop), "M3", "K-OTD", None)
    assert m3.select("event", "who", "detail").rows()[1] == (
        "decided",
        "Marco Bellini",
        "recover; due 2026-06-29; a second vendor team",
    )


def test_an_item_that_left_the_list_is_closed() -> None:
    loop = _week_two()
    fixed = loop.portfolio.milestones.with_columns(
        pl.when(pl.col("milestone_id") == "M5").then(pl.lit("Ann Lee")).otherwise(pl.col("owner")).alias("owner")
    )
    loop.upload(date(2026, 6, 29), replace(loop.portfolio, milestones=fixed))
    m5 = history_of(_history(loop), "M5", None, "several owners")
    assert m5.rows(named=True)[-1]["event"] == "closed"
    assert m5.rows(named=True)[-1]["detail"] == "no longer in the exception list of the snapshot of 2026-06-29"


def test_the_board_workbook_has_a_decisions_sheet() -> None:
    loop = _week_two()
    assert loop.result is not None
    book = openpyxl.load_workbook(io.BytesIO(report_bytes(loop.result, decisions=_history(loop))))
    sheet = book["Decisions"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:8] == (
        "Milestone ID",
        "KPI ID",
        "Finding",
        "Snapshot as of",
        "Event",
        "Who",
        "Escalation level",
        "Detail",
    )
    events = [(r[0], r[1], r[4], r[5]) for r in rows[1:]]
    assert ("M3", "K-OTD", "decided", "Marco Bellini") in events
    assert (None, "K-IDLE", "re-escalated", "Dana Whitfield") in events
