"""CSV files as Excel, tools and people write them: encodings, delimiters, quoting, titles, ragged rows."""

from __future__ import annotations

import codecs
from datetime import date

import polars as pl
import pytest

from kpi_engine.ingest import SourceFile
from kpi_engine.ingest.readers import read_sheets, sniff_delimiter

from .support import accepted, csv_file, problem_lines

MILESTONES = (
    "milestone_id,project_id,name,owner,baseline_finish,percent_complete\n"
    "M1,P-ROUTE,Routing go-live,Priya Raman,2026-08-31,80\n"
    "M2,P-TELE,Telematics,Zoë Brontë,2026-05-31,100\n"
)


def milestones_of(file: SourceFile) -> pl.DataFrame:
    return accepted(file).tables["milestones"]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(MILESTONES.encode("utf-8"), id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + MILESTONES.encode("utf-8"), id="utf-8-bom"),
        pytest.param(MILESTONES.encode("cp1252"), id="cp1252"),
        pytest.param(codecs.BOM_UTF16_LE + MILESTONES.encode("utf-16-le"), id="utf-16-le-bom"),
        pytest.param(codecs.BOM_UTF16_BE + MILESTONES.encode("utf-16-be"), id="utf-16-be-bom"),
        pytest.param(MILESTONES.encode("utf-16-le"), id="utf-16-le-no-bom"),
        pytest.param(MILESTONES.replace("\n", "\r\n").encode("utf-8"), id="crlf"),
        pytest.param(MILESTONES.replace(",", "\t").encode("utf-8"), id="tab"),
        pytest.param(MILESTONES.replace(",", "|").encode("utf-8"), id="pipe"),
        pytest.param(MILESTONES.replace(",", ";").encode("utf-8"), id="semicolon"),
    ],
)
def test_encodings_and_delimiters_read_the_same(data: bytes) -> None:
    milestones = milestones_of(SourceFile("milestones.csv", data))
    assert milestones["owner"].to_list() == ["Priya Raman", "Zoë Brontë"]
    assert milestones["baseline_finish"].to_list() == [date(2026, 8, 31), date(2026, 5, 31)]
    assert milestones["percent_complete"].to_list() == [80.0, 100.0]
    assert milestones["_row"].to_list() == [2, 3]


def test_semicolon_file_with_decimal_commas() -> None:
    text = (
        "project_id;name;owner;budget\n"
        "P-ROUTE;Routing;Priya Raman;1.200.000,50\n"
        "P-TELE;Telematics;Tom Becker;800000\n"
        "P-DRV;Driver app;Luis Ortega;2,5\n"
    )
    projects = accepted(csv_file("projects.csv", text)).tables["projects"]
    assert projects["budget"].to_list() == [1_200_000.5, 800_000.0, 2.5]


def test_quoted_newlines_and_delimiters_stay_in_their_cell() -> None:
    text = (
        "objective_id,name,owner,description\r\n"
        'O-1,"Cut cost, every mile",Dana Whitfield,"First line\r\nsecond line"\r\n'
        "O-2,Deliver on time,Marco Bellini,\r\n"
    )
    objectives = accepted(csv_file("objectives.csv", text)).tables["objectives"]
    assert objectives["name"].to_list() == ["Cut cost, every mile", "Deliver on time"]
    assert objectives["description"].to_list() == ["First line\r\nsecond line", None]
    # a quoted newline does not add a row: the second record is row 3, as a spreadsheet shows it
    assert objectives["_row"].to_list() == [2, 3]


def test_title_rows_above_the_header_are_skipped_and_rows_counted_from_the_file() -> None:
    text = (
        "Portfolio milestones - exported 2026-06-15\n"
        "\n"
        "milestone_id,project_id,name,owner,baseline_finish\n"
        "M1,,Routing go-live,Priya Raman,2026-08-31\n"
    )
    assert problem_lines(csv_file("milestones.csv", text)) == [
        "milestones.csv, sheet milestones, row 4, column project_id: a value is required here"
    ]


def test_blank_rows_are_skipped_but_keep_the_row_numbers() -> None:
    text = MILESTONES.replace("\nM2", "\n,,,,,\n   ,  ,,,,\nM2")
    assert milestones_of(csv_file("milestones.csv", text))["_row"].to_list() == [2, 5]


def test_short_rows_read_as_blanks_at_the_end() -> None:
    text = "milestone_id,project_id,name,owner,baseline_finish,percent_complete\nM1,P,Go-live,Ann,2026-01-01\n"
    assert milestones_of(csv_file("milestones.csv", text))["percent_complete"].to_list() == [None]


def test_a_row_longer_than_the_header_is_a_problem_not_cut() -> None:
    text = (
        "milestone_id,project_id,name,owner,baseline_finish\n"
        "M1,P-ROUTE,Routing go-live,Priya Raman,2026-08-31\n"
        "M2,P-TELE,Telematics, retrofit,Tom Becker,2026-05-31\n"
    )
    assert problem_lines(csv_file("milestones.csv", text)) == [
        "milestones.csv, sheet milestones, row 3, column -: this row has 6 values but the header has "
        "5 columns (extra value '2026-05-31'); check for a stray delimiter or an unquoted value",
        "milestones.csv, sheet milestones, row 3, column baseline_finish: "
        "'Tom Becker' is not a date; write dates as YYYY-MM-DD",
    ]


def test_cells_are_stripped_and_whitespace_only_cells_are_blank() -> None:
    text = "milestone_id,project_id,name,owner,baseline_finish\n  M1 ,   ,Go-live, Ann ,2026-08-31\n"
    assert problem_lines(csv_file("milestones.csv", text)) == [
        "milestones.csv, sheet milestones, row 2, column project_id: a value is required here"
    ]
    text = "milestone_id,project_id,name,owner,baseline_finish\n  M1 , P-ROUTE ,Go-live, Ann ,2026-08-31\n"
    assert milestones_of(csv_file("milestones.csv", text)).row(0)[:4] == ("M1", "P-ROUTE", "Go-live", "Ann")


def test_file_names_choose_the_table_ignoring_case_and_spaces() -> None:
    actuals = "kpi_id,as_of,value\nK-CPM,2026-03-31,2.10\n"
    upload = accepted(csv_file("KPI Actuals.CSV", actuals), csv_file("Milestones.csv", MILESTONES))
    assert set(upload.tables) == {"kpi_actuals", "milestones"}


def test_read_sheets_names_a_csv_sheet_after_its_file() -> None:
    (sheet,) = read_sheets(csv_file("exports/Milestones.CSV", MILESTONES))
    assert sheet.name == "Milestones"
    assert sheet.cells["_row"].to_list() == [1, 2, 3]


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1,5;2;3\n", ";"),
        ("Title only\na\tb\tc\n1\t2\t3\n", "\t"),
        ('a|b\n"x,y,z"|2\n', "|"),
    ],
)
def test_sniff_delimiter(text: str, delimiter: str) -> None:
    assert sniff_delimiter(text) == delimiter


def test_an_empty_file_is_a_problem() -> None:
    assert problem_lines(csv_file("milestones.csv", "\n\n")) == [
        "milestones.csv, sheet -, row -, column -: the file is empty"
    ]
