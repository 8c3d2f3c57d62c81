"""Charts with PNG / SVG downloads for slide decks, tables with CSV / XLSX downloads.

Files are produced only when the button is clicked (deferred callables), so a page
rerun never pays for rendering images or workbooks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import polars as pl
import streamlit as st

from ui.format import plain


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "chart"


def _png(spec: str) -> Callable[[], bytes]:
    def render() -> bytes:
        import vl_convert

        return vl_convert.vegalite_to_png(spec, scale=2)

    return render


def _svg(spec: str) -> Callable[[], str]:
    def render() -> str:
        import vl_convert

        return vl_convert.vegalite_to_svg(spec)

    return render


def chart(spec: dict[str, Any], name: str, key: str, on_select: bool = False, export_width: int = 1000) -> Any:
    """Draw a Vega-Lite chart with two buttons that download it as PNG and SVG.

    Parameters
    ----------
    spec
        The chart as a Vega-Lite dict (``ui.specs`` builds and caches them).
    name
        What the chart shows; names the downloaded files.
    key
        Unique widget key prefix on the page.
    on_select
        Rerun on a click and return the selection (the chart must declare a selection).
    export_width
        Width in pixels of the downloaded image (on the page the chart fills its column).

    Returns
    -------
    The selection state when ``on_select``, else None.
    """
    if on_select:
        event = st.vega_lite_chart(spec, width="stretch", key=key, on_select="rerun")
    else:
        st.vega_lite_chart(spec, width="stretch", key=key)
        event = None
    exported = json.dumps({**spec, "width": export_width})
    slug = _slug(name)
    row = st.container(horizontal=True, gap="small")
    row.download_button(
        "PNG",
        data=_png(exported),
        file_name=f"{slug}.png",
        mime="image/png",
        key=f"{key}_png",
        on_click="ignore",
        icon=":material/image:",
        help=f"Download '{plain(name)}' as a PNG image for a slide",
    )
    row.download_button(
        "SVG",
        data=_svg(exported),
        file_name=f"{slug}.svg",
        mime="image/svg+xml",
        key=f"{key}_svg",
        on_click="ignore",
        icon=":material/draw:",
        help=f"Download '{plain(name)}' as an SVG drawing (scales without blur)",
    )
    return event


def headers(columns: list[str], column_config: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Column name -> the header a download gives it: the page's own words (its column labels).

    Columns the page does not label read as words ("kpi_owner" -> "Kpi owner"); two
    columns with one label keep apart by their name in brackets.
    """
    config = column_config or {}
    labels: dict[str, str] = {}
    used: set[str] = set()
    for name in columns:
        entry = config.get(name)
        label = entry.get("label") if isinstance(entry, Mapping) else None
        label = str(label or name.replace("_", " ").capitalize())
        if label in used:
            label = f"{label} ({name})"
        used.add(label)
        labels[name] = label
    return labels


def table_files(
    frame: pl.DataFrame,
    name: str,
    column_config: Mapping[str, Any] | None = None,
    as_of: date | None = None,
    currency: str | None = None,
    sheet: str | None = None,
) -> dict[str, Callable[[], bytes]]:
    """The files a table downloads as: file name -> a function making its bytes (see :func:`table_downloads`)."""
    from kpi_engine.output import safe_output

    slug = _slug(name) + (f"-{as_of.isoformat()}" if as_of is not None else "")
    labels = headers(frame.columns, column_config)

    def csv() -> bytes:
        return safe_output.csv_bytes(safe_output.tidy_numbers(frame).rename(labels))

    def xlsx() -> bytes:
        return safe_output.xlsx_bytes(
            {sheet or name[:31]: safe_output.tidy_numbers(frame)}, currency=currency, labels=labels
        )

    return {f"{slug}.csv": csv, f"{slug}.xlsx": xlsx}


def table_downloads(
    frame: pl.DataFrame,
    name: str,
    key: str,
    sheet: str | None = None,
    column_config: Mapping[str, Any] | None = None,
    as_of: date | None = None,
    currency: str | None = None,
) -> None:
    """Two buttons that download a table as CSV and as an XLSX workbook (one sheet).

    Numbers are tidied (money to the cent, KPI values to their precision, no negative
    zero) and the headers read as the page's column labels.

    Parameters
    ----------
    frame
        Every row of the listed set (the page may show only the first ones).
    name
        What the table holds; names the files, with the snapshot date when ``as_of`` is given.
    key
        Unique widget key prefix on the page.
    sheet
        The workbook's sheet name (default: ``name``).
    column_config
        The page's column config: headers read as the page's column labels.
    as_of
        The snapshot's date, in the file names (``exceptions-2026-06-15.csv``).
    currency
        Currency code on the workbook's money columns.
    """
    (csv_name, csv), (xlsx_name, xlsx) = table_files(frame, name, column_config, as_of, currency, sheet).items()
    row = st.container(horizontal=True, gap="small")
    row.download_button(
        "CSV",
        data=csv,
        file_name=csv_name,
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
        icon=":material/download:",
        help=f"Every row listed ({frame.height:,}) as a CSV file",
    )
    row.download_button(
        "XLSX",
        data=xlsx,
        file_name=xlsx_name,
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"{key}_xlsx",
        on_click="ignore",
        icon=":material/table_view:",
        help=f"Every row listed ({frame.height:,}) as an Excel workbook",
    )
