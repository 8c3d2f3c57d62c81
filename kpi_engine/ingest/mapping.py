"""User-defined column mappings: read any other layout onto one canonical table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kpi_engine.core.errors import InputError, Problem
from kpi_engine.core.schema import TABLES, required_columns
from kpi_engine.ingest.dates import ORDERS
from kpi_engine.ingest.detect import find_header, make_block
from kpi_engine.ingest.headers import normalise_header
from kpi_engine.ingest.model import Outcome, Sheet
from kpi_engine.ingest.template import template_part


@dataclass(frozen=True)
class ColumnMapping:
    """How the headers of a file the engine does not know map onto one canonical table.

    Attributes
    ----------
    table
        The canonical table the file's rows become (``milestones``, ``tasks``, ...).
    columns
        canonical column -> header in the file (matched ignoring case, spaces and
        punctuation).  Canonical columns left out are still matched by their usual names.
    date_order
        'dmy' or 'mdy' for numeric dates such as 03/04/2026, or None to decide from the values.
    """

    table: str
    columns: dict[str, str] = field(default_factory=dict)
    date_order: str | None = None

    def __post_init__(self) -> None:
        if self.table not in TABLES:
            raise InputError(f"unknown table '{self.table}' in the column mapping; tables: {', '.join(TABLES)}")
        for column, header in self.columns.items():
            if column not in TABLES[self.table]:
                raise InputError(
                    f"unknown column '{column}' for table {self.table} in the column mapping; "
                    f"columns: {', '.join(TABLES[self.table])}"
                )
            if not isinstance(header, str) or not header.strip():
                raise InputError(f"the column mapping gives no header for '{column}'")
        if self.date_order not in (None, *ORDERS):
            raise InputError(f"date order must be dmy or mdy, not '{self.date_order}'")

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the form a saved profile and ``--mapping FILE`` use)."""
        return {"table": self.table, "columns": dict(self.columns), "date_order": self.date_order}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ColumnMapping:
        """Build a mapping from its dict form, rejecting unknown keys, tables and columns."""
        if not isinstance(data, dict):
            raise InputError("a column mapping must be a JSON object with 'table' and 'columns'")
        unknown = set(data) - {"table", "columns", "date_order"}
        if unknown:
            raise InputError(
                f"unknown key(s) {', '.join(sorted(unknown))} in the column mapping; keys: table, columns, date_order"
            )
        table, columns = data.get("table"), data.get("columns", {})
        if not isinstance(table, str):
            raise InputError("the column mapping must name its 'table'")
        if not isinstance(columns, dict):
            raise InputError("'columns' of the column mapping must map canonical columns to headers")
        order = data.get("date_order")
        if order is not None and not isinstance(order, str):
            raise InputError(f"date order must be dmy or mdy, not '{order}'")
        return cls(table=table, columns={str(k): v for k, v in columns.items()}, date_order=order)


def load_mapping_file(path: str | Path) -> ColumnMapping:
    """Read a column mapping from a JSON file (``--mapping FILE``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError(f"no such mapping file: {path}") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path} is not valid JSON: {err.msg} (line {err.lineno})") from None
    return ColumnMapping.from_dict(data)


def mapping_part(sheet: Sheet, mapping: ColumnMapping) -> Outcome:
    """Read a sheet with a column mapping.

    The header row is the first of the top rows naming the most mapped headers; a mapped
    header the sheet lacks is a problem naming it, as is a missing required column.
    """
    wanted = list(mapping.columns.values()) or required_columns(mapping.table)
    block, problems = make_block(sheet, find_header(sheet, wanted))
    outcome = Outcome(problems=problems)
    found = {normalise_header(h): f"c{i}" for i, h in reversed(list(enumerate(block.headers))) if h}
    mapped: dict[str, str] = {}
    for column, header in mapping.columns.items():
        ci = found.get(normalise_header(header))
        if ci is None:
            outcome.problems.append(
                Problem(
                    sheet.file,
                    sheet.name,
                    block.header_row,
                    header,
                    f"the column mapping reads {column} from '{header}', but the file has no such column",
                )
            )
        else:
            mapped[column] = ci
    if len(mapped) == len(mapping.columns):
        outcome.extend(
            template_part(block, mapping.table, source="mapping", mapped=mapped, date_order=mapping.date_order)
        )
    return outcome
