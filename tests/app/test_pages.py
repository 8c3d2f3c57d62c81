"""The dashboard as a user drives it: every page, the filters, drill-down, snapshot, settings, upload."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from app_helpers import chart_text, charts, html_text, metric, no_errors, table
from streamlit.testing.v1 import AppTest

from kpi_engine.store import Store
from ui import loaders

ROOT = Path(__file__).resolve().parents[2]
WEEK = ROOT / "data" / "sample" / "weeks" / "2026-06-15"

PAGES = [
    pytest.param("pages/pulse.py", "Portfolio pulse", id="pulse"),
    pytest.param("pages/exceptions.py", "Exceptions", id="exceptions"),
    pytest.param("pages/heatmap.py", "Heatmap", id="heatmap"),
    pytest.param("pages/kpis.py", "KPIs", id="kpis"),
    pytest.param("pages/whatif.py", "What-if", id="whatif"),
    pytest.param("pages/governance.py", "Governance", id="governance"),
    pytest.param("pages/upload.py", "Upload", id="upload"),
    pytest.param("pages/history.py", "History", id="history"),
    pytest.param("pages/settings.py", "Settings", id="settings"),
]


@pytest.fixture(scope="module")
def reader(sample_db: Path) -> Iterator[AppTest]:
    """One app session on the shared sample database, for tests that only read."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KPI_DB", str(sample_db))
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.run()
        yield at


@pytest.mark.parametrize(("page", "title"), PAGES)
def test_every_page_renders_without_error(reader, page, title):
    reader.switch_page(page)
    reader.run()
    assert no_errors(reader), [e.value for e in (*reader.exception, *reader.error)]
    assert reader.title[0].value.startswith(title)


def test_what_if_page_is_registered(reader):
    reader.switch_page("pages/whatif.py")
    reader.run()
    assert not reader.exception


def test_pulse_headlines_the_routing_story(reader):
    reader.switch_page("pages/pulse.py")
    reader.run()
    top = html_text(reader)
    assert "Routing software go-live (Fleet routing optimization, Priya Raman) now finishes 2026-09-21" in top
    assert "400,000 USD" in top
    assert int(metric(reader, "Red milestones")) > 0
    assert int(metric(reader, "Watermelon milestones")) > 0
    assert metric(reader, "Value at risk").endswith("USD")
    assert "As of **15 Jun 2026**" in reader.caption[0].value
    assert charts(reader), "the value-at-risk chart is drawn"


def test_pulse_lists_the_kpis_on_track_once_opened(open_app, writable_db):
    at = open_app(writable_db)
    opened = next(e for e in at.expander if e.label.startswith("KPIs on track: "))
    count = int(opened.label.removeprefix("KPIs on track: "))
    assert not [t for t in at.dataframe if "target_value" in t.value.columns]
    at.session_state["pulse_on_track_open"] = True
    at.run()
    assert no_errors(at)
    assert len(table(at, "name", "target_value")) == count


def test_watermelons_only_keeps_watermelon_rows(reader):
    reader.switch_page("pages/exceptions.py")
    reader.run()
    everything = reader.dataframe[0].value
    reader.toggle(key="watermelons").set_value(True).run()
    melons = reader.dataframe[0].value
    assert 0 < len(melons) < len(everything)
    assert melons["watermelon"].all()
    reader.toggle(key="watermelons").set_value(False).run()
    assert len(reader.dataframe[0].value) == len(everything)


def test_filters_by_program_and_escalation_level(reader):
    reader.switch_page("pages/exceptions.py")
    reader.run()
    reader.multiselect(key="program").set_value(["Fleet Optimization"]).run()
    reader.multiselect(key="level").set_value(["3"]).run()
    rows = reader.dataframe[0].value
    assert len(rows) > 0
    assert set(rows["program"]) == {"Fleet Optimization"}
    assert set(rows["escalation_level"]) == {3}
    reader.multiselect(key="program").set_value([]).run()
    reader.multiselect(key="level").set_value([]).run()


def test_drill_down_draws_the_chain_history_and_dependencies(reader):
    reader.switch_page("pages/exceptions.py")
    reader.run()
    picker = reader.selectbox(key="drill_row")
    assert picker.format_func(picker.value) == "M1 Routing software go-live -> Cost per mile"
    chain = chart_text(charts(reader)[0])
    for step in ("Vendor API integration", "Routing software go-live", "Cost per mile", "Cut fleet operating cost"):
        assert step in chain
    history = table(reader, "as_of", "computed_finish", "moved_days")
    assert len(history) == 8  # one row per snapshot
    deps = table(reader, "direction", "depth", "via")
    assert "M3" in set(deps["milestone_id"])


def test_drill_down_of_a_governance_row_explains_itself(reader):
    reader.switch_page("pages/exceptions.py")
    reader.run()
    reader.multiselect(key="kind").set_value(["governance"]).run()
    labels = reader.selectbox(key="drill_row").options
    assert any(label.endswith(": no work drives this KPI") for label in labels)
    kpi_row = next(i for i, label in enumerate(labels) if label.endswith(": no work drives this KPI"))
    reader.selectbox(key="drill_row").set_value(kpi_row).run()
    assert no_errors(reader)
    assert any("concerns a KPI" in i.value for i in reader.info)
    reader.button(key="drill_kpi").click().run()
    assert reader.title[0].value == "KPIs"
    assert reader.selectbox(key="kpi_pick").value == "K-IDLE"
    reader.switch_page("pages/exceptions.py")
    reader.run()
    reader.multiselect(key="kind").set_value([]).run()


def test_snapshot_picker_changes_every_page(reader):
    reader.switch_page("pages/pulse.py")
    reader.run()
    reader.sidebar.selectbox(key="snapshot_id").select(1).run()
    assert "As of **27 Apr 2026**" in reader.caption[0].value
    reader.switch_page("pages/exceptions.py")
    reader.run()
    assert "As of **27 Apr 2026**" in reader.caption[0].value
    assert reader.toggle(key="new").disabled  # the first snapshot has nothing before it
    reader.sidebar.selectbox(key="snapshot_id").select(8).run()
    assert "As of **15 Jun 2026**" in reader.caption[0].value


def test_heatmap_draws_both_heatmaps_and_lists_milestones(reader):
    reader.switch_page("pages/heatmap.py")
    reader.run()
    assert len(charts(reader)) == 2
    assert len(table(reader, "milestone_id", "program", "percent_complete")) == 300
    reader.button_group(key="rows").set_value("project").run()
    assert no_errors(reader)
    assert "Project" in chart_text(charts(reader)[0])


def test_kpi_without_actuals_says_so(reader):
    reader.switch_page("pages/kpis.py")
    reader.run()
    reader.selectbox(key="kpi_pick").set_value("K-IDLE").run()
    assert metric(reader, "Latest actual") == "none yet"
    assert any("No actuals reported" in i.value for i in reader.info)
    assert any("No work drives this KPI" in w.value for w in reader.warning)
    assert no_errors(reader)


def test_kpi_chart_marks_the_milestones_that_drive_it(reader):
    reader.switch_page("pages/kpis.py")
    reader.run()
    reader.selectbox(key="kpi_pick").set_value("K-CPM").run()
    spec = chart_text(charts(reader)[0])
    assert "Baseline plan" in spec and "Routing software go-live" in spec
    assert "M1" in set(table(reader, "milestone_id", "kpi_delta", "ramp_days")["milestone_id"])


def test_governance_names_who_fixes_each_finding(reader):
    reader.switch_page("pages/governance.py")
    reader.run()
    assert int(metric(reader, "Milestones tied to no KPI")) > 0
    before = len(reader.dataframe)
    reader.session_state["gov_open_Milestones tied to no KPI"] = True  # the section's table, once opened
    reader.run()
    assert len(reader.dataframe) == before + 1
    tables = [t.value for t in reader.dataframe]
    wish_list = next(t for t in tables if "finding" in t.columns and set(t["finding"]) == {"not tied to any KPI"})
    assert wish_list["escalate_to"].notna().all()
    assert "not tied to any KPI: a wish list, not a plan" in html_text(reader)
    assert "(project owner) should fix it." in html_text(reader)


def test_history_lists_snapshots_changes_and_files(reader):
    reader.switch_page("pages/history.py")
    reader.run()
    assert len(table(reader, "source_note", "milestones")) == 8
    assert len(table(reader, "change", "detail")) > 0
    assert len(table(reader, "file_name", "sha256")) > 0
    assert reader.get("download_button")


def test_raising_red_days_reduces_the_red_milestones(open_app, writable_db):
    at = open_app(writable_db)
    red_before = int(metric(at, "Red milestones"))
    at.switch_page("pages/settings.py")
    at.run()
    at.number_input(key="set_red").set_value(90)
    at.number_input(key="set_amber").set_value(60)
    at.button(key="set_save").click().run()
    assert no_errors(at)
    assert any("Saved" in s.value for s in at.success)
    at.switch_page("pages/pulse.py")
    at.run()
    assert int(metric(at, "Red milestones")) < red_before
    with Store.open(writable_db) as store:
        assert (store.settings().amber_days, store.settings().red_days) == (60, 90)


def test_settings_refuse_amber_above_red(open_app, writable_db):
    at = open_app(writable_db, "pages/settings.py")
    at.number_input(key="set_amber").set_value(30)
    at.number_input(key="set_red").set_value(20)
    at.button(key="set_save").click().run()
    assert not at.exception
    assert "cannot exceed the Red threshold" in at.error[0].value


def test_upload_checks_previews_and_commits_a_week(open_app, writable_db):
    at = open_app(writable_db, "pages/upload.py")
    files = [(p.name, p.read_bytes(), "text/csv") for p in sorted(WEEK.glob("*.csv"))]
    at.file_uploader[0].set_value(files)
    at.date_input(key="up_as_of").set_value(date(2026, 6, 22))
    at.text_input(key="up_author").set_value("Pat PMO")
    at.run()
    assert no_errors(at)
    detected = table(at, "file", "detected")
    assert set(detected["detected"]) == {"template"}
    assert len(table(at, "milestone_id", "baseline_finish")) > 0
    at.button(key="up_commit").click().run()
    assert no_errors(at)
    assert any("Stored snapshot 9" in s.value for s in at.success)
    assert "22 Jun 2026" in at.sidebar.selectbox(key="snapshot_id").format_func(
        at.sidebar.selectbox(key="snapshot_id").value
    )
    with Store.open(writable_db) as store:
        assert store.files(9)["author"].to_list()[0] == "Pat PMO"


def _commit_week(at: AppTest, as_of: date) -> None:
    """Upload the sample week dated ``as_of`` on the Upload page and commit it."""
    at.switch_page("pages/upload.py").run()
    files = [(p.name, p.read_bytes(), "text/csv") for p in sorted(WEEK.glob("*.csv"))]
    at.file_uploader[0].set_value(files)
    at.date_input(key="up_as_of").set_value(as_of)
    at.text_input(key="up_author").set_value("Pat PMO")
    at.run()
    at.button(key="up_commit").click().run()
    assert no_errors(at)


def test_an_upload_of_the_newest_week_keeps_the_computed_snapshots_and_a_back_dated_one_does_not(open_app, writable_db):
    """Stored snapshots never change: a new week leaves their results cached; a week before the latest
    changes what the later snapshots compare with, so everything is computed again."""
    loaders.clear()
    path = str(writable_db)
    at = open_app(writable_db)
    assert no_errors(at)
    key = loaders.settings_key(path)
    latest = at.session_state["snapshot_id"]
    kept = loaders.result(path, latest, key)

    _commit_week(at, date(2026, 6, 22))
    assert at.session_state["snapshot_id"] == latest + 1
    assert loaders.result(path, latest, key) is kept
    assert loaders.previous_result(path, latest + 1, key) is kept

    _commit_week(at, date(2026, 6, 10))  # between two stored weeks
    assert loaders.computed(path, latest, key) is None
    assert loaders.result(path, latest, key) is not kept


def test_a_wrong_file_lists_its_problems_and_cannot_be_committed(open_app, writable_db):
    at = open_app(writable_db, "pages/upload.py")
    bad = b"milestone_id,project_id,name,owner,baseline_finish\nM-X1,P-ROUTE,Bad date,Ann Lee,31/31/2026\n"
    at.file_uploader[0].set_value([("milestones.csv", bad, "text/csv")])
    at.run()
    assert not at.exception
    problems = table(at, "problem")
    assert list(problems.columns) == ["file", "sheet", "row", "column", "problem"]
    assert problems.iloc[0]["row"] == 2 and problems.iloc[0]["column"] == "baseline_finish"
    assert not [b for b in at.button if b.key == "up_commit"]
    with Store.open(writable_db) as store:
        assert len(store.snapshot_ids()) == 8


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        pytest.param("plan.xlsx", b"PK\x03\x04 not really a zip", "damaged", id="xlsx-that-is-not-a-zip"),
        pytest.param("plan.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "cannot be", id="broken-xls"),
    ],
)
def test_an_unreadable_file_is_named_in_the_problem_list(open_app, writable_db, name, data, message):
    """Regression: the mapping editor read the headers of every file and stopped the page with a
    bare message that named no file."""
    at = open_app(writable_db, "pages/upload.py")
    ok = b"milestone_id,project_id,name,owner,baseline_finish\nM-X1,P-ROUTE,Fine,Ann Lee,2026-07-31\n"
    at.file_uploader[0].set_value([(name, data, "application/octet-stream"), ("milestones.csv", ok, "text/csv")])
    at.run()

    assert not at.exception
    assert table(at, "file", "detected")["detected"].to_list() == ["unreadable", "template"]
    problems = table(at, "problem")
    assert problems["file"].to_list() == [name] and message in problems["problem"][0]
    assert not [b for b in at.button if b.key == "up_commit"]


def test_an_unknown_layout_is_read_with_a_saved_mapping(open_app, writable_db):
    at = open_app(writable_db, "pages/upload.py")
    layout = (
        b"Deliverable ID,Workstream,Deliverable,Lead,Planned end\n"
        b"D-1,P-ROUTE,Route planner beta,Priya Raman,2026-07-31\n"
    )
    at.file_uploader[0].set_value([("tracker.csv", layout, "text/csv")])
    at.run()
    assert table(at, "file", "detected")["detected"].to_list() == ["unknown"]
    prefix = "up_map_(new mapping)_milestones_"
    for column, header in {
        "milestone_id": "Deliverable ID",
        "project_id": "Workstream",
        "name": "Deliverable",
        "owner": "Lead",
        "baseline_finish": "Planned end",
    }.items():
        at.selectbox(key=prefix + column).set_value(header)
    at.text_input(key="up_profile_name").set_value("Tracker")
    at.run()
    at.button(key="up_profile_save").click().run()
    assert no_errors(at)
    preview = table(at, "milestone_id", "baseline_finish")
    assert preview["milestone_id"].to_list() == ["D-1"]
    with Store.open(writable_db) as store:
        assert store.load_mapping_profile("Tracker")["columns"]["owner"] == "Lead"


def test_empty_database_offers_the_sample_and_the_upload_page(open_app, tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_AUTOLOAD_SAMPLE", "0")
    at = open_app(tmp_path / "empty.duckdb")
    assert not at.exception
    assert "No data yet" in at.info[0].value
    assert at.button(key="load_sample").label == "Load the sample portfolio"
    at.button(key="load_sample").click().run()
    assert no_errors(at)
    assert "As of **15 Jun 2026**" in at.caption[0].value


def test_errors_show_their_message_never_a_traceback():
    def page() -> None:
        import streamlit as st

        from kpi_engine.core.errors import NotFoundError
        from ui.errors import guard

        with guard():
            raise NotFoundError("there is no KPI 'K-NOPE' in this snapshot")
        with guard():
            raise ZeroDivisionError("a bug")
        st.write("the page goes on")

    at = AppTest.from_function(page, default_timeout=30)
    at.run()
    assert not at.exception
    assert at.error[0].value == "there is no KPI 'K-NOPE' in this snapshot"
    assert "Something went wrong" in at.error[1].value and "ZeroDivision" not in at.error[1].value
    assert at.markdown[0].value == "the page goes on"


def test_an_empty_file_shows_its_problem_first_not_the_mapping_editor(open_app, writable_db):
    """Regression: an empty file opened the full mapping editor above "the file is empty"."""
    at = open_app(writable_db, "pages/upload.py")
    at.file_uploader[0].set_value([("empty.csv", b"", "text/csv")])
    at.run()
    assert not at.exception
    kinds = [getattr(e, "type", "") for e in at.main]
    assert kinds.index("subheader") < kinds.index("expander")  # "Files", then "Problems (1)" above the editor
    assert [s.value for s in at.subheader][:2] == ["Files", "Problems (1)"]
    editor = next(e for e in at.expander if e.label == "Column mapping for other layouts")
    assert not editor.proto.expanded
    assert not at.warning  # no "match no known layout: map their columns" for a file with nothing to map
    assert "empty.csv: the file is empty" in html_text(at)


def test_the_preview_hides_the_readers_columns_and_shows_dates_as_dates(open_app, writable_db):
    at = open_app(writable_db, "pages/upload.py")
    at.file_uploader[0].set_value([(p.name, p.read_bytes(), "text/csv") for p in sorted(WEEK.glob("*.csv"))])
    at.date_input(key="up_as_of").set_value(date(2026, 6, 22))
    at.run()
    preview = next(f for f in at.dataframe if {"milestone_id", "baseline_start"} <= set(f.value.columns))
    assert not [c for c in preview.value.columns if c.startswith("_")]
    config = json.loads(preview.proto.columns)
    assert config["baseline_start"]["type_config"]["type"] == "date"
    assert config["baseline_start"]["type_config"]["format"] == "YYYY-MM-DD"


def test_the_causal_chain_says_which_way_the_slip_moves_the_kpi(reader):
    """Regression: the chain read "this slip costs -0.068 USD/mile"."""
    reader.switch_page("pages/exceptions.py")
    reader.run()
    chain = chart_text(charts(reader)[0])
    assert "this slip raises Cost per mile by 0.068 USD/mile" in chain
    assert "costs -" not in chain


def test_pulse_and_exceptions_count_watermelons_in_the_same_words(reader):
    """Regression: Pulse said "Watermelons 27" while Exceptions said "38 watermelon rows"."""
    reader.switch_page("pages/pulse.py")
    reader.run()
    melons = int(metric(reader, "Watermelon milestones"))
    reader.switch_page("pages/exceptions.py")
    reader.run()
    line = next(m.value for m in reader.markdown if "exception rows" in m.value)
    assert f"**{melons}** watermelon milestones" in line
    assert "rows: a milestone has a row per KPI it hurts" in line


def test_an_upload_of_kpi_actuals_lists_what_it_changes(open_app, writable_db):
    """Regression: an upload that changed KPI actuals said "0 change(s)"."""
    at = open_app(writable_db, "pages/upload.py")
    actuals = b"kpi_id,as_of,value\nK-CPM,2026-03-31,2.11\nK-CPM,2026-06-30,2.02\n"
    at.file_uploader[0].set_value([("kpi_actuals.csv", actuals, "text/csv")])
    at.date_input(key="up_as_of").set_value(date(2026, 6, 22))
    at.run()
    assert no_errors(at), [e.value for e in (*at.exception, *at.error)]
    assert any("2 change\\(s\\) since snapshot 8" in m.value for m in at.markdown)
    changes = table(at, "change", "detail")
    assert set(changes["change"]) == {"kpi_actual_added", "kpi_actual_changed"}
