"""Real tool exports on top of the worked example: their projects and milestones keep the portfolio's ids."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from kpi_engine.analysis import analyse
from kpi_engine.ingest import SourceFile, read_paths, read_upload
from kpi_engine.store import RemovalsRefused, Store

from .support import SAMPLE_EXPORTS

FLEET = Path(__file__).resolve().parents[1] / "fixtures" / "fleet"


@pytest.fixture
def fleet(tmp_path: Path) -> Store:
    """The worked example (as of 2026-06-15) in a fresh database."""
    with Store.open(tmp_path / "kpi.duckdb") as store:
        store.ingest(read_upload(read_paths(sorted(FLEET.glob("*.csv")))), date(2026, 6, 15))
        yield store


def driver_app(rename: dict[str, str]) -> SourceFile:
    """The sample MS Project export of the Driver app project, with milestones renamed as in ``rename``."""
    text = (SAMPLE_EXPORTS / "msproject_driver_app.csv").read_text()
    for old, new in rename.items():
        text = text.replace(old, new)
    return SourceFile("msproject_driver_app.csv", text.encode())


def test_the_sample_ms_project_export_would_remove_m3_and_says_what_it_disconnects(fleet):
    value = analyse(fleet).link("M3", "K-OTD")["value_at_risk"]
    upload = read_upload([driver_app({})])
    with pytest.raises(RemovalsRefused) as refused:
        fleet.ingest(upload, date(2026, 6, 22), allow_removals=False)
    removals = refused.value.removals
    assert removals.select("milestone_id", "project_id", "kpi_ids", "value_per_week").rows() == [
        ("M3", "P-DRV", ["K-OTD"], 20000.0)
    ]
    from kpi_engine.analysis import removal_values

    assert removal_values(fleet, removals, refused.value.base)["value_at_risk"].to_list() == [value]
    assert fleet.snapshot_ids() == [1]


def test_an_exported_milestone_with_the_portfolio_name_keeps_its_id_link_and_value(fleet):
    # the plan's go-live milestone is the portfolio's "Driver app rollout" (spelled the tool's way)
    upload = read_upload([driver_app({"App live for all drivers": "driver app  ROLLOUT"})])
    result = fleet.ingest(upload, date(2026, 6, 22), allow_removals=False)
    assert result.removals.height == 0
    assert result.identity.projects.select("project_id", "how").rows() == [("P-DRV", "matched by id")]
    kept = result.identity.milestones.filter(pl.col("how") != "new")
    assert kept.select("tool_key", "milestone_id", "how").rows() == [("P-DRV-14", "M3", "same name")]
    after = analyse(fleet)
    link = after.link("M3", "K-OTD")
    # the export's dates (baseline 2026-09-25, forecast 2026-10-13) now drive M3 and its value at risk
    m3 = after.milestone("M3")
    assert (m3["baseline_finish"], m3["computed_finish"]) == (date(2026, 9, 25), date(2026, 10, 13))
    assert link["value_at_risk"] == pytest.approx(20000 / 7 * 18, abs=0.01)
    assert after.governance.filter(pl.col("finding") == "dangling id").height == 0

    # next week the tool's name drifts; the key it came with keeps it M3
    renamed = read_upload([driver_app({"App live for all drivers": "Driver app live (all regions)"})])
    again = fleet.ingest(renamed, date(2026, 6, 29), allow_removals=False)
    assert again.identity.milestones.filter(pl.col("milestone_id") == "M3")["how"].to_list() == ["tool key"]
    assert fleet.load_portfolio().milestones.filter(pl.col("milestone_id") == "M3")["name"].to_list() == [
        "Driver app live (all regions)"
    ]


def test_a_jira_export_of_a_new_project_creates_it_with_its_lead(fleet):
    result = fleet.ingest(read_upload(read_paths([SAMPLE_EXPORTS / "jira_routing.csv"])), date(2026, 6, 22))
    assert result.identity.projects.select("export_project", "project_id", "owner", "how").rows() == [
        ("RTE", "RTE", "Priya Raman", "created")
    ]
    project = fleet.load_portfolio().projects.filter(pl.col("project_id") == "RTE")
    assert project.select("name", "owner").rows() == [("Fleet routing platform", "Priya Raman")]


def test_a_jira_export_named_like_a_portfolio_project_joins_it_and_keeps_its_row(fleet):
    text = (
        (SAMPLE_EXPORTS / "jira_routing.csv")
        .read_text()
        .replace("Fleet routing platform", "fleet routing  OPTIMIZATION")
    )
    upload = read_upload([SourceFile("jira_routing.csv", text.encode())])
    result = fleet.ingest(upload, date(2026, 6, 22), allow_removals=True)
    assert result.identity.projects.select("export_project", "project_id", "how").rows() == [
        ("RTE", "P-ROUTE", "matched by name")
    ]
    projects = fleet.load_portfolio().projects
    assert "RTE" not in projects["project_id"].to_list()
    # the portfolio's row (owner, sponsor, budget) is kept, not the export's
    assert projects.filter(pl.col("project_id") == "P-ROUTE").select("name", "sponsor", "budget").rows() == [
        ("Fleet routing optimization", "Dana Whitfield", 1200000.0)
    ]
    assert ids_of(result.removals) == ["M1"]


def ids_of(frame: pl.DataFrame) -> list[str]:
    return sorted(frame["milestone_id"].to_list())
