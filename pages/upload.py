"""Upload: a week's exports in, checked, previewed, then committed as one snapshot."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import streamlit as st

from kpi_engine.core.schema import TABLES, required_columns
from kpi_engine.engine import views
from kpi_engine.ingest import ColumnMapping, SourceFile, template_workbook
from kpi_engine.store.identity import export_projects
from ui import access, context, errors, loaders, pages_mode
from ui import format as fmt

SOURCES = ["auto", "template", "jira", "msproject", "smartsheet", "asana", "p6"]
AS_MATCHED = "(as the export names it)"
FILE_TYPES = ["csv", "tsv", "txt", "xlsx", "xlsm", "xls", "xlsb", "xml", "mpp", "mpt", "xer"]
NOT_MAPPED = "(not in the file)"

pages_mode.frame_guard()
if not access.session_access().can_upload:
    st.title("Upload")
    st.warning(
        "Only the PMO may upload exports. Ask a PMO colleague, or an administrator to give you the PMO role.",
        icon=":material/lock:",
    )
    st.stop()
store = loaders.store()
path = loaders.db_path()
currency = store.settings().currency

st.title("Upload")
st.caption(
    "Drag a week's exports here at once: the portfolio workbook or its CSV sheets, exports from "
    "Jira, MS Project, Smartsheet or Asana, or plan files (MS Project .xml or .mpp, Primavera P6 .xer). "
    "Nothing is stored until you commit, and a file with problems is never half-loaded."
)

done = st.session_state.pop("upload_done", None)
if done:
    st.success(fmt.plain(done, limit=None), icon=":material/check_circle:")

top = st.container(horizontal=True, gap="small")
top.download_button(
    "Blank template workbook",
    data=template_workbook,
    file_name="portfolio-template.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    on_click="ignore",
    icon=":material/download:",
    key="up_template",
    help="One sheet per table of the portfolio model, with the expected headers",
)

round_ = st.session_state.setdefault("upload_round", 0)
uploaded = st.file_uploader("Files", type=FILE_TYPES, accept_multiple_files=True, key=f"up_files_{round_}")
settings_row = st.columns([1, 1, 2])
as_of = settings_row[0].date_input(
    "As of",
    value=date.today(),
    key="up_as_of",
    format="YYYY-MM-DD",
    help="The date the figures in these files are true on",
)
source = settings_row[1].selectbox(
    "Source", SOURCES, key="up_source", help="auto recognises each file by its sheet names and headers"
)
author = settings_row[2].text_input("Uploaded by", key="up_author", placeholder="Your name, for the audit trail")

if not uploaded:
    st.info("Add files to check them. Nothing is stored until you press **Commit**.", icon=":material/upload_file:")
    st.stop()

files = [SourceFile(f.name, f.getvalue()) for f in uploaded]
total_bytes = sum(len(f.data) for f in files)

# ------------------------------------------------------------------ detected layout per file
st.subheader("Files")
progress = st.progress(0.0, text="Recognising the files ...") if len(files) > 1 or total_bytes > 2_000_000 else None
detected: list[str] = []
for i, f in enumerate(files, start=1):
    detected.append(loaders.detect(f.sha256, f.name, f))
    if progress is not None:
        progress.progress(i / len(files), text=f"Recognised {i} of {len(files)} files")
if progress is not None:
    progress.empty()
st.dataframe(
    pl.DataFrame({"file": [f.name for f in files], "size": [len(f.data) for f in files], "detected": detected}),
    column_config={
        "file": st.column_config.TextColumn("File"),
        "size": st.column_config.NumberColumn("Bytes", format="%,d"),
        "detected": st.column_config.TextColumn("Detected layout"),
    },
    hide_index=True,
    placeholder="–",
    key="up_detected",
    height=fmt.table_height(len(files), 260),
)

# the check's problems come first, above the mapping editor (filled in once the files are read)
problems_box = st.container()

# ------------------------------------------------------------------ mapping editor
# a file with no headers (an empty one) has nothing to map: its problem is listed above
unknown = [
    f for f, kind in zip(files, detected, strict=False) if kind == "unknown" and loaders.headers(f.sha256, f.name, f)
]
mapping: ColumnMapping | None = None
with st.expander("Column mapping for other layouts", expanded=bool(unknown), icon=":material/table_edit:"):
    if unknown:
        st.warning(
            f"{len(unknown)} file(s) match no known layout: {fmt.plain(', '.join(f.name for f in unknown))}. "
            "Map their columns onto a table of the portfolio model.",
            icon=":material/help:",
        )
    profiles = store.mapping_profiles()
    chosen_profile = st.selectbox("Saved mapping profile", ["(new mapping)", *profiles], key="up_profile")
    base = ColumnMapping.from_dict(store.load_mapping_profile(chosen_profile)) if chosen_profile in profiles else None
    # a file that cannot be read has no headers to map: its problem is listed below the editor
    candidates = unknown or [f for f, kind in zip(files, detected, strict=False) if kind != "unreadable"]
    headers: list[str] = []
    if candidates:
        mapped_file = st.selectbox(
            "Read headers from", range(len(candidates)), format_func=lambda i: candidates[i].name, key="up_map_file"
        )
        headers = loaders.headers(candidates[mapped_file].sha256, candidates[mapped_file].name, candidates[mapped_file])
    else:
        st.caption("None of these files can be read, so there are no headers to map; the problems are listed below.")
    tables = list(TABLES)
    table = st.selectbox(
        "Canonical table",
        tables,
        index=tables.index(base.table if base else "milestones"),
        key=f"up_map_table_{chosen_profile}",
    )
    proposed = base.columns if base is not None and base.table == table else views.guess_mapping(table, headers)
    required = set(required_columns(table))
    options = [NOT_MAPPED, *headers, *(h for h in proposed.values() if h not in headers)]
    grid = st.columns(3)
    columns: dict[str, str] = {}
    for i, column in enumerate(TABLES[table]):
        label = column + (" *" if column in required else "")
        default = proposed.get(column, NOT_MAPPED)
        picked = grid[i % 3].selectbox(
            label, options, index=options.index(default), key=f"up_map_{chosen_profile}_{table}_{column}"
        )
        if picked != NOT_MAPPED:
            columns[column] = picked
    orders = {"decide from the values": None, "day first (dmy)": "dmy", "month first (mdy)": "mdy"}
    order_label = st.radio(
        "Numeric dates like 03/04/2026",
        list(orders),
        horizontal=True,
        key="up_map_order",
        index=list(orders.values()).index(base.date_order) if base else 0,
    )
    use = st.toggle("Read unrecognised files with this mapping", value=bool(unknown), key=f"up_map_use_{bool(unknown)}")
    missing = sorted(required - set(columns))
    if missing:
        st.caption("Required columns without a header: " + ", ".join(missing))
    candidate: ColumnMapping | None
    try:
        candidate = ColumnMapping(table=table, columns=columns, date_order=orders[order_label])
    except Exception as err:
        errors.show_error(err)
        candidate = None
    save_row = st.container(horizontal=True, vertical_alignment="bottom")
    profile_name = save_row.text_input(
        "Profile name",
        value="" if base is None else chosen_profile,
        key="up_profile_name",
        placeholder="e.g. Finance tracker",
    )
    if save_row.button("Save as profile", key="up_profile_save", disabled=candidate is None):
        with errors.guard():
            assert candidate is not None
            store.save_mapping_profile(profile_name, candidate.to_dict())
            st.success(f"Saved the mapping profile '{fmt.plain(profile_name)}'.", icon=":material/save:")
    if use and candidate is not None:
        mapping = candidate

# ------------------------------------------------------------------ check
mapping_json = json.dumps(mapping.to_dict(), sort_keys=True) if mapping is not None else None
key = (tuple((f.name, f.sha256) for f in files), source, mapping_json)
with st.status(f"Reading {len(files)} file(s), {total_bytes / 1e6:.1f} MB ...", expanded=False) as status:
    status.write("Parsing, mapping and validating every row ...")
    parsed, problems = loaders.parse(key, files, source, mapping_json, None)
    result = None
    stored_count = loaders.snapshots(path).height
    # the projects the exports name, and the one the user attached each to (the pickers below)
    named = export_projects(parsed) if parsed is not None else []
    attach = {
        ref: st.session_state[f"up_attach_{i}"]
        for i, ref in enumerate(named)
        if st.session_state.get(f"up_attach_{i}", AS_MATCHED) != AS_MATCHED
    }
    if parsed is not None:
        status.write("Comparing with the stored snapshots (nothing is stored yet) ...")
        result, problems = loaders.dry_run(path, key, as_of, stored_count, parsed, tuple(sorted(attach.items())))
    if problems:
        status.update(label=f"{len(problems)} problem(s) found: nothing can be stored", state="error")
    else:
        rows = sum(frame.height for frame in parsed.tables.values()) if parsed is not None else 0
        status.update(
            label=f"Checked: {rows:,} rows in {len(parsed.tables) if parsed else 0} table(s)", state="complete"
        )

if problems:
    with problems_box:
        st.subheader(f"Problems ({len(problems)})")
        st.error(
            "The upload cannot be stored: fix these rows in the files and upload them again. Nothing of it was stored.",
            icon=":material/block:",
        )
        errors.show_problems(problems, key="up_problems")
    st.stop()
assert parsed is not None and result is not None

# ------------------------------------------------------------------ which projects, what is removed
if named:
    st.subheader("Projects")
    identity = result.identity
    summary = views.upload_identity(identity.projects, identity.milestones)
    if summary.created:
        st.warning(
            f"{len(summary.created)} project(s) will be created with no owner: "
            f"{fmt.plain(', '.join(summary.created))}. The Governance page lists "
            'each as "project has no owner" until the PMO names one. If an export belongs to a '
            "project of the portfolio, attach it below.",
            icon=":material/add_circle:",
        )
    st.dataframe(
        identity.projects,
        column_order=["export_project", "how", "project_id", "project_name", "files"],
        column_config={
            "export_project": st.column_config.TextColumn("The export names"),
            "how": st.column_config.TextColumn("Match"),
            "project_id": st.column_config.TextColumn("Project"),
            "project_name": st.column_config.TextColumn("Name"),
            "files": st.column_config.TextColumn("Files", width="large"),
        },
        hide_index=True,
        placeholder="–",
        key="up_projects",
        height=fmt.table_height(identity.projects.height, 260),
    )
    choices = loaders.project_choices(path, stored_count)
    with st.expander("Attach an export to another project", icon=":material/link:", expanded=bool(attach)):
        for i, ref in enumerate(named):
            st.selectbox(
                f"Export project '{fmt.plain(ref)}' belongs to",
                [AS_MATCHED, *choices],
                format_func=lambda p: p if p == AS_MATCHED else f"{p} · {choices[p]}",
                key=f"up_attach_{i}",
            )
    renamed = summary.renamed
    st.caption(
        f"Exported milestones: {summary.matched} matched to existing milestones "
        f"({renamed.height} under another id), {summary.new} new."
    )
    if renamed.height:
        with st.expander(f"Milestones that keep their portfolio id ({renamed.height})"):
            st.dataframe(
                renamed,
                column_config={
                    "tool_key": st.column_config.TextColumn("Key in the export"),
                    "name": st.column_config.TextColumn("Name"),
                    "project_id": st.column_config.TextColumn("Project"),
                    "milestone_id": st.column_config.TextColumn("Milestone"),
                    "how": st.column_config.TextColumn("Matched by"),
                },
                hide_index=True,
                key="up_renamed",
            )

confirmed = True
if result.removals.height:
    base_id = result.built_on
    assert base_id is not None
    removed, lost = views.removals_table(loaders.removal_values(path, base_id, stored_count, result.removals))
    st.subheader(f"Removed by this upload ({removed.height})")
    st.warning(
        f"This upload removes {removed.height} milestone(s) of snapshot {base_id}: their KPI links and "
        f"dependencies are disconnected and {lost:,.0f} {currency} of value at risk leaves the totals. "
        "Upload the missing milestones too, or confirm the removal.",
        icon=":material/delete_forever:",
    )
    st.dataframe(
        removed,
        column_order=["milestone_id", "name", "project_id", "kpi_ids", "dependencies", "tasks", "value_at_risk"],
        column_config={
            **fmt.columns(currency),
            "milestone_id": st.column_config.TextColumn("Milestone"),
            "name": st.column_config.TextColumn("Name"),
            "project_id": st.column_config.TextColumn("Project"),
            "kpi_ids": st.column_config.TextColumn("Linked KPIs"),
            "dependencies": st.column_config.NumberColumn("Dependencies"),
            "tasks": st.column_config.NumberColumn("Tasks"),
        },
        hide_index=True,
        placeholder="–",
        key="up_removals",
        height=fmt.table_height(removed.height, 260),
    )
    confirmed = st.checkbox(
        f"Remove these {removed.height} milestone(s) and disconnect their links", key="up_confirm_removals"
    )

st.subheader("Preview of the mapped rows")
tabs = st.tabs([f"{table} ({frame.height:,})" for table, frame in parsed.tables.items()])
for tab, (table, frame) in zip(tabs, parsed.tables.items(), strict=False):
    with tab:
        preview = views.upload_preview(frame, 500)
        st.dataframe(
            preview,
            column_config=fmt.preview_columns(preview, currency),
            hide_index=True,
            placeholder="–",
            key=f"up_preview_{table}",
            height=fmt.table_height(frame.height, 300),
        )
        if frame.height > 500:
            st.caption(f"The first 500 of {frame.height:,} rows.")

if result.warnings:
    with st.expander(f"Warnings ({len(result.warnings)}): stored anyway, listed as governance findings"):
        errors.show_problems(result.warnings, key="up_warnings")

st.subheader("What changed")
st.markdown(fmt.plain(result.message, one_line=False, limit=None))
if result.unchanged:
    st.info("These files were already loaded for this date: committing stores nothing new.")
if result.changes.height:
    counts = views.change_counts(result.changes)
    st.markdown(" · ".join(f"**{n}** {kind.replace('_', ' ')}" for kind, n in counts.items()))
    st.dataframe(
        result.changes,
        column_order=["change", "milestone_id", "project_id", "name", "detail", "days"],
        column_config={
            **fmt.columns(currency),
            "change": st.column_config.TextColumn("Change"),
            "detail": st.column_config.TextColumn("Detail", width="large"),
            "days": st.column_config.NumberColumn("Days", format="%+d"),
        },
        hide_index=True,
        placeholder="–",
        key="up_changes",
        height=fmt.table_height(result.changes.height, 360),
    )

commit_help = None if confirmed else "Confirm the removals above first"
if st.button(
    "Commit",
    type="primary",
    icon=":material/cloud_upload:",
    key="up_commit",
    disabled=result.unchanged or not confirmed,
    help=commit_help,
):
    with st.status("Storing the snapshot ...", expanded=False) as saving:
        stored = store.ingest(
            parsed, as_of, author=author.strip(), sources=files, attach=attach, allow_removals=confirmed
        )
        saving.update(label="Stored", state="complete")
    if stored.snapshot_id is not None:
        context.show_snapshot_next(stored.snapshot_id)
    st.session_state["upload_done"] = stored.message
    st.session_state["upload_round"] = round_ + 1
    st.rerun()
