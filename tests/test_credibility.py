"""Reporting credibility (DOMAIN.md section 7 rule 2) over the worked example uploaded three weeks running."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from builders import FLEET_DIR, fleet_portfolio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from strategies import portfolios

from kpi_engine.analysis import credibility_of_store, report_history
from kpi_engine.engine.compute import compute
from kpi_engine.engine.credibility import by_person, credibility, report_rows, reporting_sentences, watermelon_weeks
from kpi_engine.ingest import read_paths, read_upload
from kpi_engine.store import Store

WEEKS = [date(2026, 6, 15), date(2026, 6, 22), date(2026, 6, 29)]


@pytest.fixture(scope="module")
def three_weeks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worked example's CSV files uploaded as of 2026-06-15, 06-22 and 06-29."""
    path = tmp_path_factory.mktemp("credibility") / "kpi.duckdb"
    files = read_paths(sorted(str(p) for p in FLEET_DIR.glob("*.csv")))
    with Store.open(path) as store:
        for as_of in WEEKS:
            store.ingest(read_upload(files), as_of)
    return path


def test_worked_example_three_weeks_per_person(three_weeks):
    with Store.open(three_weeks) as store:
        table = credibility_of_store(store)
    rows = {person: (reports, melons) for person, reports, melons, _ in table.iter_rows()}
    assert rows["Priya Raman"] == (3, 3)
    assert rows["Luis Ortega"] == (3, 3)
    assert rows["Jo Park"] == (3, 0)
    assert table.filter(pl.col("person") == "Jo Park")["credibility"].item() == 1.0
    assert table.filter(pl.col("person") == "Priya Raman")["credibility"].item() == 0.0
    # ranked: most watermelons first
    assert table["person"].to_list()[:2] == ["Luis Ortega", "Priya Raman"]


def test_a_milestone_with_two_owners_counts_for_each(three_weeks):
    with Store.open(three_weeks) as store:
        table = credibility_of_store(store)
    people = set(table["person"].to_list())
    assert {"Ann Lee", "Bob Stone"} <= people
    assert "Ann Lee / Bob Stone" not in people
    # finished milestones (M2, M4) give no reports
    assert not {"Tom Becker", "Mei Chen"} & people


def test_history_stops_at_the_snapshot_shown(three_weeks):
    with Store.open(three_weeks) as store:
        second = store.snapshot_ids()[1]
        table = credibility_of_store(store, second)
    assert table.filter(pl.col("person") == "Priya Raman").select("reports", "watermelons").row(0) == (2, 2)


def test_per_project_and_per_program(three_weeks):
    with Store.open(three_weeks) as store:
        reports = report_history(store)
    projects = credibility(reports, "project")
    assert projects.columns == ["project_id", "project_name", "reports", "watermelons", "credibility"]
    assert projects["reports"].sum() == reports.height
    programs = credibility(reports, "program")
    assert programs["watermelons"].sum() == reports["watermelon"].sum() == 6


def test_drill_down_sentence_speaks_of_reports(three_weeks):
    with Store.open(three_weeks) as store:
        reports = report_history(store)
    assert reporting_sentences(reports, "Priya Raman") == [
        "Priya Raman's reports were better than computed in 3 of the last 3 weeks."
    ]
    assert reporting_sentences(reports, "Ann Lee / Bob Stone") == [
        "Ann Lee's reports were better than computed in 0 of the last 3 weeks.",
        "Bob Stone's reports were better than computed in 0 of the last 3 weeks.",
    ]
    assert reporting_sentences(reports, "Nobody Known") == []


def test_watermelon_weeks_for_small_multiples(three_weeks):
    with Store.open(three_weeks) as store:
        weeks = watermelon_weeks(report_history(store))
    priya = weeks.filter(pl.col("person") == "Priya Raman")
    assert priya["as_of"].to_list() == WEEKS
    assert priya["watermelons"].to_list() == [1, 1, 1]


def test_unknown_status_and_spellings_of_one_person():
    result = compute(fleet_portfolio())
    milestones = result.milestones.with_columns(
        pl.when(pl.col("milestone_id") == "M3")
        .then(pl.lit("Unknown"))
        .otherwise(pl.col("reported_status"))
        .alias("reported_status"),
        pl.when(pl.col("milestone_id") == "M6").then(pl.lit("Park, Jo")).otherwise(pl.col("owner")).alias("owner"),
    )
    from dataclasses import replace

    reports = pl.concat([report_rows(result, 1), report_rows(replace(result, milestones=milestones), 2)])
    table = credibility(reports)
    assert table.filter(pl.col("person") == "Luis Ortega")["reports"].item() == 1  # Unknown is no report
    assert table.filter(pl.col("person") == "Jo Park")["reports"].item() == 2  # "Park, Jo" is Jo Park


def test_per_project_the_name_is_that_of_the_latest_snapshot_of_the_latest_date():
    # two uploads of one date: the second (a higher snapshot id) renamed the project; its name wins
    # even when its reports come first
    from dataclasses import replace

    result = compute(fleet_portfolio())
    renamed = result.milestones.with_columns(pl.lit("Renamed project").alias("project_name"))
    reports = pl.concat([report_rows(replace(result, milestones=renamed), 2), report_rows(result, 1)])
    assert set(credibility(reports, by="project")["project_name"]) == {"Renamed project"}


def test_no_reports_gives_an_empty_table():
    empty = credibility(report_rows(compute(fleet_portfolio()), 1).head(0))
    assert_frame_equal(
        empty,
        pl.DataFrame(
            schema={"person": pl.String, "reports": pl.Int64, "watermelons": pl.Int64, "credibility": pl.Float64}
        ),
    )


def test_a_date_uploaded_twice_counts_once(tmp_path):
    files = read_paths(sorted(str(p) for p in FLEET_DIR.glob("*.csv")))
    with Store.open(tmp_path / "kpi.duckdb") as store:
        for as_of in WEEKS:
            store.ingest(read_upload(files), as_of)
        # a correction of the last week: a second snapshot of 2026-06-29
        store.ingest(read_upload(read_paths([str(FLEET_DIR / "milestones.csv")])), WEEKS[-1])
        assert len(store.snapshot_ids()) == 4
        table = credibility_of_store(store)
    assert table.filter(pl.col("person") == "Priya Raman").select("reports", "watermelons").row(0) == (3, 3)


# ------------------------------------------------------------------ by person, one split per distinct owner
def _by_person_row_by_row(reports: pl.DataFrame) -> pl.DataFrame:
    """The rule written out report by report: every report's owner split on its own."""
    from kpi_engine.core.owners import owner_names, person_key_expr

    exploded = (
        reports.with_columns(owner_names(pl.col("owner")).alias("person"))
        .explode("person")
        .filter(pl.col("person").is_not_null())
        .with_columns(person_key_expr(pl.col("person")).alias("person_key"))
    )
    shown = (
        exploded.sort("as_of", "snapshot_id", maintain_order=True)
        .group_by("person_key")
        .agg(pl.col("person").last().alias("_shown"))
    )
    return exploded.join(shown, on="person_key").with_columns(pl.col("_shown").alias("person")).drop("_shown")


#: Owner spellings a PMO's files hold: one person several ways, several people, credentials, blanks.
OWNER_SPELLINGS = [
    "Priya Raman",
    "priya  raman",
    "Raman, Priya",
    "Ann Lee / Bob Stone",
    "Ann Lee, Bob Stone and Jo Park",
    "Lee, Ann",
    "Ann Lee, PhD, MBA",
    "Jo Park; jo park",
    "",
    "   ",
    None,
    "PhD",
    "Smith, John & Ann Lee",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios(), st.data())
def test_by_person_splits_each_distinct_owner_as_every_report_alone(portfolio, data):
    result = compute(portfolio)
    weeks = data.draw(st.integers(1, 3))
    frames = []
    for week in range(weeks):
        reports = report_rows(result, week + 1).with_columns(pl.col("as_of") + pl.duration(days=7 * week))
        owners = data.draw(st.lists(st.sampled_from(OWNER_SPELLINGS), min_size=reports.height, max_size=reports.height))
        frames.append(reports.with_columns(pl.Series("owner", owners, dtype=pl.String)))
    reports = pl.concat(frames)
    split_once = by_person(reports)
    assert_frame_equal(split_once, _by_person_row_by_row(reports), check_row_order=False)
    # the tables built on it agree as well, whether given the split or not
    assert_frame_equal(credibility(reports, people=split_once), credibility(reports))
    assert_frame_equal(watermelon_weeks(reports, people=split_once), watermelon_weeks(reports))
