"""Look inside a workbook before any reader opens it.

An .xlsx / .xlsm / .xlsb file is a zip archive of parts. :func:`inspect_zip_workbook`

1. refuses archives whose declared sizes, compression ratio or number of parts exceed the
   limits of :mod:`kpi_engine.ingest.limits` (a "zip bomb") -- from the archive's directory,
   before anything is unpacked;
2. unpacks every part in pieces of at most 1 MB and refuses a part that unpacks to more
   than it declared (calamine trusts the data, not the directory), fails its checksum, or
   holds an XML document type declaration (Excel never writes one; entity bombs need one),
   and a workbook whose sheets span more cells than the limit (calamine allocates every
   cell of the rectangle from A1 to the farthest cell named, however empty);
3. reads what calamine does not report: the 1904 date system, hidden and chart sheets (not
   data), merged cells, and formulas saved without their value (files written by scripts).

:func:`check_ole_workbook` recognises a password-protected workbook, which Excel stores as
an encrypted OLE2 compound file whatever the file is called.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from kpi_engine.core.errors import InputError
from kpi_engine.ingest.limits import (
    MAX_RATIO,
    RATIO_CHECKED_FROM,
    max_unpacked_bytes,
    max_workbook_cells,
    max_workbook_parts,
)
from kpi_engine.ingest.model import SourceFile

#: Signature of a zip archive (xlsx, xlsm, xlsb, ods) and of an OLE2 compound file (xls, encrypted xlsx).
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

DAMAGED = "the workbook is damaged and cannot be opened"
PASSWORD_PROTECTED = (
    "the workbook is protected with a password; open it in Excel, remove the password "
    "(File > Info > Protect Workbook > Encrypt with Password) and upload it again"
)
UNSAVED_FORMULA = "formula without a saved value; open and save the file in Excel"
#: At most this many unsaved formulas are listed per sheet; the rest are counted.
MAX_LISTED_FORMULAS = 200

_PIECE = 1 << 20
_XML_PART = re.compile(r"\.(?:xml|rels|vml)$", re.IGNORECASE)
_WORKSHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.IGNORECASE)
_BINARY_WORKSHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.bin$", re.IGNORECASE)
# Excel never writes a DTD; without one there are no entities to expand.
_DTD_MARKERS = tuple(
    marker.encode(encoding) for marker in ("<!DOCTYPE", "<!ENTITY") for encoding in ("ascii", "utf-16-le", "utf-16-be")
)
_ROOT = re.compile(rb"<(?:([A-Za-z_][\w.-]*:))?worksheet[\s>]")
_TAG_END = (b">", b" ", b"/", b"\t", b"\r", b"\n")
_REF_ATTR = re.compile(rb"\br=[\"']([A-Za-z]{1,3}[0-9]{1,7})[\"']")
_TYPE_ATTR = re.compile(rb"\bt=[\"'](\w+)[\"']")
_MERGE_REF = re.compile(rb"\bref=[\"']([A-Za-z]{1,3}[0-9]{1,7})(?::([A-Za-z]{1,3}[0-9]{1,7}))?[\"']")
_TEXT_TYPES = (b"str", b"s", b"inlineStr")


@dataclass(frozen=True)
class CellRange:
    """A rectangle of cells, 1-based rows and 0-based columns as calamine counts them."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int

    @property
    def ref(self) -> str:
        """The range as Excel writes it, e.g. ``B2:B4``."""
        return f"{cell_ref(self.first_row, self.first_col)}:{cell_ref(self.last_row, self.last_col)}"


@dataclass
class SheetScan:
    """What the scan found in one worksheet part: merged ranges and unsaved formulas."""

    merged: list[CellRange] = field(default_factory=list)
    #: (row, 0-based column) of formulas saved without a value, the first MAX_LISTED_FORMULAS.
    unsaved_formulas: list[tuple[int, int]] = field(default_factory=list)
    unsaved_total: int = 0
    #: The farthest row and column (1-based) the cell references name ...
    last_row: int = 0
    last_col: int = 0
    #: ... the rows and cells that name no position (they follow the one before) ...
    unnamed_rows: int = 0
    unnamed_cells: int = 0
    #: ... and the most cells one row holds.
    widest_row: int = 0

    @property
    def extent(self) -> int:
        """An upper bound of the cells calamine allocates for this sheet.

        A row or cell without a reference lands after the one before it: at most one row
        further per such row, at most a row's width further to the right.
        """
        width = self.last_col + (self.widest_row if self.unnamed_cells else 0)
        return (self.last_row + self.unnamed_rows) * width


@dataclass(frozen=True)
class WorkbookInfo:
    """What a workbook holds beyond its cell values.

    ``skipped`` names the sheets that are not data (hidden, very hidden, chart and dialog
    sheets); ``sheets`` holds the scan of each worksheet by sheet name (xlsx/xlsm only).
    """

    date1904: bool = False
    skipped: frozenset[str] = frozenset()
    sheets: dict[str, SheetScan] = field(default_factory=dict)


def column_letters(col: int) -> str:
    """Excel's letters of a 0-based column: 0 -> A, 27 -> AB."""
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell_ref(row: int, col: int) -> str:
    """Excel's reference of a cell: row 1-based, column 0-based (4, 4 -> ``E4``)."""
    return f"{column_letters(col)}{row}"


def parse_ref(ref: bytes | str) -> tuple[int, int]:
    """(1-based row, 0-based column) of a reference like ``E4``."""
    text = ref.decode("ascii") if isinstance(ref, bytes) else ref
    letters = text.rstrip("0123456789").upper()
    col = 0
    for letter in letters:
        col = col * 26 + ord(letter) - 64
    return int(text[len(letters) :]), col - 1


# --------------------------------------------------------------------------- OLE2 (xls, encrypted)


def _utf16_name(name: str) -> bytes:
    return name.encode("utf-16-le")


def check_ole_workbook(file: SourceFile) -> None:
    """Refuse a password-protected workbook with a message saying so.

    Excel saves an encrypted .xlsx as an OLE2 compound file holding the streams
    ``EncryptionInfo`` and ``EncryptedPackage`` (their names are stored in UTF-16).

    Raises
    ------
    InputError
        The file is an encrypted workbook.
    """
    data = file.data
    if _utf16_name("EncryptedPackage") in data and _utf16_name("EncryptionInfo") in data:
        raise InputError(PASSWORD_PROTECTED)


# --------------------------------------------------------------------------- zip archives


def inspect_zip_workbook(file: SourceFile) -> WorkbookInfo:
    """Check a zip workbook against the limits and read what calamine does not report.

    Parameters
    ----------
    file
        A file whose bytes start with the zip signature.

    Returns
    -------
    WorkbookInfo

    Raises
    ------
    InputError
        The archive is damaged, too large unpacked, holds too many parts, understates a
        part's size, holds an XML document type declaration, or is not a workbook.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(file.data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise InputError(DAMAGED) from None
    with archive:
        infos = archive.infolist()
    _check_declared(infos)
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names and not _is_ods(file.data, infos):
        raise InputError(
            "the file is a zip archive but not an Excel workbook; save it from Excel as .xlsx, or export it as CSV"
        )
    keep = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels"}
    kept: dict[str, bytes] = {}
    scans: dict[str, SheetScan] = {}
    view = memoryview(file.data)
    cell_limit, spanned = max_workbook_cells(), 0
    for info in infos:
        is_xml = bool(_XML_PART.search(info.filename))
        scanner: _SheetScanner | _BinarySheetScanner | None = None
        if _WORKSHEET_PART.match(info.filename):
            scanner = _SheetScanner(SheetScan(), info.filename)  # it also looks for a DTD itself
            is_xml = False
        elif _BINARY_WORKSHEET_PART.match(info.filename):
            scanner = _BinarySheetScanner(SheetScan())  # an .xlsb sheet: only its rectangle is measured
        pieces: list[bytes] = []
        tail = b""
        for piece in _unpacked(view, info):
            if is_xml:
                window = tail + piece
                # "<!" (or its UTF-16 form) is rare in a workbook: look for the markers only then
                if b"<!" in window or b"<\x00!" in window:
                    _refuse_dtd(window, info.filename)
                tail = piece[-32:]
            if scanner is not None:
                scanner.feed(piece)
                _check_cells(spanned + scanner.scan.extent, cell_limit, info.filename, scanner.scan)
            if info.filename in keep:
                pieces.append(piece)
        if scanner is not None:
            scanner.close()
            _check_cells(spanned + scanner.scan.extent, cell_limit, info.filename, scanner.scan)
            spanned += scanner.scan.extent
            scans[info.filename] = scanner.scan
        if info.filename in keep:
            kept[info.filename] = b"".join(pieces)
    if "xl/workbook.xml" not in kept:
        return WorkbookInfo()  # xlsb or ods: calamine reads their dates and visibility itself
    return _describe(kept["xl/workbook.xml"], kept.get("xl/_rels/workbook.xml.rels"), scans)


def _refuse_dtd(text: bytes, part: str) -> None:
    """Refuse ``text`` of workbook part ``part`` if it holds a document type or entity declaration."""
    if any(marker in text for marker in _DTD_MARKERS):
        raise InputError(
            f"the workbook part {part} holds an XML document type declaration, "
            "which Excel never writes; the file was refused as unsafe"
        )


def _is_ods(data: bytes, infos: list[zipfile.ZipInfo]) -> bool:
    """An OpenDocument spreadsheet (calamine reads those too): its first part names its type."""
    return bool(infos) and infos[0].filename == "mimetype" and b"opendocument.spreadsheet" in data[:200]


def _too_large(total: int) -> InputError:
    return InputError(
        f"the workbook unpacks to {total / 1e6:,.0f} MB, more than can be read safely; "
        "split it or export the sheets as CSV"
    )


def _check_declared(infos: list[zipfile.ZipInfo]) -> None:
    """The archive directory's own figures: entries, total size, worst ratio of a large part."""
    limit = max_workbook_parts()
    if len(infos) > limit:
        raise InputError(
            f"the workbook holds {len(infos):,} parts, more than the {limit:,} a workbook can have; "
            "the file was refused as unsafe"
        )
    total = sum(info.file_size for info in infos)
    worst = max(
        (info.file_size / max(info.compress_size, 1) for info in infos if info.file_size > RATIO_CHECKED_FROM),
        default=0,
    )
    if total > max_unpacked_bytes() or worst > MAX_RATIO:
        raise _too_large(total)


def _unpacked(data: memoryview, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The bytes of one part in pieces of at most 1 MB; never more than the part declares.

    Raises
    ------
    InputError
        The part is damaged, uses a compression Excel does not write, or holds more
        (or less) data than the archive directory says.
    """
    start = info.header_offset
    header = bytes(data[start : start + 30])
    if len(header) < 30 or header[:4] != ZIP_MAGIC:
        raise InputError(DAMAGED)
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    begin = start + 30 + name_length + extra_length
    raw = data[begin : begin + info.compress_size]
    if len(raw) < info.compress_size:
        raise InputError(DAMAGED)
    crc = 0
    produced = 0
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise _understated(info)
        for offset in range(0, len(raw), _PIECE):
            piece = bytes(raw[offset : offset + _PIECE])
            crc = zlib.crc32(piece, crc)
            yield piece
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-15)
        position = 0
        while not inflater.eof:
            source: bytes | memoryview
            if inflater.unconsumed_tail:
                source = inflater.unconsumed_tail
            elif position < len(raw):
                source = raw[position : position + _PIECE]
                position += _PIECE
            else:
                source = b""
            try:
                piece = inflater.decompress(source, _PIECE)
            except zlib.error:
                raise InputError(DAMAGED) from None
            if not piece and not source:
                break  # no input left and nothing more comes out: the stream is cut short
            produced += len(piece)
            if produced > info.file_size:
                raise _understated(info)
            crc = zlib.crc32(piece, crc)
            if piece:
                yield piece
        if not inflater.eof or produced != info.file_size:
            raise InputError(DAMAGED)
    else:
        raise InputError(
            f"the workbook part {info.filename} uses a compression method Excel does not write; "
            "save the file again from Excel"
        )
    if crc != info.CRC:
        raise InputError(DAMAGED)


def _check_cells(spanned: int, limit: int, part: str, scan: SheetScan) -> None:
    if spanned > limit:
        far = cell_ref(max(scan.last_row, 1), max(scan.last_col, 1) - 1)
        raise InputError(
            f"the workbook spans {spanned:,} cells (the sheet in {part} reaches as far as cell {far}), "
            f"more than the {limit:,} that can be read safely; delete the unused rows and columns, "
            "split it, or export the sheets as CSV"
        )


def _understated(info: zipfile.ZipInfo) -> InputError:
    return InputError(
        f"the workbook part {info.filename} unpacks to more than the archive declares; the file was refused as unsafe"
    )


class _BinarySheetScanner:
    """Walks the records of an .xlsb worksheet (BIFF12) to measure the rectangle its cells span.

    Inside the sheet data, a row header (record 0) names its row and a cell record
    (1-11) its column; the short cell records (12-18) follow the cell before.
    """

    def __init__(self, scan: SheetScan) -> None:
        self.scan = scan
        self.pending = b""
        self.inside = False
        self.col = -1

    def feed(self, piece: bytes) -> None:
        data = self.pending + piece
        position, scan = 0, self.scan
        while True:
            header = _record_header(data, position)
            if header is None:
                break
            kind, start, size = header
            if start + size > len(data):
                break  # the record goes on in the next piece
            if kind == 145:  # BrtBeginSheetData
                self.inside = True
            elif kind == 146:  # BrtEndSheetData
                self.inside = False
            elif self.inside and kind == 0 and size >= 4:
                scan.last_row = max(scan.last_row, int.from_bytes(data[start : start + 4], "little") + 1)
                self.col = -1
            elif self.inside and 1 <= kind <= 11 and size >= 4:
                self.col = int.from_bytes(data[start : start + 4], "little")
                scan.last_col = max(scan.last_col, self.col + 1)
            elif self.inside and 12 <= kind <= 18:
                self.col += 1
                scan.last_col = max(scan.last_col, self.col + 1)
            position = start + size
        self.pending = data[position:]

    def close(self) -> None:
        self.pending = b""


def _record_header(data: bytes, position: int) -> tuple[int, int, int] | None:
    """(record type, start of its data, its size) of the BIFF12 record at ``position``, or None if cut off."""
    end = len(data)
    if position >= end:
        return None
    kind = data[position]
    position += 1
    if kind & 0x80:  # a type of two bytes
        if position >= end:
            return None
        kind = (kind & 0x7F) | ((data[position] & 0x7F) << 7)
        position += 1
    size = 0
    for shift in (0, 7, 14, 21):
        if position >= end:
            return None
        byte = data[position]
        position += 1
        size |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return kind, position, size
    return kind, position, size


class _SheetScanner:
    """Finds merged ranges and unsaved formulas in a worksheet's XML, piece by piece.

    Every piece is looked at once, in numpy: the positions of its ``<`` say where the tags
    are, and the bytes after them which tags they are (a document type declaration, a
    cell, a row, a formula, a merged range); plain substring searches then run only where
    such a tag was found (a regex over every cell of a large sheet costs seconds). Tags
    are found literally, with the namespace prefix the sheet's root element uses.
    Only complete cells are searched: whatever follows the last ``</c>`` or ``</row>`` of
    a piece waits for the next one (or, when a single cell grows past 8 MB, the last ``>``).
    """

    def __init__(self, scan: SheetScan, part: str = "") -> None:
        self.scan = scan
        self.part = part
        self.pending = b""
        self.prefix: bytes | None = None
        self.cells_state = 0  # 0: before <sheetData>, 1: inside, 2: after
        self.open_row_cells = 0  # cells of the last row seen so far (it may go on in the next piece)

    def feed(self, piece: bytes) -> None:
        buffer = self.pending + piece
        tags = _Tags(buffer)
        if tags.declares_dtd():
            _refuse_dtd(buffer, self.part)
        if self.prefix is None:
            root = _ROOT.search(buffer, 0, 65_536)
            if root is None and len(buffer) < 65_536:
                self.pending = buffer  # the root element has not arrived yet
                return
            self.prefix = (root.group(1) or b"") if root is not None else b""
        p = self.prefix
        cell_end, row_end = b"</" + p + b"c>", b"</" + p + b"row>"
        cut = max(buffer.rfind(cell_end) + len(cell_end), buffer.rfind(row_end) + len(row_end), 0)
        if cut < len(cell_end):  # nothing closed in this piece
            cut = buffer.rfind(b">") + 1 if len(buffer) > 8 * _PIECE else 0
        if cut:
            self._search(buffer[:cut], tags.before(cut))
        self.pending = buffer[cut:]

    def close(self) -> None:
        tags = _Tags(self.pending)
        if tags.declares_dtd():
            _refuse_dtd(self.pending, self.part)
        if self.prefix is None:
            root = _ROOT.search(self.pending)
            self.prefix = (root.group(1) or b"") if root is not None else b""
        self._search(self.pending, tags)
        self.pending = b""

    def _search(self, text: bytes, tags: _Tags) -> None:
        if not text:
            return
        p = self.prefix or b""
        self._measure(text, p, tags)
        merge_tag = b"<" + p + b"mergeCell "
        at = text.find(merge_tag)  # a long literal: found fast without looking at the tags
        while at != -1:
            end = text.find(b">", at)
            match = _MERGE_REF.search(text, at, end if end != -1 else len(text))
            if match is not None:
                first_row, first_col = parse_ref(match.group(1))
                last_row, last_col = parse_ref(match.group(2) or match.group(1))
                self.scan.merged.append(CellRange(first_row, first_col, last_row, last_col))
            at = text.find(merge_tag, at + len(merge_tag))
        formula, cell_open, cell_close = b"<" + p + b"f", b"<" + p + b"c ", b"</" + p + b"c>"
        at = text.find(formula) if p or tags.any_formula() else -1
        while at != -1:
            after = at + len(formula)
            if text[after : after + 1] in _TAG_END:
                start = text.rfind(cell_open, 0, at)
                close = text.find(cell_close, at)
                if start != -1 and close != -1 and text.find(cell_close, start, at) == -1:
                    head_end = text.find(b">", start, at)
                    self._check_cell(text[start:head_end], text[head_end + 1 : close], p)
                    after = close
            at = text.find(formula, after)

    def _measure(self, text: bytes, p: bytes, tags: _Tags) -> None:
        """Extend the sheet's rectangle by the rows and cells inside ``<sheetData>`` in ``text``."""
        if self.cells_state == 2:
            return
        start = 0
        if self.cells_state == 0:
            at = text.find(b"<" + p + b"sheetData")
            if at == -1:
                return
            start, self.cells_state = at, 1
        closing = b"</" + p + b"sheetData>"
        end = text.find(closing, start)
        if end == -1:
            end = len(text)
        else:
            self.cells_state = 2
        if p:  # prefixed tags (rare): drop the prefix so that the tags read as plain ones
            found = sheet_extent(text[start:end].replace(b"<" + p, b"<"))
        else:
            found = tags.extent(start, end) or sheet_extent(text[start:end])
        scan = self.scan
        scan.last_row, scan.last_col = max(scan.last_row, found.last_row), max(scan.last_col, found.last_col)
        scan.unnamed_rows += found.unnamed_rows
        scan.unnamed_cells += found.unnamed_cells
        if found.rows:
            widest = max(self.open_row_cells + found.leading_cells, found.widest_row)
            self.open_row_cells = found.trailing_cells
        else:
            widest, self.open_row_cells = 0, self.open_row_cells + found.leading_cells
        scan.widest_row = max(scan.widest_row, widest, self.open_row_cells)

    def _check_cell(self, head: bytes, body: bytes, p: bytes) -> None:
        """Count a formula cell whose saved value is missing or empty (unless it is text)."""
        value_open, value_close = b"<" + p + b"v>", b"</" + p + b"v>"
        at = body.find(value_open)
        if at != -1 and body.find(value_close, at) > at + len(value_open):
            return  # a saved value
        kind = _TYPE_ATTR.search(head)
        if at != -1 and kind is not None and kind.group(1) in _TEXT_TYPES:
            return  # Excel saves an empty text result as <v></v> under t="str": that is a value
        self.scan.unsaved_total += 1
        ref = _REF_ATTR.search(head)
        if ref is not None and len(self.scan.unsaved_formulas) < MAX_LISTED_FORMULAS:
            self.scan.unsaved_formulas.append(parse_ref(ref.group(1)))


#: Byte classes for the bytes after a ``<``: white space or ``>`` ends a tag name; letters
#: and digits of a cell reference.
_ENDS_NAME = np.zeros(256, dtype=bool)
_ENDS_NAME[[32, 9, 10, 13, ord(">")]] = True
_ENDS_FORMULA = _ENDS_NAME.copy()
_ENDS_FORMULA[ord("/")] = True
_LETTER_VALUE = np.zeros(256, dtype=np.uint8)
_LETTER_VALUE[ord("A") : ord("Z") + 1] = np.arange(1, 27)
_LETTER_VALUE[ord("a") : ord("z") + 1] = np.arange(1, 27)
_IS_DIGIT = np.zeros(256, dtype=bool)
_IS_DIGIT[ord("0") : ord("9") + 1] = True


#: How many bytes of a tag are looked at: ``<row r="`` and a row number, or ``<c r="``,
#: a cell reference of up to 3 letters and 7 digits, and the closing quote.
_HEAD = 17


class _Tags:
    """The tags of a stretch of worksheet XML, from one pass over its bytes.

    ``opens`` are the positions of every ``<`` and ``_first`` the byte after each of them
    (the first of the tag's name); ``padded`` is the text with zero bytes after it, so that
    the first :data:`_HEAD` bytes of every tag can be read without running off the end.
    """

    def __init__(self, text: bytes) -> None:
        data = np.frombuffer(text, dtype=np.uint8)
        self.size = data.size
        self.padded = np.concatenate([data, np.zeros(_HEAD, dtype=np.uint8)])
        self.opens = np.flatnonzero(data == ord("<"))
        self._first = self.padded[self.opens + 1]

    def before(self, cut: int) -> _Tags:
        """The same tags, limited to the text before position ``cut``."""
        tags = _Tags.__new__(_Tags)
        keep = int(np.searchsorted(self.opens, cut))
        tags.size, tags.padded = cut, self.padded
        tags.opens, tags._first = self.opens[:keep], self._first[:keep]
        return tags

    def declares_dtd(self) -> bool:
        """True when some tag starts ``<!`` (or its UTF-16 form): a DTD, a comment or CDATA."""
        if (self._first == ord("!")).any():
            return True
        utf16 = self.opens[self._first == 0]
        return bool((self.padded[utf16 + 2] == ord("!")).any())

    def any_formula(self) -> bool:
        """True when some tag may be ``<f``."""
        formulas = self.opens[self._first == ord("f")]
        return bool(_ENDS_FORMULA[self.padded[formulas + 2]].any())

    def extent(self, start: int, end: int) -> Extent | None:
        """What ``<sheetData>`` between ``start`` and ``end`` spans, when every tag is plain.

        Plain: every cell tag begins ``<c r="``, every row tag ``<row r="``, each with a
        reference of at most 3 letters and 7 digits closed by a quote, as Excel and every
        library write them. Anything else returns None, for :func:`sheet_extent` to measure.
        """
        lo, hi = np.searchsorted(self.opens, [start, end])
        opens, first = self.opens[lo:hi], self._first[lo:hi]
        # each tag's first bytes side by side, a row per tag (no index per byte)
        heads = np.lib.stride_tricks.sliding_window_view(self.padded, _HEAD)
        cells = opens[first == ord("c")]
        cell_heads = heads[cells]
        is_cell = _ENDS_NAME[cell_heads[:, 2]]
        cells, cell_heads = cells[is_cell], cell_heads[is_cell]
        rows = opens[first == ord("r")]
        row_heads = heads[rows]
        is_row = (row_heads[:, 2] == ord("o")) & (row_heads[:, 3] == ord("w")) & _ENDS_NAME[row_heads[:, 4]]
        rows, row_heads = rows[is_row], row_heads[is_row]
        if not ((cell_heads[:, 2:6] == _R_ATTRIBUTE).all() and (row_heads[:, 4:8] == _R_ATTRIBUTE).all()):
            return None
        cell_refs = _plain_refs(cell_heads[:, 6:], letters=True)
        row_refs = _plain_refs(row_heads[:, 8:], letters=False)
        if cell_refs is None or row_refs is None:
            return None
        per_row = np.diff(np.searchsorted(cells, np.append(rows, end)))
        return Extent(
            last_row=max(cell_refs[0], row_refs[0]),
            last_col=cell_refs[1],
            rows=rows.size,
            leading_cells=int(np.searchsorted(cells, rows[0])) if rows.size else cells.size,
            widest_row=int(per_row[:-1].max()) if per_row.size > 1 else 0,
            trailing_cells=int(per_row[-1]) if per_row.size else 0,
        )


_R_ATTRIBUTE = np.frombuffer(b' r="', dtype=np.uint8)


def _plain_refs(window: np.ndarray, *, letters: bool) -> tuple[int, int] | None:
    """(largest row, largest 1-based column) of the references starting each row of ``window``.

    Returns None unless all are plain: a cell reference has 1-3 letters and 1-7 digits, a
    row's 1-7 digits, closed by ``"``. Works a column (a byte position) at a time.
    """
    rows = window.shape[0]
    if not rows:
        return 0, 0
    count = np.zeros(rows, dtype=np.int8)
    last_col = 0
    if letters:
        reading = np.ones(rows, dtype=bool)
        for k in range(4):
            reading &= _LETTER_VALUE[window[:, k]] > 0
            count += reading
        if count.min() < 1 or count.max() > 3:
            return None
        most = int(count.max())
        widest = window[count == most, :most]
        col = np.zeros(widest.shape[0], dtype=np.int64)
        for k in range(most):
            col = col * 26 + _LETTER_VALUE[widest[:, k]]
        last_col = int(col.max())
        if most > 1:  # line the digits up under each other
            window = window[np.arange(rows)[:, None], np.arange(8)[None, :] + count[:, None]]
        else:
            window = window[:, 1:9]
    digits = np.zeros(rows, dtype=np.int8)
    reading = np.ones(rows, dtype=bool)
    for k in range(8):
        reading &= _IS_DIGIT[window[:, k]]
        digits += reading
    if digits.min() < 1 or digits.max() > 7 or not (window[np.arange(rows), digits] == ord('"')).all():
        return None
    # the largest row has the most digits; among those, the largest number
    most = int(digits.max())
    longest = window[digits == most, :most]
    row = np.zeros(longest.shape[0], dtype=np.int64)
    for k in range(most):
        row = row * 10 + (longest[:, k] - ord("0"))
    return int(row.max()), last_col


def _is_space(values: np.ndarray) -> np.ndarray:
    return (values == 32) | (values == 9) | (values == 10) | (values == 13)


@dataclass(frozen=True)
class Extent:
    """What one stretch of ``<sheetData>`` says about the rectangle of its sheet.

    ``last_row`` and ``last_col`` (1-based; A = 1) are the farthest named by ``r="..."``;
    ``unnamed_rows`` and ``unnamed_cells`` count tags without ``r``. ``rows`` counts row
    tags; ``leading_cells`` are the cells before the first of them (the end of a row begun
    earlier), ``widest_row`` the most cells of a row that ends here, ``trailing_cells``
    the cells of the last row so far.
    """

    last_row: int = 0
    last_col: int = 0
    unnamed_rows: int = 0
    unnamed_cells: int = 0
    rows: int = 0
    leading_cells: int = 0
    widest_row: int = 0
    trailing_cells: int = 0


def sheet_extent(text: bytes) -> Extent:
    """Measure a stretch of ``<sheetData>`` (unprefixed tags) in one vectorised pass.

    Row tags carry ``r="7"``, cells ``r="C7"``. A reference longer than any sheet's
    counts as a billion rows and columns. Only the bytes after ``<`` and ``=`` are looked
    at, in numpy: a regex over every cell of a large sheet costs seconds.
    """
    data = np.frombuffer(text, dtype=np.uint8)
    if data.size < 6:
        return Extent()
    padded = np.concatenate([data, np.zeros(16, dtype=np.uint8)])
    opens = np.flatnonzero(data == ord("<"))
    first, second = padded[opens + 1], padded[opens + 2]
    cells = opens[(first == ord("c")) & (_is_space(second) | (second == ord(">")))]
    rows = opens[
        (first == ord("r"))
        & (second == ord("o"))
        & (padded[opens + 3] == ord("w"))
        & (_is_space(padded[opens + 4]) | (padded[opens + 4] == ord(">")))
    ]
    per_row = np.diff(np.searchsorted(cells, np.append(rows, data.size)))
    leading = int(np.searchsorted(cells, rows[0])) if rows.size else cells.size
    shape = {
        "rows": rows.size,
        "leading_cells": leading,
        "widest_row": int(per_row[:-1].max()) if per_row.size > 1 else 0,
        "trailing_cells": int(per_row[-1]) if per_row.size else 0,
    }
    equals = np.flatnonzero(data == ord("="))
    quote = padded[equals + 1]
    hits = equals[
        (equals >= 2)
        & (padded[equals - 1] == ord("r"))
        & _is_space(padded[equals - 2])
        & ((quote == 34) | (quote == 39))
    ]
    if not hits.size:
        return Extent(unnamed_rows=rows.size, unnamed_cells=cells.size, **shape)
    start = hits + 2
    # letters: up to 3 (XFD); a fourth means a column outside every sheet
    col = np.zeros(hits.size, dtype=np.int64)
    letters = np.zeros(hits.size, dtype=np.int64)
    reading = np.ones(hits.size, dtype=bool)
    for k in range(4):
        upper = (padded[start + k] & 0xDF).astype(np.int64)
        letter = reading & (upper >= ord("A")) & (upper <= ord("Z"))
        col = np.where(letter, col * 26 + upper - 64, col)
        letters += letter
        reading &= letter
    # digits: up to 7 (1048576), then the closing quote
    row = np.zeros(hits.size, dtype=np.int64)
    digits = np.zeros(hits.size, dtype=np.int64)
    reading = np.ones(hits.size, dtype=bool)
    for k in range(8):
        char = padded[start + letters + k].astype(np.int64)
        digit = reading & (char >= ord("0")) & (char <= ord("9"))
        row = np.where(digit, row * 10 + char - 48, row)
        digits += digit
        reading &= digit
    closing = padded[start + letters + digits]
    # a reference cut off by damage (``r="2<<`` or the end of the part) measures nothing:
    # the XML parser names the damage, where a size check would call it a bomb
    cut = (letters <= 3) & (digits <= 7) & ((closing == ord("<")) | (closing == 0))
    absurd = ~cut & ((letters > 3) | (digits > 7) | ((closing != 34) & (closing != 39)))
    col[absurd], row[absurd] = 10**9, 10**9
    col[cut], row[cut] = 0, 0
    named_cells = int(np.count_nonzero(col))
    named_rows = hits.size - named_cells
    return Extent(
        last_row=int(row.max()),
        last_col=int(col.max()),
        unnamed_rows=max(rows.size - named_rows, 0),
        unnamed_cells=max(cells.size - named_cells, 0),
        **shape,
    )


def _describe(workbook_xml: bytes, rels_xml: bytes | None, scans: dict[str, SheetScan]) -> WorkbookInfo:
    """The 1904 flag, the sheets that are not data, and each sheet's scan by sheet name."""
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(workbook_xml)
        rels = ElementTree.fromstring(rels_xml) if rels_xml else None
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise InputError(DAMAGED) from None
    main = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    ns = {"m": main}
    pr = root.find("m:workbookPr", ns)
    date1904 = pr is not None and pr.get("date1904", "0").lower() in ("1", "true")
    targets: dict[str, tuple[str, str]] = {}  # relationship id -> (part path, relationship type)
    if rels is not None:
        for rel in rels:
            target = rel.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
            targets[rel.get("Id", "")] = (path, rel.get("Type", ""))
    skipped: set[str] = set()
    by_name: dict[str, SheetScan] = {}
    for sheet in root.iterfind("m:sheets/m:sheet", ns):
        name = sheet.get("name", "")
        rel_id = next((value for key, value in sheet.attrib.items() if key.endswith("}id")), "")
        path, kind = targets.get(rel_id, ("", ""))
        if sheet.get("state", "visible") in ("hidden", "veryHidden") or (kind and not kind.endswith("/worksheet")):
            skipped.add(name)  # hidden, or a chart / dialog / macro sheet: not data
        elif path in scans:
            by_name[name] = scans[path]
    return WorkbookInfo(date1904=date1904, skipped=frozenset(skipped), sheets=by_name)
