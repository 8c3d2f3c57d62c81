"""Zip and cell bombs: refused from the archive's own figures and the cells it names, before any
reader opens the file, in bounded memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpi_engine.core.errors import InputError
from kpi_engine.ingest import SourceFile
from kpi_engine.ingest.archive import _Tags, cell_ref, inspect_zip_workbook, sheet_extent
from kpi_engine.ingest.limits import (
    MAX_RATIO,
    max_unpacked_bytes,
    max_workbook_cells,
    max_workbook_parts,
)
from kpi_engine.ingest.readers import read_sheets

from .hostile import (
    BLANKS_MB,
    many_parts,
    sheet_bomb,
    sparse_sheet,
    with_part,
    xlsb_sparse,
    xlsx,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            lambda: sheet_bomb(1_600),
            "the workbook unpacks to 1,600 MB, more than can be read safely",
            id="declares-1.6-GB",
        ),
        pytest.param(
            lambda: sheet_bomb(300, chunk=BLANKS_MB), "the workbook unpacks to 300 MB, more than", id="ratio-of-1000"
        ),
        pytest.param(
            lambda: sheet_bomb(3_000, declared=10_000),
            "unpacks to more than the archive declares",
            id="understates-3-GB-as-10-kB",
        ),
        pytest.param(lambda: many_parts(10_001), "the workbook holds 10,0", id="too-many-parts"),
        pytest.param(
            lambda: sparse_sheet("A1", "ZZ100000"),
            r"spans 70,200,000 cells \(the sheet in xl/worksheets/sheet1.xml reaches as far as cell "
            r"ZZ100000\), more than the 5,000,000",
            id="two-cells-far-apart",
        ),
        pytest.param(lambda: sparse_sheet("A1", "XFD1048576"), "spans 17,179,869,184 cells", id="the-last-cell"),
        pytest.param(lambda: sparse_sheet("A1", "AAAA1"), "more than the 5,000,000", id="beyond-the-last-column"),
        pytest.param(
            lambda: xlsb_sparse(),
            r"spans 17,179,869,184 cells \(the sheet in xl/worksheets/sheet1.bin",
            id="xlsb-last-cell",
        ),
    ],
)
def test_bomb_is_refused_before_any_reader_opens_it(data, message: str, no_reader: list[bytes]) -> None:
    with pytest.raises(InputError, match=message):
        read_sheets(SourceFile("plan.xlsx", data()))
    assert no_reader == []


def test_limits_are_the_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KPI_MAX_UNPACKED_MB", "KPI_MAX_WORKBOOK_PARTS", "KPI_MAX_WORKBOOK_CELLS"):
        monkeypatch.delenv(name, raising=False)
    assert max_unpacked_bytes() == 500 * 1024 * 1024
    assert max_workbook_parts() == 10_000
    assert max_workbook_cells() == 5_000_000
    assert MAX_RATIO == 500


def test_limits_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPI_MAX_UNPACKED_MB", "1")
    with pytest.raises(InputError, match="the workbook unpacks to 2 MB, more than can be read safely"):
        inspect_zip_workbook(SourceFile("plan.xlsx", sheet_bomb(2)))
    monkeypatch.delenv("KPI_MAX_UNPACKED_MB")
    monkeypatch.setenv("KPI_MAX_WORKBOOK_PARTS", "20")
    with pytest.raises(InputError, match=r"the workbook holds 3[0-9] parts, more than the 20 a workbook can have"):
        inspect_zip_workbook(SourceFile("plan.xlsx", many_parts(30)))
    monkeypatch.delenv("KPI_MAX_WORKBOOK_PARTS")
    monkeypatch.setenv("KPI_MAX_WORKBOOK_CELLS", "10000")
    with pytest.raises(
        InputError,
        match=r"spans [0-9,]+ cells \(the sheet in xl/worksheets/sheet1.xml reaches as far "
        r"as cell E10003\), more than the 10,000",
    ):
        inspect_zip_workbook(
            SourceFile(
                "plan.xlsx",
                sheet_bomb(
                    1,
                    chunk=b"".join(
                        f'<row r="{r}"><c r="A{r}"><v>1</v></c><c r="B{r}"><v>2</v></c></row>'.encode()
                        for r in range(3, 10_004)
                    ),
                ),
            )
        )
    monkeypatch.setenv("KPI_MAX_WORKBOOK_CELLS", "-3")
    with pytest.raises(InputError, match="KPI_MAX_WORKBOOK_CELLS must be a number above 0, got '-3'"):
        inspect_zip_workbook(SourceFile("plan.xlsx", xlsx()))


def test_cells_without_a_reference_count_from_the_one_before() -> None:
    """Rows and cells may omit r=: calamine places them after the previous one, so they count too."""
    text = b"<sheetData><row r='3'><c r='B3'><v>1</v></c><c t='s'><v>0</v></c></row><row><c><v>1</v></c></row>"

    found = sheet_extent(text)

    assert (found.last_row, found.last_col, found.unnamed_rows, found.unnamed_cells) == (3, 2, 1, 2)
    assert (found.rows, found.widest_row, found.trailing_cells) == (2, 2, 1)


def test_a_row_split_between_pieces_counts_whole() -> None:
    """The scanner carries a row's cells from one piece of the unpacked sheet to the next."""
    row = '<row r="1">' + "".join(f"<c><v>{i}</v></c>" for i in range(70_000)) + "</row>"
    sheet = (
        f'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{row}'
        '<row r="40"><c r="A40"><v>1</v></c></row></sheetData></worksheet>'
    )
    data = with_part(xlsx(), "xl/worksheets/sheet1.xml", sheet.encode())  # over 1 MB unpacked: several pieces

    scan = inspect_zip_workbook(SourceFile("plan.xlsx", data)).sheets["milestones"]

    assert scan.widest_row == 70_000
    assert scan.extent == (40 + 0) * (1 + 70_000)


@pytest.mark.parametrize(
    ("text", "last"),
    [
        pytest.param(
            b'<row r="1" spans="1:2"><c r="A1"/><c r="XFD1048576" s="1"><v>1</v></c></row>',
            (1_048_576, 16_384),
            id="the-largest-reference",
        ),
        pytest.param(
            b'<row r="1"><c s="2" r="C9"><v>1</v></c><rPr><color rgb="FF0000"/></rPr></row>',
            (9, 3),
            id="reference-not-first-attribute",
        ),
        pytest.param(b'<row r="1"><c r="A12345678"><v>1</v></c></row>', (10**9, 10**9), id="too-many-digits"),
        pytest.param(b"<row r='1'><c r='b7'><v>1</v></c></row>", (7, 2), id="lower-case-single-quotes"),
        pytest.param(
            b'<row r="2"><c r="B2"><f>SUM(A1:A9)</f><v>4</v></c></row><pageSetup footer="0.3" operator="lessThan"/>',
            (2, 2),
            id="other-attributes-ending-in-r",
        ),
    ],
)
def test_sheet_extent_reads_every_reference(text: bytes, last: tuple[int, int]) -> None:
    found = sheet_extent(text)

    assert (found.last_row, found.last_col) == last


def test_an_xlsb_sheet_is_measured_by_its_records(monkeypatch: pytest.MonkeyPatch) -> None:
    book = SourceFile("plan.xlsb", xlsb_sparse(row=999, col=25))  # reaches Z1000: 26,000 cells

    monkeypatch.setenv("KPI_MAX_WORKBOOK_CELLS", "26000")
    inspect_zip_workbook(book)
    monkeypatch.setenv("KPI_MAX_WORKBOOK_CELLS", "25999")
    with pytest.raises(
        InputError,
        match=r"spans 26,000 cells \(the sheet in xl/worksheets/sheet1.bin reaches as far "
        r"as cell Z1000\)",
    ):
        inspect_zip_workbook(book)


def test_a_workbook_within_the_limits_passes_the_inspection() -> None:
    info = inspect_zip_workbook(SourceFile("plan.xlsx", sheet_bomb(3)))  # 150,000 rows: large but honest

    scan = info.sheets["milestones"]
    assert scan.unsaved_total == 0
    assert (scan.last_row, scan.unnamed_rows, scan.widest_row) == (3, 60_000, 5)  # the rows name no position


@pytest.mark.parametrize(
    "bomb",
    [
        "sheet_bomb(1_200)",  # 1.2 GB declared: refused from the directory
        "sheet_bomb(3_000, declared=4_000)",  # 3 GB declared as 4 kB: refused while unpacking
        "sparse_sheet('A1', 'ZZ100000')",  # 2 kB naming 70 million cells: refused while unpacking
    ],
)
def test_memory_stays_bounded_while_a_bomb_is_refused(bomb: str) -> None:
    """In a fresh process: peak memory grows by far less than the bomb would take."""
    script = textwrap.dedent(
        f"""
        import resource, sys
        sys.path[:0] = [{str(REPO)!r}, {str(REPO / "tests")!r}]
        from kpi_engine.core.errors import UploadRejected
        from kpi_engine.ingest import SourceFile, read_upload
        from reliability.hostile import sheet_bomb, sparse_sheet
        bomb = {bomb}
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            read_upload([SourceFile("plan.xlsx", bomb)])
        except UploadRejected as err:
            print(err.lines()[0])
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    message, grown_mb = done.stdout.strip().splitlines()

    assert message.startswith("plan.xlsx, sheet -, row -, column -: the workbook ")
    assert int(grown_mb) < 100


_REFERENCES = st.tuples(st.integers(1, 1_048_576), st.integers(0, 16_383))


@given(rows=st.lists(st.tuples(st.integers(1, 1_048_576), st.lists(_REFERENCES, max_size=4)), max_size=6))
def test_plain_tags_measure_as_the_full_reading_does(rows: list[tuple[int, list[tuple[int, int]]]]) -> None:
    """The fast reading of plain ``<c r="..">`` tags finds the same rectangle as the full one."""
    text = "".join(
        f'<row r="{r}" spans="1:2">' + "".join(f'<c r="{cell_ref(row, col)}" s="1"><v>1</v></c>' for row, col in cells)
        for r, cells in rows
    ).encode()
    text += b"</row>" if rows else b""

    fast = _Tags(text).extent(0, len(text))

    assert fast == sheet_extent(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(b'<row r="1"><c s="2" r="C9"><v>1</v></c></row>', id="reference-not-first-attribute"),
        pytest.param(b'<row r="1"><c r="A12345678"><v>1</v></c></row>', id="too-many-digits"),
        pytest.param(b'<row r="1"><c r="ABCD1"><v>1</v></c></row>', id="four-letters"),
        pytest.param(b"<row r='1'><c r='b7'><v>1</v></c></row>", id="single-quotes"),
        pytest.param(b'<row r="1"><c><v>1</v></c></row>', id="cell-without-reference"),
        pytest.param(b'<row r="1"><c r="B"><v>1</v></c></row>', id="no-digits"),
        pytest.param(b'<row r="1"><c r="B2', id="cut-off"),
    ],
)
def test_tags_that_are_not_plain_go_to_the_full_reading(text: bytes) -> None:
    assert _Tags(text).extent(0, len(text)) is None
