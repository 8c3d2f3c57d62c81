"""DOMAIN.md section 6 on the worked example, without a server: who hears what, and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import polars as pl

from .support import Loop, received

JUNE_15, JUNE_22, JULY_6 = date(2026, 6, 15), date(2026, 6, 22), date(2026, 7, 6)


def test_first_run_tells_each_person_their_own_items() -> None:
    loop = Loop()
    loop.upload(JUNE_15)
    assert received(loop.notify()) == {
        "Ann Lee": [("M5", 1, "new")],
        "Dana Whitfield": [("M1", 3, "new")],
        "Jo Park": [("M6", 1, "new")],
        "Marco Bellini": [("M3", 2, "new")],
        "Sam Okafor": [("K-IDLE", 2, "new")],
    }


def test_a_second_run_with_nothing_new_sends_nothing() -> None:
    loop = Loop()
    loop.upload(JUNE_15)
    loop.notify()
    assert loop.notify() == []


def test_a_week_later_undecided_items_climb_and_a_decided_one_rests() -> None:
    loop = Loop()
    loop.upload(JUNE_15)
    loop.notify()
    loop.decide("M3", "K-OTD", "recover", "Marco Bellini", due=date(2026, 6, 29))
    loop.upload(JUNE_22)
    assert received(loop.notify()) == {
        "Dana Whitfield": [
            ("M1", 3, "reminder"),
            ("K-IDLE", 3, "higher level"),
            ("M5", 2, "higher level"),
            ("M6", 2, "higher level"),
        ]
    }
    roles = loop.status().select("finding", "escalate_role").drop_nulls().rows()
    assert sorted(roles) == [
        ("no work drives this KPI", "objective owner"),
        ("not tied to any KPI", "sponsor"),
        ("several owners", "sponsor"),
    ]


def test_an_overdue_decision_goes_back_to_its_person_once() -> None:
    loop = Loop()
    loop.upload(JUNE_15)
    loop.notify()
    loop.decide("M3", "K-OTD", "recover", "Marco Bellini", due=date(2026, 6, 29))
    loop.upload(JUNE_22)
    loop.notify()
    loop.upload(JULY_6)
    got = received(loop.notify())
    assert got["Marco Bellini"] == [("M3", 3, "overdue")]
    # Dana: M1 and K-IDLE at level 3 are reminded every week, M5 and M6 climbed to level 3
    assert sorted(got["Dana Whitfield"]) == [
        ("K-IDLE", 3, "reminder"),
        ("M1", 3, "reminder"),
        ("M5", 3, "higher level"),
        ("M6", 3, "higher level"),
    ]
    loop.upload(date(2026, 7, 7))
    assert "Marco Bellini" not in received(loop.notify())  # once per decision


def test_a_decision_superseded_before_its_due_date_never_counts_as_overdue() -> None:
    loop = Loop()
    loop.upload(JUNE_15)
    loop.notify()
    loop.decide("M3", "K-OTD", "recover", "Marco Bellini", due=date(2026, 6, 20))
    loop.upload(date(2026, 6, 19))
    loop.decide("M3", "K-OTD", "recover", "Marco Bellini", due=date(2026, 7, 31))
    loop.upload(JULY_6)
    m3 = loop.status().filter(milestone_id="M3").row(0, named=True)
    assert (m3["raised_by_overdue"], m3["decision_overdue"], m3["in_hand"], m3["due"]) == (0, False, True, False)


def test_escalate_hands_the_item_up_at_once() -> None:
    loop = Loop()
    loop.upload(JUNE_15)
    loop.notify()
    loop.decide("M5", None, "escalate", "Ann Lee", finding="several owners")
    got = received(loop.notify())
    assert got == {"Dana Whitfield": [("M5", 2, "higher level")]}


def test_accept_stops_reminders_until_the_value_at_risk_grows() -> None:
    def m1(digests: list) -> list:
        return [item for items in received(digests).values() for item in items if item[0] == "M1"]

    loop = Loop()
    loop.upload(JUNE_15)
    loop.notify()
    loop.decide("M1", "K-CPM", "accept", "Dana Whitfield")
    loop.upload(JUNE_22)
    assert m1(loop.notify()) == []
    # the vendor slips a week more: more of the period is lost
    later = loop.portfolio.tasks.with_columns(
        pl.when(pl.col("task_id") == "T1")
        .then(date(2026, 9, 28))
        .otherwise(pl.col("forecast_finish"))
        .alias("forecast_finish")
    )
    loop.upload(date(2026, 6, 29), replace(loop.portfolio, tasks=later))
    assert m1(loop.notify()) == [("M1", 3, "reminder")]
    loop.upload(date(2026, 7, 6), replace(loop.portfolio, tasks=later))
    assert m1(loop.notify()) == []


def test_an_older_snapshot_shows_the_loop_as_it_stood_then() -> None:
    loop = Loop()
    loop.upload(JUNE_15)
    first = loop.result
    loop.notify()
    loop.upload(JUNE_22)
    loop.notify()
    loop.result = first  # look back at 15 June: the 22 June run had not happened
    status = loop.status()
    assert status["escalate_to"].to_list() == ["Dana Whitfield", "Marco Bellini", "Ann Lee", "Jo Park", "Sam Okafor"]
    assert not status["due"].any()
