"""A portfolio as of one snapshot: the canonical tables and the snapshot date."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from kpi_engine.core.schema import TABLES, conform, empty_table


@dataclass(frozen=True)
class Portfolio:
    """The canonical tables of one snapshot, typed as in :mod:`kpi_engine.core.schema`.

    Engine functions trust a Portfolio: it is validated at the boundary (ingest, store).
    """

    as_of: date
    objectives: pl.DataFrame
    kpis: pl.DataFrame
    kpi_actuals: pl.DataFrame
    projects: pl.DataFrame
    milestones: pl.DataFrame
    tasks: pl.DataFrame
    dependencies: pl.DataFrame
    links: pl.DataFrame
    people: pl.DataFrame
    #: Optional sheet (candidate workarounds); empty unless uploaded.
    mitigations: pl.DataFrame = field(default_factory=lambda: empty_table("mitigations"))

    @classmethod
    def from_tables(cls, tables: Mapping[str, pl.DataFrame], as_of: date) -> Portfolio:
        """Build a portfolio from any subset of the canonical tables.

        Missing tables are empty; every table is conformed to its canonical schema
        (extra columns such as provenance are dropped, defaults fill blanks).
        """
        frames = {name: conform(name, tables[name]) if name in tables else empty_table(name) for name in TABLES}
        return cls(as_of=as_of, **frames)

    def tables(self) -> dict[str, pl.DataFrame]:
        """Return the canonical tables by name."""
        return {name: getattr(self, name) for name in TABLES}
