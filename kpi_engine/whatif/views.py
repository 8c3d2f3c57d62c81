"""Frames the What-if page shows: choices, a scenario draft, its figures, comparisons, simulations.

Everything here is pure (Polars and numpy); the page only draws what these functions return.

>>> draft = ScenarioDraft(slips=(("M1", 14),))                         # doctest: +SKIP
>>> result = run_scenario(portfolio, draft.to_scenario("Vendor late"))   # doctest: +SKIP
>>> value_at_risk_waterfall(result)                                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from kpi_engine.core import text
from kpi_engine.core.money import cents
from kpi_engine.engine.kpis import link_figures
from kpi_engine.whatif.scenarios import Scenario, ScenarioResult, SetFinish, Slip, SlipProject, Workaround
from kpi_engine.whatif.simulation import SimulationResult, SlipDistribution, ValueAtRiskDistribution

#: Separator of an id and its name in a label: "M1 · Routing software go-live".
DOT = " · "
#: KPI values closer than this count as unchanged (float noise).
TOLERANCE = 1e-9


# ---------------------------------------------------------------------------- choices
def milestone_choices(milestones: pl.DataFrame) -> pl.DataFrame:
    """Return the open milestones a scenario can slip, most value at risk first.

    Parameters
    ----------
    milestones
        ``EngineResult.milestones`` of the snapshot.

    Returns
    -------
    pl.DataFrame
        ``milestone_id, label, project_id, computed_finish, value_at_risk``; ``label`` reads
        "M1 · Routing software go-live". Finished milestones are left out: they cannot slip.
    """
    return (
        milestones.filter(pl.col("actual_finish").is_null())
        .select(
            "milestone_id",
            pl.concat_str(pl.col("milestone_id"), pl.lit(DOT), pl.col("name").fill_null("")).alias("label"),
            "project_id",
            "computed_finish",
            pl.col("value_at_risk").fill_null(0.0),
        )
        .sort(["value_at_risk", "milestone_id"], descending=[True, False])
    )


def project_choices(milestones: pl.DataFrame) -> pl.DataFrame:
    """Return the projects with at least one open milestone, most value at risk first.

    Parameters
    ----------
    milestones
        ``EngineResult.milestones`` of the snapshot (with ``project_name``).

    Returns
    -------
    pl.DataFrame
        ``project_id, label, open_milestones, value_at_risk``; ``label`` reads
        "P-ROUTE · Fleet routing optimization (3 open milestones)".
    """
    return (
        milestones.filter(pl.col("actual_finish").is_null())
        .group_by("project_id")
        .agg(
            pl.col("project_name").drop_nulls().first().alias("project_name"),
            pl.len().cast(pl.Int64).alias("open_milestones"),
            cents(pl.col("value_at_risk").fill_null(0.0).sum()).alias("value_at_risk"),
        )
        .select(
            "project_id",
            pl.concat_str(
                pl.col("project_id"),
                pl.lit(DOT),
                pl.col("project_name").fill_null(pl.col("project_id")),
                pl.lit(" ("),
                pl.col("open_milestones").cast(pl.String),
                pl.when(pl.col("open_milestones") == 1)
                .then(pl.lit(" open milestone)"))
                .otherwise(pl.lit(" open milestones)")),
            ).alias("label"),
            "open_milestones",
            "value_at_risk",
        )
        .sort(["value_at_risk", "project_id"], descending=[True, False])
    )


# ---------------------------------------------------------------------------- the draft
@dataclass(frozen=True)
class ScenarioDraft:
    """The changes being edited on the page, as hashable values (a cache key).

    Attributes
    ----------
    slips
        ``(milestone_id, extra days)`` pairs.
    project_slips
        ``(project_id, extra days)`` pairs.
    set_finishes
        ``(milestone_id, finish)`` pairs.
    workarounds
        ``(milestone_id, start, cost, fraction)`` tuples.
    """

    slips: tuple[tuple[str, int], ...] = ()
    project_slips: tuple[tuple[str, int], ...] = ()
    set_finishes: tuple[tuple[str, date], ...] = ()
    workarounds: tuple[tuple[str, date, float, float], ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the draft changes nothing (zero-day slips count as nothing)."""
        return not self.to_scenario("").changes

    def to_scenario(self, name: str) -> Scenario:
        """Return the draft as a :class:`Scenario`; slips of zero days are left out."""
        changes: list[Any] = [Slip(mid, int(days)) for mid, days in self.slips if days]
        changes += [SlipProject(pid, int(days)) for pid, days in self.project_slips if days]
        changes += [SetFinish(mid, finish) for mid, finish in self.set_finishes]
        changes += [
            Workaround(mid, start, float(cost), float(fraction)) for mid, start, cost, fraction in self.workarounds
        ]
        return Scenario(name, tuple(changes))

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> ScenarioDraft:
        """Return a scenario as a draft; slips of one milestone (or project) add up, in first-seen order."""
        slips: dict[str, int] = {}
        for change in scenario.of_kind(Slip):
            slips[change.milestone_id] = slips.get(change.milestone_id, 0) + change.days
        project_slips: dict[str, int] = {}
        for change in scenario.of_kind(SlipProject):
            project_slips[change.project_id] = project_slips.get(change.project_id, 0) + change.days
        return cls(
            slips=tuple(slips.items()),
            project_slips=tuple(project_slips.items()),
            set_finishes=tuple((c.milestone_id, c.finish) for c in scenario.of_kind(SetFinish)),
            workarounds=tuple((c.milestone_id, c.start, c.cost, c.fraction) for c in scenario.of_kind(Workaround)),
        )

    def describe(self) -> str:
        """One line listing the changes, e.g. "M1 +14 days; workaround on M1"."""
        parts = [f"{mid} +{days} days" for mid, days in self.slips if days]
        parts += [f"project {pid} +{days} days" for pid, days in self.project_slips if days]
        parts += [f"{mid} finishes {finish.isoformat()}" for mid, finish in self.set_finishes]
        parts += [f"workaround on {mid}" for mid, *_ in self.workarounds]
        return "; ".join(parts) if parts else "no changes"


# ---------------------------------------------------------------------------- one scenario
@dataclass(frozen=True)
class WhatIfSummary:
    """The headline figures of a scenario against the unchanged snapshot (money in the settings' currency)."""

    value_at_risk_before: float
    value_at_risk_after: float
    recovered: float
    workaround_cost: float
    value_at_risk_net: float
    kpis_missing_before: int
    kpis_missing_after: int
    milestones_moved: int
    escalations_raised: int

    @property
    def net_of_workarounds(self) -> float:
        """Value the workarounds recover minus what they cost."""
        return self.recovered - self.workaround_cost


def summary(result: ScenarioResult) -> WhatIfSummary:
    """Return a scenario's headline figures.

    Parameters
    ----------
    result
        :func:`kpi_engine.whatif.scenarios.run_scenario` output.
    """
    return WhatIfSummary(
        value_at_risk_before=result.value_at_risk_total_before,
        value_at_risk_after=result.value_at_risk_total_after,
        recovered=result.recovered_total,
        workaround_cost=float(result.mitigations["cost"].sum()),
        value_at_risk_net=result.value_at_risk_total_net,
        kpis_missing_before=int(result.kpi_diff["misses_before"].sum()),
        kpis_missing_after=int(result.kpi_diff["misses_after"].sum()),
        milestones_moved=result.moved.height,
        escalations_raised=result.escalations.height,
    )


def kpi_before_after(kpi_diff: pl.DataFrame) -> pl.DataFrame:
    """Return the KPIs a scenario moves, with their projection before and after and the target.

    Parameters
    ----------
    kpi_diff
        ``ScenarioResult.kpi_diff``.

    Returns
    -------
    pl.DataFrame
        ``kpi_id, label, unit, direction, target_value, projected_before, projected_after,
        change, misses_before, misses_after, verdict, x_before, x_after, x_target`` for the
        KPIs whose projection or verdict changes; ``verdict`` is "misses", "still meets",
        "now misses", "now meets" or "misses by more" / "misses by less"; ``x_*`` place the
        three values on the row's own 0..1 scale. Largest relative change first.
    """
    change = pl.col("projected_after") - pl.col("projected_before")
    verdict = (
        pl.when(pl.col("misses_after") & ~pl.col("misses_before"))
        .then(pl.lit("now misses"))
        .when(~pl.col("misses_after") & pl.col("misses_before"))
        .then(pl.lit("now meets"))
        .when(~pl.col("misses_after"))
        .then(pl.lit("still meets"))
        .when(pl.col("shortfall_after") > pl.col("shortfall_before") + TOLERANCE)
        .then(pl.lit("misses by more"))
        .when(pl.col("shortfall_after") < pl.col("shortfall_before") - TOLERANCE)
        .then(pl.lit("misses by less"))
        .otherwise(pl.lit("misses"))
    )
    unit = (
        pl.when(pl.col("unit").fill_null("") == "")
        .then(pl.lit(""))
        .otherwise(pl.concat_str(pl.lit(" ("), pl.col("unit"), pl.lit(")")))
    )
    return (
        kpi_diff.filter((change.abs() > TOLERANCE) | (pl.col("misses_before") != pl.col("misses_after")))
        .with_columns(
            pl.concat_str(pl.col("kpi_id"), pl.lit(DOT), pl.col("name").fill_null(""), unit).alias("label"),
            change.alias("change"),
            verdict.alias("verdict"),
            # relative size of the move, so KPIs in different units can be ordered
            (change.abs() / pl.max_horizontal(pl.col("target_value").abs(), pl.lit(TOLERANCE))).alias("_size"),
        )
        .sort(["_size", "kpi_id"], descending=[True, False])
        .with_columns(_positions(["projected_before", "projected_after", "target_value"]))
        .select(
            "kpi_id",
            "label",
            "unit",
            "direction",
            "target_value",
            "projected_before",
            "projected_after",
            "change",
            "misses_before",
            "misses_after",
            "verdict",
            "x_before",
            "x_after",
            "x_target",
        )
    )


def _positions(columns: list[str], pad: float = 0.12) -> list[pl.Expr]:
    """Each value's place on its own row's scale (0..1, with ``pad`` either side): KPIs in
    different units share one chart, each row spanning the range of its own values."""
    low, high = pl.min_horizontal(columns), pl.max_horizontal(columns)
    width = high - low
    return [
        pl.when(width > TOLERANCE)
        .then(pad + (1 - 2 * pad) * (pl.col(c) - low) / width)
        .otherwise(pl.lit(0.5))
        .alias("x_" + c.removeprefix("projected_").removesuffix("_value"))
        for c in columns
    ]


def milestone_value_at_risk(result: ScenarioResult) -> pl.DataFrame:
    """Return each moved milestone's value at risk before and after the scenario.

    A link's value at risk depends only on its milestone's computed finish, so only the
    milestones that move change; their links are recomputed with the scenario's finishes.

    Parameters
    ----------
    result
        :func:`kpi_engine.whatif.scenarios.run_scenario` output.

    Returns
    -------
    pl.DataFrame
        ``milestone_id, value_at_risk_before, value_at_risk_after, value_at_risk_change``,
        one row per moved milestone (0.0 for one tied to no KPI).
    """
    portfolio = result.baseline.portfolio
    moved_ids = result.moved["milestone_id"]
    schedule = result.schedule
    at = np.flatnonzero(schedule.milestones["milestone_id"].is_in(moved_ids.implode()).to_numpy())
    moved_milestones = replace(schedule, milestones=schedule.milestones[at]).with_finish(result.finish[at])
    after = (
        link_figures(
            portfolio.links.filter(pl.col("milestone_id").is_in(moved_ids.implode())), moved_milestones, portfolio.kpis
        )
        .group_by("milestone_id")
        .agg(cents(pl.col("value_at_risk").sum()).alias("value_at_risk_after"))
    )
    before = result.baseline.milestones.select("milestone_id", pl.col("value_at_risk").alias("value_at_risk_before"))
    return (
        result.moved.select("milestone_id")
        .join(before, on="milestone_id", how="left", maintain_order="left")
        .join(after, on="milestone_id", how="left", maintain_order="left")
        .with_columns(pl.col("value_at_risk_before", "value_at_risk_after").fill_null(0.0))
        .with_columns((pl.col("value_at_risk_after") - pl.col("value_at_risk_before")).alias("value_at_risk_change"))
    )


def moved_milestones(result: ScenarioResult) -> pl.DataFrame:
    """Return the milestones whose computed finish moves, with why and what it costs.

    Returns
    -------
    pl.DataFrame
        ``milestone_id, name, project_id, cause, before, after, moved_days,
        value_at_risk_before, value_at_risk_after, value_at_risk_change``; ``cause`` is
        "scenario change" (a change names it) or "downstream" (a predecessor moved). Milestones the scenario
        names come first, then the largest moves.
    """
    cause = pl.when(pl.col("is_direct")).then(pl.lit("scenario change")).otherwise(pl.lit("downstream"))
    return (
        result.moved.with_columns(cause.alias("cause"))
        .join(milestone_value_at_risk(result), on="milestone_id", how="left", maintain_order="left")
        .select(
            "milestone_id",
            "name",
            "project_id",
            "cause",
            "before",
            "after",
            "moved_days",
            "value_at_risk_before",
            "value_at_risk_after",
            "value_at_risk_change",
        )
    )


WATERFALL_SCHEMA = pl.Schema(
    {
        "order": pl.Int64,
        "step": pl.String,
        "kind": pl.String,
        "start": pl.Float64,
        "end": pl.Float64,
        "amount": pl.Float64,
    }
)


#: ``kind`` of the two bars of a scenario that changes no value at risk: the totals before and after it.
UNCHANGED_KINDS = ("snapshot", "scenario")


def value_at_risk_waterfall(result: ScenarioResult, top: int = 8) -> pl.DataFrame:
    """Return the steps by which a scenario changes the value at risk, ending in the net change.

    One step per moved milestone whose value at risk changes (largest first; beyond
    ``top`` they are summed into "Other milestones (n)"), one per workaround recovering
    value ("Workaround on M1", negative), then "Net change" (a total from zero: the value
    at risk after workarounds minus the snapshot's). The steps start at zero rather than
    at the snapshot's total, so a change of a few percent stays visible.

    A scenario that changes no value at risk (a slip of milestones tied to no KPI, a
    workaround on a milestone that is not late) has no step: it gets two bars from zero
    instead, "Snapshot as is" and "This scenario" (kinds :data:`UNCHANGED_KINDS`), the
    equal totals before and after it (:func:`changes_nothing`, :func:`waterfall_caption`).

    Parameters
    ----------
    result
        :func:`kpi_engine.whatif.scenarios.run_scenario` output.
    top
        Most milestones shown as a step of their own.

    Returns
    -------
    pl.DataFrame
        ``order, step, kind, start, end, amount``; ``kind`` is "increase", "decrease" or
        "total"; a bar spans ``start`` to ``end``.
    """
    names = result.baseline.milestones.select("milestone_id", "name")
    changes = (
        milestone_value_at_risk(result)
        .filter(pl.col("value_at_risk_change").abs() > 0.005)
        .join(names, on="milestone_id", how="left")
        .sort([pl.col("value_at_risk_change").abs(), pl.col("milestone_id")], descending=[True, False])
        .select(
            pl.concat_str(pl.col("milestone_id"), pl.lit(DOT), pl.col("name").fill_null("")).alias("step"),
            pl.col("value_at_risk_change").alias("amount"),
        )
    )
    if changes.height > top:
        rest = changes.slice(top)
        changes = pl.concat(
            [
                changes.head(top),
                pl.DataFrame({"step": [f"Other milestones ({rest.height})"], "amount": [float(rest["amount"].sum())]}),
            ]
        )
    recovered = result.mitigations.filter(pl.col("recovered_value") > 0.005).select(
        pl.concat_str(pl.lit("Workaround on "), pl.col("milestone_id")).alias("step"),
        (-pl.col("recovered_value")).alias("amount"),
    )
    net = result.value_at_risk_total_net - result.value_at_risk_total_before
    steps = (
        pl.concat([changes, recovered])
        .with_columns(
            pl.when(pl.col("amount") > 0).then(pl.lit("increase")).otherwise(pl.lit("decrease")).alias("kind"),
            (pl.col("amount").cum_sum() - pl.col("amount")).alias("start"),
            pl.col("amount").cum_sum().alias("end"),
        )
        .select("step", "kind", "start", "end", "amount")
    )
    if steps.height == 0:  # nothing to step through: the totals, side by side, say so
        before, after = result.value_at_risk_total_before, result.value_at_risk_total_net
        steps = pl.DataFrame(
            {
                "step": ["Snapshot as is", "This scenario"],
                "kind": list(UNCHANGED_KINDS),
                "start": [0.0, 0.0],
                "end": [before, after],
                "amount": [before, after],
            }
        )
    else:
        total = pl.DataFrame({"step": ["Net change"], "kind": ["total"], "start": [0.0], "end": [net], "amount": [net]})
        steps = pl.concat([steps, total], how="vertical_relaxed")
    return steps.with_row_index("order").select(list(WATERFALL_SCHEMA)).cast(WATERFALL_SCHEMA)


def changes_nothing(steps: pl.DataFrame) -> bool:
    """True when :func:`value_at_risk_waterfall` gave the two totals of a scenario that changes no value at risk."""
    return steps.height > 0 and bool(steps["kind"].is_in(list(UNCHANGED_KINDS)).all())


def waterfall_caption(steps: pl.DataFrame, currency: str) -> str | None:
    """The sentence under the waterfall of a scenario that changes no value at risk (None for any other).

    >>> steps = pl.DataFrame({"kind": ["snapshot", "scenario"], "end": [4_170_143.2, 4_170_143.2]})
    >>> waterfall_caption(steps, "USD")
    'This scenario changes nothing: the value at risk stays at 4,170,143 USD.'
    """
    if not changes_nothing(steps):
        return None
    return f"This scenario changes nothing: the value at risk stays at {float(steps['end'][0]):,.0f} {currency}."


def mitigation_table(result: ScenarioResult) -> pl.DataFrame:
    """Return each workaround with its milestone's name and whether it pays off.

    Returns
    -------
    pl.DataFrame
        ``milestone_id, name, start, cost, fraction, recovered_value, net_value,
        break_even_days, verdict``; ``verdict`` reads "pays off", "costs more than it
        recovers" or "never recovers its cost" (no slip is long enough).
    """
    names = result.baseline.milestones.select("milestone_id", "name")
    verdict = (
        pl.when(pl.col("net_value") >= 0)
        .then(pl.lit("pays off"))
        .when(pl.col("break_even_days").is_null())
        .then(pl.lit("never recovers its cost"))
        .otherwise(pl.lit("costs more than it recovers"))
    )
    return (
        result.mitigations.join(names, on="milestone_id", how="left", maintain_order="left")
        .with_columns(verdict.alias("verdict"))
        .select(
            "milestone_id",
            "name",
            "start",
            "cost",
            "fraction",
            "recovered_value",
            "net_value",
            "break_even_days",
            "verdict",
        )
    )


# ---------------------------------------------------------------------------- comparing
#: Rows of :func:`kpi_engine.whatif.scenarios.compare_scenarios` holding money, and their labels.
MONEY_FIGURES = {
    "value at risk": "Value at risk",
    "recovered by workarounds": "Recovered by workarounds",
    "workaround cost": "Workaround cost",
    "net value of workarounds": "Net value of workarounds",
    "value at risk after workarounds": "Value at risk after workarounds",
}
#: Rows holding counts, and their labels.
COUNT_FIGURES = {
    "milestones moved": "Milestones moved",
    "escalations raised": "Escalations raised",
    "KPIs missing target": "KPIs missing their target",
}


def comparison_table(
    compared: pl.DataFrame, kpi_names: Mapping[str, str], currency: str, changed_kpis_only: bool = True
) -> pl.DataFrame:
    """Return :func:`~kpi_engine.whatif.scenarios.compare_scenarios` output as text people read.

    Parameters
    ----------
    compared
        ``compare_scenarios`` output: ``figure, kpi_id, unit``, ``baseline`` and one
        column per scenario.
    kpi_names
        KPI id -> name.
    currency
        Currency of the money rows.
    changed_kpis_only
        Keep only the KPI rows where some scenario differs from the baseline.

    Returns
    -------
    pl.DataFrame
        ``figure`` (a label, e.g. "Value at risk" or "K-CPM · Cost per mile: projected
        (USD/mile)"), ``baseline`` renamed "Snapshot as is", then one text column per scenario.
    """
    values = [c for c in compared.columns if c not in ("figure", "kpi_id", "unit")]
    frame = compared
    if changed_kpis_only:
        differs = pl.any_horizontal([(pl.col(c) - pl.col("baseline")).abs() > TOLERANCE for c in values[1:]])
        frame = frame.filter(pl.col("kpi_id").is_null() | differs)
    names = pl.DataFrame(
        {"kpi_id": list(kpi_names), "_name": list(kpi_names.values())}, schema={"kpi_id": pl.String, "_name": pl.String}
    )
    frame = frame.join(names, on="kpi_id", how="left", maintain_order="left")
    unit = (
        pl.when(pl.col("unit").fill_null("") == "")
        .then(pl.lit(""))
        .otherwise(pl.concat_str(pl.lit(" ("), pl.col("unit"), pl.lit(")")))
    )
    label = (
        pl.when(pl.col("kpi_id").is_not_null())
        .then(
            pl.concat_str(
                pl.col("kpi_id"), pl.lit(DOT), pl.col("_name").fill_null(""), pl.lit(": "), pl.col("figure"), unit
            )
        )
        .otherwise(pl.col("figure").replace_strict({**MONEY_FIGURES, **COUNT_FIGURES}, default=pl.col("figure")))
    )
    is_money = pl.col("figure").is_in(list(MONEY_FIGURES)) & pl.col("kpi_id").is_null()
    is_count = pl.col("figure").is_in(list(COUNT_FIGURES)) & pl.col("kpi_id").is_null()

    def shown(column: str) -> pl.Expr:
        value = pl.col(column)
        return (
            pl.when(value.is_null())
            .then(pl.lit("-"))
            .when(is_money)
            .then(pl.concat_str(text.thousands(value), pl.lit(f" {currency}")))
            .when(is_count)
            .then(text.thousands(value))
            .otherwise(text.kpi_value(value))
            .alias("Snapshot as is" if column == "baseline" else column)
        )

    return frame.select(label.alias("figure"), *[shown(c) for c in values])


def comparison_bars(compared: pl.DataFrame) -> pl.DataFrame:
    """Return the money figures of a comparison in long form for a grouped bar chart.

    Returns
    -------
    pl.DataFrame
        ``figure, figure_order, scenario, scenario_order, value, change``: value at risk,
        value at risk after workarounds and net value of workarounds for the snapshot as is
        ("Snapshot as is") and each scenario; ``change`` is the value minus the snapshot's
        (differences of a few percent are invisible on bars drawn from zero).
    """
    shown = ["value at risk", "value at risk after workarounds", "net value of workarounds"]
    values = [c for c in compared.columns if c not in ("figure", "kpi_id", "unit")]
    rows = compared.filter(pl.col("kpi_id").is_null() & pl.col("figure").is_in(shown))
    scenario_names = {c: ("Snapshot as is" if c == "baseline" else c) for c in values}
    return (
        rows.unpivot(index="figure", on=values, variable_name="scenario", value_name="value")
        .with_columns(
            pl.col("figure")
            .replace_strict({f: i for i, f in enumerate(shown)}, return_dtype=pl.Int64)
            .alias("figure_order"),
            pl.col("scenario")
            .replace_strict({c: i for i, c in enumerate(values)}, return_dtype=pl.Int64)
            .alias("scenario_order"),
        )
        .with_columns(
            pl.col("figure").replace_strict(MONEY_FIGURES, return_dtype=pl.String),
            pl.col("scenario").replace_strict(scenario_names, return_dtype=pl.String),
        )
        .sort("figure_order", "scenario_order")
        .with_columns(
            (pl.col("value") - pl.col("value").filter(pl.col("scenario_order") == 0).first().over("figure")).alias(
                "change"
            )
        )
        .select("figure", "figure_order", "scenario", "scenario_order", "value", "change")
    )


# ---------------------------------------------------------------------------- Monte Carlo
def fan(trajectory: pl.DataFrame, kpis: pl.DataFrame, kpi_id: str) -> pl.DataFrame:
    """Return one KPI's fan: ``date, p10, p50, p90`` plus its ``target_value`` on every row.

    Parameters
    ----------
    trajectory
        ``SimulationResult.trajectory``.
    kpis
        ``SimulationResult.kpis`` (for the target).
    kpi_id
        The KPI.
    """
    target = kpis.filter(pl.col("kpi_id") == kpi_id).select("kpi_id", "target_value")
    return (
        trajectory.filter(pl.col("kpi_id") == kpi_id)
        .join(target, on="kpi_id", how="left")
        .sort("date")
        .select("date", "p10", "p50", "p90", "target_value")
    )


def histogram(totals: np.ndarray, bins: int = 30) -> pl.DataFrame:
    """Return a histogram of per-run totals: ``bin_start, bin_end, runs, share``.

    Equal-width bins over the observed range; when every run has the same total there is
    one bin of width 1 around it.
    """
    values = np.asarray(totals, dtype=np.float64)
    if values.size == 0:
        return pl.DataFrame(
            schema={"bin_start": pl.Float64, "bin_end": pl.Float64, "runs": pl.Int64, "share": pl.Float64}
        )
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        low, high, bins = low - 0.5, high + 0.5, 1
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    return pl.DataFrame(
        {
            "bin_start": edges[:-1],
            "bin_end": edges[1:],
            "runs": counts.astype(np.int64),
            "share": counts / values.size,
        }
    )


def percentile_marks(value_at_risk: ValueAtRiskDistribution) -> pl.DataFrame:
    """Return the P50 / P80 / P95 of the value at risk as ``label, value`` rows (for rules on a chart)."""
    return pl.DataFrame(
        {
            "label": ["P50", "P80", "P95"],
            "value": [value_at_risk.p50, value_at_risk.p80, value_at_risk.p95],
        }
    )


def distribution_counts(milestones: pl.DataFrame) -> pl.DataFrame:
    """Return how many milestones drew their slip from each kind of distribution.

    Parameters
    ----------
    milestones
        ``SimulationResult.milestones``.

    Returns
    -------
    pl.DataFrame
        ``distribution, milestones, projects`` in the order of
        :class:`~kpi_engine.whatif.simulation.SlipDistribution`.
    """
    order = {d.value: i for i, d in enumerate(SlipDistribution)}
    return (
        milestones.group_by("distribution")
        .agg(
            pl.len().cast(pl.Int64).alias("milestones"),
            pl.col("project_id").n_unique().cast(pl.Int64).alias("projects"),
        )
        .sort(pl.col("distribution").replace_strict(order, default=len(order), return_dtype=pl.Int64))
    )


def distribution_caption(milestones: pl.DataFrame) -> str:
    """One sentence saying where the simulated slips came from, e.g.
    "Slips drawn from: each project's own history for 120 milestones (30 projects); ..."."""
    words = {
        SlipDistribution.TRIANGULAR.value: "your triangular range (min, most likely, max) for {m}",
        SlipDistribution.TRIANGULAR_PROJECT.value: "your triangular range for {m} of the chosen project",
        SlipDistribution.HISTORY_PROJECT.value: "their project's own slip history for {m} ({p})",
        SlipDistribution.HISTORY_PORTFOLIO.value: "the whole portfolio's slip history for {m} "
        "(projects with too little history of their own)",
        SlipDistribution.REFERENCE_CLASS.value: "default slips by duration (the reference class) for {m} "
        "(too little history yet)",
        SlipDistribution.NO_HISTORY.value: "no slip for {m} (no history yet)",
        SlipDistribution.FINISHED.value: "none for {m} already finished",
        SlipDistribution.SET_BY_SCENARIO.value: "none for {m} whose finish the scenario sets",
    }
    parts = []
    for row in distribution_counts(milestones).iter_rows(named=True):
        m = f"{row['milestones']} milestone" + ("" if row["milestones"] == 1 else "s")
        p = f"{row['projects']} project" + ("" if row["projects"] == 1 else "s")
        parts.append(words.get(row["distribution"], row["distribution"] + " for {m}").format(m=m, p=p))
    return "Slip distribution used: " + "; ".join(parts) + "." if parts else "No milestones to simulate."


def critical_milestones(result: SimulationResult, top: int = 10) -> pl.DataFrame:
    """Return the ``top`` milestones that most often drive a missed target, with where their slips came from.

    Returns
    -------
    pl.DataFrame
        ``SimulationResult.criticality`` (highest first) with ``source``: the
        ``distribution_used`` of each milestone ("history: project P-ROUTE",
        "reference class: 0-30 days", ...).
    """
    sources = result.milestones.select("milestone_id", pl.col("distribution_used").alias("source"))
    return result.criticality.head(top).join(sources, on="milestone_id", how="left", maintain_order="left")


def kpi_confidence(kpis: pl.DataFrame) -> pl.DataFrame:
    """Return ``SimulationResult.kpis`` with the least likely to meet their target first."""
    return kpis.sort(["p_meet", "kpi_id"])
