"""Browser journeys: hostile names stay text (no request leaves the machine); views live in the address."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from browser_helpers import wait_for_app
from playwright.sync_api import expect
from test_journeys import PAGES, assert_no_error, open_page

pytestmark = pytest.mark.e2e

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SUMMARY = re.compile(r"^\d+ of \d+ exception rows")


def test_hostile_names_make_no_request_to_another_host(browser, hostile_server):
    """Regression: a name ``![pixel](https://.../track.png)`` made every viewer's browser fetch the image."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda request: (
            elsewhere.append(request.url)
            if urlparse(request.url).scheme in ("http", "https", "ws", "wss")
            and urlparse(request.url).hostname not in LOCAL_HOSTS
            else None
        ),
    )
    try:
        for title in PAGES:
            open_page(page, hostile_server, title)
            assert page.get_by_test_id("stException").count() == 0, title
            assert page.locator('a[href*="evil.example"], img[src*="evil.example"]').count() == 0, title
        # open a saved scenario: the heading, the notice and the Delete popover show its name
        open_page(page, hostile_server, "What-if")
        page.locator(".st-key-wi_open button").first.click()
        wait_for_app(page)
        # the newest saved scenario is named as an image; an invisible word joiner follows "https:"
        heading = re.compile(r"^Scenario: !\[pixel\]\(https:\W?//evil\.example/track\.png\)$")
        expect(page.get_by_text(heading)).to_be_visible()
        page.get_by_test_id("stPopover").filter(has_text="Delete").locator("button").first.click()
        page.wait_for_timeout(500)
        assert page.locator('a[href*="evil.example"], img[src*="evil.example"]').count() == 0
        page.wait_for_timeout(1_000)  # anything an image would fetch has started by now
    finally:
        context.close()
    assert elsewhere == [], sorted(set(elsewhere))


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the multiselect labelled ``label``."""
    box = page.get_by_test_id("stMultiSelect").filter(has_text=label).first
    box.locator("input").click()
    box.locator("input").fill(option)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_for_app(page)


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def summary(page) -> str:
    return page.get_by_text(SUMMARY).first.inner_text()


def test_filters_survive_a_reload_a_page_switch_and_a_shared_link(page, server, browser):
    open_page(page, server, "Exceptions")
    everything = summary(page)
    choose(page, "Program", "Fleet Optimization")
    page.get_by_text("Watermelons only", exact=True).click()
    page.wait_for_url(re.compile(r"watermelons=true"))  # the rerun has begun; wait for it to end
    wait_for_app(page)
    narrowed = summary(page)
    assert narrowed != everything
    assert query(page)["program"] == ["Fleet Optimization"]
    assert query(page)["watermelons"] == ["true"]
    link = page.url

    page.reload()
    wait_for_app(page)
    expect(page.get_by_text(SUMMARY).first).to_have_text(narrowed)

    open_page(page, server, "Portfolio pulse")
    open_page(page, server, "Exceptions")
    expect(page.get_by_text(SUMMARY).first).to_have_text(narrowed)
    assert query(page)["program"] == ["Fleet Optimization"]

    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        shared = other.new_page()
        shared.set_default_timeout(30_000)
        shared.goto(link)
        wait_for_app(shared)
        expect(shared.get_by_text(SUMMARY).first).to_have_text(narrowed)
        assert_no_error(shared)
    finally:
        other.close()


def test_a_top_exception_on_pulse_opens_its_drill_down(page, server):
    open_page(page, server, "Portfolio pulse")
    page.locator("[class*='st-key-pulse_open_'] button:visible").nth(1).click()
    page.wait_for_url(re.compile(r"/exceptions\?item="))
    wait_for_app(page)
    expect(page.locator("h1").first).to_have_text("Exceptions")
    item = query(page)["item"][0]
    picker = page.locator(".st-key-drill_row").last
    picked = picker.inner_text() + " ".join(picker.locator("input").evaluate_all("els => els.map(e => e.value)"))
    assert item.split(":")[0] in picked, picked
    assert_no_error(page)


def test_a_heatmap_row_opens_its_drill_down_and_the_choices_stay_in_the_address(page, server):
    open_page(page, server, "Heatmap")
    page.get_by_test_id("stButtonGroup").filter(has_text="Colour by").get_by_text("Value at risk").click()
    wait_for_app(page)
    assert query(page)["colour"] == ["Value at risk"]
    page.reload()
    wait_for_app(page)
    assert query(page)["colour"] == ["Value at risk"]
    # click the second row of the listed milestones (the selection column of the grid)
    grid = page.locator(".st-key-heat_slip_table").last
    expect(grid).to_be_visible()
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 35 + 17)
    wait_for_app(page)
    button = page.locator(".st-key-heat_slip_open button").first
    milestone = button.inner_text().split("Open ")[1].split(" in the")[0]
    button.click()
    page.wait_for_url(re.compile(r"/exceptions\?item="))
    wait_for_app(page)
    assert query(page)["item"][0].startswith(milestone)
    picker = page.locator(".st-key-drill_row").last
    picked = picker.inner_text() + " ".join(picker.locator("input").evaluate_all("els => els.map(e => e.value)"))
    assert picked.split()[-1] != "" and milestone in picked, picked
    assert_no_error(page)


def test_a_link_is_the_first_page_a_new_server_serves(browser, tmp_path):
    """Regression: the first link after a start opened Portfolio pulse (app.py had not framed the session)."""
    from browser_helpers import serve
    from hostile_text import hostile_portfolio

    server = serve(hostile_portfolio(tmp_path / "hostile.duckdb"), tmp_path)
    url = next(server)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{url}/exceptions?kind=milestone&watermelons=true")
        wait_for_app(page)
        expect(page.locator("h1").first).to_have_text("Exceptions")
        assert query(page)["kind"] == ["milestone"] and query(page)["watermelons"] == ["true"]
        assert_no_error(page)
    finally:
        context.close()
        server.close()
