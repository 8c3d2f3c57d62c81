"""Settings: the thresholds and the currency every figure uses."""

from __future__ import annotations

import streamlit as st

from kpi_engine.core.access import AccessPolicy, Role, roles_from_text
from kpi_engine.core.errors import KpiError
from kpi_engine.core.settings import Settings
from ui import access, errors, loaders, pages_mode
from ui import format as fmt

pages_mode.frame_guard()
st.title("Settings")
st.caption("Thresholds and currency apply to every snapshot and every page. They are stored with the data.")

store = loaders.store()
current = store.settings()

with st.form("settings_form", border=True):
    left, right = st.columns(2)
    amber = left.number_input(
        "Amber when late by more than (days)",
        min_value=0,
        max_value=3650,
        step=1,
        value=current.amber_days,
        key="set_amber",
    )
    red = right.number_input(
        "Red when late by more than (days)", min_value=0, max_value=3650, step=1, value=current.red_days, key="set_red"
    )
    escalation = left.number_input(
        f"Escalate to the objective owner from a value at risk of ({current.currency})",
        min_value=0.0,
        step=10_000.0,
        format="%.0f",
        value=float(current.escalation_value),
        key="set_escalation",
    )
    currency = right.text_input(
        "Currency code of money figures",
        value=current.currency,
        max_chars=8,
        key="set_currency",
        help="Shown next to every money figure, e.g. USD, EUR, GBP",
    )
    saved = st.form_submit_button("Save settings", type="primary", key="set_save")


def updated(base: Settings) -> Settings:
    """Apply the form's values; the day thresholds in the order that keeps Amber <= Red valid."""
    days = [("amber_days", amber), ("red_days", red)]
    if amber > base.red_days:
        days.reverse()  # raise Red first, or the intermediate Amber > Red is refused
    new = base
    for name, value in [*days, ("escalation_value", escalation), ("currency", currency.strip().upper())]:
        new = new.with_value(name, value)
    return new


if saved:
    try:
        new = updated(current)
    except KpiError as err:
        errors.show_error(err)
    else:
        if new == current:
            st.info("Nothing changed.")
        else:
            store.save_settings(new)
            loaders.clear()
            st.success(
                f"Saved: Amber after {new.amber_days} days, Red after {new.red_days} days, escalation from "
                f"{new.escalation_value:,.0f} {fmt.plain(new.currency)}. Every page now uses them.",
                icon=":material/check_circle:",
            )

st.divider()
st.markdown(
    "- **Amber / Red**: a milestone finishing more than this many days after its baseline finish.\n"
    "- A milestone is also **Red** when its slip costs a KPI that misses its target.\n"
    "- **Escalation value**: a (milestone, KPI) pair with at least this much value at risk goes to the owner of "
    "the KPI's objective."
)
st.subheader("Who may do what")
st.caption(
    "With sign-in configured, people get a role from their e-mail address: only PMO may upload, only "
    "finance and PMO may save scenarios, executives read."
)
me = access.session_access()
if me.open_mode:
    st.info(me.notice or "", icon=":material/lock_open:")
policy = store.access_policy()
roles = [role.value for role in Role]
with st.form("access_form", border=True):
    lines = st.text_area(
        "Roles by address, one per line: `address = role` (roles: executive, pmo, finance)",
        value="\n".join(f"{address} = {role}" for address, role in policy.to_dict()["roles"].items()),
        placeholder="ana@example.com = pmo\n*@finance.example.com = finance",
        key="acc_lines",
        height=140,
    )
    default_role = st.selectbox(
        "Role of anyone else who signs in", roles, index=roles.index(policy.default_role.value), key="acc_default"
    )
    saved_access = st.form_submit_button("Save roles", key="acc_save", disabled=not (me.open_mode or me.can_upload))
if saved_access:
    try:
        new_policy = AccessPolicy(roles_from_text(lines.splitlines()), default_role)
    except KpiError as err:
        errors.show_error(err)
    else:
        store.save_access_policy(new_policy)
        st.success(
            f"Saved roles for {len(new_policy.roles)} address(es); anyone else signs in as "
            f"{new_policy.default_role.value}.",
            icon=":material/check_circle:",
        )
st.caption(f"Database: `{loaders.db_path()}`")
