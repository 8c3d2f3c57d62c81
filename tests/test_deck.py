"""The board deck (.pptx): slide titles, the worked example's M1 sentence, charts as pictures."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from builders import fleet_portfolio, frame
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Inches

from kpi_engine.core.settings import Settings
from kpi_engine.engine.compute import compute
from kpi_engine.output.deck import TITLE_BUDGET, TITLE_EXCEPTIONS, TITLE_HEATMAP, TITLE_PULSE, board_deck, write_deck

M1_WHY = (
    "Routing software go-live (Fleet routing optimization, Priya Raman) now finishes 2026-09-21, 21 days late, "
    "reported Green; Cost per mile reaches 2.018 USD/mile by 2026-09-30 against a target of 1.950; "
    "400,000 USD of value is lost this period."
)
CANDIDATES = [
    {"milestone_id": "M1", "name": "Vendor war room", "start_date": "2026-08-31", "cost": 50_000, "fraction": 0.6},
    {"milestone_id": "M3", "name": "Overtime", "start_date": "2026-09-01", "cost": 20_000, "fraction": 0.5},
]


def _open(data: bytes):
    return Presentation(io.BytesIO(data))


def _titles(deck) -> list[str]:
    return [slide.shapes.title.text if slide.shapes.title is not None else "" for slide in deck.slides]


def _texts(slide) -> str:
    return "\n".join(shape.text_frame.text for shape in slide.shapes if shape.has_text_frame)


@pytest.fixture(scope="module")
def fleet_deck():
    from datetime import date

    rows = [{**row, "start_date": date.fromisoformat(row["start_date"])} for row in CANDIDATES]
    portfolio = replace(fleet_portfolio(), mitigations=frame("mitigations", rows))
    result = compute(portfolio, Settings(workaround_budget=100_000))
    data, note = board_deck(result)
    assert note is None
    return _open(data)


def test_slides_are_16_9_with_their_titles(fleet_deck):
    assert (fleet_deck.slide_width, fleet_deck.slide_height) == (Inches(13.333), Inches(7.5))
    titles = _titles(fleet_deck)
    assert titles[1:4] == [TITLE_PULSE, TITLE_EXCEPTIONS, TITLE_HEATMAP]
    assert "Idle hours per truck per week: projected 6 vs target 5" in titles
    assert "Cost per mile: projected 2.018 vs target 1.95" in titles
    assert titles[-1] == f"{TITLE_BUDGET}: 100,000 USD"
    assert "Snapshot as of 2026-06-15" in _texts(fleet_deck.slides[0])


def test_pulse_shows_value_at_risk_and_kpis_that_miss(fleet_deck):
    pulse = fleet_deck.slides[1]
    assert "460,000 USD of value at risk this period" in _texts(pulse)
    (table,) = [shape.table for shape in pulse.shapes if shape.has_table]
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    assert rows[0] == ["KPI missing its target", "Unit", "Projected", "Target", "Shortfall", "By"]
    assert ["Cost per mile", "USD/mile", "2.018", "1.95", "0.068", "2026-09-30"] in rows


def test_top_exceptions_say_why_and_who_must_act(fleet_deck):
    text = _texts(fleet_deck.slides[2])
    assert M1_WHY in text
    assert "Who must act: Dana Whitfield (level 3); 400,000 USD at risk" in text


def test_charts_are_pictures(fleet_deck):
    by_title = dict(zip(_titles(fleet_deck), fleet_deck.slides, strict=True))
    for title in (TITLE_HEATMAP, "Cost per mile: projected 2.018 vs target 1.95", f"{TITLE_BUDGET}: 100,000 USD"):
        pictures = [s for s in by_title[title].shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == 1, title
        assert pictures[0].image.content_type == "image/png"


def test_budget_slide_lists_the_best_set(fleet_deck):
    slide = fleet_deck.slides[-1]
    assert "Fund 2 workaround(s) for 70,000 USD: they recover 270,000 USD, a net gain of 200,000 USD." in _texts(slide)
    (table,) = [shape.table for shape in slide.shapes if shape.has_table]
    assert [cell.text for cell in table.rows[1].cells] == ["M1", "Vendor war room", "50,000", "190,000"]


def test_no_budget_means_no_budget_slide(tmp_path):
    path, _ = write_deck(compute(fleet_portfolio()), tmp_path / "board.pptx")
    titles = _titles(Presentation(str(path)))
    assert not any(title.startswith(TITLE_BUDGET) for title in titles)
    assert TITLE_PULSE in titles
