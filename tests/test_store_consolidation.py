"""A long chain of partial uploads is folded back into a snapshot that stores all its rows itself.

The oracle is a store that never folds: the same uploads read back the same from both,
with the same changes, warnings and removals (kpi_engine/store/consolidation.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from builders import upload
from polars.testing import assert_frame_equal
from test_store import PORTFOLIO

from kpi_engine.core.schema import TABLES
from kpi_engine.store import Store, consolidation

WEEK_1 = date(2026, 6, 1)


@contextmanager
def folding_at(dead_per_live: float) -> Iterator[None]:
    """Uploads inside the block fold a chain once it holds ``dead_per_live`` dead rows per live row."""
    before = consolidation.DEAD_ROWS_PER_LIVE_ROW
    consolidation.DEAD_ROWS_PER_LIVE_ROW = dead_per_live
    try:
        yield
    finally:
        consolidation.DEAD_ROWS_PER_LIVE_ROW = before


def week_upload(week: int):
    """Project PA's milestones and tasks in week ``week``: A1 slips a day a week; A2 is missing in week 5."""
    a2 = "" if week == 5 else "A2,PA,A two,Ann,2026-10-31,2026-10-31,,Green\n"
    return upload(
        milestones=(
            "milestone_id,project_id,name,owner,baseline_finish,forecast_finish,actual_finish,reported_status\n"
            f"A1,PA,A one,Ann,2026-08-31,{date(2026, 9, 7) + timedelta(days=week)},,Green\n{a2}"
        ),
        tasks=f"task_id,milestone_id,name,forecast_finish\nTA1,A1,Task A1,{date(2026, 9, 1) + timedelta(days=week)}",
    )


def store_weeks(store: Store, weeks: int) -> list:
    """The full portfolio in week 1, then PA's upload every week after it; the ingest results."""
    results = [store.ingest(upload(**PORTFOLIO), WEEK_1)]
    for week in range(2, weeks + 1):
        results.append(store.ingest(week_upload(week), WEEK_1 + timedelta(weeks=week - 1)))
    return results


def chains(store: Store) -> dict[int, list[int]]:
    rows = store._rows("SELECT snapshot_id, list(ancestor_id ORDER BY ancestor_id) FROM snapshot_lineage GROUP BY 1")
    return {int(sid): list(ancestors) for sid, ancestors in rows}


def test_a_long_chain_is_folded_and_every_snapshot_reads_back_as_without_folding(store_url, tmp_path):
    with Store.open(tmp_path / "never.duckdb") as never:
        with folding_at(math.inf):
            unfolded = store_weeks(never, 8)
        with Store.open(store_url) as store:
            folded = store_weeks(store, 8)
            # PA's upload replaces 3 of the 5 milestone and task rows: a chain holds as many
            # dead rows as live ones after two weekly uploads, and the next one folds it.
            # Week 5 leaves A2 out (4 rows live), week 6 brings it back without replacing it.
            assert chains(store) == {
                1: [1],
                2: [1, 2],
                3: [1, 2, 3],
                4: [4],  # built on 3: 6 dead rows in 1-3, 5 live
                5: [4, 5],  # built on 4: its own 3 removals
                6: [6],  # built on 5: 3 + 3 dead, 4 live
                7: [6, 7],  # built on 6: 2 dead
                8: [8],  # built on 7: 2 + 3 dead, 5 live
            }
            assert chains(never)[8] == list(range(1, 9))
            for sid in (4, 6, 8):
                stored = {
                    t: store._rows(f'SELECT count(*) FROM "{t}" WHERE snapshot_id = ?', [sid])[0][0] for t in TABLES
                }
                assert stored == folded[sid - 1].rows  # every row it holds, stored by itself
            for ours, theirs in zip(folded, unfolded, strict=True):
                assert (ours.snapshot_id, ours.built_on, ours.rows) == (
                    theirs.snapshot_id,
                    theirs.built_on,
                    theirs.rows,
                )
                assert ours.message == theirs.message
                assert [(w.file, w.sheet, w.column, w.message) for w in ours.warnings] == [
                    (w.file, w.sheet, w.column, w.message) for w in theirs.warnings
                ]
                assert_frame_equal(ours.changes, theirs.changes)
                assert_frame_equal(ours.removals, theirs.removals)
                sid = ours.snapshot_id
                for table, frame in store.load_portfolio(sid).tables().items():
                    assert_frame_equal(frame, never.load_portfolio(sid).tables()[table])
                assert_frame_equal(store.changes(sid), never.changes(sid))
            assert_frame_equal(store.load_milestone_history(), never.load_milestone_history())
    # week 5 removed A2: the dependency B1 -> A2 carried from week 1 is reported in both
    assert any("A2" in w.message for w in folded[4].warnings)
    assert folded[4].removals["milestone_id"].to_list() == ["A2"]


@pytest.mark.parametrize("dead_per_live", [0.0, 0.5])
def test_an_upload_built_on_an_older_snapshot_folds_its_own_branch_only(tmp_path, dead_per_live):
    # a late upload for week 2 builds on snapshot 2 while week 3 exists: folding it copies
    # snapshot 2's rows, and snapshot 3 and later read back unchanged
    with Store.open(tmp_path / "never.duckdb") as never:
        with folding_at(math.inf):
            store_weeks(never, 3)
            late_never = never.ingest(week_upload(5), WEEK_1 + timedelta(weeks=1, days=1))
        with folding_at(dead_per_live), Store.open(tmp_path / "kpi.duckdb") as store:
            store_weeks(store, 3)
            late = store.ingest(week_upload(5), WEEK_1 + timedelta(weeks=1, days=1))
            assert late.built_on == late_never.built_on == 2
            assert chains(store)[late.snapshot_id] == [late.snapshot_id]
            for sid in range(1, late.snapshot_id + 1):
                for table, frame in store.load_portfolio(sid).tables().items():
                    assert_frame_equal(frame, never.load_portfolio(sid).tables()[table])
                assert_frame_equal(store.changes(sid), never.changes(sid))


def _kept_dead_rows(store: Store, snapshot_id: int) -> int | None:
    counts = json.loads(store._rows("SELECT row_counts FROM snapshots WHERE snapshot_id = ?", [snapshot_id])[0][0])
    return counts.get(consolidation.DEAD_ROWS_KEY)


def _counted_dead_rows(store: Store, lineage: list[int]) -> int:
    """The rows the chain removed in milestones and tasks, counted in the removals tables."""
    ids = ", ".join(str(int(i)) for i in lineage)
    return sum(
        store._rows(f'SELECT count(*) FROM "{table}_removals" WHERE snapshot_id IN ({ids})')[0][0]
        for table in ("milestones", "tasks")
    )


def test_each_snapshot_keeps_its_chains_dead_rows_and_one_stored_without_them_is_counted(store_url):
    with Store.open(store_url) as store:
        store_weeks(store, 3)
        for sid, lineage in chains(store).items():
            assert _kept_dead_rows(store, sid) == _counted_dead_rows(store, lineage)
        assert _kept_dead_rows(store, 3) == 6  # two weekly uploads of 3 replaced rows each
        # a store written before the count was kept: the next upload counts the chain itself
        for sid, text in store._rows("SELECT snapshot_id, row_counts FROM snapshots"):
            counts = {k: v for k, v in json.loads(text).items() if k != consolidation.DEAD_ROWS_KEY}
            store._write(
                lambda cur, sid=sid, counts=counts: cur.execute(
                    "UPDATE snapshots SET row_counts = ? WHERE snapshot_id = ?", [json.dumps(counts), sid]
                ),
                ordered=False,
            )
        assert _kept_dead_rows(store, 3) is None
        store.ingest(week_upload(4), WEEK_1 + timedelta(weeks=3))
        assert chains(store)[4] == [4]  # folded, as when the count is kept (see the test above)
        assert _kept_dead_rows(store, 4) == _counted_dead_rows(store, [4]) == 3
