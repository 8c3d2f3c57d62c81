"""One adapter per tool export: each maps blocks (header + rows) onto canonical table parts."""

from __future__ import annotations

from collections.abc import Callable

from kpi_engine.ingest.model import Block, Outcome
from kpi_engine.ingest.tools import asana, jira, msproject, smartsheet

#: tool name -> adapter taking every block of the upload recognised as that tool.
ADAPTERS: dict[str, Callable[[list[Block]], Outcome]] = {
    "jira": jira.adapt,
    "msproject": msproject.adapt,
    "smartsheet": smartsheet.adapt,
    "asana": asana.adapt,
}
