"""Exceptions: the full list, filtered, exported, and one row drilled down to its causes and decided on."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from kpi_engine.engine import project_views, views
from ui import context, decide, decision, export, loaders, specs, urls
from ui import format as fmt

ctx = context.require()
result = ctx.result()
currency = ctx.currency

st.title("Exceptions")
st.caption(context.caption(ctx) + " · ordered by value at risk, then KPI shortfall, then slip")

options = loaders.exception_filter_options(*ctx.at)

# every filter lives in the address (a reload, a shared link and the digests' links open this view)
param = {field: name for name, field in views.EXCEPTION_URL_FILTERS.items()}
urls.ignored_notice(
    views.unknown_filter_values(urls.values([*views.EXCEPTION_URL_FILTERS, *views.EXCEPTION_URL_SWITCHES]), options)
)


def pick(column: DeltaGenerator, label: str, name: str) -> tuple[str, ...]:
    """A multiselect over one filter's choices, kept in the address; choices gone from this snapshot are dropped."""
    key = param[name]
    choices = options[name]
    if key in st.session_state:
        st.session_state[key] = [v for v in st.session_state[key] if v in choices]
    chosen = column.multiselect(
        label,
        list(choices),
        format_func=lambda v: choices.get(v, v),
        key=key,
        placeholder="All",
        bind="query-params",
    )
    return tuple(chosen)


with st.expander("Filters", expanded=True, icon=":material/filter_list:"):
    row1 = st.columns(4)
    portfolios = pick(row1[0], "Portfolio", "portfolios")
    programs = pick(row1[1], "Program", "programs")
    projects = pick(row1[2], "Project", "projects")
    objectives = pick(row1[3], "Objective", "objectives")
    row2 = st.columns(4)
    kpis = pick(row2[0], "KPI", "kpis")
    owners = pick(row2[1], "Owner (anyone named on the row)", "owners")
    levels = pick(row2[2], "Escalation level", "escalation_levels")
    kinds = pick(row2[3], "Kind", "kinds")
    row3 = st.columns(4)
    watermelons_only = row3[0].toggle(
        "Watermelons only", key="watermelons", help="Reported better than the dates say", bind="query-params"
    )
    new_only = row3[1].toggle(
        "New since last snapshot",
        key="new",
        bind="query-params",
        disabled=ctx.previous_id is None,
        help="Not in the previous snapshot's exception list",
    )
    undecided_only = row3[2].toggle(
        "No decision yet",
        key="undecided",
        bind="query-params",
        help="Rows nobody has decided on (recover, workaround, accept, escalate)",
    )

chosen = views.ExceptionFilter(
    portfolios=portfolios,
    programs=programs,
    projects=projects,
    objectives=objectives,
    kpis=kpis,
    owners=owners,
    escalation_levels=tuple(int(v) for v in levels),
    kinds=kinds,
    watermelons_only=watermelons_only,
    new_only=new_only,
    undecided_only=undecided_only,
)
# with the escalation loop's levels and each row's decision
rows = loaders.exception_rows(*ctx.at, chosen)
totals = loaders.exception_totals(*ctx.at, chosen)
st.markdown(
    f"**{totals.rows:,}** of {result.exception_rows.height:,} exception rows · value at risk "
    f"**{fmt.money(totals.value_at_risk, currency)}** · **{totals.watermelon_milestones:,}** watermelon milestones "
    f"({totals.watermelon_rows:,} rows: a milestone has a row per KPI it hurts)"
)

if rows.height == 0:
    if result.exception_rows.height == 0:
        st.success(
            "No exceptions in this snapshot: every milestone is on time and every KPI on track.",
            icon=":material/check_circle:",
        )
    else:
        st.info("No exception matches these filters.", icon=":material/filter_alt_off:")
    st.stop()

visible = [
    "milestone_id",
    "milestone_name",
    "project_name",
    "kpi_name",
    "computed_status",
    "reported_status",
    "watermelon",
    "slip_days",
    "baseline_finish",
    "computed_finish",
    "percent_complete",
    "value_at_risk",
    "kpi_shortfall",
    "kpi_impact",
    "escalation_level",
    "escalate_to",
    "decision",
    "decision_by",
    "decision_due",
    "first_notified",
    "new",
    "why",
]
# the table (and the drill-down picker) hold the first rows only; the downloads hold every row
shown = rows.head(views.TABLE_ROWS)
event = st.dataframe(
    fmt.as_tags(shown),
    column_order=visible,
    column_config=fmt.columns(currency),
    hide_index=True,
    placeholder="–",
    height=fmt.table_height(shown.height, 460),
    on_select="rerun",
    selection_mode="single-row",
    key="exc_table",
)
more = views.shown_caption(shown.height, rows.height)
if more:
    st.caption(more)
export.table_downloads(
    rows,
    "exceptions",
    key="exc",
    sheet="Exceptions",
    column_config=fmt.columns(currency),
    as_of=ctx.as_of,
    currency=currency,
)

# ------------------------------------------------------------------ drill-down
st.divider()
st.subheader("Drill-down")
labels = views.exception_label(shown).to_list()
keys = views.exception_key(shown).to_list()
linked = urls.linked_item(views.EXCEPTION_URL_ITEM, keys)
finding = st.query_params.get("finding")
if linked is not None and finding:  # a digest's link to a governance finding sharing its row's key
    linked = views.exception_position(shown, keys[linked], finding, default=linked)
if linked is not None:
    st.session_state["drill_row"] = linked
selected = list(event.selection.rows) if event is not None else []
# a click in the table chooses the row once; afterwards the picker is free again
if selected and selected != st.session_state.get("exc_last_click"):
    st.session_state["drill_row"] = selected[0]
st.session_state["exc_last_click"] = selected
# the browser may hand the picker's value back as text after the rows changed: start over then
if not isinstance(st.session_state.get("drill_row", 0), int) or st.session_state.get("drill_row", 0) >= shown.height:
    st.session_state["drill_row"] = 0
index = st.selectbox(
    "Exception",
    range(shown.height),
    format_func=lambda i: labels[i],
    key="drill_row",
    help="Pick a row here or click one in the table above",
)
urls.keep_item(views.EXCEPTION_URL_ITEM, keys[index] if index else None)
row = shown.row(index, named=True)
st.html(f"<div style='font-size:1.05rem;line-height:1.5'>{fmt.escape(row['why'])}</div>")
if row["kind"] == "milestone":
    for sentence in decision.reporting_sentences(ctx, row["owner"]):
        st.html(f"<div style='font-size:0.9rem;color:#546E7A'>{fmt.escape(sentence)}</div>")

with st.container(border=True):
    st.markdown("**Decision and history**")
    decide.status_line(row)
    decide.history(ctx, row, key="drill")
    with st.expander("Decide", icon=":material/gavel:"):
        decide.form(ctx, row, key="drill_decide")

on_project = project_views.finding_on_project(row)
if on_project is not None:  # "project has no owner": no chain to draw, the project itself instead
    project = project_views.project_finding(result, on_project)
    if project is None:
        st.info("This finding names a project this snapshot does not hold; there is nothing more to show.")
        st.stop()
    with st.container(border=True):
        st.markdown("**Project**")
        st.html(f"<div style='font-size:1rem'>{fmt.escape(project.headline(currency))}</div>")
        st.markdown("**What to do**")
        st.html("<ol style='margin:0'>" + "".join(f"<li>{fmt.escape(s)}</li>" for s in project.what_to_do()) + "</ol>")
    st.markdown(f"**Milestones of {fmt.plain(project.title)}**")
    if project.milestones.height:
        st.dataframe(
            fmt.as_tags(project.milestones),
            column_order=project.milestones.columns,  # the engine's view chooses and orders them
            column_config=fmt.columns(currency),
            hide_index=True,
            placeholder="–",
            height=fmt.table_height(project.milestones.height, 420),
            key="drill_project_milestones",
        )
    else:
        st.info("This project has no milestones in this snapshot.")
    st.stop()

milestone_id = row["milestone_id"]
known = milestone_id is not None and milestone_id in result.milestones["milestone_id"]
if not known:
    if row["kpi_id"] is not None and row["kpi_id"] in result.kpis["kpi_id"]:
        st.info("This finding concerns a KPI, not a milestone: its path to the target is on the KPIs page.")
        if st.button(
            f"Open {fmt.plain(row['kpi_name'])} on the KPIs page", icon=":material/trending_up:", key="drill_kpi"
        ):
            st.session_state["kpi_pick"] = row["kpi_id"]  # the KPIs page's picker starts on it
            # an empty address, given: the default (None) clears it, refused while filters are bound to it
            st.switch_page("pages/kpis.py", query_params={})
    else:
        st.info("This finding names an id that does not exist; there is no chain to draw.")
    st.stop()

kpi_id = row["kpi_id"] if row["kpi_id"] is not None and row["kpi_id"] in result.kpis["kpi_id"] else None
st.markdown("**Causal chain**")
export.chart(specs.causal_chain(ctx.at, milestone_id, kpi_id), f"causal chain {milestone_id}", key="drill_chain")

left, right = st.columns(2, gap="large")
with left:
    st.markdown("**Slip history across snapshots**")
    history = views.milestone_slip_history(loaders.history(ctx.path, ctx.snapshot_id), milestone_id)
    spec = specs.slip_history(ctx.at, milestone_id)
    if spec is not None:
        export.chart(spec, f"slip history {milestone_id}", key="drill_history")
        st.dataframe(
            history,
            column_order=["as_of", "computed_finish", "slip_days", "moved_days"],
            column_config=fmt.columns(currency),
            hide_index=True,
            placeholder="–",
            key="drill_history_table",
        )
    else:
        st.info("This milestone has no history yet.")
with right:
    st.markdown("**Dependencies**")
    deps = loaders.dependencies(*ctx.at, milestone_id)
    if deps.height:
        st.dataframe(
            fmt.as_tags(deps),
            column_order=deps.columns,  # the engine's view chooses and orders them
            column_config=fmt.columns(currency),
            hide_index=True,
            placeholder="–",
            key="drill_deps",
        )
        down = deps.filter(deps["direction"] == "downstream").height
        up = deps.height - down
        st.caption(f"{up} milestone(s) upstream can push this one; {down} downstream move when it slips.")
    else:
        st.info("No dependencies: nothing upstream pushes this milestone and nothing downstream waits for it.")
