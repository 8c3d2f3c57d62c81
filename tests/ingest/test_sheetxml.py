"""Cells read from the worksheet XML the safety scan collected: the same sheets calamine reads.

Workbooks written by xlsxwriter (shared strings) and openpyxl (inline strings) with random
values are read both ways and must give equal sheets; the values written come back. XML
in a form the quick reader does not know goes to calamine and still reads right.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability.hostile import parts, with_part

from kpi_engine.ingest import SourceFile, read_upload
from kpi_engine.ingest.archive import inspect_zip_workbook
from kpi_engine.ingest.readers import read_workbook
from kpi_engine.ingest.sheetxml import date_styles, shared_strings

from .support import workbook

# text a sheet may hold: letters, digits, XML's special characters, spaces at either end
_TEXT = st.lists(st.sampled_from([*"abcXYZ019 &<>\"'_-/é€中", "_x000D_", "\n", "\t"]), min_size=1, max_size=12).map(
    "".join
)
_CELL = st.one_of(
    st.none(),
    _TEXT,
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15),
    st.booleans(),
    st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    ),
)
_ROWS = st.lists(st.lists(_CELL, min_size=1, max_size=5), min_size=1, max_size=8)


def _xlsxwriter_book(rows: list[list[object]]) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    sheet = book.add_worksheet("tasks")
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, stamp)
            elif isinstance(value, date):
                sheet.write_datetime(r, c, datetime(value.year, value.month, value.day), day)
            elif isinstance(value, str):
                sheet.write_string(r, c, value)
            elif value is not None:
                sheet.write(r, c, value)
    book.close()
    return out.getvalue()


def _openpyxl_book(rows: list[list[object]]) -> bytes:
    # openpyxl writes text as it is: a formula-like text would be a formula, XML-illegal characters fail
    safe = [[("'" + v if isinstance(v, str) and v.startswith("=") else v) for v in row] for row in rows]
    return workbook({"tasks": safe})  # type: ignore[dict-item]


def _both(data: bytes) -> tuple[list[object], list[object]]:
    file = SourceFile("plan.xlsx", data)
    return read_workbook(file), read_workbook(file, calamine_only=True)


def _assert_same(data: bytes, *, quick: bool = True) -> None:
    file = SourceFile("plan.xlsx", data)
    assert bool(inspect_zip_workbook(file).cells) is quick
    ours, theirs = _both(data)
    assert [s.name for s in ours] == [s.name for s in theirs]  # type: ignore[attr-defined]
    for mine, other in zip(ours, theirs, strict=True):
        assert mine.cells.equals(other.cells), (mine.cells, other.cells)  # type: ignore[attr-defined]
        assert mine.merged == other.merged  # type: ignore[attr-defined]
        assert mine.unsaved_formulas == other.unsaved_formulas  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_ROWS)
def test_xlsxwriter_books_read_as_calamine_reads_them(rows: list[list[object]]) -> None:
    data = _xlsxwriter_book(rows)
    quick = bool(inspect_zip_workbook(SourceFile("plan.xlsx", data)).cells)
    _assert_same(data, quick=quick)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_ROWS)
def test_openpyxl_books_read_as_calamine_reads_them(rows: list[list[object]]) -> None:
    clean = [[v.replace("\t", " ") if isinstance(v, str) else v for v in row] for row in rows]
    data = _openpyxl_book(clean)
    quick = bool(inspect_zip_workbook(SourceFile("plan.xlsx", data)).cells)
    _assert_same(data, quick=quick)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.tuples(
            st.text(alphabet="abcXYZ019 &<>_-", min_size=1, max_size=10).filter(lambda t: t.strip() == t),
            st.integers(-(10**9), 10**9),
            st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_values_written_come_back(values: list[tuple[str, int, date]]) -> None:
    """Text, whole numbers and dates written by xlsxwriter read back as written, by the quick reader."""
    data = _xlsxwriter_book([["name", "count", "when"], *[list(v) for v in values]])
    assert inspect_zip_workbook(SourceFile("plan.xlsx", data)).cells
    (sheet,) = read_workbook(SourceFile("plan.xlsx", data))
    cells = sheet.cells
    assert cells["c0"].to_list() == ["name", *(v[0] for v in values)]
    assert cells["c1"].to_list() == ["count", *(str(v[1]) for v in values)]
    assert cells["c2"].to_list() == ["when", *(f"{v[2]} 00:00:00" for v in values)]


def test_the_benchmark_shape_is_read_quickly_and_validated_the_same() -> None:
    """A tasks sheet with extra columns and blank cells: the quick reader, then the usual checks."""
    rows: list[list[object]] = [
        ["task_id", "milestone_id", "name", "owner", "forecast_finish", "actual_finish", "cost", "notes"]
    ]
    for i in range(1, 40):
        rows.append(
            [
                f"T-{i}",
                f"M-{i // 5}",
                f"Task {i}",
                None,
                date(2026, 5, 1 + i % 28),
                None,
                i * 1.25,
                "x" if i % 3 else None,
            ]
        )
    rows.append(["T-40", "M-8", "Task 40", "Ann", "not a date", None, 3, None])
    data = _xlsxwriter_book(rows)
    _assert_same(data)
    from kpi_engine.core.errors import UploadRejected

    with pytest.raises(UploadRejected) as caught:
        read_upload([SourceFile("plan.xlsx", data)])
    lines = [str(p) for p in caught.value.problems if p.row is not None]
    assert lines == [
        "plan.xlsx, sheet tasks, row 41, column forecast_finish: 'not a date' is not a date; write dates as YYYY-MM-DD"
    ]


def _sheet_xml(data: bytes) -> bytes:
    return parts(data)["xl/worksheets/sheet1.xml"]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        pytest.param(lambda x: x.replace(b' s="1" t="s"', b' t="s" s="1"', 1), "attributes in another order"),
        pytest.param(
            lambda x: x.replace(b"<worksheet ", b'<x:worksheet xmlns:x="urn:x" ', 1), "a prefixed root element"
        ),
        pytest.param(lambda x: x.replace(b"<row ", b'<row customHeight="1" ', 1), "row attributes (read)"),
        pytest.param(lambda x: x.replace(b"</sheetData>", b"</sheetData><extra/>", 1), "a part after the cells"),
        pytest.param(
            lambda x: re.sub(rb'<c r="B2" s="1" t="s">', b'<c r="B2" s="1" t="s" cm="1">', x), "another attribute"
        ),
    ],
)
def test_xml_in_another_form_reads_the_same(change: object, why: str) -> None:
    rows: list[list[object]] = [["task_id", "name"], ["T1", "Go"], ["T2", "Stop"]]
    data = _xlsxwriter_book([[*r, date(2026, 1, 2)] for r in rows])
    changed = change(_sheet_xml(data))  # type: ignore[operator]
    ours, theirs = _both(with_part(data, "xl/worksheets/sheet1.xml", changed))
    assert [s.cells.to_dicts() for s in ours] == [s.cells.to_dicts() for s in theirs], why  # type: ignore[attr-defined]


def test_a_time_of_day_format_goes_to_calamine() -> None:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    sheet = book.add_worksheet("tasks")
    sheet.write_row(0, 0, ["task_id", "at"])
    sheet.write_number(1, 0, 1)
    sheet.write_number(1, 1, 0.5, book.add_format({"num_format": "hh:mm"}))
    book.close()
    file = SourceFile("plan.xlsx", out.getvalue())
    assert not bool(inspect_zip_workbook(file).cells) or read_workbook(file)[0].cells.equals(
        read_workbook(file, calamine_only=True)[0].cells
    )
    assert read_workbook(file)[0].cells.equals(read_workbook(file, calamine_only=True)[0].cells)


def test_shared_strings_rich_text_and_phonetic_runs() -> None:
    xml = (
        b'<?xml version="1.0"?><sst xmlns="urn:x" count="3" uniqueCount="3">'
        b"<si><t>plain &amp; simple</t></si>"
        b'<si><r><rPr><b/></rPr><t>bold</t></r><r><t xml:space="preserve"> part</t></r></si>'
        b'<si><t>\xe6\x9d\xb1</t><rPh sb="0" eb="1"><t>\xe3\x83\x88</t></rPh></si>'
        b"<si><t>a_x000D_b</t></si></sst>"
    )
    assert shared_strings(xml).to_list() == ["plain & simple", "bold part", "東", "a\rb"]


def test_number_formats_are_sorted_into_numbers_dates_and_the_rest() -> None:
    xml = (
        b'<styleSheet xmlns="urn:x"><numFmts count="4">'
        b'<numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
        b'<numFmt numFmtId="165" formatCode="#,##0.00;[Red]-#,##0.00"/>'
        b'<numFmt numFmtId="166" formatCode="[h]:mm"/>'
        b'<numFmt numFmtId="167" formatCode="d-mmm;@"/>'
        b'<numFmt numFmtId="168" formatCode="&quot;due &quot;d mmm"/>'
        b'</numFmts><cellXfs count="8">'
        b'<xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="165"/><xf numFmtId="166"/>'
        b'<xf numFmtId="14"/><xf numFmtId="20"/><xf numFmtId="167"/><xf numFmtId="168"/>'
        b"</cellXfs></styleSheet>"
    )
    # number, date, number, elapsed time, built-in date, built-in time, two sections, quoted words and a date
    assert date_styles(xml).tolist() == [0, 1, 0, 2, 1, 2, 2, 1]


def test_the_fleet_workbook_reads_as_calamine_reads_it() -> None:
    from builders import FLEET_DIR

    data = (FLEET_DIR / "fleet.xlsx").read_bytes()
    ours, theirs = _both(data)
    assert len(ours) == len(theirs) > 1
    for mine, other in zip(ours, theirs, strict=True):
        assert mine.cells.equals(other.cells), mine.name  # type: ignore[attr-defined]


def test_frames_have_the_columns_calamine_gives() -> None:
    data = _xlsxwriter_book([[None, None, "x"], [None, None, None, 5]])
    (sheet,) = read_workbook(SourceFile("plan.xlsx", data))
    assert sheet.cells.columns == ["c0", "c1", "_row"]
    assert sheet.cells.schema["c0"] == pl.String
