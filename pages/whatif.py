"""What-if: slip milestones or projects, add workarounds, see KPIs and value at risk move; save, compare, simulate."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from kpi_engine.core.errors import KpiError
from kpi_engine.core.rag import RAG_COLOURS
from kpi_engine.engine import views
from ui import access, context, decision, errors, export, whatif
from ui import format as fmt

ctx = context.require()
at, currency = ctx.at, ctx.currency
state = st.session_state

st.title("What-if scenarios")
st.caption(context.caption(ctx) + " · every change is recomputed against this snapshot")

options = whatif.choices(at)
m_labels, p_labels = options.milestone_labels, options.project_labels
whatif.keep_known(m_labels, p_labels)

notice = whatif.take_notice()
if notice is not None:
    kind, message = notice
    if kind == "error":
        errors.show_error(message)  # type: ignore[arg-type]
    else:
        {"success": st.success, "warning": st.warning}.get(kind, st.info)(fmt.plain(message, limit=None))

# ------------------------------------------------------------------ the builder
with st.container(border=True):
    opened = state.get(whatif.OPENED)
    st.subheader("Build a scenario" if not opened else f"Scenario: {fmt.plain(opened['name'])}")
    search = ""
    if options.many:
        # tens of thousands of choices cost seconds per rerun: offer the first, find the rest
        search = st.text_input(
            "Find a milestone or project",
            key=whatif.SEARCH,
            placeholder="Part of an id or a name",
            help="The pickers below offer the matches with the most value at risk.",
        )
        st.caption(
            f"The pickers offer the first {views.CHOICES:,} matches, most value at risk first, of "
            f"{options.milestones.height:,} open milestones and {options.projects.height:,} projects."
        )
    m_ids, p_ids = whatif.offered(at, search)
    left, right = st.columns(2, gap="large")
    with left:
        whatif.slip_picker(
            "Slip milestones",
            m_ids,
            m_labels,
            whatif.MILESTONES,
            whatif.slip_key,
            placeholder="Pick milestones (most value at risk first)",
            help="Open milestones only; their successors follow through the dependencies.",
        )
    with right:
        whatif.slip_picker(
            "Slip whole projects",
            p_ids,
            p_labels,
            whatif.PROJECTS,
            whatif.project_slip_key,
            placeholder="Pick projects",
            help="Every open milestone of the project slips by the same number of days.",
        )

    if options.milestones.height == 0:
        st.caption("Every milestone of this snapshot has finished: there is nothing left to slip or work around.")
    elif not m_ids:
        st.caption(f"No open milestone matches '{fmt.plain(search)}'.")
    else:
        left, right = st.columns(2, gap="large")
        with left, st.form("wi_set_finish_form"):
            st.markdown("**Set a finish date**")
            a, b = st.columns([3, 2])
            a.selectbox("Milestone", m_ids, format_func=lambda m: m_labels.get(m, m), key=whatif.SET_FINISH_PICK)
            b.date_input(
                "Finishes on",
                value=ctx.as_of + timedelta(days=28),
                min_value=ctx.as_of,
                key="wi_sf_date",
                format="YYYY-MM-DD",
                help="Whatever its predecessors do; its successors follow.",
            )
            st.form_submit_button(
                "Set finish", on_click=whatif.add_set_finish, icon=":material/event:", key="wi_sf_add"
            )
        with right, st.form("wi_workaround_form"):
            st.markdown("**Add a workaround**")
            st.selectbox("Milestone", m_ids, format_func=lambda m: m_labels.get(m, m), key=whatif.WORKAROUND_PICK)
            a, b, c = st.columns([4, 3, 3])
            a.date_input("Starts on", value=ctx.as_of, min_value=ctx.as_of, key="wi_wa_start", format="YYYY-MM-DD")
            b.number_input(
                f"Cost ({currency})", min_value=0.0, value=50_000.0, step=10_000.0, format="%.0f", key="wi_wa_cost"
            )
            c.number_input(
                "Recovers (%)",
                min_value=0,
                max_value=100,
                value=50,
                step=5,
                key="wi_wa_percent",
                help="The share of the value the milestone's lateness loses that the workaround wins back",
            )
            st.form_submit_button(
                "Add workaround", on_click=whatif.add_workaround, icon=":material/build:", key="wi_wa_add"
            )

    for mid, finish in state.get(whatif.SET_FINISHES, {}).items():
        row = st.container(horizontal=True, vertical_alignment="center", gap="small")
        row.markdown(f":material/event: **{fmt.plain(m_labels.get(mid, mid))}** finishes on **{finish.isoformat()}**")
        row.button(
            "Remove",
            key=f"wi_rm_sf_{mid}",
            on_click=whatif.remove_set_finish,
            args=(mid,),
            type="tertiary",
            icon=":material/close:",
        )
    for mid, start, cost, fraction in state.get(whatif.WORKAROUNDS, {}).values():
        row = st.container(horizontal=True, vertical_alignment="center", gap="small")
        row.markdown(
            f":material/build: Workaround on **{fmt.plain(m_labels.get(mid, mid))}** from **{start.isoformat()}**, "
            f"cost **{fmt.money(cost, currency)}**, recovers **{fraction:.0%}** of the value lost"
        )
        row.button(
            "Remove",
            key=f"wi_rm_wa_{mid}",
            on_click=whatif.remove_workaround,
            args=(mid,),
            type="tertiary",
            icon=":material/close:",
        )

    current = whatif.draft()
    if not current.is_empty:
        st.button("Clear all changes", key="wi_clear", on_click=whatif.clear_draft, icon=":material/restart_alt:")

# ------------------------------------------------------------------ what the scenario does
view = None
if current.is_empty:
    hint = (
        f" Try **{fmt.plain(options.milestones['label'][0])}**, the open milestone with the most value at risk."
        if options.milestones.height
        else ""
    )
    st.info(
        "Pick a milestone or a project to slip, set a finish date, or add a workaround: the KPI projections, "
        "the value at risk and every milestone downstream are recomputed as you move the sliders." + hint,
        icon=":material/science:",
    )
else:
    try:
        view = whatif.scenario_view(at, current)
    except KpiError as err:
        errors.show_error(err)

if view is not None:
    s = view.summary
    has_workarounds = view.mitigations.height > 0
    tiles = st.columns(4)
    tiles[0].metric(
        "Value at risk",
        fmt.money(s.value_at_risk_after, currency, compact=True),
        fmt.money_delta(s.value_at_risk_after - s.value_at_risk_before),
        delta_color="inverse",
        border=True,
        delta_description=f"from {fmt.money(s.value_at_risk_before, currency, compact=True)}",
        help=f"Value the portfolio loses this period because milestones finish late, before workarounds: "
        f"{fmt.money(s.value_at_risk_before, currency)} → {fmt.money(s.value_at_risk_after, currency)}",
    )
    tiles[1].metric(
        "After workarounds",
        fmt.money(s.value_at_risk_net, currency, compact=True),
        fmt.money_delta(s.value_at_risk_net - s.value_at_risk_before),
        delta_color="inverse",
        border=True,
        delta_description=f"from {fmt.money(s.value_at_risk_before, currency, compact=True)}",
        help=f"Value at risk minus what the workarounds recover: {fmt.money(s.value_at_risk_net, currency)}",
    )
    tiles[2].metric(
        "Net of workarounds",
        fmt.money(s.net_of_workarounds, currency, compact=True) if has_workarounds else "none",
        border=True,
        help=(
            f"Recovered {fmt.money(s.recovered, currency)} minus cost {fmt.money(s.workaround_cost, currency)}"
            if has_workarounds
            else "Add a workaround to see what it wins back for its cost"
        ),
    )
    tiles[3].metric(
        "KPIs missing their target",
        s.kpis_missing_after,
        fmt.count_delta(s.kpis_missing_after, s.kpis_missing_before),
        delta_color="inverse",
        border=True,
        delta_description=f"from {s.kpis_missing_before}",
    )
    st.caption(
        f"{s.milestones_moved} milestone(s) move · {s.escalations_raised} escalation(s) raised · "
        + fmt.plain(current.describe(), limit=None)
    )

    left, right = st.columns(2, gap="large")
    with left:
        if view.kpi_chart is not None:
            export.chart(view.kpi_chart, "what-if KPI projections", key="wi_kpi_chart")
            with st.expander("KPI figures"):
                st.dataframe(
                    view.kpis,
                    column_order=["kpi_id", "label", "projected_before", "projected_after", "target_value", "verdict"],
                    column_config={
                        **fmt.columns(currency),
                        "label": st.column_config.TextColumn("KPI"),
                        "projected_before": st.column_config.NumberColumn("Before", format="%.4g"),
                        "projected_after": st.column_config.NumberColumn("After", format="%.4g"),
                        "target_value": st.column_config.NumberColumn("Target", format="%.4g"),
                        "verdict": st.column_config.TextColumn("Verdict"),
                    },
                    hide_index=True,
                    placeholder="–",
                    key="wi_kpi_table",
                )
        else:
            st.info(
                "No KPI projection moves: the milestones that move drive no KPI, or only after its target date.",
                icon=":material/info:",
            )
    with right:
        export.chart(view.waterfall_chart, "what-if value at risk by milestone", key="wi_waterfall")
        if view.waterfall_caption:
            st.caption(fmt.plain(view.waterfall_caption, limit=None))

    st.subheader(f"Milestones that move: {view.moved.height}")
    if view.moved.height:
        st.dataframe(
            view.moved,
            column_order=[
                "milestone_id",
                "name",
                "cause",
                "before",
                "after",
                "moved_days",
                "value_at_risk_before",
                "value_at_risk_after",
                "value_at_risk_change",
            ],
            column_config={
                **fmt.columns(currency),
                "name": st.column_config.TextColumn("Milestone name"),
                "cause": st.column_config.TextColumn(
                    "Why", help="Named by the scenario, or downstream of one that moves"
                ),
                "before": st.column_config.DateColumn("Finish before", format="YYYY-MM-DD"),
                "after": st.column_config.DateColumn("Finish after", format="YYYY-MM-DD"),
                "moved_days": st.column_config.NumberColumn("Moves (days)", format="%+d"),
                "value_at_risk_before": fmt.money_column("Value at risk before", currency),
                "value_at_risk_after": fmt.money_column("Value at risk after", currency),
                "value_at_risk_change": st.column_config.NumberColumn("Change", format=f"%+,.0f {currency}"),
            },
            hide_index=True,
            placeholder="–",
            key="wi_moved",
            height=fmt.table_height(view.moved.height, 380),
        )
    else:
        st.caption("No computed finish moves: a finish set earlier than planned, or a slip its successors absorb.")

    if has_workarounds:
        st.subheader("Workarounds")
        st.dataframe(
            view.mitigations,
            column_config={
                **fmt.columns(currency),
                "name": st.column_config.TextColumn("Milestone name"),
                "start": st.column_config.DateColumn("Starts", format="YYYY-MM-DD"),
                "cost": fmt.money_column("Cost", currency),
                "fraction": st.column_config.NumberColumn("Share recovered", format="percent"),
                "recovered_value": fmt.money_column("Recovered", currency),
                "net_value": fmt.money_column("Net", currency, help="Recovered minus cost"),
                "break_even_days": st.column_config.NumberColumn(
                    "Break-even (days late)",
                    format="%d",
                    help="The workaround pays for itself once the milestone finishes this many days after its "
                    "baseline finish; empty when no slip makes it pay",
                ),
                "verdict": st.column_config.TextColumn("Verdict"),
            },
            hide_index=True,
            placeholder="–",
            key="wi_mitigations",
        )
    if view.escalations.height:
        with st.expander(f"Escalations raised: {view.escalations.height}", icon=":material/campaign:"):
            st.dataframe(
                view.escalations,
                column_config={
                    **fmt.columns(currency),
                    "escalation_level_before": st.column_config.NumberColumn("Level before", format="%d"),
                    "escalation_level_after": st.column_config.NumberColumn("Level after", format="%d"),
                    "escalate_to_before": st.column_config.TextColumn("Escalated to before"),
                    "escalate_to_after": st.column_config.TextColumn("Escalate to"),
                },
                hide_index=True,
                placeholder="–",
                key="wi_escalations",
            )

# ------------------------------------------------------------------ best use of a budget
st.divider()
decision.budget_section(ctx, m_labels)

# ------------------------------------------------------------------ save, open, compare
st.divider()
save_col, saved_col = st.columns([2, 3], gap="large")
with save_col:
    st.subheader("Save")
    st.text_input("Scenario name", key=whatif.NAME, placeholder="e.g. Vendor two weeks late")
    st.caption(
        f"Saved by **{fmt.plain(whatif.author())}** with the date and time, on snapshot #{ctx.snapshot_id} "
        f"({fmt.day(ctx.as_of)}): {fmt.plain(current.describe(), limit=None)}."
    )
    may_save = access.session_access().can_save_scenarios
    if not may_save:
        st.caption(
            ":material/lock: Only finance and the PMO may save, rename or delete scenarios; you can still "
            "explore and compare."
        )
    row = st.container(horizontal=True, gap="small")
    row.button(
        "Save as new scenario",
        type="primary",
        key="wi_save",
        on_click=whatif.save_new,
        args=(ctx.snapshot_id,),
        disabled=current.is_empty or not may_save,
        icon=":material/save:",
    )
    if opened:
        row.button(
            f"Save changes to '{fmt.plain(opened['name'])}'",
            key="wi_update",
            on_click=whatif.update_opened,
            disabled=current.is_empty or not may_save,
            icon=":material/save_as:",
        )

with saved_col:
    saved = whatif.saved_scenarios()
    st.subheader(f"Saved scenarios: {saved.height}")
    if saved.height == 0:
        st.caption("None yet: build a scenario, name it and save it to reopen and compare it later.")
    else:
        st.dataframe(
            saved,
            column_order=["name", "author", "created_at", "updated_at", "snapshot_as_of"],
            column_config={
                "name": st.column_config.TextColumn("Name"),
                "author": st.column_config.TextColumn("By"),
                "created_at": st.column_config.DatetimeColumn("Saved", format="YYYY-MM-DD HH:mm"),
                "updated_at": st.column_config.DatetimeColumn("Changed", format="YYYY-MM-DD HH:mm"),
                "snapshot_as_of": st.column_config.DateColumn("Built on snapshot of", format="YYYY-MM-DD"),
            },
            hide_index=True,
            placeholder="–",
            key="wi_saved",
            height=fmt.table_height(saved.height, 250),
        )
        ids = saved["scenario_id"].to_list()
        names = dict(zip(ids, saved["name"].to_list(), strict=False))
        if state.get("wi_pick") not in ids:
            state["wi_pick"] = ids[0]
        pick = st.selectbox("Saved scenario", ids, format_func=lambda i: names.get(i, str(i)), key="wi_pick")
        row = st.container(horizontal=True, gap="small")
        row.button(
            "Open",
            key="wi_open",
            on_click=whatif.open_saved,
            args=(pick, m_labels, p_labels),
            icon=":material/folder_open:",
            help="Load its changes into the builder above",
        )
        with row.popover("Rename", icon=":material/edit:"):
            st.text_input("New name", key="wi_rename_to")
            st.button("Rename", key="wi_rename", on_click=whatif.rename_saved, args=(pick,), disabled=not may_save)
        with row.popover("Delete", icon=":material/delete:"):
            st.markdown(f"Delete **{fmt.plain(names[pick])}** for everyone? This cannot be undone.")
            st.button(
                "Delete for good",
                key="wi_delete",
                type="primary",
                on_click=whatif.delete_saved,
                args=(pick, names[pick]),
                disabled=not may_save,
            )

st.subheader("Compare scenarios")
comparable = ([whatif.CURRENT] if not current.is_empty else []) + saved["scenario_id"].to_list()
labels = {
    whatif.CURRENT: "The scenario being edited",
    **dict(zip(saved["scenario_id"].to_list(), saved["name"].to_list(), strict=False)),
}
if "wi_compare" in state:
    state["wi_compare"] = [o for o in state["wi_compare"] if o in comparable]
compare = st.multiselect(
    "Scenarios to compare (2 to 4)",
    comparable,
    format_func=lambda o: labels.get(o, str(o)),
    max_selections=4,
    key="wi_compare",
    placeholder="Pick two to four scenarios",
)
if len(compare) < 2:
    st.caption("Pick two to four scenarios (saved ones, or the one being edited) to put them side by side.")
else:
    try:
        compared = whatif.comparison(at, whatif.compared_drafts(compare, current))
    except KpiError as err:
        errors.show_error(err)
    else:
        export.chart(compared.chart, "scenario comparison", key="wi_compare_chart")
        st.dataframe(
            compared.table,
            column_config={"figure": st.column_config.TextColumn("Figure", width="large")},
            hide_index=True,
            placeholder="–",
            key="wi_compare_table",
            height=fmt.table_height(compared.table.height, 560),
        )
        export.table_downloads(
            compared.table,
            "scenario comparison",
            key="wi_compare_dl",
            sheet="comparison",
            column_config={"figure": st.column_config.TextColumn("Figure")},
            as_of=ctx.as_of,
            currency=currency,
        )

# ------------------------------------------------------------------ Monte Carlo
with st.expander("Monte Carlo: how likely are these dates, KPIs and value at risk?", icon=":material/casino:"):
    st.caption(
        "Each run gives every open milestone a random extra slip and propagates it through the dependencies. "
        "By default the slips come from this portfolio's own history of how far computed finishes moved "
        "from one snapshot to the next (each project's own history when it has enough, else the whole "
        "portfolio's); with too little history, from default slips by milestone duration (the reference "
        "class). A triangular range (min, most likely, max days) overrides that for one project or "
        "milestone."
    )
    a, b, c = st.columns(3)
    runs = int(a.number_input("Runs", min_value=200, max_value=5000, value=1000, step=100, key="wi_mc_runs"))
    seed = int(
        b.number_input(
            "Seed",
            min_value=0,
            max_value=2**31 - 1,
            value=7,
            step=1,
            key="wi_mc_seed",
            help="The same seed and inputs give the same result",
        )
    )
    on_top = c.toggle(
        "On top of the scenario above",
        value=True,
        key="wi_mc_on_top",
        disabled=current.is_empty,
        help="Apply the scenario's slips and set finishes in every run (workarounds are left out)",
    )
    target = st.selectbox(
        "Triangular slip range for",
        whatif.targets(m_ids, p_ids),
        key=whatif.TARGET_PICK,
        format_func=lambda o: whatif.override_label(o, m_labels, p_labels),
    )
    override = None
    if target:
        a, b, c = st.columns(3)
        low = a.number_input("Min (days)", min_value=0.0, value=0.0, step=1.0, format="%.0f", key="wi_mc_min")
        mode = b.number_input("Most likely (days)", min_value=0.0, value=7.0, step=1.0, format="%.0f", key="wi_mc_mode")
        high = c.number_input("Max (days)", min_value=0.0, value=30.0, step=1.0, format="%.0f", key="wi_mc_max")
        kind, owner = target.split(":", 1)
        override = (kind, owner, float(low), float(mode), float(high))
    params = (current if on_top and not current.is_empty else None, runs, seed, override)

    sim = None
    try:
        if st.button("Run simulation", type="primary", key="wi_mc_run", icon=":material/play_arrow:"):
            state[whatif.SIMULATION] = (at, *params)
            sim = whatif.run_simulation_with_progress(at, *params)
        elif state.get(whatif.SIMULATION) and state[whatif.SIMULATION][0] == at:
            if state[whatif.SIMULATION][1:] != params:
                st.info(
                    "The inputs changed since this run: press **Run simulation** to update it.",
                    icon=":material/update:",
                )
            with st.spinner("Reading the last simulation ..."):
                sim = whatif.simulation(*state[whatif.SIMULATION])
    except KpiError as err:
        state.pop(whatif.SIMULATION, None)
        errors.show_error(err)

    if sim is not None:
        # the run shown: snapshot, scenario, runs, seed and workaround override
        shown_at, shown_draft, shown_runs, shown_seed, shown_override = state[whatif.SIMULATION]
        result = sim.result
        var = result.value_at_risk
        st.caption(f"{result.runs:,} runs, seed {result.seed}. {sim.caption}")
        tiles = st.columns(4)
        tiles[0].metric(
            "Value at risk, P50",
            fmt.money(var.p50, currency, compact=True),
            border=True,
            help="Half the runs lose less than this",
        )
        tiles[1].metric(
            "P80", fmt.money(var.p80, currency, compact=True), border=True, help="Four runs in five lose less than this"
        )
        tiles[2].metric(
            "P95",
            fmt.money(var.p95, currency, compact=True),
            border=True,
            help="Nineteen runs in twenty lose less than this",
        )
        tiles[3].metric(
            "Without random slips",
            fmt.money(var.deterministic, currency, compact=True),
            border=True,
            help="The plan's value at risk (with the scenario's changes when applied)",
        )
        left, right = st.columns(2, gap="large")
        with left:
            kpi_ids = sim.kpis["kpi_id"].to_list()
            kpi_names = dict(zip(kpi_ids, sim.kpis["name"].to_list(), strict=False))
            kpi_meet = dict(zip(kpi_ids, sim.kpis["p_meet"].to_list(), strict=False))
            if state.get("wi_mc_kpi") not in kpi_ids and kpi_ids:
                state["wi_mc_kpi"] = kpi_ids[0]
            if kpi_ids:
                kpi_id = st.selectbox(
                    "KPI",
                    kpi_ids,
                    key="wi_mc_kpi",
                    format_func=lambda k: f"{kpi_names[k]} ({k}): meets its target in {kpi_meet[k]:.0%} of runs",
                    help="Least likely to meet its target first",
                )
                fan = whatif.fan_spec(shown_at, shown_draft, shown_runs, shown_seed, shown_override, kpi_id)
                export.chart(fan, f"Monte Carlo {kpi_names[kpi_id]}", key="wi_fan")
        with right:
            export.chart(sim.histogram_chart, "Monte Carlo value at risk", key="wi_histogram")
        st.markdown("**KPIs: chance of meeting the target**")
        st.dataframe(
            sim.kpis,
            column_order=["kpi_id", "name", "unit", "target_value", "projected", "p_meet", "p50", "p80", "p95"],
            column_config={
                **fmt.columns(currency),
                "name": st.column_config.TextColumn("KPI name"),
                "unit": st.column_config.TextColumn("Unit", width="small"),
                "target_value": st.column_config.NumberColumn("Target", format="%.4g"),
                "projected": st.column_config.NumberColumn("Without random slips", format="%.4g"),
                "p_meet": st.column_config.ProgressColumn(
                    "Chance to meet", format="percent", min_value=0, max_value=1, color=RAG_COLOURS["Green"]
                ),
                "p50": st.column_config.NumberColumn("P50", format="%.4g", help="Reached or beaten in half the runs"),
                "p80": st.column_config.NumberColumn("P80", format="%.4g", help="Reached or beaten in 80% of runs"),
                "p95": st.column_config.NumberColumn("P95", format="%.4g", help="Reached or beaten in 95% of runs"),
            },
            hide_index=True,
            placeholder="–",
            key="wi_mc_kpis",
            height=fmt.table_height(sim.kpis.height, 320),
        )
        st.markdown("**Most critical milestones**: share of runs in which the milestone hurts a KPI that misses")
        st.dataframe(
            sim.criticality,
            column_order=["milestone_id", "name", "project_id", "criticality", "source"],
            column_config={
                **fmt.columns(currency),
                "name": st.column_config.TextColumn("Milestone name"),
                "source": st.column_config.TextColumn("Slips drawn from"),
                "criticality": st.column_config.ProgressColumn(
                    "Critical in", format="percent", min_value=0, max_value=1, color=RAG_COLOURS["Red"]
                ),
            },
            hide_index=True,
            placeholder="–",
            key="wi_mc_critical",
        )
