"""The older snapshots the histories read: each computed once, for the reporting and the slip history alike."""

from __future__ import annotations

from app_helpers import no_errors

from kpi_engine.analysis import report_snapshot_ids
from kpi_engine.store import Store
from ui import loaders


def test_the_exceptions_page_computes_each_older_snapshot_once(open_app, writable_db):
    loaders.clear()
    at = open_app(writable_db, "pages/exceptions.py")  # its drill-down reads both histories
    assert no_errors(at)
    with Store.open(writable_db) as store:
        latest = store.latest_snapshot_id()
        previous = store.previous_snapshot_id(latest)
        older_ids = [i for i in report_snapshot_ids(store, latest) if i not in (latest, previous)]
    settings = loaders.settings_key(str(writable_db))
    assert older_ids
    kept = {i: loaders._older.get((str(writable_db), i, settings)) for i in older_ids}
    assert all(found is not None for found in kept.values())
    # asked again, each is the very result computed for the page, not a new run
    assert all(loaders.older(str(writable_db), i, settings) is kept[i] for i in older_ids)


def test_forgetting_the_caches_forgets_the_older_snapshots(open_app, writable_db):
    at = open_app(writable_db, "pages/exceptions.py")
    assert no_errors(at)
    assert loaders._older
    loaders.clear()
    assert not loaders._older
