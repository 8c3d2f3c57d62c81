"""The headless commands of CLI.md: ``python -m kpi_engine COMMAND ...``.

Each command is one ``cmd_*`` function taking the parsed arguments and returning the exit
status, registered by one ``_add_*`` function in :func:`build_parser`. :func:`main` turns
the engine's errors into their text on stderr (never a traceback):

- 0: done;
- 1: input rejected (one line per problem), no data, database busy, file not writable;
- 2: bad usage (argparse's own errors, a malformed date or option value).
"""

from __future__ import annotations

import argparse
import getpass
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import polars as pl

from kpi_engine.core.bounds import (
    EARLIEST_DATE,
    LATEST_DATE,
    MAX_MONEY,
    MAX_RUNS,
    MAX_SEED,
    MAX_SLIP_DAYS,
    date_in_range,
)
from kpi_engine.core.errors import InputError, KpiError, UploadRejected
from kpi_engine.core.schema import TABLES
from kpi_engine.core.settings import Settings
from kpi_engine.ingest.limits import DEFAULT_MAX_UPLOAD_MB, max_upload_mb
from kpi_engine.output.formats import render_table, to_json
from kpi_engine.store import CHANGE_KINDS, NO_DATA_MESSAGE, IngestResult, Store
from kpi_engine.store.compaction import MAX_KEEP_DAYS, compact
from kpi_engine.whatif.scenarios import (
    Scenario,
    ScenarioResult,
    Slip,
    SlipProject,
    Workaround,
    run_scenario,
)

if TYPE_CHECKING:
    from kpi_engine.engine.compute import EngineResult
    from kpi_engine.whatif.simulation import SimulationResult

PROG = "python -m kpi_engine"
SOURCES = ("auto", "template", "jira", "msproject", "smartsheet", "asana", "p6")

Command = Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------------- argument types
def iso_date(text: str) -> date:
    """Parse ``YYYY-MM-DD`` strictly, between the first and last accepted dates (argparse type)."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date '{text}': use YYYY-MM-DD, e.g. 2026-06-15") from None
    if not date_in_range(value):
        raise argparse.ArgumentTypeError(
            f"the date {text} is outside the accepted dates {EARLIEST_DATE} to {LATEST_DATE}"
        )
    return value


def positive_number(text: str) -> float:
    """Parse a finite number greater than zero (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"'{text}' is not a number greater than 0")
    return value


def budget_amount(text: str) -> float:
    """Parse a budget: a number of at least 0 (argparse type)."""
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        value = float("nan")
    if not 0 <= value <= MAX_MONEY:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a budget: use a number from 0 to {MAX_MONEY:,.0f}, e.g. 250000"
        )
    return value


def _whole(text: str, low: int, high: int, what: str) -> int:
    """Parse a whole number from ``low`` to ``high``; the message names what is allowed."""
    clean = text.strip()
    if not re.fullmatch(r"[+-]?\d{1,30}", clean) or not low <= int(clean) <= high:
        raise argparse.ArgumentTypeError(f"'{text}' is not {what}: use a whole number from {low:,} to {high:,}")
    return int(clean)


def positive_int(text: str) -> int:
    """Parse a number of runs: a whole number from 1 to :data:`~kpi_engine.core.bounds.MAX_RUNS` (argparse type)."""
    return _whole(text, 1, MAX_RUNS, "a number of runs")


def seed(text: str) -> int:
    """Parse a random seed: a whole number from 0 to :data:`~kpi_engine.core.bounds.MAX_SEED` (argparse type)."""
    return _whole(text, 0, MAX_SEED, "a seed")


def slip(text: str) -> tuple[str, int]:
    """Parse ``ID=DAYS`` (``--slip`` and ``--slip-project``) into (id, days), days from 0 to 3,650."""
    ident, sep, days = text.rpartition("=")
    if not sep or not ident.strip() or not re.fullmatch(r"[+-]?\d+", days.strip()):
        raise argparse.ArgumentTypeError(f"'{text}' is not ID=DAYS, e.g. M1=14")
    value = int(days)
    if not 0 <= value <= MAX_SLIP_DAYS:
        raise argparse.ArgumentTypeError(
            f"the days in '{text}' must be a whole number from 0 to {MAX_SLIP_DAYS:,}; "
            "to bring a milestone forward, change its forecast in the data"
        )
    return ident.strip(), value


def workaround(text: str) -> tuple[str, date, float, float]:
    """Parse ``MILESTONE_ID:FROM_DATE:COST:FRACTION`` into (id, from date, cost, fraction).

    The id may itself hold colons: the last three fields are split off from the right.
    """
    parts = text.rsplit(":", 3)
    usage = f"'{text}' is not MILESTONE_ID:FROM_DATE:COST:FRACTION, e.g. M1:2026-08-31:50000:0.6"
    if len(parts) != 4 or not parts[0].strip():
        raise argparse.ArgumentTypeError(usage)
    ident, when, cost_text, fraction_text = parts
    try:
        cost, fraction = float(cost_text), float(fraction_text)
    except ValueError:
        raise argparse.ArgumentTypeError(usage) from None
    if not 0 <= cost <= MAX_MONEY:
        raise argparse.ArgumentTypeError(f"the cost in '{text}' must be a number from 0 to {MAX_MONEY:,.0f}")
    if not 0 <= fraction <= 1:
        raise argparse.ArgumentTypeError(f"the fraction in '{text}' must be between 0 and 1, e.g. 0.6")
    return ident.strip(), iso_date(when), cost, fraction


# ---------------------------------------------------------------------- parser
def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="FILE",
        help="database file, or postgresql://user:password@host:port/database?data_path=FOLDER for a shared store "
        "(default: $KPI_DB, else data/kpi.duckdb)",
    )


def _add_format(parser: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    parser.add_argument("--format", choices=choices, default=choices[0], help=f"output format (default: {choices[0]})")


def _add_ingest(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest",
        help="store weekly exports as a new snapshot",
        description="Store workbooks (.xlsx) and CSV files as a new snapshot. A folder means every such "
        "file in it; CSV files of the canonical model are named after their sheet (milestones.csv, ...).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to upload")
    _add_db(p)
    p.add_argument("--as-of", type=iso_date, default=None, metavar="YYYY-MM-DD", help="snapshot date (default: today)")
    p.add_argument(
        "--source", choices=SOURCES, default="auto", help="kind of export (default: recognised by its headers)"
    )
    p.add_argument("--mapping", metavar="FILE", help="column mapping file for exports no adapter recognises")
    p.add_argument(
        "--max-upload-mb",
        type=positive_number,
        default=None,
        metavar="N",
        help=f"largest file accepted, in MB (default: $KPI_MAX_UPLOAD_MB, else {DEFAULT_MAX_UPLOAD_MB:g})",
    )
    p.add_argument(
        "--project",
        metavar="ID",
        default=None,
        help="attach the tool exports to this portfolio project (default: the project each export names, "
        "matched by id, then by name, else created)",
    )
    p.add_argument(
        "--allow-removals",
        action="store_true",
        help="store the upload even when it removes milestones (refused otherwise, with the list)",
    )
    from kpi_engine.cli_inbox import add_inbox_options  # here: cli_inbox imports this module's helpers

    add_inbox_options(p)
    p.set_defaults(func=cmd_ingest)


def _add_exceptions(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exceptions", help="the exception list of the latest snapshot")
    _add_db(p)
    _add_format(p, ("table", "csv", "json"))
    p.set_defaults(func=cmd_exceptions)


def _add_kpis(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kpis", help="KPI projections of the latest snapshot")
    _add_db(p)
    _add_format(p, ("table", "csv", "json"))
    p.set_defaults(func=cmd_kpis)


def _add_whatif(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("whatif", help="recompute the latest snapshot with slips and workarounds")
    _add_db(p)
    p.add_argument(
        "--slip",
        type=slip,
        action="append",
        default=[],
        metavar="MILESTONE_ID=DAYS",
        help="slip one milestone by DAYS (repeatable)",
    )
    p.add_argument(
        "--slip-project",
        type=slip,
        action="append",
        default=[],
        metavar="PROJECT_ID=DAYS",
        help="slip every open milestone of a project by DAYS (repeatable)",
    )
    p.add_argument(
        "--workaround",
        type=workaround,
        action="append",
        default=[],
        metavar="MILESTONE_ID:FROM_DATE:COST:FRACTION",
        help="recover FRACTION of a milestone's value at risk from FROM_DATE at COST (repeatable)",
    )
    _add_format(p, ("json", "table"))
    p.set_defaults(func=cmd_whatif)


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="Monte Carlo simulation of finish dates and KPI projections")
    _add_db(p)
    p.add_argument(
        "--runs",
        type=positive_int,
        default=1000,
        metavar="N",
        help=f"number of runs, 1 to {MAX_RUNS:,} (default: 1000)",
    )
    p.add_argument(
        "--seed",
        type=seed,
        default=None,
        metavar="S",
        help=f"random seed from 0 to {MAX_SEED}, for reproducible results (default: 0)",
    )
    _add_format(p, ("json", "table"))
    p.set_defaults(func=cmd_simulate)


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the board report workbook or deck of the latest snapshot")
    _add_db(p)
    p.add_argument(
        "--out", required=True, metavar="FILE.xlsx|FILE.pptx", help="workbook (.xlsx) or slide deck (.pptx) to write"
    )
    p.set_defaults(func=cmd_report)


def _add_optimize(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "optimize",
        help="the best set of candidate workarounds for a budget",
        description="Choose at most one candidate workaround (mitigations sheet) per milestone so that the "
        "total net value is as large as possible within the budget; also prints the best net value per budget.",
    )
    _add_db(p)
    p.add_argument("--budget", type=budget_amount, required=True, metavar="AMOUNT", help="most the set may cost")
    _add_format(p, ("table", "json"))
    p.set_defaults(func=cmd_optimize)


def _add_credibility(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "credibility",
        help="per milestone owner: reports and how many were better than computed",
        description="Over every snapshot up to the latest: per person named as a milestone owner, the reports "
        "given (open milestones with a reported status), those better than the computed status (watermelons) "
        "and credibility = 1 - watermelons / reports.",
    )
    _add_db(p)
    _add_format(p, ("table", "csv", "json"))
    p.set_defaults(func=cmd_credibility)


def _add_snapshots(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snapshots", help="list the stored snapshots, oldest first")
    _add_db(p)
    _add_format(p, ("table", "json"))
    p.set_defaults(func=cmd_snapshots)


def _add_copy(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "copy",
        help="copy every snapshot, file and setting into an empty store (grow, back up, restore)",
        description="Copy everything a store holds (snapshots with their files and changes, settings, "
        "scenarios, mapping profiles, decisions and notifications) into an empty store, in one transaction: "
        "from a database file to a shared store, or into a new file as a backup.",
    )
    p.add_argument(
        "--from",
        dest="source",
        metavar="DB",
        default=None,
        help="the store to copy (default: $KPI_DB, else data/kpi.duckdb)",
    )
    p.add_argument(
        "--to",
        dest="target",
        metavar="DB",
        required=True,
        help="an empty store: a new database file or an empty database",
    )
    p.set_defaults(func=cmd_copy)


def _add_compact(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compact",
        help="merge a shared store's small data files and delete unused ones (run it weekly)",
        description="Merge the small Parquet files every write adds to a shared store into larger ones, "
        "forget the catalog's snapshots older than --keep-days and delete the data files unused that long. "
        "Stored snapshots, files, settings and decisions stay as they were; safe while others read and write. "
        "A database file needs no compaction.",
    )
    _add_db(p)
    p.add_argument(
        "--keep-days",
        type=lambda text: _whole(text, 0, MAX_KEEP_DAYS, "a number of days"),
        default=1,
        metavar="N",
        help="delete data files only once unused for N days (default 1; 0: at once)",
    )
    p.set_defaults(func=cmd_compact)


def _add_settings(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("settings", help="show or change the thresholds and the currency")
    _add_db(p)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        type=_setting,
        help="change one setting, e.g. --set red_days=21 or --set ack_days=7 (see the table it prints)",
    )
    _add_format(p, ("table", "json"))
    p.set_defaults(func=cmd_settings)


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=VALUE, e.g. red_days=21")
    try:
        Settings.convert(name.strip(), value.strip())
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return name.strip(), value.strip()


class _Parser(argparse.ArgumentParser):
    """argparse, but bad usage is one line on stderr (what is wrong and what is allowed), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every command of CLI.md."""
    parser = _Parser(
        prog=PROG, description="Link milestones to KPIs: ingest weekly exports, list exceptions, run what-ifs."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        _add_ingest,
        _add_exceptions,
        _add_kpis,
        _add_whatif,
        _add_simulate,
        _add_report,
        _add_snapshots,
        _add_settings,
        _add_copy,
        _add_compact,
        _add_optimize,
        _add_credibility,
    ):
        add(sub)
    from kpi_engine.cli_loop import add_loop_commands  # here: cli_loop imports this module's helpers

    add_loop_commands(sub)
    return parser


# ---------------------------------------------------------------------- commands
def _error(text: str) -> None:
    print(text, file=sys.stderr)


#: Columns of the ``exceptions`` table format: what a person scans first (JSON and CSV carry all).
#: ``project_id`` names the project of a finding on a project, which has neither milestone nor KPI.
EXCEPTION_TABLE_COLUMNS = [
    "kind",
    "project_id",
    "milestone_id",
    "kpi_id",
    "finding",
    "computed_status",
    "slip_days",
    "value_at_risk",
    "escalation_level",
    "escalate_to",
]
#: Fields of the ``kpis`` output (CLI.md).
KPI_FIELDS = ["kpi_id", "name", "owner", "unit", "direction", "projected", "target", "shortfall", "misses"]


def cmd_exceptions(args: argparse.Namespace) -> int:
    """Print the latest snapshot's exception list (DOMAIN.md section 3) as a table, CSV or JSON."""
    from kpi_engine.analysis import analyse
    from kpi_engine.engine.exception_list import EXCEPTION_COLUMNS
    from kpi_engine.loop.service import loop_state
    from kpi_engine.loop.views import LOOP_FIELDS, exceptions_with_loop
    from kpi_engine.output.formats import write_output

    with Store.open(args.db) as store:
        result = analyse(store)
        # escalation re-raised by the loop, and each row's decision (DOMAIN.md section 6)
        exceptions = exceptions_with_loop(loop_state(store, result=result).status)
    if args.format == "table":
        rows = exceptions.select(*EXCEPTION_TABLE_COLUMNS, "decision").with_columns(pl.col("value_at_risk").round(0))
        print(render_table(rows, empty="No exceptions in the latest snapshot."))
    else:
        write_output(exceptions.select(*EXCEPTION_COLUMNS, *LOOP_FIELDS), args.format)
    return 0


def cmd_kpis(args: argparse.Namespace) -> int:
    """Print the latest snapshot's KPI projections as a table, CSV or JSON."""
    from kpi_engine.analysis import analyse
    from kpi_engine.output.formats import write_output

    with Store.open(args.db) as store:
        result = analyse(store)
    rows = result.kpis.rename({"target_value": "target"}).select(KPI_FIELDS)
    if args.format == "table":
        print(render_table(rows, empty="No KPIs in the latest snapshot."))
    else:
        write_output(rows, args.format)
    return 0


#: Fields of each milestone in ``whatif`` JSON (CLI.md).
WHATIF_MILESTONE_FIELDS = ["milestone_id", "computed_finish", "slip_days", "computed_status", "value_at_risk"]
#: Fields of each workaround in ``whatif`` JSON (CLI.md).
MITIGATION_FIELDS = ["milestone_id", "recovered_value", "cost", "net_value"]


def _whatif_figures(result: EngineResult) -> dict[str, object]:
    """One side of the ``whatif`` JSON: milestones, KPIs and the total value at risk."""
    return {
        "milestones": result.milestones.select(WHATIF_MILESTONE_FIELDS).sort("milestone_id"),
        "kpis": result.kpis.rename({"target_value": "target"}).select(KPI_FIELDS).sort("kpi_id"),
        "value_at_risk_total": result.value_at_risk_total,
    }


def _describe(scenario: Scenario) -> str:
    words = []
    for change in scenario.changes:
        if isinstance(change, Slip):
            words.append(f"{change.milestone_id} slips {change.days} days")
        elif isinstance(change, SlipProject):
            words.append(f"every open milestone of {change.project_id} slips {change.days} days")
        elif isinstance(change, Workaround):
            words.append(
                f"workaround for {change.milestone_id} from {change.start}, "
                f"cost {change.cost:,.0f}, recovering {change.fraction:g}"
            )
    return "; ".join(words) or "no changes"


def whatif_table(result: ScenarioResult) -> str:
    """A what-if as a person reads it: what moves, what it does to the KPIs and the money."""
    base = result.baseline
    currency = base.settings.currency
    change = result.value_at_risk_total_after - result.value_at_risk_total_before
    kpis = result.kpi_diff.select(
        "kpi_id",
        "name",
        pl.col("target_value").alias("target"),
        pl.col("projected_before").alias("projected"),
        pl.col("projected_after").alias("what-if"),
        pl.col("shortfall_after").alias("shortfall"),
        pl.col("misses_after").alias("misses"),
    )
    moved = result.moved.select(
        "milestone_id",
        "name",
        pl.col("before").alias("finish before"),
        pl.col("after").alias("finish after"),
        pl.col("moved_days").alias("days later"),
        pl.when(pl.col("is_direct")).then(pl.lit("slipped")).otherwise(pl.lit("follows")).alias("why"),
    )
    parts = [
        f"What-if on the snapshot of {base.portfolio.as_of}: {_describe(result.spec)}.",
        "",
        "Milestones that move",
        render_table(moved, empty="(none)"),
        "",
        "KPIs at their target dates",
        render_table(kpis, empty="(no KPIs)"),
        "",
        (
            f"Value at risk: {result.value_at_risk_total_before:,.0f} -> {result.value_at_risk_total_after:,.0f} "
            f"{currency} ({change:+,.0f})"
        ),
    ]
    if result.escalations.height:
        parts += [
            "",
            "Escalations raised",
            render_table(
                result.escalations.select(
                    "milestone_id",
                    "kpi_id",
                    pl.col("escalation_level_before").alias("level before"),
                    pl.col("escalation_level_after").alias("level after"),
                    pl.col("escalate_to_after").alias("escalate to"),
                )
            ),
        ]
    if result.mitigations.height:
        parts += [
            "",
            "Workarounds",
            render_table(
                result.mitigations.with_columns(
                    pl.col("recovered_value").round(0),
                    pl.col("net_value").round(0),
                ).rename({"break_even_days": "break-even slip (days)"})
            ),
            f"Value at risk after workarounds: {result.value_at_risk_total_net:,.0f} {currency}",
        ]
    return "\n".join(parts)


def cmd_whatif(args: argparse.Namespace) -> int:
    """Print a what-if scenario against the unchanged snapshot.

    ``args.slip`` and ``args.slip_project`` are lists of (id, days); ``args.workaround``
    a list of (milestone id, from date, cost, fraction).
    """
    from kpi_engine.analysis import analyse

    scenario = Scenario(
        "",
        tuple(
            [Slip(ident, days) for ident, days in args.slip]
            + [SlipProject(ident, days) for ident, days in args.slip_project]
            + [Workaround(ident, start, cost, fraction) for ident, start, cost, fraction in args.workaround]
        ),
    )
    with Store.open(args.db) as store:
        base = analyse(store)
    result = run_scenario(base.portfolio, scenario, base.settings, base=base)
    if args.format == "table":
        print(whatif_table(result))
        return 0
    print(
        to_json(
            {
                "baseline": _whatif_figures(base),
                "scenario": {
                    **_whatif_figures(result.scenario),
                    "mitigations": result.mitigations.select(MITIGATION_FIELDS),
                },
            }
        )
    )
    return 0


def simulate_table(result: SimulationResult, currency: str) -> str:
    """Monte Carlo percentiles as a person reads them."""
    var = result.value_at_risk
    kpis = result.kpis.select(
        "kpi_id",
        "name",
        pl.col("target_value").alias("target"),
        "projected",
        (pl.col("p_meet") * 100).round(1).alias("% of runs meeting"),
        "p50",
        "p80",
        "p95",
    )
    moving = result.milestones.filter(pl.col("p95_finish") != pl.col("computed_finish")).select(
        "milestone_id",
        "name",
        pl.col("computed_finish").alias("planned"),
        "p50_finish",
        "p80_finish",
        "p95_finish",
        pl.col("distribution_used").alias("slips drawn from"),
    )
    critical = (
        result.criticality.filter(pl.col("criticality") > 0)
        .head(10)
        .select(
            "milestone_id",
            "name",
            "project_id",
            (pl.col("criticality") * 100).round(1).alias("% of runs driving a miss"),
        )
    )
    return "\n".join(
        [
            (
                f"Monte Carlo: {result.runs:,} runs, seed {result.seed}. "
                "pXX: the value reached or beaten (the date finished by) in XX% of runs."
            ),
            "",
            "KPIs at their target dates",
            render_table(kpis, empty="(no KPIs)"),
            "",
            (
                f"Value at risk ({currency}): planned {var.deterministic:,.0f}; p50 {var.p50:,.0f}, "
                f"p80 {var.p80:,.0f}, p95 {var.p95:,.0f}"
            ),
            "",
            "Milestones whose finish varies",
            render_table(moving, empty="(none: every run follows the plan; slips are drawn from earlier snapshots)"),
            "",
            "Where mitigation pays most (milestones that most often drive a missed target)",
            render_table(critical, empty="(none)"),
        ]
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    """Print Monte Carlo percentiles (``args.runs``, ``args.seed``; no seed means seed 0, so reruns agree)."""
    from kpi_engine.analysis import milestone_history
    from kpi_engine.whatif.simulation import simulate

    seed = 0 if args.seed is None else args.seed
    with Store.open(args.db) as store:
        snapshot_id = store.latest_snapshot_id()
        portfolio = store.load_portfolio(snapshot_id)
        settings = store.settings()
        history = milestone_history(store, snapshot_id)
    result = simulate(portfolio, settings, runs=args.runs, seed=seed, history=history, trajectory=False)
    if args.format == "table":
        print(simulate_table(result, settings.currency))
        return 0
    var = result.value_at_risk
    print(
        to_json(
            {
                "runs": result.runs,
                "seed": result.seed,
                "kpis": result.kpis.select("kpi_id", "p_meet", "p50", "p80", "p95"),
                "milestones": result.milestones.select(
                    "milestone_id",
                    "p50_finish",
                    "p80_finish",
                    "p95_finish",
                    pl.col("distribution_used").alias("source"),
                ),
                "value_at_risk": {"p50": var.p50, "p80": var.p80, "p95": var.p95, "mean": var.mean},
            }
        )
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the latest snapshot's board report workbook to ``args.out``.

    The charts are drawn with vl-convert; when drawing fails the report is written
    without them, says so on its Summary sheet, and a warning goes to stderr.
    """
    if args.out.lower().endswith(".pptx"):
        return _report_deck(args)
    if not args.out.lower().endswith(".xlsx"):
        _error(
            f"--out must name an Excel workbook ending in .xlsx or a deck ending in .pptx, e.g. board.xlsx; "
            f"got '{args.out}'"
        )
        return 2
    from kpi_engine.analysis import analyse
    from kpi_engine.loop.service import loop_state
    from kpi_engine.output.report import render_charts, write_report

    with Store.open(args.db) as store:
        result = analyse(store)
        decisions = loop_state(store, result=result).history()
    charts, problem = render_charts(result)
    if problem:
        _error(f"warning: {problem}")
    path = write_report(result, args.out, charts, note=problem, decisions=decisions)
    print(
        f"Wrote {path}: {result.exceptions.height} exceptions, value at risk "
        f"{result.value_at_risk_total:,.0f} {result.settings.currency}"
    )
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    """Print the best set of candidate workarounds for ``args.budget`` (DOMAIN.md section 7 rule 1)."""
    from kpi_engine.whatif.optimize import optimize, optimum_table

    with Store.open(args.db) as store:
        portfolio = store.load_portfolio()
        settings = store.settings()
    optimum = optimize(portfolio, args.budget)
    if args.format == "json":
        print(to_json(optimum.to_dict()))
    else:
        print(optimum_table(optimum, settings.currency, portfolio.mitigations.height))
    return 0


def cmd_credibility(args: argparse.Namespace) -> int:
    """Print reporting credibility per milestone owner over the snapshots (DOMAIN.md section 7 rule 2)."""
    from kpi_engine.analysis import credibility_of_store
    from kpi_engine.engine.credibility import CREDIBILITY_FIELDS
    from kpi_engine.output.formats import write_output

    with Store.open(args.db) as store:
        rows = credibility_of_store(store).select(CREDIBILITY_FIELDS)
    if args.format == "table":
        print(
            render_table(
                rows.with_columns(pl.col("credibility").round(2)),
                empty="No reports yet: no milestone owner reported a status on an open milestone.",
            )
        )
    else:
        write_output(rows, args.format)
    return 0


def _report_deck(args: argparse.Namespace) -> int:
    """Write the latest snapshot's board deck (.pptx) to ``args.out``."""
    from kpi_engine.analysis import analyse
    from kpi_engine.output.deck import write_deck

    with Store.open(args.db) as store:
        result = analyse(store)
    path, problem = write_deck(result, args.out)
    if problem:
        _error(f"warning: {problem}")
    print(
        f"Wrote {path}: {result.exceptions.height} exceptions, value at risk "
        f"{result.value_at_risk_total:,.0f} {result.settings.currency}"
    )
    return 0


def _author() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (containers, services)
        return ""


def _ingest_summary(result: IngestResult) -> list[str]:
    if result.unchanged:
        return [result.message]
    lines = [result.message, "Rows: " + ", ".join(f"{table} {n:,}" for table, n in result.rows.items())]
    lines += _identity_lines(result)
    if result.previous_snapshot_id is None:
        lines.append("Changes: none (this is the first snapshot).")
    elif result.changes.height == 0:
        lines.append(f"Changes since snapshot {result.previous_snapshot_id}: none.")
    else:
        counts = result.changes.group_by("change").len()
        by_kind = dict(zip(counts["change"].to_list(), counts["len"].to_list(), strict=False))
        parts = [f"{by_kind[kind]} {kind.replace('_', ' ')}" for kind in CHANGE_KINDS if kind in by_kind]
        lines.append(f"Changes since snapshot {result.previous_snapshot_id}: " + ", ".join(parts) + ".")
    return lines


def _identity_lines(result: IngestResult) -> list[str]:
    """Which projects the exports were matched to or created, and which milestones kept an existing id."""
    lines = []
    for row in result.identity.projects.iter_rows(named=True):
        if row["how"] == "created":
            owner = f"owner {row['owner']}." if row["owner"] else "it has no owner until the PMO names one."
            lines.append(f"Project '{row['project_id']}' ({row['project_name']}) created from {row['files']}: {owner}")
        else:
            named = (
                "" if row["export_project"] == row["project_id"] else f" (the export names '{row['export_project']}')"
            )
            lines.append(f"Project '{row['project_id']}' ({row['project_name']}) {row['how']}{named}: {row['files']}.")
    milestones = result.identity.milestones
    kept = milestones.filter(
        pl.col("how").is_in(["tool key", "same name"]) & (pl.col("tool_key") != pl.col("milestone_id"))
    )
    for row in kept.iter_rows(named=True):
        lines.append(
            f"Milestone '{row['tool_key']}' ({row['name']}) is '{row['milestone_id']}' (same {row['how'].removeprefix('same ')})."
        )
    new = milestones.filter(pl.col("how") == "new").height
    if new:
        lines.append(f"New milestones: {new}.")
    return lines


def _removal_lines(store: Store, removals: pl.DataFrame, base_id: int) -> list[str]:
    """One line per milestone an upload removes, with the links and value at risk it disconnects."""
    from kpi_engine.analysis import removal_values
    from kpi_engine.store.removals import removal_sentence

    currency = store.settings().currency
    valued = removal_values(store, removals, base_id)
    return [
        "This upload " + removal_sentence(row, row["value_at_risk"], currency) + "."
        for row in valued.iter_rows(named=True)
    ]


def ingest_paths(args: argparse.Namespace, paths: Sequence[str | Path]) -> tuple[IngestResult, list[str]]:
    """Read the files at ``paths`` with the options of ``ingest`` and store them as a snapshot.

    Returns the result and one line per milestone the upload removed (``--allow-removals``).

    Raises
    ------
    RemovalsRefused
        The upload would remove milestones and ``--allow-removals`` was not given; nothing
        was stored.
    """
    # Only this command needs the readers (and the workbook libraries they load).
    from kpi_engine.ingest import load_mapping_file, read_paths, read_upload
    from kpi_engine.store.identity import export_projects

    limit = max_upload_mb(args.max_upload_mb)
    # sizes are checked before a file is read: a huge file is refused, never loaded
    files = read_paths(paths, max_file_mb=limit, raise_hint="with --max-upload-mb")
    mapping = load_mapping_file(args.mapping) if args.mapping else None
    upload = read_upload(files, source=args.source, mapping=mapping, max_file_mb=limit)
    as_of = args.as_of or date.today()
    attach = None
    if args.project is not None:
        named = export_projects(upload)
        if not named:
            raise InputError("--project attaches tool exports to a project, but these files hold no tool export")
        attach = dict.fromkeys(named, args.project.strip())
    # Parse first, then hold the database only as long as storing takes.
    with Store.open(args.db) as store:
        result = store.ingest(
            upload, as_of, author=_author(), sources=files, attach=attach, allow_removals=args.allow_removals
        )
        base = result.built_on
        removed = _removal_lines(store, result.removals, base) if base is not None and result.removals.height else []
    return result, removed


def cmd_ingest(args: argparse.Namespace) -> int:
    """Read the files, store them as a snapshot and print a short summary (or watch an inbox folder).

    An upload that removes milestones is refused (exit 1, the list on stderr) unless
    ``--allow-removals`` is given.
    """
    from kpi_engine.cli_inbox import cmd_inbox, wants_inbox
    from kpi_engine.store import RemovalsRefused

    if wants_inbox(args):
        return cmd_inbox(args)
    try:
        result, removed = ingest_paths(args, args.paths)
    except RemovalsRefused as refused:
        with Store.open(args.db) as store:
            lines = _removal_lines(store, refused.removals, refused.base)
        for line in lines:
            _error(line)
        _error("Nothing was stored. Upload the missing milestones too, or add --allow-removals to remove them.")
        return 1
    print("\n".join(_ingest_summary(result) + removed))
    for warning in result.warnings:
        _error(f"warning: {warning}")
    return 0


def cmd_snapshots(args: argparse.Namespace) -> int:
    """List the stored snapshots, oldest first."""
    with Store.open(args.db) as store:
        snapshots = store.snapshots()
    if args.format == "json":
        print(to_json(snapshots.select("snapshot_id", "as_of", "created_at", "files", "rows")))
    elif snapshots.height == 0:
        print(NO_DATA_MESSAGE)
    else:
        table = snapshots.select(
            "snapshot_id",
            "as_of",
            "version",
            "created_at",
            "author",
            *(pl.col("rows").struct.field(name) for name in TABLES),
            pl.col("files").list.join(", "),
        )
        print(render_table(table))
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    """Show the settings; with --set, change them first (every figure uses them)."""
    with Store.open(args.db) as store:
        settings = store.settings()
        # each value was checked when parsed; what is left is a conflict with the stored
        # settings (an Amber threshold above the Red one): input rejected, exit 1
        for name, value in args.set:
            settings = settings.with_value(name, value)
        if args.set:
            store.save_settings(settings)
    values = settings.to_dict()
    if args.format == "json":
        print(json.dumps(values))
    else:
        print(render_table(pl.DataFrame({"setting": list(values), "value": [str(v) for v in values.values()]})))
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    """Copy every table of one store into an empty one and say what was copied."""
    from kpi_engine.store.copy import copy_database, shown, source_store_name

    result = copy_database(args.source, args.target)
    print("\n".join(result.summary(shown(source_store_name(args.source)), shown(args.target))))
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    """Compact a shared store and say what was merged, forgotten and deleted."""
    with Store.open(args.db) as store:
        result = compact(store, args.keep_days)
        print("\n".join(result.summary(str(store.path))))
    return 0


# ---------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse: --help (0) or bad usage (2)
        return stop.code if isinstance(stop.code, int) else 2
    command: Command = args.func
    try:
        return command(args)
    except UploadRejected as err:
        for line in err.lines():
            _error(line)
        return 1
    except KpiError as err:
        _error(str(err))
        return 1
    except OSError as err:  # a path that does not exist or cannot be read
        where = f"{err.filename}: " if err.filename else ""
        _error(f"{where}{err.strerror or err}")
        return 1
    except Exception as err:  # a bug: one line, never a traceback (KPI_DEBUG=1 shows it)
        if os.environ.get("KPI_DEBUG"):
            raise
        first = str(err).splitlines()[0] if str(err) else ""
        _error(f"unexpected error ({type(err).__name__}: {first}); this is a bug, please report it")
        return 1
