"""Read the cells of an .xlsx worksheet straight from its XML, in numpy, as calamine would read them.

The safety scan (:mod:`kpi_engine.ingest.archive`) already unpacks every worksheet and finds
each ``<`` of it; keeping those bytes and positions, this module turns them into the sheet
of text cells :func:`~kpi_engine.ingest.readers.read_workbook` hands on, so that a plain
workbook is unpacked and walked once and calamine never opens it.

Only the XML that Excel, xlsxwriter, openpyxl and the libraries built on them write is read
here: cells ``<c r="B7" s="3" t="s">`` with their attributes in that order, values in
``<v>`` (shared strings, numbers, booleans, errors, formula results) or ``<is><t>`` (inline
strings), number formats whose kind is clear (General and numbers, plain dates and
date-times). Anything else (another tag inside ``<sheetData>``, a prefixed namespace, an
attribute in another order, a time-of-day format, an entity that is not XML's own) returns
None, and the caller reads the workbook with calamine as before: this reader declines
what it does not know rather than guess.

Each cell's text is what calamine (fastexcel, ``dtypes="string"``) gives: numbers with at
most nine decimals and no exponent (``46413``, ``0.3``), dates as ``YYYY-MM-DD HH:MM:SS``,
booleans ``true``/``false``, errors as Excel shows them (``#N/A``), strings with XML
entities and Excel's ``_xHHHH_`` escapes decoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

#: Excel errors calamine reports (others make the reader decline).
EXCEL_ERRORS = frozenset({"#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#GETTING_DATA"})

#: Built-in number formats (ECMA-376 18.8.30): plain numbers, and plain dates or date-times.
_NUMBER_FORMATS = frozenset({*range(0, 14), *range(37, 45), 48, 49})
_DATE_FORMATS = frozenset({14, 15, 16, 17, 22})
#: A custom format of only year, month, day (and hours, minutes, seconds after them).
_DATE_CODE = re.compile(r"^[ymd]+(?:[-/. ][ymd]+)*(?: h{1,2}:mm(?::ss)?)?$", re.IGNORECASE)
_COLOUR = re.compile(r"\[(?:black|blue|cyan|green|magenta|red|white|yellow|color\s?\d+)\]", re.IGNORECASE)
_DATE_LETTERS = re.compile(r"[dmhysaepgbn]", re.IGNORECASE)
_ENTITY = re.compile(r"&(amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_EXCEL_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
#: Numbers whose text calamine gives as written: whole numbers of up to 15 digits, and
#: numbers below a million with at most nine decimals (their nearest double rounds back).
_PLAIN_NUMBER = r"^-?(?:0|[1-9][0-9]{0,14}|(?:0|[1-9][0-9]{0,5})\.[0-9]{0,8}[1-9])$"

_EPOCH_1900 = date(1899, 12, 30)
_EPOCH_1904 = date(1904, 1, 1)
#: Serials read as dates here: 1900-03-01 (after Excel's 1900 leap-year day) .. 9999-12-31.
_SERIALS_1900 = (61, 2_958_466)
_SERIALS_1904 = (0, 2_957_004)
_MS_PER_DAY = 86_400_000
#: Values up to this many bytes are copied as a block of rows (see :func:`_strings`).
_WINDOW = 24

# cell kinds, from the t attribute
_NUMBER, _SHARED, _BOOL, _ERROR, _FORMULA_TEXT, _INLINE = range(6)
_TYPES = {b"n": _NUMBER, b"s": _SHARED, b"b": _BOOL, b"e": _ERROR, b"str": _FORMULA_TEXT, b"inlineStr": _INLINE}


class Declined(Exception):
    """The XML is not in the plain form this module reads; calamine reads the workbook instead."""


#: Zero bytes after a stretch of XML, so that the bytes after any position in it can be read.
PADDING = 64


def _xml_text(raw: bytes) -> str:
    """Bytes of XML character data as text: UTF-8, entities and ``_xHHHH_`` escapes decoded."""
    text = raw.decode("utf-8")
    if "&" in text:
        if text.count("&") != len(_ENTITY.findall(text)):
            raise Declined  # an entity XML does not define: leave the verdict to the XML parser
        text = _ENTITY.sub(_entity, text)
    if "_x" in text:
        text = _EXCEL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def _entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name[0] != "#":
        return _NAMED[name]
    code = int(name[2:], 16) if name[1] == "x" else int(name[1:])
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise Declined
    return chr(code)


def _unescaped(values: pl.Series) -> pl.Series:
    """Decode entities and ``_xHHHH_`` escapes in the few values that hold them."""
    needs = (values.str.contains("&", literal=True) | values.str.contains("_x", literal=True)).fill_null(False)
    idx = needs.arg_true()
    if not idx.len():
        return values
    fixed = [_xml_text(v.encode("utf-8")) for v in values.gather(idx).to_list()]
    return values.scatter(idx, pl.Series(fixed, dtype=pl.String))


# --------------------------------------------------------------------------- shared strings


def shared_strings(xml: bytes | None) -> pl.Series:
    """The shared strings table (``xl/sharedStrings.xml``) as a String series, by index.

    Each ``<si>`` is the text of its ``<t>`` elements (rich text has one per run);
    phonetic runs (``<rPh>``) are not part of the text.
    """
    if not xml:
        return pl.Series([], dtype=pl.String)
    data = np.frombuffer(xml, dtype=np.uint8)
    padded = np.concatenate([data, np.zeros(32, dtype=np.uint8)])
    opens = np.flatnonzero(data == ord("<"))
    first, second = padded[opens + 1], padded[opens + 2]
    si = opens[(first == ord("s")) & (second == ord("i")) & (padded[opens + 3] == ord(">"))]
    if not si.size:
        if b"<si" in xml:
            raise Declined
        return pl.Series([], dtype=pl.String)
    is_t = (first == ord("t")) & ((second == ord(">")) | (second == ord(" ")))
    t_at = np.flatnonzero(is_t)
    t_open = opens[t_at]
    # the text runs from the tag's end to the next "<" (which must be "</t>")
    plain = padded[t_open + 2] == ord(">")
    preserve = b' xml:space="preserve">'
    spaced = np.ones(t_open.size, dtype=bool)
    for k, byte in enumerate(preserve):
        spaced &= padded[t_open + 2 + k] == byte
    if not (plain | spaced).all():
        raise Declined
    starts = np.where(plain, t_open + 3, t_open + 2 + len(preserve))
    nxt = t_at + 1
    if (nxt >= opens.size).any():
        raise Declined
    ends = opens[nxt]
    if not ((padded[ends + 1] == ord("/")) & (padded[ends + 2] == ord("t")) & (padded[ends + 3] == ord(">"))).all():
        raise Declined
    # leave out the runs inside phonetic hints
    rph_open = opens[(first == ord("r")) & (second == ord("P")) & (padded[opens + 3] == ord("h"))]
    rph_close = opens[
        (first == ord("/")) & (second == ord("r")) & (padded[opens + 3] == ord("P")) & (padded[opens + 4] == ord("h"))
    ]
    if rph_open.size:
        if rph_open.size != rph_close.size:
            raise Declined
        inside = np.searchsorted(rph_open, t_open, side="right") > np.searchsorted(rph_close, t_open, side="right")
        t_open, starts, ends = t_open[~inside], starts[~inside], ends[~inside]
    owner = np.searchsorted(si, t_open, side="right") - 1
    if (owner < 0).any():
        raise Declined
    texts = _strings(data, starts, ends)
    per_si = np.bincount(owner, minlength=si.size)
    if (per_si == 1).all():
        return _unescaped(texts)
    joined = (
        pl.DataFrame({"owner": owner, "text": texts})
        .group_by("owner", maintain_order=True)
        .agg(pl.col("text").str.join(""))
    )
    out = pl.Series(dtype=pl.String).extend_constant("", si.size).scatter(joined["owner"], joined["text"])
    return _unescaped(out)


# --------------------------------------------------------------------------- number formats


def date_styles(xml: bytes | None) -> np.ndarray:
    """For each cell format (``cellXfs`` index) of ``xl/styles.xml``: 0 number, 1 date, 2 not known here."""
    if not xml:
        return np.zeros(1, dtype=np.int8)
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(xml)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise Declined from None
    ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    q = (lambda tag: f"{{{ns}}}{tag}") if ns else (lambda tag: tag)
    custom: dict[int, str] = {}
    formats = root.find(q("numFmts"))
    for fmt in formats if formats is not None else ():
        try:
            custom[int(fmt.get("numFmtId", ""))] = fmt.get("formatCode", "")
        except ValueError:
            raise Declined from None
    xfs = root.find(q("cellXfs"))
    kinds = []
    for xf in xfs if xfs is not None else ():
        try:
            number_format = int(xf.get("numFmtId", "0"))
        except ValueError:
            raise Declined from None
        kinds.append(_format_kind(number_format, custom.get(number_format)))
    return np.array(kinds or [0], dtype=np.int8)


def _format_kind(number_format: int, code: str | None) -> int:
    """0 a number format, 1 a plain date (or date-time) format, 2 anything else."""
    if code is None:
        if number_format in _NUMBER_FORMATS:
            return 0
        return 1 if number_format in _DATE_FORMATS else 2
    bare = re.sub(r'"[^"]*"|\\.|_.', "", _COLOUR.sub("", code))
    if "[" in bare:
        return 2  # elapsed time, a locale or a condition
    if _DATE_CODE.match(bare.strip()):
        return 1
    return 2 if _DATE_LETTERS.search(bare) else 0


# --------------------------------------------------------------------------- cells


def _parse_refs(padded: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(1-based row, 0-based column, position of the closing quote) of references starting at ``at``."""
    n = at.size
    col = np.zeros(n, dtype=np.int64)
    letters = np.zeros(n, dtype=np.int64)
    reading = np.ones(n, dtype=bool)
    for k in range(4):
        upper = padded[at + k].astype(np.int64)
        letter = reading & (upper >= ord("A")) & (upper <= ord("Z"))
        col = np.where(letter, col * 26 + upper - 64, col)
        letters += letter
        reading &= letter
        if not reading.any():
            break
    if n and (letters.min() < 1 or letters.max() > 3):
        raise Declined
    row = np.zeros(n, dtype=np.int64)
    digits = np.zeros(n, dtype=np.int64)
    reading = np.ones(n, dtype=bool)
    base = at + letters
    for k in range(8):
        char = padded[base + k].astype(np.int64)
        digit = reading & (char >= ord("0")) & (char <= ord("9"))
        row = np.where(digit, row * 10 + char - 48, row)
        digits += digit
        reading &= digit
        if not reading.any():
            break
    end = base + digits
    if n and (digits.min() < 1 or digits.max() > 7 or (padded[end] != ord('"')).any() or (row < 1).any()):
        raise Declined
    return row, col - 1, end


def _literal(padded: np.ndarray, at: np.ndarray, text: bytes) -> np.ndarray:
    """True where the bytes at ``at`` spell ``text``."""
    hit = np.ones(at.size, dtype=bool)
    for k, byte in enumerate(text):
        hit &= padded[at + k] == byte
    return hit


class CellReader:
    """Collects the cells of one worksheet from the stretches of XML the safety scan searches.

    The scan hands over each stretch it searched (whole cells only) with the positions of
    its ``<``; the stretches are read while they are in the processor's cache, and only
    the cells' positions, kinds and value bytes are kept. :meth:`finish` turns them into
    the sheet's text frame. The first stretch not in the plain form sets ``declined``.
    """

    def __init__(self) -> None:
        self.state = 0  # 0: before <sheetData>, 1: inside, 2: after
        self.declined = False
        self.batches: list[_Batch] = []
        self.last_key = -1

    def feed(self, text: bytes, opens: np.ndarray) -> None:
        """Read the cells of one stretch of the worksheet (``opens``: positions of its ``<``)."""
        if self.declined or self.state == 2:
            return
        try:
            self._feed(text, opens)
        except Declined:
            self.declined, self.batches = True, []

    def _feed(self, text: bytes, opens: np.ndarray) -> None:
        start, end = 0, len(text)
        if self.state == 0:
            at = text.find(b"<sheetData")
            if at == -1:
                return
            if text.startswith(b"<sheetData/>", at):
                self.state = 2
                return
            if not text.startswith(b"<sheetData>", at):
                raise Declined
            start, self.state = at + len(b"<sheetData>"), 1
        close = text.find(b"</sheetData>", start)
        if close != -1:
            end, self.state = close, 2
        lo, hi = np.searchsorted(opens, np.array([start, end], dtype=opens.dtype))
        padded = np.frombuffer(text + bytes(PADDING), dtype=np.uint8)
        batch = _read_stretch(padded, opens[lo:hi].astype(np.int64), end)
        if batch is None:
            return
        keys = batch.rows.astype(np.int64) * 16_384 + batch.cols
        if keys.size:
            if keys[0] <= self.last_key:
                raise Declined  # cells out of order, or one cell named twice
            self.last_key = int(keys[-1])
            self.batches.append(batch)

    def finish(
        self, strings: pl.Series, styles: np.ndarray, *, epoch1904: bool = False
    ) -> tuple[pl.DataFrame, int] | None:
        """The cells as calamine reads them into a frame of text, or None when the sheet holds no value.

        Returns
        -------
        (DataFrame, int) or None
            One String column per column from the first to the last holding a value, one
            row per sheet row from row 1 to the last holding a value (blank cells null),
            and the 0-based sheet column of the first.

        Raises
        ------
        Declined
            Some stretch was not in the plain form this module reads.
        """
        if self.declined or self.state != 2:
            raise Declined
        if not self.batches:
            return None
        rows = np.concatenate([b.rows for b in self.batches])
        cols = np.concatenate([b.cols for b in self.batches])
        kind = np.concatenate([b.kind for b in self.batches])
        style = np.concatenate([b.style for b in self.batches])
        index = np.concatenate([b.index for b in self.batches])
        lengths = np.concatenate([b.lengths for b in self.batches])
        raw = _binary_strings(np.concatenate([b.body for b in self.batches]), lengths)
        return _texts(rows, cols, kind, style, index, raw, strings, styles, epoch1904)


@dataclass(frozen=True)
class _Batch:
    """The cells holding a value in one stretch: place, kind, style, and the value.

    ``index`` is the shared string of each shared-string cell (-1 for the others); the
    other cells' values are ``body`` cut by ``lengths``, in the order of those cells.
    """

    rows: np.ndarray
    cols: np.ndarray
    kind: np.ndarray
    style: np.ndarray
    index: np.ndarray
    lengths: np.ndarray
    body: np.ndarray


def _read_stretch(padded: np.ndarray, opens: np.ndarray, end: int) -> _Batch | None:
    """Read the cells among the tags at ``opens`` (inside ``<sheetData>``, before ``end``)."""
    first, second = padded[opens + 1], padded[opens + 2]
    slash = first == ord("/")
    third = np.zeros(opens.size, dtype=np.uint8)
    third[slash] = padded[opens[slash] + 3]
    short = (first == ord("i")) | (first == ord("r"))
    third[short] = padded[opens[short] + 3]
    cell = (first == ord("c")) & (second == ord(" "))
    value = (first == ord("v")) & (second == ord(">"))
    value_end = slash & (second == ord("v")) & (third == ord(">"))
    cell_end = slash & (second == ord("c")) & (third == ord(">"))
    known = (
        cell
        | value
        | value_end
        | cell_end
        | ((first == ord("f")) & ((second == ord(">")) | (second == ord(" "))))  # a formula: its saved value counts
        | (slash & (second == ord("f")) & (third == ord(">")))
        | ((first == ord("r")) & (second == ord("o")) & (third == ord("w")))
        | (slash & (second == ord("r")) & (third == ord("o")))
        | ((first == ord("i")) & (second == ord("s")) & (third == ord(">")))
        | (slash & (second == ord("i")) & (third == ord("s")))
        | ((first == ord("t")) & ((second == ord(">")) | (second == ord(" "))))
        | (slash & (second == ord("t")) & (third == ord(">")))
    )
    if not known.all():
        raise Declined
    cell_at = np.flatnonzero(cell)
    cells = opens[cell_at]
    if not cells.size:
        if value.any() or (first == ord("t")).any():
            raise Declined
        return None
    if not _literal(padded, cells + 2, b' r="').all():
        raise Declined
    rows, cols, quote = _parse_refs(padded, cells + 6)
    if (np.diff(rows * 16_384 + cols) <= 0).any():
        raise Declined  # cells out of order, or one cell named twice
    # attributes after the reference, in the order Excel writes them: s="..." then t="..."
    at = quote + 1
    style = np.zeros(cells.size, dtype=np.int64)
    has_style = _literal(padded, at, b' s="')
    if has_style.any():
        digits_at = at + 4
        reading = has_style.copy()
        count = np.zeros(cells.size, dtype=np.int64)
        for k in range(6):
            char = padded[digits_at + k].astype(np.int64)
            digit = reading & (char >= ord("0")) & (char <= ord("9"))
            style = np.where(digit, style * 10 + char - 48, style)
            count += digit
            reading &= digit
        closed = padded[digits_at + count] == ord('"')
        if not (closed | ~has_style).all() or (has_style & (count == 0)).any():
            raise Declined
        at = np.where(has_style, digits_at + count + 1, at)
    kind = np.full(cells.size, _NUMBER, dtype=np.int8)
    has_type = _literal(padded, at, b' t="')
    if has_type.any():
        typed = np.flatnonzero(has_type)
        typed_at = at[typed] + 4
        letter, after = padded[typed_at], padded[typed_at + 1]
        name_length = np.zeros(typed.size, dtype=np.int64)
        codes = np.full(typed.size, -1, dtype=np.int8)
        for name, code in _TYPES.items():
            if len(name) == 1:
                hit = (letter == name[0]) & (after == ord('"'))
            else:  # the long names are rare: spell them out only where they may be
                maybe = np.flatnonzero((letter == name[0]) & (after == name[1]))
                hit = np.zeros(typed.size, dtype=bool)
                hit[maybe[_literal(padded, typed_at[maybe], name + b'"')]] = True
            codes[hit] = code
            name_length[hit] = len(name)
        if (codes < 0).any():
            raise Declined  # another type (an ISO date "d") or a misspelt one
        kind[typed] = codes
        at[typed] = typed_at + name_length + 1
    closing = padded[at]
    self_closed = (closing == ord("/")) & (padded[at + 1] == ord(">"))
    if not ((closing == ord(">")) | self_closed).all():
        raise Declined  # another attribute, or the same ones in another order
    # every open cell closes with </c> before the next cell opens
    open_cells = cells[~self_closed]
    closes = opens[cell_end]
    if closes.size != open_cells.size or (closes < open_cells).any():
        raise Declined
    following = np.append(cells, end)[1:][~self_closed]
    if (closes > following).any():
        raise Declined
    cell_close = np.zeros(cells.size, dtype=np.int64)
    cell_close[~self_closed] = closes
    cell_close[self_closed] = at[self_closed]
    # each value belongs to the last cell opened before it, and lies inside it
    # how many cells opened up to each tag: the owner of a tag is the last of them
    opened = np.cumsum(cell) - 1
    value_at = np.flatnonzero(value)
    owner = opened[value_at]
    if owner.size and ((owner < 0).any() or (opens[value_at] > cell_close[owner]).any()):
        raise Declined
    if owner.size and (np.diff(owner) == 0).any():
        raise Declined  # two values in one cell
    nxt = value_at + 1
    if (nxt >= opens.size).any() or not value_end[nxt].all():
        raise Declined
    v_start, v_end = opens[value_at] + 3, opens[nxt]
    # inline strings: <is><t>text</t></is>
    t_at = np.flatnonzero((first == ord("t")) & ((second == ord(">")) | (second == ord(" "))))
    inline_owner = np.zeros(0, dtype=np.int64)
    i_start = i_end = np.zeros(0, dtype=np.int64)
    if t_at.size:
        t_open = opens[t_at]
        plain = padded[t_open + 2] == ord(">")
        preserve = b' xml:space="preserve">'
        spaced = _literal(padded, t_open + 2, preserve)
        if not (plain | spaced).all() or (t_at + 1 >= opens.size).any():
            raise Declined
        inline_owner = opened[t_at]
        if (inline_owner < 0).any() or (np.diff(inline_owner) == 0).any():
            raise Declined  # rich text: several runs in one cell
        if not (kind[inline_owner] == _INLINE).all() or (t_open > cell_close[inline_owner]).any():
            raise Declined
        i_start = np.where(plain, t_open + 3, t_open + 2 + len(preserve))
        i_end = opens[t_at + 1]
        if not ((padded[i_end + 1] == ord("/")) & (padded[i_end + 2] == ord("t"))).all():
            raise Declined
    if (kind[owner] == _INLINE).any():
        raise Declined  # an inline string with a <v>

    holder = np.concatenate([owner, inline_owner])
    begin = np.concatenate([v_start, i_start]).astype(np.int64)
    stop = np.concatenate([v_end, i_end]).astype(np.int64)
    order = np.argsort(holder, kind="stable") if inline_owner.size else None
    if order is not None:
        holder, begin, stop = holder[order], begin[order], stop[order]
    held = kind[holder]
    if ((stop == begin) & (held != _FORMULA_TEXT) & (held != _INLINE)).any():
        raise Declined  # an empty <v></v>: a formula saved without its value
    shared = held == _SHARED
    index = np.full(holder.size, -1, dtype=np.int64)
    if shared.any():
        index[shared] = _whole_numbers(padded, begin[shared], stop[shared])
    others = ~shared
    lengths, body = _bytes(padded, begin[others], stop[others])
    return _Batch(
        rows=rows[holder].astype(np.int32),
        cols=cols[holder].astype(np.int32),
        kind=held,
        style=style[holder].astype(np.int32),
        index=index,
        lengths=lengths,
        body=body,
    )


def _texts(
    rows: np.ndarray,
    cols: np.ndarray,
    kind: np.ndarray,
    style: np.ndarray,
    index: np.ndarray,
    raw: pl.Series,
    strings: pl.Series,
    styles: np.ndarray,
    epoch1904: bool,
) -> tuple[pl.DataFrame, int] | None:
    """The text calamine gives each cell, laid out as the sheet's rectangle."""
    texts = _Texts(kind.size)
    shared = np.flatnonzero(kind == _SHARED)
    if shared.size:
        chosen = index[shared]
        if int(chosen.max()) >= strings.len():
            raise Declined
        texts.add(shared, strings.gather(chosen))
    # the other cells' raw values, in cell order
    others = np.flatnonzero(kind != _SHARED)
    place = np.full(kind.size, -1, dtype=np.int64)
    place[others] = np.arange(others.size)

    def values(cells: np.ndarray) -> pl.Series:
        return raw.gather(place[cells])

    words = np.flatnonzero((kind == _INLINE) | (kind == _FORMULA_TEXT))
    if words.size:
        texts.add(words, _unescaped(values(words)))
    flags = np.flatnonzero(kind == _BOOL)
    if flags.size:
        flag = values(flags)
        if not flag.is_in(["0", "1"]).all():
            raise Declined
        texts.add(flags, pl.Series(np.where((flag == "1").to_numpy(), "true", "false"), dtype=pl.String))
    errors = np.flatnonzero(kind == _ERROR)
    if errors.size:
        shown = values(errors)
        if not shown.is_in(list(EXCEL_ERRORS)).all():
            raise Declined
        texts.add(errors, shown)
    numbers = np.flatnonzero(kind == _NUMBER)
    if numbers.size:
        used = style[numbers]
        if int(used.max()) >= styles.size:
            raise Declined
        style_kind = styles[used]
        if (style_kind == 2).any():
            raise Declined
        plain, dated = numbers[style_kind == 0], numbers[style_kind == 1]
        if plain.size:
            texts.add(plain, _number_texts(values(plain)))
        if dated.size:
            texts.add(dated, _date_texts(values(dated), epoch1904))
    return texts.rectangle(rows, cols)


def _bytes(padded: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lengths of the byte ranges ``starts[i]:ends[i]`` of ``padded`` and their bytes one after another."""
    lengths = ends - starts
    total = int(lengths.sum())
    widest = int(lengths.max()) if lengths.size else 0
    if not total:
        return lengths, np.zeros(0, dtype=np.uint8)
    if widest <= _WINDOW and padded.size >= int(starts.max()) + _WINDOW:
        # short values (numbers, indexes): a row of bytes per value, then only the bytes inside
        block = np.lib.stride_tricks.sliding_window_view(padded, _WINDOW)[starts]
        return lengths, block[np.arange(_WINDOW) < lengths[:, None]]
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    # every byte of every range, in order: range start plus the place within the range
    within = np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1], lengths)
    return lengths, padded[np.repeat(starts, lengths) + within]


def _binary_strings(body: np.ndarray, lengths: np.ndarray) -> pl.Series:
    """Values laid one after another in ``body`` (``lengths`` bytes each) as a String series (UTF-8 checked)."""
    import pyarrow as pa

    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    array = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), lengths.size, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(body))]
    )
    try:
        return pl.Series(array).cast(pl.String)
    except pl.exceptions.InvalidOperationError:
        raise Declined from None  # not UTF-8


def _strings(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pl.Series:
    """The byte ranges ``starts[i]:ends[i]`` of ``data`` as a String series (UTF-8 checked)."""
    lengths, body = _bytes(data, starts.astype(np.int64), ends.astype(np.int64))
    return _binary_strings(body, lengths)


def _whole_numbers(padded: np.ndarray, begin: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """The whole numbers (up to 9 digits) written from ``begin`` to ``stop``."""
    value = np.zeros(begin.size, dtype=np.int64)
    reading = np.ones(begin.size, dtype=bool)
    count = np.zeros(begin.size, dtype=np.int64)
    for k in range(10):
        char = padded[begin + k].astype(np.int64)
        digit = reading & (char >= ord("0")) & (char <= ord("9"))
        value = np.where(digit, value * 10 + char - 48, value)
        count += digit
        reading &= digit
        if not reading.any():
            break
    if (count == 0).any() or (begin + count != stop).any():
        raise Declined
    return value


class _Texts:
    """The texts of a sheet's cells, added kind by kind, and where each cell's text is."""

    def __init__(self, cells: int) -> None:
        self.parts: list[pl.Series] = []
        self.where = np.full(cells, -1, dtype=np.int64)
        self.count = 0

    def add(self, cells: np.ndarray, texts: pl.Series) -> None:
        self.where[cells] = np.arange(self.count, self.count + cells.size)
        self.parts.append(texts)
        self.count += cells.size

    def rectangle(self, rows: np.ndarray, cols: np.ndarray) -> tuple[pl.DataFrame, int] | None:
        """One column per sheet column from the first to the last holding a value, rows 1 to the last."""
        has = self.where >= 0
        if not has.any():
            return None
        # a null after the texts: blank cells pick it
        texts = pl.concat([*self.parts, pl.Series([None], dtype=pl.String)])
        rows, cols, where = rows[has] - 1, cols[has], self.where[has]
        first_col, last_col, height = int(cols.min()), int(cols.max()), int(rows.max()) + 1
        order = np.argsort(cols.astype(np.int16), kind="stable")  # a radix sort for 16-bit numbers
        bounds = np.searchsorted(cols[order], np.arange(first_col, last_col + 2))
        columns = []
        for i in range(last_col - first_col + 1):
            mine = order[bounds[i] : bounds[i + 1]]
            pick = np.full(height, self.count, dtype=np.int64)
            pick[rows[mine]] = where[mine]
            columns.append(texts.gather(pick).alias(f"column_{i}"))
        return pl.DataFrame(columns), first_col


def _number_texts(raw: pl.Series) -> pl.Series:
    """Numbers as calamine writes them: rounded to nine decimals, trailing zeros and exponent dropped."""
    if raw.cast(pl.Float64, strict=False).null_count():
        raise Declined
    plain = raw.str.contains(_PLAIN_NUMBER)
    idx = (~plain).arg_true()
    if not idx.len():
        return raw
    shown = []
    for item in raw.gather(idx).to_list():
        number = float(item)
        if number != number or number in (float("inf"), float("-inf")):
            raise Declined
        shown.append(f"{number:.9f}".rstrip("0").rstrip("."))
    return raw.scatter(idx, pl.Series(shown, dtype=pl.String))


def _date_texts(raw: pl.Series, epoch1904: bool) -> pl.Series:
    """Serial numbers of date-formatted cells as ``YYYY-MM-DD HH:MM:SS`` (whole seconds only)."""
    serial = raw.cast(pl.Float64, strict=False)
    if serial.null_count():
        raise Declined
    low, high = _SERIALS_1904 if epoch1904 else _SERIALS_1900
    numbers = serial.to_numpy()
    if (numbers < low).any() or (numbers >= high).any():
        raise Declined
    days = np.floor(numbers)
    millis = np.round((numbers - days) * _MS_PER_DAY).astype(np.int64)
    if (millis % 1000).any():
        raise Declined  # fractions of a second: calamine's own rounding decides those
    epoch = _EPOCH_1904 if epoch1904 else _EPOCH_1900
    day = pl.Series(days.astype(np.int64) + (epoch - date(1970, 1, 1)).days).cast(pl.Int32).cast(pl.Date)
    shown = day.cast(pl.String) + " 00:00:00"
    timed = np.flatnonzero(millis)
    if timed.size:  # a time of day: the few such cells are written out in full
        stamp = day.gather(timed).cast(pl.Datetime("ms")) + pl.Series(millis[timed]).cast(pl.Duration("ms"))
        shown = shown.scatter(timed, stamp.dt.strftime("%Y-%m-%d %H:%M:%S"))
    return shown
