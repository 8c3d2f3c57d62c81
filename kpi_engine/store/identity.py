"""Which project and which milestone an exported row is (DOMAIN.md section 1).

A tool export (MS Project, Jira, Smartsheet, Asana, ...) names its project and gives each
milestone the tool's own key (``P-DRV-5``, ``RTE-1``). Before an upload is merged, its
exported rows are resolved against the snapshot it builds on:

- **Project**: the one the user chose for that export, else the portfolio project with the
  export's project id, else the one whose name is the export's project name or id (case
  and spacing ignored); otherwise the upload creates the project under that name with no
  owner (a governance finding until the PMO names one).
- **Milestone**, within its project: the milestone that came with the same tool key in an
  earlier upload, else the milestone whose id is that key, else the one with the same
  name (case and spacing ignored); only then is it a new milestone, whose id is the key.

Rows of the portfolio template (and of a column mapping) are the PMO's own ids and are
taken as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from kpi_engine.core.errors import Problem, UploadRejected
from kpi_engine.store.lineage import snapshot_rows

if TYPE_CHECKING:
    from kpi_engine.ingest import ParsedUpload

#: Sources whose ids are the PMO's own (not a tool's keys).
OWN_ID_SOURCES = ("template", "mapping")

#: How an export's project was found (``ProjectMatch.how``).
PROJECT_HOW = ("chosen", "matched by id", "matched by name", "created")
#: How an exported milestone was found (``milestones`` frame of :class:`Identity`).
MILESTONE_HOW = ("tool key", "same id", "same name", "new")

PROJECTS_SCHEMA = pl.Schema(
    {
        "export_project": pl.String(),  # what the export calls the project
        "project_id": pl.String(),
        "project_name": pl.String(),
        "owner": pl.String(),  # the project's owner (blank for a project created with none)
        "how": pl.String(),
        "files": pl.String(),
    }
)
MILESTONES_SCHEMA = pl.Schema(
    {
        "tool_key": pl.String(),
        "name": pl.String(),
        "project_id": pl.String(),
        "milestone_id": pl.String(),
        "how": pl.String(),
    }
)
#: Milestone-naming columns per table, renamed when an exported milestone takes an existing id.
_MILESTONE_REFERENCES = {
    "milestones": ("milestone_id",),
    "tasks": ("milestone_id",),
    "links": ("milestone_id",),
    "dependencies": ("predecessor_id", "successor_id"),
    "mitigations": ("milestone_id",),
}


def match_key(text: str | None) -> str:
    """A name or id as compared: case and spacing ignored (``"Driver  App"`` = ``"driver app"``)."""
    return re.sub(r"\s+", " ", text or "").strip().casefold()


@dataclass(frozen=True)
class Identity:
    """What resolving an upload's exported rows found.

    ``projects`` has one row per project an export names (:data:`PROJECTS_SCHEMA`);
    ``milestones`` one row per exported milestone (:data:`MILESTONES_SCHEMA`); ``keys`` the
    (project_id, tool_key, milestone_id, source) rows to remember once the upload is stored.
    """

    projects: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PROJECTS_SCHEMA))
    milestones: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=MILESTONES_SCHEMA))
    keys: list[tuple[str, str, str, str]] = field(default_factory=list)


def tool_files(upload: ParsedUpload) -> dict[str, str]:
    """File name -> source, for the files of the upload a tool wrote."""
    return {f.name: f.source for f in upload.files if f.source not in OWN_ID_SOURCES}


def _from_tool(frame: pl.DataFrame, tools: Mapping[str, str]) -> pl.Series:
    """Which rows came from a tool's file (several files read together are named comma separated)."""
    names = list(tools)
    return frame.select(
        pl.col("_file")
        .str.split(",")
        .list.eval(pl.element().str.strip_chars().is_in(names))
        .list.all()
        .fill_null(False)
    ).to_series()


def export_projects(upload: ParsedUpload) -> list[str]:
    """The projects the upload's exports name, in upload order (what ``attach`` may be keyed by)."""
    tools = tool_files(upload)
    milestones = upload.tables.get("milestones")
    if not tools or milestones is None:
        return []
    exported = milestones.filter(_from_tool(milestones, tools))
    return list(dict.fromkeys(p for p in exported["project_id"].to_list() if p is not None))


def resolve_identity(
    cur: duckdb.DuckDBPyConnection,
    upload: ParsedUpload,
    frames: dict[str, pl.DataFrame],
    base: list[int] | None,
    attach: Mapping[str, str],
) -> tuple[dict[str, pl.DataFrame], Identity]:
    """Give the upload's exported projects and milestones the ids they have in the portfolio.

    Parameters
    ----------
    cur
        The ingest transaction.
    upload
        The parsed upload (its files say which rows a tool wrote).
    frames
        The upload's conformed tables (with provenance).
    base
        The lineage of the snapshot the upload builds on
        (:func:`~kpi_engine.store.lineage.lineage_of`; None for the first).
    attach
        Export project (as the export names it) -> id of the portfolio project to attach it
        to, overriding the match.

    Returns
    -------
    frames, identity
        The tables with resolved ids (and a projects row for each project created), and
        what was found.

    Raises
    ------
    UploadRejected
        ``attach`` names a project the portfolio does not hold, or an export's project name
        matches several portfolio projects.
    """
    tools = tool_files(upload)
    milestones = frames.get("milestones")
    if not tools or milestones is None:
        if attach:
            raise UploadRejected([Problem("upload", "-", None, "", _NOTHING_TO_ATTACH)])
        return frames, Identity()
    is_tool = _from_tool(milestones, tools)
    exported = milestones.filter(is_tool)
    if exported.height == 0:
        if attach:
            raise UploadRejected([Problem("upload", "-", None, "", _NOTHING_TO_ATTACH)])
        return frames, Identity()

    known, owners = _known_projects(cur, frames, base, tools)
    uploaded_projects = frames.get("projects")
    tool_projects = (
        uploaded_projects.filter(_from_tool(uploaded_projects, tools)) if uploaded_projects is not None else None
    )
    names = dict(tool_projects.select("project_id", "name").iter_rows()) if tool_projects is not None else {}
    leads = dict(tool_projects.select("project_id", "owner").iter_rows()) if tool_projects is not None else {}
    files_of = exported.group_by("project_id", maintain_order=True).agg(pl.col("_file").unique(maintain_order=True))
    target: dict[str, str] = {}
    rows = []
    problems: list[Problem] = []
    for ref, ref_files in files_of.iter_rows():
        if ref is None:
            continue
        files = ", ".join(dict.fromkeys(ref_files))
        name = names.get(ref) or ref
        found, how, problem = _match_project(ref, name, known, attach.get(ref), files)
        if problem is not None:
            problems.append(problem)
            continue
        target[ref] = found
        owner = leads.get(ref) if how == "created" else owners.get(found)
        rows.append((ref, found, known.get(found, name), owner, how, files))
    named = set(files_of["project_id"].to_list())
    unknown_attach = [r for r in attach if r not in named]
    problems += [
        Problem("upload", "-", None, "", f"no export of this upload names the project '{r}'; nothing to attach")
        for r in unknown_attach
    ]
    if problems:
        raise UploadRejected(problems)
    projects = pl.DataFrame(rows, schema=PROJECTS_SCHEMA, orient="row")

    # exported milestones belong to the resolved projects; exported projects rows only create projects
    frames = dict(frames)
    frames["milestones"] = milestones.with_columns(
        pl.when(pl.Series(is_tool))
        .then(pl.col("project_id").replace(target))
        .otherwise(pl.col("project_id"))
        .alias("project_id")
    )
    frames = _project_rows(frames, projects, tool_projects, tools)
    frames, matched, keys = _resolve_milestones(cur, frames, base, tools)
    return frames, Identity(projects=projects, milestones=matched, keys=keys)


_NOTHING_TO_ATTACH = "a project to attach the exports to was given, but the upload holds no tool export with milestones"


def _known_projects(
    cur: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame], base: list[int] | None, tools: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str | None]]:
    """Project id -> name and id -> owner of the portfolio: the base snapshot's and the upload's own (template) rows."""
    rows: list[tuple[str, str, str | None]] = []
    if base is not None:
        rows += cur.execute(
            f"SELECT project_id, name, owner FROM {snapshot_rows('projects', 'base')} ORDER BY stored_row",
            {"base": base},
        ).fetchall()
    uploaded = frames.get("projects")
    if uploaded is not None:
        own = uploaded.filter(~_from_tool(uploaded, tools))
        rows += own.select("project_id", "name", "owner").iter_rows()
    return {p: n for p, n, _ in rows}, {p: o for p, _, o in rows}


def _match_project(
    ref: str, name: str, known: dict[str, str], chosen: str | None, files: str
) -> tuple[str, str, Problem | None]:
    """The project an export naming ``ref`` (called ``name``) belongs to, and how it was found."""
    if chosen is not None:
        if chosen in known:
            return chosen, "chosen", None
        return ref, "", Problem(files, "-", None, "Project", f"there is no project '{chosen}' to attach this export to")
    if ref in known:
        return ref, "matched by id", None
    by_id = [p for p in known if match_key(p) == match_key(ref)]
    if len(by_id) == 1:
        return by_id[0], "matched by id", None
    wanted = {match_key(ref), match_key(name)}
    by_name = [p for p, n in known.items() if match_key(n) in wanted]
    if len(by_name) == 1:
        return by_name[0], "matched by name", None
    if len(by_name) > 1:
        listed = ", ".join(sorted(by_name))
        message = f"the export's project '{name}' matches several projects ({listed}); choose the one it belongs to"
        return ref, "", Problem(files, "-", None, "Project", message)
    return ref, "created", None


def _project_rows(
    frames: dict[str, pl.DataFrame],
    projects: pl.DataFrame,
    tool_projects: pl.DataFrame | None,
    tools: Mapping[str, str],
) -> dict[str, pl.DataFrame]:
    """Keep exported projects rows only for projects created; add a row (no owner) for the others created."""
    created = projects.filter(pl.col("how") == "created")
    uploaded = frames.get("projects")
    if uploaded is not None:
        keep = ~_from_tool(uploaded, tools) | uploaded["project_id"].is_in(created["project_id"].implode())
        uploaded = uploaded.filter(keep)
    have = set(uploaded["project_id"].to_list()) if uploaded is not None else set()
    new = created.filter(~pl.col("project_id").is_in(list(have)))
    if new.height:
        first = frames["milestones"].unique("project_id", keep="first", maintain_order=True)
        added = (
            new.select("project_id", pl.col("project_name").alias("name"))
            .join(first.select("project_id", "_file", "_sheet", "_row"), on="project_id", how="left")
            .with_columns(owner=pl.lit(None, pl.String))
        )
        schema = (uploaded if uploaded is not None else _empty_projects()).schema
        added = added.select(
            [pl.col(c).cast(t) if c in added.columns else pl.lit(None, t).alias(c) for c, t in schema.items()]
        )
        uploaded = added if uploaded is None else pl.concat([uploaded, added])
    if uploaded is not None:
        frames["projects"] = uploaded
    return frames


def _empty_projects() -> pl.DataFrame:
    from kpi_engine.core.schema import TABLES
    from kpi_engine.store.merge import PROVENANCE

    return pl.DataFrame(schema={**{c: col.dtype for c, col in TABLES["projects"].items()}, **PROVENANCE})


def _resolve_milestones(
    cur: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame], base: list[int] | None, tools: Mapping[str, str]
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame, list[tuple[str, str, str, str]]]:
    """Give each exported milestone the id of the same milestone in its project; rename what names it."""
    milestones = frames["milestones"]
    is_tool = _from_tool(milestones, tools)
    exported = milestones.filter(is_tool)
    scope = exported["project_id"].unique().to_list()
    stored_keys: dict[tuple[str, str], str] = {}
    existing: dict[str, list[tuple[str, str]]] = {}
    if base is not None:
        stored_keys = {
            (p, k): m
            for p, k, m in cur.execute(
                "SELECT project_id, tool_key, milestone_id FROM milestone_keys WHERE list_contains(?, project_id)",
                [scope],
            ).fetchall()
        }
        for mid, pid, name in cur.execute(
            f"SELECT milestone_id, project_id, name FROM {snapshot_rows('milestones', 'base')} "
            "WHERE list_contains($scope, project_id) ORDER BY milestone_id",
            {"base": base, "scope": scope},
        ).fetchall():
            existing.setdefault(pid, []).append((mid, name))
    # the upload's own (template) milestones keep their ids: an export cannot take them
    claimed = set(milestones.filter(~is_tool)["milestone_id"].to_list())
    rename: dict[str, str] = {}
    matched = []
    keys = []
    # per project: its milestone ids, and its milestones by name as compared
    ids = {pid: {mid for mid, _ in listed} for pid, listed in existing.items()}
    by_name: dict[str, dict[str, list[str]]] = {}
    for pid, listed in existing.items():
        for mid, name in listed:
            by_name.setdefault(pid, {}).setdefault(match_key(name), []).append(mid)
    for key, name, pid, file in exported.select("milestone_id", "name", "project_id", "_file").iter_rows():
        found, how = None, "new"
        candidate = stored_keys.get((pid, key))
        if candidate is not None and candidate not in claimed:
            found, how = candidate, "tool key"
        elif key in ids.get(pid, set()) and key not in claimed:
            found, how = key, "same id"
        else:
            same_name = [mid for mid in by_name.get(pid, {}).get(match_key(name), []) if mid not in claimed]
            if len(same_name) == 1:
                found, how = same_name[0], "same name"
        if found is None:
            found = key
        claimed.add(found)
        if found != key:
            rename[key] = found
        matched.append((key, name, pid, found, how))
        source = tools.get(str(file).split(",")[0].strip(), "export")
        keys.append((pid, key, found, source))
    if rename:
        for table, columns in _MILESTONE_REFERENCES.items():
            frame = frames.get(table)
            if frame is None:
                continue
            from_tool = pl.Series(_from_tool(frame, tools))
            frames[table] = frame.with_columns(
                pl.when(from_tool).then(pl.col(c).replace(rename)).otherwise(pl.col(c)).alias(c) for c in columns
            )
    return frames, pl.DataFrame(matched, schema=MILESTONES_SCHEMA, orient="row"), keys


def remember_keys(cur: duckdb.DuckDBPyConnection, identity: Identity, snapshot_id: int) -> None:
    """Store the tool key each exported milestone came with (the latest upload's wins)."""
    if not identity.keys:
        return
    frame = pl.DataFrame(
        [(*k, snapshot_id) for k in identity.keys],
        schema={
            "project_id": pl.String,
            "tool_key": pl.String,
            "milestone_id": pl.String,
            "source": pl.String,
            "snapshot_id": pl.Int64,
        },
        orient="row",
    ).unique(["project_id", "tool_key"], keep="last")
    cur.register("_kpi_keys", frame.to_arrow())
    try:
        cur.execute(
            "DELETE FROM milestone_keys m USING _kpi_keys k WHERE m.project_id = k.project_id AND m.tool_key = k.tool_key"
        )
        cur.execute(
            "INSERT INTO milestone_keys SELECT project_id, tool_key, milestone_id, source, snapshot_id FROM _kpi_keys"
        )
    finally:
        cur.unregister("_kpi_keys")
