"""Smartsheet exports: the Milestone checkbox (or zero duration), row positions, statuses."""

from __future__ import annotations

from datetime import date

from kpi_engine.ingest import read_paths

from .support import SAMPLE_EXPORTS, accepted, csv_file, problem_lines

HEADER = "Task Name,Start Date,End Date,Duration,Predecessors,% Complete,Status,Assigned To,Baseline Finish,Milestone\n"


def sheet(*rows: str, name: str = "P-WH.csv") -> object:
    return csv_file(name, HEADER + "".join(r + "\n" for r in rows))


ROWS = [
    "Analysis,03/02/26,03/20/26,15d,,100%,Complete,Mei Chen,03/20/26,false",
    "Plan approved,03/23/26,03/23/26,0,1FS +1d,100%,Complete,Mei Chen,03/23/26,true",
    "Relabel racks,03/24/26,04/17/26,19d,2,50%,In Progress,Arjun Patel,04/10/26,false",
    "Zones live,04/20/26,04/20/26,0,3,0%,Yellow,Mei Chen,04/13/26,true",
]


def test_checked_rows_are_milestones_and_others_tasks_of_the_next_one() -> None:
    tables = accepted(sheet(*ROWS)).tables
    assert tables["milestones"].select(
        "milestone_id", "project_id", "baseline_finish", "forecast_finish", "actual_finish", "reported_status"
    ).rows() == [
        ("P-WH-2", "P-WH", date(2026, 3, 23), date(2026, 3, 23), date(2026, 3, 23), "Complete"),
        ("P-WH-4", "P-WH", date(2026, 4, 13), date(2026, 4, 20), None, "Amber"),
    ]
    assert tables["tasks"].select("task_id", "milestone_id", "actual_finish").rows() == [
        ("P-WH-1", "P-WH-2", date(2026, 3, 20)),  # Complete: its End Date is its actual finish
        ("P-WH-3", "P-WH-4", None),
    ]
    assert tables["dependencies"].select("predecessor_id", "successor_id", "lag_days").rows() == [
        ("P-WH-2", "P-WH-4", 0)
    ]


def test_progress_statuses_read_as_blank_and_unknown_words_are_problems() -> None:
    assert accepted(sheet(*ROWS)).tables["milestones"]["reported_status"].to_list() == ["Complete", "Amber"]
    bad = ROWS[3].replace("Yellow", "Behind")
    (line,) = problem_lines(sheet(*ROWS[:3], bad))
    assert line.startswith("P-WH.csv, sheet P-WH, row 5, column Status: 'Behind' is not a status; use one of: green,")


def test_without_a_milestone_column_zero_duration_rows_are_milestones() -> None:
    header = "Task Name,Start Date,End Date,Duration,Assigned To,Row ID,Project\n"
    text = header + "Build,03/02/26,03/20/26,15d,Ann,7,P-X\nShip,03/23/26,03/23/26,0,Ann,8,P-X\n"
    tables = accepted(csv_file("sheet.csv", text)).tables
    assert tables["milestones"]["milestone_id"].to_list() == ["P-X-8"]
    assert tables["tasks"].select("task_id", "milestone_id").rows() == [("P-X-7", "P-X-8")]


def test_without_milestone_or_duration_column_it_cannot_tell() -> None:
    text = "Task Name,Start Date,End Date,Assigned To\nBuild,03/02/26,03/20/26,Ann\n"
    assert problem_lines(csv_file("sheet.csv", text)) == [
        "sheet.csv, sheet sheet, row -, column Milestone: required column 'Milestone' is missing (a checkbox, or a "
        "'Duration' column where milestones are 0)"
    ]


def test_sample_export() -> None:
    upload = accepted(*read_paths([SAMPLE_EXPORTS / "smartsheet_warehouse.csv"]))
    assert upload.files[0].tables == {"milestones": 3, "tasks": 7, "dependencies": 2}
    assert upload.warnings == []
