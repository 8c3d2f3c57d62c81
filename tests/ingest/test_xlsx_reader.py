"""Workbooks: visible sheets, sheet names, date cells and serials (1900 and 1904), titles, errors."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import pytest

from kpi_engine.core.errors import InputError
from kpi_engine.ingest import SourceFile
from kpi_engine.ingest.readers import MAX_UNPACKED_BYTES, read_sheets

from .support import accepted, problem_lines, workbook

HEADER = ["milestone_id", "project_id", "name", "owner", "baseline_finish", "forecast_finish", "percent_complete"]


def book(rows: list[list[object]], **kwargs: object) -> SourceFile:
    return SourceFile("plan.xlsx", workbook({"Milestones": [HEADER, *rows]}, **kwargs))  # type: ignore[arg-type]


def test_date_cells_datetimes_and_serial_numbers() -> None:
    file = book(
        [
            ["M1", "P", "Go-live", "Ann", date(2026, 8, 31), datetime(2026, 9, 7, 15, 30), 80],
            ["M2", "P", "Pilot", "Bob", 46095, "2026-03-20", 0.5 * 100],
        ]
    )
    milestones = accepted(file).tables["milestones"]
    assert milestones["baseline_finish"].to_list() == [date(2026, 8, 31), date(2026, 3, 14)]
    assert milestones["forecast_finish"].to_list() == [date(2026, 9, 7), date(2026, 3, 20)]
    assert milestones["percent_complete"].to_list() == [80.0, 50.0]
    assert milestones["_sheet"].to_list() == ["Milestones", "Milestones"]
    assert milestones["_row"].to_list() == [2, 3]


def test_1904_workbook_reads_date_cells_and_serials_right() -> None:
    file = book([["M1", "P", "Go-live", "Ann", date(2026, 8, 31), 44633, None]], epoch1904=True)
    (sheet,) = read_sheets(file)
    assert sheet.epoch1904
    milestones = accepted(file).tables["milestones"]
    assert milestones["baseline_finish"].to_list() == [date(2026, 8, 31)]
    assert milestones["forecast_finish"].to_list() == [date(2026, 3, 14)]


def test_hidden_sheets_are_not_read() -> None:
    data = workbook(
        {
            "milestones": [HEADER, ["M1", "P", "Go-live", "Ann", date(2026, 8, 31), None, None]],
            "tasks": [["task_id"], ["T1"]],
        },
        hidden=("tasks",),
    )
    assert [s.name for s in read_sheets(SourceFile("plan.xlsx", data))] == ["milestones"]
    assert set(accepted(SourceFile("plan.xlsx", data)).tables) == {"milestones"}


def test_title_rows_and_trailing_empty_rows() -> None:
    rows = [
        ["Milestone report"],
        [],
        HEADER,
        ["M1", None, "Go-live", "Ann", date(2026, 8, 31), None, None],
        [None] * 7,
        [None] * 7,
    ]
    assert problem_lines(SourceFile("plan.xlsx", workbook({"MILESTONES": rows}))) == [
        "plan.xlsx, sheet MILESTONES, row 4, column project_id: a value is required here"
    ]


def test_sheet_names_ignore_case_and_spaces() -> None:
    data = workbook({"KPI Actuals": [["kpi_id", "as_of", "value"], ["K-CPM", date(2026, 3, 31), 2.1]]})
    assert accepted(SourceFile("book.xlsx", data)).tables["kpi_actuals"]["value"].to_list() == [2.1]


def test_excel_error_cells_are_problems_not_blanks() -> None:
    file = book([["M1", "P", "Go-live", "#N/A", date(2026, 8, 31), "#REF!", None]])
    assert problem_lines(file) == [
        "plan.xlsx, sheet Milestones, row 2, column owner: the cell shows the Excel error #N/A; "
        "fix the formula or clear the cell",
        "plan.xlsx, sheet Milestones, row 2, column forecast_finish: the cell shows the Excel error #REF!; "
        "fix the formula or clear the cell",
    ]


def test_other_sheets_of_a_workbook_are_skipped_with_a_warning() -> None:
    data = workbook(
        {
            "Read me": [["How to fill this workbook"]],
            "milestones": [HEADER, ["M1", "P", "Go-live", "Ann", date(2026, 8, 31), None, None]],
        }
    )
    upload = accepted(SourceFile("plan.xlsx", data))
    assert [str(w) for w in upload.warnings] == [
        "plan.xlsx, sheet Read me, row -, column -: sheet not read: its name and headers match no table"
    ]


def test_a_workbook_with_nothing_recognisable_is_a_problem() -> None:
    data = workbook({"Sheet1": [["Foo", "Bar"], [1, 2]]})
    (line,) = problem_lines(SourceFile("book.xlsx", data))
    assert line.startswith("book.xlsx, sheet Sheet1, row -, column -: the headers match no layout this program reads")


def test_a_damaged_workbook_is_a_problem() -> None:
    assert problem_lines(SourceFile("book.xlsx", b"PK\x03\x04 not really a zip")) == [
        "book.xlsx, sheet -, row -, column -: the workbook is damaged and cannot be opened"
    ]


def test_a_workbook_that_unpacks_to_too_much_is_refused_before_reading() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 3_000_000)  # compresses over 1000:1
    with pytest.raises(InputError, match="more than can be read safely"):
        read_sheets(SourceFile("bomb.xlsx", out.getvalue()))
    assert MAX_UNPACKED_BYTES > 100_000_000
