"""The older snapshots the histories read: computed once, in the background after a page is drawn."""

from __future__ import annotations

import threading
import time

from app_helpers import no_errors

from kpi_engine.analysis import report_snapshot_ids
from kpi_engine.store import Store
from ui import loaders


def _wait_for_background(seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while any(t.name == "kpi-older-snapshots" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the older snapshots were not computed in time"
        time.sleep(0.05)


def test_a_drawn_page_leaves_the_older_snapshots_computed(open_app, writable_db):
    loaders.clear()
    at = open_app(writable_db)  # the default page, the latest snapshot
    assert no_errors(at)
    _wait_for_background()
    with Store.open(writable_db) as store:
        latest = store.latest_snapshot_id()
        previous = store.previous_snapshot_id(latest)
        older_ids = [i for i in report_snapshot_ids(store, latest) if i not in (latest, previous)]
    settings = loaders.settings_key(str(writable_db))
    assert older_ids
    kept = {i: loaders._older.get((str(writable_db), i, settings)) for i in older_ids}
    assert all(found is not None for found in kept.values())
    # asked again, each is the very result computed in the background, not a new run
    assert all(loaders.older(str(writable_db), i, settings) is kept[i] for i in older_ids)


def test_forgetting_the_caches_forgets_the_older_snapshots(open_app, writable_db):
    at = open_app(writable_db)
    assert no_errors(at)
    _wait_for_background()
    loaders.clear()
    assert not loaders._older
