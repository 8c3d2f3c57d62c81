"""Asana exports: milestones from subtasks or the tag, parents by id or name, rounded ids."""

from __future__ import annotations

from datetime import date

from kpi_engine.ingest import read_paths

from .support import SAMPLE_EXPORTS, accepted, csv_file, problem_lines

HEADER = "Task ID,Created At,Completed At,Name,Section/Column,Assignee,Assignee Email,Start Date,Due Date,Tags,Projects,Parent task,Blocked By (Dependencies)\n"


def export(*rows: str, name: str = "asana.csv") -> object:
    return csv_file(name, HEADER + "".join(r + "\n" for r in rows))


ROWS = [
    "1210000000000001,2026-01-05,,Contract signed,Deal,Ann Lee,,2026-05-04,2026-07-31,kpi:K-CPM,P-PROC,,",
    "1210000000000002,2026-01-05,2026-05-29,Negotiate,Deal,Bob Stone,,,2026-05-29,,P-PROC,Contract signed,",
    "1210000000000003,2026-01-05,,Legal review,Deal,,legal@example.com,,2026-07-10,,P-PROC,1210000000000001,",
    "1210000000000004,2026-01-05,,Check references,Deal,Bob Stone,,,2026-07-03,,P-PROC,Legal review,",
    '1210000000000005,2026-01-05,,Cards issued,Roll-out,Tom Becker,,,2026-09-30,"milestone, kpi:K-OTD",P-PROC,,1210000000000003',
]


def test_milestones_tasks_links_and_dependencies() -> None:
    tables = accepted(export(*ROWS)).tables
    assert tables["milestones"].select("milestone_id", "project_id", "owner", "baseline_finish").rows() == [
        ("1210000000000001", "P-PROC", "Ann Lee", date(2026, 7, 31)),
        ("1210000000000005", "P-PROC", "Tom Becker", date(2026, 9, 30)),  # tagged, no subtasks
    ]
    # parents by name and by id, a sub-subtask reaches its top-level milestone, owner falls back to the email
    assert tables["tasks"].select("task_id", "milestone_id", "owner", "actual_finish").rows() == [
        ("1210000000000002", "1210000000000001", "Bob Stone", date(2026, 5, 29)),
        ("1210000000000003", "1210000000000001", "legal@example.com", None),
        ("1210000000000004", "1210000000000001", "Bob Stone", None),
    ]
    assert tables["links"].select("milestone_id", "kpi_id").rows() == [
        ("1210000000000001", "K-CPM"),
        ("1210000000000005", "K-OTD"),
    ]
    assert tables["dependencies"].select("predecessor_id", "successor_id").rows() == [
        ("1210000000000001", "1210000000000005")
    ]


def test_rounded_ids_are_problems_naming_row_and_column() -> None:
    rows = [ROWS[0].replace("1210000000000001", "1.21E+15", 1), ROWS[1].replace("Contract signed", "1.21E+15")]
    assert problem_lines(export(*rows)) == [
        "asana.csv, sheet asana, row 2, column Task ID: Excel has rounded this 16-digit id; re-export without "
        "opening in Excel (value '1.21E+15')",
        "asana.csv, sheet asana, row 3, column Parent task: Excel has rounded this 16-digit id; re-export without "
        "opening in Excel (value '1.21E+15')",
    ]


def test_tasks_that_are_neither_milestones_nor_subtasks_are_warned_about() -> None:
    rows = [*ROWS, "1210000000000009,2026-01-05,,Fuel price review,Roll-out,Ann Lee,,,2026-10-15,,P-PROC,,"]
    upload = accepted(export(*rows))
    assert [str(w) for w in upload.warnings] == [
        "asana.csv, sheet asana, row 7, column Name: a top-level task without subtasks and without the tag "
        "'milestone' is neither a milestone nor part of one; it was not imported"
    ]


def test_parent_names_must_be_unique() -> None:
    rows = [*ROWS[:2], ROWS[0].replace("1210000000000001", "1210000000000008", 1)]
    assert problem_lines(export(*rows)) == [
        "asana.csv, sheet asana, row 3, column Parent task: parent task 'Contract signed' matches several tasks of "
        "the project; export with Task IDs"
    ]


def test_sample_export() -> None:
    upload = accepted(*read_paths([SAMPLE_EXPORTS / "asana_procurement.csv"]))
    assert upload.files[0].tables == {"milestones": 3, "tasks": 9, "dependencies": 2, "links": 2}
    assert len(upload.warnings) == 1
