"""Frames the dashboard prepares once per snapshot give what the engine's own views give."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from kpi_engine.analysis import analyse, snapshot_reports
from kpi_engine.engine.credibility import REPORT_SCHEMA, report_rows, reporting_sentences
from kpi_engine.engine.page_views import PERSON_KEYS, reports_naming, with_person_keys
from kpi_engine.sample import load_sample
from kpi_engine.store import Store

#: Owner strings as exports spell them: one person several ways, two people, credentials, blanks.
OWNERS = [
    "Priya Raman",
    "Raman, Priya",
    "priya  raman",
    "Ann Lee / Bob Stone",
    "Bob Stone",
    "Ann Lee, PhD",
    "Ann Lee, Bob Stone and Jo Park",
    "Jo Park",
    "",
    "   ",
]


def _reports(rows: list[tuple[int, str | None, bool]]) -> pl.DataFrame:
    """Reports of milestone M<i> in week ``week`` with an owner and a watermelon flag."""
    start = date(2026, 4, 27)
    return pl.DataFrame(
        {
            "snapshot_id": [week + 1 for week, _, _ in rows],
            "as_of": [start + timedelta(weeks=week) for week, _, _ in rows],
            "milestone_id": [f"M{i}" for i in range(len(rows))],
            "milestone_name": [f"Milestone {i}" for i in range(len(rows))],
            "project_id": ["P1"] * len(rows),
            "project_name": ["Project"] * len(rows),
            "program": [None] * len(rows),
            "owner": [owner for _, owner, _ in rows],
            "reported_status": ["Green"] * len(rows),
            "computed_status": ["Red" if melon else "Green" for _, _, melon in rows],
            "watermelon": [melon for _, _, melon in rows],
        },
        schema=REPORT_SCHEMA,
    )


report_rows_strategy = st.lists(
    st.tuples(st.integers(0, 15), st.one_of(st.none(), st.sampled_from(OWNERS)), st.booleans()), max_size=60
)


@settings(max_examples=60, deadline=None)
@given(rows=report_rows_strategy, owner=st.one_of(st.none(), st.sampled_from(OWNERS)))
def test_sentences_from_the_reports_naming_an_owner_equal_those_from_every_report(rows, owner):
    reports = _reports(rows)
    named = reports_naming(with_person_keys(reports), owner)
    assert reporting_sentences(named, owner) == reporting_sentences(reports, owner)
    assert named.columns == reports.columns


def test_spellings_of_one_person_share_a_key_and_blank_owners_name_nobody():
    indexed = with_person_keys(_reports([(0, "Raman, Priya", True), (1, "priya  raman", False), (2, "  ", False)]))
    assert indexed[PERSON_KEYS].to_list() == [["priya raman"], ["priya raman"], []]
    assert reports_naming(indexed, "Priya Raman")["milestone_id"].to_list() == ["M0", "M1"]
    assert reports_naming(indexed, None).height == 0


def test_two_owners_pick_the_reports_of_either():
    indexed = with_person_keys(
        _reports([(0, "Ann Lee / Bob Stone", True), (1, "Bob Stone", False), (2, "Jo Park", True)])
    )
    assert reports_naming(indexed, "Bob Stone")["milestone_id"].to_list() == ["M0", "M1"]
    assert reports_naming(indexed, "Jo Park and Ann Lee")["milestone_id"].to_list() == ["M0", "M2"]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    with Store.open(tmp_path_factory.mktemp("page_views") / "kpi.duckdb") as store:
        load_sample(store)
        yield store


def test_reports_of_a_result_computed_with_its_previous_snapshot_equal_a_snapshot_computed_alone(sample_store):
    # the dashboard takes the reports of the snapshot shown from its cached result (computed with
    # the previous snapshot as context) instead of computing the snapshot again on its own
    latest, previous = sample_store.snapshot_ids()[-1], sample_store.snapshot_ids()[-2]
    before = analyse(sample_store, previous)
    shown = analyse(sample_store, latest, previous=before)
    assert_frame_equal(report_rows(shown, latest), snapshot_reports(sample_store, latest))
    assert_frame_equal(report_rows(before, previous), snapshot_reports(sample_store, previous))
