"""Read uploads: canonical templates (workbook or CSVs), tool exports and mapped layouts.

The public entry points; see DOMAIN.md section 1 for the canonical model and
data/sample/exports/README.md for how each tool export is mapped onto it.
"""

from __future__ import annotations

from kpi_engine.ingest.mapping import ColumnMapping, load_mapping_file
from kpi_engine.ingest.model import FileReport, ParsedUpload, SourceFile
from kpi_engine.ingest.template import template_workbook
from kpi_engine.ingest.upload import detect_source, read_paths, read_upload

__all__ = [
    "ColumnMapping",
    "FileReport",
    "ParsedUpload",
    "SourceFile",
    "detect_source",
    "load_mapping_file",
    "read_paths",
    "read_upload",
    "template_workbook",
]
