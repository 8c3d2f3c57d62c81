"""Everything DOMAIN.md sections 2-3 derive from one snapshot, in one call.

>>> result = compute(portfolio, Settings())          # doctest: +SKIP
>>> result.milestone("M1")["computed_finish"]        # doctest: +SKIP
datetime.date(2026, 9, 21)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

from kpi_engine.core.errors import NotFoundError
from kpi_engine.core.money import cents_array, round_cents
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.references import Positions, References, positions
from kpi_engine.core.settings import Settings
from kpi_engine.engine.escalation import milestone_escalation, pair_escalation_at
from kpi_engine.engine.exception_list import build_exception_list, with_why
from kpi_engine.engine.governance import findings_with_rows
from kpi_engine.engine.kpis import kpi_projection, link_figures
from kpi_engine.engine.schedule import Schedule, prepare_schedule
from kpi_engine.engine.status import computed_status

#: Key of an exception row across snapshots (used for "new since the previous snapshot").
EXCEPTION_KEY = ["kind", "milestone_id", "kpi_id", "finding"]


@dataclass(frozen=True)
class EngineResult:
    """The engine's output for one snapshot (or one scenario on top of it).

    Attributes
    ----------
    milestones
        Every milestone with project context, ``computed_finish``, ``slip_days``,
        ``computed_status``, normalised ``reported_status``, ``watermelon``,
        ``value_at_risk`` (sum over its links), ``escalation_level`` and ``escalate_to``.
    links
        Every resolvable (milestone, KPI) pair with ``kpi_impact``, ``value_at_risk``
        and its escalation.
    kpis
        Every KPI with ``projected``, ``shortfall`` and ``misses``.
    governance
        One row per governance finding.
    exception_rows
        The ordered exception list without its ``why`` sentences (DOMAIN.md section 3
        fields plus context columns, ``new``: not in the previous snapshot's list, and
        a hidden finding position). :attr:`exceptions` is the whole list with sentences;
        :meth:`with_why` writes them for chosen rows only.
    references
        The row each id of the portfolio's links, tasks and dependencies names in
        ``milestones`` and ``kpis`` (resolved once, for drill-downs that walk them).
    """

    portfolio: Portfolio
    settings: Settings
    milestones: pl.DataFrame
    links: pl.DataFrame
    kpis: pl.DataFrame
    governance: pl.DataFrame
    exception_rows: pl.DataFrame
    references: References

    @cached_property
    def exceptions(self) -> pl.DataFrame:
        """The ordered exception list with every row's ``why`` sentence (written on first use)."""
        return self.with_why(self.exception_rows)

    def with_why(self, rows: pl.DataFrame) -> pl.DataFrame:
        """Return rows of :attr:`exception_rows` (filtered, reordered, with more columns) with their ``why``.

        The sentences are the same as in :attr:`exceptions`; only the rows given are written.
        """
        return with_why(rows, self.kpis, self.governance, self.settings.currency)

    def milestone(self, milestone_id: str) -> dict[str, object]:
        """Return one milestone's figures as a dict (NotFoundError when unknown)."""
        return _one(self.milestones, "milestone_id", milestone_id, "milestone")

    def kpi(self, kpi_id: str) -> dict[str, object]:
        """Return one KPI's figures as a dict (NotFoundError when unknown)."""
        return _one(self.kpis, "kpi_id", kpi_id, "KPI")

    def link(self, milestone_id: str, kpi_id: str) -> dict[str, object]:
        """Return one (milestone, KPI) pair's figures as a dict (NotFoundError when unknown)."""
        rows = self.links.filter((pl.col("milestone_id") == milestone_id) & (pl.col("kpi_id") == kpi_id))
        if rows.height == 0:
            raise NotFoundError(f"no link from milestone '{milestone_id}' to KPI '{kpi_id}'")
        return rows.row(0, named=True)

    @property
    def value_at_risk_total(self) -> float:
        """Total value at risk over all links, to the cent."""
        return round_cents(float(self.links["value_at_risk"].sum()))


def _one(frame: pl.DataFrame, column: str, value: str, label: str) -> dict[str, object]:
    rows = frame.filter(pl.col(column) == value)
    if rows.height == 0:
        raise NotFoundError(f"there is no {label} '{value}' in this snapshot")
    return rows.row(0, named=True)


def compute(
    portfolio: Portfolio, settings: Settings | None = None, previous: EngineResult | None = None
) -> EngineResult:
    """Compute every derived figure and the exception list of one snapshot.

    Parameters
    ----------
    portfolio
        The snapshot's canonical tables and ``as_of``.
    settings
        Thresholds and currency; defaults to :class:`Settings`.
    previous
        The previous snapshot's result, for the "Amber or Red last week too" escalation
        rule and the ``new`` flag of exceptions.

    Raises
    ------
    CycleError
        When the dependencies form a cycle.
    """
    schedule = prepare_schedule(portfolio)
    return evaluate(portfolio, schedule, schedule.finish(), settings or Settings(), previous)


def evaluate(
    portfolio: Portfolio,
    schedule: Schedule,
    finish: np.ndarray,
    settings: Settings,
    previous: EngineResult | None = None,
    findings: pl.DataFrame | None = None,
) -> EngineResult:
    """Derive every figure from given computed finishes (day numbers, one per milestone).

    :func:`compute` passes the snapshot's own finishes; scenarios pass changed ones.
    """
    refs = schedule.refs
    if findings is None:
        findings, finding_rows = findings_with_rows(portfolio, refs)
    else:
        finding_rows = finding_positions(findings, portfolio.milestones, portfolio.kpis)
    milestones, links, kpis, positions = _statuses(portfolio, schedule, finish, settings)
    link_rows = positions[0]

    finding_milestones = finding_rows[0][finding_rows[0] >= 0]
    has_finding = np.bincount(finding_milestones, minlength=milestones.height) > 0
    if previous is not None:
        previous_status = previous.milestones.select("milestone_id", pl.col("computed_status").alias("previous_status"))
        milestones = milestones.join(previous_status, on="milestone_id", how="left", maintain_order="left")
    else:
        milestones = milestones.with_columns(pl.lit(None, dtype=pl.String).alias("previous_status"))
    milestones = milestones.with_columns(pl.Series("has_finding", has_finding))
    kpi_context = kpis.join(
        portfolio.objectives.select(
            "objective_id", pl.col("name").alias("objective_name"), pl.col("owner").alias("objective_owner")
        ),
        on="objective_id",
        how="left",
        maintain_order="left",
    )
    pairs = pair_escalation_at(links, positions, milestones, kpi_context, settings)
    lonely_rows = np.flatnonzero(~refs.linked_milestones(milestones.height))
    lonely = milestone_escalation(
        milestones.select("computed_status", "previous_status", "has_finding", "project_owner", "sponsor")[lonely_rows]
    )
    milestones = roll_up(milestones, pairs, link_rows, lonely, lonely_rows)
    rows = build_exception_list(
        milestones,
        kpi_context,
        pairs,
        positions,
        lonely,
        lonely_rows,
        governance_escalation(findings, milestones, kpi_context, finding_rows, portfolio.projects),
        finding_rows,
    )
    if previous is not None:
        rows = flag_new(rows, previous.exception_rows)
    else:
        rows = rows.with_columns(pl.lit(False).alias("new"))
    return EngineResult(
        portfolio=portfolio,
        settings=settings,
        milestones=milestones,
        links=pairs.select(
            "milestone_id",
            "kpi_id",
            "kpi_delta",
            "ramp_days",
            "value_per_week",
            "kpi_impact",
            "value_at_risk",
            "escalation_level",
            "escalate_to",
            "escalate_role",
        ),
        kpis=kpi_context,
        governance=findings,
        exception_rows=rows,
        references=refs,
    )


#: The tables :func:`statuses` reads (a store may load only these).
STATUS_TABLES = ("milestones", "tasks", "dependencies", "links", "kpis", "kpi_actuals", "projects")


def statuses(portfolio: Portfolio, settings: Settings | None = None) -> pl.DataFrame:
    """Return every milestone as :attr:`EngineResult.milestones` has it, up to its status and project.

    The columns of :func:`compute`'s milestones before the escalation and the roll-up:
    the schedule, ``computed_status``, the normalised ``reported_status``, ``watermelon``
    and the project's name, program, portfolio, owner and sponsor; the same values,
    without the governance findings, escalations and exception list (what a snapshot's
    status reports need). Reads only the tables of :data:`STATUS_TABLES`.

    Raises
    ------
    CycleError
        When the dependencies form a cycle.
    """
    schedule = prepare_schedule(portfolio)
    milestones, *_ = _statuses(portfolio, schedule, schedule.finish(), settings or Settings())
    return milestones


def _statuses(
    portfolio: Portfolio, schedule: Schedule, finish: np.ndarray, settings: Settings
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, Positions]:
    """Milestones with finishes, statuses and project columns; link figures; KPI projections; link rows.

    The links are those whose milestone and KPI exist; the positions hold the row of each
    one's milestone and KPI (milestones keep their order).
    """
    milestones = schedule.with_finish(finish)
    known, positions = schedule.refs.resolvable_links(portfolio.links)
    links = link_figures(known, milestones, portfolio.kpis, positions)
    kpis = kpi_projection(portfolio.kpis, portfolio.kpi_actuals, known, milestones, portfolio.as_of, positions)
    milestones = computed_status(milestones, links, kpis, settings, positions)
    projects = portfolio.projects.select(
        "project_id",
        pl.col("name").alias("project_name"),
        "program",
        "portfolio",
        pl.col("owner").alias("project_owner"),
        "sponsor",
    )
    milestones = milestones.join(projects, on="project_id", how="left", maintain_order="left")
    return milestones, links, kpis, positions


def roll_up(
    milestones: pl.DataFrame, pairs: pl.DataFrame, pair_rows: np.ndarray, lonely: pl.DataFrame, lonely_rows: np.ndarray
) -> pl.DataFrame:
    """Give each milestone its total value at risk and its highest escalation.

    ``pair_rows`` and ``lonely_rows`` are the milestone row of each row of ``pairs`` and
    ``lonely`` (the escalation of the milestones tied to no KPI, which have no value at
    risk). Of a milestone's pairs at its highest level, the first one names whom to tell.
    A milestone is either linked (it has pairs) or lonely, so the rows gathered below hold
    every milestone exactly once.
    """
    n = milestones.height
    value = np.bincount(pair_rows, weights=pairs["value_at_risk"].fill_null(0.0).to_numpy(), minlength=n).astype(
        np.float64
    )
    level = pairs["escalation_level"].to_numpy()
    # each milestone's highest level, then the first of its pairs at that level: no sort needed
    highest = np.full(n, -1, dtype=np.int64)
    np.maximum.at(highest, pair_rows, level)
    at_highest = np.flatnonzero(level == highest[pair_rows])
    first = np.full(n, len(level), dtype=np.int64)
    np.minimum.at(first, pair_rows[at_highest], at_highest)
    linked = np.flatnonzero(first < len(level))
    firsts = first[linked]
    rows = np.concatenate([linked, lonely_rows]).astype(np.int64)
    escalation = ["escalation_level", "escalate_to", "escalate_role"]
    # one chunk: a gather from a frame of several chunks costs about twice as much
    top = pl.concat([pairs.select(escalation)[firsts], lonely.select(escalation)], rechunk=True)
    place = np.full(n, -1, dtype=np.int64)
    place[rows] = np.arange(rows.size)
    at = pl.Series(place)
    return milestones.with_columns(top.select(pl.col(escalation).gather(at)).get_columns()).with_columns(
        pl.Series("value_at_risk", cents_array(value)), pl.col("escalation_level").fill_null(0)
    )


def flag_new(rows: pl.DataFrame, known: pl.DataFrame) -> pl.DataFrame:
    """``rows`` (exception rows) with ``new``: True where no row of ``known`` has the same :data:`EXCEPTION_KEY`."""
    keys = known.select(EXCEPTION_KEY).unique().with_columns(pl.lit(False).alias("new"))
    rows = rows.join(keys, on=EXCEPTION_KEY, how="left", nulls_equal=True, maintain_order="left")
    return rows.with_columns(pl.col("new").fill_null(True))


def finding_positions(findings: pl.DataFrame, milestones: pl.DataFrame, kpis: pl.DataFrame) -> Positions:
    """The milestone row and the KPI row each finding concerns (-1 for none)."""
    (m,) = positions([findings["milestone_id"]], milestones["milestone_id"])
    (k,) = positions([findings["kpi_id"]], kpis["kpi_id"])
    return m, k


def _with_null_row(column: pl.Series) -> pl.Series:
    """``column`` with one null appended: gathering its last position gives null."""
    return pl.concat([column, column.clear(1)])


def governance_escalation(
    findings: pl.DataFrame, milestones: pl.DataFrame, kpis: pl.DataFrame, rows: Positions, projects: pl.DataFrame
) -> pl.DataFrame:
    """Decide who should fix each finding (``rows``: the milestone and KPI row of each).

    A milestone's finding goes to its project owner (level 1); a KPI's to its owner, or
    to its objective's owner when the KPI's own owner is the problem (level 2); a
    project's (it has no owner) to nobody but the PMO (level 0). A project's finding
    also carries that project's id and name (``project_id``, ``project_name``; null on
    other findings, whose project comes from their milestone).
    """
    is_project = pl.col("subject") == "project"
    if (findings["subject"] == "project").any():
        names = projects.select(pl.col("project_id").alias("subject_id"), pl.col("name").alias("project_name"))
        project = findings.select("subject", "subject_id").join(
            names.unique("subject_id", keep="first", maintain_order=True),
            on="subject_id",
            how="left",
            maintain_order="left",
        )
        project_columns = [
            project.select(pl.when(is_project).then(pl.col("subject_id")).alias("project_id")).to_series(),
            project.select(pl.when(is_project).then(pl.col("project_name")).alias("project_name")).to_series(),
        ]
    else:
        none = pl.repeat(None, findings.height, dtype=pl.String, eager=True)
        project_columns = [none.alias("project_id"), none.alias("project_name")]
    m, k = rows
    owners = (
        findings.select("subject", "finding")
        .with_columns(
            *project_columns,
            _with_null_row(milestones["project_owner"]).gather(np.where(m < 0, milestones.height, m)),
            *(_with_null_row(kpis[c]).gather(np.where(k < 0, kpis.height, k)) for c in ("owner", "objective_owner")),
        )
        .rename({"owner": "kpi_owner"})
    )
    owner_problem = pl.col("finding").is_in(["no owner", "several owners"])
    return owners.select(
        "finding",
        "project_id",
        "project_name",
        pl.when(pl.col("subject") == "kpi")
        .then(2)
        .when(pl.col("project_owner").is_not_null())
        .then(1)
        .when(pl.col("kpi_owner").is_not_null())
        .then(2)
        .otherwise(0)
        .cast(pl.Int64)
        .alias("escalation_level"),
        pl.when((pl.col("subject") == "kpi") & owner_problem)
        .then(pl.coalesce("objective_owner", "kpi_owner"))
        .when(pl.col("subject") == "kpi")
        .then(pl.col("kpi_owner"))
        .when(pl.col("project_owner").is_not_null())
        .then(pl.col("project_owner"))
        .otherwise(pl.col("kpi_owner"))
        .alias("escalate_to"),
        pl.when((pl.col("subject") == "kpi") & owner_problem & pl.col("objective_owner").is_not_null())
        .then(pl.lit("objective owner"))
        .when(pl.col("subject") == "kpi")
        .then(pl.lit("KPI owner"))
        .when(pl.col("project_owner").is_not_null())
        .then(pl.lit("project owner"))
        .when(pl.col("kpi_owner").is_not_null())
        .then(pl.lit("KPI owner"))
        .alias("escalate_role"),
    )
