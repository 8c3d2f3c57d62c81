"""The board workbook: what a PMO mails to the board after each snapshot.

Sheets: Summary (headline figures, KPIs at risk, top 10 exceptions, optional pictures),
Exceptions (the full list), KPIs, Governance (findings and who should fix them),
Escalations (grouped by the person to notify), when history is given Slip history, and when the
escalation loop's log is given Decisions (each item's history: notified, decided,
re-escalated, closed).
Every text cell goes through :mod:`kpi_engine.output.safe_output`.

>>> write_report(result, "board.xlsx")                      # doctest: +SKIP
PosixPath('board.xlsx')
>>> charts, problem = render_charts(result)                 # doctest: +SKIP
>>> write_report(result, "board.xlsx", charts, note=problem)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from kpi_engine.core.errors import InputError
from kpi_engine.core.money import cents
from kpi_engine.core.rag import RAG_COLOURS
from kpi_engine.engine.compute import EngineResult
from kpi_engine.engine.exception_list import EXCEPTION_COLUMNS
from kpi_engine.output.safe_output import (
    DECIMAL_FORMAT,
    Formats,
    column_widths,
    money_format,
    neutralise,
    new_workbook,
    write_bytes,
    write_frame,
)

SUMMARY, EXCEPTIONS, KPIS, GOVERNANCE, ESCALATIONS, HISTORY = (
    "Summary",
    "Exceptions",
    "KPIs",
    "Governance",
    "Escalations",
    "Slip history",
)
DECISIONS = "Decisions"

#: Column name -> header text, shared by every sheet of the report.
LABELS: dict[str, str] = {
    "kind": "Kind",
    "milestone_id": "Milestone ID",
    "milestone_name": "Milestone",
    "project_id": "Project ID",
    "project_name": "Project",
    "owner": "Owner",
    "kpi_id": "KPI ID",
    "kpi_name": "KPI",
    "kpi_owner": "KPI owner",
    "baseline_finish": "Baseline finish",
    "computed_finish": "Computed finish",
    "slip_days": "Slip (days)",
    "reported_status": "Reported status",
    "computed_status": "Computed status",
    "watermelon": "Watermelon",
    "kpi_projected": "KPI projected",
    "kpi_target": "KPI target",
    "kpi_shortfall": "KPI shortfall",
    "kpi_impact": "KPI impact",
    "value_at_risk": "Value at risk",
    "escalation_level": "Escalation level",
    "escalate_to": "Escalate to",
    "escalate_role": "Role",
    "why": "Why",
    "new": "New since previous snapshot",
    "finding": "Finding",
    "subject": "Subject",
    "name": "Name",
    "unit": "Unit",
    "direction": "Direction",
    "target": "Target",
    "projected": "Projected",
    "shortfall": "Shortfall",
    "misses": "Misses target",
    "target_date": "Target date",
    "objective_name": "Objective",
    "as_of": "Snapshot as of",
    "snapshot_id": "Snapshot",
    "moved_days": "Moved since previous (days)",
    "event": "Event",
    "who": "Who",
    "detail": "Detail",
}

#: Escalation level -> who it reaches, for the Summary.
LEVEL_LABELS: dict[int, str] = {
    0: "0 - no escalation",
    1: "1 - project owner",
    2: "2 - KPI owner (or sponsor)",
    3: "3 - objective owner (or sponsor)",
}

TOP_EXCEPTIONS = 10
_WHY_WIDTH = 90.0
# Summary columns A-H hold several small tables; one set of widths serves them all.
_SUMMARY_WIDTHS = [38.0, 24.0, 14.0, 12.0, 12.0, 22.0, 16.0, _WHY_WIDTH]
_PICTURE_WIDTH_PX = 720.0
_ROW_HEIGHT_PX = 20.0
_KPI_DECIMALS = {
    c: DECIMAL_FORMAT
    for c in ("kpi_projected", "kpi_target", "kpi_shortfall", "kpi_impact", "target", "projected", "shortfall")
}


def write_report(
    result: EngineResult,
    path: str | Path,
    charts: Mapping[str, bytes] | None = None,
    history: pl.DataFrame | None = None,
    *,
    note: str | None = None,
    decisions: pl.DataFrame | None = None,
) -> Path:
    """Write the board workbook for ``result`` to ``path``.

    The file is written whole or not at all: an existing report stays intact when
    writing fails.

    Parameters
    ----------
    result
        The snapshot's engine result (e.g. from :func:`kpi_engine.analysis.analyse`).
    path
        Where to write; must end in ``.xlsx``.
    charts
        Picture title -> PNG bytes, shown on the Summary sheet; the report is complete
        without them.
    history
        Milestone history (:func:`kpi_engine.analysis.milestone_history`): adds the
        count of milestones that moved later since the previous snapshot, and a Slip
        history sheet of the milestones in the exception list.
    note
        A line for the Summary's Charts section, e.g. why pictures are missing
        (see :func:`render_charts`).
    decisions
        The escalation loop's item history (:func:`kpi_engine.loop.views.item_history`):
        adds the Decisions sheet.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    InputError
        When ``path`` does not end in ``.xlsx``.
    OutputError
        When the file cannot be written (folder missing, file open in Excel...).
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise InputError(f"the report is an Excel workbook: give a file name ending in .xlsx, not '{path.name}'")
    write_bytes(path, report_bytes(result, charts, history, note=note, decisions=decisions))
    return path


def report_bytes(
    result: EngineResult,
    charts: Mapping[str, bytes] | None = None,
    history: pl.DataFrame | None = None,
    *,
    note: str | None = None,
    decisions: pl.DataFrame | None = None,
) -> bytes:
    """Return the board workbook as bytes (for downloads); see :func:`write_report`."""
    buffer = io.BytesIO()
    workbook = new_workbook(buffer)
    workbook.set_properties(
        {
            "title": f"Strategy execution report, snapshot as of {result.portfolio.as_of.isoformat()}",
            "subject": "Milestones, KPIs and value at risk",
        }
    )
    formats = Formats(workbook)
    currency = result.settings.currency
    sheets = {name: workbook.add_worksheet(name) for name in (SUMMARY, EXCEPTIONS, KPIS, GOVERNANCE, ESCALATIONS)}
    _summary(sheets[SUMMARY], formats, result, charts, history, note)
    _exceptions(sheets[EXCEPTIONS], formats, result.exceptions, currency)
    _kpis(sheets[KPIS], formats, result.kpis)
    _governance(sheets[GOVERNANCE], formats, result.exceptions, currency)
    _escalations(sheets[ESCALATIONS], formats, result.exceptions, currency)
    if history is not None and history.height:
        # The milestones the board is asked about; every milestone of every week would
        # outgrow a sheet on a large portfolio.
        listed = result.exceptions["milestone_id"].drop_nulls().unique().implode()
        sheet = workbook.add_worksheet(HISTORY)
        write_frame(
            sheet,
            history.filter(pl.col("milestone_id").is_in(listed)).sort("milestone_id", "as_of"),
            formats,
            labels=LABELS,
        )
        _print_setup(sheet)
    if decisions is not None:
        _decisions(workbook.add_worksheet(DECISIONS), formats, decisions)
    workbook.close()
    return buffer.getvalue()


# --- Summary ---------------------------------------------------------------------------------


def _summary(
    sheet: Any,
    formats: Formats,
    result: EngineResult,
    charts: Mapping[str, bytes] | None,
    history: pl.DataFrame | None,
    note: str | None,
) -> None:
    settings, currency = result.settings, result.settings.currency
    money = money_format(currency)
    for col, width in enumerate(_SUMMARY_WIDTHS):
        sheet.set_column(col, col, width)
    title = formats.get(bold=True, font_size=16)
    section = formats.get(bold=True, font_size=12, bottom=1)
    text = formats.get(valign="top")
    sheet.write_string(0, 0, f"Strategy execution report: snapshot as of {result.portfolio.as_of.isoformat()}", title)
    sheet.write_string(
        1,
        0,
        neutralise(
            f"Money in {currency}. A milestone turns Amber after {settings.amber_days} days of slip and Red after "
            f"{settings.red_days}; a pair with {settings.escalation_value:,.0f} {currency} or more at risk goes to "
            "the objective's owner."
        ),
        formats.get(italic=True),
    )

    exceptions, kpis = result.exceptions, result.kpis
    at_risk = kpis.filter(pl.col("misses")).sort("shortfall", "kpi_id", descending=[True, False])
    row = 3
    sheet.write_string(row, 0, "Key figures", section)
    figures: list[tuple[str, float, str]] = [
        ("KPIs at risk", at_risk.height, "0"),
        ("Total value at risk", result.value_at_risk_total, money),
        ("Watermelons (reported better than computed)", int(result.milestones["watermelon"].sum()), "0"),
        ("Exceptions", exceptions.height, "0"),
        ("New since the previous snapshot", int(exceptions["new"].sum()), "0"),
    ]
    if history is not None and history.height:
        latest = history.filter(pl.col("as_of") == pl.col("as_of").max())
        figures.append(
            (
                "Milestones that moved later since the previous snapshot",
                int((latest["moved_days"].fill_null(0) > 0).sum()),
                "0",
            )
        )
    for offset, (label, value, number_format) in enumerate(figures, start=1):
        sheet.write_string(row + offset, 0, label, text)
        sheet.write_number(row + offset, 1, value, formats.get(bold=True, num_format=number_format, align="right"))
    row += len(figures) + 2

    sheet.write_string(row, 0, "Exceptions by escalation level", section)
    levels = (
        pl.DataFrame({"escalation_level": list(LEVEL_LABELS)}, schema={"escalation_level": pl.Int64})
        .join(
            exceptions.group_by("escalation_level").agg(
                pl.len().alias("exceptions"), cents(pl.col("value_at_risk").sum()).alias("value_at_risk")
            ),
            on="escalation_level",
            how="left",
        )
        .select(
            pl.col("escalation_level").replace_strict(LEVEL_LABELS, return_dtype=pl.String).alias("level"),
            pl.col("exceptions").fill_null(0),
            pl.col("value_at_risk").fill_null(0.0),
        )
    )
    row = (
        write_frame(
            sheet,
            levels,
            formats,
            row=row + 1,
            currency=currency,
            table=False,
            fit_widths=False,
            labels={**LABELS, "level": "Escalation level", "exceptions": "Exceptions"},
        )
        + 1
    )

    sheet.write_string(row, 0, "KPIs at risk", section)
    if at_risk.height:
        listed = at_risk.select(
            pl.format("{} ({})", "name", "kpi_id").alias("kpi"),
            "owner",
            "projected",
            pl.col("target_value").alias("target"),
            "shortfall",
            "unit",
            "target_date",
        )
        row = (
            write_frame(
                sheet,
                listed,
                formats,
                row=row + 1,
                labels={**LABELS, "kpi": "KPI"},
                number_formats=_KPI_DECIMALS,
                table=False,
                fit_widths=False,
            )
            + 1
        )
    else:
        sheet.write_string(row + 1, 0, "No KPI is projected to miss its target.", text)
        row += 3

    sheet.write_string(row, 0, f"Top {TOP_EXCEPTIONS} exceptions", section)
    top = exceptions.head(TOP_EXCEPTIONS).select(
        pl.coalesce(
            pl.format("{} ({})", "milestone_name", "milestone_id"),
            pl.format("KPI {} ({})", "kpi_name", "kpi_id"),
            "milestone_id",
            "kpi_id",
        ).alias("subject"),
        "kpi_name",
        "computed_status",
        "slip_days",
        "escalation_level",
        "escalate_to",
        "value_at_risk",
        "why",
    )
    if top.height:
        row = (
            write_frame(
                sheet,
                top,
                formats,
                row=row + 1,
                labels=LABELS,
                currency=currency,
                wrap=["why", "subject"],
                fills={"computed_status": pl.col("computed_status")},
                table=False,
                fit_widths=False,
            )
            + 1
        )
    else:
        sheet.write_string(row + 1, 0, "Nothing needs a decision in this snapshot.", text)
        row += 3

    _pictures(sheet, formats, row, charts, note)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.activate()


def _pictures(sheet: Any, formats: Formats, row: int, charts: Mapping[str, bytes] | None, note: str | None) -> None:
    """Place the pictures one under another; say why any is missing."""
    if charts is None and note is None:
        return
    from xlsxwriter.exceptions import XlsxFileError
    from xlsxwriter.image import Image

    sheet.write_string(row, 0, "Charts", formats.get(bold=True, font_size=12, bottom=1))
    row += 1
    notes = [note] if note else []
    for title, png in (charts or {}).items():
        try:
            image = Image(io.BytesIO(png))
        except (XlsxFileError, struct.error, ValueError, TypeError, IndexError):
            # xlsxwriter parses the header itself; a truncated file fails in struct / indexing.
            notes.append(f"The picture '{title}' is not a readable image and was left out.")
            continue
        display_width = image.width * 96.0 / (image.x_dpi or 96.0)
        display_height = image.height * 96.0 / (image.y_dpi or 96.0)
        scale = min(1.0, _PICTURE_WIDTH_PX / display_width)
        sheet.write_string(row, 0, neutralise(title), formats.get(bold=True))
        sheet.insert_image(
            row + 1,
            0,
            f"{neutralise(title)[:40]}.png",
            {
                "image_data": io.BytesIO(png),
                "x_scale": scale,
                "y_scale": scale,
                "description": neutralise(title),
                "object_position": 1,
            },
        )
        row += math.ceil(display_height * scale / _ROW_HEIGHT_PX) + 3
    for line in notes:
        sheet.write_string(row, 0, neutralise(line), formats.get(italic=True))
        row += 1


# --- Table sheets ----------------------------------------------------------------------------


def _print_setup(sheet: Any) -> None:
    """Landscape, one page wide, header row on every page: how boards print."""
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    sheet.set_footer("&L&A&RPage &P of &N")


def _empty_note(sheet: Any, formats: Formats, frame: pl.DataFrame, message: str) -> None:
    if frame.height == 0:
        sheet.write_string(1, 0, message, formats.get(italic=True))


def _exceptions(sheet: Any, formats: Formats, exceptions: pl.DataFrame, currency: str) -> None:
    rows = exceptions.select(*EXCEPTION_COLUMNS, "new")
    write_frame(
        sheet,
        rows,
        formats,
        labels=LABELS,
        currency=currency,
        number_formats=_KPI_DECIMALS,
        widths={"why": _WHY_WIDTH, "milestone_name": 30, "project_name": 26, "kpi_name": 26},
        wrap=["why", "milestone_name", "project_name", "kpi_name"],
        fills={"computed_status": pl.col("computed_status"), "reported_status": pl.col("reported_status")},
    )
    _empty_note(sheet, formats, rows, "No exceptions in this snapshot.")
    _print_setup(sheet)


def _kpis(sheet: Any, formats: Formats, kpis: pl.DataFrame) -> None:
    rows = kpis.sort(["misses", "shortfall", "kpi_id"], descending=[True, True, False], nulls_last=True).select(
        "kpi_id",
        "name",
        "owner",
        "unit",
        pl.col("direction").str.replace_all("_", " "),
        pl.col("target_value").alias("target"),
        "projected",
        "shortfall",
        "misses",
        "target_date",
        "objective_name",
    )
    write_frame(
        sheet,
        rows,
        formats,
        labels=LABELS,
        number_formats=_KPI_DECIMALS,
        fills={"misses": pl.when(pl.col("misses")).then(pl.lit("Red"))},
        widths={"name": 32, "objective_name": 30},
    )
    _empty_note(sheet, formats, rows, "No KPIs in this snapshot.")
    _print_setup(sheet)


def _governance(sheet: Any, formats: Formats, exceptions: pl.DataFrame, currency: str) -> None:
    rows = exceptions.filter(pl.col("kind") == "governance").select(
        "finding",
        "milestone_id",
        "milestone_name",
        "project_name",
        "owner",
        "kpi_id",
        "kpi_name",
        "kpi_owner",
        "escalate_to",
        "escalate_role",
        "why",
    )
    write_frame(
        sheet,
        rows,
        formats,
        currency=currency,
        labels={**LABELS, "escalate_to": "Who should fix", "escalate_role": "Their role"},
        widths={"why": _WHY_WIDTH, "milestone_name": 30, "kpi_name": 26},
        wrap=["why"],
    )
    _empty_note(sheet, formats, rows, "No governance findings in this snapshot.")
    _print_setup(sheet)


_ESCALATION_COLUMNS = [
    "escalation_level",
    "escalate_role",
    "milestone_id",
    "milestone_name",
    "project_name",
    "owner",
    "kpi_id",
    "kpi_name",
    "computed_status",
    "reported_status",
    "slip_days",
    "value_at_risk",
    "why",
]


def _escalations(sheet: Any, formats: Formats, exceptions: pl.DataFrame, currency: str) -> None:
    """One bold row per person to notify (count, value at risk), then their rows, worst first."""
    rows = exceptions.filter((pl.col("kind") == "milestone") & (pl.col("escalation_level") >= 1)).with_columns(
        pl.col("escalate_to").fill_null("No one named (fix the ownership)")
    )
    people = (
        rows.group_by("escalate_to")
        .agg(
            pl.len().alias("count"),
            cents(pl.col("value_at_risk").sum()).alias("value_at_risk"),
            pl.col("escalation_level").max(),
        )
        .sort(["escalation_level", "value_at_risk", "escalate_to"], descending=[True, True, False])
    )
    rows = rows.sort(
        ["escalation_level", "value_at_risk", "slip_days", "milestone_id", "kpi_id"],
        descending=[True, True, True, False, False],
        nulls_last=True,
    )
    fills = {"computed_status": pl.col("computed_status"), "reported_status": pl.col("reported_status")}
    options: dict[str, Any] = {
        "labels": LABELS,
        "currency": currency,
        "wrap": ["why", "milestone_name"],
        "fills": fills,
    }
    listed = rows.select(_ESCALATION_COLUMNS)
    widths = {
        **column_widths(listed, LABELS),
        "why": _WHY_WIDTH,
        "milestone_name": 30,
        "project_name": 24,
        "kpi_name": 24,
    }
    at = write_frame(sheet, listed.head(0), formats, table=False, widths=widths, **options)
    sheet.freeze_panes(1, 0)
    group = formats.get(bold=True, pattern=1, bg_color="#DCE6F1", top=1)
    # Summary rows sit above their detail, so a reader can fold each person's rows away.
    sheet.outline_settings(True, False, True, False)
    by_person = rows.partition_by("escalate_to", as_dict=True, maintain_order=True)
    for person, count, value, level in people.iter_rows():
        plural = "exception" if count == 1 else "exceptions"
        sheet.write_string(
            at,
            0,
            neutralise(f"{person}: {count} {plural}, {value:,.0f} {currency} at risk, highest level {level}"),
            group,
        )
        for col in range(1, len(_ESCALATION_COLUMNS)):
            sheet.write_blank(at, col, None, group)
        theirs = by_person[(person,)].select(_ESCALATION_COLUMNS)
        end = write_frame(sheet, theirs, formats, row=at + 1, header=False, table=False, fit_widths=False, **options)
        for detail in range(at + 1, end):
            sheet.set_row(detail, None, None, {"level": 1})
        at = end
    if rows.height == 0:
        sheet.write_string(1, 0, "No milestone needs escalating in this snapshot.", formats.get(italic=True))
    _print_setup(sheet)


def _decisions(sheet: Any, formats: Formats, events: pl.DataFrame) -> None:
    """Each item's history, item by item: notified, decided, re-escalated, closed."""
    rows = events.select(
        "milestone_id",
        "kpi_id",
        "finding",
        "as_of",
        "event",
        "who",
        "escalation_level",
        "detail",
        pl.col("at").dt.strftime("%Y-%m-%d %H:%M").alias("recorded"),
    )
    write_frame(
        sheet,
        rows,
        formats,
        labels={**LABELS, "as_of": "Snapshot as of", "recorded": "Recorded at"},
        widths={"detail": _WHY_WIDTH, "finding": 24, "who": 22},
        wrap=["detail"],
    )
    _empty_note(sheet, formats, rows, "No item has been notified or decided yet.")
    _print_setup(sheet)


# --- Pictures for the command line -------------------------------------------------------------

_VEGA_LITE = "https://vega.github.io/schema/vega-lite/v5.json"


def chart_specs(result: EngineResult) -> dict[str, dict[str, Any]]:
    """Return Vega-Lite specifications (plain dicts) of the report's pictures, by title.

    "Value at risk by project" (only when something is at risk) and "KPI projected vs
    target" (one row per KPI, each on its own scale, the target as a black tick).
    """
    currency = result.settings.currency
    specs: dict[str, dict[str, Any]] = {}
    by_project = (
        result.links.join(result.milestones.select("milestone_id", "project_id", "project_name"), on="milestone_id")
        .group_by(pl.coalesce("project_name", "project_id").alias("project"))
        .agg(cents(pl.col("value_at_risk").sum()).alias("value_at_risk"))
        .filter(pl.col("value_at_risk") >= 0.5)
        .sort("value_at_risk", descending=True)
    )
    if by_project.height:
        specs["Value at risk by project"] = {
            "$schema": _VEGA_LITE,
            "title": {"text": f"Value at risk by project ({currency})", "anchor": "start"},
            "width": 520,
            "data": {"values": by_project.to_dicts()},
            "mark": {"type": "bar", "color": RAG_COLOURS["Red"]},
            "encoding": {
                "y": {"field": "project", "type": "nominal", "sort": "-x", "title": None},
                "x": {
                    "field": "value_at_risk",
                    "type": "quantitative",
                    "title": f"Value at risk ({currency})",
                    "axis": {"format": ",.0f"},
                },
                "tooltip": [{"field": "project"}, {"field": "value_at_risk", "format": ",.0f"}],
            },
        }
    kpis = result.kpis.filter(pl.col("projected").is_not_null() & pl.col("projected").is_finite()).select(
        pl.format("{} ({})", "name", pl.col("unit").fill_null("")).str.replace(r" \(\)$", "").alias("kpi"),
        "projected",
        pl.col("target_value").alias("target"),
        pl.when(pl.col("misses")).then(pl.lit("Misses")).otherwise(pl.lit("Meets")).alias("outlook"),
    )
    if kpis.height:
        specs["KPI projected vs target"] = {
            "$schema": _VEGA_LITE,
            "title": {"text": "KPI projected at its target date (bar) vs target (black tick)", "anchor": "start"},
            "data": {"values": kpis.to_dicts()},
            "facet": {
                "row": {
                    "field": "kpi",
                    "type": "nominal",
                    "title": None,
                    "header": {"labelAngle": 0, "labelAlign": "left", "labelLimit": 260},
                }
            },
            "spec": {
                "width": 420,
                "height": 24,
                "layer": [
                    {
                        "mark": "bar",
                        "encoding": {
                            "x": {"field": "projected", "type": "quantitative", "title": None},
                            "color": {
                                "field": "outlook",
                                "type": "nominal",
                                "title": None,
                                "scale": {
                                    "domain": ["Misses", "Meets"],
                                    "range": [RAG_COLOURS["Red"], RAG_COLOURS["Green"]],
                                },
                            },
                        },
                    },
                    {
                        "mark": {"type": "tick", "color": "black", "thickness": 3, "size": 24},
                        "encoding": {"x": {"field": "target", "type": "quantitative"}},
                    },
                ],
            },
            "resolve": {"scale": {"x": "independent"}},
        }
    return specs


def render_charts(result: EngineResult, scale: float = 2.0) -> tuple[dict[str, bytes], str | None]:
    """Draw :func:`chart_specs` as PNG pictures with vl-convert.

    Parameters
    ----------
    result
        The snapshot's engine result.
    scale
        Pixel density (2 is sharp on high-resolution screens; the report shrinks the
        picture to fit the page).

    Returns
    -------
    tuple
        Title -> PNG bytes, and None; or no pictures and a sentence saying why they
        are missing (for the ``note`` of :func:`write_report`). Drawing never stops
        the report.
    """
    try:
        import vl_convert
    except ImportError:
        return {}, "Charts are left out: the vl-convert-python package is not installed."
    pictures: dict[str, bytes] = {}
    for title, spec in chart_specs(result).items():
        try:
            pictures[title] = vl_convert.vegalite_to_png(spec, scale=scale)
        except Exception as err:
            return {}, f"Charts are left out: drawing '{title}' failed ({err})."
    return pictures, None
