"""Decision support on the pages: best use of a budget, reporting credibility, the drill-down sentence, the deck."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from app_helpers import charts, html_text, metric, no_errors, shown, table
from streamlit.testing.v1 import AppTest

from kpi_engine.ingest import read_paths, read_upload
from kpi_engine.store import Store
from ui import loaders

WHATIF = "pages/whatif.py"


def problems(at: AppTest) -> list[str]:
    return [str(e.value) for e in (*at.exception, *at.error)]


def add_candidate(at: AppTest, milestone_id: str, name: str, start: date, cost: float, percent: int) -> AppTest:
    if not at.session_state["bu_adder"]:  # the form is drawn once its expander is opened
        at.session_state["bu_adder"] = True
        at.run()
    at.selectbox(key="bu_new_milestone").set_value(milestone_id)
    at.text_input(key="bu_new_name").input(name)
    at.date_input(key="bu_new_start").set_value(start)
    at.number_input(key="bu_new_cost").set_value(cost)
    at.slider(key="bu_new_percent").set_value(percent)
    next(b for b in at.button if b.label == "Add candidate").click().run()
    assert no_errors(at), problems(at)
    return at


def test_no_candidates_says_where_they_come_from(open_app, writable_db):
    at = open_app(writable_db, WHATIF)
    assert no_errors(at), problems(at)
    assert any("No candidate workarounds yet" in i.value for i in at.info)


def test_the_candidate_form_is_drawn_once_its_expander_opens(open_app, writable_db):
    at = open_app(writable_db, WHATIF)
    assert not [s for s in at.selectbox if s.key == "bu_new_milestone"]
    at.session_state["bu_adder"] = True
    at.run()
    assert no_errors(at), problems(at)
    assert at.selectbox(key="bu_new_milestone").options


def test_candidates_added_on_the_page_are_chosen_within_the_budget_and_saved_as_a_scenario(open_app, writable_db):
    at = open_app(writable_db, WHATIF)
    add_candidate(at, "M1", "Vendor war room", date(2026, 8, 31), 50_000.0, 60)
    add_candidate(at, "M1", "Second vendor", date(2026, 8, 31), 150_000.0, 90)
    at.number_input(key="bu_budget").set_value(100_000.0).run()
    assert no_errors(at), problems(at)
    assert metric(at, "Chosen") == "1 of 2"
    assert metric(at, "Cost") == "50,000 USD"
    assert metric(at, "Net value") == "190,000 USD"
    chosen = table(at, "milestone_id", "name", "net_value")
    assert chosen["name"].tolist() == ["Vendor war room"]
    assert any("Best net value" in c.proto.spec for c in charts(at))

    at.number_input(key="bu_budget").set_value(150_000.0).run()
    assert table(at, "milestone_id", "name", "net_value")["name"].tolist() == ["Second vendor"]

    at.text_input(key="bu_scenario_name").input("Fund the second vendor")
    at.button(key="bu_save").click().run()
    assert no_errors(at), problems(at)
    assert at.success[0].value == shown("Saved the 1 chosen workaround(s) as scenario 'Fund the second vendor'.")
    stored = loaders.store().list_scenarios()
    spec = loaders.store().load_scenario(int(stored["scenario_id"][0]))["spec"]
    assert spec["changes"] == [
        {"kind": "workaround", "milestone_id": "M1", "start": "2026-08-31", "cost": 150000.0, "fraction": 0.9}
    ]


def test_candidates_from_the_mitigations_sheet_are_listed(open_app, writable_db: Path, tmp_path: Path):
    sheet = tmp_path / "mitigations.csv"
    sheet.write_text("milestone_id,name,start_date,cost,fraction\nM1,Vendor war room,2026-08-31,50000,0.6\n")
    with Store.open(writable_db) as store:
        store.ingest(read_upload(read_paths([str(sheet)])), date(2026, 6, 16))
    at = open_app(writable_db, WHATIF)
    assert no_errors(at), problems(at)
    everything = table(at, "milestone_id", "name", "chosen")
    assert everything["name"].tolist() == ["Vendor war room"]
    assert everything["chosen"].tolist() == [False]  # the budget setting is 0
    at.number_input(key="bu_budget").set_value(50_000.0).run()
    assert metric(at, "Net value") == "190,000 USD"


@pytest.fixture(scope="module")
def reader(sample_db: Path):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KPI_DB", str(sample_db))
        at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=60)
        at.run()
        yield at


def test_governance_ranks_reporting_credibility(reader):
    reader.switch_page("pages/governance.py")
    reader.run()
    assert no_errors(reader), problems(reader)
    assert "Reporting credibility" in [s.value for s in reader.subheader]
    ranked = table(reader, "person", "reports", "watermelons", "credibility")
    assert ranked["watermelons"].is_monotonic_decreasing
    priya = ranked.set_index("person").loc["Priya Raman"]
    assert priya["reports"] == 8 and priya["watermelons"] >= 1
    assert any('"facet"' in c.proto.spec and "watermelons" in c.proto.spec for c in charts(reader))
    reader.segmented_control(key="cred_by").set_value("program").run()
    assert "program" in table(reader, "program", "reports", "watermelons").columns


def test_drill_down_says_how_the_owners_reports_compared(reader):
    reader.switch_page("pages/exceptions.py")
    reader.run()
    assert no_errors(reader), problems(reader)
    assert "Priya Raman&#x27;s reports were better than computed in" in html_text(reader) or (
        "Priya Raman's reports were better than computed in" in html_text(reader)
    )


def test_pulse_offers_the_board_deck(reader):
    reader.switch_page("pages/pulse.py")
    reader.run()
    assert no_errors(reader), problems(reader)
    assert any(d.proto.label == "Board deck (.pptx)" for d in reader.get("download_button"))


def test_the_deck_budget_is_a_setting(open_app, writable_db):
    at = open_app(writable_db, "pages/settings.py")
    at.number_input(key="set_workaround_budget").set_value(250_000.0)
    at.button(key="set_save").click().run()
    assert no_errors(at), problems(at)
    with Store.open(writable_db) as store:
        assert store.settings().workaround_budget == 250_000.0
