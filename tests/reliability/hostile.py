"""Hostile and broken files, built in memory: zip bombs, entity bombs, encrypted and mislabelled files.

Nothing here is committed as a binary: every fixture is made by zipfile, zlib, openpyxl,
xlsxwriter, xlwt, pyxlsbwriter or msoffcrypto from a few literal rows.
"""

from __future__ import annotations

import io
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

MILESTONE_HEADER = ["milestone_id", "project_id", "name", "owner", "baseline_finish"]
MILESTONE_ROWS = [
    ["M1", "P1", "Routing go-live", "Ann Lee", "2026-08-31"],
    ["M2", "P1", "Driver training", "Bob Roy", "2026-09-30"],
]
MILESTONES_CSV = "\n".join(",".join(row) for row in [MILESTONE_HEADER, *MILESTONE_ROWS]) + "\n"

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>\n"
)
EXTERNAL_ENTITY = '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'


def xlsx(sheets: dict[str, list[list[object]]] | None = None) -> bytes:
    """An .xlsx written by openpyxl (formulas are saved without values, as scripts do)."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in (sheets or {"milestones": [MILESTONE_HEADER, *MILESTONE_ROWS]}).items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def parts(data: bytes) -> dict[str, bytes]:
    """The parts of a zip archive by name, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rezip(files: dict[str, bytes]) -> bytes:
    """A deflated zip archive of these parts, in this order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def with_part(data: bytes, name: str, content: bytes) -> bytes:
    """The workbook with one part replaced (or added)."""
    return rezip({**parts(data), name: content})


def with_dtd(data: bytes, name: str, dtd: str = BILLION_LAUGHS, encoding: str = "utf-8") -> bytes:
    """The workbook with a document type declaration in front of one XML part's root.

    In a worksheet, a cell also refers to the last entity, as a real entity bomb would.
    """
    text = parts(data)[name].decode("utf-8")
    body = text.split("?>", 1)[1].lstrip() if text.startswith("<?xml") else text
    if "</sheetData>" in body and dtd == BILLION_LAUGHS:
        cell = '<row r="9"><c r="A9" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
        body = body.replace("</sheetData>", cell + "</sheetData>")
    document = dtd + body
    if encoding != "utf-8":
        document = document.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>')
    return with_part(data, name, document.encode(encoding))


def deflate_repeated(head: bytes, chunk: bytes, repeats: int, tail: bytes) -> tuple[bytes, int, int]:
    """A raw deflate stream of head + chunk * repeats + tail, without building the whole text.

    Each chunk is compressed once and its block repeated: a full flush makes blocks
    independent. Returns (stream, unpacked size, CRC-32 of the unpacked bytes).
    """
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflater.compress(head) + deflater.flush(zlib.Z_FULL_FLUSH)
    block = deflater.compress(chunk) + deflater.flush(zlib.Z_FULL_FLUSH)
    last = deflater.compress(tail) + deflater.flush()
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(tail, crc)
    return first + block * repeats + last, len(head) + len(chunk) * repeats + len(tail), crc


def raw_zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip archive written byte by byte, so that it may declare any sizes.

    ``entries`` holds (name, deflate stream, declared unpacked size, CRC-32).
    """
    out = io.BytesIO()
    directory = []
    for name, stream, size, crc in entries:
        offset, encoded = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(stream), size, len(encoded), 0))
        out.write(encoded + stream)
        directory.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0,
                crc,
                len(stream),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    start, blob = out.tell(), b"".join(directory)
    out.write(blob)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(directory), len(directory), len(blob), start, 0))
    return out.getvalue()


_ROW = b'<row><c t="inlineStr"><is><t>M9</t></is></c></row>'
#: 1 MB of rows (50,000 cells), compressing about 330 times ...
ROWS_MB = _ROW * (1_000_000 // len(_ROW))
#: ... and 1 MB of blanks between tags, compressing about 1,000 times (deflate's best).
BLANKS_MB = b" " * 1_000_000


def sheet_bomb(megabytes: int, *, declared: int | None = None, chunk: bytes = ROWS_MB) -> bytes:
    """A workbook whose first sheet unpacks to ``megabytes`` MB of ``chunk``.

    With ``declared`` the archive claims that many bytes for the sheet instead (an
    archive understating its size, which calamine would believe and unpack anyway).
    """
    base = parts(xlsx())
    entries = []
    for name, content in base.items():
        if name == "xl/worksheets/sheet1.xml":
            head, tail = content.split(b"</sheetData>")
            stream, size, crc = deflate_repeated(head, chunk, megabytes, b"</sheetData>" + tail)
            entries.append((name, stream, size if declared is None else declared, crc))
        else:
            deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
            entries.append((name, deflater.compress(content) + deflater.flush(), len(content), zlib.crc32(content)))
    return raw_zip(entries)


def sparse_sheet(*refs: str) -> bytes:
    """A tiny workbook whose sheet holds one cell at each reference (``A1``, ``ZZ100000`` ...)."""
    cells = "".join(
        f'<row r="{ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}"><c r="{ref}" t="inlineStr"><is><t>x</t></is></c></row>'
        for ref in refs
    )
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet '
        f'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{cells}</sheetData></worksheet>'
    )
    return with_part(xlsx(), "xl/worksheets/sheet1.xml", sheet.encode())


def many_parts(count: int) -> bytes:
    """A workbook padded with ``count`` tiny extra parts."""
    files = parts(xlsx())
    files.update({f"xl/media/pad{i}.xml": b"<x/>" for i in range(count)})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def encrypted(data: bytes, password: str = "secret") -> bytes:
    """The workbook encrypted with a password, as Excel saves it (an OLE2 compound file)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


def xls(rows: list[list[object]], sheet: str = "milestones") -> bytes:
    """A legacy .xls (BIFF8 in an OLE2 compound file) written by xlwt."""
    import xlwt

    book = xlwt.Workbook()
    page = book.add_sheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            page.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xls_far_cell(row: int = 65_535, col: int = 255) -> bytes:
    """An honest .xls with a header and one cell far away (IV65536 by default): a few kB."""
    import xlwt

    book = xlwt.Workbook()
    page = book.add_sheet("milestones")
    page.write(0, 0, "milestone_id")
    page.write(row, col, "x")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xls_patched(record: int, patch: Callable[[bytearray, int], None]) -> bytes:
    """A small valid .xls whose first BIFF record of type ``record`` is changed by ``patch``.

    ``patch(stream, offset)`` edits the Workbook stream in place (same length);
    ``offset`` is where the record's data starts.
    """
    import olefile

    data = xls([["milestone_id", "name"], ["M1", "Go-live"]])
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        stream = bytearray(ole.openstream("Workbook").read())
    position = 0
    while position + 4 <= len(stream):
        kind, size = struct.unpack_from("<HH", stream, position)
        if kind == record:
            patch(stream, position + 4)
            break
        position += 4 + size
    else:
        raise AssertionError(f"no record {record:#06x} in the workbook")
    out = io.BytesIO(data)
    with olefile.OleFileIO(out, write_mode=True) as ole:
        ole.write_stream("Workbook", bytes(stream))
    return out.getvalue()


def xls_lying_dimensions() -> bytes:
    """An .xls whose DIMENSIONS record claims 4 billion rows: calamine reserves them up front."""
    return xls_patched(0x0200, lambda stream, at: struct.pack_into("<IIHH", stream, at, 0, 0xFFFFFFF0, 0, 200))


def xls_sheet_outside() -> bytes:
    """An .xls whose sheet list points past the end of the workbook stream."""
    return xls_patched(0x0085, lambda stream, at: struct.pack_into("<I", stream, at, 0x7FFFFFF0))


def xlsb(rows: list[list[object]], sheet: str = "milestones") -> bytes:
    """A binary .xlsb workbook written by pyxlsbwriter."""
    from pyxlsbwriter import XlsbWriter

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "book.xlsb"
        with XlsbWriter(str(path)) as writer:
            writer.add_sheet(sheet)
            writer.write_sheet(rows)
        return path.read_bytes()


def xlsm(data: bytes) -> bytes:
    """The workbook as a macro-enabled .xlsm: its content type changed and a (dummy) VBA part added."""
    files = parts(data)
    files["[Content_Types].xml"] = files["[Content_Types].xml"].replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )
    files["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    return rezip(files)


def xlsb_sparse(row: int = 1_048_575, col: int = 16_383) -> bytes:
    """An .xlsb whose sheet also holds one cell at (0-based) ``row``, ``col``: the last cell of a sheet."""
    files = parts(xlsb([MILESTONE_HEADER, *MILESTONE_ROWS]))
    sheet = files["xl/worksheets/sheet1.bin"]
    end_of_data = sheet.index(bytes([0x92, 0x01, 0x00]))  # record 146 (end of the sheet data), empty
    row_header = bytes([0x00, 25]) + struct.pack("<I", row) + bytes(21)
    cell = bytes([0x07, 12]) + struct.pack("<III", col, 0, 0)  # a shared-string cell
    files["xl/worksheets/sheet1.bin"] = sheet[:end_of_data] + row_header + cell + sheet[end_of_data:]
    return rezip(files)
