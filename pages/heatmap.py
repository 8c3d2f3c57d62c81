"""Heatmaps: where the slips and the value at risk sit; click a cell to list its rows."""

from __future__ import annotations

import streamlit as st

from kpi_engine import views
from ui import context, export, specs
from ui import format as fmt

ctx = context.require()
result = ctx.result()
currency = ctx.currency

st.title("Heatmap")
st.caption(context.caption(ctx) + " · hover a cell for its figures, click to list its rows, double-click to clear")


def chosen_cells(event: object, name: str, fields: tuple[str, str]) -> list[tuple[str, str]]:
    """The cells a click selected, as (row label, column label) pairs."""
    picked = (getattr(event, "selection", None) or {}).get(name, []) if event is not None else []
    return [(p[fields[0]], p[fields[1]]) for p in picked if fields[0] in p and fields[1] in p]


slip_tab, kpi_tab = st.tabs(["Slip and value at risk by month", "KPI impact by program"])

with slip_tab:
    controls = st.container(horizontal=True, gap="large")
    by = controls.segmented_control("Rows", ["program", "project"], default="program", key="heat_by",
                                       format_func=str.capitalize) or "program"
    measure = controls.segmented_control(
        "Colour by", ["max_slip_days", "value_at_risk"], default="max_slip_days", key="heat_measure",
        format_func=lambda m: "Worst slip" if m == "max_slip_days" else "Value at risk",
    ) or "max_slip_days"
    cells = views.slip_heatmap(result.milestones, by)
    if cells.height == 0:
        st.info("This snapshot holds no milestones.")
    else:
        event = export.chart(specs.slip_heatmap(ctx.at, by, measure), f"slip heatmap by {by}",
                             key=f"heat_slip_{by}_{measure}", on_select=True)
        picked = chosen_cells(event, "cell", ("group", "month"))
        rows = views.milestones_in_cells(result.milestones, by, picked)
        if picked:
            st.markdown(f"**{rows.height} milestone(s) in the selected cell(s)**: "
                        + ", ".join(f"{g} · {m}" for g, m in picked))
        else:
            st.markdown(f"**All {rows.height} milestones**, largest value at risk first (click a cell to narrow)")
        st.dataframe(
            fmt.as_tags(rows),
            column_order=["milestone_id", "name", "project_name", "program", "owner", "computed_status",
                          "reported_status", "watermelon", "baseline_finish", "computed_finish", "slip_days",
                          "percent_complete", "value_at_risk", "escalate_to"],
            column_config=fmt.columns(currency), hide_index=True, placeholder="–", height=fmt.table_height(rows.height),
            key="heat_slip_table",
        )

with kpi_tab:
    kcells = views.kpi_program_impact(result.links, result.milestones, result.kpis)
    if kcells.height == 0:
        st.info("No milestone is linked to a KPI in this snapshot.")
    else:
        kevent = export.chart(specs.kpi_program_heatmap(ctx.at), "KPI impact by program", key="heat_kpi",
                              on_select=True)
        kpicked = chosen_cells(kevent, "kcell", ("kpi_id", "program"))
        links = views.links_in_cells(result.links, result.milestones, result.kpis, kpicked)
        if kpicked:
            st.markdown(f"**{links.height} link(s) in the selected cell(s)**")
        else:
            st.markdown(f"**All {links.height} milestone-to-KPI links**, largest value at risk first")
        st.dataframe(
            fmt.as_tags(links),
            column_order=["kpi_name", "program", "milestone_id", "milestone_name", "project_name", "computed_status",
                          "computed_finish", "slip_days", "kpi_delta", "kpi_impact", "unit", "value_at_risk",
                          "escalate_to"],
            column_config={**fmt.columns(currency), "unit": st.column_config.TextColumn("Unit", width="small")},
            hide_index=True, placeholder="–", height=fmt.table_height(links.height), key="heat_kpi_table",
        )
