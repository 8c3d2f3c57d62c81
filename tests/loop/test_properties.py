"""Properties of the loop on any sequence of uploads, runs and decisions (hypothesis)."""

from __future__ import annotations

import string
from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_engine.loop.items import open_items
from kpi_engine.loop.log import DECISIONS
from kpi_engine.loop.people import person_key, person_key_expr
from kpi_engine.loop.status import item_status

from .support import Loop

ITEMS = [
    ("M1", "K-CPM", None),
    ("M3", "K-OTD", None),
    ("M5", None, "several owners"),
    ("M6", None, "not tied to any KPI"),
]

upload = st.tuples(st.just("upload"), st.integers(min_value=0, max_value=15))
notify = st.tuples(st.just("notify"), st.just(0))
decide = st.tuples(
    st.just("decide"),
    st.tuples(st.sampled_from(ITEMS), st.sampled_from(DECISIONS), st.integers(min_value=0, max_value=20)),
)
steps = st.lists(st.one_of(upload, notify, decide), max_size=12)


def _run(loop: Loop, step: tuple) -> None:
    kind, value = step
    if kind == "upload":
        loop.upload(loop.as_of + timedelta(days=value))
    elif kind == "notify":
        loop.notify()
    else:
        (milestone, kpi, finding), decision, days = value
        extra: dict = {"finding": finding} if finding else {}
        if decision in ("recover", "workaround"):
            extra["due"] = loop.as_of + timedelta(days=days)
        loop.decide(milestone, kpi, decision, "Someone", **extra)


@settings(max_examples=40, deadline=None)
@given(steps)
def test_levels_stay_between_the_engines_and_3_and_a_run_leaves_nothing_due(sequence: list) -> None:
    loop = Loop()
    loop.upload(date(2026, 6, 15))
    for step in sequence:
        _run(loop, step)
        status = loop.status()
        assert (status["escalation_level"] >= status["engine_level"]).all()
        assert (status["escalation_level"] <= 3).all()
        # an item in hand is never sent: only an accepted one whose value grew could be
        assert status.filter(pl.col("in_hand") & pl.col("due") & (pl.col("decision") != "accept")).height == 0
    digests = loop.notify()
    assert sorted(d.person_key for d in digests) == sorted({d.person_key for d in digests})
    assert loop.status()["due"].sum() == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=8))
def test_without_decisions_levels_never_fall_while_the_data_stays_the_same(gaps: list[int]) -> None:
    loop = Loop()
    loop.upload(date(2026, 6, 15))
    loop.notify()
    levels = dict(loop.status().select("item", "escalation_level").iter_rows())
    for gap in gaps:
        loop.upload(loop.as_of + timedelta(days=gap))
        loop.notify()
        now = dict(loop.status().select("item", "escalation_level").iter_rows())
        assert all(now[item] >= level for item, level in levels.items() if item in now)
        levels = now


words = st.text(alphabet=string.ascii_letters + "-'", min_size=1, max_size=10).filter(lambda w: w.strip("-'"))


@settings(deadline=None)
@given(words, words, st.sampled_from([" ", "  ", "\t", " \n "]))
def test_last_comma_first_is_the_same_person_whatever_the_case_and_spacing(first: str, last: str, gap: str) -> None:
    assert person_key(f"{last},{gap}{first}") == person_key(f"{gap}{first.upper()}{gap}{last.lower()} ")


@settings(deadline=None)  # one name at a time goes through Polars: about a millisecond each
@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), max_size=20))
def test_the_column_and_the_single_name_rule_agree(names: list[str | None]) -> None:
    column = pl.DataFrame({"name": names}, schema={"name": pl.String}).select(person_key_expr(pl.col("name")))
    assert column.to_series().to_list() == [person_key(n) for n in names]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_each_item_keeps_its_order_and_the_key_of_the_person_it_reaches(data: st.DataObject) -> None:
    # the keys are computed once per distinct person and joined back: the same as row by row
    loop = Loop()
    loop.upload(date(2026, 6, 15))
    items = open_items(loop.result)
    names = st.one_of(st.none(), st.sampled_from(["Priya Raman", "raman,  priya", "Ann Lee / Bob Stone", " "]), words)
    reached = data.draw(st.lists(names, min_size=items.height, max_size=items.height))
    items = items.with_columns(pl.Series("escalate_to", reached, dtype=pl.String))
    status = item_status(items, loop.notifications, loop.decisions, loop.as_of, loop.ack_days)
    assert status["item"].to_list() == items["item"].to_list()
    assert status["escalate_to"].to_list() == reached  # no run yet: each item at the engine's level
    assert status["person_key"].to_list() == status.select(person_key_expr(pl.col("escalate_to"))).to_series().to_list()
