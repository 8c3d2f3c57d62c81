"""Heatmaps: where the slips and the value at risk sit; click a cell to list its rows."""

from __future__ import annotations

import streamlit as st

from kpi_engine.engine import views
from ui import context, export, loaders, specs, urls
from ui import format as fmt

ctx = context.require()
currency = ctx.currency

st.title("Heatmap")
st.caption(context.caption(ctx) + " · hover a cell for its figures, click to list its rows, double-click to clear")


#: The heatmap's rows and colours, as the choices offer them.
ROWS: list[views.HeatmapBy] = ["program", "project"]
MEASURES: list[views.SlipMeasure] = ["max_slip_days", "value_at_risk"]


def chosen_cells(event: object, name: str, fields: tuple[str, str]) -> list[tuple[str, str]]:
    """The cells a click selected, as (row label, column label) pairs."""
    picked = (getattr(event, "selection", None) or {}).get(name, []) if event is not None else []
    return [(p[fields[0]], p[fields[1]]) for p in picked if fields[0] in p and fields[1] in p]


# the choices live in the address: a reload or a shared link opens the same heatmap
slip_tab, kpi_tab = st.tabs(
    ["Slip and value at risk by month", "KPI impact by program"], key="view", bind="query-params"
)

with slip_tab:
    controls = st.container(horizontal=True, gap="large")
    by = (
        controls.segmented_control(
            "Rows",
            ROWS,
            default="program",
            key="rows",
            format_func=str.capitalize,
            bind="query-params",
        )
        or "program"
    )
    measure = (
        controls.segmented_control(
            "Colour by",
            MEASURES,
            default="max_slip_days",
            key="colour",
            bind="query-params",
            format_func=lambda m: "Worst slip" if m == "max_slip_days" else "Value at risk",
        )
        or "max_slip_days"
    )
    top = specs.slip_cells(ctx.at, by, measure)
    if top.rows_total == 0:
        st.info("This snapshot holds no milestones.")
    else:
        trimmed = views.heatmap_caption(top, f"{by}s", views.HEATMAP_MEASURES[measure], "months")
        if trimmed:
            st.caption(trimmed)
        event = export.chart(
            specs.slip_heatmap(ctx.at, by, measure),
            f"slip heatmap by {by}",
            key=f"heat_slip_{by}_{measure}",
            on_select=True,
        )
        picked = chosen_cells(event, "cell", ("group", "month"))
        rows = loaders.milestones_in_cells(*ctx.at, by, tuple(picked))
        shown = rows.head(views.TABLE_ROWS)
        if picked:
            st.markdown(
                f"**{rows.height:,} milestone(s) in the selected cell(s)**: "
                + fmt.plain(", ".join(f"{g} · {m}" for g, m in picked), limit=None)
            )
        else:
            st.markdown(f"**All {rows.height:,} milestones**, largest value at risk first (click a cell to narrow)")
        picked_row = st.dataframe(
            fmt.as_tags(shown),
            column_order=[
                "milestone_id",
                "name",
                "project_name",
                "program",
                "owner",
                "computed_status",
                "reported_status",
                "watermelon",
                "baseline_finish",
                "computed_finish",
                "slip_days",
                "percent_complete",
                "value_at_risk",
                "escalate_to",
            ],
            column_config=fmt.columns(currency),
            hide_index=True,
            placeholder="–",
            height=fmt.table_height(shown.height),
            key="heat_slip_table",
            on_select="rerun",
            selection_mode="single-row",
        )
        more = views.shown_caption(shown.height, rows.height, "milestones", "click a cell to narrow")
        if more:
            st.caption(more)
        export.table_downloads(
            rows,
            "heatmap milestones",
            key="heat_slip_dl",
            sheet="Milestones",
            column_config=fmt.columns(currency),
            as_of=ctx.as_of,
            currency=currency,
        )
        # a click chose a row of the list shown then; another cell may have shortened it since
        chosen_rows = [r for r in (picked_row.selection.rows if picked_row is not None else []) if r < shown.height]
        if chosen_rows:
            milestone = shown.row(chosen_rows[0], named=True)
            urls.open_in_exceptions(
                milestone["milestone_id"],
                f"Open {fmt.plain(milestone['milestone_id'])} in the Exceptions drill-down",
                key="heat_slip_open",
            )
        else:
            st.caption("Click a row of the table to open its drill-down on the Exceptions page.")

with kpi_tab:
    ktop = specs.kpi_cells(ctx.at)
    if ktop.rows_total == 0:
        st.info("No milestone is linked to a KPI in this snapshot.")
    else:
        trimmed = views.heatmap_caption(ktop, "KPIs", views.HEATMAP_MEASURES["lost_share"], "programs")
        if trimmed:
            st.caption(trimmed)
        kevent = export.chart(
            specs.kpi_program_heatmap(ctx.at), "KPI impact by program", key="heat_kpi", on_select=True
        )
        kpicked = chosen_cells(kevent, "kcell", ("kpi_id", "program"))
        links = loaders.links_in_cells(*ctx.at, tuple(kpicked))
        kshown = links.head(views.TABLE_ROWS)
        if kpicked:
            st.markdown(f"**{links.height:,} link(s) in the selected cell(s)**")
        else:
            st.markdown(f"**All {links.height:,} milestone-to-KPI links**, largest value at risk first")
        kpicked_row = st.dataframe(
            fmt.as_tags(kshown),
            column_order=[
                "kpi_name",
                "program",
                "milestone_id",
                "milestone_name",
                "project_name",
                "computed_status",
                "computed_finish",
                "slip_days",
                "kpi_delta",
                "kpi_impact",
                "unit",
                "value_at_risk",
                "escalate_to",
            ],
            column_config={**fmt.columns(currency), "unit": st.column_config.TextColumn("Unit", width="small")},
            hide_index=True,
            placeholder="–",
            height=fmt.table_height(kshown.height),
            key="heat_kpi_table",
            on_select="rerun",
            selection_mode="single-row",
        )
        kmore = views.shown_caption(kshown.height, links.height, "links", "click a cell to narrow")
        if kmore:
            st.caption(kmore)
        export.table_downloads(
            links,
            "heatmap KPI links",
            key="heat_kpi_dl",
            sheet="Links",
            column_config={**fmt.columns(currency), "unit": st.column_config.TextColumn("Unit")},
            as_of=ctx.as_of,
            currency=currency,
        )
        kchosen = [r for r in (kpicked_row.selection.rows if kpicked_row is not None else []) if r < kshown.height]
        if kchosen:
            link = kshown.row(kchosen[0], named=True)
            urls.open_in_exceptions(
                f"{link['milestone_id']}:{link['kpi_id']}",
                f"Open {fmt.plain(link['milestone_id'])} → {fmt.plain(link['kpi_name'])} in the Exceptions drill-down",
                key="heat_kpi_open",
            )
        else:
            st.caption("Click a row of the table to open its drill-down on the Exceptions page.")
