"""Output safety: formula injection, characters Excel cannot hold, CSV encoding, plain XLSX exports."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime

import openpyxl
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from kpi_engine.core.errors import OutputError
from kpi_engine.core.rag import RAG_COLOURS
from kpi_engine.output.safe_output import (
    EXCEL_CELL_LIMIT,
    FORMULA_TRIGGERS,
    Formats,
    csv_bytes,
    neutralise,
    new_workbook,
    safe_frame,
    sheet_name,
    write_csv,
    write_frame,
    xlsx_bytes,
)

BOM = b"\xef\xbb\xbf"


def read_csv_rows(data: bytes) -> list[list[str]]:
    """Read CSV bytes the way a script would: the csv module over the decoded text."""
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"), newline="")))


def open_xlsx(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


# --- neutralise ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")', id="equals"),
        pytest.param("+1+1", "'+1+1", id="plus"),
        pytest.param("-2+3", "'-2+3", id="minus"),
        pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
        pytest.param("\t=1", "'\t=1", id="tab"),
        pytest.param("\r=1", "'\r=1", id="carriage-return"),
        pytest.param("Cost per mile", "Cost per mile", id="plain-text-untouched"),
        pytest.param("a = b", "a = b", id="trigger-inside-is-harmless"),
        pytest.param("line one\nline two\ttab", "line one\nline two\ttab", id="newline-and-tab-kept"),
        pytest.param("Fleet\x00\x07 routing\x1f", "Fleet routing", id="control-chars-stripped"),
        pytest.param("\x00=1", "'=1", id="stripped-then-quoted"),
        pytest.param("bad\ufffe\uffff", "bad", id="xml-noncharacters-stripped"),
        pytest.param("lone\ud800 surrogate", "lone surrogate", id="lone-surrogate-stripped"),
        pytest.param("", "", id="empty"),
    ],
)
def test_neutralise(value: str, expected: str) -> None:
    assert neutralise(value) == expected


def test_neutralise_caps_text_at_excel_cell_limit_including_the_quote() -> None:
    assert len(neutralise("x" * 40_000)) == EXCEL_CELL_LIMIT
    capped = neutralise("=" + "x" * 40_000)
    assert len(capped) == EXCEL_CELL_LIMIT
    assert capped.startswith("'=")


# --- safe_frame ---------------------------------------------------------------------------------


def test_safe_frame_touches_only_text_columns() -> None:
    frame = pl.DataFrame(
        {
            "name": ["=cmd", "-note", "ok", None],
            "delta": [-0.1, 2.0, -3.0, None],
            "days": [-5, 1, 2, 3],
            "when": [date(2026, 6, 15)] * 4,
        }
    )
    expected = frame.with_columns(pl.Series("name", ["'=cmd", "'-note", "ok", None]))
    assert_frame_equal(safe_frame(frame), expected)


def test_safe_frame_neutralises_categorical_and_enum_as_text() -> None:
    frame = pl.DataFrame(
        {
            "cat": pl.Series(["=a", "b"], dtype=pl.Categorical),
            "enum": pl.Series(["@x", "y"], dtype=pl.Enum(["@x", "y"])),
        }
    )
    result = safe_frame(frame)
    assert result.schema == pl.Schema({"cat": pl.String, "enum": pl.String})
    assert result.rows() == [("'=a", "'@x"), ("b", "y")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=20))
def test_safe_frame_agrees_with_neutralise(values: list[str]) -> None:
    result = safe_frame(pl.DataFrame({"text": values}, schema={"text": pl.String}))
    assert result["text"].to_list() == [neutralise(v) for v in values]


# --- CSV ----------------------------------------------------------------------------------------

risky_text = st.one_of(
    st.text(),
    st.builds(lambda start, rest: start + rest, st.sampled_from(FORMULA_TRIGGERS), st.text()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(risky_text, min_size=1, max_size=10))
def test_csv_text_never_starts_a_formula_and_round_trips_otherwise(values: list[str]) -> None:
    rows = read_csv_rows(csv_bytes(pl.DataFrame({"text": values, "n": range(len(values))})))
    assert rows[0] == ["text", "n"]
    for original, (written, _) in zip(values, rows[1:], strict=True):
        assert not written.startswith(FORMULA_TRIGGERS)
        assert written == neutralise(original)
        if neutralise(original) == original:
            assert written == original


def test_csv_is_utf8_with_bom_iso_dates_and_untouched_numbers() -> None:
    frame = pl.DataFrame(
        {
            "owner": ["Zoë Müller", "=1+1"],
            "due": [date(2026, 9, 21), None],
            "at": [datetime(2026, 6, 15, 9, 30), None],
            "delta": [-0.1, float("nan")],
            "late": [True, None],
            "tags": [["a", "b"], []],
        }
    )
    data = csv_bytes(frame)
    assert data.startswith(BOM)
    assert read_csv_rows(data) == [
        ["owner", "due", "at", "delta", "late", "tags"],
        ["Zoë Müller", "2026-09-21", "2026-06-15T09:30:00.000000", "-0.1", "true", "a; b"],
        ["'=1+1", "", "", "", "", ""],
    ]


def test_csv_header_is_neutralised_too() -> None:
    assert read_csv_rows(csv_bytes(pl.DataFrame({"=evil": ["x"]})))[0] == ["'=evil"]


def test_write_csv_to_path_and_buffers(tmp_path) -> None:
    frame = pl.DataFrame({"a": ["@x"]})
    write_csv(frame, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == csv_bytes(frame)
    binary = io.BytesIO()
    write_csv(frame, binary)
    assert binary.getvalue() == csv_bytes(frame)
    text = io.StringIO()
    write_csv(frame, text)
    assert text.getvalue() == csv_bytes(frame).decode("utf-8")


def test_write_csv_into_missing_folder_names_the_folder(tmp_path) -> None:
    with pytest.raises(OutputError, match=r"the folder .*missing does not exist"):
        write_csv(pl.DataFrame({"a": [1]}), tmp_path / "missing" / "out.csv")


# --- XLSX ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def export() -> openpyxl.Workbook:
    frame = pl.DataFrame(
        {
            "milestone_id": ["M1", "M2", "M3"],
            "name": ['=HYPERLINK("http://evil","click")', "Fleet\x00 routing", "x" * 40_000],
            "computed_status": ["Red", "Green", None],
            "due": [date(2026, 9, 21), date(2026, 10, 21), None],
            "value_at_risk": [400_000.0, 60_000.0, float("nan")],
            "slip_days": [21, -3, 0],
            "watermelon": [True, False, None],
        }
    )
    return open_xlsx(xlsx_bytes({"Exceptions": frame, "History": frame.head(1), "a/b:c": frame}, currency="EUR"))


def test_xlsx_sheet_names_are_made_acceptable_to_excel(export) -> None:
    assert export.sheetnames == ["Exceptions", "History data", "a b c"]


def test_xlsx_has_frozen_bold_header_with_filter(export) -> None:
    sheet = export["Exceptions"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:G4"
    assert sheet["A1"].value == "milestone_id"
    assert sheet["A1"].font.bold


def test_xlsx_text_is_stored_as_safe_text(export) -> None:
    sheet = export["Exceptions"]
    assert sheet["B2"].data_type == "s"
    assert sheet["B2"].value == '\'=HYPERLINK("http://evil","click")'
    assert sheet["B3"].value == "Fleet routing"
    assert len(sheet["B4"].value) == EXCEL_CELL_LIMIT
    assert sheet["B4"].alignment.wrap_text


def test_xlsx_number_and_date_formats(export) -> None:
    sheet = export["Exceptions"]
    assert sheet["D2"].is_date and sheet["D2"].number_format == "yyyy-mm-dd"
    assert sheet["E2"].value == 400_000 and sheet["E2"].number_format == '#,##0 "EUR"'
    assert sheet["E4"].value is None  # NaN is a blank, not an error cell
    assert sheet["F3"].value == -3 and sheet["F3"].number_format == "#,##0"
    assert sheet["G2"].value is True


def test_xlsx_status_columns_get_the_rag_fill(export) -> None:
    sheet = export["Exceptions"]
    assert sheet["C2"].fill.fgColor.rgb == "FF" + RAG_COLOURS["Red"].lstrip("#")
    assert sheet["C3"].fill.fgColor.rgb == "FF" + RAG_COLOURS["Green"].lstrip("#")
    assert sheet["C4"].fill.fill_type is None


def test_xlsx_options_keep_strings_out_of_formulas_and_links() -> None:
    buffer = io.BytesIO()
    workbook = new_workbook(buffer)
    worksheet = workbook.add_worksheet("S")
    # write() is what xlsxwriter would turn into a formula or a link with its default options.
    worksheet.write(0, 0, "=1+1")
    worksheet.write(1, 0, "http://example.com")
    workbook.close()
    with zipfile.ZipFile(buffer) as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet1.xml")
        assert not any("hyperlink" in name.lower() for name in archive.namelist())
    sheet = open_xlsx(buffer.getvalue())["S"]
    assert (sheet["A1"].data_type, sheet["A1"].value) == ("s", "=1+1")


def test_write_frame_refuses_more_rows_than_a_sheet_holds() -> None:
    workbook = new_workbook(io.BytesIO())
    too_many = pl.DataFrame({"a": pl.zeros(1_048_576, eager=True)})
    with pytest.raises(OutputError, match="1,048,576 rows do not fit in one Excel sheet"):
        write_frame(workbook.add_worksheet("S"), too_many, Formats(workbook))


def test_sheet_name_keeps_names_distinct_and_short() -> None:
    used: set[str] = set()
    names = [sheet_name(n, used) for n in ["Exceptions", "exceptions", "'quoted'", "", "x" * 40]]
    assert names == ["Exceptions", "exceptions (2)", "quoted", "Sheet", "x" * 31]


def test_xlsx_of_no_frames_is_still_a_workbook() -> None:
    assert open_xlsx(xlsx_bytes({})).sheetnames == ["Sheet1"]
