"""Reading what a dashboard run showed: html bodies, charts, metrics, errors."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

#: The dashboard's entry script, and how long one AppTest run may take.
APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 60


def html_text(at: AppTest) -> str:
    """Every st.html body of the last run, joined."""
    return "\n".join(element.value for element in at.get("html"))


def charts(at: AppTest) -> list:
    """The Vega-Lite charts of the last run."""
    return [e for e in at.main if getattr(e, "type", None) == "vega_lite_chart"]


def chart_text(chart) -> str:
    """A chart's spec and the text of its data (Streamlit sends datasets as Arrow bytes)."""
    data = b"".join(d.data.data for d in chart.proto.datasets) + chart.proto.data.data
    return chart.proto.spec + data.decode("utf-8", errors="replace")


def table(at: AppTest, *columns: str):
    """The first table of the last run holding every one of ``columns`` (a pandas frame).

    Read-only tables carry no widget key in the test tree, so they are found by content.
    """
    for frame in at.dataframe:
        value = frame.value
        if set(columns) <= set(value.columns):
            return value
    raise AssertionError(f"no table with columns {columns}; tables: {[list(f.value.columns) for f in at.dataframe]}")


def metric(at: AppTest, label: str) -> str:
    """The value of the metric with ``label``."""
    return next(m.value for m in at.metric if m.label == label)


def shown(text: str) -> str:
    """What an error box holds to show ``text`` as typed: its Markdown escaped (``ui.format.plain``)."""
    from ui import format as fmt

    return fmt.plain(text, one_line=False, limit=None)


def no_errors(at: AppTest) -> bool:
    """True when the run showed neither an exception nor an error box."""
    return not at.exception and not at.error
