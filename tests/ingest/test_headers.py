"""Header and sheet-name matching."""

from __future__ import annotations

import pytest

from kpi_engine.core.schema import TABLES
from kpi_engine.ingest.headers import HEADER_KEYS, SYNONYMS, match_columns, normalise_header, table_for_name


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Milestone ID", "milestoneid"),
        ("milestone_id", "milestoneid"),
        (" MILESTONE-ID ", "milestoneid"),
        ("% Complete", "percentcomplete"),
        ("Lag (days)", "lagdays"),
    ],
)
def test_normalise_ignores_case_spaces_and_punctuation(header: str, key: str) -> None:
    assert normalise_header(header) == key


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("milestones", "milestones"),
        ("Milestones", "milestones"),
        ("KPI Actuals", "kpi_actuals"),
        ("kpi actuals", "kpi_actuals"),
        ("kpi-actuals", "kpi_actuals"),
        ("Links", "links"),
        ("Sheet1", None),
    ],
)
def test_table_names(name: str, table: str | None) -> None:
    assert table_for_name(name) == table


def test_synonyms_mean_the_table_they_sit_in() -> None:
    # "Due Date" is a milestone's baseline but a task's forecast
    assert HEADER_KEYS["milestones"]["duedate"] == "baseline_finish"
    assert HEADER_KEYS["tasks"]["duedate"] == "forecast_finish"
    assert HEADER_KEYS["milestones"]["assignee"] == "owner"
    assert HEADER_KEYS["milestones"]["forecast"] == "forecast_finish"
    assert HEADER_KEYS["kpis"]["target"] == "target_value"


def test_every_synonym_table_and_column_exists() -> None:
    for table, columns in SYNONYMS.items():
        assert set(columns) <= set(TABLES[table])


def test_match_reports_two_headers_for_one_column() -> None:
    matched, clashes = match_columns("milestones", ("Milestone ID", "Owner", "Assignee", None, "Notes"))
    assert matched == {"milestone_id": "c0", "owner": "c1"}
    assert clashes == {"owner": ["Owner", "Assignee"]}
