"""Decision support on the pages: the best use of a budget, reporting credibility, the board deck.

Page sections live here so the pages stay a line each; every frame comes from the engine
(:mod:`kpi_engine.whatif.optimize`, :mod:`kpi_engine.engine.credibility`,
:mod:`kpi_engine.output.deck`), and text from data is shown in dataframes or escaped.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import polars as pl
import streamlit as st

from kpi_engine.core.errors import KpiError
from kpi_engine.core.schema import conform
from kpi_engine.engine import views
from kpi_engine.whatif.optimize import Optimum, best_workarounds, candidate_values
from ui import access, charts, context, errors, loaders, whatif
from ui import format as fmt

At = tuple[str, int, loaders.SettingsKey]
#: Candidate workarounds added on the What-if page: (milestone_id, name, start, cost, fraction).
ADDED = "bu_added"
BUDGET = "bu_budget"
#: Session-state key of the "Add a candidate workaround" expander (open or not).
ADDER = "bu_adder"
SCENARIO_NAME = "bu_scenario_name"
#: Most frontier points drawn (the frontier of thousands of candidates has tens of thousands).
FRONTIER_POINTS = 1_500

Added = tuple[tuple[str, str, date, float, float], ...]


# ------------------------------------------------------------------ best use of a budget
@loaders.shared(max_entries=16)
def candidates(at: At, added: Added) -> pl.DataFrame:
    """The snapshot's candidate workarounds plus those added on the page, valued (shared, read-only)."""
    base = loaders.result(*at).portfolio
    table = base.mitigations
    if added:
        extra = conform(
            "mitigations",
            pl.DataFrame(
                added,
                schema={
                    "milestone_id": pl.String,
                    "name": pl.String,
                    "start_date": pl.Date,
                    "cost": pl.Float64,
                    "fraction": pl.Float64,
                },
                orient="row",
            ),
        )
        # a page candidate with the name of a stored one on the same milestone replaces it
        table = pl.concat([table.join(extra, on=["milestone_id", "name"], how="anti"), extra])
    return candidate_values(replace(base, mitigations=table), whatif.schedule(*at))


@loaders.shared(max_entries=32)
def optimum(at: At, added: Added, budget: float) -> Optimum:
    """The best set for ``budget`` among :func:`candidates` (shared, read-only)."""
    return best_workarounds(candidates(at, added), budget)


def _add_candidate(milestone_labels: dict[str, str]) -> None:
    state = st.session_state
    name = str(state.get("bu_new_name", "")).strip()
    milestone_id = state.get("bu_new_milestone")
    if not name or milestone_id is None:
        whatif.notify("warning", "Name the workaround and pick its milestone to add it.")
        return
    added = [c for c in state.get(ADDED, []) if (c[0], c[1]) != (milestone_id, name)]
    added.append(
        (milestone_id, name, state["bu_new_start"], float(state["bu_new_cost"]), int(state["bu_new_percent"]) / 100)
    )
    state[ADDED] = added


def _clear_added() -> None:
    st.session_state[ADDED] = []


def _send_to_scenario(snapshot_id: int, as_of: date, chosen: Optimum) -> None:
    """Save the chosen set as a what-if scenario of workarounds (one click for finance)."""

    def save() -> str:
        name = str(st.session_state.get(SCENARIO_NAME, "")).strip() or f"Best use of {chosen.budget:,.0f}"
        spec = chosen.to_scenario(name, as_of).to_dict()
        loaders.store().save_scenario(name, spec, snapshot_id, author=whatif.author())
        return f"Saved the {chosen.chosen.height} chosen workaround(s) as scenario '{name}'."

    whatif.guarded(save)


def _candidate_form(ctx: context.Context, milestone_labels: dict[str, str], added: Added) -> None:
    """The form that adds a candidate workaround, and the button that forgets those added."""
    if not milestone_labels:
        st.caption("There is no open milestone to help.")
    else:
        with st.form("bu_new", border=False):
            left, right = st.columns(2)
            left.selectbox(
                "Milestone",
                list(milestone_labels),
                format_func=lambda m: milestone_labels.get(m, m),
                key="bu_new_milestone",
            )
            right.text_input("Name", key="bu_new_name", placeholder="e.g. Vendor war room")
            a, b, c = st.columns(3)
            a.date_input("Starts", value=ctx.as_of, min_value=ctx.as_of, key="bu_new_start")
            b.number_input(f"Cost ({ctx.currency})", min_value=0.0, value=50_000.0, step=5_000.0, key="bu_new_cost")
            c.slider("Share of value at risk recovered (%)", 0, 100, 60, key="bu_new_percent")
            st.form_submit_button(
                "Add candidate", on_click=_add_candidate, args=(milestone_labels,), icon=":material/add:"
            )
    if added:
        st.button("Forget the candidates added here", key="bu_clear", on_click=_clear_added)


def budget_section(ctx: context.Context, milestone_labels: dict[str, str]) -> None:
    """The What-if page's "Best use of a budget": candidates, the best set, the frontier, save as scenario."""
    at, currency, state = ctx.at, ctx.currency, st.session_state
    st.subheader("Best use of a budget")
    st.caption(
        "Candidate workarounds come from the mitigations sheet of the upload, and from those you add here. "
        "At most one per milestone is chosen so that the net value (recovered minus cost) is as large as "
        "possible within the budget; the answer is exact, and among equal totals the cheaper set wins."
    )
    added: Added = tuple(state.get(ADDED, []))
    if BUDGET not in state:
        state[BUDGET] = float(ctx.settings.workaround_budget)
    # drawn only once opened: its milestone list holds every open milestone (100,000 choices on a
    # large portfolio), which every rerun of the page would otherwise send
    adder = st.expander("Add a candidate workaround", icon=":material/add_circle:", key=ADDER, on_change="rerun")
    if adder.open:
        with adder:
            _candidate_form(ctx, milestone_labels, added)

    try:
        table = candidates(at, added)
    except KpiError as err:
        errors.show_error(err)
        return
    if table.height == 0:
        st.info(
            "No candidate workarounds yet: upload a mitigations sheet (milestone_id, name, start_date, cost, "
            "fraction) or add one above.",
            icon=":material/lightbulb:",
        )
        return
    budget = st.number_input(
        f"Budget ({currency})",
        min_value=0.0,
        step=10_000.0,
        format="%.0f",
        key=BUDGET,
        help="The most the chosen workarounds may cost together; the board deck uses the workaround_budget setting",
    )
    best = optimum(at, added, float(budget))
    tiles = st.columns(4)
    tiles[0].metric("Chosen", f"{best.chosen.height} of {table.height}", border=True)
    tiles[1].metric("Cost", fmt.money(best.total_cost, currency), border=True)
    tiles[2].metric("Recovered", fmt.money(best.total_recovered, currency), border=True)
    tiles[3].metric("Net value", fmt.money(best.total_net, currency), border=True)
    if not best.exact:
        st.caption(f"Costs were rounded up to steps of {fmt.money(best.step, currency)} to keep the search small.")

    left, right = st.columns([3, 2], gap="large")
    money_cols = {
        "milestone_id": st.column_config.TextColumn("Milestone"),
        "name": st.column_config.TextColumn("Workaround"),
        "start_date": st.column_config.DateColumn("Starts", format="YYYY-MM-DD"),
        "cost": fmt.money_column("Cost", currency),
        "fraction": st.column_config.NumberColumn("Share recovered", format="percent"),
        "recovered_value": fmt.money_column("Recovered", currency),
        "net_value": fmt.money_column("Net", currency, help="Recovered minus cost"),
        "chosen": st.column_config.CheckboxColumn("Chosen"),
    }
    with left:
        if best.chosen.height:
            st.dataframe(
                best.chosen,
                column_order=["milestone_id", "name", "cost", "recovered_value", "net_value"],
                column_config=money_cols,
                hide_index=True,
                key="bu_chosen",
            )
        else:
            st.caption("Nothing is chosen: no candidate within this budget recovers more than it costs.")
        with st.expander(f"Every candidate ({table.height})"):
            chosen_keys = best.chosen.select("milestone_id", "name").with_columns(pl.lit(True).alias("chosen"))
            st.dataframe(
                table.join(chosen_keys, on=["milestone_id", "name"], how="left").with_columns(
                    pl.col("chosen").fill_null(False)
                ),
                column_config=money_cols,
                hide_index=True,
                key="bu_all",
                height=fmt.table_height(table.height, 360),
            )
    with right:
        st.altair_chart(
            charts.best_net_frontier(views.thin(best.frontier, FRONTIER_POINTS), best.budget, currency),
            width="stretch",
        )
    row = st.container(horizontal=True, gap="small", vertical_alignment="bottom")
    row.text_input("Scenario name", key=SCENARIO_NAME, placeholder=f"Best use of {budget:,.0f}")
    may_save = access.session_access().can_save_scenarios
    row.button(
        "Save the chosen set as a scenario",
        key="bu_save",
        type="primary",
        on_click=_send_to_scenario,
        args=(ctx.snapshot_id, ctx.as_of, best),
        disabled=best.chosen.height == 0 or not may_save,
        icon=":material/save:",
        help="Saves the chosen workarounds as a what-if scenario, to open, compare and simulate",
    )


# ------------------------------------------------------------------ reporting credibility
def reports(ctx: context.Context) -> pl.DataFrame:
    """The status reports of every snapshot up to the one shown."""
    return loaders.report_history(*ctx.at)


def credibility_section(ctx: context.Context) -> None:
    """The Governance page's reporting credibility: a ranked table and each person's watermelon weeks."""
    st.subheader("Reporting credibility")
    history = reports(ctx)
    weeks = history["as_of"].n_unique()
    st.caption(
        f"Over {weeks} weekly snapshot(s) up to {fmt.day(ctx.as_of)}: how many status reports each milestone owner gave "
        "on open milestones, and how many of them were better than the status computed from the dates "
        "(watermelons). Credibility = 1 - watermelons / reports. These are facts about reports, not "
        "judgements about people: a report can be better than computed because a forecast was not updated."
    )
    if history.height == 0:
        st.info("No status reports yet on open milestones.", icon=":material/info:")
        return
    by = st.segmented_control(
        "Per", ["person", "project", "program"], default="person", key="cred_by", format_func=str.capitalize
    )
    table = loaders.credibility(*ctx.at, by or "person")
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.dataframe(
            table,
            column_config={
                "person": st.column_config.TextColumn("Milestone owner"),
                "project_id": st.column_config.TextColumn("Project"),
                "project_name": st.column_config.TextColumn("Project name"),
                "program": st.column_config.TextColumn("Program"),
                "reports": st.column_config.NumberColumn("Reports", format="%d"),
                "watermelons": st.column_config.NumberColumn("Better than computed", format="%d"),
                "credibility": st.column_config.ProgressColumn(
                    "Credibility", min_value=0.0, max_value=1.0, format="%.2f"
                ),
            },
            hide_index=True,
            placeholder="–",
            key="cred_table",
            height=fmt.table_height(table.height, 380),
        )
    with right:
        per_week = loaders.watermelon_weeks(*ctx.at)
        shown = loaders.credibility(*ctx.at, "person").filter(pl.col("watermelons") > 0).head(12)["person"]
        if shown.len():
            st.caption("Reports better than computed, per snapshot (owners with at least one).")
            st.altair_chart(
                charts.watermelon_weeks(per_week.filter(pl.col("person").is_in(shown.implode())), shown.to_list())
            )
        else:
            st.caption("No report was better than computed in these snapshots.")


def reporting_sentences(ctx: context.Context, owner: str | None) -> list[str]:
    """Sentences about the recent reports of each person an owner names (for the drill-down)."""
    return loaders.reporting_sentences(*ctx.at, owner)


# ------------------------------------------------------------------ board deck
def deck_download(ctx: context.Context) -> None:
    """A button that downloads the board deck (.pptx) of the shown snapshot, built when clicked."""

    def build() -> bytes:
        from kpi_engine.output.deck import board_deck

        data, _ = board_deck(ctx.result())
        return data

    st.download_button(
        "Board deck (.pptx)",
        data=build,
        file_name=f"board-{ctx.as_of.isoformat()}.pptx",
        mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
        key="pulse_deck",
        on_click="ignore",
        icon=":material/slideshow:",
        help="16:9 slides: the pulse, top exceptions, the slip heatmap, KPI trajectories and, when the "
        "workaround_budget setting is above 0, the best workarounds for it",
    )
