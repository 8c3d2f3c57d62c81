"""The exception list: what needs a decision, ordered by money (DOMAIN.md section 3)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import polars as pl

from kpi_engine.core.text import kpi_value, thousands

#: Columns of an exception row, in the order of DOMAIN.md section 3 (CLI JSON uses these names).
EXCEPTION_COLUMNS: dict[str, pl.DataType] = {
    "kind": pl.String(),
    "milestone_id": pl.String(),
    "milestone_name": pl.String(),
    "project_id": pl.String(),
    "project_name": pl.String(),
    "owner": pl.String(),
    "kpi_id": pl.String(),
    "kpi_name": pl.String(),
    "kpi_owner": pl.String(),
    "baseline_finish": pl.Date(),
    "computed_finish": pl.Date(),
    "slip_days": pl.Int64(),
    "reported_status": pl.String(),
    "computed_status": pl.String(),
    "watermelon": pl.Boolean(),
    "kpi_projected": pl.Float64(),
    "kpi_target": pl.Float64(),
    "kpi_shortfall": pl.Float64(),
    "kpi_impact": pl.Float64(),
    "value_at_risk": pl.Float64(),
    "escalation_level": pl.Int64(),
    "escalate_to": pl.String(),
    "why": pl.String(),
}

#: Extra columns kept for filtering and drill-down (not part of the CLI contract).
CONTEXT_COLUMNS: dict[str, pl.DataType] = {
    "finding": pl.String(),
    "program": pl.String(),
    "portfolio": pl.String(),
    "objective_id": pl.String(),
    "objective_name": pl.String(),
    "escalate_role": pl.String(),
}

SORT_KEYS = ["value_at_risk", "kpi_shortfall", "slip_days"]


def _lateness() -> pl.Expr:
    slip = pl.col("slip_days")
    return (
        pl.when(slip > 0)
        .then(pl.format("{} days late", slip))
        .when(slip < 0)
        .then(pl.format("{} days early", -slip))
        .otherwise(pl.lit("on time"))
    )


def _subject() -> pl.Expr:
    return pl.format(
        "{} ({}, {})",
        pl.col("milestone_name"),
        pl.col("project_name").fill_null(pl.col("project_id")),
        pl.col("owner").fill_null("no owner"),
    )


def _act() -> pl.Expr:
    return (
        pl.when(pl.col("escalate_to").is_not_null())
        .then(pl.format(" {} ({}) must act.", pl.col("escalate_to"), pl.col("escalate_role")))
        .otherwise(pl.lit(""))
    )


def kpi_clause() -> pl.Expr:
    """The KPI part of a milestone's sentence, over a KPI frame (one row per KPI).

    Built once per KPI rather than once per exception row: a KPI has many milestones.
    """
    unit = pl.when(pl.col("unit").is_not_null()).then(pl.format(" {}", pl.col("unit"))).otherwise(pl.lit(""))
    target = kpi_value(pl.col("target_value"))
    return (
        pl.when(pl.col("shortfall") > 0)
        .then(
            pl.format(
                "; {} reaches {}{} by {} against a target of {}",
                pl.col("name"),
                kpi_value(pl.col("projected")),
                unit,
                pl.col("target_date"),
                target,
            )
        )
        .otherwise(
            pl.format("; {} still meets its target of {}{} by {}", pl.col("name"), target, unit, pl.col("target_date"))
        )
    )


def milestone_why(currency: str, largest_value: float | None = None) -> pl.Expr:
    """One sentence: who, what, how late, reported as what, which KPI, by how much, money, who acts.

    Needs ``kpi_clause`` (from :func:`kpi_clause`; null for a milestone tied to no KPI).
    ``largest_value`` bounds ``value_at_risk`` when known (see :func:`~kpi_engine.core.text.thousands`).
    """
    finishes = (
        pl.when(pl.col("computed_status") == "Complete").then(pl.lit("finished")).otherwise(pl.lit("now finishes"))
    )
    reported = (
        pl.when(pl.col("reported_status") == "Unknown")
        .then(pl.lit("no status reported"))
        .otherwise(pl.format("reported {}", pl.col("reported_status")))
    )
    money = (
        pl.when(pl.col("value_at_risk") >= 0.5)
        .then(
            pl.format(
                "; {} {} of value is lost this period.",
                thousands(pl.col("value_at_risk"), largest_value),
                pl.lit(currency),
            )
        )
        .otherwise(pl.lit("."))
    )
    return pl.concat_str(
        _subject(),
        pl.lit(" "),
        finishes,
        pl.lit(" "),
        pl.col("computed_finish").cast(pl.String),
        pl.lit(", "),
        _lateness(),
        pl.lit(", "),
        reported,
        pl.col("kpi_clause").fill_null("; it is tied to no KPI"),
        money,
        _act(),
    )


def governance_why() -> pl.Expr:
    """One sentence naming the subject, the finding and who should fix it."""
    subject = (
        pl.when(pl.col("milestone_name").is_not_null() & (pl.col("subject") == "milestone"))
        .then(_subject())
        .when(pl.col("kpi_name").is_not_null() & (pl.col("subject") == "kpi"))
        .then(
            pl.format(
                "KPI {} ({}, {})", pl.col("kpi_name"), pl.col("kpi_id"), pl.col("kpi_owner").fill_null("no owner")
            )
        )
        .when(pl.col("subject") == "project")
        .then(pl.format("Project {}", pl.col("subject_id")))
        .otherwise(pl.format("{} {}", pl.col("subject").str.to_titlecase(), pl.col("subject_id")))
    )
    fix = (
        pl.when(pl.col("subject") == "project")
        .then(pl.lit(""))
        .when(pl.col("escalate_to").is_not_null())
        .then(pl.format(" {} ({}) should fix it.", pl.col("escalate_to"), pl.col("escalate_role")))
        .when(pl.col("finding") == "dangling id")
        .then(pl.lit(" The PMO should correct the id."))
        # the project has no owner yet (one an export created): nobody to hand it to
        .otherwise(pl.lit(" Its project has no owner: the PMO should name one."))
    )
    return pl.concat_str(subject, pl.lit(": "), pl.col("detail"), pl.lit("."), fix)


#: An eager or a lazy frame: sorting keeps whichever it is given.
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

#: Hidden column of the stored exception rows: the governance finding a row reports (null
#: for milestone rows), so that its sentence can be written when the row is shown.
FINDING_ROW = "_finding_row"

#: Milestone columns of an exception row: exception column -> milestone column.
_MILESTONE_FIELDS = {
    "milestone_id": "milestone_id",
    "milestone_name": "name",
    "project_id": "project_id",
    "project_name": "project_name",
    "owner": "owner",
    "baseline_finish": "baseline_finish",
    "computed_finish": "computed_finish",
    "slip_days": "slip_days",
    "reported_status": "reported_status",
    "computed_status": "computed_status",
    "watermelon": "watermelon",
    "program": "program",
    "portfolio": "portfolio",
}

#: KPI columns of every row that concerns a KPI: exception column -> KPI column.
_KPI_FIELDS = {
    "kpi_id": "kpi_id",
    "kpi_name": "name",
    "kpi_owner": "owner",
    "objective_id": "objective_id",
    "objective_name": "objective_name",
}

#: KPI figures, shown on (milestone, KPI) rows only: exception column -> KPI column.
_KPI_FIGURES = {"kpi_projected": "projected", "kpi_target": "target_value", "kpi_shortfall": "shortfall"}

_ESCALATION = ["escalation_level", "escalate_to", "escalate_role"]

#: ``kind`` codes in the order of the kind's name ("governance" < "milestone").
_GOVERNANCE, _MILESTONE = 0, 1


def _largest(amounts: pl.Series) -> float:
    """The largest absolute amount of a money column (0 when it is empty)."""
    top = amounts.abs().max()
    return float(top) if isinstance(top, (int, float)) else 0.0


def sort_exceptions(exceptions: FrameT) -> FrameT:
    """Order by value at risk, then shortfall, then slip (descending), then ids.

    A missing shortfall (a row with no KPI) counts as 0, as DOMAIN.md section 3 says: a
    milestone 50 days late with no KPI comes before a 10-day slip of a KPI that meets its
    target. A missing slip (a finding on a KPI) comes last among equals. Rows equal in
    every key keep their order.

    This is the order in words, on any frame with the exception columns;
    :func:`build_exception_list` reaches the same order on integer keys.
    """
    value, shortfall, slip = SORT_KEYS
    return exceptions.sort(
        [
            pl.col(value).fill_null(0.0),
            pl.col(shortfall).fill_null(0.0),
            pl.col(slip),
            "kind",
            "milestone_id",
            "kpi_id",
            "finding",
        ],
        descending=[True, True, True, False, False, False, False],
        nulls_last=True,
        maintain_order=True,
    )


def nullable_rows(rows: np.ndarray) -> pl.Series:
    """Row positions as a Series, null where ``rows`` holds -1 (no row): gathering gives null there."""
    rows = np.asarray(rows, dtype=np.int64)
    return pl.Series("at", np.ma.masked_array(rows, mask=rows < 0))


def _ranks_at(ids: pl.Series, rows: np.ndarray) -> tuple[np.ndarray, int]:
    """Each row's id rank in the sorted ``ids`` (equal ids share one; no row, -1, comes last) and the span.

    Sorting by the rank sorts by the id; the span is one more than the largest rank. Ids
    already in order (the usual case) are ranked without sorting them.
    """
    if len(ids) and ids.null_count() == 0 and ids.is_sorted():
        ranks = np.cumsum(np.r_[True, (ids.slice(1) != ids.slice(0, len(ids) - 1)).to_numpy()])
    else:
        ranks = ids.rank("dense").cast(pl.Int64).fill_null(0).to_numpy()
    last = int(ranks.max(initial=0)) + 1
    return np.append(ranks, last)[rows], last + 1  # row -1 takes the appended last rank


def _descending_ranks(values: pl.Series, rows: np.ndarray, missing_last: bool = False) -> tuple[np.ndarray, int]:
    """Ranks of ``values`` at ``rows`` that sort them descending (NaN first, as Polars does), and their span.

    A row of -1 or a null value counts as 0 (``missing_last``: comes after every value instead).
    Whole numbers rank by their distance from the largest; other numbers by a sort.
    """
    missing = values.is_null().to_numpy()
    if values.dtype.is_integer():
        table = values.fill_null(0).to_numpy().astype(np.int64)
        known = table[~missing] if missing_last else table
        top = max(int(known.max(initial=0)), 0)
        bottom = min(int(known.min(initial=0)), 0)
        ranks = np.append(top - table, 0 if missing_last else top)  # row -1 takes the appended value
        span = top - bottom + 2
    else:
        table = np.append(values.cast(pl.Float64).fill_null(0.0).to_numpy(), 0.0)
        distinct, at = np.unique(table, return_inverse=True)  # NaN sorts last: descending, first
        ranks, span = distinct.size - 1 - at, distinct.size + 1
    if missing_last:
        ranks[np.append(missing, True)] = span - 1
    return ranks[rows], span


#: Largest span of one packed integer sort key.
_PACK_LIMIT = 2**62


def _dense(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ranks of integers (equal values share one, order kept) and their span."""
    distinct, at = np.unique(values, return_inverse=True)
    return at.astype(np.int64, copy=False), max(distinct.size, 1)


def _money_ranks(value: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ranks of amounts that sort them descending (NaN first; 0.0 and -0.0 equal), and their span.

    Most rows of an exception list put no money at risk: only the other amounts are sorted.
    """
    zero = value == 0.0
    distinct, at = np.unique(value[~zero], return_inverse=True)  # ascending, NaN last
    has_zero = bool(zero.any())
    at_zero = int(np.searchsorted(distinct, 0.0))  # where 0 falls among them
    ascending = np.full(value.size, at_zero, dtype=np.int64)
    ascending[~zero] = at + (has_zero & (at >= at_zero))
    span = max(distinct.size + has_zero, 1)
    return span - 1 - ascending, span


def _reranked(current: np.ndarray, rows: np.ndarray, low: int) -> tuple[np.ndarray, np.ndarray]:
    """Replace unique packed keys by their ranks, by one sort; return the ranks and the row of each rank.

    The lowest bits of each key (``key & (low - 1)``, ``low`` a power of two) are a rank of
    the keys below them, ``rows`` the row of each such rank.
    """
    rows = rows[np.sort(current) & (low - 1)]
    ranks = np.empty(rows.size, dtype=np.int64)
    ranks[rows] = np.arange(rows.size, dtype=np.int64)
    return ranks, rows


def _order(value: np.ndarray, keys: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """Stable order by ``value`` descending (NaN first), then by the integer keys ascending.

    Each key is ``(values, span)`` with values in ``0 .. span - 1``. The keys are packed into
    one int64 from the least significant up: each row's position first (so every packed key
    is unique and ties keep their order), then the keys from the last, the value's rank on
    top. When the next key would overflow the int64, the keys packed so far are replaced by
    their rank, read off one sort. A plain sort of unique integers (no argsort) then gives the
    order: the lowest bits of each sorted key lead back to its row.
    """
    n = 1 << max(value.size - 1, 0).bit_length()  # the rows' span: a power of two, so that a mask finds them
    current, span = np.arange(value.size, dtype=np.int64), n
    rows = current.copy()  # the row of each rank in the lowest part of the keys
    for values, stated in reversed([_money_ranks(value), *keys]):
        width = max(stated, int(values.max(initial=0)) + 1)
        if span * width >= _PACK_LIMIT:
            (current, rows), span = _reranked(current, rows, n), n
        if span * width >= _PACK_LIMIT:
            values, width = _dense(values)
        current = values * span + current
        span *= width
    return rows[np.sort(current) & (n - 1)]


def _gather(frame: pl.DataFrame, rows: np.ndarray, fields: dict[str, str]) -> list[pl.Series]:
    """``frame``'s columns (``fields``: new name -> column) at row positions ``rows`` (-1 gives null).

    One gather of plain positions (a row of -1 takes row 0), then nulls where a row has
    none: cheaper than a nullable index, or than appending a row of nulls to every column.
    """
    picked = frame.select([pl.col(column).alias(name) for name, column in fields.items()])
    if picked.height == 0:
        return picked.clear(rows.size).get_columns()
    missing = rows < 0
    if not missing.any():
        return picked[rows].get_columns()
    gathered = picked[np.where(missing, 0, rows)]
    return gathered.select(pl.when(pl.Series(~missing)).then(pl.all()).name.keep()).get_columns()


def _project_of_findings(columns: list[pl.Series], findings: pl.DataFrame, at: pl.Series) -> list[pl.Series]:
    """The milestone columns, with a project finding's own project where the row has no milestone."""
    if findings["project_id"].null_count() == findings.height:
        return columns
    return [
        column.fill_null(findings[column.name].gather(at)) if column.name in ("project_id", "project_name") else column
        for column in columns
    ]


#: Names of the ``kind`` codes, by code.
_KIND_NAMES = pl.Series("kind", ["governance", "milestone"], dtype=pl.String)


def build_exception_list(
    milestones: pl.DataFrame,
    kpis: pl.DataFrame,
    pairs: pl.DataFrame,
    pair_rows: tuple[np.ndarray, np.ndarray],
    lonely: pl.DataFrame,
    lonely_rows: np.ndarray,
    findings: pl.DataFrame,
    finding_rows: tuple[np.ndarray, np.ndarray],
) -> pl.DataFrame:
    """Select and order the exception rows, in one pass over row positions.

    Parameters
    ----------
    milestones
        Every milestone with its schedule, status and project columns.
    kpis
        Every KPI with ``projected``, ``shortfall`` and its objective's ``objective_name``.
    pairs
        One row per resolvable (milestone, KPI) link: ``kpi_impact``, ``value_at_risk`` and
        the escalation columns; ``pair_rows`` holds the milestone and KPI row of each.
    lonely
        The escalation columns of the milestones tied to no KPI, rows ``lonely_rows``.
    findings
        Governance findings with their escalation columns; ``finding_rows`` holds the
        milestone and KPI row each concerns (-1 for none).

    Returns
    -------
    pl.DataFrame
        The exception columns but ``why`` (see :func:`with_why`), the context columns and
        :data:`FINDING_ROW`, in the order :func:`sort_exceptions` gives. Rows are chosen
        and ordered on row positions and integer ranks; each column is gathered once.
    """
    pair_m, pair_k = pair_rows
    finding_m, finding_k = finding_rows
    bad = (
        milestones["computed_status"].is_in(["Amber", "Red"]).fill_null(False)
        | milestones["watermelon"].fill_null(False)
    ).to_numpy()
    value = pairs["value_at_risk"].fill_null(np.nan).to_numpy()
    impact = pairs["kpi_impact"].fill_null(np.nan).to_numpy()
    with np.errstate(invalid="ignore"):
        chosen = np.flatnonzero(bad[pair_m] | (value > 0) | (np.abs(impact) > 1e-12))
    alone = np.flatnonzero(bad[lonely_rows])
    n_pairs, n_alone, n_findings = chosen.size, alone.size, findings.height
    none = np.full(n_pairs + n_alone + n_findings, -1, dtype=np.int64)
    # each row's milestone, KPI, pair and finding (-1: none), in the order of the parts
    m = np.concatenate([pair_m[chosen], lonely_rows[alone], finding_m]).astype(np.int64)
    k = np.concatenate([pair_k[chosen], none[:n_alone], finding_k]).astype(np.int64)
    k_pair = np.concatenate([pair_k[chosen], none[: n_alone + n_findings]]).astype(np.int64)  # KPI figures
    p = np.concatenate([chosen, none[: n_alone + n_findings]]).astype(np.int64)
    f = np.concatenate([none[: n_pairs + n_alone], np.arange(n_findings)]).astype(np.int64)
    kind = np.repeat(np.array([_MILESTONE, _GOVERNANCE], dtype=np.int8), [n_pairs + n_alone, n_findings])
    # rows of the pairs' value at risk, the appended 0.0 for the other rows
    money = pl.concat([pairs["value_at_risk"].cast(pl.Float64), pl.Series([0.0])], rechunk=True)
    at_money = np.where(p >= 0, p, pairs.height)
    value_at_risk = money.gather(at_money)
    order = _order(
        value_at_risk.fill_null(0.0).to_numpy(),
        [
            _descending_ranks(kpis["shortfall"], k_pair),
            _descending_ranks(milestones["slip_days"], m, missing_last=True),
            (kind.astype(np.int64), 2),
            _ranks_at(milestones["milestone_id"], m),
            _ranks_at(kpis["kpi_id"], k),
            _ranks_at(findings["finding"], f),
        ],
    )
    m, k, k_pair, p, at_money = (at[order] for at in (m, k, k_pair, p, at_money))
    f_at = nullable_rows(f[order])
    # the escalation of each row from its pair, its lonely milestone or its finding: one gather
    sources = pl.concat(
        [pairs.select(_ESCALATION), lonely.select(_ESCALATION), findings.select(_ESCALATION)], rechunk=True
    )
    part = np.concatenate([chosen, pairs.height + alone, pairs.height + lonely.height + np.arange(n_findings)])
    columns = [
        _KIND_NAMES.gather(kind[order]),
        *_project_of_findings(_gather(milestones, m, _MILESTONE_FIELDS), findings, f_at),
        *_gather(kpis, k, _KPI_FIELDS),
        *_gather(kpis, k_pair, _KPI_FIGURES),
        *_gather(pairs, p, {"kpi_impact": "kpi_impact"}),
        money.gather(at_money).alias("value_at_risk"),
        *sources[part[order]].get_columns(),
        findings["finding"].gather(f_at).alias("finding"),
    ]
    wanted = {c: t for c, t in {**EXCEPTION_COLUMNS, **CONTEXT_COLUMNS}.items() if c != "why"}
    rows = pl.DataFrame(columns)
    return rows.select([pl.col(c).cast(t) for c, t in wanted.items()]).with_columns(f_at.alias(FINDING_ROW))


def with_why(rows: pl.DataFrame, kpis: pl.DataFrame, findings: pl.DataFrame, currency: str) -> pl.DataFrame:
    """Add the ``why`` sentence to exception rows (any of them, in any order).

    Sentences are written only for the rows given: a page or file that shows twenty rows
    writes twenty sentences, the same text as for the whole list.

    Parameters
    ----------
    rows
        Rows of ``EngineResult.exception_rows`` (with :data:`FINDING_ROW`; more columns may follow).
    kpis
        ``EngineResult.kpis``.
    findings
        ``EngineResult.governance``.
    currency
        Currency code for money in sentences.

    Returns
    -------
    pl.DataFrame
        ``rows`` with ``why`` in its place among the exception columns, without :data:`FINDING_ROW`.
    """
    is_milestone = (rows["kind"] == "milestone").fill_null(False).to_numpy()
    at_milestone, at_governance = np.flatnonzero(is_milestone), np.flatnonzero(~is_milestone)
    about = rows[at_milestone]
    named = kpis.filter(pl.col("kpi_id").is_in(about["kpi_id"].drop_nulls().implode()))
    clauses = named.select("kpi_id", kpi_clause().alias("kpi_clause"))
    about = about.join(clauses, on="kpi_id", how="left", maintain_order="left")
    largest = _largest(about["value_at_risk"])
    milestone_text = about.select(milestone_why(currency, largest).alias("why")).to_series()
    found = rows[at_governance]
    subject = ["subject", "subject_id", "detail"]
    found = found.with_columns(findings.select(pl.col(subject).gather(found[FINDING_ROW])).get_columns())
    governance_text = found.select(governance_why().alias("why")).to_series()
    # each row's sentence: milestone sentences first, then governance ones
    place = np.empty(rows.height, dtype=np.int64)
    place[at_milestone] = np.arange(at_milestone.size)
    place[at_governance] = at_milestone.size + np.arange(at_governance.size)
    why = pl.concat([milestone_text, governance_text]).cast(pl.String).gather(place)
    order = [*EXCEPTION_COLUMNS, *(c for c in rows.columns if c not in EXCEPTION_COLUMNS and c != FINDING_ROW)]
    return rows.with_columns(why.alias("why")).select(order)
