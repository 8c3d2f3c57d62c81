"""Portfolio pulse: the Monday-morning view of the whole portfolio in ten seconds."""

from __future__ import annotations

import streamlit as st

from kpi_engine.engine import views
from ui import context, decision, export, specs
from ui import format as fmt

ctx = context.require()
result, previous = ctx.result(), ctx.previous_result()
currency = ctx.currency

st.title("Portfolio pulse")
st.caption(context.caption(ctx))
decision.deck_download(ctx)

now = views.pulse_counts(result)
before = views.pulse_counts(previous) if previous is not None else None
since = ctx.since

# the watermelon tile is wider: its label says what it counts (milestones, as the Exceptions page does)
tiles = st.columns([1.2, 0.95, 1.35, 0.95, 1])
tiles[0].metric(
    "Value at risk",
    fmt.money(now.value_at_risk, currency, compact=True),
    fmt.money_delta(now.value_at_risk - before.value_at_risk) if before else None,
    delta_color="inverse",
    border=True,
    delta_description=since,
    help="Value the portfolio loses this period because milestones finish after their baseline",
)
tiles[1].metric(
    "Red milestones",
    now.red,
    fmt.count_delta(now.red, before.red if before else None),
    delta_color="inverse",
    border=True,
    delta_description=since,
    help="More than the Red threshold late, or hurting a KPI that misses its target",
)
tiles[2].metric(
    "Watermelon milestones",
    now.watermelons,
    fmt.count_delta(now.watermelons, before.watermelons if before else None),
    delta_color="inverse",
    border=True,
    delta_description=since,
    help="Milestones reported better than their dates say: green outside, red inside. The Exceptions page "
    "counts the same milestones; it lists a row per KPI each one hurts",
)
tiles[3].metric(
    "Escalations",
    now.escalations,
    fmt.count_delta(now.escalations, before.escalations if before else None),
    delta_color="inverse",
    border=True,
    delta_description=since,
    help=f"Exception rows naming someone who must act; {now.top_level_escalations} reach an "
    "objective owner or sponsor (level 3)",
)
tiles[4].metric(
    "New exceptions",
    now.new_exceptions,
    border=True,
    help=f"Exceptions not in the previous snapshot's list ({now.exceptions} exceptions in all)",
)

# ------------------------------------------------------------------ KPI tiles
kpis = views.pulse_kpis(result.kpis, previous.kpis if previous is not None else None)


def kpi_tile(row: dict[str, object]) -> None:
    """One KPI: projected value, change since the previous snapshot, target and shortfall."""
    unit = row["unit"]
    unit_text = f" {unit}" if unit else ""
    with st.container(border=True):
        # the name wraps over two lines instead of being cut off like a metric label
        st.html(
            f"<div style='font-weight:600;font-size:0.95rem;line-height:1.3;height:2.6em;overflow:hidden'>"
            f"{fmt.escape(row['name'])}</div>"
        )
        st.metric(
            fmt.plain(row["name"]),
            fmt.kpi_number(row["projected"]),
            fmt.kpi_delta(row["change"]),
            delta_color="inverse" if row["direction"] == "lower_is_better" else "normal",
            delta_description=since,
            label_visibility="collapsed",
        )
        verdict = "Red" if row["misses"] else "Green"
        gap = f"short by {fmt.kpi_number(row['shortfall'])}" if row["misses"] else "meets it"
        st.html(
            f"<div style='font-size:0.85rem;line-height:1.4'>"
            f"{fmt.rag_badge(verdict, 'Misses' if row['misses'] else 'Meets')}&nbsp; target "
            f"<b>{fmt.kpi_number(row['target_value'])}</b>{fmt.escape(unit_text)} "
            f"by {fmt.day(row['target_date'])}; {gap}</div>"
        )


def tile_grid(rows: list[dict[str, object]], per_row: int = 4) -> None:
    for start in range(0, len(rows), per_row):
        cells = st.columns(per_row)
        for cell, row in zip(cells, rows[start : start + per_row], strict=False):
            with cell:
                kpi_tile(row)


if kpis.total == 0:
    st.info("This snapshot holds no KPIs: upload the kpis sheet of the portfolio workbook.", icon=":material/info:")
elif kpis.missing:
    st.subheader(f"KPIs missing their target: {kpis.missing} of {kpis.total}")
    # tiles for the worst misses only: a tile is four elements, thousands of them take seconds per rerun
    tile_grid(kpis.tiles.to_dicts())
    if kpis.more_missing:
        st.page_link(
            "pages/kpis.py",
            label=f"and {kpis.more_missing:,} more KPIs miss their target: see the KPIs page",
            icon=":material/arrow_forward:",
        )
else:
    st.success(f"All {kpis.total} KPIs are projected to meet their targets.", icon=":material/check_circle:")
# the table is drawn once its expander is opened: the pulse is the first page, and every
# visit would otherwise send it to the browser
on_track = (
    st.expander(f"KPIs on track: {kpis.on_track.height}", key="pulse_on_track_open", on_change="rerun")
    if kpis.on_track.height
    else None
)
if on_track is not None and on_track.open:
    with on_track:
        st.dataframe(
            fmt.as_tags(kpis.on_track),
            column_order=[
                "status",
                "name",
                "objective_name",
                "projected",
                "target_value",
                "unit",
                "target_date",
                "change",
            ],
            column_config={
                **fmt.columns(currency),
                "status": fmt.rag_column("Status"),
                "name": st.column_config.TextColumn("KPI"),
                "objective_name": st.column_config.TextColumn("Objective"),
                "projected": st.column_config.NumberColumn("Projected", format="%.4g"),
                "target_value": st.column_config.NumberColumn("Target", format="%.4g"),
                "unit": st.column_config.TextColumn("Unit", width="small"),
                "target_date": st.column_config.DateColumn("Target date", format="YYYY-MM-DD"),
                "change": st.column_config.NumberColumn(f"Change {since}" if since else "Change", format="%+.4g"),
            },
            hide_index=True,
            placeholder="–",
            height=fmt.table_height(kpis.on_track.height, 360),
            key="pulse_on_track",
        )

# ------------------------------------------------------------------ top exceptions
left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("Top exceptions")
    top = result.with_why(result.exception_rows.head(5))  # the sentences of these five rows only
    if top.height == 0:
        st.success(
            "No exceptions in this snapshot: every milestone is on time and every KPI on track.",
            icon=":material/check_circle:",
        )
    for position, (row, item) in enumerate(zip(top.to_dicts(), views.exception_key(top).to_list(), strict=True)):
        with st.container(border=True):
            status = row["computed_status"] if row["kind"] == "milestone" else "Unknown"
            who = f" · level {row['escalation_level']} → {row['escalate_to']}" if row["escalate_to"] else ""
            money = fmt.money(row["value_at_risk"], currency) if row["value_at_risk"] else ""
            st.html(
                f"<div style='font-size:0.9rem;margin-bottom:0.3rem'>"
                f"{fmt.rag_badge(status, status if row['kind'] == 'milestone' else 'Governance')}"
                f"&nbsp; <b>{fmt.escape(money)}</b>{fmt.escape(who)}</div>"
                f"<div style='font-size:1rem;line-height:1.45'>{fmt.escape(row['why'])}</div>"
            )
            if st.button(
                "Open the drill-down",
                key=f"pulse_open_{position}",  # two rows may share a milestone and KPI
                icon=":material/arrow_forward:",
                type="tertiary",
                help="The causes, history and dependencies of this exception on the Exceptions page",
            ):
                st.switch_page("pages/exceptions.py", query_params=views.exceptions_query(item=item))
    st.page_link(
        "pages/exceptions.py", label=f"All {result.exception_rows.height} exceptions", icon=":material/arrow_forward:"
    )
with right:
    st.subheader("Where the value at risk sits")
    spec = specs.value_at_risk_by(ctx.at, "program")
    if spec is not None:
        st.html(fmt.rag_legend())
        export.chart(spec, "value at risk by program", key="pulse_var")
    else:
        st.info("No value is at risk in this snapshot.")
