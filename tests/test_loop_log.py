"""The loop's log in the store: append-only decisions and runs, added to older database files."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from builders import FLEET_DIR

from kpi_engine.core.errors import InputError
from kpi_engine.ingest import read_paths, read_upload
from kpi_engine.loop.log import NOTIFICATION_COLUMNS, empty_notifications
from kpi_engine.store import Store
from kpi_engine.store.loop_log import LoopLog

M3 = {"snapshot_id": 1, "as_of": date(2026, 6, 15), "kind": "milestone", "milestone_id": "M3", "kpi_id": "K-OTD"}


def test_decisions_are_appended_and_a_later_one_supersedes_without_changing_the_first(store_url: str) -> None:
    with Store.open(store_url) as store:
        first = store.loop_log.record_decision(
            {**M3, "decision": "recover", "decided_by": "Marco Bellini", "due": date(2026, 6, 29), "note": "vendor"}
        )
        second = store.loop_log.record_decision({**M3, "decision": "accept", "decided_by": "Marco Bellini"})
        rows = store.loop_log.decisions()
    assert (first, second) == (1, 2)
    assert rows.select("decision_id", "decision", "due", "note").rows() == [
        (1, "recover", date(2026, 6, 29), "vendor"),
        (2, "accept", None, None),
    ]
    assert rows["recorded_at"].dtype == pl.Datetime("us")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"decision": "ignore", "decided_by": "Marco"}, "unknown decision 'ignore'", id="unknown-word"),
        pytest.param({"decision": "accept", "decided_by": "  "}, "needs the name", id="nobody"),
    ],
)
def test_a_bad_decision_stores_nothing(store_url: str, values: dict, message: str) -> None:
    with Store.open(store_url) as store:
        with pytest.raises(InputError, match=message):
            store.loop_log.record_decision({**M3, **values})
        assert store.loop_log.decisions().height == 0


def _sent(person: str) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "run_id": 0,
                "snapshot_id": 1,
                "as_of": date(2026, 6, 15),
                "sent_at": datetime(2026, 6, 15, 7, 0),
                "kind": "milestone",
                "milestone_id": "M3",
                "kpi_id": "K-OTD",
                "person": person,
                "person_key": person.lower(),
                "address": "marco.bellini@fleet.example",
                "forwarded": False,
                "channels": "email",
                "escalation_level": 2,
                "reason": "new",
                "value_at_risk": 60_000.0,
            }
        ],
        schema=NOTIFICATION_COLUMNS,
    )


def test_a_run_and_its_items_are_stored_together(store_url: str) -> None:
    with Store.open(store_url) as store:
        run = store.loop_log.record_run(
            snapshot_id=1,
            as_of=date(2026, 6, 15),
            started_at=datetime(2026, 6, 15, 7, 0),
            notifications=_sent("Marco Bellini"),
            recipients=["Marco Bellini <marco.bellini@fleet.example>"],
            failed=["Dana Whitfield <dana.whitfield@fleet.example>: 550 mailbox unavailable"],
        )
        runs, sent = store.loop_log.runs(), store.loop_log.notifications()
    assert run == 1
    assert runs.select("run_id", "messages", "failures", "recipients", "failed").rows() == [
        (
            1,
            1,
            1,
            ["Marco Bellini <marco.bellini@fleet.example>"],
            ["Dana Whitfield <dana.whitfield@fleet.example>: 550 mailbox unavailable"],
        )
    ]
    assert sent.select("run_id", "milestone_id", "reason").rows() == [(1, "M3", "new")]


def test_a_run_that_cannot_be_stored_leaves_no_trace(store_url: str) -> None:
    broken = _sent("Marco Bellini").with_columns(pl.lit(None, pl.String).alias("reason"))  # NOT NULL
    with Store.open(store_url) as store:
        with pytest.raises(duckdb.Error):
            store.loop_log.record_run(
                snapshot_id=1,
                as_of=date(2026, 6, 15),
                started_at=datetime(2026, 6, 15),
                notifications=broken,
                recipients=["x"],
                failed=[],
            )
        assert store.loop_log.runs().height == 0 and store.loop_log.notifications().height == 0


def test_a_database_from_before_the_loop_gains_its_tables_and_keeps_its_snapshots(tmp_path: Path) -> None:
    path = tmp_path / "kpi.duckdb"
    files = read_paths(sorted(FLEET_DIR.glob("*.csv")))
    with Store.open(path) as store:
        store.ingest(read_upload(files), date(2026, 6, 15))
    con = duckdb.connect(str(path))  # as an older version left it: no loop tables
    for table in ("decisions", "notifications", "notification_runs"):
        con.execute("DROP TABLE " + table)
    con.close()
    with Store.open(path) as store:
        assert store.snapshot_ids() == [1]
        assert store.loop_log.decisions().height == 0
        assert store.loop_log.runs().height == 0
        assert store.loop_log.notifications().equals(empty_notifications())


def test_the_log_offers_no_way_to_change_or_delete_a_row() -> None:
    public = {name for name in dir(LoopLog) if not name.startswith("_")}
    assert public == {"record_decision", "decisions", "record_run", "notifications", "runs"}
