"""The best set of workarounds for a budget (DOMAIN.md section 7 rule 1).

Every candidate of the ``mitigations`` table is a workaround of section 4 on the
unchanged snapshot; its recovered value comes from
:func:`kpi_engine.whatif.scenarios.mitigation_values`, exactly as a what-if computes it.
Choosing at most one candidate per milestone so that the total cost stays within a
budget and the total net value (recovered - cost) is as large as possible is a
*multiple-choice knapsack*. It is solved exactly by dynamic programming over the cost:

- Money is counted in whole cents (DOMAIN.md section 2 rule 4), so ties are exact.
- The **step** of the cost grid is the greatest common divisor of the candidates' costs
  in cents (50,000 and 75,000 give a step of 25,000). Every total cost is then a whole
  number of steps and the answer is exact.
- Only when that grid would exceed :data:`MAX_CELLS` cells (costs to the cent against a
  budget of many millions) is the step made coarser: costs are then rounded *up* to the
  step, so a chosen set never exceeds the budget, and :attr:`Optimum.exact` is False.
- Candidates with no positive net value are never chosen; among equal best totals the
  lower total cost wins.

The :attr:`Optimum.frontier` is the best total net value as a function of the budget,
from 0 up to the budget at which more money buys nothing more (every milestone's
dearest useful candidate), so the chart shows what a larger budget would add.

>>> optimum = optimize(portfolio, budget=100_000)     # doctest: +SKIP
>>> optimum.chosen["milestone_id"].to_list()           # doctest: +SKIP
['M1']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from kpi_engine.core.errors import InputError
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.engine.schedule import Schedule, prepare_schedule
from kpi_engine.whatif.scenarios import Scenario, Workaround, mitigation_values

#: Most cost-grid cells (budget / step + 1) one dynamic program uses; above it the step grows.
MAX_CELLS = 200_000
#: Most cells x milestones the choice table may hold (2 bytes each: 80 MB at most).
MAX_CHOICES = 40_000_000

#: Columns of the candidate values and of :attr:`Optimum.chosen`.
VALUE_SCHEMA = pl.Schema(
    {
        "milestone_id": pl.String(),
        "name": pl.String(),
        "start_date": pl.Date(),
        "cost": pl.Float64(),
        "fraction": pl.Float64(),
        "recovered_value": pl.Float64(),
        "net_value": pl.Float64(),
    }
)
FRONTIER_SCHEMA: dict[str, pl.DataType] = {"budget": pl.Float64(), "total_net": pl.Float64()}


@dataclass(frozen=True)
class Optimum:
    """The best set of workarounds for one budget.

    Attributes
    ----------
    budget
        The budget the set fits.
    chosen
        The chosen candidates (columns of :data:`VALUE_SCHEMA`), by milestone.
    total_cost, total_recovered, total_net
        Their sums (money, to the cent).
    frontier
        ``budget``, ``total_net``: the best total net value for every budget, ascending;
        one row where it rises (it stays flat until the next row).
    step
        The cost grid step (currency units) the dynamic program used.
    exact
        True when every candidate's cost is a whole number of steps (the usual case);
        False when the step was made coarser and costs were rounded up to it.
    """

    budget: float
    chosen: pl.DataFrame
    total_cost: float
    total_recovered: float
    total_net: float
    frontier: pl.DataFrame
    step: float
    exact: bool

    def to_dict(self) -> dict[str, object]:
        """Return the ``optimize`` JSON of CLI.md (frames stay frames for the JSON writer)."""
        return {
            "budget": self.budget,
            "chosen": self.chosen.select("milestone_id", "name", "cost", "recovered_value", "net_value"),
            "total_cost": self.total_cost,
            "total_recovered": self.total_recovered,
            "total_net": self.total_net,
            "frontier": self.frontier,
        }

    def to_scenario(self, name: str, as_of: date) -> Scenario:
        """Return the chosen set as a what-if scenario of workarounds (to save and compare).

        A candidate whose start date lies before the snapshot date ``as_of`` starts on it
        (a workaround cannot start in the past; its recovered value counts from there too).
        """
        return Scenario(
            name,
            tuple(
                Workaround(mid, max(start, as_of), cost, fraction)
                for mid, start, cost, fraction in self.chosen.select(
                    "milestone_id", "start_date", "cost", "fraction"
                ).iter_rows()
            ),
        )


def check_budget(budget: object) -> float:
    """Return ``budget`` as a float, or raise when it is not a number of at least 0.

    Raises
    ------
    InputError
        Not a number, not finite, or negative.
    """
    if isinstance(budget, bool):
        raise InputError(f"the budget must be a number of at least 0, got {budget!r}")
    try:
        value = float(budget)  # type: ignore[arg-type]  # checked by the except below
    except (TypeError, ValueError):
        raise InputError(f"the budget must be a number of at least 0, got {budget!r}") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"the budget must be a number of at least 0, got {budget!r}")
    return value


# ---------------------------------------------------------------------------- values
def candidate_values(portfolio: Portfolio, schedule: Schedule | None = None) -> pl.DataFrame:
    """Return every candidate workaround of the snapshot with its recovered and net value.

    Each candidate is valued as the what-if workaround of DOMAIN.md section 4 on the
    unchanged snapshot (:func:`~kpi_engine.whatif.scenarios.mitigation_values`). Two
    choices where section 4 would refuse the workaround: a candidate for a finished
    milestone recovers nothing, and one whose start date lies before the snapshot date
    counts from the snapshot date. Money is rounded to the cent.

    Parameters
    ----------
    portfolio
        The snapshot; candidates are its ``mitigations`` table.
    schedule
        The snapshot's prepared schedule, when the caller has it.

    Returns
    -------
    pl.DataFrame
        Columns of :data:`VALUE_SCHEMA`, ordered by milestone, then name.
    """
    candidates = portfolio.mitigations
    if candidates.height == 0:
        return pl.DataFrame(schema=VALUE_SCHEMA)
    schedule = schedule if schedule is not None else prepare_schedule(portfolio)
    finish = schedule.finish()
    ids = schedule.milestones["milestone_id"]
    open_ids = ids.filter(pl.Series(~schedule.fixed))
    rows = candidates.with_columns(
        pl.max_horizontal(pl.col("start_date"), pl.lit(portfolio.as_of)).alias("start"),
        pl.int_range(pl.len()).alias("_row"),
        pl.int_range(pl.len()).over("milestone_id").alias("_rank"),
    )
    known = rows.filter(pl.col("milestone_id").is_in(open_ids.implode()))
    # mitigation_values takes one workaround per milestone: value the candidates in rounds
    parts = [
        mitigation_values(group.select("milestone_id", "start", "cost", "fraction"), schedule, finish, portfolio)
        .select("recovered_value")
        .with_columns(group["_row"])
        for _, group in known.group_by("_rank", maintain_order=True)
    ]
    recovered = (
        pl.concat(parts)
        if parts
        else pl.DataFrame(schema={"_row": pl.Int64, "recovered_value": pl.Float64}).cast({"_row": rows["_row"].dtype})
    )
    return (
        rows.join(recovered, on="_row", how="left")
        .with_columns(pl.col("recovered_value").fill_null(0.0).round(2), pl.col("cost").round(2))
        .with_columns((pl.col("recovered_value") - pl.col("cost")).round(2).alias("net_value"))
        .sort("milestone_id", "name", "_row")
        .select(list(VALUE_SCHEMA))
        .cast(VALUE_SCHEMA)
    )


# ---------------------------------------------------------------------------- solving
def _cents(values: pl.Series) -> np.ndarray:
    return np.rint(values.to_numpy().astype(np.float64) * 100.0).astype(np.int64)


@dataclass(frozen=True)
class _Grid:
    step: int  # cents
    cells: np.ndarray  # each candidate's cost in steps (rounded up)
    exact: bool


def _grid(costs: np.ndarray, upto: int, n_groups: int) -> _Grid:
    """The cost grid: the costs' common divisor as the step, coarser only when it must be."""
    nonzero = costs[costs > 0]
    step = int(np.gcd.reduce(nonzero)) if nonzero.size else 1
    step = max(step, 1)
    limit = max(2, min(MAX_CELLS, MAX_CHOICES // max(1, n_groups)))
    exact = True
    if upto // step + 1 > limit:
        coarse = -(-upto // (limit - 1))
        step = max(step, -(-coarse // step) * step)  # a multiple of the exact step
        exact = bool(np.all(costs % step == 0))
    return _Grid(step=step, cells=-(-costs // step), exact=exact)


def _knapsack(groups: np.ndarray, cells: np.ndarray, nets: np.ndarray, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Multiple-choice knapsack over exact costs 0..capacity (in steps).

    Returns ``best`` (best total net, in cents, of a set costing exactly ``c`` steps;
    a very negative number when no set costs that) and ``choice`` (per group and cell,
    1 + the index in the group's candidates chosen there, 0 for none), from which
    :func:`_reconstruct` reads the set.
    """
    unreachable = np.iinfo(np.int64).min // 4
    best = np.full(capacity + 1, unreachable, dtype=np.int64)
    best[0] = 0
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]]) if groups.size else np.array([], dtype=np.int64)
    ends = np.r_[starts[1:], groups.size].astype(np.int64) if starts.size else starts
    choice = np.zeros((starts.size, capacity + 1), dtype=np.uint16)
    for g, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
        new = best.copy()
        for j in range(lo, hi):
            c = int(cells[j])
            if c > capacity:
                continue
            from_best = best[: capacity + 1 - c]
            offered = np.where(from_best > unreachable, from_best + nets[j], unreachable)
            better = offered > new[c:]
            new[c:][better] = offered[better]
            choice[g, c:][better] = j - lo + 1
        best = new
    return best, choice


def _reconstruct(choice: np.ndarray, groups: np.ndarray, cells: np.ndarray, cell: int) -> list[int]:
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]]) if groups.size else np.array([], dtype=np.int64)
    picked = []
    for g in range(starts.size - 1, -1, -1):
        j = int(choice[g, cell])
        if j:
            index = int(starts[g]) + j - 1
            picked.append(index)
            cell -= int(cells[index])
    return sorted(picked)


def _frontier(best: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Budgets (cents) where the best total net rises, and the totals there (cents)."""
    running = np.maximum.accumulate(best)
    rises = np.flatnonzero(np.r_[True, running[1:] > running[:-1]])
    return rises.astype(np.int64) * step, running[rises]


def best_workarounds(values: pl.DataFrame, budget: float) -> Optimum:
    """Choose at most one candidate per milestone: the most net value within ``budget``.

    Parameters
    ----------
    values
        Candidates with ``milestone_id``, ``name``, ``cost``, ``recovered_value`` and
        ``net_value`` (e.g. :func:`candidate_values`; other columns of
        :data:`VALUE_SCHEMA` are carried into :attr:`Optimum.chosen` when present).
    budget
        The most the chosen set may cost (0 chooses nothing).

    Raises
    ------
    InputError
        A budget that is negative or not a number.
    """
    budget = check_budget(budget)
    values = values.with_columns(
        *(pl.lit(None, dtype=dtype).alias(name) for name, dtype in VALUE_SCHEMA.items() if name not in values.columns)
    ).select(list(VALUE_SCHEMA))
    useful = (
        values.with_row_index("_row")
        .filter((pl.col("net_value") * 100).round(0) > 0)
        .sort("milestone_id", "cost", "_row")
    )
    budget_cents = math.floor(budget * 100 + 1e-6)
    costs = _cents(useful["cost"])
    nets = _cents(useful["net_value"])
    _, group_codes = np.unique(useful["milestone_id"].to_numpy(), return_inverse=True)
    groups = group_codes.astype(np.int64)
    # beyond every milestone's dearest useful candidate, more budget buys nothing more
    dearest = useful.group_by("milestone_id").agg(pl.col("cost").max())["cost"]
    saturation = int(_cents(dearest).sum())
    n_groups = int(groups.max()) + 1 if groups.size else 0
    grid = _grid(costs, max(min(budget_cents, saturation), 0), n_groups)
    capacity = min(budget_cents, saturation) // grid.step
    best, choice = _knapsack(groups, grid.cells, nets, capacity)
    # the highest total at the lowest cost: argmax returns the first (cheapest) cell
    cell = int(np.argmax(best))
    picked = _reconstruct(choice, groups, grid.cells, cell)
    budgets, totals = _frontier(best, grid.step)
    exact = grid.exact
    if saturation > budget_cents:
        # the frontier beyond the budget, on its own (possibly coarser) grid
        wide = _grid(costs, saturation, n_groups)
        wide_best, _ = _knapsack(groups, wide.cells, nets, saturation // wide.step)
        more_budgets, more_totals = _frontier(wide_best, wide.step)
        beyond = (more_budgets > budget_cents) & (more_totals > (totals[-1] if totals.size else 0))
        budgets, totals = np.r_[budgets, more_budgets[beyond]], np.r_[totals, more_totals[beyond]]
    chosen = useful[picked].drop("_row").sort("milestone_id")
    return Optimum(
        budget=budget,
        chosen=chosen,
        total_cost=round(float(costs[picked].sum()) / 100, 2),
        total_recovered=round(float(chosen["recovered_value"].sum()), 2),
        total_net=round(float(nets[picked].sum()) / 100, 2),
        frontier=pl.DataFrame(
            {"budget": budgets.astype(np.float64) / 100, "total_net": totals.astype(np.float64) / 100},
            schema=FRONTIER_SCHEMA,
        ),
        step=grid.step / 100,
        exact=exact,
    )


def optimize(portfolio: Portfolio, budget: float, schedule: Schedule | None = None) -> Optimum:
    """Value the snapshot's candidate workarounds and choose the best set for ``budget``.

    Raises
    ------
    InputError
        A budget that is negative or not a number.
    """
    budget = check_budget(budget)
    return best_workarounds(candidate_values(portfolio, schedule), budget)


def optimum_table(optimum: Optimum, currency: str, candidates: int) -> str:
    """The best set as a person reads it: what to fund, what it recovers, what more money would add."""
    from kpi_engine.output.formats import render_table

    lines = [f"Best use of a budget of {optimum.budget:,.0f} {currency} ({candidates} candidate workarounds)."]
    if optimum.chosen.height:
        lines += [
            "",
            render_table(
                optimum.chosen.select(
                    "milestone_id",
                    "name",
                    pl.col("cost").round(0),
                    pl.col("recovered_value").round(0),
                    pl.col("net_value").round(0),
                )
            ),
        ]
    lines += [
        "",
        f"Cost {optimum.total_cost:,.0f}, recovered {optimum.total_recovered:,.0f}, "
        f"net {optimum.total_net:,.0f} {currency}.",
    ]
    if not optimum.exact:
        lines.append(f"Costs were rounded up to steps of {optimum.step:,.2f} {currency} to keep the search small.")
    more = optimum.frontier.filter(pl.col("budget") > optimum.budget).head(3)
    if more.height:
        steps = "; ".join(f"{b:,.0f} -> net {n:,.0f}" for b, n in more.iter_rows())
        lines.append(f"More budget would add: {steps} {currency}.")
    return "\n".join(lines)
