"""Legacy .xls workbooks whose records would make calamine reserve or allocate without bound:
refused from the records themselves before calamine opens the file, which would otherwise stop
the whole process (every user's session) on a 5 kB upload."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kpi_engine.core.errors import InputError
from kpi_engine.ingest import SourceFile
from kpi_engine.ingest.biff import inspect_xls_workbook
from kpi_engine.ingest.readers import read_sheets

from .hostile import xls, xls_far_cell, xls_lying_dimensions, xls_patched, xls_sheet_outside, xlsx

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            xls_lying_dimensions,
            "sheet 'milestones' of the workbook declares 858,993,456,000 cells, more than the 5,000,000 "
            "that can be read safely; the file is damaged or unsafe",
            id="dimensions-claim-4-billion-rows",
        ),
        pytest.param(
            xls_far_cell,
            r"the workbook spans 16,777,216 cells \(sheet 'milestones' reaches as far as cell IV65536\), "
            "more than the 5,000,000",
            id="one-cell-at-IV65536",
        ),
        pytest.param(xls_sheet_outside, "the workbook is damaged and cannot be opened", id="sheet-past-the-end"),
        pytest.param(
            lambda: xls_patched(
                0x00FC, lambda stream, at: stream.__setitem__(slice(at + 4, at + 8), b"\xff\xff\xff\xff")
            ),
            "the workbook is damaged and cannot be opened",
            id="negative-string-count",
        ),
    ],
)
def test_xls_is_refused_before_calamine_opens_it(data, message: str, no_reader: list[bytes]) -> None:
    with pytest.raises(InputError, match=message):
        read_sheets(SourceFile("plan.xls", data()))
    assert no_reader == []


def test_the_cell_limit_is_the_one_of_zip_workbooks(monkeypatch: pytest.MonkeyPatch) -> None:
    book = SourceFile("plan.xls", xls_far_cell(row=999, col=25))  # reaches Z1000: 26,000 cells

    monkeypatch.setenv("KPI_MAX_WORKBOOK_CELLS", "26000")
    inspect_xls_workbook(book)
    monkeypatch.setenv("KPI_MAX_WORKBOOK_CELLS", "25999")
    with pytest.raises(InputError, match=r"spans 26,000 cells \(sheet 'milestones' reaches as far as cell Z1000\)"):
        inspect_xls_workbook(book)


def test_an_honest_xls_is_read_after_the_inspection() -> None:
    sheets = read_sheets(SourceFile("plan.xls", xls([["milestone_id", "name"], ["M1", "Go-live"]])))

    assert [s.name for s in sheets] == ["milestones"]
    assert sheets[0].cells.row(1)[:2] == ("M1", "Go-live")


def test_a_lying_xls_leaves_the_process_running() -> None:
    """Regression: calamine reserved the declared cells and the process aborted (exit 134)."""
    script = textwrap.dedent(
        f"""
        import resource, sys
        sys.path[:0] = [{str(REPO)!r}, {str(REPO / "tests")!r}]
        from kpi_engine.core.errors import UploadRejected
        from kpi_engine.ingest import SourceFile, read_upload
        from reliability.hostile import xls_lying_dimensions
        try:
            read_upload([SourceFile("plan.xls", xls_lying_dimensions())])
        except UploadRejected as err:
            print(err.lines()[0])
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("plan.xls, sheet -, row -, column -: sheet 'milestones' of the workbook declares")


class PanicException(BaseException):
    """Stands in for ``pyo3_runtime.PanicException``: how a panic inside calamine reaches Python."""


@pytest.mark.parametrize("name", ["plan.xls", "plan.xlsx"])
def test_a_panic_inside_the_reader_is_a_damaged_file(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import fastexcel

    def panic(data: bytes, *args: object, **kwargs: object) -> None:
        raise PanicException("range start index 2147483632 out of range for slice of length 4096")

    monkeypatch.setattr(fastexcel, "read_excel", panic)
    data = xls([["milestone_id"], ["M1"]]) if name.endswith(".xls") else xlsx()
    with pytest.raises(InputError, match=r"cannot be read as an Excel workbook|the workbook is damaged"):
        read_sheets(SourceFile(name, data))


def test_an_interrupt_while_reading_is_not_taken_for_a_damaged_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import fastexcel

    def interrupted(data: bytes, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(fastexcel, "read_excel", interrupted)
    with pytest.raises(KeyboardInterrupt):
        read_sheets(SourceFile("plan.xls", xls([["milestone_id"], ["M1"]])))
