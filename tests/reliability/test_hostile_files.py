"""Hostile and broken files: each is refused with a clear message naming the file, and nothing is stored.

The same files go through the CLI into a database that already holds a snapshot: the
exit status is 1, every stderr line is one problem naming the file (a multi-line
message would break that), and the database still holds only the earlier snapshot.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from builders import FLEET_DIR

from kpi_engine import cli
from kpi_engine.core.errors import UploadRejected
from kpi_engine.ingest import SourceFile, read_paths, read_upload
from kpi_engine.store import Store

from .hostile import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    MILESTONE_HEADER,
    MILESTONE_ROWS,
    MILESTONES_CSV,
    encrypted,
    many_parts,
    parts,
    rezip,
    sheet_bomb,
    with_dtd,
    with_part,
    xls,
    xlsb,
    xlsm,
    xlsx,
)

UNSAVED = "formula without a saved value; open and save the file in Excel"


def _damaged_sheet() -> bytes:
    data = xlsx()
    sheet = parts(data)["xl/worksheets/sheet1.xml"]
    # cut after the header row, not at half the bytes: where half falls depends on how the XML
    # writer spaces it (openpyxl writes differently once lxml is installed), and a cut inside a
    # cell reference is refused for its absurd extent before the XML is parsed
    cut = sheet.index(b"</row>") + len(b"</row>")
    return with_part(data, "xl/worksheets/sheet1.xml", sheet[:cut] + b"<<not xml&&")


#: The .mpp cases need MPXJ (and a Java runtime, which CI installs).
NEEDS_MPXJ = pytest.mark.skipif(importlib.util.find_spec("mpxj") is None, reason="MPXJ is not installed")


def _sample(name: str) -> bytes:
    return (Path(__file__).resolve().parents[2] / "data" / "sample" / "exports" / name).read_bytes()


def _cut(data: bytes, keep: float) -> bytes:
    return data[: int(len(data) * keep)]


def _chart_only() -> bytes:
    import openpyxl
    from openpyxl.chart import BarChart, Reference

    book = openpyxl.Workbook()
    data = book.active
    data.title = "numbers"
    data.append(["a", "b"])
    data.append([1, 2])
    data.sheet_state = "hidden"
    chart = BarChart()
    chart.add_data(Reference(data, min_col=1, min_row=1, max_row=2))
    book.create_chartsheet("Chart").add_chart(chart)
    import io

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cached_errors() -> bytes:
    """Formulas whose saved values are Excel errors (#N/A, #REF!), as Excel writes them."""
    import io

    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    sheet = book.add_worksheet("milestones")
    sheet.write_row(0, 0, MILESTONE_HEADER)
    sheet.write_row(1, 0, MILESTONE_ROWS[0])
    sheet.write_row(2, 0, ["M2", "P1"])
    sheet.write_formula(2, 2, "=VLOOKUP(A3,Names!A:B,2,FALSE)", None, "#N/A")
    sheet.write_string(2, 3, "Bob Roy")
    sheet.write_formula(2, 4, "=#REF!+1", None, "#REF!")
    book.close()
    return out.getvalue()


#: (file name, the bytes, text the problem line holds)
HOSTILE: list = [
    pytest.param(
        "milestones.xlsx",
        lambda: MILESTONES_CSV.encode(),
        "the file is named .xlsx but is not an Excel workbook: it holds text",
        id="xlsx-holding-csv-text",
    ),
    pytest.param(
        "milestones.xls",
        lambda: b"<html><body><table><tr><td>M1</td></tr></table></body></html>",
        "holds a web page (HTML)",
        id="xls-holding-html",
    ),
    pytest.param(
        "milestones.csv",
        lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
        "the file is not text (CSV): it holds binary data",
        id="csv-holding-an-image",
    ),
    pytest.param(
        "milestones.xlsx",
        lambda: rezip({"word/document.xml": b"<w/>"}),
        "the file is a zip archive but not an Excel workbook",
        id="zip-but-not-a-workbook",
    ),
    pytest.param("milestones.xlsx", lambda: encrypted(xlsx()), "protected with a password", id="encrypted-xlsx"),
    pytest.param("milestones.xlsx", lambda: _cut(xlsx(), 0.6), "the workbook is damaged", id="truncated-xlsx"),
    pytest.param(
        "milestones.xlsx", _damaged_sheet, "sheet 'milestones' of the workbook cannot be read", id="damaged-sheet-xml"
    ),
    pytest.param(
        "milestones.xlsx", lambda: sheet_bomb(1_600), "more than can be read safely", id="zip-bomb-declared-size"
    ),
    pytest.param(
        "milestones.xlsx",
        lambda: sheet_bomb(200, declared=4_000),
        "unpacks to more than the archive declares",
        id="zip-bomb-understated-size",
    ),
    pytest.param("milestones.xlsx", lambda: many_parts(10_001), "parts, more than", id="zip-with-too-many-parts"),
    pytest.param(
        "milestones.xlsx",
        lambda: with_dtd(xlsx(), "xl/worksheets/sheet1.xml"),
        "holds an XML document type declaration",
        id="entity-bomb-in-sheet",
    ),
    pytest.param(
        "milestones.xlsx",
        lambda: with_dtd(xlsx(), "xl/workbook.xml"),
        "holds an XML document type declaration",
        id="entity-bomb-in-workbook-part",
    ),
    pytest.param(
        "milestones.xlsx",
        lambda: with_dtd(xlsx(), "[Content_Types].xml", EXTERNAL_ENTITY),
        "holds an XML document type declaration",
        id="external-entity",
    ),
    pytest.param(
        "milestones.xlsx",
        lambda: with_dtd(xlsx(), "xl/worksheets/sheet1.xml", encoding="utf-16"),
        "holds an XML document type declaration",
        id="entity-bomb-in-utf16-part",
    ),
    pytest.param("milestones.xlsx", _chart_only, "no visible sheet holding cells", id="chart-and-hidden-sheets-only"),
    pytest.param(
        "milestones.xlsx",
        lambda: xlsx({"milestones": [MILESTONE_HEADER, *MILESTONE_ROWS, ["M3", "P1", "Go", "Cy", "=DATE(2026,9,1)"]]}),
        f"row 4, column baseline_finish: cell E4: {UNSAVED}",
        id="formula-without-saved-value",
    ),
    pytest.param(
        "milestones.xlsx",
        _cached_errors,
        "row 3, column name: the cell shows the Excel error #N/A",
        id="cached-na-error",
    ),
    pytest.param(
        "milestones.xlsx",
        _cached_errors,
        "row 3, column baseline_finish: the cell shows the Excel error #REF!",
        id="cached-ref-error",
    ),
    pytest.param("milestones.csv", lambda: b"", "the file is empty", id="empty-csv"),
    pytest.param("milestones.xlsx", lambda: b"", "the file is empty", id="empty-xlsx"),
    pytest.param(
        "milestones.csv",
        lambda: (",".join(MILESTONE_HEADER) + "\n").encode(),
        "the upload holds no data rows",
        id="headers-only",
    ),
    pytest.param(
        "milestones.csv",
        lambda: (MILESTONES_CSV + "M3,P1,Go,Cy,2026-10-01,x,y\n").encode(),
        "row 4, column -: this row has 7 values but the header has 5 columns",
        id="ragged-row",
    ),
    pytest.param(
        "milestones.csv",
        lambda: (MILESTONES_CSV + 'M3,P1,"Unclosed,Cy,2026-10-01\nM4,P1,Go,Di,2026-11-01\n').encode(),
        'row 4, column name: a quote (") opens this value and never closes',
        id="unterminated-quote",
    ),
    pytest.param(
        "plan.xml",
        lambda: (BILLION_LAUGHS + '<Project xmlns="http://schemas.microsoft.com/project">&lol9;</Project>').encode(),
        "the XML file declares a document type (DTD)",
        id="mspdi-entity-bomb",
    ),
    pytest.param(
        "plan.xml",
        lambda: (EXTERNAL_ENTITY + '<Project xmlns="http://schemas.microsoft.com/project">&xxe;</Project>').encode(),
        "the XML file declares a document type (DTD)",
        id="mspdi-external-entity",
    ),
    pytest.param("plan.xml", lambda: _cut(_sample("msproject_telematics.xml"), 0.5), "damaged", id="mspdi-cut"),
    pytest.param(
        "plan.xml",
        lambda: _sample("msproject_telematics.xml").replace(b"<Finish>2026-05-27T17:00:00</Finish>", b""),
        "sheet Tasks, row 8, column Finish: a value is required here",
        id="mspdi-task-without-dates",
    ),
    pytest.param("plan.xer", lambda: _cut(_sample("p6_pick_to_light.xer"), 0.7), "it was cut off", id="xer-cut"),
    pytest.param(
        "plan.xer",
        lambda: _sample("p6_pick_to_light.xer").replace(b"ERMHDR\t19.12", b"ERMHDR\t4.1"),
        "exported by P6 version 4.1, which this program does not read",
        id="xer-unsupported-version",
    ),
    pytest.param(
        "plan.xer",
        lambda: _sample("p6_pick_to_light.xer").replace(b"2026-05-20 17:00", b""),
        "sheet TASK, row 32, column early_end_date: a value is required here",
        id="xer-task-without-dates",
    ),
    pytest.param(
        "plan.xer", lambda: b"ERMHDR\t19.12\n" + bytes(range(256)) * 4, "is not an .xer line", id="xer-binary"
    ),
    pytest.param(
        "plan.mpp",
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2048),
        "it holds no format MPXJ reads",
        id="mpp-damaged",
        marks=NEEDS_MPXJ,
    ),
    pytest.param(
        "plan.mpp",
        lambda: _sample("mpxj/password-protected-mpp9.mpp"),
        "the plan is protected with a password",
        id="mpp-password-protected",
        marks=NEEDS_MPXJ,
    ),
    pytest.param(
        "plan.mpp",
        lambda: _cut(_sample("mpxj/mpp9baseline.mpp"), 0.5),
        "it may be damaged",
        id="mpp-cut",
        marks=NEEDS_MPXJ,
    ),
    pytest.param(
        "plan.xml",
        lambda: _sample("msproject_telematics.xml").replace(b"<Milestone>1</Milestone>", b"<Milestone>0</Milestone>"),
        "no task of the plan is marked as a milestone",
        id="mspdi-no-milestone",
    ),
    pytest.param(
        "plan.xml",
        lambda: _sample("msproject_telematics.xml").replace(b'encoding="UTF-8"', b'encoding="TF-8"'),
        "its declaration names unknown encoding: TF-8",
        id="mspdi-unknown-encoding",
    ),
]


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding the worked example as snapshot 1."""
    path = tmp_path_factory.mktemp("base") / "kpi.duckdb"
    files = read_paths(sorted(FLEET_DIR.glob("*.csv")))
    with Store.open(path) as store:
        store.ingest(read_upload(files), date(2026, 6, 15), sources=files)
    return path


@pytest.mark.parametrize(("name", "build", "expected"), HOSTILE)
def test_hostile_file_is_refused_with_one_line_per_problem_and_nothing_is_stored(
    name: str,
    build: Callable[[], bytes],
    expected: str,
    base_db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "kpi.duckdb"
    shutil.copy(base_db, db)
    path = tmp_path / name
    path.write_bytes(build())

    assert cli.main(["ingest", str(path), "--db", str(db), "--as-of", "2026-06-22"]) == 1

    lines = capsys.readouterr().err.splitlines()
    assert lines and all(line.startswith(f"{name}, sheet ") for line in lines), lines
    assert any(expected in line for line in lines), lines
    assert not any("Traceback" in line for line in lines)
    with Store.open(db) as store:
        assert store.snapshot_ids() == [1]


def test_a_file_over_the_default_50_mb_limit_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KPI_MAX_UPLOAD_MB", raising=False)
    path = tmp_path / "milestones.csv"
    path.write_bytes(MILESTONES_CSV.encode() + b"x" * (50 * 1024 * 1024))
    read = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or b"")

    with pytest.raises(UploadRejected) as caught:
        read_paths([path])

    assert [str(p) for p in caught.value.problems] == [
        "milestones.csv, sheet -, row -, column -: the file is 50 MB, over the 50 MB limit for one file; "
        "split it into smaller files"
    ]
    assert read == []


def test_the_upload_limit_applies_to_files_handed_over_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPI_MAX_UPLOAD_MB", "0.001")
    rows = "".join(f"M{i},P1,Milestone {i},Ann Lee,2026-08-31\n" for i in range(3, 41))
    big = SourceFile("milestones.csv", (MILESTONES_CSV + rows).encode())

    with pytest.raises(UploadRejected) as caught:
        read_upload([big])

    (line,) = caught.value.lines()
    assert line.startswith("milestones.csv, sheet -, row -, column -: the file is ")
    assert line.endswith("over the 0.001 MB limit for one file; split it into smaller files")
    assert read_upload([big], max_file_mb=1).tables["milestones"].height == 40


def test_cli_limit_flag_and_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "milestones.csv"
    path.write_text(MILESTONES_CSV * 20)
    monkeypatch.setenv("KPI_MAX_UPLOAD_MB", "0.001")

    assert cli.main(["ingest", str(path), "--db", str(tmp_path / "a.duckdb")]) == 1
    assert "raise the limit with --max-upload-mb" in capsys.readouterr().err
    monkeypatch.setenv("KPI_MAX_UPLOAD_MB", "lots")
    assert cli.main(["ingest", str(path), "--db", str(tmp_path / "a.duckdb")]) == 1
    assert capsys.readouterr().err == (
        "the environment variable KPI_MAX_UPLOAD_MB must be a number above 0, got 'lots'\n"
    )


# ---------------------------------------------------------------------- files that are read
def _milestones(upload: object) -> list[tuple[object, ...]]:
    frame = upload.tables["milestones"]  # type: ignore[attr-defined]
    return frame.select("milestone_id", "project_id", "name", "owner", "baseline_finish").rows()


EXPECTED_ROWS = [
    ("M1", "P1", "Routing go-live", "Ann Lee", date(2026, 8, 31)),
    ("M2", "P1", "Driver training", "Bob Roy", date(2026, 9, 30)),
]


@pytest.mark.parametrize(
    ("name", "build"),
    [
        pytest.param("milestones.xls", lambda rows: xls(rows), id="xls"),
        pytest.param("milestones.xlsx", lambda rows: xls(rows), id="xls-named-xlsx"),
        pytest.param("milestones.xlsb", lambda rows: xlsb(rows), id="xlsb"),
        pytest.param("milestones.xlsm", lambda rows: xlsm(xlsx({"milestones": rows})), id="xlsm"),
        pytest.param(
            "milestones.xlsx",
            lambda rows: xlsx({"Read me": [["Weekly plan"]], "milestones": rows}),
            id="other-sheets-beside",
        ),
    ],
)
def test_every_workbook_format_reads_the_same_rows(name: str, build: Callable[[list[list[object]]], bytes]) -> None:
    upload = read_upload([SourceFile(name, build([MILESTONE_HEADER, *MILESTONE_ROWS]))])

    assert _milestones(upload) == EXPECTED_ROWS


def test_hidden_very_hidden_and_chart_sheets_are_not_read() -> None:
    import io

    import openpyxl
    from openpyxl.chart import BarChart, Reference

    book = openpyxl.Workbook()
    visible = book.active
    visible.title = "milestones"
    for row in [MILESTONE_HEADER, *MILESTONE_ROWS]:
        visible.append(row)
    for name, state in (("old", "hidden"), ("older", "veryHidden")):
        sheet = book.create_sheet(name)
        sheet.append(MILESTONE_HEADER)
        sheet.append(["MX", "P1", "Hidden", "Nobody", "2026-01-01"])
        sheet.sheet_state = state
    chart = BarChart()
    chart.add_data(Reference(visible, min_col=1, min_row=1, max_row=3))
    book.create_chartsheet("Chart").add_chart(chart)
    out = io.BytesIO()
    book.save(out)

    upload = read_upload([SourceFile("plan.xlsx", out.getvalue())])

    assert _milestones(upload) == EXPECTED_ROWS
    assert upload.warnings == []


def test_title_rows_above_the_header() -> None:
    rows = [["Weekly milestone report"], ["Prepared by the PMO"], [], MILESTONE_HEADER, *MILESTONE_ROWS]
    upload = read_upload([SourceFile("plan.xlsx", xlsx({"milestones": rows}))])

    assert _milestones(upload) == EXPECTED_ROWS
    assert upload.tables["milestones"]["_row"].to_list() == [5, 6]


def test_formulas_with_saved_values_are_read_as_their_values() -> None:
    import io

    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    sheet = book.add_worksheet("milestones")
    sheet.write_row(0, 0, MILESTONE_HEADER)
    sheet.write_row(1, 0, MILESTONE_ROWS[0])
    sheet.write_row(2, 0, MILESTONE_ROWS[1][:2])
    sheet.write_formula(2, 2, '="Driver "&"training"', None, "Driver training")
    sheet.write_row(2, 3, MILESTONE_ROWS[1][3:])
    book.close()

    assert _milestones(read_upload([SourceFile("plan.xlsx", out.getvalue())])) == EXPECTED_ROWS


@pytest.mark.parametrize(
    ("cell", "unsaved"),
    [
        pytest.param('<c r="F2"><f>1+1</f><v>2</v></c>', False, id="number-saved"),
        pytest.param('<c r="F2" t="str"><f>IF(1&gt;2,"x","")</f><v></v></c>', False, id="empty-text-saved-by-excel"),
        pytest.param('<c r="F2" t="e"><f>NA()</f><v>#N/A</v></c>', False, id="error-saved"),
        pytest.param('<c r="F2"><f t="shared" si="0"/><v>3</v></c>', False, id="shared-formula-saved"),
        pytest.param('<c r="F2"><f>1+1</f><v /></c>', True, id="empty-value-as-openpyxl-writes"),
        pytest.param('<c r="F2"><f>1+1</f></c>', True, id="no-value-element"),
        pytest.param('<x:c r="F2"><x:f>1+1</x:f></x:c>', True, id="prefixed-no-value"),
    ],
)
def test_which_formula_cells_count_as_saved(cell: str, unsaved: bool) -> None:
    from kpi_engine.ingest.archive import inspect_zip_workbook

    prefixed = cell.startswith("<x:")
    p = "x:" if prefixed else ""
    ns = (
        'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        if prefixed
        else ('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"')
    )
    sheet = (
        f'<?xml version="1.0"?><{p}worksheet {ns}><{p}sheetData><{p}row r="2">'
        f'<{p}c r="E2" t="inlineStr"><{p}is><{p}t>x</{p}t></{p}is></{p}c>{cell}</{p}row></{p}sheetData></{p}worksheet>'
    )
    data = with_part(xlsx(), "xl/worksheets/sheet1.xml", sheet.encode())

    scan = inspect_zip_workbook(SourceFile("plan.xlsx", data)).sheets["milestones"]

    assert scan.unsaved_formulas == ([(2, 5)] if unsaved else [])


# ---------------------------------------------------------------------- regressions
def test_regression_merged_project_cell_is_read_on_every_row_it_covers() -> None:
    """A project id merged down over its milestones was read on the first row only ("a value is required")."""
    import io

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "milestones"
    for row in [
        ["Weekly plan"],
        MILESTONE_HEADER,
        *MILESTONE_ROWS,
        ["M3", None, "Depot switch", "Cy Ode", "2026-10-30"],
    ]:
        sheet.append(row)
    sheet.merge_cells("A1:E1")  # a wide title: one row, left alone
    sheet.merge_cells("B3:B5")
    out = io.BytesIO()
    book.save(out)

    upload = read_upload([SourceFile("plan.xlsx", out.getvalue())])
    assert upload.tables["milestones"]["project_id"].to_list() == ["P1", "P1", "P1"]
    assert [str(w) for w in upload.warnings] == [
        "plan.xlsx, sheet milestones, row -, column -: merged cells B3:B5 were read as their value "
        "repeated on every row they cover"
    ]


def test_regression_unterminated_quote_no_longer_swallows_later_rows() -> None:
    """A quote opened in the last column ran to the end of the file: O2 and O3 vanished into O1's description."""
    text = (
        "objective_id,name,owner,description\n"
        'O1,Cut cost,Dana,"Lower the cost\n'
        "O2,Service,Marco,Customer promise\n"
        "O3,Growth,Lee,More customers\n"
    )
    with pytest.raises(UploadRejected) as caught:
        read_upload([SourceFile("objectives.csv", text.encode())])

    assert caught.value.lines() == [
        'objectives.csv, sheet objectives, row 2, column description: a quote (") opens this value and never '
        "closes, so every later row would be read into it; close the quote or remove it"
    ]


def test_regression_quoted_line_breaks_are_still_one_value() -> None:
    text = 'objective_id,name,owner,description\nO1,Cut cost,Dana,"Lower the cost\nof every mile"\nO2,Service,Marco,x\n'

    upload = read_upload([SourceFile("objectives.csv", text.encode())])

    assert upload.tables["objectives"]["description"].to_list() == ["Lower the cost\nof every mile", "x"]


def test_regression_formula_without_value_names_the_cell_not_a_missing_value() -> None:
    """openpyxl saves formulas without values: the cell read as blank, reported as "a value is required here"."""
    rows = [MILESTONE_HEADER, *MILESTONE_ROWS, ["M3", "P1", '=A4&" launch"', "Cy Ode", "=DATE(2026,9,1)"]]

    with pytest.raises(UploadRejected) as caught:
        read_upload([SourceFile("plan.xlsx", xlsx({"milestones": rows}))])

    assert caught.value.lines() == [
        f"plan.xlsx, sheet milestones, row 4, column name: cell C4: {UNSAVED}",
        f"plan.xlsx, sheet milestones, row 4, column baseline_finish: cell E4: {UNSAVED}",
    ]


def test_regression_a_formula_in_a_title_row_above_the_header_does_not_count() -> None:
    rows = [["=TODAY()"], MILESTONE_HEADER, *MILESTONE_ROWS]

    assert _milestones(read_upload([SourceFile("plan.xlsx", xlsx({"milestones": rows}))])) == EXPECTED_ROWS


def test_regression_entity_bomb_is_refused_not_a_traceback() -> None:
    """defusedxml's EntitiesForbidden escaped the reader as a traceback."""
    with pytest.raises(UploadRejected) as caught:
        read_upload([SourceFile("plan.xlsx", with_dtd(xlsx(), "xl/workbook.xml", BILLION_LAUGHS))])

    assert caught.value.lines() == [
        "plan.xlsx, sheet -, row -, column -: the workbook part xl/workbook.xml holds an XML document type "
        "declaration, which Excel never writes; the file was refused as unsafe"
    ]


def test_regression_a_line_break_in_a_cell_stays_on_one_problem_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A quoted cell holding a line break printed as two lines: one problem must be one line."""
    path = tmp_path / "milestones.csv"
    path.write_text(MILESTONES_CSV + 'M3,P1,Go,Cy,"31/02\n2026"\n')

    assert cli.main(["ingest", str(path), "--db", str(tmp_path / "kpi.duckdb")]) == 1

    assert capsys.readouterr().err.splitlines() == [
        "milestones.csv, sheet milestones, row 4, column baseline_finish: '31/02\\n2026' is not a date; "
        "write dates as YYYY-MM-DD"
    ]


def test_regression_a_header_wrapped_onto_two_lines_is_named_on_one() -> None:
    from kpi_engine.core.errors import Problem

    problem = Problem("plan.xlsx", "Plan\n2026", 4, "Baseline\r\nfinish", "a value is required here")

    assert str(problem) == "plan.xlsx, sheet Plan 2026, row 4, column Baseline finish: a value is required here"


def test_regression_a_stray_control_character_is_a_cell_problem_not_a_binary_file() -> None:
    """One NUL byte in a cell made the whole file "not text"; the cell is what is wrong."""
    text = MILESTONES_CSV + "M3,P1,Go,Cy,2026-10-01\x00\n"

    with pytest.raises(UploadRejected) as caught:
        read_upload([SourceFile("milestones.csv", text.encode())])

    assert caught.value.lines() == [
        "milestones.csv, sheet milestones, row 4, column baseline_finish: '2026-10-01\\x00' is not a date; "
        "write dates as YYYY-MM-DD"
    ]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_regression_a_utf16_file_cut_inside_a_character_names_the_cell_not_a_traceback(encoding: str) -> None:
    """A UTF-16 CSV missing its last byte raised UnicodeDecodeError out of the reader."""
    data = MILESTONES_CSV.encode(encoding)[:-1]

    with pytest.raises(UploadRejected) as caught:
        read_upload([SourceFile("milestones.csv", data)])

    (line,) = caught.value.lines()
    assert line.startswith("milestones.csv, sheet milestones, row 3, column baseline_finish: '2026-09-30")
    assert line.endswith("' is not a date; write dates as YYYY-MM-DD")


@pytest.mark.parametrize("name", ["msproject_telematics.xml", "p6_pick_to_light.xer"])
def test_a_plan_with_more_tasks_than_the_limit_is_refused_and_nothing_stored(
    name: str, base_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KPI_MAX_PLAN_TASKS", "5")
    db = tmp_path / "kpi.duckdb"
    shutil.copy(base_db, db)
    path = tmp_path / name
    path.write_bytes(_sample(name))

    assert cli.main(["ingest", str(path), "--db", str(db), "--as-of", "2026-06-22"]) == 1

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{name}, sheet -, row -, column -: the plan holds "), lines
    assert "over the limit of 5 (KPI_MAX_PLAN_TASKS)" in lines[0]
    with Store.open(db) as store:
        assert store.snapshot_ids() == [1]
