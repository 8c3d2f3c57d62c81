"""The blank template workbook: what it offers, and that a filled-in copy reads back."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest

from kpi_engine.core.schema import TABLES
from kpi_engine.ingest import SourceFile, template_workbook

from .support import accepted, problem_lines


@pytest.fixture(scope="module")
def template() -> bytes:
    return template_workbook()


def test_one_sheet_per_table_with_its_columns(template: bytes) -> None:
    book = openpyxl.load_workbook(io.BytesIO(template))
    assert book.sheetnames == list(TABLES)
    for table, columns in TABLES.items():
        assert [c.value for c in book[table][1]] == list(columns)


def test_header_comments_say_required_and_format(template: bytes) -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(template))["milestones"]
    comments = {c.value: c.comment.text for c in sheet[1]}
    assert comments["baseline_finish"] == "Required. Date (YYYY-MM-DD).\nApproved (baseline) finish date."
    assert comments["percent_complete"] == "Optional. Number.\n0 to 100."
    lag = openpyxl.load_workbook(io.BytesIO(template))["dependencies"]["C1"].comment.text
    assert lag.startswith("Optional. Whole number. Default 0.")


def test_drop_downs_for_direction_and_status(template: bytes) -> None:
    book = openpyxl.load_workbook(io.BytesIO(template))
    direction = book["kpis"].data_validations.dataValidation[0]
    assert direction.formula1 == '"higher_is_better,lower_is_better"'
    assert str(direction.sqref) == "F2:F1048576"
    status = book["milestones"].data_validations.dataValidation[0]
    assert status.formula1 == '"Green,Amber,Red,Complete"'
    assert str(status.sqref) == "J2:J1048576"


def test_the_blank_template_holds_no_rows(template: bytes) -> None:
    assert problem_lines(SourceFile("template.xlsx", template)) == [
        "template.xlsx, sheet -, row -, column -: the upload holds no data rows"
    ]


def test_a_filled_in_template_reads_back(template: bytes) -> None:
    book = openpyxl.load_workbook(io.BytesIO(template))
    book["milestones"].append(
        [
            "M1",
            "P-ROUTE",
            "Routing go-live",
            "Priya Raman",
            date(2026, 3, 1),
            date(2026, 8, 31),
            None,
            None,
            80,
            "Green",
        ]
    )
    out = io.BytesIO()
    book.save(out)
    upload = accepted(SourceFile("filled.xlsx", out.getvalue()))
    assert list(upload.tables) == ["milestones"]
    assert upload.tables["milestones"]["baseline_finish"].to_list() == [date(2026, 8, 31)]
    assert upload.files[0].tables == {t: (1 if t == "milestones" else 0) for t in TABLES}
