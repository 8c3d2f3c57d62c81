"""History: every snapshot with what changed in it, and the audit trail of uploaded files."""

from __future__ import annotations

import streamlit as st

from kpi_engine.engine import views
from kpi_engine.loop import views as loop_views
from ui import context, loaders, pages_mode
from ui import format as fmt

pages_mode.frame_guard()
path = loaders.db_path()
st.title("History")
snaps = loaders.snapshots(path)
if snaps.height == 0:
    context.require()

ctx = context.current()
columns = fmt.columns(ctx.currency if ctx is not None else "USD")
table = views.snapshot_table(snaps)
st.subheader(f"Snapshots ({table.height})")
st.dataframe(
    table,
    column_order=[
        "snapshot_id",
        "as_of",
        "created_at",
        "author",
        "source_note",
        "files",
        "projects",
        "milestones",
        "tasks",
        "kpis",
        "links",
    ],
    column_config={
        **columns,
        "created_at": st.column_config.DatetimeColumn("Uploaded", format="YYYY-MM-DD HH:mm"),
        "author": st.column_config.TextColumn("By"),
        "source_note": st.column_config.TextColumn("Source"),
        "files": st.column_config.ListColumn("Files"),
        "projects": st.column_config.NumberColumn("Projects", format="%d"),
        "milestones": st.column_config.NumberColumn("Milestones", format="%d"),
        "tasks": st.column_config.NumberColumn("Tasks", format="%d"),
        "kpis": st.column_config.NumberColumn("KPIs", format="%d"),
        "links": st.column_config.NumberColumn("Links", format="%d"),
    },
    hide_index=True,
    placeholder="–",
    key="hist_snapshots",
    height=fmt.table_height(table.height, 330),
)

st.subheader("What changed")
ids = table["snapshot_id"].to_list()
dates = dict(zip(ids, table["as_of"].to_list(), strict=False))
if st.session_state.get("hist_pick") not in ids:
    st.session_state["hist_pick"] = ctx.snapshot_id if ctx is not None else ids[0]
chosen = st.selectbox("Snapshot", ids, format_func=lambda i: f"{dates[i]:%d %b %Y} · #{i}", key="hist_pick")
changes = loaders.changes(path, chosen)
if changes.height == 0:
    st.info(
        "Nothing changed in the milestones, KPI actuals or budgets of this snapshot "
        "(the first snapshot has nothing to compare with)."
    )
else:
    counts = views.change_counts(changes)
    st.markdown(" · ".join(f"**{n}** {kind.replace('_', ' ')}" for kind, n in counts.items()))
    st.dataframe(
        changes,
        column_order=["change", "milestone_id", "project_id", "name", "detail", "days"],
        column_config={
            **columns,
            "change": st.column_config.TextColumn("Change"),
            "detail": st.column_config.TextColumn("Detail", width="large"),
            "days": st.column_config.NumberColumn("Days", format="%+d"),
        },
        hide_index=True,
        placeholder="–",
        key="hist_changes",
        height=fmt.table_height(changes.height, 400),
    )

st.subheader("Notification runs")
runs = loop_views.runs_table(loaders.notification_runs(path))
if runs.height == 0:
    st.info(
        "No digests have been sent yet: `python -m kpi_engine notify` sends them (see the README for a weekly job)."
    )
else:
    st.dataframe(
        runs,
        column_order=["run_id", "started_at", "as_of", "messages", "failures", "recipients", "failed"],
        column_config={
            **columns,
            "run_id": st.column_config.NumberColumn("Run", format="%d", width="small"),
            "started_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm"),
            "as_of": st.column_config.DateColumn("Snapshot", format="YYYY-MM-DD"),
            "messages": st.column_config.NumberColumn("Messages sent", format="%d"),
            "failures": st.column_config.NumberColumn("Not sent", format="%d"),
            "recipients": st.column_config.TextColumn("To", width="large"),
            "failed": st.column_config.TextColumn("What failed", width="large"),
        },
        hide_index=True,
        placeholder="–",
        key="hist_runs",
        height=fmt.table_height(runs.height, 300),
    )

st.subheader("Audit trail")
files = loaders.files(path)
if files.height == 0:
    st.info("No uploaded files are recorded.")
    st.stop()
st.dataframe(
    files,
    column_order=["snapshot_id", "as_of", "created_at", "author", "file_name", "source", "size", "sha256"],
    column_config={
        **columns,
        "created_at": st.column_config.DatetimeColumn("Uploaded", format="YYYY-MM-DD HH:mm"),
        "author": st.column_config.TextColumn("By"),
        "file_name": st.column_config.TextColumn("File"),
        "source": st.column_config.TextColumn("Detected as"),
        "size": st.column_config.NumberColumn("Bytes", format="%,d"),
        "sha256": st.column_config.TextColumn("SHA-256", help="Content hash: the same file always has the same hash"),
    },
    hide_index=True,
    placeholder="–",
    key="hist_files",
    height=fmt.table_height(files.height, 360),
)
labels = [
    f"#{s} · {d:%d %b %Y} · {n} · {h[:12]}"
    for s, d, n, h in files.select("snapshot_id", "as_of", "file_name", "sha256").iter_rows()
]
which = st.selectbox("Original file", range(files.height), format_func=lambda i: labels[i], key="hist_file")
name, sha = files["file_name"][which], files["sha256"][which]
st.download_button(
    f"Download {fmt.plain(name)}",
    data=lambda: loaders.store().file_bytes(sha),
    file_name=name,
    on_click="ignore",
    icon=":material/download:",
    key="hist_download",
)
