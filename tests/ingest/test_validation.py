"""Every rejection of a canonical upload, with the exact line a user reads."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kpi_engine.core.errors import UploadRejected
from kpi_engine.core.schema import schema_of
from kpi_engine.ingest import read_upload

from .support import accepted, csv_file, problem_lines

MS = "milestone_id,project_id,name,owner,baseline_start,baseline_finish,percent_complete,reported_status\n"
KPIS = "kpi_id,name,owner,direction,baseline_value,target_value,period_start,target_date\n"


def lines(name: str, text: str, **kwargs: object) -> list[str]:
    return problem_lines(csv_file(name, text), **kwargs)


def test_output_has_the_canonical_schema_and_provenance() -> None:
    upload = accepted(csv_file("milestones.csv", MS + "M1,P-ROUTE,Go-live,Ann,,2026-08-31,80,on track\n"))
    milestones = upload.tables["milestones"]
    assert milestones.schema == {**schema_of("milestones"), "_file": pl.String, "_sheet": pl.String, "_row": pl.Int64}
    expected = pl.DataFrame(
        {
            "milestone_id": ["M1"],
            "project_id": ["P-ROUTE"],
            "name": ["Go-live"],
            "owner": ["Ann"],
            "baseline_start": [None],
            "baseline_finish": [date(2026, 8, 31)],
            "forecast_finish": [None],
            "actual_finish": [None],
            "percent_complete": [80.0],
            "reported_status": ["Green"],
            "_file": ["milestones.csv"],
            "_sheet": ["milestones"],
            "_row": [2],
        },
        schema=milestones.schema,
    )
    assert_frame_equal(milestones, expected)


def test_headers_with_synonyms_and_any_case() -> None:
    text = "Milestone ID,Project,Milestone Name,Assignee,Due Date,Forecast,% Complete,RAG\nM1,P,Go-live,Ann,2026-08-31,2026-09-07,80%,Amber\n"
    milestones = accepted(csv_file("milestones.csv", text)).tables["milestones"]
    assert milestones.row(0, named=True) | {} == {
        "milestone_id": "M1",
        "project_id": "P",
        "name": "Go-live",
        "owner": "Ann",
        "baseline_start": None,
        "baseline_finish": date(2026, 8, 31),
        "forecast_finish": date(2026, 9, 7),
        "actual_finish": None,
        "percent_complete": 80.0,
        "reported_status": "Amber",
        "_file": "milestones.csv",
        "_sheet": "milestones",
        "_row": 2,
    }


def test_missing_required_column() -> None:
    assert lines("milestones.csv", "milestone_id,project_id,name,baseline_finish\nM1,P,Go-live,2026-08-31\n") == [
        "milestones.csv, sheet milestones, row -, column owner: required column 'owner' is missing"
    ]


def test_two_headers_for_one_column() -> None:
    text = "milestone_id,project_id,name,Owner,Assignee,baseline_finish\nM1,P,Go-live,Ann,Bob,2026-08-31\n"
    assert lines("milestones.csv", text) == [
        "milestones.csv, sheet milestones, row 1, column Assignee: columns 'Owner' and 'Assignee' both mean owner; "
        "keep one of them"
    ]


def test_unknown_columns_are_warned_about() -> None:
    text = "milestone_id,project_id,name,owner,baseline_finish,Comments\nM1,P,Go-live,Ann,2026-08-31,fine\n"
    upload = accepted(csv_file("milestones.csv", text))
    assert [str(w) for w in upload.warnings] == [
        "milestones.csv, sheet milestones, row 1, column Comments: column is not part of the milestones table "
        "and was not read"
    ]


def test_blank_required_values_bad_dates_and_numbers() -> None:
    text = MS + ("M1,,Go-live,Ann,,31/31/2026,80,\nM2,P,Pilot,Bob,,2026-08-31,eighty,\n")
    assert lines("milestones.csv", text) == [
        "milestones.csv, sheet milestones, row 2, column baseline_finish: '31/31/2026' is not a date; write dates as YYYY-MM-DD",
        "milestones.csv, sheet milestones, row 2, column project_id: a value is required here",
        "milestones.csv, sheet milestones, row 3, column percent_complete: 'eighty' is not a number",
    ]


def test_blank_owners_of_milestones_and_kpis_are_kept_for_governance() -> None:
    upload = accepted(
        csv_file("milestones.csv", MS + "M1,P,A,,,2026-08-31,,\n"),
        csv_file("kpis.csv", KPIS + "K1,Cost,,lower_is_better,1,2,2026-01-01,2026-12-31\n"),
    )
    assert upload.tables["milestones"]["owner"].to_list() == [None]
    assert upload.tables["kpis"]["owner"].to_list() == [None]
    # other owners are needed to escalate to someone
    assert lines("projects.csv", "project_id,name,owner\nP-1,Routing,\n") == [
        "projects.csv, sheet projects, row 2, column owner: a value is required here"
    ]


def test_status_words_are_normalised_and_unknown_words_listed() -> None:
    text = MS + (
        "M1,P,A,Ann,,2026-08-31,,on track\n"
        "M2,P,B,Ann,,2026-08-31,,AT RISK\n"
        "M3,P,C,Ann,,2026-08-31,,Done\n"
        "M4,P,D,Ann,,2026-08-31,,\n"
        "M5,P,E,Ann,,2026-08-31,,Unknown\n"
    )
    upload = accepted(csv_file("milestones.csv", text))
    assert upload.tables["milestones"]["reported_status"].to_list() == ["Green", "Amber", "Complete", None, None]
    assert lines("milestones.csv", MS + "M1,P,A,Ann,,2026-08-31,,Purple\n") == [
        "milestones.csv, sheet milestones, row 2, column reported_status: 'Purple' is not a status; use one of: "
        "green, on track, g, ok, amber, yellow, at risk, a, red, off track, late, blocked, r, complete, completed, "
        "done, closed (or leave it blank)"
    ]


def test_percent_complete_range_and_fraction_warning() -> None:
    assert lines("milestones.csv", MS + "M1,P,A,Ann,,2026-08-31,120,\n") == [
        "milestones.csv, sheet milestones, row 2, column percent_complete: '120' is outside 0-100"
    ]
    upload = accepted(csv_file("milestones.csv", MS + "M1,P,A,Ann,,2026-08-31,0.8,\nM2,P,B,Ann,,2026-08-31,1,\n"))
    assert [str(w) for w in upload.warnings] == [
        "milestones.csv, sheet milestones, row -, column percent_complete: every value is between 0 and 1 and is "
        "read as a percentage (0.8 = 0.8 %); write 80 for 80 %"
    ]


def test_baseline_start_after_finish() -> None:
    assert lines("milestones.csv", MS + "M1,P,A,Ann,2026-09-07,2026-08-31,,\n") == [
        "milestones.csv, sheet milestones, row 2, column baseline_finish: baseline_finish 2026-08-31 is before "
        "baseline_start 2026-09-07"
    ]


def test_kpi_direction_and_target_date() -> None:
    text = KPIS + (
        "K1,Cost,Sam,Higher is better,1,2,2026-01-01,2026-12-31\n"
        "K2,Cost,Sam,LOWER_IS_BETTER,1,2,2026-01-01,2026-12-31\n"
        "K3,Cost,Sam,up,1,2,2026-01-01,2026-12-31\n"
        "K4,Cost,Sam,lower-is-better,1,2,2026-06-01,2026-01-31\n"
    )
    assert lines("kpis.csv", text) == [
        "kpis.csv, sheet kpis, row 4, column direction: direction must be higher_is_better or lower_is_better, not 'up'",
        "kpis.csv, sheet kpis, row 5, column target_date: target_date 2026-01-31 is before period_start 2026-06-01",
    ]
    good = accepted(csv_file("kpis.csv", KPIS + "K1,Cost,Sam,Higher is better,1,2,2026-01-01,2026-12-31\n"))
    assert good.tables["kpis"]["direction"].to_list() == ["higher_is_better"]


def test_lag_days_must_be_whole_and_defaults_fill_blanks() -> None:
    text = "predecessor_id,successor_id,lag_days\nM1,M3,7\nM2,M3,\nM3,M4,-2\nM4,M5,2.5\n"
    assert lines("dependencies.csv", text) == [
        "dependencies.csv, sheet dependencies, row 5, column lag_days: '2.5' is not a whole number of days"
    ]
    upload = accepted(csv_file("dependencies.csv", text.replace("2.5", "2.0")))
    assert upload.tables["dependencies"]["lag_days"].to_list() == [7, 0, -2, 2]


def test_duplicate_keys_within_and_across_files_name_both_rows() -> None:
    first = csv_file("links.csv", "milestone_id,kpi_id,kpi_delta\nM1,K-CPM,-0.1\nM1,K-OTD,1\nM1,K-CPM,-0.2\n")
    second = csv_file("more links.csv", "milestone_id,kpi_id\nM1,K-OTD\n")
    assert problem_lines(first, second) == [
        "links.csv, sheet links, row 4, column milestone_id: duplicate milestone_id 'M1', kpi_id 'K-CPM': "
        "already in links.csv, sheet links, row 2",
        "more links.csv, sheet more links, row 2, column milestone_id: duplicate milestone_id 'M1', kpi_id 'K-OTD': "
        "already in links.csv, sheet links, row 3",
    ]


def test_duplicate_dated_key() -> None:
    text = "kpi_id,as_of,value\nK-CPM,2026-03-31,2.1\nK-CPM,31 March 2026,2.2\n"
    assert lines("kpi_actuals.csv", text) == [
        "kpi_actuals.csv, sheet kpi_actuals, row 3, column kpi_id: duplicate kpi_id 'K-CPM', as_of '2026-03-31': "
        "already in kpi_actuals.csv, sheet kpi_actuals, row 2"
    ]


def test_rounded_ids_in_canonical_files() -> None:
    text = "task_id,milestone_id,name,forecast_finish\n1.21143E+15,M1,Task,2026-08-01\n"
    assert lines("tasks.csv", text) == [
        "tasks.csv, sheet tasks, row 2, column task_id: Excel has rounded this 16-digit id; re-export without "
        "opening in Excel (value '1.21143E+15')"
    ]


def test_every_problem_of_every_file_is_listed() -> None:
    with pytest.raises(UploadRejected) as caught:
        read_upload(
            [
                csv_file("milestones.csv", MS + "M1,,A,,,bad,,\n"),
                csv_file("tasks.csv", "task_id,milestone_id,name,forecast_finish\nT1,M1,,\n"),
            ]
        )
    assert caught.value.lines() == [
        "milestones.csv, sheet milestones, row 2, column baseline_finish: 'bad' is not a date; write dates as YYYY-MM-DD",
        "milestones.csv, sheet milestones, row 2, column project_id: a value is required here",
        "tasks.csv, sheet tasks, row 2, column name: a value is required here",
        "tasks.csv, sheet tasks, row 2, column forecast_finish: a value is required here",
    ]


def test_an_upload_without_any_row_is_refused() -> None:
    assert lines("milestones.csv", MS) == ["milestones.csv, sheet -, row -, column -: the upload holds no data rows"]


def test_date_order_for_a_template_file() -> None:
    text = "kpi_id,as_of,value\nK-CPM,03/04/2026,2.1\n"
    assert lines("kpi_actuals.csv", text) == [
        "kpi_actuals.csv, sheet kpi_actuals, row -, column as_of: dates such as '03/04/2026' could be day/month or "
        "month/day; use ISO dates (YYYY-MM-DD) or give the date order (dmy or mdy) in a column mapping"
    ]
    upload = read_upload([csv_file("kpi_actuals.csv", text)], date_order="dmy")
    assert upload.tables["kpi_actuals"]["as_of"].to_list() == [date(2026, 4, 3)]


# ---------------------------------------------------------------------- values out of range (kpi_engine/core/bounds.py)
LINKS = "milestone_id,kpi_id,kpi_delta,ramp_days,value_per_week\n"
DEPS = "predecessor_id,successor_id,lag_days\n"
MS_FORECAST = "milestone_id,project_id,name,owner,baseline_finish,forecast_finish\n"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param(
            "milestones.csv",
            MS_FORECAST + "M1,P,Go-live,Ann,2026-08-31,9999-12-31\n",
            "milestones.csv, sheet milestones, row 2, column forecast_finish: '9999-12-31' is outside the dates "
            "this program accepts (1900-01-01 to 2199-12-31); it looks like a placeholder for 'no date': "
            "leave the cell blank instead",
            id="placeholder-forecast-9999-12-31",
        ),
        pytest.param(
            "milestones.csv",
            MS_FORECAST + "M1,P,Go-live,Ann,1850-08-31,\n",
            "milestones.csv, sheet milestones, row 2, column baseline_finish: '1850-08-31' is outside the dates "
            "this program accepts (1900-01-01 to 2199-12-31); if it stands for 'no date', leave the cell blank",
            id="date-before-1900",
        ),
        pytest.param(
            "dependencies.csv",
            DEPS + "M1,M3,3000000\n",
            "dependencies.csv, sheet dependencies, row 2, column lag_days: '3000000' is out of range: "
            "lag_days must be a number from -3,650 to 3,650 days",
            id="lag-three-million-days",
        ),
        pytest.param(
            "dependencies.csv",
            DEPS + "M1,M3,1e12\n",
            "dependencies.csv, sheet dependencies, row 2, column lag_days: '1e12' is out of range: "
            "lag_days must be a number from -3,650 to 3,650 days",
            id="lag-1e12-would-wrap",
        ),
        pytest.param(
            "dependencies.csv",
            DEPS + "M1,M3,1e20\n",
            "dependencies.csv, sheet dependencies, row 2, column lag_days: '1e20' is out of range: "
            "lag_days must be a number from -3,650 to 3,650 days",
            id="lag-beyond-a-whole-number",
        ),
        pytest.param(
            "links.csv",
            LINKS + "M1,K1,-0.1,28,1e308\n",
            "links.csv, sheet links, row 2, column value_per_week: '1e308' is out of range: "
            "value_per_week must be a number from 0 to 1,000,000,000",
            id="value-per-week-1e308",
        ),
        pytest.param(
            "links.csv",
            LINKS + "M1,K1,-0.1,-5,1000\n",
            "links.csv, sheet links, row 2, column ramp_days: '-5' is out of range: "
            "ramp_days must be a number from 0 to 3,650 days",
            id="negative-ramp",
        ),
        pytest.param(
            "links.csv",
            LINKS + "M1,K1,2e12,0,0\n",
            "links.csv, sheet links, row 2, column kpi_delta: '2e12' is out of range: "
            "kpi_delta must be a number from -1,000,000,000,000 to 1,000,000,000,000",
            id="huge-kpi-delta",
        ),
        pytest.param(
            "links.csv",
            LINKS + "M1,K1,1,0,-100\n",
            "links.csv, sheet links, row 2, column value_per_week: '-100' is out of range: "
            "value_per_week must be a number from 0 to 1,000,000,000",
            id="negative-value",
        ),
        pytest.param(
            "projects.csv",
            "project_id,name,owner,budget\nP,Project,Ann,-5\n",
            "projects.csv, sheet projects, row 2, column budget: '-5' is out of range: "
            "budget must be a number from 0 to 1,000,000,000,000",
            id="negative-budget",
        ),
    ],
)
def test_values_out_of_range_are_refused_naming_the_cell(name: str, text: str, expected: str) -> None:
    assert lines(name, text) == [expected]


def test_values_at_the_edges_of_their_ranges_are_accepted() -> None:
    upload = accepted(
        csv_file("links.csv", LINKS + "M1,K1,-1e12,3650,1e9\nM2,K1,1e12,0,0\n"),
        csv_file("dependencies.csv", DEPS + "M1,M2,-3650\nM2,M3,3650\n"),
        csv_file("milestones.csv", MS_FORECAST + "M1,P,Go-live,Ann,1900-01-01,2199-12-31\n"),
    )
    assert upload.tables["links"]["value_per_week"].to_list() == [1e9, 0.0]
    assert upload.tables["dependencies"]["lag_days"].to_list() == [-3650, 3650]
    assert upload.tables["milestones"]["forecast_finish"].to_list() == [date(2199, 12, 31)]
