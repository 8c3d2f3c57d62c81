"""What-if scenarios: named changes on top of a snapshot and their differences (DOMAIN.md section 4).

A scenario slips milestones (one, or every open milestone of a project), sets a
milestone's finish, and adds workarounds that recover part of the value a late milestone
loses. Successors follow through the dependencies.

>>> scenario = Scenario("Vendor two weeks later", (Slip("M1", 14),))   # doctest: +SKIP
>>> result = run_scenario(portfolio, scenario, settings)               # doctest: +SKIP
>>> result.moved                      # M1 and M3 move 14 days            # doctest: +SKIP

Speed: a slider recomputes a scenario many times on one snapshot. Pass the snapshot's
prepared :class:`~kpi_engine.engine.schedule.Schedule` and its :class:`~kpi_engine.engine.compute.EngineResult`
(``schedule=``, ``base=``); :func:`run_scenario` then only propagates finishes and
recomputes the figures of the part of the portfolio the change reaches: the milestones
that move, the KPIs they are linked to and the milestones linked to those KPIs (whose
status and escalation depend on whether the KPI misses). Everything else is the
snapshot's own result. The scenario's complete :class:`EngineResult` (with its exception
list) is built on first use of :attr:`ScenarioResult.scenario`, from the snapshot's result
and the recomputed rows (:mod:`kpi_engine.whatif.complete`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import polars as pl

from kpi_engine.core.bounds import EARLIEST_DATE, LATEST_DATE, MAX_MONEY, MAX_SLIP_DAYS, date_in_range
from kpi_engine.core.errors import ScenarioError
from kpi_engine.core.money import cents, round_cents
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.settings import Settings
from kpi_engine.engine.compute import EngineResult, evaluate
from kpi_engine.engine.escalation import milestone_escalation, pair_escalation
from kpi_engine.engine.kpis import link_figures, project_kpis
from kpi_engine.engine.schedule import Schedule, as_date, check_finishes, day_number, days, prepare_schedule
from kpi_engine.engine.status import computed_status
from kpi_engine.whatif.base_rows import BaseRows, base_rows
from kpi_engine.whatif.complete import Reached, complete_result
from kpi_engine.whatif.cone import baseline, propagate_cone

#: How many scenarios :func:`compare_scenarios` puts side by side at most.
MAX_COMPARED = 4


# ---------------------------------------------------------------------------- changes
def _whole_days(value: object, what: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not float(value).is_integer()
    ):
        raise ScenarioError(f"{what} must be a whole number of days, got {value!r}")
    if value < 0:
        raise ScenarioError(
            f"{what} cannot be negative (got {int(value)} days); to bring a milestone forward, set its finish"
        )
    if value > MAX_SLIP_DAYS:
        raise ScenarioError(f"{what} can be at most {MAX_SLIP_DAYS:,} days (ten years), got {int(value):,}")
    return int(value)


def _as_date(value: object, what: str) -> date:
    if isinstance(value, date):
        found = value
    elif isinstance(value, str):
        try:
            found = date.fromisoformat(value.strip())
        except ValueError:
            raise ScenarioError(f"{what} must be a date written YYYY-MM-DD, got {value!r}") from None
    else:
        raise ScenarioError(f"{what} must be a date written YYYY-MM-DD, got {value!r}")
    return _date_in_range(found, what)


def _date_in_range(value: date, what: str) -> date:
    if not date_in_range(value):
        raise ScenarioError(f"{what} must fall between {EARLIEST_DATE} and {LATEST_DATE}, got {value}")
    return value


def _number(value: object, what: str) -> float:
    if isinstance(value, bool):
        raise ScenarioError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]  # checked by the except below
    except (TypeError, ValueError):
        raise ScenarioError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ScenarioError(f"{what} must be a finite number, got {value!r}")
    return number


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScenarioError(f"{what} must be a non-blank id, got {value!r}")
    return value.strip()


@dataclass(frozen=True)
class Slip:
    """Slip one milestone: its computed finish moves ``days`` later (its successors follow)."""

    milestone_id: str
    days: int
    kind: ClassVar[str] = "slip"

    def to_dict(self) -> dict[str, Any]:
        """Return the change as JSON-able values."""
        return {"kind": self.kind, "milestone_id": self.milestone_id, "days": self.days}


@dataclass(frozen=True)
class SetFinish:
    """Set one milestone's finish, whatever its predecessors do (its successors follow)."""

    milestone_id: str
    finish: date
    kind: ClassVar[str] = "set_finish"

    def to_dict(self) -> dict[str, Any]:
        """Return the change as JSON-able values."""
        return {"kind": self.kind, "milestone_id": self.milestone_id, "finish": self.finish.isoformat()}


@dataclass(frozen=True)
class SlipProject:
    """Slip every open milestone of a project by ``days``."""

    project_id: str
    days: int
    kind: ClassVar[str] = "slip_project"

    def to_dict(self) -> dict[str, Any]:
        """Return the change as JSON-able values."""
        return {"kind": self.kind, "project_id": self.project_id, "days": self.days}


@dataclass(frozen=True)
class Workaround:
    """From ``start``, at ``cost``, recover ``fraction`` of the value the milestone's lateness loses.

    Counted per link over the days from ``max(start, baseline_finish)`` until the
    milestone's computed finish that fall inside the KPI's period (DOMAIN.md section 4).
    """

    milestone_id: str
    start: date
    cost: float
    fraction: float
    kind: ClassVar[str] = "workaround"

    def to_dict(self) -> dict[str, Any]:
        """Return the change as JSON-able values."""
        return {
            "kind": self.kind,
            "milestone_id": self.milestone_id,
            "start": self.start.isoformat(),
            "cost": self.cost,
            "fraction": self.fraction,
        }


Change = Slip | SetFinish | SlipProject | Workaround
_KINDS: dict[str, type] = {c.kind: c for c in (Slip, SetFinish, SlipProject, Workaround)}


def change_from_dict(values: Mapping[str, Any]) -> Change:
    """Build one change from its :meth:`to_dict` form, checking every value.

    Raises
    ------
    ScenarioError
        Unknown kind, missing field or a value of the wrong type.
    """
    if not isinstance(values, Mapping):
        raise ScenarioError(f"a scenario change must be an object, got {values!r}")
    kind = values.get("kind")
    if kind not in _KINDS:
        raise ScenarioError(f"unknown kind of scenario change {kind!r}; known kinds: {', '.join(_KINDS)}")
    needed = {
        "slip": ("milestone_id", "days"),
        "set_finish": ("milestone_id", "finish"),
        "slip_project": ("project_id", "days"),
        "workaround": ("milestone_id", "start", "cost", "fraction"),
    }[kind]
    missing = [name for name in needed if values.get(name) is None]
    if missing:
        raise ScenarioError(f"a '{kind}' change needs {', '.join(missing)}")
    if kind == "slip":
        mid = _text(values["milestone_id"], "the milestone of a slip")
        return Slip(mid, _whole_days(values["days"], f"the slip of milestone '{mid}'"))
    if kind == "set_finish":
        mid = _text(values["milestone_id"], "the milestone of a set finish")
        return SetFinish(mid, _as_date(values["finish"], f"the finish set for milestone '{mid}'"))
    if kind == "slip_project":
        pid = _text(values["project_id"], "the project of a slip")
        return SlipProject(pid, _whole_days(values["days"], f"the slip of project '{pid}'"))
    mid = _text(values["milestone_id"], "the milestone of a workaround")
    what = f"the workaround for milestone '{mid}'"
    return Workaround(
        mid,
        _as_date(values["start"], f"the start of {what}"),
        _number(values["cost"], f"the cost of {what}"),
        _number(values["fraction"], f"the fraction {what} recovers"),
    )


@dataclass(frozen=True)
class Scenario:
    """A named set of changes on top of a snapshot."""

    name: str
    changes: tuple[Change, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the scenario as JSON-able values (what :meth:`Store.save_scenario` stores as its spec)."""
        return {"name": self.name, "changes": [change.to_dict() for change in self.changes]}

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], name: str | None = None) -> Scenario:
        """Build a scenario from :meth:`to_dict` output; ``name`` (the stored name) wins over the spec's.

        Raises
        ------
        ScenarioError
            When a change is malformed.
        """
        if not isinstance(spec, Mapping):
            raise ScenarioError(f"a scenario must be an object with a list of changes, got {spec!r}")
        changes = spec.get("changes", [])
        if not isinstance(changes, Sequence) or isinstance(changes, (str, bytes)):
            raise ScenarioError(f"the changes of a scenario must be a list, got {changes!r}")
        return cls(name if name is not None else str(spec.get("name", "")), tuple(change_from_dict(c) for c in changes))

    def of_kind(self, kind: type) -> list[Any]:
        """Return the changes of one kind (e.g. ``scenario.of_kind(Workaround)``), in order."""
        return [c for c in self.changes if isinstance(c, kind)]


# ---------------------------------------------------------------------------- applying
@dataclass(frozen=True)
class AppliedChanges:
    """A scenario turned into propagation inputs over the schedule's milestones.

    ``own``/``fixed``/``extra`` go to :func:`kpi_engine.engine.graph.propagate`; ``direct``
    marks the milestones a change names (or, for a project slip, reaches directly);
    ``workarounds`` holds ``milestone_id, start, cost, fraction``.
    """

    own: np.ndarray
    fixed: np.ndarray
    extra: np.ndarray
    direct: np.ndarray
    workarounds: pl.DataFrame


def _label(schedule: Schedule, position: int) -> str:
    row = schedule.milestones.row(position, named=True)
    return f"milestone '{row['milestone_id']}' ({row['name']})"


def apply_changes(portfolio: Portfolio, schedule: Schedule, scenario: Scenario) -> AppliedChanges:
    """Check a scenario against the snapshot and turn it into propagation inputs.

    Raises
    ------
    ScenarioError
        A change names an unknown milestone or project, slips or sets a finished
        milestone, sets a finish before the snapshot date, or a workaround has a fraction
        outside 0..1, a negative cost, a start before the snapshot date, or is the
        milestone's second workaround.
    """
    prefix = f"scenario '{scenario.name}': " if scenario.name else ""
    ids = schedule.milestones["milestone_id"]
    n = ids.len()
    own, fixed = schedule.own.copy(), schedule.fixed.copy()
    extra = np.zeros(n, dtype=np.int64)
    direct = np.zeros(n, dtype=bool)
    set_finish: dict[int, int] = {}
    workarounds: dict[str, Workaround] = {}
    as_of = portfolio.as_of

    rows = baseline(schedule).position

    def position(milestone_id: str) -> int:
        if milestone_id not in rows:
            raise ScenarioError(f"{prefix}there is no milestone '{milestone_id}' in the snapshot of {as_of}")
        return rows[milestone_id]

    def open_milestone(milestone_id: str, doing: str) -> int:
        i = position(milestone_id)
        if schedule.fixed[i]:
            finished = schedule.milestones["actual_finish"][i]
            raise ScenarioError(f"{prefix}{_label(schedule, i)} finished on {finished}; {doing}")
        return i

    for change in scenario.changes:
        if isinstance(change, Slip):
            i = open_milestone(change.milestone_id, "a finished milestone cannot slip")
            extra[i] += _whole_days(change.days, f"{prefix}the slip of milestone '{change.milestone_id}'")
            direct[i] = True
        elif isinstance(change, SlipProject):
            days_ = _whole_days(change.days, f"{prefix}the slip of project '{change.project_id}'")
            members = (schedule.milestones["project_id"] == change.project_id).to_numpy()
            if not members.any() and not (portfolio.projects["project_id"] == change.project_id).any():
                raise ScenarioError(f"{prefix}there is no project '{change.project_id}' in the snapshot of {as_of}")
            reach = members & ~schedule.fixed
            if not reach.any():
                what = "has no milestones" if not members.any() else "has no open milestones: every one has finished"
                raise ScenarioError(f"{prefix}project '{change.project_id}' {what}; there is nothing to slip")
            extra[reach] += days_
            direct |= reach
        elif isinstance(change, SetFinish):
            i = open_milestone(change.milestone_id, "a finished milestone's finish cannot be changed")
            _date_in_range(change.finish, f"{prefix}the finish set for milestone '{change.milestone_id}'")
            if change.finish < as_of:
                raise ScenarioError(
                    f"{prefix}{_label(schedule, i)} cannot be set to finish on {change.finish}, "
                    f"before the snapshot date {as_of}"
                )
            if i in set_finish:
                raise ScenarioError(f"{prefix}{_label(schedule, i)} has its finish set twice; keep one")
            set_finish[i] = day_number(change.finish)
            direct[i] = True
        elif isinstance(change, Workaround):
            what = f"{prefix}the workaround for milestone '{change.milestone_id}'"
            i = open_milestone(change.milestone_id, "a workaround has nothing left to recover")
            if not 0.0 <= change.fraction <= 1.0:
                raise ScenarioError(f"{what} must recover a fraction between 0 and 1, got {change.fraction}")
            if not math.isfinite(change.cost) or change.cost < 0:
                raise ScenarioError(f"{what} cannot have a negative cost, got {change.cost}")
            if change.cost > MAX_MONEY:
                raise ScenarioError(f"{what} can cost at most {MAX_MONEY:,.0f}, got {change.cost:,.2f}")
            _date_in_range(change.start, f"{prefix}the start of the workaround for milestone '{change.milestone_id}'")
            if change.start < as_of:
                raise ScenarioError(f"{what} cannot start on {change.start}, before the snapshot date {as_of}")
            if change.milestone_id in workarounds:
                raise ScenarioError(f"{prefix}{_label(schedule, i)} has two workarounds; combine them into one")
            workarounds[change.milestone_id] = change
        else:  # pragma: no cover - the Change union is closed
            raise ScenarioError(f"{prefix}unknown change {change!r}")

    # A set finish ignores predecessors; slips named on the same milestone still add to it.
    for i, finish in set_finish.items():
        own[i], fixed[i] = finish + extra[i], True
    frame = pl.DataFrame(
        {
            "milestone_id": [w.milestone_id for w in workarounds.values()],
            "start": [w.start for w in workarounds.values()],
            "cost": [round_cents(float(w.cost)) for w in workarounds.values()],
            "fraction": [float(w.fraction) for w in workarounds.values()],
        },
        schema={"milestone_id": pl.String, "start": pl.Date, "cost": pl.Float64, "fraction": pl.Float64},
    )
    return AppliedChanges(own=own, fixed=fixed, extra=extra, direct=direct, workarounds=frame)


# ---------------------------------------------------------------------------- results
KPI_DIFF_SCHEMA = {
    "kpi_id": pl.String,
    "name": pl.String,
    "unit": pl.String,
    "direction": pl.String,
    "target_value": pl.Float64,
    "target_date": pl.Date,
    "projected_before": pl.Float64,
    "projected_after": pl.Float64,
    "shortfall_before": pl.Float64,
    "shortfall_after": pl.Float64,
    "misses_before": pl.Boolean,
    "misses_after": pl.Boolean,
}
MOVED_SCHEMA = pl.Schema(
    {
        "milestone_id": pl.String,
        "name": pl.String,
        "project_id": pl.String,
        "before": pl.Date,
        "after": pl.Date,
        "moved_days": pl.Int64,
        "is_direct": pl.Boolean,
    }
)
ESCALATION_SCHEMA = pl.Schema(
    {
        "milestone_id": pl.String,
        "kpi_id": pl.String,
        "escalation_level_before": pl.Int64,
        "escalation_level_after": pl.Int64,
        "escalate_to_before": pl.String,
        "escalate_to_after": pl.String,
        "escalate_role": pl.String,
    }
)
#: The escalation of no milestone tied to no KPI (what :func:`milestone_escalation` adds, on no rows).
NO_LONELY_SCHEMA = pl.Schema(
    {"milestone_id": pl.String, "escalation_level": pl.Int64, "escalate_to": pl.String, "escalate_role": pl.String}
)
MITIGATION_SCHEMA = pl.Schema(
    {
        "milestone_id": pl.String,
        "start": pl.Date,
        "cost": pl.Float64,
        "fraction": pl.Float64,
        "recovered_value": pl.Float64,
        "net_value": pl.Float64,
        "break_even_days": pl.Int64,
    }
)


@dataclass(frozen=True, eq=False)
class ScenarioResult:
    """A scenario's figures and its differences against the unchanged snapshot.

    Attributes
    ----------
    spec
        The scenario as written.
    baseline
        The unchanged snapshot's result.
    settings
        The thresholds the scenario was computed with.
    schedule
        The snapshot's prepared schedule.
    finish
        The scenario's computed finishes, day numbers in the schedule's milestone order.
    kpi_diff
        Every KPI: ``projected``, ``shortfall`` and ``misses`` ``_before`` and ``_after``.
    moved
        Milestones whose computed finish moves: ``before``, ``after``, ``moved_days`` and
        ``is_direct`` (named by a change rather than following a predecessor).
    escalations
        (milestone, KPI) pairs, or milestones tied to no KPI (``kpi_id`` null), whose
        escalation level rises.
    mitigations
        Each workaround: ``recovered_value``, ``net_value`` (recovered - cost) and
        ``break_even_days``: the milestone's slip (days past its baseline finish) from
        which the workaround recovers at least its cost; null when it never does.
    value_at_risk_total_before, value_at_risk_total_after
        Total value at risk over all links. Workarounds do not change the schedule, so the
        after figure is gross; :attr:`value_at_risk_total_net` takes recoveries off.
    """

    spec: Scenario
    baseline: EngineResult
    settings: Settings
    schedule: Schedule
    finish: np.ndarray
    kpi_diff: pl.DataFrame
    moved: pl.DataFrame
    escalations: pl.DataFrame
    mitigations: pl.DataFrame
    value_at_risk_total_before: float
    value_at_risk_total_after: float
    _reached: Reached = field(repr=False)
    _rows: BaseRows = field(repr=False)

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.spec.name

    @property
    def recovered_total(self) -> float:
        """Value all workarounds recover, to the cent."""
        return round_cents(float(self.mitigations["recovered_value"].sum()))

    @property
    def value_at_risk_total_net(self) -> float:
        """Total value at risk after the workarounds' recoveries, to the cent."""
        return round_cents(self.value_at_risk_total_after - self.recovered_total)

    @cached_property
    def scenario(self) -> EngineResult:
        """The complete engine result of the scenario (DOMAIN.md sections 2-3), built on first use.

        The snapshot's own result with the rows the change reaches replaced
        (:func:`~kpi_engine.whatif.complete.complete_result`). Escalation uses the same
        previous-snapshot statuses as the baseline; the ``new`` flag of an exception row
        means "not in the unchanged snapshot's list".
        """
        return complete_result(self.baseline, self._reached, self._rows)


def run_scenario(
    portfolio: Portfolio,
    scenario: Scenario,
    settings: Settings | None = None,
    base: EngineResult | None = None,
    schedule: Schedule | None = None,
) -> ScenarioResult:
    """Apply a scenario to a snapshot and return its figures and differences.

    Parameters
    ----------
    portfolio
        The snapshot.
    scenario
        The changes.
    settings
        Thresholds; default the base result's, else :class:`Settings`.
    base
        The snapshot's own result (e.g. from :func:`kpi_engine.analysis.analyse`, with its
        previous snapshot as context); computed when omitted.
    schedule
        The snapshot's prepared schedule (:func:`kpi_engine.engine.schedule.prepare_schedule`);
        pass it when recomputing repeatedly.

    Raises
    ------
    ScenarioError
        When the scenario does not fit the snapshot (see :func:`apply_changes`).
    """
    settings = settings or (base.settings if base is not None else Settings())
    schedule = schedule if schedule is not None else prepare_schedule(portfolio)
    before = baseline(schedule).finish
    if base is None:
        base = evaluate(portfolio, schedule, before, settings)
    applied = apply_changes(portfolio, schedule, scenario)
    after, cone = propagate_cone(schedule.graph, before, applied.own, applied.fixed, applied.extra, applied.direct)
    ids = schedule.milestones["milestone_id"]
    check_finishes(after, ids)

    in_cone = np.flatnonzero(cone)
    moved_at = in_cone[after[in_cone] != before[in_cone]]
    rows = base_rows(base, schedule, portfolio)
    # a link naming an unknown milestone or KPI drives nothing (as in the engine)
    links, (link_milestone, link_kpi) = rows.links, rows.positions
    # Only KPIs linked to a moved milestone can change; only milestones linked to those KPIs
    # (or moved themselves) can change status, value at risk or escalation.
    moved = np.zeros(ids.len(), dtype=bool)
    moved[moved_at] = True
    kpi_changed = np.zeros(portfolio.kpis.height, dtype=bool)
    kpi_changed[link_kpi[moved[link_milestone]]] = True
    reached = moved.copy()
    reached[link_milestone[kpi_changed[link_kpi]]] = True
    touched_at = np.flatnonzero(reached)
    touched = replace(schedule, milestones=schedule.milestones[touched_at]).with_finish(after[touched_at])
    # rows are gathered by position: a link's milestone in ``touched``, its KPI in portfolio.kpis
    local = np.full(ids.len(), -1, dtype=np.int64)
    local[touched_at] = np.arange(touched_at.size)
    mine = reached[link_milestone]
    positions = (local[link_milestone[mine]], link_kpi[mine])
    link_rows = link_figures(links.filter(pl.Series(mine)), touched, portfolio.kpis, positions)

    changed = kpi_changed[link_kpi]
    kpis_after = project_kpis(
        rows.kpi_starts.filter(pl.Series(kpi_changed)),
        links.filter(pl.Series(changed)),
        touched,
        (local[link_milestone[changed]], (np.cumsum(kpi_changed) - 1)[link_kpi[changed]]),
    ).select("kpi_id", "projected", "shortfall", "misses")
    misses = rows.misses.copy()
    misses[kpi_changed] = kpis_after["misses"].to_numpy()
    touched = computed_status(touched, link_rows, pl.DataFrame({"misses": misses}), settings, positions)

    status = pl.concat(
        [touched.select("milestone_id", "computed_status"), rows.milestone_context[touched_at]], how="horizontal"
    )
    pairs = pair_escalation(
        pl.concat(
            [
                link_rows,
                status.drop("milestone_id")[positions[0]],
                rows.kpi_context[positions[1]],
                pl.DataFrame({"misses": misses[positions[1]]}),
            ],
            how="horizontal",
        ),
        settings,
    )
    lonely_at = np.flatnonzero(~rows.linked[touched_at])
    lonely = milestone_escalation(status[lonely_at]) if lonely_at.size else pl.DataFrame(schema=NO_LONELY_SCHEMA)
    # the same pairs and KPI-less milestones before the change, by position
    before_rows = pl.concat(
        [rows.link_escalation.filter(pl.Series(mine)), rows.milestone_escalation[touched_at[lonely_at]]]
    )
    escalations = _rises(pl.concat([_escalation_rows(pairs, lonely), before_rows], how="horizontal"))
    value_after = round_cents(
        base.value_at_risk_total - float(rows.value_at_risk[touched_at].sum()) + float(pairs["value_at_risk"].sum())
    )
    return ScenarioResult(
        spec=scenario,
        baseline=base,
        settings=settings,
        schedule=schedule,
        finish=after,
        kpi_diff=kpi_differences(base.kpis, kpis_after),
        moved=_moved(schedule, before, after, applied.direct, moved_at),
        escalations=escalations,
        mitigations=mitigation_values(applied.workarounds, schedule, after, portfolio),
        value_at_risk_total_before=base.value_at_risk_total,
        value_at_risk_total_after=value_after,
        _reached=Reached(
            rows=touched_at,
            milestones=touched,
            links=mine,
            pairs=pairs,
            pair_rows=positions[0],
            pair_kpis=positions[1],
            lonely=lonely,
            lonely_rows=lonely_at,
            kpis=kpi_changed,
            kpi_figures=kpis_after.select("projected", "shortfall", "misses"),
        ),
        _rows=rows,
    )


def kpi_differences(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """Return every KPI of ``before`` with its figures before and after (``after`` may hold only changed KPIs)."""
    changed = after.select(
        "kpi_id", pl.col("projected").alias("_p"), pl.col("shortfall").alias("_s"), pl.col("misses").alias("_m")
    )
    return (
        before.join(changed, on="kpi_id", how="left", maintain_order="left")
        .select(
            "kpi_id",
            "name",
            "unit",
            "direction",
            "target_value",
            "target_date",
            pl.col("projected").alias("projected_before"),
            pl.coalesce("_p", "projected").alias("projected_after"),
            pl.col("shortfall").alias("shortfall_before"),
            pl.coalesce("_s", "shortfall").alias("shortfall_after"),
            pl.col("misses").alias("misses_before"),
            pl.coalesce("_m", "misses").alias("misses_after"),
        )
        .sort("kpi_id")
    )


def _moved(
    schedule: Schedule, before: np.ndarray, after: np.ndarray, direct: np.ndarray, moved_at: np.ndarray
) -> pl.DataFrame:
    return (
        schedule.milestones[moved_at]
        .select("milestone_id", "name", "project_id")
        .with_columns(
            as_date(pl.lit(pl.Series(before[moved_at]))).alias("before"),
            as_date(pl.lit(pl.Series(after[moved_at]))).alias("after"),
            pl.Series("moved_days", after[moved_at] - before[moved_at], dtype=pl.Int64),
            pl.Series("is_direct", direct[moved_at], dtype=pl.Boolean),
        )
        .sort(["is_direct", "moved_days", "milestone_id"], descending=[True, True, False])
        .cast(MOVED_SCHEMA)
    )


def _escalation_rows(pairs: pl.DataFrame, lonely: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(
        [
            pairs.select("milestone_id", "kpi_id", "escalation_level", "escalate_to", "escalate_role"),
            lonely.select(
                "milestone_id",
                pl.lit(None, pl.String).alias("kpi_id"),
                "escalation_level",
                "escalate_to",
                "escalate_role",
            ),
        ]
    )


def escalation_rises(
    base: EngineResult, touched_ids: pl.Series, pairs: pl.DataFrame, lonely: pl.DataFrame, links: pl.DataFrame
) -> pl.DataFrame:
    """Return the (milestone, KPI) pairs and KPI-less milestones whose escalation level rises, by ids.

    The rule in words, joined on ids; :func:`run_scenario` reaches the same rows by position.

    Parameters
    ----------
    base
        The unchanged snapshot's result.
    touched_ids
        The milestones whose figures ``pairs`` and ``lonely`` hold (the rest are unchanged).
    pairs, lonely
        The scenario's escalation of those milestones' links, and of those tied to no KPI.
    links
        The snapshot's canonical links (what "tied to no KPI" means).
    """
    mine = pl.col("milestone_id").is_in(touched_ids.implode())
    before = _escalation_rows(
        base.links.filter(mine),
        base.milestones.filter(mine & ~pl.col("milestone_id").is_in(links["milestone_id"].implode())),
    ).select(
        "milestone_id",
        "kpi_id",
        pl.col("escalation_level").alias("escalation_level_before"),
        pl.col("escalate_to").alias("escalate_to_before"),
    )
    # a row ``before`` lacks counts as level 0
    return _rises(
        _escalation_rows(pairs, lonely).join(before, on=["milestone_id", "kpi_id"], how="left", nulls_equal=True)
    )


def _rises(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows whose ``escalation_level`` is above ``escalation_level_before`` (missing: level 0), highest first.

    ``rows``: :func:`_escalation_rows` with ``escalation_level_before`` and ``escalate_to_before``.
    """
    return (
        rows.rename({"escalation_level": "escalation_level_after", "escalate_to": "escalate_to_after"})
        .with_columns(pl.col("escalation_level_before").fill_null(0))
        .filter(pl.col("escalation_level_after") > pl.col("escalation_level_before"))
        .select(list(ESCALATION_SCHEMA))
        .cast(ESCALATION_SCHEMA)
        .sort(["escalation_level_after", "milestone_id", "kpi_id"], descending=[True, False, False], nulls_last=True)
    )


def mitigation_values(
    workarounds: pl.DataFrame, schedule: Schedule, finish: np.ndarray, portfolio: Portfolio
) -> pl.DataFrame:
    """Return each workaround's recovered value, net value and break-even slip.

    Per link of the milestone, the workaround recovers ``fraction`` of ``value_per_week / 7``
    for every day d with ``max(start, baseline_finish, period_start) <= d <
    min(computed_finish, target_date + 1)`` (the day counting of value at risk).
    As a function of the milestone's slip s (computed finish - baseline finish) that sum
    is piecewise linear and never decreasing, with its kinks where a link's counting
    starts or ends; the break-even is the first whole day s >= 0 where it reaches the cost.

    Parameters
    ----------
    workarounds
        ``milestone_id, start, cost, fraction`` (one row per milestone).
    schedule
        The snapshot's schedule.
    finish
        Computed finishes (day numbers) in the schedule's order.
    portfolio
        The snapshot (links and KPI periods).
    """
    if workarounds.height == 0:
        return pl.DataFrame(schema=MITIGATION_SCHEMA)
    at = np.flatnonzero(schedule.milestones["milestone_id"].is_in(workarounds["milestone_id"].implode()).to_numpy())
    milestones = (
        schedule.milestones[at]
        .select("milestone_id", days(pl.col("baseline_finish")).alias("_bf"))
        .with_columns(pl.Series("_slip", finish[at]) - pl.col("_bf"))
    )
    parts = (
        workarounds.join(milestones, on="milestone_id")
        .join(portfolio.links.select("milestone_id", "kpi_id", "value_per_week"), on="milestone_id")
        .join(portfolio.kpis.select("kpi_id", "period_start", "target_date"), on="kpi_id")
        .select(
            "milestone_id",
            "_slip",
            # slips (days past the baseline finish) at which this link's recovery starts and stops growing
            (
                pl.max_horizontal(days(pl.col("start")), pl.col("_bf"), days(pl.col("period_start"))) - pl.col("_bf")
            ).alias("_lo"),
            (days(pl.col("target_date")) + 1 - pl.col("_bf")).alias("_hi"),
            (pl.col("fraction") * pl.col("value_per_week") / 7.0).alias("_rate"),
        )
    )

    def recovered_at(slip: pl.Expr) -> pl.Expr:
        span = pl.max_horizontal(pl.col("_hi") - pl.col("_lo"), pl.lit(0, pl.Int64))
        return pl.col("_rate") * (slip - pl.col("_lo")).clip(pl.lit(0, pl.Int64), span).cast(pl.Float64)

    recovered = parts.group_by("milestone_id").agg(cents(recovered_at(pl.col("_slip")).sum()).alias("recovered_value"))
    kinks = (
        pl.concat(
            [
                parts.select("milestone_id", pl.col("_lo").alias("_s")),
                parts.select("milestone_id", pl.col("_hi").alias("_s")),
                workarounds.select("milestone_id", pl.lit(0, pl.Int64).alias("_s")),
            ]
        )
        .with_columns(pl.col("_s").clip(lower_bound=0))
        .unique()
    )
    curve = (
        kinks.join(parts.drop("_slip"), on="milestone_id", how="left")
        .group_by("milestone_id", "_s")
        .agg(recovered_at(pl.col("_s")).sum().fill_null(0.0).alias("_v"))
        .join(workarounds.select("milestone_id", "cost"), on="milestone_id")
        .sort("milestone_id", "_s")
        .with_columns(
            pl.col("_s").shift(1).over("milestone_id").alias("_s0"),
            pl.col("_v").shift(1).over("milestone_id").alias("_v0"),
        )
    )
    # the first kink where recovery covers the cost; the cost is crossed on the segment before it
    crossing = (
        curve.filter(pl.col("_v") >= pl.col("cost") - 1e-6)
        .unique("milestone_id", keep="first", maintain_order=True)
        .select(
            "milestone_id",
            pl.when(pl.col("_s0").is_null())
            .then(pl.col("_s"))
            .otherwise(
                (
                    pl.col("_s0")
                    + (pl.col("cost") - pl.col("_v0")) / (pl.col("_v") - pl.col("_v0")) * (pl.col("_s") - pl.col("_s0"))
                    - 1e-9
                ).ceil()
            )
            .cast(pl.Int64)
            .alias("break_even_days"),
        )
    )
    return (
        workarounds.join(recovered, on="milestone_id", how="left", maintain_order="left")
        .join(crossing, on="milestone_id", how="left", maintain_order="left")
        .with_columns(pl.col("recovered_value").fill_null(0.0))
        .with_columns(cents(pl.col("recovered_value") - pl.col("cost")).alias("net_value"))
        .select(list(MITIGATION_SCHEMA))
        .cast(MITIGATION_SCHEMA)
    )


# ---------------------------------------------------------------------------- comparing
def compare_scenarios(results: Sequence[ScenarioResult]) -> pl.DataFrame:
    """Put two to four scenarios of one snapshot side by side.

    Returns one row per figure (``figure``, ``kpi_id``, ``unit``), a ``baseline`` column
    (the unchanged snapshot) and one column per scenario, named after it (a repeated
    name gets `` (2)``, `` (3)``...). Figures: total value at risk, value recovered by
    workarounds, workaround cost, net value of workarounds, value at risk after
    workarounds, milestones moved, escalations raised, KPIs missing their target, then
    each KPI's projected value and shortfall.

    Raises
    ------
    ScenarioError
        Fewer than two or more than four scenarios, or scenarios of different snapshots.
    """
    if not 2 <= len(results) <= MAX_COMPARED:
        raise ScenarioError(f"choose between two and {MAX_COMPARED} scenarios to compare, got {len(results)}")
    first = results[0].baseline
    for result in results[1:]:
        if result.baseline.portfolio.as_of != first.portfolio.as_of:
            raise ScenarioError(
                f"scenarios '{results[0].name}' and '{result.name}' are on different snapshots "
                f"({first.portfolio.as_of} and {result.baseline.portfolio.as_of}); compare scenarios of one snapshot"
            )
    labels = [
        "value at risk",
        "recovered by workarounds",
        "workaround cost",
        "net value of workarounds",
        "value at risk after workarounds",
        "milestones moved",
        "escalations raised",
        "KPIs missing target",
    ]
    kpis = results[0].kpi_diff.select("kpi_id", "unit")
    frame = pl.DataFrame(
        {
            "figure": labels + ["projected"] * kpis.height + ["shortfall"] * kpis.height,
            "kpi_id": [None] * len(labels) + kpis["kpi_id"].to_list() * 2,
            "unit": [None] * len(labels) + kpis["unit"].to_list() * 2,
        },
        schema={"figure": pl.String, "kpi_id": pl.String, "unit": pl.String},
    )

    def column(result: ScenarioResult | None) -> list[float]:
        if result is None:
            diff = results[0].kpi_diff
            head = [
                results[0].value_at_risk_total_before,
                0.0,
                0.0,
                0.0,
                results[0].value_at_risk_total_before,
                0.0,
                0.0,
                float(diff["misses_before"].sum()),
            ]
            return head + diff["projected_before"].to_list() + diff["shortfall_before"].to_list()
        diff = kpis.select("kpi_id").join(result.kpi_diff, on="kpi_id", how="left", maintain_order="left")
        cost = float(result.mitigations["cost"].sum())
        head = [
            result.value_at_risk_total_after,
            result.recovered_total,
            cost,
            result.recovered_total - cost,
            result.value_at_risk_total_net,
            float(result.moved.height),
            float(result.escalations.height),
            float(diff["misses_after"].sum()),
        ]
        return head + diff["projected_after"].to_list() + diff["shortfall_after"].to_list()

    names: list[str] = []
    taken = set(frame.columns) | {"baseline"}
    for result in results:
        name, k = result.name or "scenario", 2
        candidate = name
        while candidate in taken:
            candidate, k = f"{name} ({k})", k + 1
        taken.add(candidate)
        names.append(candidate)
    return frame.with_columns(
        pl.Series("baseline", column(None), dtype=pl.Float64),
        *[pl.Series(name, column(result), dtype=pl.Float64) for name, result in zip(names, results, strict=False)],
    )
