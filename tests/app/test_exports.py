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


def test_csv_export_rounds_money_and_kpi_values_and_uses_the_page_words():
    """Regression: exports carried ``399999.98999999993`` and ``-0.0`` under raw column names."""
    from datetime import date

    import polars as pl

    from ui import format as fmt

    rows = pl.DataFrame(
        {
            "milestone_id": ["M1"],
            "value_at_risk": [399999.98999999993],
            "kpi_impact": [-0.0],
            "kpi_projected": [2.01794999],
            "percent_complete": [33.333333333333336],
        }
    )
    files = export.table_files(rows, "exceptions", fmt.columns("USD"), as_of=date(2026, 6, 15), currency="USD")
    assert list(files) == ["exceptions-2026-06-15.csv", "exceptions-2026-06-15.xlsx"]
    csv = files["exceptions-2026-06-15.csv"]().decode("utf-8-sig").splitlines()
    assert csv[0] == "Milestone,Value at risk,KPI impact,KPI projected,Done"
    assert csv[1] == "M1,399999.99,0.0,2.018,33.333333"
    book = openpyxl.load_workbook(io.BytesIO(files["exceptions-2026-06-15.xlsx"]()), read_only=True)
    sheet = book.worksheets[0]
    header, values = list(sheet.iter_rows(values_only=True))[:2]
    assert header[:3] == ("Milestone", "Value at risk", "KPI impact")
    assert values[1] == 399999.99 and values[2] == 0


def test_heatmap_lists_download_for_every_listed_set(sample_db, open_app):
    """Regression: the heatmap's listed rows downloaded only when there were more than the table shows."""
    at = open_app(sample_db, "pages/heatmap.py")
    keys = {b.key for b in at.get("download_button")}
    assert {"heat_slip_dl_csv", "heat_slip_dl_xlsx", "heat_kpi_dl_csv", "heat_kpi_dl_xlsx"} <= keys
    assert any("Click a row of the table to open its drill-down" in c.value for c in at.caption)
