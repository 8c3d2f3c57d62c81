"""Every chart downloads as PNG and SVG for a slide deck; tables as CSV and XLSX."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest

from kpi_engine.analysis import analyse
from kpi_engine.store import Store
from ui import export, loaders, specs


@pytest.fixture(scope="module")
def at(sample_db: Path) -> specs.At:
    with Store.open(sample_db) as store:
        latest = store.latest_snapshot_id()
    return (str(sample_db), latest, loaders.settings_key(str(sample_db)))


def chart_specs(at: specs.At) -> dict[str, dict]:
    return {
        "causal chain": specs.causal_chain(at, "M1", "K-CPM"),
        "slip history": specs.slip_history(at, "M1"),
        "slip heatmap": specs.slip_heatmap(at, "program", "value_at_risk"),
        "KPI heatmap": specs.kpi_program_heatmap(at),
        "KPI trajectory": specs.kpi_trajectory(at, "K-CPM"),
        "value at risk": specs.value_at_risk_by(at, "program"),
    }


def test_every_chart_renders_as_png_and_svg(at):
    for name, spec in chart_specs(at).items():
        assert spec is not None, name
        exported = json.dumps({**spec, "width": 1000})
        png = export._png(exported)()
        assert png[:8] == b"\x89PNG\r\n\x1a\n", name
        svg = export._svg(exported)()
        assert svg.lstrip().startswith("<svg"), name


def test_exception_list_downloads_as_csv_and_workbook(sample_db):
    from kpi_engine.output import safe_output

    with Store.open(sample_db) as store:
        exceptions = analyse(store).exceptions
    csv = safe_output.csv_bytes(exceptions).decode("utf-8-sig")
    assert csv.splitlines()[0].startswith("kind,milestone_id")
    book = openpyxl.load_workbook(io.BytesIO(safe_output.xlsx_bytes({"Exceptions": exceptions})), read_only=True)
    assert book.sheetnames == ["Exceptions"]
