"""Governance findings: ownership, milestones tied to no KPI, KPIs no work drives,
dangling ids (DOMAIN.md section 2, rule 9), projects with no owner (section 1)."""

from __future__ import annotations

import numpy as np
import polars as pl

from kpi_engine.core.owners import owner_problems
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.references import UNKNOWN, Positions, References, resolve

#: The finding of a project nobody owns (one an export created, until the PMO names an owner).
PROJECT_NO_OWNER = "project has no owner"

#: Columns of the governance findings frame.
FINDING_COLUMNS = {
    "subject": pl.String,  # milestone / kpi / project / link / task / dependency
    "subject_id": pl.String,
    "milestone_id": pl.String,
    "kpi_id": pl.String,
    "finding": pl.String,  # short label
    "detail": pl.String,  # a sentence for people
}


#: Hidden columns of each part of the findings: the milestone row and the KPI row it concerns (-1: none).
_ROWS = {"_m": pl.Int64, "_k": pl.Int64}

#: The row of no milestone or KPI.
_NO_ROW = pl.lit(UNKNOWN, pl.Int64)

#: A part of the findings with no rows.
_NO_FINDINGS = pl.DataFrame(schema={**FINDING_COLUMNS, **_ROWS})


def _owner_problems(*owners: pl.Series) -> pl.DataFrame:
    """``owner`` and ``finding`` of every distinct owner string with a problem (usually none).

    Owners repeat (people own many milestones, KPIs and projects): each distinct string is
    judged once for all tables.
    """
    distinct = pl.concat([o.cast(pl.String).rename("owner") for o in owners]).unique()
    return pl.DataFrame([distinct, owner_problems(distinct).alias("finding")]).filter(pl.col("finding").is_not_null())


def _owner_findings(frame: pl.DataFrame, subject: str, id_column: str, problems: pl.DataFrame) -> pl.DataFrame:
    """Rows of ``frame`` whose owner has a problem (``problems`` from :func:`_owner_problems`)."""
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    if problems.height == 0:
        return _NO_FINDINGS
    return (
        frame.with_columns(row.alias("_row"))
        .filter(pl.col("owner").is_in(problems["owner"].implode(), nulls_equal=True))
        .join(problems, on="owner", how="left", nulls_equal=True)
        .select(
            pl.lit(subject).alias("subject"),
            pl.col(id_column).alias("subject_id"),
            (pl.col(id_column) if subject == "milestone" else pl.lit(None, pl.String)).alias("milestone_id"),
            (pl.col(id_column) if subject == "kpi" else pl.lit(None, pl.String)).alias("kpi_id"),
            pl.col("finding"),
            pl.col("owner"),
            (pl.col("_row") if subject == "milestone" else _NO_ROW).alias("_m"),
            (pl.col("_row") if subject == "kpi" else _NO_ROW).alias("_k"),
        )
        .filter(pl.col("finding").is_not_null())
        .with_columns(
            pl.when(pl.col("finding") == "no owner")
            .then(pl.lit("has no owner; name one accountable person"))
            .otherwise(pl.format('owner "{}" names more than one person; name one accountable person', pl.col("owner")))
            .alias("detail")
        )
        .drop("owner")
    )


def _ownerless_projects(projects: pl.DataFrame, problems: pl.DataFrame) -> pl.DataFrame:
    """Projects whose owner is blank: an upload created them from an export, and nobody answers for them yet."""
    # blank names nobody: "no owner" (``problems`` judged each distinct owner once)
    blank = problems.filter(pl.col("finding") == "no owner")["owner"]
    none = pl.lit(None, pl.String)
    if blank.len() == 0:
        return _NO_FINDINGS
    return projects.filter(pl.col("owner").is_in(blank.implode(), nulls_equal=True)).select(
        pl.lit("project").alias("subject"),
        pl.col("project_id").alias("subject_id"),
        none.alias("milestone_id"),
        none.alias("kpi_id"),
        pl.lit(PROJECT_NO_OWNER).alias("finding"),
        pl.lit("has no owner; the PMO names one accountable person").alias("detail"),
        _NO_ROW.alias("_m"),
        _NO_ROW.alias("_k"),
    )


def _dangling(
    frame: pl.DataFrame,
    subject: str,
    id_expr: pl.Expr,
    column: str,
    known: str,
    kind: str,
    milestone: pl.Expr,
    kpi: pl.Expr,
    milestone_row: pl.Expr = _NO_ROW,
    kpi_row: pl.Expr = _NO_ROW,
) -> pl.DataFrame:
    """Rows of ``frame`` whose ``column`` names an id that does not exist (flag column ``known``).

    ``milestone`` and ``kpi`` point at the existing milestone and KPI the row concerns,
    ``milestone_row`` and ``kpi_row`` give their rows (-1: none).
    """
    if frame.height == 0:
        return _NO_FINDINGS
    return frame.filter(pl.col(column).is_not_null() & ~pl.col(known)).select(
        pl.lit(subject).alias("subject"),
        id_expr.alias("subject_id"),
        milestone.alias("milestone_id"),
        kpi.alias("kpi_id"),
        pl.lit("dangling id").alias("finding"),
        pl.format(
            "{} {} names unknown {} '{}'", pl.lit(subject.capitalize()), id_expr, pl.lit(kind), pl.col(column)
        ).alias("detail"),
        milestone_row.alias("_m"),
        kpi_row.alias("_k"),
    )


def _if(known: str, column: str) -> pl.Expr:
    """``column`` where flag column ``known`` holds, else null: a pointer only to ids that exist."""
    return pl.when(pl.col(known)).then(pl.col(column))


def _in_order(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The parts' findings as one frame ordered by subject, subject id and finding.

    Parts are sorted one subject at a time; a subject with one part already in id order
    (a table's rows in order of their ids, the usual case) needs no sort.
    """
    schema = pl.Schema({**FINDING_COLUMNS, **_ROWS})
    by_subject: dict[str, list[pl.DataFrame]] = {}
    for part in parts:
        by_subject.setdefault(str(part["subject"][0]), []).append(part.select(schema.names()).cast(schema))
    ordered = []
    for subject in sorted(by_subject):
        group = by_subject[subject]
        if len(group) == 1 and group[0]["subject"].n_unique() == 1 and group[0]["subject_id"].is_sorted():
            ordered.append(group[0].sort("subject_id", "finding", maintain_order=True) if _ties(group[0]) else group[0])
        else:
            ordered.append(pl.concat(group).sort("subject", "subject_id", "finding", maintain_order=True))
    return pl.concat(ordered) if ordered else pl.DataFrame(schema=schema)


def _ties(part: pl.DataFrame) -> bool:
    """True when some subject id repeats in ``part`` (sorted by it): its findings need ordering too."""
    ids = part["subject_id"]
    return len(ids) > 1 and bool((ids.slice(1) == ids.slice(0, len(ids) - 1)).any())


def governance_findings(portfolio: Portfolio, refs: References | None = None) -> pl.DataFrame:
    """Return one row per governance finding, ordered by subject and id (see :func:`findings_with_rows`)."""
    return findings_with_rows(portfolio, refs)[0]


def _unlinked(frame: pl.DataFrame, id_column: str, row_column: str, linked: np.ndarray) -> pl.DataFrame:
    """``id_column`` of the rows of ``frame`` that ``linked`` does not mark, with their row as ``row_column``.

    Only the id is picked, not every column of the rows.
    """
    rows = np.flatnonzero(~linked)
    return pl.DataFrame([frame[id_column].gather(rows), pl.Series(row_column, rows, dtype=pl.Int64)])


def findings_with_rows(portfolio: Portfolio, refs: References | None = None) -> tuple[pl.DataFrame, Positions]:
    """Return one row per governance finding, ordered by subject and id.

    Findings: blank or shared owners of milestones and KPIs, projects with no owner
    (:data:`PROJECT_NO_OWNER`), milestones with no link
    ("not tied to any KPI"), KPIs with no link ("no work drives this KPI"), and links,
    tasks or dependencies naming an unknown milestone or KPI. ``milestone_id`` and
    ``kpi_id`` point at the existing milestone or KPI a finding concerns (null when none).
    ``refs`` are the snapshot's resolved ids when already at hand.

    Returns
    -------
    tuple
        The findings and, for each, the row of its milestone and of its KPI in
        ``portfolio.milestones`` and ``portfolio.kpis`` (-1 where ``milestone_id`` or
        ``kpi_id`` is null).
    """
    milestones, kpis, links = portfolio.milestones, portfolio.kpis, portfolio.links
    tasks, dependencies = portfolio.tasks, portfolio.dependencies
    refs = resolve(portfolio) if refs is None else refs
    # only rows naming an unknown id can dangle: look at those alone (usually none)
    odd = np.flatnonzero((refs.link_milestone < 0) | (refs.link_kpi < 0))
    links = links[odd].with_columns(
        pl.Series("_milestone_known", refs.link_milestone[odd] >= 0),
        pl.Series("_kpi_known", refs.link_kpi[odd] >= 0),
        pl.Series("_milestone_row", refs.link_milestone[odd]),
        pl.Series("_kpi_row", refs.link_kpi[odd]),
    )
    odd = np.flatnonzero(refs.task_milestone < 0)
    tasks = tasks[odd].with_columns(pl.Series("_milestone_known", refs.task_milestone[odd] >= 0))
    odd = np.flatnonzero((refs.predecessor < 0) | (refs.successor < 0))
    dependencies = dependencies[odd].with_columns(
        pl.Series("_predecessor_known", refs.predecessor[odd] >= 0),
        pl.Series("_successor_known", refs.successor[odd] >= 0),
        pl.Series("_predecessor_row", refs.predecessor[odd]),
        pl.Series("_successor_row", refs.successor[odd]),
    )
    none = pl.lit(None, pl.String)
    link_id = pl.format("{} -> {}", pl.col("milestone_id"), pl.col("kpi_id"))
    dependency_id = pl.format("{} -> {}", pl.col("predecessor_id"), pl.col("successor_id"))
    problems = _owner_problems(milestones["owner"], kpis["owner"], portfolio.projects["owner"])
    parts = [
        _owner_findings(milestones, "milestone", "milestone_id", problems),
        _owner_findings(kpis, "kpi", "kpi_id", problems),
        _ownerless_projects(portfolio.projects, problems),
        _unlinked(milestones, "milestone_id", "_m", refs.linked_milestones(milestones.height)).select(
            pl.lit("milestone").alias("subject"),
            pl.col("milestone_id").alias("subject_id"),
            pl.col("milestone_id"),
            none.alias("kpi_id"),
            pl.lit("not tied to any KPI").alias("finding"),
            pl.lit("not tied to any KPI: a wish list, not a plan; link it to the KPI it moves or stop it").alias(
                "detail"
            ),
            pl.col("_m"),
            _NO_ROW.alias("_k"),
        ),
        _unlinked(kpis, "kpi_id", "_k", refs.linked_kpis(kpis.height)).select(
            pl.lit("kpi").alias("subject"),
            pl.col("kpi_id").alias("subject_id"),
            none.alias("milestone_id"),
            pl.col("kpi_id"),
            pl.lit("no work drives this KPI").alias("finding"),
            pl.lit("no work drives this KPI: no milestone is linked to it").alias("detail"),
            _NO_ROW.alias("_m"),
            pl.col("_k"),
        ),
        _dangling(
            links,
            "link",
            link_id,
            "milestone_id",
            "_milestone_known",
            "milestone",
            none,
            _if("_kpi_known", "kpi_id"),
            kpi_row=pl.col("_kpi_row"),
        ),
        _dangling(
            links,
            "link",
            link_id,
            "kpi_id",
            "_kpi_known",
            "KPI",
            _if("_milestone_known", "milestone_id"),
            none,
            milestone_row=pl.col("_milestone_row"),
        ),
        _dangling(tasks, "task", pl.col("task_id"), "milestone_id", "_milestone_known", "milestone", none, none),
        _dangling(
            dependencies,
            "dependency",
            dependency_id,
            "predecessor_id",
            "_predecessor_known",
            "milestone",
            _if("_successor_known", "successor_id"),
            none,
            milestone_row=pl.col("_successor_row"),
        ),
        _dangling(
            dependencies,
            "dependency",
            dependency_id,
            "successor_id",
            "_successor_known",
            "milestone",
            _if("_predecessor_known", "predecessor_id"),
            none,
            milestone_row=pl.col("_predecessor_row"),
        ),
    ]
    findings = _in_order([p for p in parts if p.height])
    rows = (findings["_m"].to_numpy(), findings["_k"].to_numpy())
    return findings.drop(*_ROWS), rows
