"""Governance findings and owner strings (DOMAIN.md section 2, rule 9)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from builders import kpi, milestone, portfolio

from kpi_engine.core.owners import owner_count
from kpi_engine.engine.governance import governance_findings


@pytest.mark.parametrize(
    ("owner", "people"),
    [
        ("Priya Raman", 1),
        ("Smith, John", 1),
        ("Ann Lee, Bob Stone", 2),
        ("Ann Lee / Bob Stone", 2),
        ("Ann Lee; Bob Stone", 2),
        ("Ann & Bob", 2),
        ("Ann+Bob", 2),
        ("Ann | Bob", 2),
        ("Ann\nBob", 2),
        ("Ann Lee and Bob Stone", 2),
        ("Sandra Anderson", 1),
        ("", 0),
        (None, 0),
        ("   ", 0),
    ],
)
def test_owner_count(owner, people):
    assert pl.select(owner_count(pl.lit(owner, dtype=pl.String))).item() == people


def test_findings_cover_owners_orphans_and_dangling_ids():
    p = portfolio(
        milestones=[milestone("A", date(2026, 8, 1), owner=""), milestone("B", date(2026, 8, 1), owner="Smith, John")],
        kpis=[kpi("K", owner="Ann Lee, Bob Stone"), kpi("IDLE")],
        links=[
            {"milestone_id": "B", "kpi_id": "K"},
            {"milestone_id": "B", "kpi_id": "NOPE"},
            {"milestone_id": "GHOST", "kpi_id": "K"},
        ],
        tasks=[{"task_id": "T9", "milestone_id": "LOST", "name": "t", "forecast_finish": date(2026, 7, 1)}],
        dependencies=[{"predecessor_id": "A", "successor_id": "ZZ"}],
    )
    got = {(r["subject"], r["subject_id"], r["finding"]) for r in governance_findings(p).iter_rows(named=True)}
    assert got == {
        ("milestone", "A", "no owner"),
        ("milestone", "A", "not tied to any KPI"),
        ("kpi", "K", "several owners"),
        ("kpi", "IDLE", "no work drives this KPI"),
        ("link", "B -> NOPE", "dangling id"),
        ("link", "GHOST -> K", "dangling id"),
        ("task", "T9", "dangling id"),
        ("dependency", "A -> ZZ", "dangling id"),
    }


def test_dangling_findings_point_only_at_what_exists():
    p = portfolio(
        milestones=[milestone("A", date(2026, 8, 1)), milestone("B", date(2026, 8, 1))],
        kpis=[kpi("K")],
        links=[
            {"milestone_id": "B", "kpi_id": "K"},
            {"milestone_id": "B", "kpi_id": "NOPE"},
            {"milestone_id": "GHOST", "kpi_id": "K"},
            {"milestone_id": "GHOST", "kpi_id": "NOPE"},
        ],
        dependencies=[
            {"predecessor_id": "A", "successor_id": "ZZ"},
            {"predecessor_id": "YY", "successor_id": "B"},
            {"predecessor_id": "YY", "successor_id": "ZZ"},
        ],
    )
    dangling = governance_findings(p).filter(pl.col("finding") == "dangling id")
    got = sorted(
        (r["subject_id"], r["milestone_id"] or "-", r["kpi_id"] or "-", r["detail"].rsplit(" ", 1)[-1])
        for r in dangling.iter_rows(named=True)
    )
    assert got == [
        ("A -> ZZ", "A", "-", "'ZZ'"),
        ("B -> NOPE", "B", "-", "'NOPE'"),
        ("GHOST -> K", "-", "K", "'GHOST'"),
        ("GHOST -> NOPE", "-", "-", "'GHOST'"),
        ("GHOST -> NOPE", "-", "-", "'NOPE'"),
        ("YY -> B", "B", "-", "'YY'"),
        ("YY -> ZZ", "-", "-", "'YY'"),
        ("YY -> ZZ", "-", "-", "'ZZ'"),
    ]
