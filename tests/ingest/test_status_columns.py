"""Status columns as each tool writes them become the milestone's reported status.

Smartsheet's Health symbols (Red, Yellow, Green, Blue), Jira health fields and
health-named workflow states, MS Project status text fields and Asana's Status field.
"""

from __future__ import annotations

import pytest

from .support import accepted, csv_file, problem_lines


def _statuses(text: str, name: str) -> list[object]:
    return accepted(csv_file(name, text)).tables["milestones"]["reported_status"].to_list()


SMARTSHEET = "Task Name,End Date,Status,Health,Assigned To,Baseline Finish,Milestone\n"


def test_smartsheet_health_symbols_with_status_complete_first() -> None:
    rows = [
        "Red one,2026-03-02,In Progress,Red,Mei Chen,2026-03-02,true",
        "Yellow one,2026-03-03,Not Started,Yellow,Mei Chen,2026-03-03,true",
        "Green one,2026-03-04,,Green,Mei Chen,2026-03-04,true",
        "Blue one,2026-03-05,,Blue,Mei Chen,2026-03-05,true",
        "Done one,2026-03-06,Complete,Red,Mei Chen,2026-03-06,true",  # Complete in Status wins
        "No health,2026-03-09,At Risk,,Mei Chen,2026-03-09,true",  # a health word in Status counts
        "Nothing,2026-03-10,In Progress,,Mei Chen,2026-03-10,true",
    ]
    statuses = _statuses(SMARTSHEET + "\n".join(rows) + "\n", "P-WH.csv")
    assert statuses == ["Red", "Amber", "Green", "Complete", "Complete", "Amber", None]


def test_smartsheet_unknown_health_word_is_a_problem_naming_the_health_column() -> None:
    lines = problem_lines(csv_file("P-WH.csv", SMARTSHEET + "Odd,2026-03-02,,Purple,Mei Chen,2026-03-02,true\n"))
    assert any(ln.startswith("P-WH.csv, sheet P-WH, row 2, column Health: 'Purple' is not a status") for ln in lines)


JIRA = "Summary,Issue key,Issue Type,Status,Project key,Assignee,Due date,Status Category,Custom field (Health)\n"


def test_jira_done_then_health_field_then_health_named_states() -> None:
    rows = [
        "A,RTE-1,Epic,Done,RTE,Priya Raman,30/Sep/26 12:00 AM,Done,Red",
        "B,RTE-2,Epic,In Progress,RTE,Priya Raman,30/Sep/26 12:00 AM,In Progress,Yellow",
        "C,RTE-3,Epic,Blocked,RTE,Priya Raman,30/Sep/26 12:00 AM,In Progress,",
        "D,RTE-4,Epic,In Progress,RTE,Priya Raman,30/Sep/26 12:00 AM,In Progress,",
        "E,RTE-5,Epic,To Do,RTE,Priya Raman,30/Sep/26 12:00 AM,To Do,On track",
    ]
    assert _statuses(JIRA + "\n".join(rows) + "\n", "jira.csv") == ["Complete", "Amber", "Red", None, "Green"]


MSPROJECT = "ID,Unique ID,Name,Finish,Outline Level,Milestone,Baseline Finish,Resource Names,Status\n"


@pytest.mark.parametrize(
    ("status", "expected"),
    [("Green", "Green"), ("Yellow", "Amber"), ("Late", "Red"), ("On Schedule", "Green"), ("Future Task", None),
     ("Complete", "Complete"), ("", None)],
)  # fmt: skip
def test_msproject_status_field(status: str, expected: str | None) -> None:
    text = MSPROJECT + f"1,1,Go-live,3/16/26,1,Yes,3/16/26,Ann Lee,{status}\n"
    assert _statuses(text, "P-APP.csv") == [expected]


def test_msproject_status_text_field_named_health() -> None:
    text = MSPROJECT.replace("Status", "Health") + "1,1,Go-live,3/16/26,1,Yes,3/16/26,Ann Lee,Red\n"
    assert _statuses(text, "P-APP.csv") == ["Red"]


ASANA = "Task ID,Completed At,Name,Assignee,Due Date,Tags,Projects,Parent task,Status\n"


def test_asana_status_field_unless_completed() -> None:
    rows = [
        "1210000000000001,,Contract signed,Ann Lee,2026-07-31,milestone,P-PROC,,At risk",
        "1210000000000002,2026-05-29,Cards ordered,Ann Lee,2026-05-29,milestone,P-PROC,,Off track",
        "1210000000000003,,Cards issued,Ann Lee,2026-09-30,milestone,P-PROC,,On track",
        "1210000000000004,,Rollout,Ann Lee,2026-10-30,milestone,P-PROC,,",
    ]
    assert _statuses(ASANA + "\n".join(rows) + "\n", "asana.csv") == ["Amber", "Complete", "Green", None]
