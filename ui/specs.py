"""Chart specs cached per (database, snapshot, settings) and the choice on the page.

Building an Altair chart and turning it into a Vega-Lite spec costs about 0.1 s
(schema validation), so each spec is built once and kept as a plain dict.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from kpi_engine.engine import views
from kpi_engine.engine.compute import EngineResult
from ui import charts, loaders

#: (database file, snapshot id, settings key): what a page's figures depend on.
At = tuple[str, int, loaders.SettingsKey]
Spec = dict[str, Any]


def _result(at: At) -> EngineResult:
    return loaders.result(*at)


def _currency(at: At) -> str:
    return loaders.settings_of(at[2]).currency


@st.cache_data(show_spinner=False, max_entries=64)
def causal_chain(at: At, milestone_id: str, kpi_id: str | None) -> Spec:
    """The causal chain behind a milestone (and one of its KPIs)."""
    return charts.causal_chain(views.causal_chain(_result(at), milestone_id, kpi_id)).to_dict(validate=False)


@st.cache_data(show_spinner=False, max_entries=64)
def slip_history(at: At, milestone_id: str) -> Spec | None:
    """A milestone's computed finish per snapshot up to this one (None without history)."""
    history = views.milestone_slip_history(loaders.history(at[0], at[1]), milestone_id)
    if history.height == 0:
        return None
    return charts.slip_history(views.thin(history), f"{milestone_id}: computed finish per snapshot").to_dict(
        validate=False
    )


@st.cache_data(show_spinner=False, max_entries=16)
def slip_cells(at: At, by: views.HeatmapBy, measure: views.SlipMeasure) -> views.HeatmapCells:
    """The cells the slip heatmap draws: its first groups by the measure (and how many there are)."""
    return views.top_slip_cells(views.slip_heatmap(_result(at).milestones, by), measure)


@st.cache_data(show_spinner=False, max_entries=16)
def slip_heatmap(at: At, by: views.HeatmapBy, measure: views.SlipMeasure) -> Spec:
    """Group x month-due heatmap of slips or value at risk, of the groups :func:`slip_cells` keeps."""
    top = slip_cells(at, by, measure)
    return charts.slip_heatmap(top.cells, measure, by.capitalize(), _currency(at), ranked=top.trimmed).to_dict(
        validate=False
    )


@st.cache_data(show_spinner=False, max_entries=16)
def kpi_cells(at: At) -> views.HeatmapCells:
    """The cells the KPI heatmap draws: the KPIs (and programs) that lose the most."""
    result = _result(at)
    return views.top_kpi_cells(views.kpi_program_impact(result.links, result.milestones, result.kpis))


@st.cache_data(show_spinner=False, max_entries=16)
def kpi_program_heatmap(at: At) -> Spec:
    """KPI x program heatmap of the planned movement lost, of the cells :func:`kpi_cells` keeps."""
    top = kpi_cells(at)
    return charts.kpi_program_heatmap(top.cells, _currency(at), ranked=top.trimmed).to_dict(validate=False)


@st.cache_data(show_spinner=False, max_entries=64)
def kpi_trajectory(at: At, kpi_id: str) -> Spec:
    """A KPI's actuals, projected and baseline paths, target and driving milestones."""
    result = _result(at)
    return charts.kpi_trajectory(
        views.thin(views.kpi_trajectory(result, kpi_id), by="series"),
        result.kpi(kpi_id),
        views.chart_drivers(views.kpi_drivers(result, kpi_id)),
        result.portfolio.as_of,
    ).to_dict(validate=False)


@st.cache_data(show_spinner=False, max_entries=16)
def value_at_risk_by(at: At, group: str) -> Spec | None:
    """Value at risk per group and status, the smaller groups summed into one bar (None when nothing is at risk)."""
    frame = views.value_at_risk_by(_result(at).milestones, group, groups=views.BAR_GROUPS)  # type: ignore[arg-type]
    if frame.height == 0:
        return None
    return charts.value_at_risk_by(frame, group, _currency(at)).to_dict(validate=False)
