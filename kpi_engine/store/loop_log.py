"""The escalation loop's log in the database: decisions, notification runs, notified items.

Append-only: rows are inserted, never updated or deleted (a decision is superseded by a
later one; a run that failed leaves its items unsent for the next). The tables are created
with ``CREATE ... IF NOT EXISTS`` when a database is opened, so a file written before the
loop existed gains them on its first open and loses nothing.

The schemas are :mod:`kpi_engine.loop.log`'s; the loop's pure functions read these frames.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from kpi_engine.core.errors import InputError
from kpi_engine.loop.log import (
    DECISION_COLUMNS,
    DECISIONS,
    NOTIFICATION_COLUMNS,
    RUN_COLUMNS,
)
from kpi_engine.store.backends import to_arrow
from kpi_engine.store.connection import q_list
from kpi_engine.store.counters import next_id

if TYPE_CHECKING:
    from kpi_engine.store import Store

#: The statements that create the loop's tables; each runs on every open.
DDL = (
    "CREATE TABLE IF NOT EXISTS decisions (decision_id BIGINT NOT NULL, recorded_at TIMESTAMP NOT NULL, "
    "snapshot_id BIGINT NOT NULL, as_of DATE NOT NULL, kind VARCHAR NOT NULL, milestone_id VARCHAR, "
    "kpi_id VARCHAR, finding VARCHAR, decision VARCHAR NOT NULL, decided_by VARCHAR NOT NULL, due DATE, "
    "note VARCHAR, cost DOUBLE, start_date DATE, fraction DOUBLE, value_at_risk DOUBLE, "
    "escalation_level BIGINT, escalate_to VARCHAR)",
    "CREATE TABLE IF NOT EXISTS notification_runs (run_id BIGINT NOT NULL, started_at TIMESTAMP NOT NULL, "
    "snapshot_id BIGINT NOT NULL, as_of DATE NOT NULL, messages BIGINT NOT NULL, failures BIGINT NOT NULL, "
    # JSON lists of "Name <address>" and "Name <address>: what went wrong"
    "recipients VARCHAR NOT NULL, failed VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS notifications (run_id BIGINT NOT NULL, snapshot_id BIGINT NOT NULL, "
    "as_of DATE NOT NULL, sent_at TIMESTAMP NOT NULL, kind VARCHAR NOT NULL, milestone_id VARCHAR, "
    "kpi_id VARCHAR, finding VARCHAR, person VARCHAR, person_key VARCHAR, address VARCHAR, "
    "forwarded BOOLEAN NOT NULL, channels VARCHAR NOT NULL, escalation_level BIGINT NOT NULL, "
    "reason VARCHAR NOT NULL, value_at_risk DOUBLE, decision_id BIGINT)",
    # the project of a finding on a project (part of the item key); a log written before
    # it existed gains it empty, and its items keep their keys
    "ALTER TABLE decisions ADD COLUMN IF NOT EXISTS finding_project VARCHAR",
    "ALTER TABLE notifications ADD COLUMN IF NOT EXISTS finding_project VARCHAR",
)

_ROWS_VIEW = "_kpi_loop_rows"


def create_loop_tables(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the loop's tables when missing (called inside the store's schema transaction)."""
    for statement in DDL:
        cur.execute(statement)


class LoopLog:
    """Read and append the loop's log of one :class:`~kpi_engine.store.Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # ------------------------------------------------------------------ decisions
    def record_decision(self, decision: dict[str, Any]) -> int:
        """Append a decision and return its id (``recorded_at`` is now).

        Parameters
        ----------
        decision
            Values of :data:`~kpi_engine.loop.log.DECISION_COLUMNS` except ``decision_id``
            and ``recorded_at`` (missing ones are null). The caller has checked it
            (:func:`kpi_engine.loop.decisions.check_decision`).

        Raises
        ------
        InputError
            An unknown decision word or no one named as deciding.
        """
        if decision.get("decision") not in DECISIONS:
            raise InputError(f"unknown decision '{decision.get('decision')}'; use one of {', '.join(DECISIONS)}")
        if not str(decision.get("decided_by") or "").strip():
            raise InputError("a decision needs the name of the person who takes it")
        names = [c for c in DECISION_COLUMNS if c not in ("decision_id", "recorded_at")]
        values = [decision.get(c) for c in names]
        sql = (
            "INSERT INTO decisions (decision_id, recorded_at, "
            + q_list(names)
            + ") VALUES (?, ?, "
            + ", ".join("?" for _ in names)
            + ")"
        )

        def work(cur: duckdb.DuckDBPyConnection) -> int:
            decision_id = next_id(cur, "decision_ids")
            cur.execute(sql, [decision_id, _now(), *values])
            return decision_id

        return self._store._write(work)

    def decisions(self) -> pl.DataFrame:
        """Every decision, oldest first (columns of :data:`~kpi_engine.loop.log.DECISION_COLUMNS`)."""
        frame = self._store._frame("SELECT " + q_list(DECISION_COLUMNS) + " FROM decisions ORDER BY decision_id")
        return frame.cast(DECISION_COLUMNS)

    # ------------------------------------------------------------------ notifications
    def record_run(
        self,
        *,
        snapshot_id: int,
        as_of: date,
        started_at: datetime,
        notifications: pl.DataFrame,
        recipients: Sequence[str],
        failed: Sequence[str],
    ) -> int:
        """Append one notification run and the items it delivered, in one transaction.

        Parameters
        ----------
        snapshot_id, as_of
            The snapshot the run notified about.
        started_at
            When the run began.
        notifications
            One row per item delivered (:data:`~kpi_engine.loop.log.NOTIFICATION_COLUMNS`;
            ``run_id`` is filled in here).
        recipients
            ``Name <address>`` of every digest a server accepted.
        failed
            ``Name <address>: what went wrong`` of every digest that was not sent.

        Returns
        -------
        int
            The run's id.
        """
        names = list(NOTIFICATION_COLUMNS)
        rows = notifications.cast(NOTIFICATION_COLUMNS)

        def work(cur: duckdb.DuckDBPyConnection) -> int:
            run_id = next_id(cur, "notification_run_ids")
            cur.execute(
                "INSERT INTO notification_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    started_at,
                    snapshot_id,
                    as_of,
                    len(recipients),
                    len(failed),
                    json.dumps(list(recipients)),
                    json.dumps(list(failed)),
                ],
            )
            if rows.height:
                cur.register(_ROWS_VIEW, to_arrow(rows.with_columns(pl.lit(run_id, pl.Int64).alias("run_id"))))
                try:
                    cur.execute(
                        "INSERT INTO notifications (" + q_list(names) + ") SELECT " + q_list(names) + " FROM "
                        "_kpi_loop_rows"
                    )
                finally:
                    cur.unregister(_ROWS_VIEW)
            return run_id

        return self._store._write(work)

    def notifications(self) -> pl.DataFrame:
        """Every item delivered, oldest run first (:data:`~kpi_engine.loop.log.NOTIFICATION_COLUMNS`)."""
        frame = self._store._frame(
            "SELECT " + q_list(NOTIFICATION_COLUMNS) + " FROM notifications ORDER BY run_id, sent_at"
        )
        return frame.cast(NOTIFICATION_COLUMNS)

    def runs(self) -> pl.DataFrame:
        """Every notification run, newest first (:data:`~kpi_engine.loop.log.RUN_COLUMNS`)."""
        frame = self._store._frame(
            "SELECT run_id, started_at, snapshot_id, as_of, messages, failures, recipients, failed "
            "FROM notification_runs ORDER BY run_id DESC"
        )
        return frame.with_columns(
            pl.col("recipients").str.json_decode(pl.List(pl.String)),
            pl.col("failed").str.json_decode(pl.List(pl.String)),
        ).cast(RUN_COLUMNS)


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)
