"""The Upload page says which projects the exports belong to and asks before removing milestones."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from app_helpers import no_errors, table

from kpi_engine.analysis import analyse
from kpi_engine.store import Store

ROOT = Path(__file__).resolve().parents[2]
DRIVER_APP = ROOT / "data" / "sample" / "exports" / "msproject_driver_app.csv"


def depot_plan() -> bytes:
    """The Driver app plan as the export of a project the portfolio lacks (named by its summary task, ID 0)."""
    header, _summary, *rows = DRIVER_APP.read_text().splitlines()
    summary = "0,0,Depot electrification,162 days,Mon 3/2/26,Tue 10/13/26,,0,Yes,No,Mon 3/2/26,Fri 9/25/26,NA,38%,"
    return ("\n".join([header.rsplit(",", 1)[0], summary, *(r.rsplit(",", 1)[0] for r in rows)]) + "\n").encode()


def test_an_export_that_removes_a_milestone_needs_confirmation(open_app, writable_db):
    with Store.open(writable_db) as store:
        value = analyse(store).link("M3", "K-OTD")["value_at_risk"]
    at = open_app(writable_db, "pages/upload.py")
    at.file_uploader[0].set_value([(DRIVER_APP.name, DRIVER_APP.read_bytes(), "text/csv")])
    at.date_input(key="up_as_of").set_value(date(2026, 6, 22))
    at.run()
    assert no_errors(at), [e.value for e in (*at.exception, *at.error)]
    projects = table(at, "export_project", "how")
    assert projects[["export_project", "how", "project_id"]].values.tolist() == [["P-DRV", "matched by id", "P-DRV"]]
    removed = table(at, "milestone_id", "kpi_ids", "value_at_risk")
    assert removed[["milestone_id", "kpi_ids"]].values.tolist() == [["M3", "K-OTD"]]
    assert removed["value_at_risk"].tolist() == [value]
    assert any("removes 1 milestone(s)" in w.value for w in at.warning)
    assert at.button(key="up_commit").disabled

    at.checkbox(key="up_confirm_removals").check().run()
    assert not at.button(key="up_commit").disabled
    at.button(key="up_commit").click().run()
    assert no_errors(at)
    assert any("Stored snapshot 9" in s.value for s in at.success)
    with Store.open(writable_db) as store:
        assert "M3" not in store.load_portfolio(9).milestones["milestone_id"].to_list()


def test_an_export_of_a_new_project_is_created_or_attached_with_the_picker(open_app, writable_db):
    at = open_app(writable_db, "pages/upload.py")
    at.file_uploader[0].set_value([("depot.csv", depot_plan(), "text/csv")])
    at.date_input(key="up_as_of").set_value(date(2026, 6, 22))
    at.run()
    assert no_errors(at), [e.value for e in (*at.exception, *at.error)]
    projects = table(at, "export_project", "how")
    assert projects[["export_project", "how", "project_id"]].values.tolist() == [
        ["Depot electrification", "created", "Depot electrification"]
    ]
    assert any("1 project(s) will be created with no owner: Depot electrification" in w.value for w in at.warning)
    assert not at.button(key="up_commit").disabled  # nothing is removed

    at.selectbox(key="up_attach_0").set_value("P-WH").run()
    projects = table(at, "export_project", "how")
    assert projects[["how", "project_id"]].values.tolist() == [["chosen", "P-WH"]]
    # the warehouse project's milestones are not in this plan: committing needs the confirmation
    assert at.button(key="up_commit").disabled
    at.selectbox(key="up_attach_0").set_value("(as the export names it)").run()
    at.button(key="up_commit").click().run()
    assert no_errors(at)
    with Store.open(writable_db) as store:
        projects_now = store.load_portfolio().projects
    assert projects_now.filter(pl.col("project_id") == "Depot electrification")["owner"].to_list() == [None]


def test_the_drill_down_of_a_project_with_no_owner_shows_the_project(writable_db, monkeypatch):
    from app_helpers import APP, TIMEOUT, html_text
    from streamlit.testing.v1 import AppTest

    from kpi_engine.ingest import SourceFile, read_upload

    with Store.open(writable_db) as store:
        store.ingest(read_upload([SourceFile("depot.csv", depot_plan())]), date(2026, 6, 22))
        depot = store.load_portfolio().milestones.filter(pl.col("project_id") == "Depot electrification")
    monkeypatch.setenv("KPI_DB", str(writable_db))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/exceptions.py")
    # the link a digest or a shared address gives to the finding
    at.query_params.update({"item": "Depot electrification", "finding": "project has no owner"})
    at.run()
    assert no_errors(at), [e.value for e in (*at.exception, *at.error)]
    picker = at.selectbox(key="drill_row")
    assert picker.format_func(picker.value) == "Depot electrification: project has no owner"
    assert not [label for label in picker.options if label.startswith("?")]
    notices = " ".join(i.value for i in at.info)
    assert "does not exist" not in notices
    shown = html_text(at)
    assert "Project Depot electrification has no owner: 4 milestones" in shown
    assert "upload a projects sheet with the row of project &#x27;Depot electrification&#x27;" in shown
    milestones = table(at, "milestone_id", "name", "computed_status", "slip_days")
    assert sorted(milestones["milestone_id"]) == sorted(depot["milestone_id"].to_list())
