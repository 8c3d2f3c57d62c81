"""The escalation loop on the dashboard: My items, the Decide action, decision columns, runs, settings.

The database is the worked example with people, notified once through a real SMTP server,
so the pages show what the CLI did.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from app_helpers import html_text, metric, no_errors, table
from builders import FLEET_DIR
from loop.servers import smtp_server
from streamlit.testing.v1 import AppTest

from kpi_engine import cli
from kpi_engine.core.access import Access, Role
from kpi_engine.output.digest import item_link
from kpi_engine.store import Store

CSVS = [str(p) for p in sorted(FLEET_DIR.glob("*.csv"))]


@pytest.fixture(scope="module")
def notified_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worked example as of 15 June, every digest sent once through a real SMTP server."""
    path = tmp_path_factory.mktemp("loop") / "kpi.duckdb"
    assert cli.main(["ingest", *CSVS, "--db", str(path), "--as-of", "2026-06-15"]) == 0
    with smtp_server() as (port, mailbox):
        argv = ["notify", "--db", str(path), "--smtp-host", "127.0.0.1", "--smtp-port", str(port)]
        assert cli.main([*argv, "--smtp-from", "pmo@fleet.example"]) == 0
        assert len(mailbox.received) == 5
    return path


@pytest.fixture
def db(notified_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "kpi.duckdb"
    shutil.copyfile(notified_db, path)
    return path


def _decisions(db: Path) -> list[tuple]:
    with Store.open(db) as store:
        return store.loop_log.decisions().select("milestone_id", "kpi_id", "decision", "decided_by", "due").rows()


def _my_items(open_app, db: Path, person: str) -> AppTest:
    at = open_app(db, "pages/my_items.py")
    at.selectbox(key="my_person").set_value(person).run()
    assert no_errors(at), [e.value for e in (*at.exception, *at.error)]
    return at


def test_my_items_shows_what_is_escalated_to_the_person_chosen(open_app, db) -> None:
    at = _my_items(open_app, db, "Dana Whitfield")
    assert at.title[0].value == "My items"
    mine = table(at, "item", "decision_overdue")
    assert list(mine["item"]) == ["M1 Routing software go-live → Cost per mile"]
    assert metric(at, "Escalated to me") == "1"
    assert metric(at, "No decision yet") == "1"
    assert metric(at, "Value at risk") == "400k USD"
    history = table(at, "event", "who", "detail")
    assert list(history["event"]) == ["notified"]
    assert "Dana Whitfield <dana.whitfield@fleet.example> by email (new)" in list(history["detail"])


def test_deciding_on_my_items_stores_the_decision_and_shows_it(open_app, db) -> None:
    at = _my_items(open_app, db, "Marco Bellini")
    at.text_input(key="my_decide_by").set_value("Marco Bellini")
    at.segmented_control(key="my_decide_decision").set_value("recover")
    at.date_input(key="my_decide_due").set_value(date(2026, 6, 29))
    at.text_input(key="my_decide_note").set_value("a second vendor team")
    at.button(key="my_decide_save").click().run()
    assert no_errors(at)
    assert _decisions(db) == [("M3", "K-OTD", "recover", "Marco Bellini", date(2026, 6, 29))]
    assert any("Marco Bellini decided recover, due 2026-06-29" in s.value for s in at.success)
    mine = table(at, "item", "decision_overdue")
    assert list(mine["decision"]) == ["recover"]
    decided = table(at, "recorded_at", "note")
    assert list(decided["note"]) == ["a second vendor team"]


def test_a_due_date_before_the_snapshot_is_refused_and_nothing_is_stored(open_app, db) -> None:
    at = _my_items(open_app, db, "Marco Bellini")
    at.text_input(key="my_decide_by").set_value("Marco Bellini")
    at.date_input(key="my_decide_due").set_value(date(2026, 6, 1))
    at.button(key="my_decide_save").click().run()
    assert [e.value for e in at.error] == [
        "the due date 2026-06-01 is before the snapshot date 2026-06-15; a decision cannot be due in the past"
    ]
    assert _decisions(db) == []


def test_without_a_name_the_decision_is_refused(open_app, db) -> None:
    at = _my_items(open_app, db, "Marco Bellini")
    at.segmented_control(key="my_decide_decision").set_value("accept")
    at.button(key="my_decide_save").click().run()
    assert "a decision needs the name of the person who takes it" in at.error[0].value
    assert _decisions(db) == []


def test_a_workaround_shows_its_net_value_before_it_is_recorded(open_app, db) -> None:
    at = _my_items(open_app, db, "Dana Whitfield")
    at.segmented_control(key="my_decide_decision").set_value("workaround").run()
    at.number_input(key="my_decide_cost").set_value(50_000.0)
    at.date_input(key="my_decide_start").set_value(date(2026, 8, 31))
    at.slider(key="my_decide_fraction").set_value(0.6).run()
    assert metric(at, "Net value of the workaround") == "190,000 USD"


def test_exceptions_show_decisions_and_filter_the_undecided(open_app, db) -> None:
    argv = ["decide", "--db", str(db), "--milestone", "M3", "--kpi", "K-OTD", "--by", "Marco Bellini"]
    assert cli.main([*argv, "--decision", "recover", "--due", "2026-06-29"]) == 0
    at = open_app(db, "pages/exceptions.py")
    rows = at.dataframe[0].value
    assert {"decision", "decision_by", "decision_due", "first_notified"} <= set(rows.columns)
    decided = rows[rows["milestone_id"] == "M3"].iloc[0]
    assert (decided["decision"], decided["decision_by"]) == ("recover", "Marco Bellini")
    at.toggle(key="undecided").set_value(True).run()
    undecided = at.dataframe[0].value
    assert len(undecided) == len(rows) - 1 and "M3" not in set(undecided["milestone_id"])


def test_the_drill_down_shows_the_history_and_decides(open_app, db) -> None:
    at = open_app(db, "pages/exceptions.py")
    assert "Level 3: with Dana Whitfield (objective owner). No decision yet. First notified 2026-06-15." in html_text(
        at
    )
    history = table(at, "event", "who", "detail")
    assert list(history["who"]) == ["Dana Whitfield"]
    at.text_input(key="drill_decide_by").set_value("Dana Whitfield")
    at.segmented_control(key="drill_decide_decision").set_value("accept")
    at.button(key="drill_decide_save").click().run()
    assert no_errors(at)
    assert _decisions(db) == [("M1", "K-CPM", "accept", "Dana Whitfield", None)]
    assert list(table(at, "event", "who", "detail")["event"]) == ["notified", "decided"]


def test_a_digest_link_opens_its_item_in_the_drill_down(db, monkeypatch) -> None:
    monkeypatch.setenv("KPI_DB", str(db))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/exceptions.py")
    link = item_link("https://dash.example", None, "K-IDLE", "no work drives this KPI")
    assert link is not None
    for name, value in parse_qsl(urlsplit(link).query):
        at.query_params[name] = value
    at.run()
    picker = at.selectbox(key="drill_row")
    assert picker.format_func(picker.value) == "K-IDLE: no work drives this KPI"


def _signed_in(monkeypatch: pytest.MonkeyPatch, email: str, role: Role) -> None:
    import ui.access

    monkeypatch.setattr(ui.access, "current", lambda: Access(roles=frozenset({role}), email=email))


def test_signed_in_people_see_their_own_items_and_decide_in_their_own_name(open_app, db, monkeypatch) -> None:
    _signed_in(monkeypatch, "marco.bellini@fleet.example", Role.EXECUTIVE)
    at = open_app(db, "pages/my_items.py")
    assert no_errors(at)
    assert "Signed in as <b>Marco Bellini</b>" in html_text(at)
    assert not [s for s in at.selectbox if s.key == "my_person"]  # nobody to choose: it is them
    assert not [w for w in at.text_input if w.key == "my_decide_by"]  # no name to type: it is theirs
    at.segmented_control(key="my_decide_decision").set_value("accept")
    at.button(key="my_decide_save").click().run()
    assert _decisions(db) == [("M3", "K-OTD", "accept", "Marco Bellini", None)]


def test_signed_in_someone_else_may_not_decide_but_the_pmo_may(open_app, db, monkeypatch) -> None:
    _signed_in(monkeypatch, "ann.lee@fleet.example", Role.EXECUTIVE)
    at = open_app(db, "pages/exceptions.py")  # the drill-down starts on M1, escalated to Dana
    assert any("Ann Lee may not decide on this item" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "drill_decide_save"]
    _signed_in(monkeypatch, "pmo.office@fleet.example", Role.PMO)
    at = open_app(db, "pages/exceptions.py")
    at.segmented_control(key="drill_decide_decision").set_value("escalate")
    at.button(key="drill_decide_save").click().run()
    assert _decisions(db) == [("M1", "K-CPM", "escalate", "pmo.office@fleet.example", None)]


def test_history_lists_each_notification_run(open_app, db) -> None:
    at = open_app(db, "pages/history.py")
    assert no_errors(at)
    runs = table(at, "run_id", "messages", "recipients")
    assert list(runs["messages"]) == [5]
    assert "Dana Whitfield <dana.whitfield@fleet.example>" in runs["recipients"][0]


def test_governance_names_people_with_no_contact_details(open_app, tmp_path) -> None:
    folder = tmp_path / "fleet"
    shutil.copytree(FLEET_DIR, folder)
    (folder / "people.csv").write_text((folder / "people.csv").read_text().replace("jo.park@fleet.example", ""))
    (folder / "fleet.xlsx").unlink()
    db = tmp_path / "kpi.duckdb"
    assert cli.main(["ingest", str(folder), "--db", str(db), "--as-of", "2026-06-15"]) == 0
    at = open_app(db, "pages/governance.py")
    assert no_errors(at)
    found = table(at, "person", "items", "detail")
    assert list(found["person"]) == ["Jo Park"]
    assert any(s.value == "People with no contact details (1)" for s in at.subheader)


def test_settings_save_ack_days_and_the_digest_settings_but_never_a_password(open_app, db, monkeypatch) -> None:
    monkeypatch.setenv("KPI_SMTP_PASSWORD", "not-shown")
    at = open_app(db, "pages/settings.py")
    assert any("A mail password is set in KPI_SMTP_PASSWORD" in c.value for c in at.caption)
    assert not any("not-shown" in str(e.value) for e in at.main if hasattr(e, "value"))
    at.number_input(key="set_ack").set_value(3)
    at.button(key="set_save").click().run()
    at.text_input(key="set_pmo_email").set_value("pmo.office@fleet.example")
    at.text_input(key="set_smtp_host").set_value("smtp.fleet.example")
    at.button(key="set_notify_save").click().run()
    assert no_errors(at)
    with Store.open(db) as store:
        saved = store.settings()
    assert (saved.ack_days, saved.pmo_email, saved.smtp_host) == (3, "pmo.office@fleet.example", "smtp.fleet.example")
    at.text_input(key="set_pmo_email").set_value("pmo@fleet.example\nBcc: all@evil.example")
    at.button(key="set_notify_save").click().run()
    assert "must be one e-mail address" in at.error[0].value


def test_a_hostile_name_is_shown_as_text_on_my_items(open_app, tmp_path) -> None:
    folder = tmp_path / "fleet"
    shutil.copytree(FLEET_DIR, folder)
    (folder / "fleet.xlsx").unlink()
    hostile = "Dana <script>alert(1)</script> [boss](https://evil.example)"
    objectives = (folder / "objectives.csv").read_text().replace(",Dana Whitfield,", f",{hostile},")
    (folder / "objectives.csv").write_text(objectives)
    db = tmp_path / "kpi.duckdb"
    assert cli.main(["ingest", str(folder), "--db", str(db), "--as-of", "2026-06-15"]) == 0
    at = _my_items(open_app, db, hostile)
    assert table(at, "item", "decision_overdue")["item"].iloc[0].startswith("M1 Routing software go-live")
    page = html_text(at)
    assert "<script>" not in page and "&lt;script&gt;" in page
    for element in (*at.markdown, *at.caption, *at.info, *at.success, *at.warning):
        assert "[boss](" not in element.value
