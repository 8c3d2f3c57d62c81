"""Settings: the thresholds and the currency every figure uses, and how digests go out."""

from __future__ import annotations

import streamlit as st

from kpi_engine.core.access import AccessPolicy, Role, parse_role, roles_from_text
from kpi_engine.core.errors import KpiError
from kpi_engine.core.settings import SMTP_SECURITY, Settings
from kpi_engine.loop.delivery import password_is_set
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
    budget = left.number_input(
        f"Workaround budget for the board deck ({current.currency})",
        min_value=0.0,
        step=10_000.0,
        format="%.0f",
        value=float(current.workaround_budget),
        key="set_workaround_budget",
        help="The deck's 'Best use of a budget' slide chooses candidate workarounds within it; 0 leaves the slide out",
    )
    ack = right.number_input(
        "Days an escalated item may wait for a decision before it goes one level up",
        min_value=1,
        max_value=365,
        step=1,
        value=current.ack_days,
        key="set_ack",
        help="ack_days: counted in snapshot dates since the item was first notified",
    )
    saved = st.form_submit_button("Save settings", type="primary", key="set_save")


def updated(base: Settings) -> Settings:
    """Apply the form's values; the day thresholds in the order that keeps Amber <= Red valid."""
    days = [("amber_days", amber), ("red_days", red)]
    if amber > base.red_days:
        days.reverse()  # raise Red first, or the intermediate Amber > Red is refused
    new = base
    changes = [
        *days,
        ("escalation_value", escalation),
        ("currency", currency.strip().upper()),
        ("workaround_budget", budget),
        ("ack_days", ack),
    ]
    for name, value in changes:
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
st.subheader("Digests")
st.caption(
    "How the weekly notification run (python -m kpi_engine notify) reaches people. The command line and the "
    "KPI_SMTP_* environment variables override these."
)
with st.form("notify_form", border=True):
    left, right = st.columns(2)
    pmo_email = left.text_input(
        "PMO address",
        value=current.pmo_email,
        key="set_pmo_email",
        help="Digests of people with no e-mail address in the people sheet go here",
    )
    dashboard_url = right.text_input(
        "Dashboard address", value=current.dashboard_url, key="set_dashboard_url", help="For links to each item"
    )
    smtp_host = left.text_input("Mail server", value=current.smtp_host, key="set_smtp_host")
    smtp_port = right.number_input(
        "Port", min_value=1, max_value=65535, step=1, value=current.smtp_port, key="set_smtp_port"
    )
    smtp_security = left.selectbox(
        "Encryption",
        SMTP_SECURITY,
        index=SMTP_SECURITY.index(current.smtp_security),
        key="set_smtp_security",
        help="auto: STARTTLS when the server offers it (never a password in clear); starttls: required; "
        "ssl: encrypted from the start (port 465); none: never",
    )
    smtp_from = right.text_input("Sender address", value=current.smtp_from, key="set_smtp_from")
    smtp_user = left.text_input("Login name", value=current.smtp_user, key="set_smtp_user")
    chat_webhook = right.text_input(
        "Chat channel webhook (Slack or Teams)",
        value=current.chat_webhook,
        key="set_chat_webhook",
        help="For everyone without a webhook of their own in the people sheet",
    )
    saved_notify = st.form_submit_button(
        "Save digest settings", key="set_notify_save", disabled=not access.session_access().can_upload
    )
if password_is_set():
    st.caption(":material/key: A mail password is set in KPI_SMTP_PASSWORD (it is never stored or shown).")
else:
    st.caption(
        ":material/key_off: No mail password is set: put it in the KPI_SMTP_PASSWORD environment variable of the "
        "scheduled job; it is never stored in the database."
    )
if saved_notify:
    values = {
        "pmo_email": pmo_email,
        "dashboard_url": dashboard_url,
        "smtp_host": smtp_host,
        "smtp_port": smtp_port,
        "smtp_security": smtp_security,
        "smtp_from": smtp_from,
        "smtp_user": smtp_user,
        "chat_webhook": chat_webhook,
    }
    try:
        new = current
        for name, value in values.items():
            new = new.with_value(name, value)
    except KpiError as err:
        errors.show_error(err)
    else:
        store.save_settings(new)
        loaders.clear()
        st.success("Saved the digest settings.", icon=":material/check_circle:")

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
        new_policy = AccessPolicy(roles_from_text(lines.splitlines()), parse_role(default_role))
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
