"""User column mappings for layouts nothing else recognises."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from kpi_engine.core.errors import InputError
from kpi_engine.ingest import ColumnMapping, load_mapping_file

from .support import accepted, csv_file, problem_lines

MAPPING = ColumnMapping(
    table="milestones",
    columns={
        "milestone_id": "Ref",
        "project_id": "Programme code",
        "name": "Deliverable",
        "owner": "Lead",
        "baseline_finish": "Planned date",
    },
    date_order="dmy",
)
TEXT = (
    "PMO deliverables tracker\n"
    "Ref,Programme code,Deliverable,Lead,Planned date,Forecast,Notes\n"
    "D-1,P-ROUTE,Routing live,Priya Raman,03/04/2026,10/04/2026,on plan\n"
)


def test_round_trip_through_a_dict() -> None:
    assert ColumnMapping.from_dict(MAPPING.to_dict()) == MAPPING
    assert json.loads(json.dumps(MAPPING.to_dict()))["date_order"] == "dmy"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"table": "risks", "columns": {}}, "unknown table 'risks' in the column mapping; tables: objectives, kpis"),
        ({"table": "tasks", "columns": {"due": "Due"}}, "unknown column 'due' for table tasks in the column mapping"),
        ({"table": "tasks", "columns": {"name": " "}}, "the column mapping gives no header for 'name'"),
        ({"table": "tasks", "date_order": "ymd"}, "date order must be dmy or mdy, not 'ymd'"),
        ({"table": "tasks", "colums": {}}, "unknown key(s) colums in the column mapping"),
        ({"columns": {}}, "the column mapping must name its 'table'"),
        ([1, 2], "a column mapping must be a JSON object"),
    ],
)
def test_invalid_mappings(data: object, message: str) -> None:
    with pytest.raises(InputError) as caught:
        ColumnMapping.from_dict(data)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


def test_load_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "tracker.json"
    path.write_text(json.dumps(MAPPING.to_dict()), encoding="utf-8")
    assert load_mapping_file(path) == MAPPING
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="is not valid JSON"):
        load_mapping_file(path)
    with pytest.raises(InputError, match="no such mapping file"):
        load_mapping_file(tmp_path / "missing.json")


def test_mapping_reads_an_unknown_layout_and_still_matches_usual_names() -> None:
    upload = accepted(csv_file("tracker.csv", TEXT), mapping=MAPPING)
    m = upload.tables["milestones"].row(0, named=True)
    assert (m["milestone_id"], m["owner"], m["baseline_finish"], m["forecast_finish"], m["_row"]) == (
        "D-1",
        "Priya Raman",
        date(2026, 4, 3),
        date(2026, 4, 10),
        3,
    )
    assert upload.files[0].source == "mapping"
    assert [str(w) for w in upload.warnings] == [
        "tracker.csv, sheet tracker, row 2, column Notes: column is not part of the milestones table and was not read"
    ]


def test_with_auto_source_the_mapping_only_reads_what_nothing_else_recognises() -> None:
    template = csv_file("milestones.csv", "milestone_id,project_id,name,owner,baseline_finish\nM1,P,A,Ann,2026-01-01\n")
    upload = accepted(template, csv_file("tracker.csv", TEXT), mapping=MAPPING)
    assert upload.tables["milestones"]["milestone_id"].to_list() == ["M1", "D-1"]
    assert [f.source for f in upload.files] == ["template", "mapping"]


def test_a_mapped_header_the_file_lacks_is_named() -> None:
    mapping = ColumnMapping("milestones", {**MAPPING.columns, "owner": "Accountable lead"})
    assert problem_lines(csv_file("tracker.csv", TEXT), source="mapping", mapping=mapping) == [
        "tracker.csv, sheet tracker, row 2, column Accountable lead: the column mapping reads owner from "
        "'Accountable lead', but the file has no such column"
    ]


def test_without_a_date_order_ambiguous_dates_are_refused() -> None:
    mapping = ColumnMapping("milestones", MAPPING.columns)
    lines = problem_lines(csv_file("tracker.csv", TEXT), mapping=mapping)
    assert lines[0].startswith("tracker.csv, sheet tracker, row -, column Planned date: dates such as '03/04/2026'")


def test_a_usual_header_the_mapping_overrides_is_not_read_and_says_so() -> None:
    text = "Ref,Programme code,Deliverable,Lead,Owner,Planned date\nD-1,P,Routing live,Priya Raman,Ann,25/04/2026\n"
    upload = accepted(csv_file("tracker.csv", text), mapping=MAPPING)
    assert upload.tables["milestones"]["owner"].to_list() == ["Priya Raman"]
    assert [str(w) for w in upload.warnings] == [
        "tracker.csv, sheet tracker, row 1, column Owner: column was not read: owner comes from 'Lead'"
    ]
