"""MS Project exports: summaries, milestones, task grouping, NA dates, predecessors and lags."""

from __future__ import annotations

from datetime import date, datetime

from kpi_engine.ingest import SourceFile, read_paths

from .support import SAMPLE_EXPORTS, accepted, csv_file, problem_lines, workbook

HEADER = "ID,Unique ID,Name,Duration,Start,Finish,Predecessors,Outline Level,Summary,Milestone,Baseline Start,Baseline Finish,Actual Finish,% Complete,Resource Names\n"


def schedule(*rows: str, name: str = "P-APP.csv") -> SourceFile:
    return csv_file(name, HEADER + "".join(r + "\n" for r in rows))


PLAN = [
    "1,11,Phase 1,20 days,Mon 3/2/26,Fri 3/27/26,,1,Yes,No,Mon 3/2/26,Fri 3/27/26,NA,50%,",
    "2,12,Build,10 days,Mon 3/2/26,Fri 3/13/26,,2,Yes,No,Mon 3/2/26,Fri 3/13/26,NA,50%,",
    "3,13,Code,10 days,Mon 3/2/26,Fri 3/13/26,,3,No,No,Mon 3/2/26,Fri 3/13/26,Fri 3/13/26,100%,Ann Lee[50%]",
    "4,14,Design done,0 days,Fri 3/13/26,Fri 3/13/26,3,2,No,Yes,Fri 3/13/26,Fri 3/13/26,Fri 3/13/26,100%,Ann Lee",
    "5,15,Test,5 days,Mon 3/16/26,Fri 3/20/26,4,2,No,No,Mon 3/16/26,Fri 3/20/26,NA,0%,Bob Stone",
    "6,16,Release,0 days,Fri 3/27/26,Fri 3/27/26,5FS+3 days,2,No,Yes,Mon 3/23/26,Mon 3/23/26,NA,0%,Ann Lee",
]


def test_summaries_out_milestones_in_tasks_grouped_under_the_next_milestone() -> None:
    tables = accepted(schedule(*PLAN)).tables
    milestones = tables["milestones"]
    assert milestones.select(
        "milestone_id", "project_id", "owner", "baseline_finish", "forecast_finish", "actual_finish", "percent_complete"
    ).rows() == [
        ("P-APP-14", "P-APP", "Ann Lee", date(2026, 3, 13), date(2026, 3, 13), date(2026, 3, 13), 100.0),
        ("P-APP-16", "P-APP", "Ann Lee", date(2026, 3, 23), date(2026, 3, 27), None, 0.0),
    ]
    # "Code" sits under the summary "Build", which has no milestone: it follows Build's own milestone
    assert tables["tasks"].select("task_id", "milestone_id", "owner", "_row").rows() == [
        ("P-APP-13", "P-APP-14", "Ann Lee", 4),
        ("P-APP-15", "P-APP-16", "Bob Stone", 6),
    ]


def test_predecessors_between_milestones_with_lags() -> None:
    rows = [
        *PLAN,
        '7,17,Go-live,0 days,Fri 4/3/26,Fri 4/3/26,"6FS+1w,4FS-2 days",1,No,Yes,Fri 4/3/26,Fri 4/3/26,NA,0%,Ann Lee',
    ]
    deps = accepted(schedule(*rows)).tables["dependencies"]
    assert deps.select("predecessor_id", "successor_id", "lag_days").rows() == [
        ("P-APP-14", "P-APP-16", 0),  # task 5 (of milestone 16) follows milestone 4
        ("P-APP-16", "P-APP-17", 7),
        ("P-APP-14", "P-APP-17", -2),
    ]


def test_several_links_between_two_milestones_keep_the_largest_lag() -> None:
    rows = [
        "1,1,Task A,1 day,3/2/26,3/2/26,,1,No,No,3/2/26,3/2/26,NA,0%,Ann",
        "2,2,M1,0 days,3/3/26,3/3/26,1,1,No,Yes,3/3/26,3/3/26,NA,0%,Ann",
        '3,3,Task B,1 day,3/16/26,3/16/26,"1FS+2d,2FS+5 edays",1,No,No,3/16/26,3/16/26,NA,0%,Ann',
        "4,4,M2,0 days,3/17/26,3/17/26,3,1,No,Yes,3/17/26,3/17/26,NA,0%,Ann",
    ]
    deps = accepted(schedule(*rows)).tables["dependencies"]
    assert deps.select("predecessor_id", "successor_id", "lag_days").rows() == [("P-APP-2", "P-APP-4", 5)]


def test_unsupported_predecessors_are_problems() -> None:
    rows = [
        *PLAN[:5],
        '6,16,Release,0 days,Fri 3/27/26,Fri 3/27/26,"4SS,5SS,3FS+4h,42,later",2,No,Yes,Mon 3/23/26,Mon 3/23/26,NA,0%,Ann',
    ]
    # 5SS joins Release to its own task 5: a link inside one milestone makes no dependency, whatever its type
    assert problem_lines(schedule(*rows)) == [
        "P-APP.csv, sheet P-APP, row 7, column Predecessors: 'later' is not a predecessor like 3, 3FS or 3FS+2 days",
        "P-APP.csv, sheet P-APP, row 7, column Predecessors: '3FS+4h': lag unit 'h' is not supported; use days "
        "(d, ed) or weeks (w, ew)",
        "P-APP.csv, sheet P-APP, row 7, column Predecessors: predecessor 42 is not a row ID of this file",
        "P-APP.csv, sheet P-APP, row 7, column Predecessors: '4SS': only finish-to-start (FS) dependencies are "
        "supported, not SS",
    ]


def test_na_baseline_falls_back_to_finish_with_a_warning() -> None:
    rows = ["1,1,Go-live,0 days,Mon 3/16/26,Mon 3/16/26,,1,No,Yes,NA,NA,NA,0%,Ann Lee"]
    upload = accepted(schedule(*rows))
    m = upload.tables["milestones"].row(0, named=True)
    assert (m["baseline_start"], m["baseline_finish"], m["actual_finish"]) == (None, date(2026, 3, 16), None)
    assert [str(w) for w in upload.warnings] == [
        "P-APP.csv, sheet P-APP, row 2, column Baseline Finish: no baseline finish, so the milestone's Finish is used "
        "as its baseline and it shows no slip; save a baseline in MS Project"
    ]


def test_work_after_the_last_milestone_is_left_out_with_a_warning() -> None:
    rows = [*PLAN, "7,17,Lessons learned,2 days,Mon 3/30/26,Tue 3/31/26,6,1,No,No,Mon 3/30/26,Tue 3/31/26,NA,0%,Ann"]
    upload = accepted(schedule(*rows))
    assert [str(w) for w in upload.warnings] == [
        "P-APP.csv, sheet P-APP, row 8, column Name: no milestone follows this task under its summary, so it "
        "belongs to no milestone; it was not imported"
    ]


def test_without_summary_and_milestone_columns_outline_and_duration_decide() -> None:
    text = (
        "ID,Task Name,Duration,Finish,Outline Level,Baseline Finish,Resource Names,Project\n"
        "1,Phase,5 days,3/20/26,1,3/20/26,,P-X\n"
        "2,Work,5 days,3/13/26,2,3/13/26,Ann,P-X\n"
        "3,Done,0 days,3/20/26,2,3/20/26,Ann,P-X\n"
    )
    tables = accepted(csv_file("plan.csv", text)).tables
    assert tables["milestones"]["milestone_id"].to_list() == ["P-X-3"]
    assert tables["tasks"].select("task_id", "milestone_id").rows() == [("P-X-2", "P-X-3")]


def test_bad_yes_no_values_are_problems() -> None:
    rows = ["1,1,Go-live,0 days,3/16/26,3/16/26,,1,No,Maybe,3/16/26,3/16/26,NA,0%,Ann"]
    assert problem_lines(schedule(*rows)) == [
        "P-APP.csv, sheet P-APP, row 2, column Milestone: 'Maybe' is not Yes or No"
    ]


def test_ambiguous_dates_across_the_whole_sheet_are_refused() -> None:
    rows = ["1,1,Go-live,0 days,3/4/26,3/4/26,,1,No,Yes,3/4/26,3/4/26,NA,0%,Ann"]
    ambiguous = (
        "dates such as '3/4/26' could be day/month or month/day; use ISO dates (YYYY-MM-DD) "
        "or give the date order (dmy or mdy) in a column mapping"
    )
    assert problem_lines(schedule(*rows)) == [
        f"P-APP.csv, sheet P-APP, row -, column {column}: {ambiguous}"
        for column in ("Baseline Start", "Baseline Finish", "Finish")
    ]
    assert accepted(schedule(*rows), date_order="mdy").tables["milestones"]["forecast_finish"].to_list() == [
        date(2026, 3, 4)
    ]


def test_excel_export_reads_like_the_csv() -> None:
    header = [*HEADER.strip().split(","), "Project"]
    rows = [
        [
            1,
            1,
            "Code",
            "10 days",
            datetime(2026, 3, 2, 8),
            datetime(2026, 3, 13, 17),
            None,
            1,
            "No",
            "No",
            datetime(2026, 3, 2, 8),
            datetime(2026, 3, 13, 17),
            "NA",
            1.0,
            "Ann Lee",
            "P-APP",
        ],
        [
            2,
            2,
            "Go-live",
            "0 days",
            datetime(2026, 3, 16, 8),
            datetime(2026, 3, 16, 8),
            "1FS+1 day",
            1,
            "No",
            "Yes",
            datetime(2026, 3, 16, 8),
            datetime(2026, 3, 16, 8),
            "NA",
            0,
            "Ann Lee",
            "P-APP",
        ],
    ]
    data = workbook({"Task_Table1": [header, *rows]})
    tables = accepted(SourceFile("schedule.xlsx", data)).tables
    assert tables["milestones"].select("milestone_id", "baseline_finish").rows() == [("P-APP-2", date(2026, 3, 16))]
    assert tables["tasks"].select("task_id", "milestone_id", "forecast_finish").rows() == [
        ("P-APP-1", "P-APP-2", date(2026, 3, 13))
    ]


def test_sample_export() -> None:
    upload = accepted(*read_paths([SAMPLE_EXPORTS / "msproject_driver_app.csv"]))
    assert upload.files[0].tables == {"milestones": 4, "tasks": 8, "dependencies": 3}
    assert upload.tables["milestones"]["project_id"].unique().to_list() == ["P-DRV"]
    assert upload.warnings == []


def test_the_project_summary_task_names_the_project_when_there_is_no_project_column() -> None:
    summary = "0,10,Depot electrification,20 days,Mon 3/2/26,Fri 3/27/26,,0,Yes,No,Mon 3/2/26,Fri 3/27/26,NA,50%,"
    tables = accepted(schedule(summary, *PLAN)).tables
    assert tables["milestones"].select("milestone_id", "project_id").rows() == [
        ("Depot electrification-14", "Depot electrification"),
        ("Depot electrification-16", "Depot electrification"),
    ]
    # without it, a top-level phase is not the project: the file names it
    assert accepted(schedule(*PLAN)).tables["milestones"]["project_id"].unique().to_list() == ["P-APP"]


def test_an_export_with_no_milestone_is_refused_saying_why() -> None:
    """The sample with its four milestones unflagged: 4 + 8 tasks, none of which can be imported."""
    text = (SAMPLE_EXPORTS / "msproject_driver_app.csv").read_text(encoding="utf-8")
    unflagged = text.replace(",No,Yes,", ",No,No,")
    assert text.count(",No,Yes,") == 4 and ",Yes," not in unflagged.replace(",Yes,No,", "")
    assert problem_lines(csv_file("P-DRV.csv", unflagged)) == [
        "P-DRV.csv, sheet P-DRV, row -, column -: no task of the plan is marked as a milestone, so none of its "
        "12 tasks can be linked to a KPI; mark the milestones in MS Project and export again"
    ]
