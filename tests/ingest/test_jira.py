"""Jira CSV exports: epics, issues, repeated Labels columns, parents, projects, derived rows."""

from __future__ import annotations

from datetime import date

from kpi_engine.ingest import read_paths

from .support import SAMPLE_EXPORTS, accepted, csv_file, problem_lines

HEADER = (
    "Summary,Issue key,Issue id,Issue Type,Status,Project key,Project name,Project lead,Assignee,"
    "Resolved,Due date,Labels,Labels,Labels,Sprint,Sprint,Custom field (Epic Link),Parent id,Status Category\n"
)


def jira(*rows: str, name: str = "jira.csv") -> object:
    return csv_file(name, HEADER + "".join(r + "\n" for r in rows))


EPIC = "Go-live,RTE-1,100,Epic,In Progress,RTE,Routing,Priya Raman,Priya Raman,,30/Sep/26 12:00 AM,kpi:K-CPM,,,,,,,In Progress"
STORY = "API,RTE-2,101,Story,Done,RTE,Routing,Priya Raman,Kofi Mensah,12/May/26 04:40 PM,15/May/26 12:00 AM,,backend,kpi:K-OTD,S1,S2,RTE-1,,Done"
SUBTASK = "Auth,RTE-3,102,Sub-task,To Do,RTE,Routing,Priya Raman,Sofia Marin,,11/Jun/26 12:00 AM,,,,S2,,,101,To Do"


def test_epics_become_milestones_and_issues_tasks_of_their_epic() -> None:
    tables = accepted(jira(EPIC, STORY, SUBTASK)).tables
    m = tables["milestones"].row(0, named=True)
    assert (m["milestone_id"], m["project_id"], m["owner"], m["baseline_finish"], m["forecast_finish"]) == (
        "RTE-1",
        "RTE",
        "Priya Raman",
        date(2026, 9, 30),
        date(2026, 9, 30),
    )
    assert m["reported_status"] is None
    assert tables["tasks"].select("task_id", "milestone_id", "forecast_finish", "actual_finish", "_row").rows() == [
        ("RTE-2", "RTE-1", date(2026, 5, 15), date(2026, 5, 12), 3),
        ("RTE-3", "RTE-1", date(2026, 6, 11), None, 4),  # a sub-task reaches the epic through its story
    ]


def test_every_repeated_labels_column_makes_links_to_the_epic() -> None:
    links = accepted(jira(EPIC, STORY, SUBTASK)).tables["links"]
    assert links.select("milestone_id", "kpi_id", "kpi_delta").rows() == [
        ("RTE-1", "K-CPM", 0.0),
        ("RTE-1", "K-OTD", 0.0),
    ]


def test_project_from_key_name_and_lead() -> None:
    projects = accepted(jira(EPIC, STORY)).tables["projects"]
    assert projects.select("project_id", "name", "owner").rows() == [("RTE", "Routing", "Priya Raman")]


def test_done_epic_is_complete() -> None:
    done = EPIC.replace("In Progress", "Done").replace(",,30/Sep", ",14/Sep/26 10:00 AM,30/Sep")
    m = accepted(jira(done)).tables["milestones"].row(0, named=True)
    assert (m["reported_status"], m["actual_finish"]) == ("Complete", date(2026, 9, 14))


def test_baseline_custom_field_wins_over_due_date() -> None:
    text = (
        "Issue key,Issue Type,Summary,Project key,Assignee,Due date,Custom field (Baseline Finish)\n"
        "RTE-1,Epic,Go-live,RTE,Priya Raman,2026-09-30,2026-09-15\n"
        "RTE-9,Epic,Pilot,RTE,Priya Raman,2026-10-30,\n"
    )
    milestones = accepted(csv_file("jira.csv", text)).tables["milestones"]
    assert milestones["baseline_finish"].to_list() == [date(2026, 9, 15), date(2026, 10, 30)]
    assert "projects" not in accepted(csv_file("jira.csv", text)).tables  # no Project lead column


def test_issues_without_epic_or_due_date_are_left_out_with_warnings() -> None:
    bug = "Crash,RTE-4,103,Bug,To Do,RTE,Routing,Priya Raman,Jo Park,,01/Jul/26 12:00 AM,,,,,,,,To Do"
    undated = "Docs,RTE-5,104,Story,To Do,RTE,Routing,Priya Raman,Jo Park,,,,,,,,RTE-1,,To Do"
    upload = accepted(jira(EPIC, bug, undated))
    assert "tasks" not in upload.tables
    assert [str(w) for w in upload.warnings] == [
        "jira.csv, sheet jira, row 3, column Issue key: the issue belongs to no epic of this upload, so to no "
        "milestone; it was not imported",
        "jira.csv, sheet jira, row 4, column Due date: the open issue has no due date, so it cannot move its epic's "
        "forecast; it was not imported",
    ]


def test_split_exports_are_read_together_and_their_projects_merge() -> None:
    upload = accepted(jira(EPIC, name="jira page 1.csv"), jira(STORY, SUBTASK, name="jira page 2.csv"))
    assert upload.tables["tasks"]["milestone_id"].to_list() == ["RTE-1", "RTE-1"]
    assert upload.tables["projects"].height == 1
    assert {f.name: f.tables for f in upload.files} == {
        "jira page 1.csv": {"projects": 1, "milestones": 1, "links": 1},
        "jira page 2.csv": {"tasks": 2, "links": 1},
    }


def test_links_and_projects_given_by_the_template_win() -> None:
    links = csv_file("links.csv", "milestone_id,kpi_id,kpi_delta,value_per_week\nRTE-1,K-CPM,-0.1,5000\n")
    projects = csv_file(
        "projects.csv", "project_id,name,owner,sponsor\nRTE,Routing platform,Priya Raman,Dana Whitfield\n"
    )
    tables = accepted(jira(EPIC, STORY), links, projects).tables
    assert tables["links"].select("milestone_id", "kpi_id", "kpi_delta", "_file").rows() == [
        ("RTE-1", "K-CPM", -0.1, "links.csv"),
        ("RTE-1", "K-OTD", 0.0, "jira.csv"),
    ]
    assert tables["projects"].select("project_id", "sponsor").rows() == [("RTE", "Dana Whitfield")]


def test_blocks_links_between_epics_become_dependencies() -> None:
    text = (
        "Issue key,Issue Type,Summary,Project key,Assignee,Due date,Outward issue link (Blocks),"
        "Outward issue link (Blocks),Custom field (Epic Link)\n"
        "RTE-1,Epic,Licence,RTE,Ann,2026-05-15,RTE-2,,\n"
        "RTE-2,Epic,Go-live,RTE,Ann,2026-09-30,,,\n"
        "RTE-3,Epic,Console,RTE,Kofi,2026-10-30,,,\n"
        "RTE-4,Story,API,RTE,Kofi,2026-09-01,RTE-5,RTE-6,RTE-2\n"
        "RTE-5,Story,Training,RTE,Kofi,2026-10-01,,,RTE-3\n"
        "RTE-6,Story,Cut-over,RTE,Kofi,2026-09-10,,,RTE-2\n"
    )
    deps = accepted(csv_file("jira.csv", text)).tables["dependencies"]
    assert deps.select("predecessor_id", "successor_id", "lag_days").rows() == [
        ("RTE-1", "RTE-2", 0),
        ("RTE-2", "RTE-3", 0),
    ]


def test_an_epic_without_assignee_is_kept_for_governance() -> None:
    unassigned = EPIC.replace("Priya Raman,Priya Raman", "Priya Raman,")
    assert accepted(jira(unassigned)).tables["milestones"]["owner"].to_list() == [None]


def test_an_epic_without_due_date_is_a_problem() -> None:
    undated = EPIC.replace("30/Sep/26 12:00 AM", "")
    assert problem_lines(jira(undated)) == ["jira.csv, sheet jira, row 2, column Due date: a value is required here"]


def test_forced_source_names_missing_columns() -> None:
    lines = problem_lines(csv_file("export.csv", "Issue key,Issue Type\nX-1,Epic\n"), source="jira")
    assert lines == [
        "export.csv, sheet export, row -, column Project key: required column 'Project key' is missing",
        "export.csv, sheet export, row -, column Summary: required column 'Summary' is missing",
        "export.csv, sheet export, row -, column Assignee: required column 'Assignee' is missing",
        "export.csv, sheet export, row -, column Due date: required column 'Due date' is missing",
    ]


def test_sample_export() -> None:
    upload = accepted(*read_paths([SAMPLE_EXPORTS / "jira_routing.csv"]))
    assert upload.files[0].source == "jira"
    assert upload.files[0].tables == {"projects": 1, "milestones": 3, "tasks": 10, "dependencies": 2, "links": 3}
    assert len(upload.warnings) == 1
