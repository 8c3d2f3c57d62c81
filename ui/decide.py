"""The Decide action of the escalation loop, shared by the Exceptions drill-down and My items.

Where the item stands, its history (notified, decided, re-escalated, closed) and a form to
record a decision. With sign-in on, the signed-in person decides in their own name and
only when the item is escalated to them or they are PMO; without sign-in the form asks for
a name. The checks are the engine's (:mod:`kpi_engine.loop.decisions`): a refused decision
shows why and stores nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st

from kpi_engine.core.access import Role
from kpi_engine.core.errors import KpiError
from kpi_engine.loop.decisions import DecisionRequest, decider_problem, workaround_value
from kpi_engine.loop.log import DECISIONS, NEEDS_DUE
from kpi_engine.loop.views import history_of, item_summary, person_for_email
from kpi_engine.output.digest import WHAT_TO_DO
from ui import access, loaders
from ui import format as fmt
from ui.context import Context

#: Session-state key of the message shown after a decision was stored.
DONE_KEY = "decide_done"


def status_line(item: dict[str, Any]) -> None:
    """Where the item stands: level, person, decision (text from the data shown as text)."""
    st.html(f"<div style='font-size:0.95rem'>{fmt.escape(item_summary(item))}</div>")


def history(ctx: Context, item: dict[str, Any], key: str) -> None:
    """The item's history as a table (newest last)."""
    events = history_of(
        loaders.loop_history(*ctx.at),
        item["milestone_id"],
        item["kpi_id"],
        item["finding"],
        item.get("finding_project"),
    ).select("as_of", "event", "who", "escalation_level", "detail")
    if events.height == 0:
        st.caption("Nothing has happened to this item yet: it has not been notified or decided.")
        return
    st.dataframe(
        events,
        column_config={
            **fmt.columns(ctx.currency),
            "as_of": st.column_config.DateColumn("Snapshot", format="YYYY-MM-DD"),
        },
        hide_index=True,
        placeholder="–",
        key=f"{key}_history",
        height=fmt.table_height(events.height, 280),
    )


def _decider(item: dict[str, Any], key: str) -> tuple[str | None, str | None]:
    """(name the decision is recorded under, why they may not decide) for the person using the page."""
    me = access.session_access()
    if me.open_mode:
        name = st.text_input(
            "Your name",
            key=f"{key}_by",
            placeholder=f"Who decides, e.g. {item.get('escalate_to') or 'your name'}",
            help="Sign-in is off, so say who decides; it is kept with the decision.",
        )
        return name.strip() or None, None
    path = loaders.db_path()
    snapshot = loaders.snapshots(path)["snapshot_id"].to_list()[-1]
    people = loaders.loop(path, snapshot, loaders.settings_key(path)).people
    is_pmo = Role.PMO in me.roles
    known = person_for_email(people, me.email) or (me.email if is_pmo else None)
    if known is None:
        return None, (
            f"Your address {me.email} is not in the people sheet, so it is not known whom you decide for; "
            "ask the PMO to add you."
        )
    return known, decider_problem(item, known, is_pmo=is_pmo)


def form(ctx: Context, item: dict[str, Any], key: str) -> None:
    """The Decide form for one open item of the latest snapshot."""
    done = st.session_state.pop(DONE_KEY, None)
    if done:
        st.success(fmt.plain(done), icon=":material/check_circle:")
    latest = loaders.snapshots(ctx.path)["snapshot_id"].to_list()[-1]
    if ctx.snapshot_id != latest:
        st.info("Decisions are taken on the latest snapshot: choose it in the sidebar to decide.")
        return
    name, problem = _decider(item, key)
    if problem:
        st.info(fmt.plain(problem), icon=":material/lock:")
        return
    decision = st.segmented_control(
        "Decision",
        DECISIONS,
        key=f"{key}_decision",
        default="recover",
        help=" · ".join(f"{word}: {meaning}" for word, meaning in WHAT_TO_DO.items()),
    )
    decision = decision or "recover"
    st.caption(f"{decision}: {WHAT_TO_DO[decision]}")
    left, right = st.columns(2)
    due = None
    if decision in NEEDS_DUE:
        due = left.date_input("Due", value=ctx.as_of + timedelta(days=14), key=f"{key}_due", format="YYYY-MM-DD")
    note = right.text_input("Note", key=f"{key}_note", placeholder="Why, in a sentence")
    cost = start = fraction = None
    if decision == "workaround":
        if not item["milestone_id"]:
            st.info("A workaround recovers a milestone's value; this item has no milestone.")
            return
        a, b, c = st.columns(3)
        cost = a.number_input(
            f"Cost ({ctx.currency})", min_value=0.0, value=50_000.0, step=10_000.0, format="%.0f", key=f"{key}_cost"
        )
        start = b.date_input("From", value=ctx.as_of, key=f"{key}_start", format="YYYY-MM-DD")
        fraction = c.slider("Fraction of the value recovered", 0.0, 1.0, 0.5, 0.05, key=f"{key}_fraction")
        value = workaround_value(ctx.result(), item["milestone_id"], start, cost, fraction)
        st.metric(
            "Net value of the workaround",
            fmt.money(value.net_value, ctx.currency),
            help=f"Recovers {fmt.money(value.recovered_value, ctx.currency)} for {fmt.money(value.cost, ctx.currency)}, "
            "as the What-if page computes it",
            border=True,
        )
    if not st.button("Record decision", type="primary", key=f"{key}_save", icon=":material/gavel:"):
        return
    request = DecisionRequest(
        milestone_id=item["milestone_id"],
        kpi_id=item["kpi_id"],
        finding=item["finding"],
        project_id=item.get("finding_project"),
        decision=decision,
        by=name or "",
        due=due,
        note=note,
        cost=cost,
        start=start,
        fraction=fraction,
    )
    try:
        recorded = loaders.decide(ctx.path, request)
    except KpiError as err:
        st.error(fmt.plain(str(err)), icon=":material/error:")
        return
    due_text = f", due {due:%Y-%m-%d}" if due else ""
    st.session_state[DONE_KEY] = (
        f"Recorded: {request.by} decided {decision}{due_text} (decision {recorded.decision_id})."
    )
    st.rerun()
