"""Builders for the ingest tests: files from literal text or rows, the problem lines of an upload."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kpi_engine.core.errors import UploadRejected
from kpi_engine.ingest import ParsedUpload, SourceFile, read_upload

SAMPLE_EXPORTS = Path(__file__).resolve().parents[2] / "data" / "sample" / "exports"


def csv_file(name: str, text: str, encoding: str = "utf-8") -> SourceFile:
    """A SourceFile holding ``text`` encoded in ``encoding``."""
    return SourceFile(name, text.encode(encoding))


def workbook(sheets: dict[str, list[list[object]]], *, epoch1904: bool = False, hidden: tuple[str, ...] = ()) -> bytes:
    """Bytes of an .xlsx with the given rows per sheet (openpyxl writes real date cells)."""
    import openpyxl
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    book = openpyxl.Workbook()
    book.remove(book.active)
    if epoch1904:
        book.epoch = CALENDAR_MAC_1904
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        if name in hidden:
            sheet.sheet_state = "hidden"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problem_lines(*files: SourceFile, **kwargs: object) -> list[str]:
    """The problem lines an upload is rejected with (fails when it is accepted)."""
    with pytest.raises(UploadRejected) as caught:
        read_upload(list(files), **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


def accepted(*files: SourceFile, **kwargs: object) -> ParsedUpload:
    return read_upload(list(files), **kwargs)  # type: ignore[arg-type]


MILESTONES_HEADER = "milestone_id,project_id,name,owner,baseline_finish"
