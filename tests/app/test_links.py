"""Filters and the drill-down row live in the address: a reload, a shared link and a digest's link open one view."""

from __future__ import annotations

from app_helpers import APP, TIMEOUT, no_errors
from streamlit.testing.v1 import AppTest

from kpi_engine.engine import views


def open_link(db, monkeypatch, query: dict) -> AppTest:
    """A new session (a reload, or someone opening a shared link) on the Exceptions page."""
    monkeypatch.setenv("KPI_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/exceptions.py")
    at.query_params.update(query)
    at.run()
    return at


def test_a_link_opens_the_exceptions_page_filtered(sample_db, monkeypatch):
    query = views.exceptions_query(
        views.ExceptionFilter(programs=("Fleet Optimization",), escalation_levels=(3,), watermelons_only=False)
    )
    at = open_link(sample_db, monkeypatch, query)
    assert no_errors(at), [e.value for e in (*at.exception, *at.error)]
    assert at.multiselect(key="program").value == ["Fleet Optimization"]
    assert at.multiselect(key="level").value == ["3"]
    rows = at.dataframe[0].value
    assert set(rows["program"]) == {"Fleet Optimization"}
    assert set(rows["escalation_level"]) == {3}


def test_a_link_names_the_drill_down_row(sample_db, monkeypatch):
    at = open_link(sample_db, monkeypatch, views.exceptions_query(item="M-0032:K-UTIL"))
    picker = at.selectbox(key="drill_row")
    assert picker.format_func(picker.value).startswith("M-0032 ")
    assert no_errors(at)


def test_unknown_values_in_a_link_are_ignored_with_a_notice(sample_db, monkeypatch):
    at = open_link(
        sample_db,
        monkeypatch,
        {"program": ["Fleet Optimization", "[Moon](https://evil.example)"], "level": "9", "item": "NOPE"},
    )
    assert no_errors(at), [e.value for e in (*at.exception, *at.error)]
    notices = " ".join(i.value for i in at.info)
    assert "program '\\[Moon\\]" in notices and "level '9'" in notices
    assert "](https" not in notices
    assert "NOPE, which is not in this list" in notices
    assert at.multiselect(key="program").value == ["Fleet Optimization"]
    assert at.multiselect(key="level").value == []


def test_each_top_exception_on_pulse_opens_its_drill_down(sample_db, open_app):
    at = open_app(sample_db, "pages/pulse.py")
    buttons = [b for b in at.button if b.key and b.key.startswith("pulse_open_")]
    assert len(buttons) == 5
    buttons[1].click().run()
    assert at.title[0].value == "Exceptions"
    item = at.query_params["item"]
    item = item[0] if isinstance(item, list) else item
    picker = at.selectbox(key="drill_row")
    assert picker.value == 1  # the second row of the list, as on Pulse
    assert picker.format_func(picker.value).startswith(item.split(":")[0] + " ")
    assert no_errors(at)
