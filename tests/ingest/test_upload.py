"""Whole uploads: the worked example in both forms, paths, file reports, several files together."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from kpi_engine.core.errors import InputError
from kpi_engine.ingest import SourceFile, detect_source, read_paths, read_upload

from .support import SAMPLE_EXPORTS, accepted, csv_file, problem_lines

FLEET_ROWS = {
    "objectives": 2,
    "kpis": 3,
    "kpi_actuals": 3,
    "projects": 6,
    "milestones": 6,
    "tasks": 3,
    "dependencies": 1,
    "links": 5,
    "people": 11,
}


def test_worked_example_csvs_and_workbook_give_identical_tables(fleet_dir: Path) -> None:
    from_csv = read_upload(read_paths(sorted(fleet_dir.glob("*.csv"))))
    from_xlsx = read_upload(read_paths([fleet_dir / "fleet.xlsx"]))
    assert {t: f.height for t, f in from_csv.tables.items()} == FLEET_ROWS
    assert from_csv.tables.keys() == from_xlsx.tables.keys()
    for table in from_csv.tables:
        assert_frame_equal(
            from_csv.tables[table].drop("_file", "_sheet", "_row"),
            from_xlsx.tables[table].drop("_file", "_sheet", "_row"),
        )
    assert from_csv.warnings == [] and from_xlsx.warnings == []


def test_worked_example_values(fleet_dir: Path) -> None:
    tables = read_upload(read_paths([fleet_dir / "fleet.xlsx"])).tables
    m1 = tables["milestones"].row(0, named=True)
    assert (m1["milestone_id"], m1["baseline_finish"], m1["forecast_finish"], m1["reported_status"]) == (
        "M1",
        date(2026, 8, 31),
        date(2026, 9, 7),
        "Green",
    )
    assert tables["milestones"]["reported_status"].to_list() == [
        "Green",
        "Complete",
        "Green",
        "Complete",
        "Green",
        "Green",
    ]
    assert tables["links"].row(0, named=True)["value_per_week"] == 133333.33
    assert tables["dependencies"].select("predecessor_id", "successor_id", "lag_days").rows() == [("M1", "M3", 7)]
    assert tables["kpis"]["direction"].to_list() == ["lower_is_better", "higher_is_better", "lower_is_better"]
    assert tables["milestones"]["_sheet"][0] == "milestones" and tables["milestones"]["_row"][0] == 2


def test_the_fleet_folder_holds_every_row_twice(fleet_dir: Path) -> None:
    lines = problem_lines(*read_paths([fleet_dir]))
    assert len(lines) == sum(FLEET_ROWS.values())
    assert (
        "milestones.csv, sheet milestones, row 2, column milestone_id: duplicate milestone_id 'M1': already in "
        "fleet.xlsx, sheet milestones, row 2" in lines
    )


def test_file_reports(fleet_dir: Path) -> None:
    upload = read_upload(read_paths([fleet_dir / "milestones.csv"]))
    (report,) = upload.files
    data = (fleet_dir / "milestones.csv").read_bytes()
    assert (report.name, report.size, report.source, report.tables) == (
        "milestones.csv",
        len(data),
        "template",
        {"milestones": 6},
    )
    assert report.sha256 == SourceFile("x", data).sha256 and len(report.sha256) == 64


def test_read_paths_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text("x")
    (tmp_path / "a.XLSX").write_bytes(b"y")
    (tmp_path / "~$a.xlsx").write_bytes(b"lock")
    (tmp_path / "notes.md").write_text("z")
    (tmp_path / "sub").mkdir()
    files = read_paths([tmp_path, tmp_path / "notes.md"])
    assert [(f.name, f.data) for f in files] == [("a.XLSX", b"y"), ("b.csv", b"x"), ("notes.md", b"z")]


def test_read_paths_unknown_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=f"no such file or folder: {tmp_path / 'nope.csv'}"):
        read_paths([tmp_path / "nope.csv"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no CSV or Excel files"):
        read_paths([tmp_path / "empty"])


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("jira_routing.csv", "jira"),
        ("msproject_driver_app.csv", "msproject"),
        ("smartsheet_warehouse.csv", "smartsheet"),
        ("asana_procurement.csv", "asana"),
    ],
)
def test_detect_source_of_sample_exports(name: str, source: str) -> None:
    assert detect_source(read_paths([SAMPLE_EXPORTS / name])[0]) == source


def test_detect_source_template_and_unknown() -> None:
    assert detect_source(csv_file("milestones.csv", "milestone_id,name\n")) == "template"
    assert (
        detect_source(csv_file("export.csv", "task_id,milestone_id,name,forecast_finish\nT1,M1,x,2026-01-01\n"))
        == "template"
    )
    assert detect_source(csv_file("export.csv", "foo,bar\n1,2\n")) == "unknown"


def test_a_file_not_named_after_a_table_is_recognised_by_its_headers() -> None:
    upload = accepted(csv_file("export.csv", "Task ID,Milestone,Task Name,Due Date\nT1,M1,Build,2026-01-02\n"))
    assert upload.tables["tasks"]["forecast_finish"].to_list() == [date(2026, 1, 2)]


def test_an_unrecognised_file_lists_the_accepted_layouts() -> None:
    (line,) = problem_lines(csv_file("export.csv", "foo,bar\n1,2\n"))
    assert line == (
        "export.csv, sheet export, row -, column -: the headers match no layout this program reads; it accepts the "
        "canonical template (a workbook with one sheet per table, or one CSV per table named objectives.csv, "
        "kpis.csv, kpi_actuals.csv, projects.csv, milestones.csv, tasks.csv, dependencies.csv, links.csv, people.csv, mitigations.csv), an "
        "export from Jira, MS Project, Smartsheet or Asana (CSV or Excel), or a file read with a column mapping"
    )


def test_rows_of_one_table_from_several_files_are_concatenated() -> None:
    upload = accepted(
        csv_file("milestones.csv", "milestone_id,project_id,name,owner,baseline_finish\nM1,P,A,Ann,2026-01-01\n"),
        csv_file("export.csv", "Milestone ID,Project ID,Name,Owner,Due Date\nM2,P,B,Bob,2026-02-01\n"),
    )
    milestones = upload.tables["milestones"]
    assert milestones.select("milestone_id", "_file", "_row").rows() == [
        ("M1", "milestones.csv", 2),
        ("M2", "export.csv", 2),
    ]


def test_bad_arguments() -> None:
    with pytest.raises(InputError, match="no files to read"):
        read_upload([])
    with pytest.raises(InputError, match="unknown source 'excel'"):
        read_upload([csv_file("a.csv", "x")], source="excel")
    with pytest.raises(InputError, match="source 'mapping' needs a column mapping"):
        read_upload([csv_file("a.csv", "x")], source="mapping")


def test_two_files_of_one_name_are_refused() -> None:
    text = "milestone_id,project_id,name,owner,baseline_finish\nM1,P,A,Ann,2026-01-01\n"
    lines = problem_lines(csv_file("milestones.csv", text), csv_file("milestones.csv", text.replace("M1", "M2")))
    assert lines == ["milestones.csv, sheet -, row -, column -: two files of the upload have this name; rename one"]
