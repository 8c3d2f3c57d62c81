"""Governance findings and owner strings (DOMAIN.md section 2, rule 9)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from builders import fleet_portfolio, kpi, milestone, portfolio
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_engine.core.owners import owner_count, owner_problem, owner_problems, split_owner
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.engine.compute import compute
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


@pytest.mark.parametrize(
    ("owner", "people"),
    [
        pytest.param("Ann Lee, PhD, MBA", 1, id="credentials-after-commas"),
        pytest.param("Ann Lee, Ph.D.", 1, id="dotted-credential"),
        pytest.param("John Smith, Jr.", 1, id="suffix-jr"),
        pytest.param("Smith Jr., John", 1, id="surname-first-with-suffix"),
        pytest.param("Mary Jones, Sr.", 1, id="suffix-sr"),
        pytest.param("Henry Ford, III", 1, id="suffix-iii"),
        pytest.param("Smith, John", 1, id="surname-first"),
        pytest.param("Ann Lee, Bob Stone", 2, id="two-full-names"),
        pytest.param("Ann Lee, PhD, Bob Stone, MBA", 2, id="two-people-with-credentials"),
        pytest.param("Ann Lee, Bob Stone, Cy Doe", 3, id="three-full-names"),
        pytest.param("Lee, Ann / Stone, Bob", 2, id="two-surname-first"),
    ],
)
def test_credentials_and_suffixes_after_a_comma_are_part_of_one_name(owner, people):
    assert pl.select(owner_count(pl.lit(owner, dtype=pl.String))).item() == people


def test_a_link_to_an_unknown_kpi_drives_nothing():
    """M3's only link names K-XXX: M3 is a Red milestone with no KPI, tied to no KPI (regression)."""
    fleet = fleet_portfolio()
    links = fleet.links.with_columns(
        pl.when(pl.col("milestone_id") == "M3").then(pl.lit("K-XXX")).otherwise(pl.col("kpi_id")).alias("kpi_id")
    )
    result = compute(Portfolio.from_tables({**fleet.tables(), "links": links}, fleet.as_of))
    m3 = result.exceptions.filter(pl.col("milestone_id") == "M3")
    assert m3.select("kind", "kpi_id", "finding", "escalation_level", "escalate_to").sort("finding").rows() == [
        ("milestone", None, None, 2, "Marco Bellini"),  # Red, no KPI: the project's sponsor
        ("governance", None, "dangling id", 1, "Luis Ortega"),
        ("governance", None, "not tied to any KPI", 1, "Luis Ortega"),
    ]
    assert result.links.filter(pl.col("milestone_id") == "M3").height == 0
    assert result.milestone("M3")["value_at_risk"] == 0.0


def test_a_kpi_whose_only_link_comes_from_an_unknown_milestone_is_driven_by_no_work():
    fleet = fleet_portfolio()
    links = pl.concat(
        [
            fleet.links,
            pl.DataFrame({"milestone_id": ["M99"], "kpi_id": ["K-IDLE"]}).with_columns(
                pl.lit(0.0).alias("kpi_delta"), pl.lit(0.0).alias("ramp_days"), pl.lit(0.0).alias("value_per_week")
            ),
        ]
    )
    result = compute(Portfolio.from_tables({**fleet.tables(), "links": links}, fleet.as_of))
    idle = result.governance.filter(pl.col("kpi_id") == "K-IDLE")
    assert idle.select("subject", "subject_id", "finding").rows() == [
        ("kpi", "K-IDLE", "no work drives this KPI"),
        ("link", "M99 -> K-IDLE", "dangling id"),
    ]


_NAME_PARTS = st.sampled_from(["Ann", "Lee", "Bob Stone", "Smith", "John", "PhD", "M.B.A.", "Jr.", "Jo Park", ""])
_SEPARATORS = st.sampled_from([", ", " / ", " and ", "; ", ",", " & ", "\n"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_NAME_PARTS, _SEPARATORS), max_size=5))
def test_the_owner_rule_counts_and_names_the_same_people(pieces):
    """owner_count (a column expression) and split_owner (one string) are one rule written twice."""
    owner = "".join(name + separator for name, separator in pieces)
    counted = pl.select(owner_count(pl.lit(owner, dtype=pl.String))).item()
    assert counted == len(split_owner(owner))


_OWNER_TEXT = st.lists(
    st.one_of(_NAME_PARTS, _SEPARATORS, st.sampled_from([" ", "  ", "\t", "AND", " And ", "Sandra", "."])), max_size=6
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), _OWNER_TEXT.map("".join)), max_size=12))
def test_plain_names_checked_cheaply_give_the_findings_of_the_full_rule(owners):
    """owner_problems takes a short cut for plain names; every string gets owner_problem's answer."""
    column = pl.Series("owner", owners, dtype=pl.String)
    expected = pl.select(owner_problem(pl.lit(column))).to_series().to_list()
    assert owner_problems(column).to_list() == expected
