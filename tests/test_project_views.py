"""The drill-down of a finding on a project: the project, its milestones and what closes the finding."""

from __future__ import annotations

from datetime import date

import polars as pl
from builders import kpi, milestone, portfolio

from kpi_engine.engine.compute import compute
from kpi_engine.engine.project_views import PROJECT_MILESTONE_COLUMNS, project_finding, project_title


def depot(owner: str | None = None):
    """Project P-DEP (Depot electrification) with two milestones, one late; project P beside it."""
    return compute(
        portfolio(
            projects=[
                {"project_id": "P", "name": "Project P", "owner": "Pat Owner", "sponsor": "Sue Sponsor"},
                {"project_id": "P-DEP", "name": "Depot electrification", "program": "Decarbonisation", "owner": owner},
            ],
            milestones=[
                milestone("D2", date(2026, 9, 1), project_id="P-DEP"),
                milestone("D1", date(2026, 7, 1), project_id="P-DEP", forecast_finish=date(2026, 7, 20)),
                milestone("M1", date(2026, 9, 1)),
            ],
            kpis=[kpi("K1")],
            links=[
                {"milestone_id": m, "kpi_id": "K1", "kpi_delta": -0.1, "value_per_week": 700.0} for m in ("D1", "M1")
            ],
        )
    )


def test_the_project_of_a_finding_comes_with_its_milestones_and_no_owner():
    result = depot()
    view = project_finding(result, "P-DEP")
    assert view is not None
    assert (view.project_id, view.name, view.owner, view.program) == (
        "P-DEP",
        "Depot electrification",
        None,
        "Decarbonisation",
    )
    assert view.title == "P-DEP Depot electrification"
    assert view.milestones.columns == PROJECT_MILESTONE_COLUMNS
    # its own milestones only, the earliest computed finish first
    assert view.milestones["milestone_id"].to_list() == ["D1", "D2"]
    assert view.milestones.filter(pl.col("milestone_id") == "D1")["slip_days"].item() == 19
    assert view.late == 1
    d1 = result.milestone("D1")["value_at_risk"]
    assert d1 > 0
    assert view.value_at_risk == d1
    assert view.headline("USD") == (
        f"Project P-DEP Depot electrification (Decarbonisation) has no owner: 2 milestones, 1 late, "
        f"{d1:,.0f} USD of value at risk."
    )


def test_a_milestone_done_late_is_not_counted_late():
    done = compute(
        portfolio(
            projects=[{"project_id": "P-DEP", "name": "Depot electrification"}],
            milestones=[
                milestone("D1", date(2026, 5, 1), project_id="P-DEP", actual_finish=date(2026, 5, 4)),
                milestone("D2", date(2026, 7, 1), project_id="P-DEP", forecast_finish=date(2026, 7, 20)),
            ],
        )
    )
    view = project_finding(done, "P-DEP")
    assert view is not None
    slips = dict(view.milestones.select("milestone_id", "slip_days").iter_rows())
    assert slips == {"D1": 3, "D2": 19}  # both finish after their baseline ...
    assert view.late == 1  # ... but only the open one is late
    assert "2 milestones, 1 late" in view.headline("USD")


def test_what_to_do_names_the_project_and_how_to_give_it_an_owner():
    steps = project_finding(depot(), "P-DEP").what_to_do()
    assert "projects sheet with the row of project 'P-DEP' giving its owner" in steps[0]
    assert any("no sponsor" in s for s in steps)


def test_a_project_with_an_owner_says_who():
    view = project_finding(depot(owner="Kofi Mensah"), "P-DEP")
    assert "has owner Kofi Mensah" in view.headline("EUR")
    assert view.what_to_do() == ["The project's owner is Kofi Mensah; the finding closes with the next snapshot."]


def test_a_project_the_snapshot_lacks_gives_none():
    assert project_finding(depot(), "P-GONE") is None


def test_a_project_is_named_by_its_id_then_its_name_when_the_name_says_more():
    assert project_title("RTE", "Fleet routing platform") == "RTE Fleet routing platform"
    assert project_title("Depot build", "Depot build") == "Depot build"
    assert project_title("P-9", None) == "P-9"
