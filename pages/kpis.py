"""KPIs: each KPI's actuals, projected path and baseline plan against its target."""

from __future__ import annotations

import streamlit as st

from kpi_engine.engine import views
from ui import context, export, specs
from ui import format as fmt

ctx = context.require()
result, previous = ctx.result(), ctx.previous_result()
currency = ctx.currency

st.title("KPIs")
st.caption(context.caption(ctx))

tiles = views.kpi_tiles(result.kpis, previous.kpis if previous is not None else None)
if tiles.height == 0:
    st.info("This snapshot holds no KPIs: upload the kpis sheet of the portfolio workbook.")
    st.page_link("pages/upload.py", label="Upload", icon=":material/upload_file:")
    st.stop()

event = st.dataframe(
    fmt.as_tags(tiles),
    column_order=[
        "status",
        "name",
        "objective_name",
        "projected",
        "target_value",
        "target_date",
        "shortfall",
        "change",
        "unit",
    ],
    column_config={
        **fmt.columns(currency),
        "status": fmt.rag_column("Status"),
        "name": st.column_config.TextColumn("KPI"),
        "projected": st.column_config.NumberColumn("Projected", format="%.4g"),
        "target_value": st.column_config.NumberColumn("Target", format="%.4g"),
        "target_date": st.column_config.DateColumn("Target date", format="YYYY-MM-DD"),
        "shortfall": st.column_config.NumberColumn("Shortfall", format="%.4g"),
        "change": st.column_config.NumberColumn("Change since last week", format="%+.4g"),
        "unit": st.column_config.TextColumn("Unit", width="small"),
    },
    hide_index=True,
    placeholder="–",
    height=fmt.table_height(tiles.height, 320),
    on_select="rerun",
    selection_mode="single-row",
    key="kpi_table",
)

ids = tiles["kpi_id"].to_list()
names = dict(zip(ids, tiles["name"].to_list(), strict=False))
selected = list(event.selection.rows) if event is not None else []
if selected and selected != st.session_state.get("kpi_last_click"):
    st.session_state["kpi_pick"] = ids[selected[0]]
st.session_state["kpi_last_click"] = selected
if st.session_state.get("kpi_pick") not in ids:
    st.session_state["kpi_pick"] = ids[0]
kpi_id = st.selectbox(
    "KPI", ids, format_func=lambda k: f"{names[k]} ({k})", key="kpi_pick", help="KPIs missing their target come first"
)

kpi = result.kpi(kpi_id)
unit = kpi["unit"]
in_unit = f" ({fmt.plain(unit)})" if unit else ""
tile = tiles.filter(tiles["kpi_id"] == kpi_id).row(0, named=True)
cols = st.columns(4)
cols[0].metric(
    f"Projected at target date{in_unit}",
    fmt.kpi_number(kpi["projected"]),
    fmt.kpi_delta(tile["change"]),
    delta_color="inverse" if kpi["direction"] == "lower_is_better" else "normal",
    border=True,
    delta_description=ctx.since,
)
cols[1].metric(
    f"Target{in_unit}",
    fmt.kpi_number(kpi["target_value"]),
    border=True,
    help=f"By {kpi['target_date']}; "
    + ("lower is better" if kpi["direction"] == "lower_is_better" else "higher is better"),
)
cols[2].metric(
    f"Shortfall{in_unit}",
    fmt.kpi_number(kpi["shortfall"]) if kpi["misses"] else "none",
    border=True,
    help="How far the projection misses the target",
)
if kpi["actual_value"] is None:
    cols[3].metric(
        "Latest actual", "none yet", border=True, help="No actual reported on or before this snapshot's date"
    )
else:
    cols[3].metric(
        f"Latest actual{in_unit}",
        fmt.kpi_number(kpi["actual_value"]),
        border=True,
        help=f"Reported for {kpi['actual_date']}",
    )

drivers = views.kpi_drivers(result, kpi_id)
if kpi["actual_value"] is None:
    st.info(
        "No actuals reported for this KPI yet: both paths start from its baseline value on its period start.",
        icon=":material/info:",
    )
export.chart(specs.kpi_trajectory(ctx.at, kpi_id), f"KPI {kpi['name']}", key="kpi_chart")
st.caption(
    "Solid blue: projected from the computed finishes. Dashed grey: the baseline plan (same formula, "
    "baseline finishes). Vertical marks: the milestones that drive the KPI, at their computed finish, "
    "coloured by status."
)

st.subheader("Milestones that drive it")
if drivers.height:
    st.dataframe(
        fmt.as_tags(drivers),
        column_order=[
            "milestone_id",
            "milestone_name",
            "project_name",
            "owner",
            "computed_status",
            "watermelon",
            "baseline_finish",
            "computed_finish",
            "slip_days",
            "kpi_delta",
            "ramp_days",
            "kpi_impact",
            "value_at_risk",
        ],
        column_config=fmt.columns(currency),
        hide_index=True,
        placeholder="–",
        key="kpi_drivers",
    )
else:
    st.warning(
        "No work drives this KPI: no milestone is linked to it. It will move only by luck.", icon=":material/warning:"
    )
