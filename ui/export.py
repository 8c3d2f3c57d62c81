"""Charts with PNG / SVG downloads for slide decks, tables with CSV / XLSX downloads.

Files are produced only when the button is clicked (deferred callables), so a page
rerun never pays for rendering images or workbooks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
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


def table_downloads(frame: pl.DataFrame, name: str, key: str, sheet: str | None = None) -> None:
    """Two buttons that download a table as CSV and as an XLSX workbook (one sheet)."""
    from kpi_engine.output import safe_output

    slug = _slug(name)
    row = st.container(horizontal=True, gap="small")
    row.download_button(
        "CSV",
        data=lambda: safe_output.csv_bytes(frame),
        file_name=f"{slug}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
        icon=":material/download:",
    )
    row.download_button(
        "XLSX",
        data=lambda: safe_output.xlsx_bytes({sheet or name[:31]: frame}),
        file_name=f"{slug}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"{key}_xlsx",
        on_click="ignore",
        icon=":material/table_view:",
    )
