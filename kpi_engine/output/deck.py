"""The board deck (.pptx): the snapshot in a handful of 16:9 slides a board reads in five minutes.

Slides, in order:

1. Title: the snapshot date and the currency.
2. "The pulse": value at risk, exceptions, watermelons, and the KPIs that miss their
   target (projected vs target).
3. "Top exceptions": the first rows of the exception list, each with its one-sentence
   ``why`` and who must act.
4. "Where work is slipping": the slip heatmap (program x month due), as a picture.
5. One slide per KPI that misses (at most :data:`MAX_TRAJECTORIES`): its trajectory to the
   target date, as a picture.
6. "Best use of a budget": the best set of candidate workarounds for the
   ``workaround_budget`` setting (only when it is above 0).

Pictures are drawn with vl-convert from Vega-Lite specs built here (no plotting library);
when drawing fails the deck is written without them and says so on the title slide.

>>> path = write_deck(result, "board.pptx")             # doctest: +SKIP
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from kpi_engine.core.rag import RAG_COLOURS
from kpi_engine.engine import views
from kpi_engine.engine.compute import EngineResult
from kpi_engine.output.safe_output import write_bytes
from kpi_engine.whatif.optimize import Optimum

#: How many exceptions the "Top exceptions" slide lists.
TOP_EXCEPTIONS = 5
#: How many KPIs that miss the pulse slide lists (largest shortfall first).
PULSE_KPIS = 6
#: How many KPI trajectories get a slide (the KPIs with the largest shortfall first).
MAX_TRAJECTORIES = 4
#: Slide titles (tests and readers find slides by them).
TITLE_PULSE = "The pulse"
TITLE_EXCEPTIONS = "Top exceptions"
TITLE_HEATMAP = "Where work is slipping"
TITLE_BUDGET = "Best use of a budget"

_VEGA_LITE = "https://vega.github.io/schema/vega-lite/v5.json"
_SLIDE_W_IN, _SLIDE_H_IN = 13.333, 7.5
_DARK = (0x26, 0x32, 0x38)
_GREY = (0x60, 0x6B, 0x73)


def _money(value: float, currency: str) -> str:
    return f"{value:,.0f} {currency}"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


# ---------------------------------------------------------------------------- pictures
def heatmap_spec(result: EngineResult) -> dict[str, Any] | None:
    """Vega-Lite spec of the slip heatmap: programs x month due, coloured by the worst slip."""
    top = views.top_slip_cells(views.slip_heatmap(result.milestones, "program"), "max_slip_days")
    cells = top.cells
    if cells.height == 0:
        return None
    worst = max(float(cells["max_slip_days"].max() or 0), 1.0)  # type: ignore[arg-type]  # a frame cell: polars types it as any scalar
    return {
        "$schema": _VEGA_LITE,
        "title": {"text": "Worst slip per cell (days), by program and month due", "anchor": "start", "fontSize": 16},
        "width": 760,
        "height": max(240, 64 * cells["group"].n_unique()),
        "data": {"values": cells.select("group", "month", "max_slip_days", "milestones", "red").to_dicts()},
        "encoding": {
            "x": {
                "field": "month",
                "type": "ordinal",
                "title": "Month due (baseline finish)",
                "axis": {"labelAngle": 0},
            },
            "y": {
                "field": "group",
                "type": "nominal",
                "title": None,
                "sort": {"field": "row_rank", "op": "min"} if "row_rank" in cells.columns else "ascending",
                "axis": {"labelLimit": 260, "labelFontSize": 13},
            },
        },
        "layer": [
            {
                "mark": {"type": "rect", "stroke": "white", "strokeWidth": 1.5},
                "encoding": {
                    "color": {
                        "field": "max_slip_days",
                        "type": "quantitative",
                        "title": "Worst slip (days)",
                        "scale": {"scheme": "reds", "domain": [0, worst], "clamp": True},
                    }
                },
            },
            {
                "mark": {"type": "text", "fontSize": 13},
                "encoding": {
                    "text": {"field": "max_slip_days", "type": "quantitative", "format": ",.0f"},
                    "color": {
                        "condition": {"test": f"datum.max_slip_days > {worst * 0.55}", "value": "white"},
                        "value": "#263238",
                    },
                },
            },
        ],
        "config": {"axis": {"labelFontSize": 12, "titleFontSize": 13}},
    }


def trajectory_spec(result: EngineResult, kpi_id: str) -> dict[str, Any]:
    """Vega-Lite spec of one KPI's path: actuals, projected and baseline plan, with the target."""
    kpi = result.kpi(kpi_id)
    path = views.kpi_trajectory(result, kpi_id).with_columns(pl.col("date").cast(pl.String))
    unit = f" ({kpi['unit']})" if kpi.get("unit") else ""
    target = float(kpi["target_value"])  # type: ignore[arg-type]  # a frame cell: polars types it as any scalar
    colours = {"Actual": "#263238", "Projected": RAG_COLOURS["Red"], "Baseline plan": "#9E9E9E"}
    return {
        "$schema": _VEGA_LITE,
        "width": 760,
        "height": 330,
        "layer": [
            {
                "data": {"values": path.to_dicts()},
                "mark": {"type": "line", "point": True, "strokeWidth": 3},
                "encoding": {
                    "x": {
                        "field": "date",
                        "type": "temporal",
                        "title": None,
                        "axis": {"format": "%b %Y", "tickCount": {"interval": "month", "step": 1}},
                    },
                    "y": {
                        "field": "value",
                        "type": "quantitative",
                        "title": f"{kpi['name']}{unit}",
                        "scale": {"zero": False},
                    },
                    "color": {
                        "field": "series",
                        "type": "nominal",
                        "title": None,
                        "scale": {"domain": list(colours), "range": list(colours.values())},
                        "legend": {"orient": "top", "labelFontSize": 13},
                    },
                    "strokeDash": {
                        "field": "series",
                        "type": "nominal",
                        "scale": {"domain": list(colours), "range": [[1, 0], [1, 0], [6, 4]]},
                        "legend": None,
                    },
                },
            },
            {
                "data": {"values": [{"target": kpi["target_value"], "label": f"target {_number(target)}"}]},
                "layer": [
                    {
                        "mark": {"type": "rule", "color": "black", "strokeDash": [2, 2]},
                        "encoding": {"y": {"field": "target", "type": "quantitative"}},
                    },
                    {
                        "mark": {"type": "text", "align": "left", "dx": 4, "dy": -8, "fontSize": 13},
                        "encoding": {
                            "y": {"field": "target", "type": "quantitative"},
                            "x": {"value": 0},
                            "text": {"field": "label"},
                        },
                    },
                ],
            },
        ],
        "config": {"axis": {"labelFontSize": 12, "titleFontSize": 13}},
    }


def frontier_spec(optimum: Optimum, currency: str) -> dict[str, Any]:
    """Vega-Lite spec of the best net value against the budget, the chosen budget marked."""
    frontier = views.thin(optimum.frontier, 2000)
    return {
        "$schema": _VEGA_LITE,
        "width": 520,
        "height": 300,
        "layer": [
            {
                "data": {"values": frontier.to_dicts()},
                "mark": {"type": "line", "interpolate": "step-after", "strokeWidth": 3, "color": RAG_COLOURS["Green"]},
                "encoding": {
                    "x": {
                        "field": "budget",
                        "type": "quantitative",
                        "title": f"Budget ({currency})",
                        "axis": {"format": "~s"},
                    },
                    "y": {
                        "field": "total_net",
                        "type": "quantitative",
                        "title": f"Best net value ({currency})",
                        "axis": {"format": "~s"},
                    },
                },
            },
            {
                "data": {"values": [{"budget": optimum.budget, "total_net": optimum.total_net}]},
                "mark": {"type": "rule", "color": "black", "strokeDash": [4, 3]},
                "encoding": {"x": {"field": "budget", "type": "quantitative"}},
            },
        ],
        "config": {"axis": {"labelFontSize": 12, "titleFontSize": 13}},
    }


def deck_specs(result: EngineResult, optimum: Optimum | None = None) -> dict[str, dict[str, Any]]:
    """Return the deck's pictures as Vega-Lite specs, by key (``heatmap``, ``kpi:<id>``, ``frontier``)."""
    specs: dict[str, dict[str, Any]] = {}
    heatmap = heatmap_spec(result)
    if heatmap is not None:
        specs["heatmap"] = heatmap
    for kpi_id in _missing(result)["kpi_id"].head(MAX_TRAJECTORIES).to_list():
        specs[f"kpi:{kpi_id}"] = trajectory_spec(result, kpi_id)
    if optimum is not None and optimum.frontier.height > 1:
        specs["frontier"] = frontier_spec(optimum, result.settings.currency)
    return specs


def render_pictures(specs: Mapping[str, dict[str, Any]], scale: float = 2.0) -> tuple[dict[str, bytes], str | None]:
    """Draw specs as PNG with vl-convert: the pictures, or none and a sentence saying why."""
    try:
        import vl_convert
    except ImportError:
        return {}, "Charts are left out: the vl-convert-python package is not installed."
    pictures: dict[str, bytes] = {}
    for key, spec in specs.items():
        try:
            pictures[key] = vl_convert.vegalite_to_png(spec, scale=scale)
        except Exception as err:
            return {}, f"Charts are left out: drawing '{key}' failed ({err})."
    return pictures, None


# ---------------------------------------------------------------------------- slides
def _missing(result: EngineResult) -> pl.DataFrame:
    return result.kpis.filter(pl.col("misses")).sort("shortfall", "kpi_id", descending=[True, False])


@dataclass
class _Deck:
    """python-pptx helpers bound to one presentation."""

    prs: Any

    def slide(self, title: str) -> Any:
        from pptx.util import Pt

        slide = self.prs.slides.add_slide(self.prs.slide_layouts[5])  # title only
        shape = slide.shapes.title
        shape.text = title
        shape.left, shape.top, shape.width, shape.height = self.emu(0.5), self.emu(0.3), self.emu(12.3), self.emu(0.9)
        for paragraph in shape.text_frame.paragraphs:
            # a long title (a KPI's name and figures) stays on one line
            paragraph.font.size = Pt(30 if len(title) <= 48 else 24 if len(title) <= 64 else 20)
            paragraph.font.bold = True
            paragraph.font.color.rgb = self.rgb(_DARK)
        return slide

    @staticmethod
    def emu(inches: float) -> int:
        from pptx.util import Inches

        return int(Inches(inches))

    @staticmethod
    def rgb(colour: tuple[int, int, int]) -> Any:
        from pptx.dml.color import RGBColor

        return RGBColor(*colour)

    def text(
        self,
        slide: Any,
        lines: list[tuple[str, float, bool, tuple[int, int, int]]],
        box: tuple[float, float, float, float],
    ) -> Any:
        """A text box of (text, points, bold, colour) paragraphs, words wrapped."""
        from pptx.util import Pt

        left, top, width, height = box
        shape = slide.shapes.add_textbox(self.emu(left), self.emu(top), self.emu(width), self.emu(height))
        frame = shape.text_frame
        frame.word_wrap = True
        for i, (words, size, bold, colour) in enumerate(lines):
            paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            run = paragraph.add_run()
            run.text = words
            run.font.size = Pt(size)
            run.font.bold = bold
            run.font.color.rgb = self.rgb(colour)
            paragraph.space_after = Pt(size * 0.4)
        return shape

    def table(self, slide: Any, frame: pl.DataFrame, box: tuple[float, float, float, float], size: float = 14) -> Any:
        """A table of text cells (header row first), right-aligned where the column holds numbers."""
        from pptx.enum.text import PP_ALIGN
        from pptx.util import Pt

        left, top, width, height = box
        rows = frame.height + 1
        shape = slide.shapes.add_table(
            rows, frame.width, self.emu(left), self.emu(top), self.emu(width), self.emu(min(height, 0.45 * rows))
        )
        table = shape.table
        if frame.width > 2:  # the first column holds names: give it a third of the width
            first = width / 3
            table.columns[0].width = self.emu(first)
            for c in range(1, frame.width):
                table.columns[c].width = self.emu((width - first) / (frame.width - 1))
        numeric = (
            [str(v).replace(",", "").replace(".", "").lstrip("-").split(" ")[0].isdigit() for v in frame.row(0)]
            if frame.height
            else []
        )
        for c, name in enumerate(frame.columns):
            cells = [name, *[str(v) for v in frame[name].to_list()]]
            for r, value in enumerate(cells):
                cell = table.cell(r, c)
                cell.text = value
                for paragraph in cell.text_frame.paragraphs:
                    paragraph.font.size = Pt(size)
                    paragraph.font.bold = r == 0
                    if r > 0 and numeric and numeric[c]:
                        paragraph.alignment = PP_ALIGN.RIGHT
        return shape

    def picture(self, slide: Any, png: bytes, box: tuple[float, float, float, float]) -> Any:
        """A picture scaled to fit the box, keeping its proportions, centred horizontally."""
        left, top, width, height = box
        px_w, px_h = struct.unpack(">II", png[16:24])
        scale = min(width / px_w, height / px_h)
        w, h = px_w * scale, px_h * scale
        return slide.shapes.add_picture(
            io.BytesIO(png), self.emu(left + (width - w) / 2), self.emu(top), self.emu(w), self.emu(h)
        )


def deck_bytes(
    result: EngineResult,
    pictures: Mapping[str, bytes] | None = None,
    optimum: Optimum | None = None,
    note: str | None = None,
) -> bytes:
    """Return the board deck of a snapshot as .pptx bytes.

    Parameters
    ----------
    result
        The snapshot's engine result.
    pictures
        PNG pictures by key (:func:`deck_specs` drawn by :func:`render_pictures`); missing
        pictures are left out.
    optimum
        The best workaround set for the ``workaround_budget`` setting, or None for no
        budget slide.
    note
        Why pictures are missing, shown on the title slide.
    """
    from pptx import Presentation

    pictures = pictures or {}
    currency = result.settings.currency
    prs: Any = Presentation()
    prs.slide_width, prs.slide_height = _Deck.emu(_SLIDE_W_IN), _Deck.emu(_SLIDE_H_IN)
    deck = _Deck(prs)

    # 1. title
    title = prs.slides.add_slide(prs.slide_layouts[6])  # blank: laid out here
    as_of = result.portfolio.as_of
    deck.text(
        title,
        [
            ("Strategy execution: board pack", 40, True, _DARK),
            (f"Snapshot as of {as_of.isoformat()} ({as_of:%d %B %Y})", 24, False, _DARK),
            (f"Money in {currency}. Computed from the portfolio's milestones, tasks and KPI links.", 16, False, _GREY),
            *([(note, 14, False, _GREY)] if note else []),
        ],
        (0.8, 2.4, 11.7, 3.0),
    )

    # 2. pulse
    counts = views.pulse_counts(result)
    missing = _missing(result)
    slide = deck.slide(TITLE_PULSE)
    deck.text(
        slide,
        [
            (f"{_money(counts.value_at_risk, currency)} of value at risk this period", 24, True, _DARK),
            (
                f"{missing.height} of {result.kpis.height} KPIs miss their target; {counts.exceptions} exceptions "
                f"({counts.new_exceptions} new), {counts.red} milestones Red, {counts.watermelons} reported better "
                "than computed.",
                18,
                False,
                _DARK,
            ),
        ],
        (0.6, 1.3, 12.1, 1.4),
    )
    if missing.height:
        deck.table(
            slide,
            missing.head(PULSE_KPIS).select(
                pl.col("name").alias("KPI missing its target"),
                pl.col("unit").fill_null("").alias("Unit"),
                pl.col("projected").map_elements(_number, return_dtype=pl.String).alias("Projected"),
                pl.col("target_value").map_elements(_number, return_dtype=pl.String).alias("Target"),
                pl.col("shortfall").map_elements(_number, return_dtype=pl.String).alias("Shortfall"),
                pl.col("target_date").cast(pl.String).alias("By"),
            ),
            (0.6, 2.9, 12.1, 4.0),
            size=15,
        )
        if missing.height > PULSE_KPIS:
            rest = missing.height - PULSE_KPIS
            more = f"... and {rest} more KPI{'s' if rest > 1 else ''} missing their target."
            deck.text(slide, [(more, 13, False, _GREY)], (0.6, 6.85, 12.1, 0.4))
    else:
        deck.text(slide, [("Every KPI is projected to meet its target.", 18, False, _DARK)], (0.6, 3.0, 12.1, 1.0))

    # 3. top exceptions
    slide = deck.slide(TITLE_EXCEPTIONS)
    top = result.exceptions.head(TOP_EXCEPTIONS)
    lines: list[tuple[str, float, bool, tuple[int, int, int]]] = []
    for row in top.iter_rows(named=True):
        who = row["escalate_to"] or "no one named"
        money = f"; {_money(row['value_at_risk'], currency)} at risk" if row["value_at_risk"] else ""
        lines.append((row["why"] or "", 15, False, _DARK))
        lines.append((f"Who must act: {who} (level {row['escalation_level']}){money}", 13, True, _GREY))
    if not lines:
        lines = [("No exceptions in this snapshot.", 18, False, _DARK)]
    elif result.exceptions.height > TOP_EXCEPTIONS:
        lines.append(
            (f"... and {result.exceptions.height - TOP_EXCEPTIONS} more in the exception list.", 13, False, _GREY)
        )
    deck.text(slide, lines, (0.6, 1.3, 12.1, 5.9))

    # 4. heatmap
    if "heatmap" in pictures:
        slide = deck.slide(TITLE_HEATMAP)
        deck.picture(slide, pictures["heatmap"], (0.6, 1.3, 12.1, 5.9))

    # 5. trajectories of the KPIs that miss
    for row in missing.head(MAX_TRAJECTORIES).iter_rows(named=True):
        key = f"kpi:{row['kpi_id']}"
        if key not in pictures:
            continue
        unit = f" {row['unit']}" if row["unit"] else ""
        slide = deck.slide(
            f"{row['name']}: projected {_number(row['projected'])} vs target {_number(row['target_value'])}"
        )
        deck.text(
            slide,
            [
                (
                    f"Projected at {row['target_date']}: {_number(row['projected'])}{unit} against a target of "
                    f"{_number(row['target_value'])}{unit} (short by {_number(row['shortfall'])}). "
                    "Dashed: where the baseline plan would take it.",
                    15,
                    False,
                    _GREY,
                )
            ],
            (0.6, 1.2, 12.1, 0.8),
        )
        deck.picture(slide, pictures[key], (0.6, 2.0, 12.1, 5.2))

    # 6. best use of a budget
    if optimum is not None:
        slide = deck.slide(f"{TITLE_BUDGET}: {_money(optimum.budget, currency)}")
        summary = (
            f"Fund {optimum.chosen.height} workaround(s) for {_money(optimum.total_cost, currency)}: they recover "
            f"{_money(optimum.total_recovered, currency)}, a net gain of {_money(optimum.total_net, currency)}."
            if optimum.chosen.height
            else "No candidate workaround within this budget recovers more than it costs."
        )
        deck.text(slide, [(summary, 18, True, _DARK)], (0.6, 1.3, 12.1, 0.9))
        width = 6.6 if "frontier" in pictures else 12.1
        if optimum.chosen.height:
            deck.table(
                slide,
                optimum.chosen.head(10).select(
                    pl.col("milestone_id").alias("Milestone"),
                    pl.col("name").alias("Workaround"),
                    pl.col("cost").map_elements(lambda v: f"{v:,.0f}", return_dtype=pl.String).alias("Cost"),
                    pl.col("net_value").map_elements(lambda v: f"{v:,.0f}", return_dtype=pl.String).alias("Net"),
                ),
                (0.6, 2.4, width, 4.6),
                size=14,
            )
        if "frontier" in pictures:
            deck.picture(slide, pictures["frontier"], (7.4, 2.4, 5.4, 4.6))

    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


def board_deck(result: EngineResult, draw: bool = True) -> tuple[bytes, str | None]:
    """Return the complete board deck (.pptx bytes) and a note when pictures are missing.

    The budget slide comes from the snapshot's candidate workarounds and the
    ``workaround_budget`` setting (none when it is 0).
    """
    optimum = None
    if result.settings.workaround_budget > 0:
        from kpi_engine.whatif.optimize import optimize

        optimum = optimize(result.portfolio, result.settings.workaround_budget)
    pictures: dict[str, bytes] = {}
    note = None
    if draw:
        pictures, note = render_pictures(deck_specs(result, optimum))
    return deck_bytes(result, pictures, optimum, note), note


def write_deck(result: EngineResult, path: str | Path) -> tuple[Path, str | None]:
    """Write the board deck to ``path``; return the path and a note when pictures are missing.

    Raises
    ------
    OutputError
        The file cannot be written there.
    """
    data, note = board_deck(result)
    target = Path(path)
    write_bytes(target, data)
    return target, note
