"""Primavera P6 .xer: every mapped field of the sample, lags in days by calendar, several projects, bad files."""

from __future__ import annotations

from datetime import date

import pytest

from kpi_engine.ingest import SourceFile, read_paths

from .plan_builders import xer
from .support import SAMPLE_EXPORTS, accepted, problem_lines


def test_sample_file_maps_every_field() -> None:
    upload = accepted(*read_paths([SAMPLE_EXPORTS / "p6_pick_to_light.xer"]))
    assert upload.files[0].source == "p6"
    milestones = upload.tables["milestones"].drop("_file", "_sheet")
    assert milestones.rows() == [
        # id, project, name, owner, baseline start/finish, forecast, actual, %, status (UDF "RAG Status"), line
        ("P-013-A1000", "P-013", "Pick-to-light business case approved", "Lukas Kim", None, date(2026, 3, 19),
         date(2026, 3, 9), date(2026, 3, 9), 100.0, "Complete", 30),
        ("P-013-A1030", "P-013", "Pick-to-light vendor selected", "Viktor Rahimi", None, date(2026, 5, 19),
         date(2026, 5, 22), None, 0.0, "Amber", 33),
        ("P-013-A1050", "P-013", "Pick-to-light design approved", "Carlos Wagner", None, date(2026, 5, 27),
         date(2026, 5, 29), None, 0.0, "Green", 35),
        ("P-013-A1080", "P-013", "Pick-to-light build complete", "Viktor Rahimi", None, date(2026, 6, 5),
         date(2026, 6, 12), None, 0.0, "Amber", 38),
        # a start milestone (TT_Mile) has start dates only
        ("P-013-A1100", "P-013", "Pick-to-light pilot live", "Kwame Schultz", date(2026, 6, 11), date(2026, 6, 11),
         date(2026, 6, 18), None, 0.0, None, 40),
    ]  # fmt: skip
    tasks = upload.tables["tasks"].select("task_id", "milestone_id", "owner", "forecast_finish", "actual_finish")
    assert tasks.rows() == [
        ("P-013-A1010", "P-013-A1030", "Carlos Wagner", date(2026, 4, 24), date(2026, 4, 24)),
        ("P-013-A1020", "P-013-A1030", "Carlos Wagner", date(2026, 5, 20), None),
        ("P-013-A1040", "P-013-A1050", "Kwame Schultz", date(2026, 5, 27), None),
        ("P-013-A1060", "P-013-A1080", "Kwame Schultz", date(2026, 6, 5), None),
        ("P-013-A1070", "P-013-A1080", "Viktor Rahimi, Carlos Wagner", date(2026, 6, 10), None),
        ("P-013-A1090", "P-013-A1100", "Kwame Schultz", date(2026, 6, 16), None),
    ]
    # 20 h on the 10-hour calendar of A1030 = 2 days; 16 h on the 8-hour calendar of A1080 = 2 days
    deps = upload.tables["dependencies"].select("predecessor_id", "successor_id", "lag_days")
    assert deps.rows() == [
        ("P-013-A1000", "P-013-A1030", 0),
        ("P-013-A1030", "P-013-A1050", 2),
        ("P-013-A1050", "P-013-A1080", 0),
        ("P-013-A1080", "P-013-A1100", 2),
    ]
    # the level-of-effort activity is no work of a milestone; A1110 leads to none and is after every one
    assert [str(w) for w in upload.warnings] == [
        "p6_pick_to_light.xer, sheet TASK, row 41, column task_name: no successor of this task leads to a milestone "
        "and no milestone follows it under its summary, so it belongs to no milestone; it was not imported"
    ]


def _task(task_id: str, code: str, kind: str = "TT_Task", *, calendar: str = "10", proj: str = "1",
          finish: str = "2026-03-13 17:00") -> list[str]:  # fmt: skip
    return [task_id, proj, "", calendar, kind, "TK_NotStart", code, f"Activity {code}", "", finish, finish]


@pytest.mark.parametrize(
    ("hours", "calendar", "days"),
    [("16", "10", 2), ("20", "11", 2), ("0", "10", 0), ("-8", "10", -1), ("40", "12", 5)],
)
def test_lag_hours_in_days_of_the_predecessors_calendar(hours: str, calendar: str, days: int) -> None:
    plan = xer(
        [_task("1", "M1", "TT_FinMile", calendar=calendar), _task("2", "T1"), _task("3", "M2", "TT_FinMile")],
        [["2", "1", "PR_FS", hours], ["3", "2", "PR_FS", "0"]],
    )
    deps = accepted(plan).tables["dependencies"]
    assert deps.select("predecessor_id", "successor_id", "lag_days").rows() == [("P-APP-M1", "P-APP-M2", days)]


def test_several_projects_are_all_read_with_a_warning() -> None:
    plan = xer(
        [_task("1", "M1", "TT_FinMile"), _task("2", "M1", "TT_FinMile", proj="2")],
        projects=(("1", "P-APP"), ("2", "P-OPS")),
    )
    upload = accepted(plan)
    assert upload.tables["milestones"].select("milestone_id", "project_id").rows() == [
        ("P-APP-M1", "P-APP"),
        ("P-OPS-M1", "P-OPS"),
    ]
    assert [str(w) for w in upload.warnings] == [
        "plan.xer, sheet PROJECT, row -, column proj_short_name: the file holds 2 projects (P-APP, P-OPS); "
        "all were read, each project's milestones under its own id"
    ]


def test_activities_without_dates_name_the_line() -> None:
    plan = xer([_task("1", "T1", finish=""), _task("2", "M1", "TT_FinMile", finish="")], [["2", "1", "PR_FS", "0"]])
    assert problem_lines(plan) == [
        "plan.xer, sheet TASK, row 11, column early_end_date: a value is required here",
        "plan.xer, sheet TASK, row 12, column target_end_date: a value is required here",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%T\tTASK\n", "does not start with ERMHDR"),
        (b"ERMHDR\t5.0\t2006-01-01\n%E\n", "exported by P6 version 5.0, which this program does not read"),
        (b"ERMHDR\t19.12\n%R\t1\t2\n%E\n", "line 2: a record (%R) comes before its table's fields"),
        (b"ERMHDR\t19.12\n%T\tTASK\n%F\ttask_id\n%R\t1\t2\t3\n%E\n", "line 4, table TASK: the record has 3 values"),
        (b"ERMHDR\t19.12\n%T\tTASK\n%F\ttask_id\n%R\t1\n", "ends without its end mark (%E): it was cut off"),
        (b"ERMHDR\t19.12\n%T\tPROJECT\n%F\tproj_id\n%R\t1\n%E\n", "holds no activities (no TASK records)"),
        (b"ERMHDR\t19.12\n%T\tTASK\n%F\ttask_id\n%R\t1\n%E\n", "lacks the fields proj_id, task_code"),
        (b"ERMHDR\t19.12\nGARBAGE\x00\x01\n", "line 2: 'GARBAGE\x00\x01' is not an .xer line"),
    ],
)
def test_bad_xer_is_refused_naming_the_file(data: bytes, expected: str) -> None:
    lines = problem_lines(SourceFile("plan.xer", data))
    assert len(lines) == 1 and lines[0].startswith("plan.xer, sheet -, row -"), lines
    assert expected.replace("\x00", "\\x00").replace("\x01", "\\x01") in lines[0], lines


def test_p6_source_refuses_other_files() -> None:
    lines = problem_lines(SourceFile("plan.csv", b"a,b\n1,2\n"), source="p6")
    assert lines == [
        "plan.csv, sheet -, row -, column -: the file is not a Primavera P6 schedule (.xer): it does not start with ERMHDR"
    ]


def test_more_activities_than_the_limit_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPI_MAX_PLAN_TASKS", "1")
    lines = problem_lines(xer([_task("1", "T1"), _task("2", "M1", "TT_FinMile")]))
    assert lines == [
        "plan.xer, sheet -, row -, column -: the plan holds 2 activities, over the limit of 1 (KPI_MAX_PLAN_TASKS); "
        "split the plan or raise the limit"
    ]


def test_mpxj_reads_the_sample_as_we_do() -> None:
    """An independent reader of .xer files (MPXJ) finds the same milestones, owners, baselines and links."""
    pytest.importorskip("mpxj")
    from kpi_engine.ingest.tools.mpp import _java

    project = _java()["reader"]().read(str(SAMPLE_EXPORTS / "p6_pick_to_light.xer"))
    theirs = {
        str(t.getActivityID()): (
            str(t.getName()),
            ", ".join(str(a.getResource().getName()) for a in t.getResourceAssignments() if a.getResource()) or None,
            None if t.getBaselineFinish() is None else date.fromisoformat(str(t.getBaselineFinish())[:10]),
        )
        for t in project.getTasks()
        if t.getMilestone()
    }
    upload = accepted(*read_paths([SAMPLE_EXPORTS / "p6_pick_to_light.xer"]))
    ours = {
        mid.removeprefix("P-013-"): (name, owner, baseline)
        for mid, name, owner, baseline in upload.tables["milestones"]
        .select("milestone_id", "name", "owner", "baseline_finish")
        .iter_rows()
    }
    # a start milestone has no finish in MPXJ's view: compare the finish milestones' baselines
    assert {k: v[:2] for k, v in theirs.items()} == {k: v[:2] for k, v in ours.items()}
    assert {k: v for k, v in theirs.items() if v[2]} == {k: v for k, v in ours.items() if k != "A1100"}
    lags = {
        (str(r.getPredecessorTask().getActivityID()), str(r.getSuccessorTask().getActivityID())): str(r.getLag())
        for r in project.getRelations()
    }
    assert lags[("A1030", "A1040")] == "20.0h" and lags[("A1080", "A1090")] == "16.0h"


def test_an_unknown_relationship_type_names_its_line() -> None:
    plan = xer([_task("1", "M1", "TT_FinMile"), _task("2", "M2", "TT_FinMile")], [["2", "1", "PR_XX", "0"]])
    assert problem_lines(plan) == [
        "plan.xer, sheet TASKPRED, row 15, column pred_type: 'PR_XX' is not a P6 relationship type "
        "(PR_FS, PR_SS, PR_FF or PR_SF)"
    ]


@pytest.mark.parametrize("hours", ["nan", "-inf", "8h"])
def test_a_lag_that_is_not_a_number_of_hours_names_its_line(hours: str) -> None:
    plan = xer([_task("1", "M1", "TT_FinMile"), _task("2", "M2", "TT_FinMile")], [["2", "1", "PR_FS", hours]])
    assert problem_lines(plan) == [
        f"plan.xer, sheet TASKPRED, row 15, column lag_hr_cnt: '{hours}' is not a number of hours"
    ]
