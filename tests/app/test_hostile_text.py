"""Names from the data and from users are shown as text on every page, never as Markdown.

Regression: a scenario named ``[Click to approve](https://evil.example/phish)`` was a live
link in the What-if heading, the "Opened" notice and the Delete popover; a milestone named
``![pixel](https://...)`` made every viewer's browser fetch the image from the What-if hint.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from app_helpers import no_errors
from hostile_text import LINK, hostile_portfolio, live_markup, markdown_texts
from streamlit.testing.v1 import AppTest

from kpi_engine.store import NAME_CHARS, Store

PAGES = [
    "pages/pulse.py",
    "pages/exceptions.py",
    "pages/heatmap.py",
    "pages/kpis.py",
    "pages/whatif.py",
    "pages/governance.py",
    "pages/upload.py",
    "pages/history.py",
    "pages/settings.py",
]
ESCAPED_LINK = "\\[Click to approve\\]\\(https:\u2060//evil.example/phish\\)"


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_portfolio(tmp_path_factory.mktemp("hostile") / "hostile.duckdb")


@pytest.fixture
def writable_hostile_db(hostile_db: Path, tmp_path: Path) -> Path:
    import shutil

    path = tmp_path / "hostile.duckdb"
    shutil.copyfile(hostile_db, path)
    return path


def assert_shown_as_text(at: AppTest, errors_expected: bool = False) -> list[tuple[str, str]]:
    assert not at.exception, [e.value for e in at.exception]
    assert errors_expected or no_errors(at), [e.value for e in at.error]
    texts = markdown_texts(at)
    assert not live_markup(texts), live_markup(texts)
    return texts


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_hostile_names_as_text(hostile_db, open_app, page):
    assert_shown_as_text(open_app(hostile_db, page))


def test_what_if_hint_shows_the_milestone_name_as_text(hostile_db, open_app):
    at = open_app(hostile_db, "pages/whatif.py")
    texts = assert_shown_as_text(at)
    hint = next(text for kind, text in texts if "the open milestone with the most value at risk" in text)
    assert ESCAPED_LINK in hint or "\\!\\[pixel\\]" in hint


def test_an_opened_scenario_named_as_a_link_stays_text(writable_hostile_db, open_app):
    at = open_app(writable_hostile_db, "pages/whatif.py")
    with Store.open(writable_hostile_db) as store:
        saved = store.list_scenarios()
    linked = int(saved.filter(pl.col("name") == LINK)["scenario_id"][0])
    at.selectbox(key="wi_pick").set_value(linked).run()
    at.button(key="wi_open").click().run()
    texts = [text for _, text in assert_shown_as_text(at)]
    assert f"Scenario: {ESCAPED_LINK}" in texts  # the heading
    assert f"Opened '{ESCAPED_LINK}'." in texts  # the notice
    assert f"Delete **{ESCAPED_LINK}** for everyone? This cannot be undone." in texts  # the popover
    assert f"Save changes to '{ESCAPED_LINK}'" in texts  # the button


def test_a_mapping_profile_named_as_a_link_is_saved_as_text(writable_hostile_db, open_app):
    at = open_app(writable_hostile_db, "pages/upload.py")
    layout = b"Deliverable ID,Workstream,Deliverable,Lead,Planned end\nD-1,P1,Beta,Ann,2026-07-31\n"
    at.file_uploader[0].set_value([("tracker.csv", layout, "text/csv")])
    at.run()
    at.text_input(key="up_profile_name").set_value(LINK).run()
    at.button(key="up_profile_save").click().run()
    # the file is not mapped yet, so its rows are listed as problems
    texts = [text for _, text in assert_shown_as_text(at, errors_expected=True)]
    assert f"Saved the mapping profile '{ESCAPED_LINK}'." in texts


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("x" * (NAME_CHARS + 1), f"shorten it to {NAME_CHARS} characters or fewer", id="too-long"),
        pytest.param("first line\nsecond line", "must fit on one line", id="two-lines"),
    ],
)
def test_a_scenario_name_that_cannot_head_a_page_is_refused(writable_db, open_app, name, message):
    at = open_app(writable_db, "pages/whatif.py")
    at.multiselect(key="wi_milestones").set_value(["M1"]).run()
    at.text_input(key="wi_name").set_value(name).run()
    at.button(key="wi_save").click().run()
    assert message in at.error[0].value
    with Store.open(writable_db) as store:
        assert store.list_scenarios().height == 0
