"""My items: what is escalated to me, what I decided, what is overdue, and the Decide action."""

from __future__ import annotations

import streamlit as st

from kpi_engine.loop import views as loop_views
from ui import access, context, decide, loaders
from ui import format as fmt

ctx = context.require()
state = loaders.loop(*ctx.at)
currency = ctx.currency

st.title("My items")
st.caption(context.caption(ctx) + " · what needs your decision, worst first")

me = access.session_access()
people = loop_views.people_to_pick(state.status, state.people)
if me.open_mode:
    if st.session_state.get("my_person") not in people:
        st.session_state.pop("my_person", None)
    person = st.selectbox(
        "Show the items of",
        people,
        index=None,
        key="my_person",
        placeholder="Choose a person",
        help="Sign-in is off, so choose whose items to see. With sign-in on, this page shows your own.",
    )
    if person is None:
        st.info("Choose a person to see what is escalated to them.", icon=":material/person_search:")
        st.stop()
else:
    person = loop_views.person_for_email(state.people, me.email)
    if person is None:
        st.warning(
            fmt.plain(
                f"Your address {me.email} is not in the people sheet, so the dashboard does not know which items "
                "are yours. Ask the PMO to add you to the people sheet."
            ),
            icon=":material/person_off:",
        )
        st.stop()
    st.html(f"<div>Signed in as <b>{fmt.escape(person)}</b></div>")

mine = loop_views.my_items(state.status, person)
late = loop_views.overdue(state.status, person)
decided = loop_views.my_decisions(state.decisions, state.status, person)

counts = st.columns(4)
counts[0].metric("Escalated to me", mine.height, border=True)
counts[1].metric("No decision yet", int(mine["decision"].is_null().sum()), border=True)
counts[2].metric("Overdue", late.height, border=True)
counts[3].metric(
    "Value at risk", fmt.money(float(mine["value_at_risk"].sum() or 0.0), currency, compact=True), border=True
)

columns = fmt.columns(currency)
st.subheader(f"Escalated to me ({mine.height})")
if mine.height == 0:
    st.success("Nothing is escalated to this person in this snapshot.", icon=":material/check_circle:")
else:
    labels = loop_views.item_labels(mine)
    st.dataframe(
        fmt.as_tags(mine.with_columns(labels)),
        column_order=[
            "item",
            "computed_status",
            "value_at_risk",
            "escalation_level",
            "escalate_role",
            "decision",
            "decision_due",
            "decision_overdue",
            "first_notified",
            "why",
        ],
        column_config={**columns, "item": st.column_config.TextColumn("Item", width="large")},
        hide_index=True,
        placeholder="–",
        key="my_table",
        height=fmt.table_height(mine.height, 360),
    )

st.subheader(f"Overdue ({late.height})")
if late.height == 0:
    st.caption("No decision of this person, or on their items, is past its due date.")
else:
    st.dataframe(
        late.with_columns(loop_views.item_labels(late)),
        column_order=["item", "decision", "decision_by", "decision_due", "escalate_to", "value_at_risk"],
        column_config={**columns, "item": st.column_config.TextColumn("Item", width="medium")},
        hide_index=True,
        placeholder="–",
        key="my_overdue",
    )

st.subheader(f"Decided by me ({decided.height})")
if decided.height == 0:
    st.caption("No decisions recorded by this person yet.")
else:
    st.dataframe(
        decided.with_columns(loop_views.item_labels(decided)),
        column_order=["recorded_at", "item", "decision", "due", "note", "open"],
        column_config={
            **columns,
            "item": st.column_config.TextColumn("Item", width="medium"),
            "recorded_at": st.column_config.DatetimeColumn("Recorded", format="YYYY-MM-DD HH:mm"),
        },
        hide_index=True,
        placeholder="–",
        key="my_decided",
    )

if mine.height:
    st.divider()
    st.subheader("Decide")
    titles = loop_views.item_labels(mine).to_list()
    if not isinstance(st.session_state.get("my_pick", 0), int) or st.session_state.get("my_pick", 0) >= mine.height:
        st.session_state["my_pick"] = 0
    pick = st.selectbox("Item", range(mine.height), format_func=lambda i: titles[i], key="my_pick")
    item = mine.row(pick, named=True)
    st.html(f"<div style='font-size:1.0rem;line-height:1.5'>{fmt.escape(item['why'])}</div>")
    decide.status_line(item)
    decide.history(ctx, item, key="my")
    decide.form(ctx, item, key="my_decide")
