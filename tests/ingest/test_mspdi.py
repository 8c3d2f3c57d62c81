"""MS Project XML: every mapped field of the sample, lags in days per LagFormat, the task rule, bad XML."""

from __future__ import annotations

from datetime import date

import pytest

from kpi_engine.ingest import SourceFile, read_paths

from .plan_builders import mspdi, mspdi_task
from .support import SAMPLE_EXPORTS, accepted, problem_lines


def test_sample_file_maps_every_field() -> None:
    upload = accepted(*read_paths([SAMPLE_EXPORTS / "msproject_telematics.xml"]))
    assert upload.files[0].source == "msproject"
    milestones = upload.tables["milestones"].drop("_file")
    assert milestones.rows() == [
        # id, project, name, owner, baseline start/finish, forecast, actual, %, status, sheet, row (task ID)
        ("P-TELE-4", "P-TELE", "Pilot vehicles fitted", "Tom Becker", date(2026, 3, 6), date(2026, 3, 6),
         date(2026, 3, 13), date(2026, 3, 13), 100.0, "Green", "Tasks", 4),
        ("P-TELE-9", "P-TELE", "Telematics retrofit complete", "Tom Becker", date(2026, 5, 31), date(2026, 5, 31),
         date(2026, 5, 29), None, 0.0, "Amber", "Tasks", 9),
        ("P-TELE-11", "P-TELE", "Fuel-use baseline report signed off", "Tom Becker", date(2026, 6, 12),
         date(2026, 6, 12), date(2026, 6, 12), None, 0.0, None, "Tasks", 11),
    ]  # fmt: skip
    tasks = upload.tables["tasks"].select(
        "task_id", "milestone_id", "name", "owner", "forecast_finish", "actual_finish"
    )
    assert tasks.rows() == [
        ("P-TELE-2", "P-TELE-4", "Select pilot vehicles", "Tom Becker", date(2026, 2, 13), date(2026, 2, 13)),
        ("P-TELE-3", "P-TELE-4", "Fit and test pilot units", "Grace Liu, Omar Haddad", date(2026, 3, 12),
         date(2026, 3, 12)),
        ("P-TELE-6", "P-TELE-9", "Order 240 telematics units", "Tom Becker", date(2026, 3, 27), date(2026, 3, 27)),
        ("P-TELE-7", "P-TELE-9", "Fit units at North depot", "Grace Liu", date(2026, 5, 8), None),
        ("P-TELE-8", "P-TELE-9", "Fit units at South depot", "Omar Haddad", date(2026, 5, 27), None),
        # no successor: the outline rule gives it the milestone below its summary "Rollout"
        ("P-TELE-10", "P-TELE-11", "Dispatcher briefing pack", "Grace Liu", date(2026, 5, 29), None),
    ]  # fmt: skip
    # 28800 tenths of a minute elapsed (ed) = 2 calendar days; 24000 working (d) = 5 days of 480 minutes
    deps = upload.tables["dependencies"].select("predecessor_id", "successor_id", "lag_days")
    assert deps.rows() == [("P-TELE-4", "P-TELE-9", 2), ("P-TELE-9", "P-TELE-11", 5)]
    assert upload.warnings == []


@pytest.mark.parametrize(
    ("lag", "lag_format", "minutes_per_day", "days"),
    [
        (4800, 7, None, 1),  # 480 working minutes = 1 day of the default 480
        (9600, 5, None, 2),  # 16 hours of work
        (24000, 9, None, 5),  # a working week
        (14400, 8, None, 1),  # elapsed: 1440 minutes = 1 calendar day
        (28800, 6, None, 2),  # elapsed hours: 48 h
        (12000, 7, 600, 2),  # a 10-hour project day: 1200 minutes = 2 days
        (-4800, 7, None, -1),  # a lead
        (0, 7, None, 0),
    ],
)
def test_link_lag_in_days(lag: int, lag_format: int, minutes_per_day: int | None, days: int) -> None:
    plan = mspdi(
        mspdi_task(1, "Design done", milestone=True),
        mspdi_task(2, "Build", links=((1, 1, lag, lag_format),)),
        mspdi_task(3, "Release", milestone=True, links=((2, 1, 0, 7),)),
        minutes_per_day=minutes_per_day,
    )
    deps = accepted(plan).tables["dependencies"]
    assert deps.select("predecessor_id", "successor_id", "lag_days").rows() == [("P-APP-1", "P-APP-3", days)]


def test_part_of_a_day_percent_lags_and_other_link_types_name_the_task() -> None:
    plan = mspdi(
        mspdi_task(1, "Design done", milestone=True),
        mspdi_task(2, "Build", links=((1, 1, 2400, 7),)),  # half a day
        mspdi_task(3, "Test", links=((2, 1, 500, 19),)),  # 50 % of the predecessor
        mspdi_task(4, "Release", milestone=True, links=((3, 3, 0, 7),)),
        mspdi_task(5, "Ship", milestone=True, links=((1, 3, 0, 7),)),
    )
    lines = problem_lines(plan)
    assert any(line.startswith("plan.xml, sheet Tasks, row 2, column PredecessorLink") for line in lines), lines
    assert any("row 3, column PredecessorLink: link from task UID 2: a lag given as a percentage" in ln for ln in lines)
    assert any("row 5" in ln and "only finish-to-start (FS)" in ln for ln in lines), lines


def test_summaries_left_out_and_a_task_follows_its_successors_before_the_outline() -> None:
    plan = mspdi(
        mspdi_task(1, "Phase A", summary=True),
        mspdi_task(2, "Prepare site", level=2, links=()),
        mspdi_task(3, "A done", level=2, milestone=True, baseline="2026-03-10T17:00:00", status="Red"),
        mspdi_task(4, "Phase B", summary=True),
        mspdi_task(5, "B done", level=2, milestone=True, links=((6, 1, 0, 7),), status="On Schedule"),
        # under Phase A by outline, but its successor is B done: it belongs to B done
        mspdi_task(6, "Order parts", level=2, links=()),
        mspdi_task(7, "Blank", level=1),
    )
    plan = SourceFile(plan.name, plan.data.replace(b"<UID>7</UID>", b"<IsNull>1</IsNull><UID>7</UID>"))
    upload = accepted(plan)
    milestones = upload.tables["milestones"]
    assert milestones.select("milestone_id", "baseline_finish", "reported_status").rows() == [
        ("P-APP-3", date(2026, 3, 10), "Red"),
        ("P-APP-5", date(2026, 3, 13), "Green"),
    ]
    assert upload.tables["tasks"].select("task_id", "milestone_id").rows() == [
        ("P-APP-2", "P-APP-3"),
        ("P-APP-6", "P-APP-5"),
    ]
    # B done has no baseline: its finish is used, and the upload says so naming the task
    assert [str(w) for w in upload.warnings] == [
        "plan.xml, sheet Tasks, row 5, column Baseline Finish: no baseline finish, so the milestone's Finish is "
        "used as its baseline and it shows no slip; save a baseline in MS Project"
    ]


def test_a_task_without_dates_names_the_file_and_task() -> None:
    plan = mspdi(
        mspdi_task(1, "Build", finish=None),
        mspdi_task(2, "Release", milestone=True, finish=None),
    )
    lines = problem_lines(plan)
    assert lines == [
        "plan.xml, sheet Tasks, row 1, column Finish: a value is required here",
        # neither a baseline nor a finish: the baseline the milestone needs is missing
        "plan.xml, sheet Tasks, row 2, column Baseline Finish: a value is required here",
    ]


def test_project_named_by_name_when_no_title() -> None:
    text = mspdi(mspdi_task(1, "Go", milestone=True, baseline="2026-03-13T17:00:00")).data
    text = text.replace(b"<Title>P-APP</Title>", b"<Name>P-NAMED.mpp</Name>")
    upload = accepted(SourceFile("x.xml", text))
    assert upload.tables["milestones"]["milestone_id"].to_list() == ["P-NAMED-1"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY a "aaaa">]><Project>&a;</Project>', "(DTD)"),
        (b"<Project xmlns='http://schemas.microsoft.com/project'><Tasks><Task>", "the XML file is damaged"),
        (b"<Workbook><Sheet/></Workbook>", "its first element is <Workbook>, not <Project>"),
        (b"<Project xmlns='http://schemas.microsoft.com/project'><Tasks/></Project>", "the plan holds no tasks"),
    ],
)
def test_bad_xml_is_refused_naming_the_file(data: bytes, expected: str) -> None:
    lines = problem_lines(SourceFile("plan.xml", data))
    assert any(ln.startswith("plan.xml, sheet ") and expected in ln for ln in lines), lines


def test_an_xml_plan_is_not_read_as_another_tool() -> None:
    lines = problem_lines(mspdi(mspdi_task(1, "Go", milestone=True)), source="jira")
    assert lines == ["plan.xml, sheet -, row -, column -: the file is an MS Project XML plan, not a jira export; "
                     "choose source auto"]  # fmt: skip


def test_more_tasks_than_the_limit_are_refused_before_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPI_MAX_PLAN_TASKS", "2")
    plan = mspdi(*(mspdi_task(i, f"T{i}") for i in range(1, 4)))
    lines = problem_lines(plan)
    assert lines == [
        "plan.xml, sheet -, row -, column -: the plan holds 3 tasks, over the limit of 2 (KPI_MAX_PLAN_TASKS); "
        "split the plan or raise the limit"
    ]


def test_values_that_are_not_numbers_name_the_task() -> None:
    plan = mspdi(
        mspdi_task(1, "Go", milestone=True).replace(
            "<OutlineLevel>1</OutlineLevel>", "<OutlineLevel>one</OutlineLevel>"
        ),
        mspdi_task(2, "Build").replace("<UID>2</UID>", "<UID>B-2</UID>"),
        mspdi_task(3, "Ship", milestone=True, links=((1, 7, 0, 7),)),
    )
    assert problem_lines(plan) == [
        "plan.xml, sheet Tasks, row 1, column OutlineLevel: 'one' is not a whole number",
        "plan.xml, sheet Tasks, row 2, column UID: the task's UID 'B-2' is not a number",
        "plan.xml, sheet Tasks, row 3, column PredecessorLink: link from task UID 1: Type '7' is not 0-3",
    ]


@pytest.mark.parametrize("lag", ["nan", "inf", "soon"])
def test_a_lag_that_is_not_a_number_names_the_task(lag: str) -> None:
    plan = mspdi(mspdi_task(1, "A", milestone=True), mspdi_task(2, "B", milestone=True, links=((1, 1, lag, 7),)))  # type: ignore[arg-type]
    assert problem_lines(plan) == [
        f"plan.xml, sheet Tasks, row 2, column PredecessorLink: link from task UID 1: LinkLag '{lag}' is not a number"
    ]


def test_a_plan_with_no_milestone_is_refused_saying_why() -> None:
    """Every task left out one warning at a time would end in "the upload holds no data rows"."""
    text = (SAMPLE_EXPORTS / "msproject_telematics.xml").read_text(encoding="utf-8")
    assert text.count("<Milestone>1</Milestone>") == 3
    lines = problem_lines(
        SourceFile("telematics.xml", text.replace("<Milestone>1</Milestone>", "<Milestone>0</Milestone>").encode())
    )
    assert lines == [
        "telematics.xml, sheet Tasks, row -, column -: no task of the plan is marked as a milestone, so none of its "
        "9 tasks can be linked to a KPI; mark the milestones in MS Project and export again"
    ]
