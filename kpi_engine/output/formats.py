"""What the headless commands print: JSON documents, aligned plain-text tables and CSV.

JSON follows the CLI contract (CLI.md): dates as ``YYYY-MM-DD``, date-times in ISO 8601,
numbers as numbers, booleans as booleans, missing values (None, NaN, infinities) as null.
CSV comes from :mod:`kpi_engine.output.safe_output` (UTF-8 with a byte-order mark, every text cell
neutralised against formulas), so the CLI and the dashboard's downloads write the same bytes.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import IO, Any, Literal

import polars as pl

from kpi_engine.output.safe_output import csv_bytes

Format = Literal["table", "csv", "json"]


def json_ready(value: Any) -> Any:
    """Return ``value`` made of JSON types only, following the CLI contract.

    Frames become lists of row objects; dataclasses and mappings become objects; dates
    become ``YYYY-MM-DD`` text and date-times ISO text; NaN and infinities become None.

    Parameters
    ----------
    value
        A frame, series, dataclass, mapping, sequence or scalar (nested freely).
    """
    if isinstance(value, pl.DataFrame):
        return [json_ready(row) for row in value.to_dicts()]
    if isinstance(value, pl.Series):
        return [json_ready(item) for item in value.to_list()]
    if is_dataclass(value) and not isinstance(value, type):
        return json_ready(asdict(value))
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_ready(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return json_ready(float(value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Enum):
        return json_ready(value.value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write a value of type {type(value).__name__} as JSON")


def to_json(value: Any, *, indent: int | None = 2) -> str:
    """Return ``value`` as one JSON document (see :func:`json_ready`)."""
    return json.dumps(json_ready(value), indent=indent, ensure_ascii=False, allow_nan=False)


def format_cell(value: Any) -> str:
    """Return one value as a person reads it in a plain-text table.

    Blank for missing values; dates ``YYYY-MM-DD``; times to the minute; numbers with
    thousands separators and at most four decimals (2.0179, 400,000); yes / no; lists
    joined with ``, ``; objects as ``key value`` pairs.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        text = f"{value:,.4f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {format_cell(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(format_cell(item) for item in value)
    return str(value)


def render_table(frame: pl.DataFrame, *, empty: str = "(no rows)") -> str:
    """Return ``frame`` as an aligned plain-text table: header, rule, one line per row.

    Numbers are right-aligned, everything else left-aligned; line breaks inside a cell
    are shown as spaces so every row stays on one line.

    Parameters
    ----------
    frame
        The rows to show.
    empty
        What to print when there are no rows.
    """
    if frame.height == 0:
        return empty
    numeric = [dtype.is_numeric() for dtype in frame.dtypes]
    columns = [
        [format_cell(value).replace("\r", " ").replace("\n", " ") for value in frame[name].to_list()]
        for name in frame.columns
    ]
    widths = [
        max(len(name), *(len(cell) for cell in cells)) for name, cells in zip(frame.columns, columns, strict=False)
    ]

    def line(cells: list[str]) -> str:
        padded = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=False)
        ]
        return "  ".join(padded).rstrip()

    lines = [line(list(frame.columns)), line(["-" * width for width in widths])]
    lines += [line(list(row)) for row in zip(*columns, strict=False)]
    return "\n".join(lines)


def render(frame: pl.DataFrame, fmt: Format) -> str:
    """Return ``frame`` as text in a CLI output format: ``table``, ``json`` or ``csv``.

    ``csv`` is UTF-8 text with a leading byte-order mark (see :func:`write_output`).
    """
    if fmt == "json":
        return to_json(frame)
    if fmt == "csv":
        return csv_bytes(frame).decode("utf-8")
    return render_table(frame)


def write_output(frame: pl.DataFrame, fmt: Format, stream: IO[str] | None = None) -> None:
    """Print ``frame`` in a CLI output format on ``stream`` (default: standard output).

    CSV goes out as the exact bytes of :func:`kpi_engine.output.safe_output.csv_bytes` (BOM,
    CRLF) when the stream has a byte buffer, so redirecting to a file gives Excel a
    clean file.
    """
    stream = stream or sys.stdout
    if fmt == "csv" and hasattr(stream, "buffer"):
        stream.flush()
        stream.buffer.write(csv_bytes(frame))
        stream.buffer.flush()
        return
    stream.write(render(frame, fmt))
    stream.write("\n")
