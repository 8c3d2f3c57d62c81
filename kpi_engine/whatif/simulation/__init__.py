"""Monte Carlo simulation of slips: :func:`simulate` and what it returns.

The steps live in modules named for what they do: ``slip_choice`` (which distribution
each milestone draws from), ``slip_draws`` (drawing every run's slips), ``propagation``
(through the dependency levels), ``run_inputs`` (links, KPIs and the plan's own figures
as arrays), ``run_figures`` (per-run KPI values, value at risk, criticality),
``fan_chart`` (the KPI fan over month ends), ``summaries`` (percentiles over the runs)
and ``monte_carlo`` (:func:`simulate`, which chains them).
"""

from kpi_engine.whatif.simulation.monte_carlo import MAX_CELLS, MAX_STEPS, SimulationResult, simulate
from kpi_engine.whatif.simulation.propagation import FINISH_CAP, propagate_runs
from kpi_engine.whatif.simulation.slip_choice import (
    MIN_HISTORY_OBSERVATIONS,
    MIN_PROJECT_OBSERVATIONS,
    REFERENCE_CLASSES,
    SlipDistribution,
    Triangle,
    history_moves,
    reference_class,
)
from kpi_engine.whatif.simulation.summaries import ValueAtRiskDistribution

__all__ = [
    "FINISH_CAP",
    "MAX_CELLS",
    "MAX_STEPS",
    "MIN_HISTORY_OBSERVATIONS",
    "MIN_PROJECT_OBSERVATIONS",
    "REFERENCE_CLASSES",
    "SimulationResult",
    "SlipDistribution",
    "Triangle",
    "ValueAtRiskDistribution",
    "history_moves",
    "propagate_runs",
    "reference_class",
    "simulate",
]
