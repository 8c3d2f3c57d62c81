"""Governance: the gaps that make the plan unreliable, each with who should fix it."""

from __future__ import annotations

import streamlit as st

from kpi_engine.engine import views
from ui import context, decision, export, loaders
from ui import format as fmt

ctx = context.require()

st.title("Governance")
st.caption(context.caption(ctx))

SECTIONS = {
    "Ownership problems": "Every milestone and KPI needs exactly one accountable person.",
    "Milestones tied to no KPI": "A wish list, not a plan: link each to the KPI it moves, or stop it.",
    "KPIs no work drives": "No milestone is linked to these KPIs: they will move only by luck.",
    "Dangling ids": "Links, tasks or dependencies naming a milestone or KPI that does not exist; "
    "the PMO should correct the id.",
}

#: Findings listed as sentences per section; the rest are in the table and the downloads.
LISTED = 15

findings, sections = loaders.governance(*ctx.at)
counts = st.columns(len(SECTIONS))
for cell, section in zip(counts, SECTIONS, strict=False):
    cell.metric(section, sections[section].height, border=True)

decision.credibility_section(ctx)
st.divider()
# People the escalation loop cannot reach (DOMAIN.md section 6, rule 1): not on the exception
# list itself, so that they are not escalated in turn.
unreachable = loaders.unreachable(*ctx.at)
st.subheader(f"People with no contact details ({unreachable.height})")
st.caption(
    "Named as the person to act on an open item but without an e-mail address in the people sheet: "
    "their digests go to the PMO address of the settings."
)
if unreachable.height == 0:
    st.success("Everyone an item is escalated to can be reached.", icon=":material/check:")
else:
    st.dataframe(
        unreachable,
        column_order=["person", "finding", "items", "value_at_risk", "detail"],
        column_config={
            **fmt.columns(ctx.currency),
            "person": st.column_config.TextColumn("Person"),
            "items": st.column_config.NumberColumn("Open items", format="%d"),
            "detail": st.column_config.TextColumn("What to do", width="large"),
        },
        hide_index=True,
        placeholder="–",
        key="gov_contacts",
        height=fmt.table_height(unreachable.height, 300),
    )
st.divider()

if findings.height == 0:
    st.success(
        "No governance findings: every milestone and KPI has one owner, every milestone drives a KPI, "
        "every KPI is driven, and every id resolves.",
        icon=":material/verified:",
    )
    st.stop()

export.table_downloads(
    findings,
    "governance findings",
    key="gov",
    sheet="Governance",
    column_config={
        **fmt.columns(ctx.currency),
        "escalate_to": st.column_config.TextColumn("Who should fix it"),
        "why": st.column_config.TextColumn("What is wrong"),
    },
    as_of=ctx.as_of,
)
for section, rows in sections.items():
    st.subheader(f"{section} ({rows.height})")
    st.caption(SECTIONS.get(section, ""))
    if rows.height == 0:
        st.success("None.", icon=":material/check:")
        continue
    listed = rows.head(LISTED)
    items = "".join(f"<li style='margin-bottom:0.35rem'>{fmt.escape(why)}</li>" for why in listed["why"].to_list())
    more = (
        f"<p>… and {rows.height - LISTED} more: see the table or download the list.</p>" if rows.height > LISTED else ""
    )
    st.html(f"<ul style='font-size:0.95rem;line-height:1.45;padding-left:1.2rem'>{items}</ul>{more}")
    # the table is drawn once its expander is opened (every rerun would send it to the browser),
    # and holds the first rows only; the downloads hold every row
    as_table = st.expander("As a table", key=f"gov_open_{section}", on_change="rerun")
    if not as_table.open:
        continue
    with as_table:
        shown = rows.head(views.TABLE_ROWS)
        st.dataframe(
            shown,
            column_order=["escalate_to", "escalate_role", "finding", "milestone_id", "kpi_id", "why"],
            column_config={
                **fmt.columns(ctx.currency),
                "escalate_to": st.column_config.TextColumn("Who should fix it"),
                "why": st.column_config.TextColumn("What is wrong", width="large"),
            },
            hide_index=True,
            placeholder="–",
            key=f"gov_{section}",
            height=fmt.table_height(shown.height, 390),
        )
        if shown.height < rows.height:
            st.caption(
                f"Showing the first {shown.height:,} of {rows.height:,}: the downloads above hold every finding."
            )
