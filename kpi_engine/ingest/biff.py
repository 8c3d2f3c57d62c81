"""Look inside a legacy .xls workbook (BIFF5/BIFF8 records in an OLE2 compound file) before
calamine opens it.

calamine trusts two figures of an .xls that a damaged or hostile file sets at will:

1. each sheet's DIMENSIONS record, for which it reserves memory up front: a 5 KB file
   claiming four billion rows stops the whole process, every user's session with it;
2. the farthest cell any cell record names: it allocates the whole rectangle up to that
   cell, so one cell at IV65536 costs about a gigabyte.

It also slices the stream at each sheet's declared offset without checking it.
:func:`inspect_xls_workbook` walks the records in Python and refuses such a file with a
message before calamine sees it, against the same cell limit as a zip workbook
(:func:`kpi_engine.ingest.limits.max_workbook_cells`).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from kpi_engine.core.errors import InputError
from kpi_engine.ingest.archive import DAMAGED, cell_ref
from kpi_engine.ingest.limits import max_workbook_cells
from kpi_engine.ingest.model import SourceFile

_BOUNDSHEET, _DIMENSIONS, _EOF, _SST = 0x0085, 0x0200, 0x000A, 0x00FC
#: Records naming one cell by (row, column) in their first four bytes: formula, blank,
#: number, label, bool/error, rich string, RK number, shared-string label.
_CELL = frozenset({0x0006, 0x0201, 0x0203, 0x0204, 0x0205, 0x00D6, 0x027E, 0x00FD})
#: Records naming a run of cells in one row (MULRK, MULBLANK): row, first column, ..., last column.
_CELL_RUN = frozenset({0x00BD, 0x00BE})
_U32 = 1 << 32
_PAIR = struct.Struct("<HH")


@dataclass
class _SheetSize:
    """What one sheet's records claim: the DIMENSIONS reservation and the farthest cell."""

    name: str
    declared: int = 0
    last_row: int = 0  # 1-based, 0 = no cell
    last_col: int = 0  # 1-based

    @property
    def cells(self) -> int:
        """An upper bound of the cells calamine allocates for this sheet."""
        return max(self.declared, self.last_row * self.last_col)


def inspect_xls_workbook(file: SourceFile) -> None:
    """Refuse an .xls whose records would make calamine allocate more than the cell limit.

    Parameters
    ----------
    file
        A file whose bytes start with the OLE2 signature. Files without a workbook stream
        (a Word document renamed, an encrypted .xlsx) are left to the caller's messages.

    Raises
    ------
    InputError
        The workbook is damaged (records cut off, a sheet outside the file) or spans more
        cells than can be read safely.
    """
    stream = _workbook_stream(file.data)
    if stream is None:
        return
    sheets = [_measure(stream, offset, name) for offset, name in _sheet_offsets(stream)]
    limit, total = max_workbook_cells(), 0
    for sheet in sheets:
        total += sheet.cells
        if total <= limit:
            continue
        if sheet.declared > sheet.last_row * sheet.last_col:
            raise InputError(
                f"sheet '{sheet.name}' of the workbook declares {sheet.declared:,} cells, more than the "
                f"{limit:,} that can be read safely; the file is damaged or unsafe: open it in Excel and "
                "save it as .xlsx, or export the sheets as CSV"
            )
        far = cell_ref(sheet.last_row, sheet.last_col - 1)
        raise InputError(
            f"the workbook spans {total:,} cells (sheet '{sheet.name}' reaches as far as cell {far}), "
            f"more than the {limit:,} that can be read safely; delete the unused rows and columns, "
            "split it, or export the sheets as CSV"
        )


def _workbook_stream(data: bytes) -> bytes | None:
    """The ``Workbook`` (BIFF8) or ``Book`` (BIFF5) stream, or None when there is none."""
    import olefile

    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            for name in ("Workbook", "Book"):
                if ole.exists(name):
                    return ole.openstream(name).read()
    except Exception:
        raise InputError(DAMAGED) from None
    return None


def _records(stream: bytes, start: int) -> Iterator[tuple[int, bytes]]:
    """(type, data) of each record from ``start`` up to and including the next EOF record."""
    position, end = start, len(stream)
    while position + 4 <= end:
        kind, size = struct.unpack_from("<HH", stream, position)
        if position + 4 + size > end:
            raise InputError(DAMAGED)
        yield kind, stream[position + 4 : position + 4 + size]
        if kind == _EOF:
            return
        position += 4 + size


def _sheet_offsets(stream: bytes) -> list[tuple[int, str]]:
    """(stream offset, name) of every sheet the workbook globals list (BOUNDSHEET records)."""
    sheets: list[tuple[int, str]] = []
    for kind, data in _records(stream, 0):
        if kind == _BOUNDSHEET and len(data) >= 6:
            offset = int.from_bytes(data[:4], "little")
            if offset >= len(stream):
                raise InputError(DAMAGED)
            sheets.append((offset, _sheet_name(data, len(sheets) + 1)))
        elif kind == _SST and len(data) >= 8:
            unique = struct.unpack_from("<i", data, 4)[0]
            if not 0 <= unique <= len(stream):  # every string takes at least one byte
                raise InputError(DAMAGED)
    return sheets


def _sheet_name(data: bytes, number: int) -> str:
    """The name in a BIFF8 BOUNDSHEET record, or "number N" when it cannot be read."""
    count, flags, text = data[6] if len(data) > 6 else 0, data[7] if len(data) > 7 else 0, data[8:]
    raw = text[: 2 * count] if flags & 1 else text[:count]
    name = raw.decode("utf-16-le" if flags & 1 else "latin-1", errors="replace").strip("\x00")
    return name or f"number {number}"


def _measure(stream: bytes, offset: int, name: str) -> _SheetSize:
    """Walk one sheet's records as calamine will and measure what it would allocate.

    A tight loop over the record headers (a sheet of 60,000 rows holds about a million
    records): nothing is copied, only the first bytes of cell records are read.
    """
    size = _SheetSize(name)
    unpack, cells, runs = _PAIR.unpack_from, _CELL, _CELL_RUN
    position, end = offset, len(stream)
    last_row = last_col = 0
    while position + 4 <= end:
        kind, length = unpack(stream, position)
        start = position + 4
        position = start + length
        if position > end:
            raise InputError(DAMAGED)
        if kind in cells:
            if length >= 4:
                row, col = unpack(stream, start)
                if row >= last_row:
                    last_row = row + 1
                if col >= last_col:
                    last_col = col + 1
        elif kind in runs:
            if length >= 6:
                row = unpack(stream, start)[0]
                col = unpack(stream, position - 2)[0]
                if row >= last_row:
                    last_row = row + 1
                if col >= last_col:
                    last_col = col + 1
        elif kind == _DIMENSIONS:
            size.declared = max(size.declared, _reserved(stream[start:position]))
        elif kind == _EOF:
            break
    size.last_row, size.last_col = last_row, last_col
    return size


def _reserved(data: bytes) -> int:
    """Cells calamine reserves for a DIMENSIONS record (its u32 arithmetic wraps, as in the reader)."""
    if len(data) == 10:
        first_row, last_row, first_col, last_col = struct.unpack_from("<HHHH", data)
    elif len(data) == 14:
        first_row, last_row, first_col, last_col = struct.unpack_from("<IIHH", data)
    else:
        return 0
    if last_row < 1 or last_col < 1:
        return 1
    rows = ((last_row - 1 - first_row) % _U32 + 1) % _U32
    cols = ((last_col - 1 - first_col) % _U32 + 1) % _U32
    return rows * cols
