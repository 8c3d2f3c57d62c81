"""Numbers, money, RAG badges and ``st.column_config`` for every table, in one place."""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

import polars as pl
import streamlit as st

from kpi_engine.core.rag import RAG_COLOURS, RAG_ORDER, rag_text_colour

#: Columns holding a RAG status word; tables show them as coloured tags.
RAG_COLUMNS = ("computed_status", "reported_status", "status", "previous_status")


def money(value: float | None, currency: str, compact: bool = False) -> str:
    """Format money for people: ``400,000 USD``, or ``400k USD`` / ``1.2M USD`` when compact."""
    if value is None:
        return "-"
    if compact:
        size = abs(value)
        for limit, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
            if size >= limit:
                scaled = value / limit
                digits = 1 if abs(scaled) < 100 else 0
                return f"{scaled:,.{digits}f}{suffix} {currency}"
    return f"{value:,.0f} {currency}"


def kpi_number(value: object, unit: str | None = None) -> str:
    """Format a KPI value as the engine's sentences do: 2.0179 -> 2.018, 95 -> 95.0.

    ``value``: a number, or None for no value (``-``), as a KPI row read as a dict holds.
    """
    if not isinstance(value, (int, float)):
        return "-"
    size = abs(value)
    text = f"{value:.3f}" if size < 10 else (f"{value:.1f}" if size < 1000 else f"{value:,.0f}")
    return f"{text} {unit}" if unit else text


def day(value: object, year: bool = True) -> str:
    """A date for people: ``8 Jun 2026`` (or ``8 Jun``); ``-`` for no date."""
    if not isinstance(value, date):
        return "-"
    return f"{value.day} {value:%b}" + (f" {value:%Y}" if year else "")


def signed_days(days: int | None) -> str:
    """``+21 days`` / ``-3 days`` / ``on time``."""
    if days is None:
        return "-"
    if days == 0:
        return "on time"
    return f"{days:+d} day" + ("" if abs(days) == 1 else "s")


def escape(text: object) -> str:
    """Escape text from the data for HTML."""
    return html.escape(str(text))


#: A word joiner: invisible, breaks up ``:material/...:`` / ``:red[...]`` shortcodes and autolinks.
_JOIN = "\u2060"
#: Characters that make Markdown, HTML, LaTeX or a Streamlit directive anywhere in a line;
#: each shows as itself after a backslash.
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]()!|<>~$&])")
#: What starts a heading, quote, list or rule at the start of a line.
_BLOCK_START = re.compile(r"^(\s*)([#>+\-=]|\d+(?=[.)]))")
#: Line and paragraph breaks (a one-line label shows them as a space).
_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]+")
#: Bidirectional overrides and isolates: they can reverse how the rest of a line reads.
_BIDI_CONTROLS = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
#: GFM turns ``www.example.com`` into a link even without a scheme.
_WWW = re.compile(r"(?i)(www)(\.)")
#: The longest text from the data a one-line label shows before cutting it with an ellipsis.
LABEL_CHARS = 200


def plain(text: object, one_line: bool = True, limit: int | None = LABEL_CHARS) -> str:
    """Return text from the data or a user ready for an element that renders Markdown.

    Streamlit renders Markdown in ``st.markdown``, titles, captions, alerts, toasts and
    the labels of widgets, popovers, expanders, tabs and metrics: a scenario named
    ``[approve](https://evil.example)`` would be a live link, ``![x](https://...)`` an
    image every viewer's browser fetches. This shows the text as typed instead: Markdown
    and HTML syntax is backslash-escaped, ``:material/...:`` icons, ``:red[...]`` colours
    and emoji shortcodes are broken up by an invisible word joiner (after each ``:``), so
    are bare ``https://``, ``www.`` and e-mail autolinks; ``$`` LaTeX shows as dollars.

    Parameters
    ----------
    text
        The value to show (None shows as ``-``).
    one_line
        Collapse line breaks into one space (labels, headings, one-line notices); else
        keep each line as a Markdown line break.
    limit
        Cut text longer than this many characters with an ellipsis (None: never).

    Examples
    --------
    ``plain("[Click](https://evil.example/x)")`` shows as ``[Click](https://evil.example/x)``,
    not as a link.
    """
    if text is None:
        return "-"
    value = _BIDI_CONTROLS.sub("", str(text))
    if one_line:
        value = _BREAKS.sub(" ", value).strip()
    if limit is not None and len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    if not one_line:
        return "  \n".join(plain(line, one_line=True, limit=None) for line in value.splitlines())
    value = _MARKDOWN_SYNTAX.sub(r"\\\1", value)
    value = _BLOCK_START.sub(lambda m: m.group(1) + _block_escape(m.group(2)), value)
    value = value.replace(":", ":" + _JOIN).replace("@", "@" + _JOIN)
    return _WWW.sub(r"\1" + _JOIN + r"\2", value)


def _block_escape(marker: str) -> str:
    # "1." -> "1\." (an ordered list needs the dot right after the digits); "#" -> "\#"
    return marker + "\\" if marker[0].isdigit() else "\\" + marker


def rag_badge(status: str | None, label: str | None = None) -> str:
    """Return an HTML badge in the shared RAG colour of ``status`` (text escaped)."""
    word = status or "Unknown"
    fill = RAG_COLOURS.get(word, RAG_COLOURS["Unknown"])
    return (
        f'<span style="background:{fill};color:{rag_text_colour(word)};padding:0.1rem 0.55rem;'
        f'border-radius:0.75rem;font-size:0.85rem;font-weight:600;white-space:nowrap">'
        f"{html.escape(label or word)}</span>"
    )


def rag_legend(statuses: list[str] | None = None) -> str:
    """HTML naming the RAG colours of a chart: one badge per status (default all but Unknown)."""
    shown = statuses or [s for s in RAG_ORDER if s != "Unknown"]
    return "<div style='font-size:0.8rem'>Colour = computed status: " + " ".join(rag_badge(s) for s in shown) + "</div>"


def rag_column(label: str, help: str | None = None) -> Any:
    """A read-only column drawing a status as a tag in the shared RAG colours."""
    return st.column_config.MultiselectColumn(
        label, help=help, options=RAG_ORDER, color=[RAG_COLOURS[s] for s in RAG_ORDER], width="small"
    )


def as_tags(frame: pl.DataFrame) -> pl.DataFrame:
    """Turn status columns into one-element lists so :func:`rag_column` can colour them."""
    present = [c for c in RAG_COLUMNS if c in frame.columns]
    return frame.with_columns([pl.concat_list(pl.col(c).fill_null("Unknown")).alias(c) for c in present])


def money_column(label: str, currency: str, help: str | None = None) -> Any:
    """A money column: thousands separators, no decimals, the currency code."""
    return st.column_config.NumberColumn(label, help=help, format=f"%,.0f {currency}")


def columns(currency: str) -> dict[str, Any]:
    """Column labels and formats shared by every table of the dashboard.

    Pass the result as ``column_config``; columns a table does not have are ignored.
    """
    date = st.column_config.DateColumn
    number = st.column_config.NumberColumn
    text = st.column_config.TextColumn
    return {
        "kind": text("Kind", width="small"),
        "milestone_id": text("Milestone", width="small"),
        "milestone_name": text("Milestone name"),
        "name": text("Name"),
        "project_id": text("Project", width="small"),
        "project_name": text("Project name"),
        "program": text("Program"),
        "portfolio": text("Portfolio"),
        "owner": text("Owner"),
        "kpi_id": text("KPI", width="small"),
        "kpi_name": text("KPI name"),
        "kpi_owner": text("KPI owner"),
        "objective_id": text("Objective", width="small"),
        "objective_name": text("Objective name"),
        "baseline_finish": date("Baseline finish", format="YYYY-MM-DD"),
        "forecast_finish": date("Forecast finish", format="YYYY-MM-DD"),
        "computed_finish": date(
            "Computed finish",
            format="YYYY-MM-DD",
            help="When it will really finish: its tasks and predecessors included",
        ),
        "actual_finish": date("Finished", format="YYYY-MM-DD"),
        "slip_days": number("Slip (days)", format="%+d", help="Computed finish minus baseline finish"),
        "percent_complete": st.column_config.ProgressColumn("Done", format="%.0f%%", min_value=0, max_value=100),
        "reported_status": rag_column("Reported", help="What the project said"),
        "computed_status": rag_column("Computed", help="What the dates say"),
        "status": rag_column("Status"),
        "watermelon": st.column_config.CheckboxColumn(
            "Watermelon", help="Reported better than computed", width="small"
        ),
        "kpi_projected": number("KPI projected", format="%.4g"),
        "kpi_target": number("KPI target", format="%.4g"),
        "kpi_shortfall": number("Shortfall", format="%.4g", help="How far the KPI misses its target"),
        "kpi_impact": number("KPI impact", format="%+.4g", help="KPI movement the slip loses by the target date"),
        "kpi_delta": number("KPI delta", format="%+.4g"),
        "ramp_days": number("Ramp (days)", format="%d"),
        "value_per_week": money_column("Value / week", currency),
        "value_at_risk": money_column("Value at risk", currency),
        "escalation_level": number(
            "Level",
            format="%d",
            width="small",
            help="0 none, 1 project owner, 2 KPI owner or sponsor, 3 objective owner",
        ),
        "escalate_to": text("Escalate to"),
        "escalate_role": text("Role"),
        "finding": text("Finding"),
        "why": text("Why", width="large"),
        "new": st.column_config.CheckboxColumn("New", help="Not in the previous snapshot's list", width="small"),
        "lag_days": number("Lag (days)", format="%d", width="small"),
        "depth": number("Steps away", format="%d", width="small"),
        "via": text("Via", width="small"),
        "direction": text("Direction", width="small"),
        "moved_days": number("Moved (days)", format="%+d", help="How far the computed finish moved that week"),
        "as_of": date("As of", format="YYYY-MM-DD"),
        "snapshot_id": number("Snapshot", format="%d", width="small"),
        # the escalation loop
        "decision": text("Decision", width="small", help="The latest decision: recover, workaround, accept, escalate"),
        "decision_by": text("Decided by"),
        "decision_due": date("Due", format="YYYY-MM-DD", help="When the decision is due to be done"),
        "decision_overdue": st.column_config.CheckboxColumn("Overdue", width="small"),
        "first_notified": date("First notified", format="YYYY-MM-DD", help="Snapshot date of the first digest"),
        "decided_by": text("Decided by"),
        "due": date("Due", format="YYYY-MM-DD"),
        "note": text("Note", width="large"),
        "event": text("Event", width="small"),
        "who": text("Who"),
        "detail": text("Detail", width="large"),
        "reason": text("Reason", width="small"),
        "open": st.column_config.CheckboxColumn("Still open", width="small"),
    }


def preview_columns(frame: pl.DataFrame, currency: str) -> dict[str, Any]:
    """:func:`columns` for a table of uploaded rows: every date column shows as a date, never a time."""
    config = columns(currency)
    for name, dtype in frame.schema.items():
        if name not in config and (dtype == pl.Date or isinstance(dtype, pl.Datetime)):
            config[name] = st.column_config.DateColumn(name.replace("_", " ").capitalize(), format="YYYY-MM-DD")
    return config


def money_delta(change: float | None) -> str | int | None:
    """A compact metric delta for money: ``+120k``; 0 (grey, no arrow) when unchanged."""
    if change is None:
        return None
    if abs(change) < 0.5:
        return 0
    return ("+" if change > 0 else "") + money(change, "", compact=True).strip()


def kpi_delta(change: object, unit: str | None = None) -> str | int | None:
    """A metric delta for a KPI value: ``+0.032 USD/mile``; 0 when unchanged; None for no number."""
    if not isinstance(change, (int, float)):
        return None
    if abs(change) < 1e-9:
        return 0
    return ("+" if change > 0 else "") + kpi_number(change, unit)


def count_delta(now: int, before: int | None) -> int | None:
    """A metric delta for a count (None without a previous snapshot)."""
    return None if before is None else now - before


def table_height(rows: int, limit: int = 420) -> int:
    """Pixel height showing every row of a short table, scrolling beyond ``limit``."""
    return min(38 + 35 * max(rows, 1), limit)
