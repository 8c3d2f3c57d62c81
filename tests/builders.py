"""Tiny portfolios built inline for engine tests, the worked example as a Portfolio, hand-built uploads for the store,
and a scenario's complete result computed from scratch."""

from __future__ import annotations

import hashlib
import io
import textwrap
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import polars as pl

from kpi_engine.core.errors import Problem
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.core.schema import TABLES, conform, schema_of
from kpi_engine.engine.compute import EngineResult, evaluate
from kpi_engine.whatif.scenarios import ScenarioResult

#: The worked example (DOMAIN section 5), copied into the repository: one CSV per sheet plus fleet.xlsx.
FLEET_DIR = Path(__file__).resolve().parent / "fixtures" / "fleet"
FLEET_AS_OF = date(2026, 6, 15)


def fleet_portfolio() -> Portfolio:
    """The worked example of DOMAIN.md section 5, read from tests/fixtures/fleet."""
    tables = {
        name: pl.read_csv(FLEET_DIR / f"{name}.csv", schema_overrides=schema_of(name))
        for name in TABLES
        if (FLEET_DIR / f"{name}.csv").exists()  # optional sheets (mitigations) are not in the example
    }
    return Portfolio.from_tables(tables, FLEET_AS_OF)


def frame(table: str, rows: list[dict]) -> pl.DataFrame:
    """A canonical table from a few literal rows (missing columns are blank)."""
    schema = schema_of(table)
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)


def portfolio(as_of: date = date(2026, 6, 1), **tables: list[dict]) -> Portfolio:
    """A Portfolio from literal rows per table; a default project P and objective O exist."""
    defaults = {
        "projects": [{"project_id": "P", "name": "Project P", "owner": "Pat Owner", "sponsor": "Sue Sponsor"}],
        "objectives": [{"objective_id": "O", "name": "Objective O", "owner": "Olga Exec"}],
    }
    merged = {**defaults, **tables}
    return Portfolio.from_tables({name: frame(name, rows) for name, rows in merged.items()}, as_of)


def milestone(mid: str, baseline: date, **values) -> dict:
    """A milestone row of project P owned by one person, with a baseline finish."""
    return {
        "milestone_id": mid,
        "project_id": "P",
        "name": f"Milestone {mid}",
        "owner": "Mo Lead",
        "baseline_finish": baseline,
        **values,
    }


def kpi(kid: str, **values) -> dict:
    """A lower-is-better KPI of objective O from 2.0 to 1.0 over 2026."""
    return {
        "kpi_id": kid,
        "name": f"KPI {kid}",
        "objective_id": "O",
        "owner": "Kim Owner",
        "unit": "u",
        "direction": "lower_is_better",
        "baseline_value": 2.0,
        "target_value": 1.0,
        "period_start": date(2026, 1, 1),
        "target_date": date(2026, 12, 31),
        **values,
    }


def make_version_1(path: Path) -> None:
    """Turn a database file into one the first version of the program wrote: no versions, no tool keys."""
    import duckdb

    with duckdb.connect(str(path)) as raw:
        raw.execute("CREATE TABLE old_snapshots AS SELECT * EXCLUDE (version) FROM snapshots")
        raw.execute("DROP TABLE snapshots")
        raw.execute("ALTER TABLE old_snapshots RENAME TO snapshots")
        raw.execute("DROP TABLE milestone_keys")
        raw.execute("UPDATE schema_version SET version = 1")


# ---------------------------------------------------------------------- a hand-built upload
@dataclass(frozen=True)
class FakeFile:
    """The shape of kpi_engine.ingest.FileReport and of a SourceFile's bytes."""

    name: str
    sha256: str
    size: int
    source: str
    tables: dict[str, int]
    data: bytes = b""


@dataclass(frozen=True)
class FakeUpload:
    """The shape of kpi_engine.ingest.ParsedUpload."""

    tables: dict[str, pl.DataFrame]
    files: list[FakeFile]
    warnings: list[Problem] = field(default_factory=list)


def upload(**sheets: str) -> FakeUpload:
    """An upload of one CSV per table, given as text (header first), with provenance columns."""
    tables, files = {}, []
    for table, text in sheets.items():
        text = textwrap.dedent(text).strip() + "\n"
        raw = pl.read_csv(io.StringIO(text), schema_overrides=schema_of(table), infer_schema=False)
        name = f"{table}.csv"
        tables[table] = conform(table, raw).with_columns(
            pl.lit(name).alias("_file"), pl.lit(table).alias("_sheet"), pl.int_range(2, raw.height + 2).alias("_row")
        )
        data = text.encode()
        files.append(FakeFile(name, hashlib.sha256(data).hexdigest(), len(data), "template", {table: raw.height}, data))
    return FakeUpload(tables, files)


def scenario_from_scratch(result: ScenarioResult) -> EngineResult:
    """The scenario's complete result the slow, obvious way: the whole engine on its finishes."""
    base = result.baseline
    previous = replace(
        base,
        milestones=base.milestones.select("milestone_id", pl.col("previous_status").alias("computed_status")).filter(
            pl.col("computed_status").is_not_null()
        ),
    )
    return evaluate(base.portfolio, result.schedule, result.finish, result.settings, previous, base.governance)
