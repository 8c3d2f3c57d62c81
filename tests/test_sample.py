"""Loading the bundled sample portfolio: one snapshot per week, oldest first."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kpi_engine.core.errors import InputError
from kpi_engine.sample import SAMPLE_DIR, load_sample, sample_weeks
from kpi_engine.store import Store

WEEKS = [date(2026, 4, 27) + timedelta(weeks=k) for k in range(8)]


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "kpi.duckdb") as opened:
        yield opened


def test_sample_weeks_are_in_date_order():
    assert [as_of for as_of, _ in sample_weeks()] == WEEKS


def test_sample_loads_one_snapshot_per_week(store):
    results = load_sample(store)
    assert [r.as_of for r in results] == WEEKS
    assert not any(r.unchanged for r in results)
    snapshots = store.snapshots()
    assert snapshots["as_of"].to_list() == WEEKS
    assert set(snapshots["author"]) == {"sample"}
    # Week 1 is the portfolio folder plus the first week's files; later weeks come alone.
    assert "projects.csv" in snapshots["files"][0] and "projects.csv" not in snapshots["files"][1]
    # Weekly uploads are partial, yet every snapshot holds the whole portfolio.
    assert snapshots["rows"].struct.field("projects").to_list() == [40] * 8
    assert results[-1].rows["milestones"] == store.load_portfolio().milestones.height


def test_loading_the_sample_again_stores_nothing(store):
    load_sample(store)
    again = load_sample(store)
    assert all(r.unchanged for r in again)
    assert len(store.snapshot_ids()) == 8


def test_a_folder_without_weeks_is_not_a_sample(tmp_path):
    with pytest.raises(InputError, match="is not a sample portfolio"):
        sample_weeks(tmp_path)


def test_sample_dir_is_the_bundled_one():
    assert (SAMPLE_DIR / "portfolio").is_dir()
