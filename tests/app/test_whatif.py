"""The What-if page as a finance analyst drives it: slip, work around, save, reopen, compare, simulate."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from app_helpers import chart_text, charts, metric, no_errors, shown, table
from streamlit.testing.v1 import AppTest

from ui import loaders

PAGE = "pages/whatif.py"


def problems(at: AppTest) -> list[str]:
    return [str(e.value) for e in (*at.exception, *at.error)]


@pytest.fixture
def page(open_app, writable_db: Path) -> AppTest:
    """The What-if page on a private copy of the sample (latest snapshot: 15 Jun 2026)."""
    at = open_app(writable_db, PAGE)
    assert no_errors(at), problems(at)
    return at


def slip(at: AppTest, milestone_id: str, days: int) -> AppTest:
    at.multiselect(key="wi_milestones").set_value([milestone_id]).run()
    at.slider(key=f"wi_slip_{milestone_id}").set_value(days).run()
    assert no_errors(at), problems(at)
    return at


def add_workaround(at: AppTest, milestone_id: str, start: date, cost: float, percent: int) -> AppTest:
    at.selectbox(key="wi_wa_milestone").set_value(milestone_id)
    at.date_input(key="wi_wa_start").set_value(start)
    at.number_input(key="wi_wa_cost").set_value(cost)
    at.number_input(key="wi_wa_percent").set_value(percent)
    at.button(key="wi_wa_add").click().run()
    assert no_errors(at), problems(at)
    return at


def save_as(at: AppTest, name: str) -> AppTest:
    at.text_input(key="wi_name").input(name)
    at.button(key="wi_save").click().run()
    assert no_errors(at), problems(at)
    return at


def test_an_empty_scenario_says_what_to_do(page):
    hint = page.info[0].value
    assert "Pick a milestone or a project to slip" in hint
    assert "M1 · Routing software go-live" in hint
    assert not page.metric


def test_m1_slipping_14_days_moves_m1_and_m3(page):
    slip(page, "M1", 14)
    moved = table(page, "milestone_id", "before", "after", "value_at_risk_after").set_index("milestone_id")
    assert str(moved.loc["M1", "after"])[:10] == "2026-10-05"
    assert str(moved.loc["M3", "after"])[:10] == "2026-11-04"
    assert moved.loc["M1", "moved_days"] == 14
    assert moved.loc["M1", "value_at_risk_after"] == pytest.approx(590_476, abs=1)
    assert moved.loc["M3", "cause"] == "downstream"
    kpis = table(page, "kpi_id", "projected_before", "projected_after").set_index("kpi_id")
    assert kpis.loc["K-CPM", "projected_after"] == pytest.approx(2.05)
    assert kpis.loc["K-CPM", "verdict"] == "misses by more"
    assert metric(page, "Value at risk").endswith("USD")
    # the value at risk rises by M1's 190k and M3's 40k
    assert next(m for m in page.metric if m.label == "Value at risk").delta == "+230k"
    drawn = charts(page)
    assert len(drawn) == 2 and "K-CPM" in chart_text(drawn[0]) and "Net change" in chart_text(drawn[1])


def test_the_worked_example_workaround_nets_190k(page):
    add_workaround(page, "M1", date(2026, 8, 31), 50_000.0, 60)
    assert metric(page, "Net of workarounds") == "190k USD"
    row = table(page, "recovered_value", "net_value", "break_even_days").iloc[0]
    assert row["milestone_id"] == "M1"
    assert row["recovered_value"] == pytest.approx(240_000, abs=1)
    assert row["net_value"] == pytest.approx(190_000, abs=1)
    assert row["verdict"] == "pays off"
    # a second workaround on M1 replaces the first
    add_workaround(page, "M1", date(2026, 8, 31), 300_000.0, 60)
    assert "replaces" in page.info[0].value
    assert table(page, "net_value")["net_value"].tolist() == [pytest.approx(-60_000, abs=1)]


def test_save_refuse_a_taken_name_reopen_rename_and_delete(page):
    slip(page, "M1", 14)
    save_as(page, "Vendor two weeks late")
    assert page.success[0].value == "Saved 'Vendor two weeks late'."
    saved = table(page, "name", "author", "created_at")
    assert saved["name"].tolist() == ["Vendor two weeks late"]
    assert saved["author"].tolist() == ["local user"]
    # names are unique, whatever their case
    page.text_input(key="wi_name").input("VENDOR two weeks late")
    page.button(key="wi_save").click().run()
    assert not page.exception
    assert [e.value for e in page.error] == [
        "a scenario named 'VENDOR two weeks late' already exists; choose another name"
    ]

    page.button(key="wi_clear").click().run()
    assert page.multiselect(key="wi_milestones").value == []
    page.button(key="wi_open").click().run()
    assert no_errors(page), problems(page)
    assert page.multiselect(key="wi_milestones").value == ["M1"]
    assert page.slider(key="wi_slip_M1").value == 14
    assert page.subheader[0].value == "Scenario: Vendor two weeks late"

    page.slider(key="wi_slip_M1").set_value(21).run()
    page.button(key="wi_update").click().run()
    assert page.success[0].value == "Saved the changes to 'Vendor two weeks late'."
    stored = loaders.store().list_scenarios()
    spec = loaders.store().load_scenario(int(stored["scenario_id"][0]))["spec"]
    assert spec["changes"] == [{"kind": "slip", "milestone_id": "M1", "days": 21}]
    page.text_input(key="wi_rename_to").input("Vendor three weeks late")
    page.button(key="wi_rename").click().run()
    assert page.success[0].value == "Renamed to 'Vendor three weeks late'."
    assert table(page, "name", "author")["name"].tolist() == ["Vendor three weeks late"]

    page.button(key="wi_delete").click().run()
    assert no_errors(page), problems(page)
    assert page.success[0].value == "Deleted 'Vendor three weeks late'."
    assert page.subheader[0].value == "Build a scenario"
    assert any(h.value == "Saved scenarios: 0" for h in page.subheader)


def test_compare_two_saved_scenarios_and_the_one_being_edited(page):
    slip(page, "M1", 14)
    save_as(page, "Two weeks")
    page.slider(key="wi_slip_M1").set_value(28).run()
    save_as(page, "Four weeks")
    picker = page.multiselect(key="wi_compare")
    assert picker.options == ["The scenario being edited", "Four weeks", "Two weeks"]
    saved_ids = loaders.store().list_scenarios()["scenario_id"].to_list()
    picker.set_value([0, *saved_ids]).run()
    assert no_errors(page), problems(page)
    compared = table(page, "figure", "Snapshot as is")
    assert {"Two weeks", "Four weeks"} <= set(compared.columns)
    rows = compared.set_index("figure")
    assert rows.loc["Milestones moved", "Two weeks"] == "2"
    assert rows.loc["K-CPM · Cost per mile: projected (USD/mile)", "Two weeks"] == "2.050"
    chart = next(chart_text(c) for c in charts(page) if "Scenarios side by side" in chart_text(c))
    assert "change against the snapshot as is" in chart and '"field": "change"' in chart


def test_a_saved_scenario_that_no_longer_fits_is_explained(page):
    # the app's own Store: one process holds the database file
    loaders.store().save_scenario(
        "Old plan",
        {
            "name": "Old plan",
            "changes": [
                {"kind": "slip", "milestone_id": "M1", "days": 7},
                {"kind": "workaround", "milestone_id": "M2", "start": "2026-07-01", "cost": 1000, "fraction": 0.5},
            ],
        },
        1,
    )
    page.run()
    page.button(key="wi_open").click().run()
    assert not page.exception
    assert [e.value for e in page.error] == [
        shown(
            "milestone 'M2' (Telematics retrofit complete) finished on 2026-05-29; a workaround has nothing left to "
            "recover"
        )
    ]


def test_monte_carlo_runs_and_says_which_distribution_it_used(page):
    slip(page, "M1", 14)
    page.number_input(key="wi_mc_runs").set_value(200)
    page.selectbox(key="wi_mc_target").set_value("project:P-ROUTE")
    page.run()
    page.button(key="wi_mc_run").click().run()
    assert no_errors(page), problems(page)
    captions = " ".join(c.value for c in page.caption)
    assert "200 runs, seed 7." in captions
    assert "Slip distribution used: your triangular range for 1 milestone of the chosen project" in captions
    assert "slip history" in captions
    for label in ("Value at risk, P50", "P80", "P95"):
        assert metric(page, label).endswith("USD")
    p_meet = table(page, "p_meet", "p50", "p80", "p95")
    assert p_meet["p_meet"].between(0, 1).all()
    assert len(table(page, "criticality")) == 10
    assert any("P95" in chart_text(c) for c in charts(page))
    # the result stays on the page until the inputs change
    page.selectbox(key="wi_mc_kpi").set_value("K-CPM").run()
    assert no_errors(page), problems(page)
    assert "Cost per mile: median and P10-P90 band" in " ".join(chart_text(c) for c in charts(page))
    page.number_input(key="wi_mc_seed").set_value(8).run()
    assert any("inputs changed" in i.value for i in page.info)
    # a range that is not min <= most likely <= max is explained, not run
    page.number_input(key="wi_mc_mode").set_value(40.0)
    page.button(key="wi_mc_run").click().run()
    assert not page.exception
    assert [e.value for e in page.error] == [
        shown("the slip range of project 'P-ROUTE' must satisfy min <= most likely <= max, got 0, 40, 30")
    ]


def test_the_scenario_being_edited_survives_a_visit_to_another_page(page):
    slip(page, "M1", 21)
    add_workaround(page, "M1", date(2026, 8, 31), 50_000.0, 60)
    page.switch_page("pages/pulse.py")
    page.run()
    page.switch_page(PAGE)
    page.run()
    assert no_errors(page), problems(page)
    assert page.multiselect(key="wi_milestones").value == ["M1"]
    assert page.slider(key="wi_slip_M1").value == 21
    assert len(table(page, "net_value")) == 1


def test_setting_m1_earlier_pulls_m3_in_and_can_be_removed(page):
    page.selectbox(key="wi_sf_milestone").set_value("M1")
    page.date_input(key="wi_sf_date").set_value(date(2026, 9, 7))
    page.button(key="wi_sf_add").click().run()
    assert no_errors(page), problems(page)
    moved = table(page, "milestone_id", "moved_days").set_index("milestone_id")
    assert moved.loc["M1", "moved_days"] == -14 and moved.loc["M3", "moved_days"] == -14
    assert next(m for m in page.metric if m.label == "Value at risk").delta.startswith("-")
    page.button(key="wi_rm_sf_M1").click().run()
    assert "Pick a milestone or a project to slip" in page.info[0].value


def test_a_scenario_that_changes_no_value_at_risk_shows_a_zero_state(page):
    # M6 (office party planning) is tied to no KPI: it moves, no value at risk does
    slip(page, "M6", 14)
    assert table(page, "milestone_id", "moved_days")["milestone_id"].tolist() == ["M6"]
    (waterfall,) = [c for c in charts(page) if "Snapshot as is" in chart_text(c)]
    drawn = chart_text(waterfall)
    assert "This scenario" in drawn and "Net change" not in drawn and "NaN" not in drawn
    captions = [c.value for c in page.caption]
    assert any(c.startswith(shown("This scenario changes nothing: the value at risk stays at")) for c in captions)
    shown_text = " ".join(str(e.value) for e in (*page.caption, *page.markdown, *page.info, *page.metric))
    assert "NaN" not in shown_text and "nan" not in shown_text.split()
