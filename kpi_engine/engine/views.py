"""Read-only views of an engine result that the dashboard pages show.

Each function takes frames of an :class:`~kpi_engine.engine.compute.EngineResult` (or the
result itself) and returns a small frame or dict ready to display: filtered exception
lists, heatmap cells, KPI trajectories, a milestone's dependencies and the causal
chain behind an exception. Nothing here changes a figure the engine computed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from typing import Literal

import numpy as np
import polars as pl

from kpi_engine.core.money import cents
from kpi_engine.core.references import UNKNOWN
from kpi_engine.core.schema import STATUS_RANK, TABLES
from kpi_engine.core.text import kpi_value
from kpi_engine.engine.compute import EngineResult
from kpi_engine.engine.graph import grouped_by_source, out_edges
from kpi_engine.engine.kpis import latest_actuals, ramp
from kpi_engine.engine.schedule import as_date, days
from kpi_engine.ingest.headers import accepted_headers, normalise_header
from kpi_engine.ingest.model import SourceFile
from kpi_engine.ingest.readers import read_sheets

# --------------------------------------------------------------------------- exceptions


@dataclass(frozen=True)
class ExceptionFilter:
    """What an executive narrows the exception list to; an empty tuple means "all".

    ``owners`` matches anyone named on a row: the milestone owner, the KPI owner or the
    person the row escalates to, so "everything Dana must look at" is one choice.
    Being frozen and made of tuples, a filter can key a cache.
    """

    portfolios: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()
    kpis: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    escalation_levels: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()
    watermelons_only: bool = False
    new_only: bool = False
    #: only rows with no decision yet (needs the loop's ``decision`` column)
    undecided_only: bool = False


def filter_exceptions(exceptions: pl.DataFrame, chosen: ExceptionFilter) -> pl.DataFrame:
    """Return the exception rows that pass every filter, in the engine's order.

    Parameters
    ----------
    exceptions
        ``EngineResult.exceptions``.
    chosen
        The filters; empty ones let everything through.
    """
    conditions: list[pl.Expr] = []
    for column, values in (
        ("portfolio", chosen.portfolios),
        ("program", chosen.programs),
        ("project_id", chosen.projects),
        ("objective_id", chosen.objectives),
        ("kpi_id", chosen.kpis),
        ("escalation_level", chosen.escalation_levels),
        ("kind", chosen.kinds),
    ):
        if values:
            conditions.append(pl.col(column).is_in(pl.Series(list(values)).implode()))
    if chosen.owners:
        names = pl.Series(list(chosen.owners)).implode()
        conditions.append(
            pl.col("owner").is_in(names) | pl.col("kpi_owner").is_in(names) | pl.col("escalate_to").is_in(names)
        )
    if chosen.watermelons_only:
        conditions.append(pl.col("watermelon").fill_null(False))
    if chosen.new_only:
        conditions.append(pl.col("new").fill_null(False))
    if chosen.undecided_only and "decision" in exceptions.columns:
        conditions.append(pl.col("decision").is_null())
    if not conditions:
        return exceptions
    return exceptions.filter(pl.all_horizontal(conditions).fill_null(False))


def exception_rows(
    result: EngineResult, chosen: ExceptionFilter, exceptions: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Return the filtered exception list with each milestone's ``percent_complete`` added.

    ``exceptions`` replaces ``result.exceptions`` when given (the list with the escalation
    loop's decisions, :func:`kpi_engine.loop.views.exceptions_with_loop`).
    """
    progress = result.milestones.select("milestone_id", "percent_complete")
    listed = result.exceptions if exceptions is None else exceptions
    return filter_exceptions(listed, chosen).join(progress, on="milestone_id", how="left", maintain_order="left")


def _labelled(frame: pl.DataFrame, value: str, label: str | None = None) -> dict[str, str]:
    """Distinct non-blank values of a column, with a label each, sorted by label."""
    label_expr = pl.col(value) if label is None else pl.coalesce(pl.col(label), pl.col(value))
    if label is not None:
        label_expr = pl.format("{} ({})", label_expr, pl.col(value))
    pairs = (
        frame.filter(pl.col(value).is_not_null())
        .select(pl.col(value).cast(pl.String).alias("value"), label_expr.cast(pl.String).alias("label"))
        .unique(subset="value", keep="first")
        .sort("label")
    )
    return dict(zip(pairs["value"].to_list(), pairs["label"].to_list(), strict=False))


def filter_options(exceptions: pl.DataFrame) -> dict[str, dict[str, str]]:
    """Return the choices each exception filter offers: filter name -> {value: label}.

    Keys match the fields of :class:`ExceptionFilter`; escalation levels come as text
    ("0".."3") so every choice list has one shape.
    """
    people = pl.concat([exceptions.select(pl.col(c).alias("person")) for c in ("owner", "kpi_owner", "escalate_to")])
    return {
        "portfolios": _labelled(exceptions, "portfolio"),
        "programs": _labelled(exceptions, "program"),
        "projects": _labelled(exceptions, "project_id", "project_name"),
        "objectives": _labelled(exceptions, "objective_id", "objective_name"),
        "kpis": _labelled(exceptions, "kpi_id", "kpi_name"),
        "owners": _labelled(people, "person"),
        "escalation_levels": _labelled(
            exceptions.with_columns(pl.col("escalation_level").cast(pl.String)), "escalation_level"
        ),
        "kinds": _labelled(exceptions, "kind"),
    }


#: The Exceptions page's list filters in its address: query parameter -> ExceptionFilter field.
#: Links (the digests', a shared view) use these names; each may repeat: ``?program=A&program=B``.
EXCEPTION_URL_FILTERS: dict[str, str] = {
    "portfolio": "portfolios",
    "program": "programs",
    "project": "projects",
    "objective": "objectives",
    "kpi": "kpis",
    "owner": "owners",
    "level": "escalation_levels",
    "kind": "kinds",
}
#: On/off filters in the address (``?watermelons=true``): query parameter -> ExceptionFilter field.
EXCEPTION_URL_SWITCHES: dict[str, str] = {
    "watermelons": "watermelons_only",
    "new": "new_only",
    "undecided": "undecided_only",
}
#: The query parameter naming the row the drill-down opens (:func:`exception_key`).
EXCEPTION_URL_ITEM = "item"


def exception_key(exceptions: pl.DataFrame) -> pl.Series:
    """Return the key a link names an exception row by: ``M1:K1``, ``M1`` (no KPI), ``K1`` (no milestone)
    or the project of a finding on a project (``P-9``: neither).

    Rows of one milestone and KPI (e.g. a governance finding on top of a slip) share a key;
    a link opens the first of them in the list's order.

    >>> rows = pl.DataFrame({"milestone_id": ["M1", None, None], "kpi_id": ["K1", "K2", None],
    ...                      "project_id": ["P-1", None, "P-9"]})
    >>> exception_key(rows).to_list()
    ['M1:K1', 'K2', 'P-9']
    """
    return exceptions.select(
        pl.when(pl.col("milestone_id").is_not_null() & pl.col("kpi_id").is_not_null())
        .then(pl.format("{}:{}", pl.col("milestone_id"), pl.col("kpi_id")))
        .otherwise(pl.coalesce("milestone_id", "kpi_id", "project_id", pl.lit("")))
        .alias("key")
    )["key"]


def exception_position(exceptions: pl.DataFrame, key: str, finding: str, default: int) -> int:
    """Return the position of the row with this key and finding, or ``default`` when there is none.

    >>> rows = pl.DataFrame({"milestone_id": ["M5", "M5"], "kpi_id": [None, None], "project_id": ["P-1", "P-1"],
    ...                      "finding": [None, "several owners"]})
    >>> exception_position(rows, "M5", "several owners", default=0)
    1
    """
    found = (
        exceptions.with_row_index("_at")
        .filter((exception_key(exceptions) == key) & (pl.col("finding") == finding))
        .get_column("_at")
    )
    return int(found[0]) if found.len() else default


def exceptions_query(chosen: ExceptionFilter | None = None, item: str | None = None) -> dict[str, list[str]]:
    """Return the query parameters that open the Exceptions page on ``chosen`` (and a row's drill-down).

    >>> exceptions_query(ExceptionFilter(programs=("Fleet",), watermelons_only=True), item="M1:K1")
    {'program': ['Fleet'], 'watermelons': ['true'], 'item': ['M1:K1']}
    """
    chosen = chosen or ExceptionFilter()
    query: dict[str, list[str]] = {}
    for name, field in EXCEPTION_URL_FILTERS.items():
        values = getattr(chosen, field)
        if values:
            query[name] = [str(v) for v in values]
    for name, field in EXCEPTION_URL_SWITCHES.items():
        if getattr(chosen, field):
            query[name] = ["true"]
    if item:
        query[EXCEPTION_URL_ITEM] = [item]
    return query


def unknown_filter_values(query: dict[str, list[str]], options: dict[str, dict[str, str]]) -> list[str]:
    """Say which values a link's filters name that this snapshot does not offer (they are ignored).

    ``query`` maps query parameters to their values; ``options`` is :func:`filter_options`.

    >>> unknown_filter_values({"program": ["Fleet", "Moon"], "x": ["1"]}, {"programs": {"Fleet": "Fleet"}})
    ["program 'Moon'"]
    """
    unknown = []
    for name, field in EXCEPTION_URL_FILTERS.items():
        known = options.get(field, {})
        unknown += [f"{name} '{v}'" for v in query.get(name, []) if v and v not in known]
    for name in EXCEPTION_URL_SWITCHES:
        unknown += [f"{name} '{v}'" for v in query.get(name, []) if v.lower() not in ("true", "false")]
    return unknown


def exception_label(exceptions: pl.DataFrame) -> pl.Series:
    """Return a short label per exception row for a picker: "M1 Routing ... -> Cost per mile".

    A governance finding is labelled with what it is on: its milestone, else its KPI, else
    its project (id and name, ``P-9 Depot build: project has no owner``); a finding on
    none of them (a task naming an unknown milestone) with its ``why`` sentence, which
    names its subject.

    >>> rows = pl.DataFrame({"kind": ["governance"], "milestone_id": [None], "milestone_name": [None],
    ...                      "kpi_id": [None], "kpi_name": [None], "project_id": ["P-9"],
    ...                      "project_name": ["Depot build"], "finding": ["project has no owner"], "why": ["..."]})
    >>> exception_label(rows).to_list()
    ['P-9 Depot build: project has no owner']
    """
    project = (
        pl.when(pl.col("project_name").is_null() | (pl.col("project_name") == pl.col("project_id")))
        .then(pl.col("project_id"))
        .otherwise(pl.format("{} {}", pl.col("project_id"), pl.col("project_name")))
    )
    subject = pl.coalesce("milestone_id", "kpi_id", project)
    return exceptions.select(
        pl.when((pl.col("kind") == "governance") & subject.is_not_null())
        .then(pl.format("{}: {}", subject, pl.col("finding")))
        .when(pl.col("kind") == "governance")
        .then(pl.col("why"))
        .when(pl.col("kpi_id").is_null())
        .then(pl.format("{} {}", pl.col("milestone_id"), pl.col("milestone_name")))
        .otherwise(pl.format("{} {} -> {}", pl.col("milestone_id"), pl.col("milestone_name"), pl.col("kpi_name")))
        .alias("label")
    )["label"]


# --------------------------------------------------------------------------- long tables and pickers

#: Rows a page sends to the browser in one table: converting 100,000 rows for display
#: costs most of a second on every rerun and nobody scrolls that far. Downloads keep every row.
TABLE_ROWS = 1_000
#: Choices a picker offers at most; a search box finds the others.
CHOICES = 1_000


def shown_caption(shown: int, total: int, noun: str = "rows", narrow: str = "filter to narrow") -> str | None:
    """Say that a table shows only its first rows (None when it shows them all).

    >>> shown_caption(1_000, 109_089)
    'Showing the first 1,000 of 109,089 rows; filter to narrow, or export all'
    """
    if shown >= total:
        return None
    return f"Showing the first {shown:,} of {total:,} {noun}; {narrow}, or export all"


def offered_choices(
    choices: pl.DataFrame,
    id_column: str,
    search: str = "",
    keep: Iterable[str] = (),
    limit: int = CHOICES,
) -> list[str]:
    """Return the ids a picker offers: the first ``limit`` matches, then the ``keep`` ones.

    Parameters
    ----------
    choices
        One row per choice, in the order the picker lists them, with ``id_column`` and ``label``.
    id_column
        The column of the ids (the picker's values).
    search
        Text the label must contain, ignoring case (blank: every choice matches).
    keep
        Ids offered even when they do not match or are beyond ``limit`` (those already
        picked: a picker must offer its own value); ids ``choices`` does not hold are dropped.
    limit
        How many matches to offer at most.
    """
    wanted = search.strip().lower()
    matches = choices.lazy()
    if wanted:
        matches = matches.filter(pl.col("label").str.to_lowercase().str.contains(wanted, literal=True))
    offered = matches.head(limit).select(id_column).collect()[id_column].to_list()
    already = set(offered)
    extra = [k for k in dict.fromkeys(keep) if k not in already]
    if extra:
        known = set(choices.filter(pl.col(id_column).is_in(pl.Series(extra, dtype=pl.String).implode()))[id_column])
        offered += [k for k in extra if k in known]
    return offered


# --------------------------------------------------------------------------- portfolio pulse


def kpi_tiles(kpis: pl.DataFrame, previous_kpis: pl.DataFrame | None = None) -> pl.DataFrame:
    """Return one row per KPI for the pulse tiles, with the change since the previous snapshot.

    Columns: the KPI's ``kpi_id``, ``name``, ``unit``, ``direction``, ``objective_name``,
    ``projected``, ``target_value``, ``target_date``, ``shortfall``, ``misses``, plus
    ``previous_projected`` (null without a previous snapshot or KPI), ``change``
    (projected - previous), ``trend`` ("better", "worse", "unchanged" or null) and
    ``status`` (Red when the KPI misses its target, else Green).
    Misses come first, largest shortfall relative to the target first.
    """
    base = kpis.select(
        "kpi_id",
        "name",
        "unit",
        "direction",
        "objective_name",
        "projected",
        "target_value",
        "target_date",
        "shortfall",
        "misses",
    )
    previous = (
        previous_kpis.select("kpi_id", pl.col("projected").alias("previous_projected"))
        if previous_kpis is not None
        else pl.DataFrame(schema={"kpi_id": pl.String, "previous_projected": pl.Float64})
    )
    change = pl.col("projected") - pl.col("previous_projected")
    good_change = pl.when(pl.col("direction") == "lower_is_better").then(-pl.col("change")).otherwise(pl.col("change"))
    relative = pl.col("shortfall") / pl.col("target_value").abs().clip(lower_bound=1e-9)
    return (
        base.join(previous, on="kpi_id", how="left")
        .with_columns(change.alias("change"))
        .with_columns(
            pl.when(pl.col("change").is_null())
            .then(pl.lit(None, pl.String))
            .when(good_change > 1e-9)
            .then(pl.lit("better"))
            .when(good_change < -1e-9)
            .then(pl.lit("worse"))
            .otherwise(pl.lit("unchanged"))
            .alias("trend"),
            pl.when(pl.col("misses")).then(pl.lit("Red")).otherwise(pl.lit("Green")).alias("status"),
        )
        .with_columns(relative.alias("_relative"))
        .sort(["misses", "_relative", "kpi_id"], descending=[True, True, False])
        .drop("_relative")
    )


@dataclass(frozen=True)
class PulseCounts:
    """The headline numbers of a snapshot (and the previous one's, for deltas)."""

    value_at_risk: float
    red: int
    watermelons: int
    escalations: int
    top_level_escalations: int
    exceptions: int
    new_exceptions: int


def pulse_counts(result: EngineResult) -> PulseCounts:
    """Count what the home page headlines.

    ``escalations`` counts exception rows that name someone who must act (level >= 1);
    ``top_level_escalations`` those that reach an objective owner or sponsor (level 3).
    """
    milestones, exceptions = result.milestones, result.exception_rows  # counts need no sentences
    return PulseCounts(
        value_at_risk=result.value_at_risk_total,
        red=int((milestones["computed_status"] == "Red").sum()),
        watermelons=int(milestones["watermelon"].sum()),
        escalations=int((exceptions["escalation_level"] >= 1).sum()),
        top_level_escalations=int((exceptions["escalation_level"] >= 3).sum()),
        exceptions=exceptions.height,
        new_exceptions=int(exceptions["new"].sum()),
    )


@dataclass(frozen=True)
class ExceptionTotals:
    """What the Exceptions page says about a listed set of rows, above its table."""

    rows: int
    value_at_risk: float
    watermelon_rows: int
    watermelon_milestones: int


def exception_totals(rows: pl.DataFrame) -> ExceptionTotals:
    """Count the listed exception rows, their value at risk and their watermelons (rows and milestones).

    One pass over ``rows`` (:func:`exception_rows`), kept by the page's loader with the list,
    so that a rerun that does not change the list does not count it again.
    """
    totals = rows.select(
        pl.col("value_at_risk").sum(),
        pl.col("watermelon").fill_null(False).sum().alias("watermelon_rows"),
        pl.col("milestone_id").filter(pl.col("watermelon").fill_null(False)).n_unique().alias("melons"),
    ).row(0)
    return ExceptionTotals(rows.height, float(totals[0] or 0.0), int(totals[1]), int(totals[2]))


#: KPI tiles the pulse draws at most; the other misses are one link away (the KPIs page).
PULSE_TILES = 12


@dataclass(frozen=True)
class PulseKpis:
    """The KPIs of the pulse page: tiles for the worst misses, a table for the rest.

    Attributes
    ----------
    tiles
        The missing KPIs drawn as tiles (at most :data:`PULSE_TILES`), worst first.
    missing
        How many KPIs miss their target.
    on_track
        Every KPI that meets its target (rows of :func:`kpi_tiles`).
    total
        How many KPIs the snapshot holds.
    """

    tiles: pl.DataFrame
    missing: int
    on_track: pl.DataFrame
    total: int

    @property
    def more_missing(self) -> int:
        """Missing KPIs without a tile."""
        return self.missing - self.tiles.height


def pulse_kpis(kpis: pl.DataFrame, previous_kpis: pl.DataFrame | None = None, tiles: int = PULSE_TILES) -> PulseKpis:
    """Split the KPIs into the worst misses (tiles) and those on track.

    Misses are ordered as :func:`kpi_tiles` orders them: largest shortfall relative to
    the target first, so a KPI short by 20% of its target comes before one short by 1%
    whatever their units.
    """
    rows = kpi_tiles(kpis, previous_kpis)
    missing = rows.filter(pl.col("misses"))
    return PulseKpis(
        tiles=missing.head(tiles), missing=missing.height, on_track=rows.filter(~pl.col("misses")), total=rows.height
    )


#: Bars the value-at-risk chart draws at most; the smaller groups share one bar.
BAR_GROUPS = 15


def value_at_risk_by(
    milestones: pl.DataFrame,
    by: Literal["program", "portfolio", "project"] = "program",
    groups: int | None = None,
) -> pl.DataFrame:
    """Sum the value at risk of milestones per group and computed status (groups with none left out).

    Parameters
    ----------
    milestones
        ``EngineResult.milestones``.
    by
        The grouping.
    groups
        When given and there are more groups, the ``groups - 1`` largest are kept and the
        rest are summed into one last group, "<n> other <by>s" (a chart of 10,000 bars
        tells an executive nothing).

    Returns
    -------
    polars.DataFrame
        ``<by>`` (the group label), ``computed_status``, ``milestones``, ``value_at_risk``;
        largest group total first (the summed rest last).
    """
    label = (
        pl.coalesce("project_name", "project_id") if by == "project" else pl.col(by).fill_null(f"(no {by})")
    ).alias(by)
    frame = (
        milestones.filter(pl.col("value_at_risk") > 0)
        .group_by(label, "computed_status")
        .agg(pl.len().cast(pl.Int64).alias("milestones"), cents(pl.col("value_at_risk").sum()).alias("value_at_risk"))
        .with_columns(cents(pl.col("value_at_risk").sum().over(by)).alias("_total"))
        .sort(["_total", by, "computed_status"], descending=[True, False, False])
        .drop("_total")
    )
    names = frame[by].unique(maintain_order=True)
    if groups is None or names.len() <= groups:
        return frame
    kept = names.head(max(groups - 1, 0))
    rest = (
        frame.filter(~pl.col(by).is_in(kept.implode()))
        .group_by("computed_status")
        .agg(pl.col("milestones").sum(), cents(pl.col("value_at_risk").sum()).alias("value_at_risk"))
        .sort("computed_status")
        .select(
            pl.lit(f"{names.len() - kept.len():,} other {by}s").alias(by),
            "computed_status",
            "milestones",
            "value_at_risk",
        )
    )
    return pl.concat([frame.filter(pl.col(by).is_in(kept.implode())), rest])


# --------------------------------------------------------------------------- heatmaps

HeatmapBy = Literal["program", "project"]
#: What colours a slip heatmap's cells.
SlipMeasure = Literal["max_slip_days", "value_at_risk"]


def _group_label(by: HeatmapBy) -> pl.Expr:
    if by == "program":
        return pl.col("program").fill_null("(no program)")
    return pl.coalesce("project_name", "project_id")


def slip_heatmap(milestones: pl.DataFrame, by: HeatmapBy = "program") -> pl.DataFrame:
    """Aggregate milestones into (program or project) x month-due cells.

    The month is that of the baseline finish: the month the work was promised for.

    Returns
    -------
    polars.DataFrame
        ``group``, ``month`` ("YYYY-MM"), ``milestones``, ``late`` (slip > 0), ``red``,
        ``amber``, ``max_slip_days``, ``mean_slip_days``, ``value_at_risk``, sorted by
        group and month.
    """
    return (
        milestones.with_columns(
            _group_label(by).alias("group"),
            pl.col("baseline_finish").dt.strftime("%Y-%m").alias("month"),
        )
        .group_by("group", "month")
        .agg(
            pl.len().cast(pl.Int64).alias("milestones"),
            (pl.col("slip_days") > 0).sum().cast(pl.Int64).alias("late"),
            (pl.col("computed_status") == "Red").sum().cast(pl.Int64).alias("red"),
            (pl.col("computed_status") == "Amber").sum().cast(pl.Int64).alias("amber"),
            pl.col("slip_days").max().alias("max_slip_days"),
            pl.col("slip_days").mean().alias("mean_slip_days"),
            cents(pl.col("value_at_risk").sum()).alias("value_at_risk"),
        )
        .sort("group", "month")
    )


def milestones_in_cells(
    milestones: pl.DataFrame, by: HeatmapBy, cells: Iterable[tuple[str, str]] | None = None
) -> pl.DataFrame:
    """Return the milestones of the chosen heatmap cells (all when ``cells`` is empty).

    ``cells`` are (group, "YYYY-MM") pairs as :func:`slip_heatmap` labels them. Rows are
    ordered by value at risk, then slip, largest first.
    """
    frame = milestones.with_columns(
        _group_label(by).alias("group"), pl.col("baseline_finish").dt.strftime("%Y-%m").alias("month")
    )
    chosen = list(cells or [])
    if chosen:
        wanted = pl.DataFrame(
            {"group": [c[0] for c in chosen], "month": [c[1] for c in chosen]},
            schema={"group": pl.String, "month": pl.String},
        ).unique()
        frame = frame.join(wanted, on=["group", "month"], how="semi")
    return frame.sort(["value_at_risk", "slip_days", "milestone_id"], descending=[True, True, False], nulls_last=True)


def kpi_program_impact(links: pl.DataFrame, milestones: pl.DataFrame, kpis: pl.DataFrame) -> pl.DataFrame:
    """Aggregate the (milestone, KPI) links into KPI x program cells.

    KPIs have different units, so cells are compared by ``lost_share``: the share of the
    KPI movement the cell's links planned that their slips lose by the target date
    (sum of |kpi_impact| / sum of |kpi_delta|, 0 when nothing was planned).

    Returns
    -------
    polars.DataFrame
        ``kpi_id``, ``kpi``, ``unit``, ``program``, ``links``, ``kpi_delta``, ``kpi_impact``,
        ``lost_share``, ``value_at_risk``, and ``planned`` and ``lost`` (the two sums of the
        share, so cells can be added up: :func:`top_kpi_cells`).
    """
    planned = pl.col("kpi_delta").abs().sum()
    return (
        links.join(milestones.select("milestone_id", "program"), on="milestone_id", how="left")
        .join(kpis.select("kpi_id", pl.col("name").alias("kpi"), "unit"), on="kpi_id", how="left")
        .with_columns(pl.col("program").fill_null("(no program)"), pl.coalesce("kpi", "kpi_id").alias("kpi"))
        .group_by("kpi_id", "kpi", "unit", "program")
        .agg(
            pl.len().cast(pl.Int64).alias("links"),
            pl.col("kpi_delta").sum(),
            pl.col("kpi_impact").sum(),
            pl.when(planned > 0).then(pl.col("kpi_impact").abs().sum() / planned).otherwise(0.0).alias("lost_share"),
            cents(pl.col("value_at_risk").sum()).alias("value_at_risk"),
            planned.alias("planned"),
            pl.col("kpi_impact").abs().sum().alias("lost"),
        )
        .sort("kpi", "program")
    )


def links_in_cells(
    links: pl.DataFrame,
    milestones: pl.DataFrame,
    kpis: pl.DataFrame,
    cells: Iterable[tuple[str, str]] | None = None,
) -> pl.DataFrame:
    """Return the links (with milestone context) of the chosen (kpi_id, program) cells.

    All links when ``cells`` is empty; ordered by value at risk, then |KPI impact|.
    """
    frame = links.join(
        milestones.select(
            "milestone_id",
            pl.col("name").alias("milestone_name"),
            "project_name",
            "owner",
            pl.col("program").fill_null("(no program)"),
            "baseline_finish",
            "computed_finish",
            "slip_days",
            "computed_status",
        ),
        on="milestone_id",
        how="left",
    ).join(kpis.select("kpi_id", pl.col("name").alias("kpi_name"), "unit"), on="kpi_id", how="left")
    chosen = list(cells or [])
    if chosen:
        wanted = pl.DataFrame(
            {"kpi_id": [c[0] for c in chosen], "program": [c[1] for c in chosen]},
            schema={"kpi_id": pl.String, "program": pl.String},
        ).unique()
        frame = frame.join(wanted, on=["kpi_id", "program"], how="semi")
    return (
        frame.with_columns(pl.col("kpi_impact").abs().alias("_abs"))
        .sort(["value_at_risk", "_abs", "milestone_id"], descending=[True, True, False])
        .drop("_abs")
    )


#: Rows a heatmap draws at most: beyond a few dozen an executive can no longer read it
#: (and a chart of more than 5,000 cells is refused by the charting library).
HEATMAP_ROWS = 40
#: Columns (months due, or programs) a heatmap draws at most.
HEATMAP_COLUMNS = 60
#: How each heatmap measure chooses its rows, in words for a caption.
HEATMAP_MEASURES = {
    "max_slip_days": "worst slip",
    "value_at_risk": "most value at risk",
    "lost_share": "largest share of planned KPI movement lost",
}


@dataclass(frozen=True)
class HeatmapCells:
    """The cells a heatmap draws: those of its first rows (and columns) by a measure.

    Attributes
    ----------
    cells
        The kept cells with ``row_rank`` added (0 for the row the measure puts first).
    rows
        How many rows are drawn.
    rows_total
        How many rows there are.
    columns
        How many columns are drawn.
    columns_total
        How many columns the drawn rows have.
    """

    cells: pl.DataFrame
    rows: int
    rows_total: int
    columns: int
    columns_total: int

    @property
    def trimmed(self) -> bool:
        """True when some rows or columns are left out."""
        return self.rows < self.rows_total or self.columns < self.columns_total


def _ranked(cells: pl.DataFrame, key: str, rank: list[pl.Expr]) -> pl.DataFrame:
    """One row per ``key`` ordered by the ``rank`` aggregations, largest first, then by ``key``."""
    names = [f"_rank{i}" for i in range(len(rank))]
    return (
        cells.group_by(key)
        .agg([expr.alias(name) for expr, name in zip(rank, names, strict=False)])
        .sort([*names, key], descending=[True] * len(names) + [False], nulls_last=True)
        .select(key)
    )


def top_cells(
    cells: pl.DataFrame,
    row: str,
    column: str,
    rank: list[pl.Expr],
    rows: int = HEATMAP_ROWS,
    columns: int = HEATMAP_COLUMNS,
) -> HeatmapCells:
    """Keep the cells of the ``rows`` rows, and ``columns`` columns, that ``rank`` puts first.

    Parameters
    ----------
    cells
        One row per heatmap cell.
    row, column
        The columns naming a cell's row and column.
    rank
        Aggregations over a row's (or a column's) cells, compared in turn, largest first;
        ties go to the smaller name.
    rows, columns
        How many rows and columns to keep at most. Columns are chosen among the kept rows.
    """
    ranked_rows = _ranked(cells, row, rank).with_row_index("row_rank")
    shown = cells.join(ranked_rows.head(rows), on=row, how="inner", maintain_order="left")
    ranked_columns = _ranked(shown, column, rank)
    if ranked_columns.height > columns:
        shown = shown.join(ranked_columns.head(columns), on=column, how="semi", maintain_order="left")
    return HeatmapCells(
        cells=shown.with_columns(pl.col("row_rank").cast(pl.Int64)),
        rows=min(rows, ranked_rows.height),
        rows_total=ranked_rows.height,
        columns=min(columns, ranked_columns.height),
        columns_total=ranked_columns.height,
    )


def top_slip_cells(
    cells: pl.DataFrame,
    measure: SlipMeasure,
    rows: int = HEATMAP_ROWS,
    columns: int = HEATMAP_COLUMNS,
) -> HeatmapCells:
    """Keep the groups (and months) of :func:`slip_heatmap` cells with the worst slip or most value at risk.

    Worst slip ranks a group by its largest slip, then its value at risk; value at risk
    the other way round.
    """
    worst, money = pl.col("max_slip_days").max(), pl.col("value_at_risk").sum()
    rank = [worst, money] if measure == "max_slip_days" else [money, worst]
    return top_cells(cells, "group", "month", rank, rows, columns)


def top_kpi_cells(cells: pl.DataFrame, rows: int = HEATMAP_ROWS, columns: int = HEATMAP_COLUMNS) -> HeatmapCells:
    """Keep the KPIs (and programs) of :func:`kpi_program_impact` cells that lose the most.

    KPIs have different units, so a KPI is ranked by the share of its planned movement
    its slips lose across every program (then by value at risk); programs likewise
    across the kept KPIs.
    """
    planned, lost = pl.col("planned").sum(), pl.col("lost").sum()
    share = pl.when(planned > 0).then(lost / planned).otherwise(0.0)
    return top_cells(cells, "kpi_id", "program", [share, pl.col("value_at_risk").sum()], rows, columns)


def heatmap_caption(top: HeatmapCells, rows_noun: str, measure: str, columns_noun: str) -> str | None:
    """Say which rows a trimmed heatmap shows (None when it shows every row and column).

    >>> heatmap_caption(HeatmapCells(pl.DataFrame(), 40, 9_999, 31, 31), "projects", "worst slip", "months")
    'Showing the 40 projects with the worst slip of 9,999; click a cell to list its rows, or narrow with the table below'
    """
    if not top.trimmed:
        return None
    text = f"Showing the {top.rows:,} {rows_noun} with the {measure} of {top.rows_total:,}"
    if top.columns < top.columns_total:
        text += f", in their {top.columns:,} {columns_noun} with the {measure} of {top.columns_total:,}"
    return text + "; click a cell to list its rows, or narrow with the table below"


# --------------------------------------------------------------------------- charts of any size

#: Rows one chart's data holds at most (the charting library refuses more than 5,000).
CHART_ROWS = 2_000
#: Milestones a KPI chart marks at most.
CHART_MARKS = 200


def thin(frame: pl.DataFrame, limit: int = CHART_ROWS, by: str | None = None) -> pl.DataFrame:
    """Keep at most about ``limit`` rows of a line for drawing: evenly spaced rows per ``by`` group.

    Each group keeps its first and last row; the order is kept. Frames within ``limit``
    come back as they are. Only for drawing: the figures come from the full frame.
    """
    if frame.height <= limit:
        return frame
    groups = frame[by].n_unique() if by is not None else 1
    per_group = max(limit // groups - 1, 2)
    index, size = pl.int_range(pl.len()), pl.len()
    if by is not None:
        index, size = index.over(by), size.over(by)
    step = ((size + per_group - 1) // per_group).clip(lower_bound=1)
    return frame.filter((index % step == 0) | (index == size - 1))


def chart_drivers(drivers: pl.DataFrame, limit: int = CHART_MARKS) -> pl.DataFrame:
    """Keep the ``limit`` :func:`kpi_drivers` rows that lose the KPI the most, in their order.

    Ranked by |KPI impact|, then value at risk; the table beside the chart lists them all.
    """
    if drivers.height <= limit:
        return drivers
    keep = (
        drivers.with_columns(pl.col("kpi_impact").abs().alias("_lost"))
        .sort(["_lost", "value_at_risk", "milestone_id"], descending=[True, True, False], nulls_last=True)
        .head(limit)
        .select("milestone_id")
    )
    return drivers.join(keep, on="milestone_id", how="semi", maintain_order="left")


# --------------------------------------------------------------------------- KPI trajectories


def kpi_trajectory(result: EngineResult, kpi_id: str) -> pl.DataFrame:
    """Return a KPI's actuals and its projected and baseline-plan paths to the target date.

    Both paths use the projection formula of DOMAIN.md section 2 rule 5 evaluated at
    every date t from the starting point (latest actual on or before ``as_of``, else
    ``period_start`` at ``baseline_value``) up to ``target_date``: "Projected" with the
    computed finishes, "Baseline plan" with each milestone's ``baseline_finish``. Ramps
    are linear, so the paths are exact between the returned break points.

    Returns
    -------
    polars.DataFrame
        ``series`` ("Actual", "Projected", "Baseline plan"), ``date``, ``value``; the
        projected value at the target date equals the KPI's ``projected``.

    Raises
    ------
    NotFoundError
        When the KPI is not in the snapshot.
    """
    kpi = result.kpi(kpi_id)
    portfolio = result.portfolio
    as_of = portfolio.as_of
    actuals = (
        portfolio.kpi_actuals.filter((pl.col("kpi_id") == kpi_id) & (pl.col("as_of") <= as_of))
        .sort("as_of")
        .select(pl.lit("Actual").alias("series"), pl.col("as_of").alias("date"), pl.col("value"))
    )
    start = latest_actuals(portfolio.kpi_actuals.filter(pl.col("kpi_id") == kpi_id), as_of)
    start_date: date = start["actual_date"][0] if start.height else kpi["period_start"]  # type: ignore[assignment]  # a frame cell: polars types it as any scalar
    start_value: float = start["actual_value"][0] if start.height else kpi["baseline_value"]  # type: ignore[assignment]  # a frame cell: polars types it as any scalar
    target_date: date = kpi["target_date"]  # type: ignore[assignment]  # a frame cell: polars types it as any scalar

    drivers = (
        result.links.filter(pl.col("kpi_id") == kpi_id)
        .join(result.milestones.select("milestone_id", "baseline_finish", "computed_finish"), on="milestone_id")
        .select("kpi_delta", "ramp_days", "baseline_finish", "computed_finish")
    )
    finishes = pl.concat(
        [
            drivers.select(
                pl.lit("Projected").alias("series"),
                "kpi_delta",
                "ramp_days",
                days(pl.col("computed_finish")).alias("f"),
            ),
            drivers.select(
                pl.lit("Baseline plan").alias("series"),
                "kpi_delta",
                "ramp_days",
                days(pl.col("baseline_finish")).alias("f"),
            ),
        ]
    )
    a, t = days(pl.lit(start_date)), days(pl.lit(target_date))
    # break points: start, target, and every ramp's start and end inside the window
    points = (
        pl.concat(
            [
                pl.DataFrame({"d": [start_date, target_date]}).select(days(pl.col("d")).alias("d")),
                finishes.select(pl.col("f").alias("d")),
                finishes.select((pl.col("f") + pl.col("ramp_days").ceil().cast(pl.Int64)).alias("d")),
            ]
        )
        .filter((pl.col("d") >= a) & (pl.col("d") <= t))
        .unique()
    )
    series = pl.DataFrame({"series": ["Projected", "Baseline plan"]})
    moves = (
        series.join(points, how="cross")
        .join(finishes, on="series", how="left")
        .with_columns(
            (
                pl.col("kpi_delta")
                * (ramp(pl.col("d") - pl.col("f"), pl.col("ramp_days")) - ramp(a - pl.col("f"), pl.col("ramp_days")))
            )
            .fill_null(0.0)
            .alias("_move")
        )
        .group_by("series", "d")
        .agg(pl.col("_move").sum())
        .select("series", as_date(pl.col("d")).alias("date"), (pl.lit(start_value) + pl.col("_move")).alias("value"))
    )
    order = pl.col("series").replace_strict({"Actual": 0, "Projected": 1, "Baseline plan": 2}, return_dtype=pl.Int64)
    return pl.concat([actuals.cast({"value": pl.Float64}), moves]).sort(order, pl.col("date"))


def kpi_drivers(result: EngineResult, kpi_id: str) -> pl.DataFrame:
    """Return the milestones linked to a KPI with their dates, status and figures.

    Columns: ``milestone_id``, ``milestone_name``, ``project_name``, ``owner``,
    ``baseline_finish``, ``computed_finish``, ``slip_days``, ``computed_status``,
    ``watermelon``, ``kpi_delta``, ``ramp_days``, ``kpi_impact``, ``value_at_risk``;
    ordered by computed finish.
    """
    return (
        result.links.filter(pl.col("kpi_id") == kpi_id)
        .select("milestone_id", "kpi_delta", "ramp_days", "kpi_impact", "value_at_risk")
        .join(
            result.milestones.select(
                "milestone_id",
                pl.col("name").alias("milestone_name"),
                "project_name",
                "owner",
                "baseline_finish",
                "computed_finish",
                "slip_days",
                "computed_status",
                "watermelon",
            ),
            on="milestone_id",
        )
        .select(
            "milestone_id",
            "milestone_name",
            "project_name",
            "owner",
            "baseline_finish",
            "computed_finish",
            "slip_days",
            "computed_status",
            "watermelon",
            "kpi_delta",
            "ramp_days",
            "kpi_impact",
            "value_at_risk",
        )
        .sort("computed_finish", "milestone_id")
    )


# --------------------------------------------------------------------------- drill-down


def milestone_slip_history(history: pl.DataFrame, milestone_id: str) -> pl.DataFrame:
    """Return one milestone's rows of :func:`kpi_engine.analysis.milestone_history`, oldest first."""
    return history.filter(pl.col("milestone_id") == milestone_id).sort("as_of")


def _row_of(ids: pl.Series, wanted: str) -> int:
    """The row of ``wanted`` in ``ids`` (the first, when ids repeat); :data:`UNKNOWN` when absent."""
    rows = (ids == wanted).fill_null(False).arg_true()
    return int(rows[0]) if len(rows) else UNKNOWN


def milestone_dependencies(result: EngineResult, milestone_id: str) -> pl.DataFrame:
    """Return every milestone upstream and downstream of one milestone, walking level by level.

    Returns
    -------
    polars.DataFrame
        ``direction`` ("upstream" / "downstream"), ``depth`` (1 = direct), ``milestone_id``,
        ``name``, ``project_name``, ``via`` (the milestone it connects through), ``lag_days``
        (of that connection), ``computed_finish``, ``slip_days``, ``computed_status``.
        A milestone reached at one depth through several connections is listed once, through
        the first of them in the dependencies' order. Dependencies naming unknown milestones
        are left out (governance reports them).
    """
    milestones = result.milestones
    dependencies = result.portfolio.dependencies
    ids = milestones["milestone_id"]
    predecessor, successor = result.references.predecessor, result.references.successor
    start = _row_of(ids, milestone_id)
    known = np.flatnonzero((predecessor >= 0) & (successor >= 0))
    parts = []
    for direction, here, there in (("upstream", successor, predecessor), ("downstream", predecessor, successor)):
        reached, through, edge, depth = _walk(int(start), here[known], there[known], ids.len())
        parts.append(
            pl.DataFrame(
                {
                    "direction": pl.Series([direction] * reached.size, dtype=pl.String),
                    "depth": pl.Series(depth, dtype=pl.Int64),
                    "reached": reached,
                    "via": ids.gather(through),
                    "lag_days": dependencies["lag_days"].gather(known[edge]),
                }
            )
        )
    found = pl.concat(parts)
    columns = milestones.select(
        "milestone_id", "name", "project_name", "computed_finish", "slip_days", "computed_status"
    )
    return (
        pl.concat(
            [
                found.drop("reached"),
                columns[found["reached"].to_numpy()],
            ],
            how="horizontal",
        )
        .select(
            "direction",
            "depth",
            "milestone_id",
            "name",
            "project_name",
            "via",
            "lag_days",
            "computed_finish",
            "slip_days",
            "computed_status",
        )
        .sort("direction", "depth", "milestone_id", descending=[True, False, False])
    )


def _walk(
    start: int, here: np.ndarray, there: np.ndarray, nodes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Breadth-first from node ``start`` along the edges ``here[i] -> there[i]`` (row positions).

    Returns each node reached, the node it was reached through, the edge (its index in
    ``here``) and the depth: every node once, at its least depth, through the first of its
    edges from the level before. Nothing when ``start`` is -1 (no such node).
    """
    none = np.empty(0, dtype=np.int64)
    if start < 0 or here.size == 0:
        return none, none, none, none
    by_here, starts = grouped_by_source(here, nodes)
    seen = np.zeros(nodes, dtype=bool)
    seen[start] = True
    frontier = np.array([start], dtype=np.int64)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    while frontier.size:
        at = out_edges(starts, frontier)
        if not at.size:
            break
        edges = np.sort(by_here[at])  # the edges out of the frontier, in their own order
        fresh = edges[~seen[there[edges]]]
        targets, firsts = np.unique(there[fresh], return_index=True)
        if not targets.size:
            break
        seen[targets] = True
        parts.append((fresh[firsts], np.full(targets.size, len(parts) + 1)))
        frontier = targets
    if not parts:
        return none, none, none, none
    chosen = np.concatenate([p[0] for p in parts])
    return there[chosen], here[chosen], chosen, np.concatenate([p[1] for p in parts])


def finish_driver(result: EngineResult, milestone_id: str) -> dict[str, object]:
    """Say what sets a milestone's computed finish (DOMAIN.md section 2, rule 1).

    Returns a dict with ``kind`` ("actual", "upstream", "task", "forecast" or "as_of"),
    ``id``, ``name``, ``owner`` and ``finish``. On a tie the more specific cause wins:
    an upstream milestone, then an open task, then the milestone's own forecast.

    Raises
    ------
    NotFoundError
        When the milestone is not in the snapshot.
    """
    milestone = result.milestone(milestone_id)
    if milestone["actual_finish"] is not None:
        return {
            "kind": "actual",
            "id": milestone_id,
            "name": milestone["name"],
            "owner": milestone["owner"],
            "finish": milestone["actual_finish"],
        }
    portfolio, milestones = result.portfolio, result.milestones
    duration = (
        (days(pl.lit(milestone["baseline_finish"])) - days(pl.lit(milestone["baseline_start"]))).fill_null(0)
        if milestone["baseline_start"] is not None
        else pl.lit(0, pl.Int64)
    )
    upstream = (
        portfolio.dependencies.filter(pl.col("successor_id") == milestone_id)
        .join(
            milestones.select("milestone_id", "name", "owner", "computed_finish"),
            left_on="predecessor_id",
            right_on="milestone_id",
        )
        .select(
            pl.lit("upstream").alias("kind"),
            pl.lit(0).alias("rank"),
            pl.col("predecessor_id").alias("id"),
            "name",
            "owner",
            as_date(days(pl.col("computed_finish")) + pl.col("lag_days").fill_null(0) + duration).alias("finish"),
        )
    )
    tasks = portfolio.tasks.filter((pl.col("milestone_id") == milestone_id) & pl.col("actual_finish").is_null()).select(
        pl.lit("task").alias("kind"),
        pl.lit(1).alias("rank"),
        pl.col("task_id").alias("id"),
        "name",
        "owner",
        pl.col("forecast_finish").alias("finish"),
    )
    own = pl.DataFrame(
        {
            "kind": ["forecast", "as_of"],
            "rank": [2, 3],
            "id": [milestone_id, milestone_id],
            "name": [milestone["name"], milestone["name"]],
            "owner": [milestone["owner"], milestone["owner"]],
            "finish": [milestone["forecast_finish"] or milestone["baseline_finish"], portfolio.as_of],
        },
        schema={
            "kind": pl.String,
            "rank": pl.Int32,
            "id": pl.String,
            "name": pl.String,
            "owner": pl.String,
            "finish": pl.Date,
        },
    )
    candidates = pl.concat([p.cast(own.schema) for p in (upstream, tasks, own)])
    best = candidates.sort(["finish", "rank"], descending=[True, False]).row(0, named=True)
    best.pop("rank")
    return best


def _kpi_text(value: object) -> str:
    """A KPI value formatted as the exception sentences format it (2.0179 -> "2.018")."""
    return str(pl.select(kpi_value(pl.lit(value, dtype=pl.Float64))).item())


def _worst_status(statuses: pl.Series) -> str:
    """Worst of Green/Amber/Red among open work; Complete when all are complete."""
    open_ = [s for s in statuses.to_list() if s in STATUS_RANK]
    if open_:
        return max(open_, key=lambda s: STATUS_RANK[s])
    return "Complete" if statuses.len() else "Unknown"


def causal_chain(result: EngineResult, milestone_id: str, kpi_id: str | None = None) -> pl.DataFrame:
    """Return the chain of cause and effect behind a milestone exception, left to right.

    Steps: what sets the finish (an open task, an upstream milestone or the forecast),
    the milestone, its project, then, when ``kpi_id`` is given, the KPI and its objective.

    Returns
    -------
    polars.DataFrame
        ``step`` (0..), ``level`` ("task", "upstream milestone", "forecast", "finished",
        "milestone", "project", "kpi", "objective"), ``id``, ``title``, ``detail`` and
        ``status`` (a RAG word for colouring: Green, Amber, Red, Complete or Unknown).

    Raises
    ------
    NotFoundError
        When the milestone or KPI is not in the snapshot.
    """
    m = result.milestone(milestone_id)
    driver = finish_driver(result, milestone_id)
    late = (m["slip_days"] or 0) > 0  # type: ignore[operator]  # a frame cell: polars types it as any scalar
    cause_status = m["computed_status"] if late else ("Complete" if driver["kind"] == "actual" else "Green")
    steps: list[dict[str, object]] = []
    if driver["kind"] == "task":
        steps.append(
            {
                "level": "task",
                "id": driver["id"],
                "title": f"Task {driver['id']}: {driver['name']}",
                "detail": f"forecast {driver['finish']} ({driver['owner'] or 'no owner'})",
                "status": cause_status,
            }
        )
    elif driver["kind"] == "upstream":
        upstream = result.milestone(str(driver["id"]))
        steps.append(
            {
                "level": "upstream milestone",
                "id": driver["id"],
                "title": f"Upstream {driver['id']}: {driver['name']}",
                "detail": f"finishes {upstream['computed_finish']}, pushes this to {driver['finish']}",
                "status": upstream["computed_status"],
            }
        )
    elif driver["kind"] == "actual":
        steps.append(
            {
                "level": "finished",
                "id": milestone_id,
                "title": "Finished",
                "detail": f"on {driver['finish']}",
                "status": "Complete",
            }
        )
    else:
        steps.append(
            {
                "level": "forecast",
                "id": milestone_id,
                "title": "Project forecast",
                "detail": f"forecast {driver['finish']}"
                if driver["kind"] == "forecast"
                else f"still open on {driver['finish']}",
                "status": cause_status,
            }
        )
    slip = int(m["slip_days"] or 0)  # type: ignore[call-overload]  # a frame cell: polars types it as any scalar
    lateness = f"{slip} days late" if slip > 0 else (f"{-slip} days early" if slip < 0 else "on time")
    reported = f"reported {m['reported_status']}" + (", a watermelon" if m["watermelon"] else "")
    steps.append(
        {
            "level": "milestone",
            "id": milestone_id,
            "title": f"{milestone_id}: {m['name']}",
            "detail": f"{m['computed_finish']}, {lateness}; {reported}",
            "status": m["computed_status"],
        }
    )
    project_status = _worst_status(result.milestones.filter(pl.col("project_id") == m["project_id"])["computed_status"])
    steps.append(
        {
            "level": "project",
            "id": m["project_id"],
            "title": str(m["project_name"] or m["project_id"]),
            "detail": f"{m['program'] or 'no program'}; owner {m['project_owner'] or 'none'}",
            "status": project_status,
        }
    )
    if kpi_id is not None:
        k = result.kpi(kpi_id)
        unit = f" {k['unit']}" if k["unit"] else ""
        link = result.links.filter((pl.col("milestone_id") == milestone_id) & (pl.col("kpi_id") == kpi_id))
        lost = link["kpi_impact"][0] if link.height else 0.0
        impact = f"; {slip_effect(lost, str(k['name']), unit)}" if lost else ""
        steps.append(
            {
                "level": "kpi",
                "id": kpi_id,
                "title": str(k["name"]),
                "detail": f"projected {_kpi_text(k['projected'])} vs target {_kpi_text(k['target_value'])}"
                f"{unit}{impact}",
                "status": "Red" if k["misses"] else "Green",
            }
        )
        if k["objective_id"] is not None:
            objective_kpis = result.kpis.filter(pl.col("objective_id") == k["objective_id"])
            missing = int(objective_kpis["misses"].sum())
            steps.append(
                {
                    "level": "objective",
                    "id": k["objective_id"],
                    "title": str(k["objective_name"] or k["objective_id"]),
                    "detail": f"{missing} of {objective_kpis.height} KPIs miss; owner {k['objective_owner'] or 'none'}",
                    "status": "Red" if missing else "Green",
                }
            )
    return (
        pl.DataFrame(
            steps,
            schema={"level": pl.String, "id": pl.String, "title": pl.String, "detail": pl.String, "status": pl.String},
        )
        .with_row_index("step")
        .with_columns(pl.col("step").cast(pl.Int64))
    )


# --------------------------------------------------------------------------- governance

#: Governance finding -> the section of the governance page it belongs to.
GOVERNANCE_SECTIONS: dict[str, str] = {
    "no owner": "Ownership problems",
    "several owners": "Ownership problems",
    "project has no owner": "Ownership problems",
    "not tied to any KPI": "Milestones tied to no KPI",
    "no work drives this KPI": "KPIs no work drives",
    "dangling id": "Dangling ids",
}


def governance_view(exceptions: pl.DataFrame) -> pl.DataFrame:
    """Return the governance rows of the exception list with the page section of each.

    Columns: ``section``, ``finding``, ``milestone_id``, ``milestone_name``, ``project_name``,
    ``kpi_id``, ``kpi_name``, ``escalate_to``, ``escalate_role`` ("PMO" when nobody owns
    the subject), ``why``; ordered by section (as in :data:`GOVERNANCE_SECTIONS`), then ids.
    """
    order = {section: i for i, section in enumerate(dict.fromkeys(GOVERNANCE_SECTIONS.values()))}
    return (
        exceptions.filter(pl.col("kind") == "governance")
        .with_columns(pl.col("finding").replace_strict(GOVERNANCE_SECTIONS, default="Other findings").alias("section"))
        .with_columns(
            pl.col("section").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("_order")
        )
        .sort("_order", "milestone_id", "kpi_id", nulls_last=True)
        # a dangling id has no owner to ask: the PMO corrects the data
        .with_columns(pl.col("escalate_to").fill_null("PMO"), pl.col("escalate_role").fill_null("PMO"))
        .select(
            "section",
            "finding",
            "milestone_id",
            "milestone_name",
            "project_name",
            "kpi_id",
            "kpi_name",
            "escalate_to",
            "escalate_role",
            "why",
        )
    )


def governance_sections(exceptions: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Return the governance findings per page section, every section present (maybe empty).

    Sections come in the order of :data:`GOVERNANCE_SECTIONS`; a finding no section
    names goes to "Other findings" (listed last, only when there is one).
    """
    view = governance_view(exceptions)
    names = list(dict.fromkeys(GOVERNANCE_SECTIONS.values()))
    names += [s for s in view["section"].unique(maintain_order=True).to_list() if s not in names]
    return {name: view.filter(pl.col("section") == name) for name in names}


# --------------------------------------------------------------------------- history


def snapshot_table(snapshots: pl.DataFrame) -> pl.DataFrame:
    """Return the stored snapshots newest first, with the row counts as columns.

    ``snapshots`` is ``Store.snapshots()``: its ``rows`` struct becomes one column per table.
    """
    frame = snapshots.unnest("rows") if "rows" in snapshots.columns else snapshots
    return frame.sort(["as_of", "snapshot_id"], descending=True)


def slip_effect(lost: float, kpi_name: str, unit: str = "") -> str:
    """Say in words which way a slip moves a KPI: ``kpi_impact`` is the planned movement it loses.

    A cost KPI planned to fall by 0.068 that a slip delays (``lost`` = -0.068) ends higher:

    >>> slip_effect(-0.068, "Cost per mile", " USD/mile")
    'this slip raises Cost per mile by 0.068 USD/mile'
    >>> slip_effect(2.5, "On-time rate", " %")
    'this slip lowers On-time rate by 2.500 %'
    """
    verb = "raises" if lost < 0 else "lowers"
    return f"this slip {verb} {kpi_name} by {_kpi_text(abs(lost))}{unit}"


@dataclass(frozen=True)
class UploadIdentity:
    """What the Upload page says about an upload's exports: projects created, milestones kept."""

    created: list[str]  # names of the projects the upload creates with no owner
    renamed: pl.DataFrame  # exported milestones that keep a portfolio id other than their key
    matched: int  # exported milestones matched to an existing one
    new: int  # exported milestones that are new


def upload_identity(projects: pl.DataFrame, milestones: pl.DataFrame) -> UploadIdentity:
    """Summarise ``IngestResult.identity`` (its ``projects`` and ``milestones`` frames) for the Upload page.

    >>> ms = pl.DataFrame({"tool_key": ["P-5", "P-6"], "name": ["A", "B"], "project_id": ["P", "P"],
    ...                    "milestone_id": ["M3", "P-6"], "how": ["same name", "new"]})
    >>> pr = pl.DataFrame({"project_name": ["Depot", "Routing"], "owner": [None, "Priya"], "how": ["created"] * 2})
    >>> found = upload_identity(pr, ms)
    >>> found.created, found.renamed["milestone_id"].to_list(), found.matched, found.new
    (['Depot'], ['M3'], 1, 1)
    """
    kept = milestones.filter(pl.col("how") != "new")
    return UploadIdentity(
        created=projects.filter((pl.col("how") == "created") & pl.col("owner").is_null())["project_name"].to_list(),
        renamed=kept.filter(pl.col("tool_key") != pl.col("milestone_id")),
        matched=kept.height,
        new=milestones.height - kept.height,
    )


def removals_table(removed: pl.DataFrame) -> tuple[pl.DataFrame, float]:
    """The milestones an upload removes as the Upload page lists them, and the value at risk they held.

    ``removed`` is :func:`kpi_engine.analysis.removal_values` output; its KPI ids become one text.
    """
    total = float(removed["value_at_risk"].sum()) if removed.height else 0.0
    return removed.with_columns(pl.col("kpi_ids").list.join(", ")), total


def upload_preview(frame: pl.DataFrame, rows: int = 500) -> pl.DataFrame:
    """The first ``rows`` of an uploaded table as people check them: without the reader's
    bookkeeping columns (``_file``, ``_sheet``, ``_row``), Datetime columns as dates when
    every value is a midnight (a spreadsheet's way of writing a date).
    """
    shown = frame.head(rows).select([c for c in frame.columns if not c.startswith("_")])
    midnight = [
        name
        for name, dtype in shown.schema.items()
        if isinstance(dtype, pl.Datetime) and bool((shown[name].dt.time().drop_nulls() == time(0)).all())
    ]
    return shown.with_columns(pl.col(midnight).dt.date()) if midnight else shown


def change_counts(changes: pl.DataFrame) -> dict[str, int]:
    """Count the changes of a snapshot per kind (``Store.changes`` rows), most frequent first."""
    counts = changes.group_by("change").len().sort(["len", "change"], descending=[True, False])
    return dict(zip(counts["change"].to_list(), counts["len"].to_list(), strict=False))


# --------------------------------------------------------------------------- upload mapping editor

#: How many top rows of a sheet may hold its header row.
HEADER_ROWS = 10


def file_headers(file: SourceFile) -> list[str]:
    """Return the column headers a person sees in a file, for mapping an unknown layout.

    Per sheet, the header row is the fullest of its first rows (titles above a table
    are shorter); headers of several sheets are listed once, in order.

    Raises
    ------
    InputError
        When the file cannot be read as CSV or Excel.
    """
    headers: dict[str, None] = {}
    for sheet in read_sheets(file):
        rows = sheet.head_rows(HEADER_ROWS)
        if not rows:
            continue
        filled = [sum(cell is not None for cell in row) for row in rows]
        header = rows[filled.index(max(filled))]
        headers.update({str(cell): None for cell in header if cell is not None})
    return list(headers)


def guess_mapping(table: str, headers: list[str]) -> dict[str, str]:
    """Propose a header for each canonical column of ``table`` that one of ``headers`` names.

    A header matches a column when it is one of the names the readers accept for it
    (``accepted_headers``), ignoring case, spaces and punctuation.
    """
    by_key = {normalise_header(h): h for h in reversed(headers)}  # leftmost wins
    guess: dict[str, str] = {}
    for column in TABLES[table]:
        for name in accepted_headers(table, column):
            if normalise_header(name) in by_key:
                guess[column] = by_key[normalise_header(name)]
                break
    return guess
