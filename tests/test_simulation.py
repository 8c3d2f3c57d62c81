"""Monte Carlo simulation: where slips come from, reproducibility, and agreement with the deterministic engine."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from builders import FLEET_AS_OF, fleet_portfolio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from strategies import open_milestones, portfolios

from kpi_engine.analysis import HISTORY_SCHEMA
from kpi_engine.core.errors import InputError
from kpi_engine.engine.compute import compute
from kpi_engine.whatif.scenarios import Scenario, Slip, run_scenario
from kpi_engine.whatif.simulation import SlipDistribution, history_moves, reference_class, simulate

FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FLEET_PROJECTS = {"M1": "P-ROUTE", "M2": "P-TELE", "M3": "P-DRV", "M4": "P-WH", "M5": "P-PROC", "M6": "P-OFFICE"}


@pytest.fixture(scope="module")
def fleet():
    return fleet_portfolio()


def weekly_history(moves: dict[str, list[int]], weeks: int, start: date = date(2026, 12, 1)) -> pl.DataFrame:
    """A milestone_history frame: each milestone open all along, its finish moving by ``moves[m]`` in turn."""
    rows = []
    for mid, steps in moves.items():
        finish = start
        for w in range(weeks):
            moved = None if w == 0 else steps[(w - 1) % len(steps)]
            finish = finish + timedelta(days=moved or 0)
            rows.append(
                {
                    "snapshot_id": w + 1,
                    "as_of": FLEET_AS_OF - timedelta(days=7 * (weeks - 1 - w)),
                    "milestone_id": mid,
                    "project_id": FLEET_PROJECTS.get(mid, "P-OLD"),
                    "baseline_finish": start,
                    "computed_finish": finish,
                    "slip_days": (finish - start).days,
                    "moved_days": moved,
                }
            )
    return pl.DataFrame(
        rows,
        schema=HISTORY_SCHEMA,
    )


def finishes(result, mid: str) -> tuple[date, date, date, date]:
    row = result.milestones.filter(pl.col("milestone_id") == mid).row(0, named=True)
    return row["computed_finish"], row["p50_finish"], row["p80_finish"], row["p95_finish"]


# ---------------------------------------------------------------------- zero-width = deterministic
def test_zero_width_ranges_reproduce_the_worked_example(fleet):
    zero = {mid: (0, 0, 0) for mid in ("M1", "M3", "M5", "M6")}
    result = simulate(fleet, runs=50, seed=3, overrides=zero)
    assert finishes(result, "M1") == (date(2026, 9, 21),) * 4
    assert finishes(result, "M3") == (date(2026, 10, 21),) * 4
    cpm = result.kpis.filter(pl.col("kpi_id") == "K-CPM").row(0, named=True)
    assert cpm["projected"] == cpm["p50"] == cpm["p80"] == cpm["p95"] == compute(fleet).kpi("K-CPM")["projected"]
    assert cpm["p_meet"] == 0.0
    assert result.kpis.filter(pl.col("kpi_id") == "K-OTD")["p_meet"].item() == 1.0
    assert (result.value_at_risk.totals == result.value_at_risk.deterministic).all()
    assert result.value_at_risk.deterministic == pytest.approx(460_000, abs=0.1)
    assert result.value_at_risk.p95 == pytest.approx(result.value_at_risk.deterministic)
    # M1 drives the missed cost-per-mile target in every run; nothing else drives a miss
    assert dict(result.criticality.select("milestone_id", "criticality").rows()) == {
        "M1": 1.0,
        "M2": 0.0,
        "M3": 0.0,
        "M4": 0.0,
        "M5": 0.0,
    }


def test_zero_width_fan_chart_runs_from_the_latest_actual_to_the_projection(fleet):
    result = simulate(fleet, runs=20, seed=0, default_slips=False)
    cpm = result.trajectory.filter(pl.col("kpi_id") == "K-CPM")
    assert cpm["date"].to_list() == [
        date(2026, 6, 15),
        date(2026, 6, 30),
        date(2026, 7, 31),
        date(2026, 8, 31),
        date(2026, 9, 30),
    ]
    assert cpm.row(0, named=True)["p10"] == cpm.row(0, named=True)["p90"] == 2.05
    assert cpm.row(-1, named=True)["p50"] == pytest.approx(2.0179, abs=1e-4)


@FAST
@given(portfolios())
def test_without_default_slips_every_run_is_the_deterministic_result(p):
    expected = compute(p)
    result = simulate(p, runs=3, seed=1, trajectory=False, default_slips=False)
    kpis = result.kpis.join(expected.kpis.select("kpi_id", pl.col("projected").alias("engine")), on="kpi_id")
    # the per-run projection repeats kpi_projection's float operations: equal, not just close
    assert kpis["p50"].to_list() == kpis["engine"].to_list()
    assert kpis["p95"].to_list() == kpis["engine"].to_list()
    meets = kpis.join(expected.kpis.select("kpi_id", "misses"), on="kpi_id")
    assert meets["p_meet"].to_list() == [0.0 if m else 1.0 for m in meets["misses"].to_list()]
    milestones = result.milestones.join(
        expected.milestones.select("milestone_id", "computed_finish"), on="milestone_id", suffix="_engine"
    )
    assert (milestones["p95_finish"] == milestones["computed_finish_engine"]).all()
    assert (result.value_at_risk.totals == result.value_at_risk.deterministic).all()
    assert result.value_at_risk.deterministic == pytest.approx(expected.value_at_risk_total, abs=1e-6)
    hurting = set(
        expected.links.join(expected.kpis.select("kpi_id", "misses"), on="kpi_id")
        .filter((pl.col("kpi_impact").abs() > 1e-12) & pl.col("misses"))["milestone_id"]
        .to_list()
    )
    assert set(result.criticality.filter(pl.col("criticality") == 1.0)["milestone_id"].to_list()) == hurting
    assert result.criticality["criticality"].is_in([0.0, 1.0]).all()


@FAST
@given(portfolios(), st.integers(1, 40))
def test_a_fixed_slip_for_every_open_milestone_equals_the_same_what_if(p, days):
    candidates = open_milestones(p)
    result = simulate(p, runs=2, seed=0, overrides={m: (days, days, days) for m in candidates}, trajectory=False)
    what_if = run_scenario(p, Scenario("all late", tuple(Slip(m, days) for m in candidates)))
    after = what_if.scenario
    got = result.milestones.join(
        after.milestones.select("milestone_id", "computed_finish"), on="milestone_id", suffix="_what_if"
    )
    assert (got["p50_finish"] == got["computed_finish_what_if"]).all()
    kpis = result.kpis.join(after.kpis.select("kpi_id", pl.col("projected").alias("what_if")), on="kpi_id")
    assert np.allclose(kpis["p50"].to_numpy(), kpis["what_if"].to_numpy(), rtol=0, atol=1e-9)
    assert result.value_at_risk.p50 == pytest.approx(what_if.value_at_risk_total_after, abs=1e-6)


# ---------------------------------------------------------------------- where slips come from
def test_each_milestone_says_which_distribution_it_used(fleet):
    history = weekly_history({"M1": [7], **{f"X{i}": [0, 3] for i in range(10)}}, weeks=22)
    result = simulate(
        fleet, runs=10, history=history, overrides={"M5": (0, 2, 5)}, project_overrides={"P-DRV": (1, 3, 9)}
    )
    used = dict(result.milestones.select("milestone_id", "distribution_used").rows())
    assert used == {
        "M1": "history: project P-ROUTE",  # 21 observed moves of its own project
        "M2": "finished: no slip",
        "M3": "triangular override: project P-DRV",
        "M4": "finished: no slip",
        "M5": "triangular override",
        "M6": "history: portfolio",  # P-OFFICE has no history of its own
    }
    assert set(result.milestones["distribution"].to_list()) <= {d.value for d in SlipDistribution}
    without = simulate(fleet, runs=10)
    # no history: each open milestone draws from the reference class of its duration
    assert dict(without.milestones.select("milestone_id", "distribution_used").rows()) == {
        "M1": "reference class: over 180 days",  # baseline 2026-03-01 to 2026-08-31
        "M2": "finished: no slip",
        "M3": "reference class: 0-30 days",  # 23 days
        "M4": "finished: no slip",
        "M5": "reference class: 31-90 days",  # no baseline start: 46 days from 2026-06-15 to its finish
        "M6": "reference class: 0-30 days",  # 30 days from 2026-06-15
    }
    plain = simulate(fleet, runs=10, default_slips=False)
    assert set(plain.milestones["distribution_used"].to_list()) == {"no history: zero", "finished: no slip"}


def test_history_slip_is_the_sum_of_the_weekly_moves_until_the_finish(fleet):
    # Every observed move is +7 days a week: M1, due in 98 days (14 weeks), slips 14 x 7 days in every run.
    history = weekly_history({"M1": [7]}, weeks=25)
    result = simulate(fleet, runs=40, seed=5, history=history)
    assert finishes(result, "M1")[1:] == (date(2026, 9, 21) + timedelta(days=98),) * 3
    capped = simulate(fleet, runs=40, seed=5, history=history, max_steps=4)
    assert finishes(capped, "M1")[1:] == (date(2026, 9, 21) + timedelta(days=28),) * 3


def test_history_slips_are_sums_of_observed_moves(fleet):
    # moves of 0 or 14 days, half and half: 14 weekly moves sum to a multiple of 14 around 98
    history = weekly_history({"M1": [0, 14]}, weeks=41)
    result = simulate(fleet, runs=400, seed=11, history=history)
    base, *percentiles = finishes(result, "M1")
    slips = [(d - base).days for d in percentiles]
    assert all(s % 14 == 0 and 0 <= s <= 14 * 14 for s in slips)
    assert 70 <= slips[0] <= 126
    assert slips[0] <= slips[1] <= slips[2]


def test_moves_of_finished_milestones_are_not_history(fleet):
    history = weekly_history({"M1": [3]}, weeks=4).with_columns(
        pl.when(pl.col("snapshot_id") <= 2)
        .then(pl.lit(date(2026, 1, 1)))
        .otherwise(pl.col("computed_finish"))
        .alias("computed_finish")
    )
    # the milestone looks finished at snapshots 1 and 2 (a finish before the snapshot date):
    # only its move from snapshot 3 to 4 is history
    moves = history_moves(
        history.with_columns(
            pl.col("computed_finish").cast(pl.Int32).diff().over("milestone_id").cast(pl.Int64).alias("moved_days")
        )
    )
    assert moves["moved_days"].to_list() == [3]
    assert moves["interval_days"].to_list() == [7]


def test_triangular_override_keeps_finishes_inside_its_range(fleet):
    result = simulate(fleet, runs=300, seed=2, overrides={"M1": (3, 5, 20)})
    base, p50, p80, p95 = finishes(result, "M1")
    assert 3 <= (p50 - base).days <= (p80 - base).days <= (p95 - base).days <= 20
    mean = result.kpis.filter(pl.col("kpi_id") == "K-CPM")["mean"].item()
    assert 2.0179 < mean <= 2.05  # later finishes ramp in less by the target date


def test_simulation_runs_on_top_of_a_scenario(fleet):
    result = simulate(fleet, runs=5, scenario=Scenario("two weeks", (Slip("M1", 14),)), default_slips=False)
    assert finishes(result, "M1") == (date(2026, 10, 5),) * 4
    assert result.kpis.filter(pl.col("kpi_id") == "K-CPM")["p50"].item() == pytest.approx(2.05)


# ---------------------------------------------------------------------- reproducibility
def test_the_same_seed_gives_the_same_output(fleet):
    history = weekly_history({"M1": [0, 2, 9], "M3": [0, 0, 5]}, weeks=30)
    kwargs = {"runs": 200, "history": history, "overrides": {"M5": (0, 3, 30)}}
    first, again = simulate(fleet, seed=42, **kwargs), simulate(fleet, seed=42, **kwargs)
    for name in ("kpis", "milestones", "criticality", "trajectory"):
        assert_frame_equal(getattr(first, name), getattr(again, name))
    assert np.array_equal(first.value_at_risk.totals, again.value_at_risk.totals)
    other = simulate(fleet, seed=43, **kwargs)
    assert not np.array_equal(first.value_at_risk.totals, other.value_at_risk.totals)


def _one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw, sum, summarise and sort one milestone, run or KPI at a time instead of in blocks."""
    from kpi_engine.whatif.simulation import fan_chart, run_figures, slip_draws, summaries

    monkeypatch.setattr(slip_draws, "DRAW_BLOCK_CELLS", 1)
    monkeypatch.setattr(run_figures, "CHUNK_CELLS", 1)
    monkeypatch.setattr(fan_chart, "FAN_BLOCK_CELLS", 1)
    monkeypatch.setattr(summaries, "SORT_BLOCK_CELLS", 1)


def _assert_same_simulation(first, again) -> None:
    for name in ("kpis", "milestones", "criticality", "trajectory"):
        assert_frame_equal(getattr(first, name), getattr(again, name), check_exact=True)
    assert np.array_equal(first.value_at_risk.totals, again.value_at_risk.totals)


def test_blocks_of_milestones_runs_and_kpis_change_no_figure(fleet, monkeypatch):
    history = weekly_history({"M1": [0, 2, 9], "M3": [0, 0, 5], "M4": [1, 0, 3]}, weeks=30)
    kwargs = {"runs": 300, "seed": 5, "history": history, "overrides": {"M5": (0, 3, 30)}}
    in_blocks = simulate(fleet, **kwargs)
    with monkeypatch.context() as patched:
        _one_at_a_time(patched)
        one_at_a_time = simulate(fleet, **kwargs)
    _assert_same_simulation(in_blocks, one_at_a_time)


@FAST
@given(portfolios(), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_blocks_change_no_figure_on_random_portfolios(p, runs, seed):
    in_blocks = simulate(p, runs=runs, seed=seed)
    with pytest.MonkeyPatch.context() as patched:
        _one_at_a_time(patched)
        one_at_a_time = simulate(p, runs=runs, seed=seed)
    _assert_same_simulation(in_blocks, one_at_a_time)


# ---------------------------------------------------------------------- refused input
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"runs": 0}, "number of runs must be a whole number of at least 1", id="no-runs"),
        pytest.param(
            {"overrides": {"M9": (0, 1, 2)}},
            "slip ranges name milestones that are not in the snapshot of 2026-06-15: M9",
            id="unknown-milestone",
        ),
        pytest.param(
            {"project_overrides": {"P-X": (0, 1, 2)}},
            "name projects that are not in the snapshot",
            id="unknown-project",
        ),
        pytest.param(
            {"overrides": {"M1": (5, 3, 10)}},
            "must satisfy min <= most likely <= max, got 5, 3, 10",
            id="mode-below-min",
        ),
        pytest.param({"overrides": {"M1": (-2, 0, 3)}}, "cannot start below 0 days", id="negative-min"),
        pytest.param({"overrides": {"M1": (1, 2)}}, "three numbers of days", id="two-numbers"),
        pytest.param({"overrides": {"M1": (0, 1, 1e12)}}, "can reach at most 3,650 days", id="max-1e12"),
        pytest.param({"project_overrides": {"P-ROUTE": (0, 1, float("inf"))}}, "finite numbers", id="max-inf"),
    ],
)
def test_bad_simulation_input_is_refused(fleet, kwargs, message):
    with pytest.raises(InputError, match=message):
        simulate(fleet, **kwargs)


# ---------------------------------------------------------------------- the simulate command (CLI.md)
def test_simulate_json_is_reproducible_and_shaped_as_the_contract(fleet_dir, tmp_path, capsys):
    from kpi_engine import cli

    db = str(tmp_path / "kpi.duckdb")
    csvs = sorted(str(p) for p in fleet_dir.glob("*.csv"))
    assert cli.main(["ingest", *csvs, "--db", db, "--as-of", "2026-06-15"]) == 0
    capsys.readouterr()
    assert cli.main(["simulate", "--db", db, "--runs", "50", "--seed", "4"]) == 0
    first = capsys.readouterr().out
    assert cli.main(["simulate", "--db", db, "--runs", "50", "--seed", "4"]) == 0
    assert capsys.readouterr().out == first
    out = json.loads(first)
    assert (out["runs"], out["seed"]) == (50, 4)
    assert {tuple(sorted(k)) for k in out["kpis"]} == {("kpi_id", "p50", "p80", "p95", "p_meet")}
    assert {tuple(sorted(m)) for m in out["milestones"]} == {
        ("milestone_id", "p50_finish", "p80_finish", "p95_finish", "source")
    }
    m1 = next(m for m in out["milestones"] if m["milestone_id"] == "M1")
    # one snapshot: no history, so M1 draws from the reference class of its six months
    assert m1["source"] == "reference class: over 180 days"
    assert "2026-09-21" <= m1["p50_finish"] <= m1["p80_finish"] <= m1["p95_finish"]
    assert m1["p95_finish"] > "2026-09-21"
    cpm = next(k for k in out["kpis"] if k["kpi_id"] == "K-CPM")
    assert cpm["p_meet"] == 0.0 and 2.0179 - 1e-4 <= cpm["p50"] <= cpm["p95"] <= 2.05
    assert cli.main(["simulate", "--db", db, "--runs", "20", "--format", "table"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("Monte Carlo: 20 runs, seed 0.")
    assert "M1            Routing software go-live  P-ROUTE                          100" in table


# ---------------------------------------------------------------------- too little history: the reference class
def test_a_single_snapshot_has_a_spread_drawn_from_the_reference_classes(fleet):
    """With no history, p50 = p80 = p95 and p_meet 0 or 1 said nothing (regression)."""
    result = simulate(fleet, runs=400, seed=3)
    m1 = result.milestones.filter(pl.col("milestone_id") == "M1").row(0, named=True)
    assert m1["distribution_used"] == "reference class: over 180 days"
    assert m1["computed_finish"] <= m1["p50_finish"] < m1["p95_finish"]
    # the class of a six-month milestone: at most 90 days late, M3 follows M1 and adds its own
    assert (m1["p95_finish"] - m1["computed_finish"]).days <= 90
    otd = result.kpis.filter(pl.col("kpi_id") == "K-OTD").row(0, named=True)
    assert 0.0 < otd["p_meet"] < 1.0  # M3 slipping past 2026-12-31 in some runs only
    assert result.value_at_risk.p50 < result.value_at_risk.p95


@pytest.mark.parametrize(
    ("duration", "label", "triangle"),
    [
        pytest.param(0, "0-30 days", [0.0, 2.0, 14.0], id="zero"),
        pytest.param(30, "0-30 days", [0.0, 2.0, 14.0], id="a-month"),
        pytest.param(31, "31-90 days", [0.0, 5.0, 30.0], id="just-over-a-month"),
        pytest.param(180, "91-180 days", [0.0, 10.0, 45.0], id="half-a-year"),
        pytest.param(181, "over 180 days", [0.0, 15.0, 90.0], id="longer"),
    ],
)
def test_reference_classes_by_duration(duration, label, triangle):
    found_label, found_triangle = reference_class(pl.lit(duration))
    assert pl.select(found_label).item() == label
    assert pl.select(found_triangle).item().to_list() == triangle


def test_a_short_history_is_not_enough_and_a_long_one_is(fleet):
    short = weekly_history({"M1": [7]}, weeks=5)  # four observed moves
    assert (
        simulate(fleet, runs=5, history=short)
        .milestones.filter(pl.col("milestone_id") == "M6")["distribution_used"]
        .item()
        == "reference class: 0-30 days"
    )
    long = weekly_history({"M1": [7]}, weeks=25)
    assert (
        simulate(fleet, runs=5, history=long)
        .milestones.filter(pl.col("milestone_id") == "M6")["distribution_used"]
        .item()
        == "history: portfolio"
    )


def test_random_finishes_past_any_calendar_stop_at_its_last_date(fleet):
    # an absurd history (each week a finish moved 680 years) must not crash the simulation
    history = weekly_history({"X0": [250_000], "X1": [250_000]}, weeks=12)
    result = simulate(fleet, runs=20, seed=1, history=history, trajectory=False)
    assert finishes(result, "M3")[-1] == date(9999, 12, 31)
    assert result.kpis.filter(pl.col("kpi_id") == "K-CPM")["p50"].item() == pytest.approx(2.05)


@FAST
@given(portfolios(), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_int32_propagation_of_runs_equals_the_engines_propagation(p, runs, seed):
    from kpi_engine.engine.graph import propagate
    from kpi_engine.engine.schedule import prepare_schedule
    from kpi_engine.whatif.simulation import propagate_runs

    schedule = prepare_schedule(p)
    n = schedule.milestones.height
    slips = np.random.default_rng(seed).integers(0, 90, (n, runs)).astype(np.int32)
    expected = propagate(
        schedule.graph, np.repeat(schedule.own[:, None], runs, axis=1), schedule.fixed, slips.astype(np.int64)
    )
    got = propagate_runs(schedule.graph, schedule.own, schedule.fixed, slips.copy())
    assert got.dtype == np.int32
    assert np.array_equal(got, expected)
