"""Hostile strings as data: a portfolio whose every name tries to become Markdown, HTML or an icon.

``hostile_portfolio`` uploads it into a private database (two weekly snapshots, a saved
scenario and a mapping profile named the same way); ``markdown_texts`` collects every
string of a dashboard run that Streamlit renders as Markdown, and ``live_markup`` names
what in them would render as a link, an image, HTML, an icon, a colour or LaTeX.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

from streamlit.testing.v1 import AppTest

from kpi_engine.ingest import SourceFile, read_upload
from kpi_engine.store import Store

LINK = "[Click to approve](https://evil.example/phish)"
IMAGE = "![pixel](https://evil.example/track.png)"
HTML = "<img src=https://evil.example/h.png onerror=alert(1)>"
ICON = ":material/warning: :red[alarm] :smile:"
LATEX = "$\\frac{1}{0}$ costs $$x^2$$"
RTL = "\u202eevil\u202c rtl \u200f mark"
LINES = "line one\nline two\n# heading"
AUTOLINK = "www.evil.example or ceo@evil.example"
LONG = "Very long " + "x" * 400

#: Every hostile string; each field of the portfolio below holds one of them.
CORPUS = (LINK, IMAGE, HTML, ICON, LATEX, RTL, LINES, AUTOLINK, LONG)

#: What must never reach an element that renders Markdown (see :func:`live_markup`).
LIVE = {
    "a link or image": re.compile(r"(?<!\\)\]\((?!\s)"),
    "an image": re.compile(r"(?<!\\)!\\?\[pixel"),
    "HTML": re.compile(r"(?<!\\)<img"),
    "a bare link": re.compile(r"https?://"),
    "a www link": re.compile(r"(?i)www\.evil"),
    "an e-mail link": re.compile(r"@evil"),
    "an icon": re.compile(r":material/warning"),
    "a colour": re.compile(r":red\[|(?<!\\)\[alarm"),
    "an emoji": re.compile(r":smile:"),
    "LaTeX": re.compile(r"(?<!\\)\$\\?\\frac|(?<!\\)\$\$x"),
    "a right-to-left override": re.compile("\u202e"),
}


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def week(finish_m1: str, finish_m2: str) -> list[SourceFile]:
    """One week's template CSVs: every name, owner, program, unit and description is hostile."""
    files = {
        "objectives.csv": _csv(["objective_id", "name", "owner", "description"], [["O1", LINK, IMAGE, HTML]]),
        "kpis.csv": _csv(
            [
                "kpi_id",
                "name",
                "objective_id",
                "owner",
                "unit",
                "direction",
                "baseline_value",
                "target_value",
                "period_start",
                "target_date",
            ],
            [
                ["K1", IMAGE, "O1", ICON, LATEX, "lower_is_better", 2.10, 1.95, "2026-01-01", "2026-09-30"],
                ["K2", HTML, "O1", AUTOLINK, "$", "higher_is_better", 10, 50, "2026-01-01", "2026-12-31"],
            ],
        ),
        "kpi_actuals.csv": _csv(["kpi_id", "as_of", "value"], [["K1", "2026-03-31", 2.08]]),
        "projects.csv": _csv(
            ["project_id", "name", "program", "portfolio", "owner", "sponsor", "budget"],
            [["P1", LINK, ICON, IMAGE, LATEX, RTL, 1_000_000], ["P2", LONG, LINK, IMAGE, HTML, AUTOLINK, 500_000]],
        ),
        "milestones.csv": _csv(
            [
                "milestone_id",
                "project_id",
                "name",
                "owner",
                "baseline_start",
                "baseline_finish",
                "forecast_finish",
                "actual_finish",
                "percent_complete",
                "reported_status",
            ],
            [
                ["M1", "P1", LINK, IMAGE, "2026-03-01", "2026-06-30", finish_m1, "", 60, "Green"],
                ["M2", "P1", IMAGE, ICON, "2026-04-01", "2026-07-31", finish_m2, "", 20, "Green"],
                ["M3", "P2", LINES, LINK, "2026-04-01", "2026-08-31", "2026-08-31", "", 10, "Green"],
                ["M4", "P2", LATEX, "", "2026-04-01", "2026-06-15", "2026-09-15", "", 5, "Amber"],
            ],
        ),
        "dependencies.csv": _csv(["predecessor_id", "successor_id", "lag_days"], [["M1", "M2", 3]]),
        "links.csv": _csv(
            ["milestone_id", "kpi_id", "kpi_delta", "ramp_days", "value_per_week"],
            [["M1", "K1", -0.10, 28, 133_333.33], ["M2", "K1", -0.05, 0, 40_000], ["M4", "K2", 10, 0, 20_000]],
        ),
    }
    return [SourceFile(name, data) for name, data in files.items()]


def hostile_portfolio(path: Path) -> Path:
    """Upload two hostile weeks into a new database at ``path``, save a scenario and a mapping profile."""
    with Store.open(path) as store:
        for as_of, m1, m2 in (
            (date(2026, 6, 8), "2026-07-10", "2026-08-05"),
            (date(2026, 6, 15), "2026-07-21", "2026-08-20"),
        ):
            files = week(m1, m2)
            store.ingest(read_upload(files, "template"), as_of, author=LINK, sources=files)
        latest = store.latest_snapshot_id()
        for name, milestone, days in ((LINK, "M1", 14), (IMAGE, "M2", 30)):
            spec = {"name": name, "changes": [{"kind": "slip", "milestone_id": milestone, "days": days}]}
            store.save_scenario(name, spec, latest, author=IMAGE)
        store.save_mapping_profile(ICON, {"table": "milestones", "columns": {"milestone_id": "ID"}})
    return path


def _block_labels(proto) -> list[str]:
    labels = []
    for kind in ("expandable", "tab", "popover"):
        if proto.HasField(kind):
            labels.append(getattr(proto, kind).label)
    return labels


#: Elements that show text as text: their strings are not Markdown.
NOT_MARKDOWN = {"html", "code", "json", "arrow_data_frame", "dataframe", "vega_lite_chart", "text"}
#: Widgets whose options are plain text (their labels are still Markdown).
PLAIN_OPTIONS = {"selectbox", "multiselect"}


def markdown_texts(at: AppTest) -> list[tuple[str, str]]:
    """Every (element type, string) of the last run that Streamlit renders as Markdown."""
    found: list[tuple[str, str]] = []

    def walk(node) -> None:
        kind = getattr(node, "type", "")
        proto = getattr(node, "proto", None)
        if kind == "block" or (proto is not None and proto.DESCRIPTOR.name == "Block"):
            if proto is not None:
                found.extend(("block label", label) for label in _block_labels(proto))
        elif proto is not None and kind not in NOT_MARKDOWN:
            for field in ("body", "label", "help", "delta", "description"):
                value = getattr(proto, field, None)
                if isinstance(value, str) and value:
                    found.append((kind, value))
            if kind not in PLAIN_OPTIONS:
                for option in getattr(proto, "options", []) or []:
                    text = option if isinstance(option, str) else getattr(option, "content", "")
                    if text:
                        found.append((f"{kind} option", text))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return found


def live_markup(texts: list[tuple[str, str]]) -> list[str]:
    """Name each Markdown string that would render hostile data as something other than text."""
    return [f"{what} in {kind}: {text[:160]!r}" for kind, text in texts for what, rx in LIVE.items() if rx.search(text)]
