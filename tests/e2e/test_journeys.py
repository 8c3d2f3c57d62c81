"""Browser journeys on the real server: what a PMO analyst and an executive do on Monday."""

from __future__ import annotations

import re

import pytest
from browser_helpers import wait_for_app
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PAGES = ["Portfolio pulse", "Exceptions", "Heatmap", "KPIs", "What-if", "Governance", "Upload", "History", "Settings"]


def open_page(page, server: str, title: str) -> None:
    """Open the app at home, then follow the sidebar link to ``title``."""
    if not page.url.startswith(server):
        page.goto(server)
        wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    wait_for_app(page)


def assert_no_error(page) -> None:
    assert page.get_by_test_id("stException").count() == 0
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def test_every_page_loads_without_an_error(page, server):
    for title in PAGES:
        open_page(page, server, title)
        assert_no_error(page)
        heading = page.locator("h1").first.inner_text()
        assert heading.strip(), f"{title} shows no heading"


def test_executive_filters_watermelons_and_opens_the_drill_down(page, server):
    open_page(page, server, "Exceptions")
    summary = page.get_by_text(re.compile(r"^\d+ of \d+ exception rows")).first
    total = int(summary.inner_text().split(" of ")[1].split()[0])
    page.get_by_text("Watermelons only", exact=True).click()
    wait_for_app(page)
    shown = int(page.get_by_text(re.compile(r"^\d+ of \d+ exception rows")).first.inner_text().split()[0])
    assert 0 < shown < total
    # the drill-down opens on the first row: the routing go-live, reported Green but 21 days late
    why = page.get_by_text(re.compile("Routing software go-live .* reported Green")).first
    expect(why).to_be_visible()
    assert "400,000 USD of value is lost this period" in why.inner_text()
    expect(page.get_by_text("Causal chain", exact=True)).to_be_visible()
    expect(page.get_by_text("Slip history across snapshots", exact=True)).to_be_visible()
    assert_no_error(page)


def test_pmo_uploads_a_week_and_sees_the_new_exception(page, server, tmp_path):
    # The office refresh PMO reports its milestone five weeks late, still "Green".
    export = tmp_path / "milestones.csv"
    export.write_text(
        "Milestone ID,Project ID,Name,Owner,Baseline Finish,Forecast Finish,Reported Status\n"
        "M6,P-OFFICE,Office party planning,Jo Park,2026-07-15,2026-08-20,Green\n",
        encoding="utf-8",
    )
    open_page(page, server, "Upload")
    date_box = page.get_by_test_id("stDateInput").locator("input")
    date_box.fill("2026-06-22")
    date_box.press("Enter")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(export))
    expect(page.get_by_text("What changed", exact=True)).to_be_visible(timeout=60_000)
    # the summary line and, once the grid has drawn, its cell both say so
    expect(page.get_by_text(re.compile("forecast moved")).first).to_be_visible()
    wait_for_app(page)
    page.get_by_role("button", name=re.compile("Commit")).click()
    expect(page.get_by_text(re.compile("Stored snapshot")).first).to_be_visible(timeout=60_000)

    open_page(page, server, "Exceptions")
    expect(page.get_by_text(re.compile("As of 22 Jun 2026")).first).to_be_visible()
    page.get_by_text("New since last snapshot", exact=True).click()
    wait_for_app(page)
    project = page.get_by_test_id("stMultiSelect").filter(has_text="Project").locator("input")
    project.click()
    project.press_sequentially("Office ref")
    page.get_by_role("option", name=re.compile("Office refresh")).first.click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    why = page.get_by_text(re.compile(r"Office party planning \(Office refresh, Jo Park\) now finishes 2026-08-20"))
    expect(why.first).to_be_visible()
    assert_no_error(page)


def test_a_what_if_that_changes_no_value_at_risk_says_so_and_shows_no_nan(page, server):
    # M6, the office party planning, is tied to no KPI: slipping it moves no value at risk
    open_page(page, server, "What-if")
    page.get_by_test_id("stMultiSelect").first.click()
    page.keyboard.type("Office party")
    page.get_by_role("option").first.click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    expect(page.get_by_text(re.compile("^This scenario changes nothing"))).to_be_visible()
    expect(page.locator("svg text", has_text="Snapshot as is").first).to_be_visible()
    drawn = page.evaluate("() => Array.from(document.querySelectorAll('svg text')).map(t => t.textContent).join(' ')")
    assert "This scenario" in drawn and "NaN" not in drawn
    assert "NaN" not in page.inner_text("body")
    assert_no_error(page)
