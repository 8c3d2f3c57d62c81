"""The board workbook, read back with openpyxl: layout, golden fleet figures, safety."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import types
import zipfile
from datetime import date

import openpyxl
import polars as pl
import pytest
from builders import FLEET_AS_OF as AS_OF
from builders import FLEET_DIR, fleet_portfolio

from kpi_engine.core.errors import InputError, OutputError
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.rag import RAG_COLOURS
from kpi_engine.engine.compute import EngineResult, compute
from kpi_engine.engine.exception_list import EXCEPTION_COLUMNS
from kpi_engine.output.report import chart_specs, render_charts, report_bytes, write_report
from kpi_engine.output.safe_output import FORMULA_TRIGGERS

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def fleet_tables() -> dict[str, pl.DataFrame]:
    return fleet_portfolio().tables()


@pytest.fixture(scope="module")
def fleet_result() -> EngineResult:
    return compute(fleet_portfolio())


@pytest.fixture(scope="module")
def board(fleet_result, tmp_path_factory) -> openpyxl.Workbook:
    path = write_report(fleet_result, tmp_path_factory.mktemp("report") / "board.xlsx")
    return openpyxl.load_workbook(path)


def rows(sheet) -> list[tuple]:
    return list(sheet.iter_rows(values_only=True))


def figure(summary, label: str):
    """The value beside ``label`` in the Summary's first two columns."""
    for label_cell, value_cell in summary.iter_rows(min_col=1, max_col=2):
        if label_cell.value == label:
            return value_cell
    raise AssertionError(f"no '{label}' on the Summary sheet")


def column(sheet, header: str, header_row: int = 1) -> int:
    """1-based column index of ``header``."""
    headers = [c.value for c in sheet[header_row]]
    return headers.index(header) + 1


def fill(cell) -> str | None:
    return cell.fill.fgColor.rgb if cell.fill.fill_type == "solid" else None


def rgb(status: str) -> str:
    return "FF" + RAG_COLOURS[status].lstrip("#")


def test_sheets_in_board_order(board) -> None:
    assert board.sheetnames == ["Summary", "Exceptions", "KPIs", "Governance", "Escalations"]


# --- Summary ------------------------------------------------------------------------------------


def test_summary_title_names_the_snapshot(board) -> None:
    assert board["Summary"]["A1"].value == "Strategy execution report: snapshot as of 2026-06-15"


def test_summary_golden_fleet_figures(board) -> None:
    summary = board["Summary"]
    total = figure(summary, "Total value at risk")
    assert total.value == pytest.approx(460_000, abs=1)
    assert total.number_format == '#,##0 "USD"'
    assert figure(summary, "KPIs at risk").value == 2
    assert figure(summary, "Watermelons (reported better than computed)").value == 2
    assert figure(summary, "Exceptions").value == 5


def test_summary_counts_exceptions_by_escalation_level(board) -> None:
    summary = board["Summary"]
    by_level = {
        level: figure(summary, label).value
        for level, label in enumerate(
            ["0 - no escalation", "1 - project owner", "2 - KPI owner (or sponsor)", "3 - objective owner (or sponsor)"]
        )
    }
    assert by_level == {0: 0, 1: 2, 2: 2, 3: 1}


def test_summary_lists_kpis_at_risk(board) -> None:
    names = [row[0] for row in rows(board["Summary"]) if row[0]]
    assert "Cost per mile (K-CPM)" in names
    assert "Idle hours per truck per week (K-IDLE)" in names
    assert "On-time delivery rate (K-OTD)" not in names


def test_summary_top_exceptions_start_with_m1_and_say_why(board) -> None:
    summary = board["Summary"]
    header = next(r for r in summary.iter_rows() if r[0].value == "Subject")
    first = summary[header[0].row + 1]
    assert first[0].value == "Routing software go-live (M1)"
    assert first[6].value == pytest.approx(400_000, abs=1)
    assert fill(first[2]) == rgb("Red")
    assert first[7].value.startswith("Routing software go-live (Fleet routing optimization, Priya Raman)")
    assert first[7].alignment.wrap_text
    listed = [summary.cell(header[0].row + i, 1).value for i in range(1, 7)]
    assert listed[:5] == [
        "Routing software go-live (M1)",
        "Driver app rollout (M3)",
        "Fuel card renegotiation (M5)",
        "Office party planning (M6)",
        "KPI Idle hours per truck per week (K-IDLE)",
    ]
    assert listed[5] is None


# --- Exceptions ---------------------------------------------------------------------------------


def test_exceptions_sheet_is_a_filterable_frozen_table(board) -> None:
    sheet = board["Exceptions"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:X6"
    assert sheet.max_row == 6
    assert [c.value for c in sheet[1]][:3] == ["Kind", "Milestone ID", "Milestone"]


def test_exceptions_rag_fills_and_formats(board) -> None:
    sheet = board["Exceptions"]
    m1 = 2  # the top exception
    assert sheet.cell(m1, column(sheet, "Milestone ID")).value == "M1"
    computed = sheet.cell(m1, column(sheet, "Computed status"))
    reported = sheet.cell(m1, column(sheet, "Reported status"))
    assert (computed.value, fill(computed)) == ("Red", rgb("Red"))
    assert (reported.value, fill(reported)) == ("Green", rgb("Green"))
    assert computed.font.color.rgb == "FFFFFFFF"

    value = sheet.cell(m1, column(sheet, "Value at risk"))
    assert value.value == pytest.approx(400_000, abs=1)
    assert value.number_format == '#,##0 "USD"'
    finish = sheet.cell(m1, column(sheet, "Computed finish"))
    assert finish.is_date and finish.value.date() == date(2026, 9, 21)
    assert finish.number_format == "yyyy-mm-dd"
    assert sheet.cell(m1, column(sheet, "KPI projected")).number_format == "#,##0.0###"

    why = column(sheet, "Why")
    assert sheet.cell(m1, why).alignment.wrap_text
    assert sheet.column_dimensions[openpyxl.utils.get_column_letter(why)].width >= 80


# --- KPIs, Governance, Escalations --------------------------------------------------------------


def test_kpis_sheet_fills_misses_red(board) -> None:
    sheet = board["KPIs"]
    misses = column(sheet, "Misses target")
    by_kpi = {sheet.cell(r, 1).value: sheet.cell(r, misses) for r in range(2, sheet.max_row + 1)}
    assert set(by_kpi) == {"K-CPM", "K-OTD", "K-IDLE"}
    assert fill(by_kpi["K-CPM"]) == fill(by_kpi["K-IDLE"]) == rgb("Red")
    assert by_kpi["K-OTD"].value is False and fill(by_kpi["K-OTD"]) is None
    projected = {
        sheet.cell(r, 1).value: sheet.cell(r, column(sheet, "Projected")).value for r in range(2, sheet.max_row + 1)
    }
    assert projected == pytest.approx({"K-CPM": 2.0179, "K-OTD": 95.0, "K-IDLE": 6.0}, abs=1e-4)


def test_governance_sheet_says_who_should_fix_each_finding(board) -> None:
    sheet = board["Governance"]
    who = column(sheet, "Who should fix")
    found = {
        (sheet.cell(r, 1).value, sheet.cell(r, 2).value or sheet.cell(r, 6).value, sheet.cell(r, who).value)
        for r in range(2, sheet.max_row + 1)
    }
    assert found == {
        ("several owners", "M5", "Ann Lee"),
        ("not tied to any KPI", "M6", "Jo Park"),
        ("no work drives this KPI", "K-IDLE", "Sam Okafor"),
    }


def test_escalations_are_grouped_by_the_person_to_notify(board) -> None:
    sheet = board["Escalations"]
    assert sheet.freeze_panes == "A2"
    assert [r[0] for r in rows(sheet)][1:] == [
        "Dana Whitfield: 1 exception, 400,000 USD at risk, highest level 3",
        3,
        "Marco Bellini: 1 exception, 60,000 USD at risk, highest level 2",
        2,
    ]
    milestone = column(sheet, "Milestone ID")
    assert sheet.cell(3, milestone).value == "M1"
    assert sheet.cell(5, milestone).value == "M3"
    assert sheet["A2"].font.bold
    assert sheet.row_dimensions[3].outline_level == 1
    assert sheet.row_dimensions[2].outline_level == 0


# --- Safety -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_board(tmp_path_factory) -> openpyxl.Workbook:
    tables = fleet_tables()
    tables["milestones"] = tables["milestones"].with_columns(
        pl.when(pl.col("milestone_id") == "M1")
        .then(pl.lit('=HYPERLINK("http://evil","M1")'))
        .otherwise(pl.col("name"))
        .alias("name"),
        pl.when(pl.col("milestone_id") == "M3")
        .then(pl.lit("@cmd\x07 owner"))
        .otherwise(pl.col("owner"))
        .alias("owner"),
    )
    tables["kpis"] = tables["kpis"].with_columns(
        pl.when(pl.col("kpi_id") == "K-CPM").then(pl.lit("-Cost per mile")).otherwise(pl.col("name")).alias("name")
    )
    result = compute(Portfolio.from_tables(tables, AS_OF))
    return openpyxl.load_workbook(write_report(result, tmp_path_factory.mktemp("hostile") / "board.xlsx"))


def test_no_cell_in_the_report_can_run_as_a_formula(hostile_board) -> None:
    texts = []
    for sheet in hostile_board:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                    assert not cell.value.startswith(FORMULA_TRIGGERS), f"{sheet.title}!{cell.coordinate}"
                    assert "\x07" not in cell.value
    assert '\'=HYPERLINK("http://evil","M1")' in texts
    assert "'@cmd owner" in texts
    assert "'-Cost per mile" in texts


# --- Pictures -----------------------------------------------------------------------------------


def pictures(data: bytes) -> int:
    """How many pictures the workbook's drawings place (identical images share one file)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(
            archive.read(name).count(b"<xdr:pic>")
            for name in archive.namelist()
            if name.startswith("xl/drawings/drawing")
        )


def summary_texts(data: bytes) -> list[str]:
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Summary"]
    return [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]


def test_report_works_without_pictures(fleet_result) -> None:
    data = report_bytes(fleet_result)
    assert pictures(data) == 0
    assert "Charts" not in summary_texts(data)


def test_pictures_are_embedded_on_the_summary(fleet_result) -> None:
    data = report_bytes(fleet_result, charts={"Value at risk by project": PNG, "KPI projected vs target": PNG})
    assert pictures(data) == 2
    texts = summary_texts(data)
    assert "Value at risk by project" in texts and "KPI projected vs target" in texts


def test_a_broken_picture_is_left_out_and_said_so(fleet_result) -> None:
    data = report_bytes(fleet_result, charts={"Broken": b"not a picture at all" * 4})
    assert pictures(data) == 0
    assert "The picture 'Broken' is not a readable image and was left out." in summary_texts(data)


def test_failed_rendering_is_reported_on_the_summary(fleet_result, monkeypatch) -> None:
    def refuse(spec, scale=None):
        raise RuntimeError("no renderer")

    monkeypatch.setitem(sys.modules, "vl_convert", types.SimpleNamespace(vegalite_to_png=refuse))
    charts, note = render_charts(fleet_result)
    assert charts == {}
    assert note == "Charts are left out: drawing 'Value at risk by project' failed (no renderer)."
    data = report_bytes(fleet_result, charts, note=note)
    assert pictures(data) == 0
    assert note in summary_texts(data)


def test_render_charts_draws_pngs_from_plain_vega_lite_dicts(fleet_result) -> None:
    specs = chart_specs(fleet_result)
    assert list(specs) == ["Value at risk by project", "KPI projected vs target"]
    assert specs["Value at risk by project"]["data"]["values"] == [
        {"project": "Fleet routing optimization", "value_at_risk": pytest.approx(400_000, abs=1)},
        {"project": "Driver mobile app", "value_at_risk": pytest.approx(60_000, abs=1)},
    ]
    charts, note = render_charts(fleet_result, scale=1)
    assert note is None
    assert all(png.startswith(b"\x89PNG") for png in charts.values())
    assert pictures(report_bytes(fleet_result, charts)) == 2


# --- Files and history --------------------------------------------------------------------------


def test_write_report_wants_an_xlsx_name(fleet_result, tmp_path) -> None:
    with pytest.raises(InputError, match=r"give a file name ending in .xlsx, not 'board.csv'"):
        write_report(fleet_result, tmp_path / "board.csv")


def test_write_report_into_a_missing_folder_fails_clearly(fleet_result, tmp_path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        write_report(fleet_result, tmp_path / "nowhere" / "board.xlsx")
    assert not (tmp_path / "nowhere").exists()


def test_write_report_replaces_an_old_report_whole(fleet_result, tmp_path) -> None:
    path = tmp_path / "board.xlsx"
    path.write_bytes(b"old")
    assert write_report(fleet_result, str(path)) == path
    assert openpyxl.load_workbook(path).sheetnames[0] == "Summary"
    assert [p.name for p in tmp_path.iterdir()] == ["board.xlsx"]


def test_history_adds_a_sheet_and_the_moved_count(fleet_result) -> None:
    history = pl.DataFrame(
        {
            "snapshot_id": [1, 2] * 3,
            "as_of": [date(2026, 6, 8), AS_OF] * 3,
            "milestone_id": ["M1", "M1", "M3", "M3", "M4", "M4"],
            "project_id": ["P-ROUTE", "P-ROUTE", "P-DRV", "P-DRV", "P-X", "P-X"],
            "baseline_finish": [date(2026, 8, 31)] * 2 + [date(2026, 9, 30)] * 2 + [date(2026, 5, 31)] * 2,
            "computed_finish": [
                date(2026, 9, 7),
                date(2026, 9, 21),
                date(2026, 10, 21),
                date(2026, 10, 21),
                date(2026, 6, 1),
                date(2026, 6, 3),
            ],
            "slip_days": [7, 21, 21, 21, 1, 3],
            "moved_days": [None, 14, None, 0, None, 2],
        }
    )
    workbook = openpyxl.load_workbook(io.BytesIO(report_bytes(fleet_result, history=history)))
    assert workbook.sheetnames[-1] == "Slip history"
    assert figure(workbook["Summary"], "Milestones that moved later since the previous snapshot").value == 2
    # The sheet keeps the milestones of the exception list (M1, M3), not M4.
    assert [r[2] for r in rows(workbook["Slip history"])][1:] == ["M1", "M1", "M3", "M3"]


def test_report_of_an_empty_portfolio_says_there_is_nothing() -> None:
    result = compute(Portfolio.from_tables({}, AS_OF))
    workbook = openpyxl.load_workbook(io.BytesIO(report_bytes(result)))
    assert figure(workbook["Summary"], "Total value at risk").value == 0
    assert workbook["Exceptions"]["A2"].value == "No exceptions in this snapshot."
    assert workbook["Escalations"]["A2"].value == "No milestone needs escalating in this snapshot."


# --- Command line -------------------------------------------------------------------------------


@pytest.fixture
def cli_on_fleet(fleet_result, monkeypatch):
    """The CLI module with the latest snapshot being the fleet example (an in-memory database)."""
    from kpi_engine import analysis, cli
    from kpi_engine.ingest import read_paths, read_upload
    from kpi_engine.store import Store

    store = Store.open(":memory:")
    store.ingest(read_upload(read_paths(sorted(FLEET_DIR.glob("*.csv")))), AS_OF)
    monkeypatch.setattr(cli.Store, "open", staticmethod(lambda path=None, **_: contextlib.nullcontext(store)))
    monkeypatch.setattr(analysis, "analyse", lambda store, *a, **k: fleet_result)
    yield cli
    store.close()


def test_cli_report_writes_the_workbook_and_says_what_is_in_it(cli_on_fleet, tmp_path, capsys) -> None:
    out = tmp_path / "board.xlsx"
    assert cli_on_fleet.main(["report", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"Wrote {out}: 5 exceptions, value at risk 460,000 USD\n"
    workbook = openpyxl.load_workbook(out)
    assert workbook.sheetnames == ["Summary", "Exceptions", "KPIs", "Governance", "Escalations", "Decisions"]


def test_cli_report_without_a_renderer_warns_and_still_writes(cli_on_fleet, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # "import vl_convert" now fails
    out = tmp_path / "board.xlsx"
    assert cli_on_fleet.main(["report", "--out", str(out)]) == 0
    note = "Charts are left out: the vl-convert-python package is not installed."
    assert capsys.readouterr().err == f"warning: {note}\n"
    assert note in summary_texts(out.read_bytes())


def test_cli_report_wants_an_xlsx_or_pptx_name(cli_on_fleet, capsys) -> None:
    assert cli_on_fleet.main(["report", "--out", "board.csv"]) == 2
    assert capsys.readouterr().err == (
        "--out must name an Excel workbook ending in .xlsx or a deck ending in .pptx, e.g. board.xlsx; "
        "got 'board.csv'\n"
    )


def test_cli_exceptions_json_has_exactly_the_contract_fields(cli_on_fleet, capsys) -> None:
    assert cli_on_fleet.main(["exceptions", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    loop_fields = ["decision", "decision_by", "decision_due", "first_notified"]
    assert [list(row) for row in listed] == [[*EXCEPTION_COLUMNS, *loop_fields]] * 5
    m1, k_idle = listed[0], listed[4]
    assert (m1["milestone_id"], m1["kpi_id"], m1["computed_finish"], m1["watermelon"]) == (
        "M1",
        "K-CPM",
        "2026-09-21",
        True,
    )
    assert m1["value_at_risk"] == pytest.approx(400_000, abs=1)
    assert (k_idle["kind"], k_idle["milestone_id"], k_idle["slip_days"]) == ("governance", None, None)


def test_cli_exceptions_csv_and_table(cli_on_fleet, capsysbinary) -> None:
    assert cli_on_fleet.main(["exceptions", "--format", "csv"]) == 0
    data = capsysbinary.readouterr().out
    assert data.startswith(b"\xef\xbb\xbfkind,milestone_id,")
    assert len(data.decode("utf-8-sig").splitlines()) == 6
    assert cli_on_fleet.main(["exceptions"]) == 0
    table = capsysbinary.readouterr().out.decode().splitlines()
    assert table[0].split() == [
        "kind",
        "project_id",
        "milestone_id",
        "kpi_id",
        "finding",
        "computed_status",
        "slip_days",
        "value_at_risk",
        "escalation_level",
        "escalate_to",
        "decision",
    ]
    assert table[2].split() == ["milestone", "P-ROUTE", "M1", "K-CPM", "Red", "21", "400,000", "3", "Dana", "Whitfield"]


def test_cli_kpis_json(cli_on_fleet, capsys) -> None:
    assert cli_on_fleet.main(["kpis", "--format", "json"]) == 0
    kpis = {k["kpi_id"]: k for k in json.loads(capsys.readouterr().out)}
    assert list(kpis["K-CPM"]) == [
        "kpi_id",
        "name",
        "owner",
        "unit",
        "direction",
        "projected",
        "target",
        "shortfall",
        "misses",
    ]
    assert kpis["K-CPM"]["projected"] == pytest.approx(2.0179, abs=1e-4)
    assert {k: v["misses"] for k, v in kpis.items()} == {"K-CPM": True, "K-OTD": False, "K-IDLE": True}
