"""Cached access to the store and the engine, keyed by small values only.

The Store is one shared resource per database file (it is thread-safe: a cursor per
call, a lock for writes); it lets the file go when idle so that the CLI and scheduled
jobs can write to it. What another program may change (the snapshot list, settings,
roles, the file list) is cached per :func:`~kpi_engine.store.data_version` of the file,
so their uploads show at the next rerun. Engine results are cached per (database file, snapshot id,
settings): a snapshot never changes once stored, so only a new upload or a settings
change clears the caches (:func:`clear`).

Two kinds of cache:

- :func:`shared` (``st.cache_resource``) for large read-only results, an
  :class:`~kpi_engine.engine.compute.EngineResult` or a snapshot's slip history: every run and
  every session gets the same object, not a copy (``st.cache_data`` unpickles a copy on
  every hit, 0.3-0.4 s for a 100,000-milestone result). **Never mutate what they
  return**: Polars frames cannot be changed in place, but a dict or list taken from one
  must be copied before it is changed.
- ``st.cache_data`` for small things (the snapshot list, settings, parsed uploads).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import weakref
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import polars as pl
import streamlit as st

from kpi_engine.analysis import (
    OlderSnapshot,
    analyse,
    milestone_history,
    older_snapshot,
    older_snapshots,
    report_snapshot_ids,
)
from kpi_engine.core.access import AccessPolicy
from kpi_engine.core.errors import InputError, KpiError, Problem, UploadRejected
from kpi_engine.core.settings import Settings
from kpi_engine.engine import page_views, views
from kpi_engine.engine.compute import EngineResult
from kpi_engine.ingest import ColumnMapping, ParsedUpload, SourceFile, detect_source, read_upload
from kpi_engine.loop import views as loop_views
from kpi_engine.loop.decisions import DecisionRequest
from kpi_engine.loop.digests import missing_contacts
from kpi_engine.loop.service import DecisionRecorded, LoopState, loop_state, record_decision
from kpi_engine.store import DataVersion, IngestResult, Store, data_version, idle_release_seconds, resolve_db
from ui import preload

log = logging.getLogger(__name__)

#: Settings as a hashable cache key: ((name, value), ...).
SettingsKey = tuple[tuple[str, object], ...]

F = TypeVar("F", bound=Callable[..., Any])
#: Every cache :func:`shared` made, for :func:`clear`.
_SHARED: list[Any] = []


def shared(max_entries: int, show_spinner: bool | str = False) -> Callable[[F], F]:
    """Cache a function's large, read-only result once per process, keyed by its small arguments.

    ``st.cache_resource`` with at most ``max_entries`` results kept, forgotten by
    :func:`clear`. Every caller gets the same object: never mutate what it returns.
    """

    def wrap(func: F) -> F:
        cached = st.cache_resource(show_spinner=show_spinner, max_entries=max_entries)(func)
        _SHARED.append(cached)
        return cached  # type: ignore[return-value]

    return wrap


def db_path() -> str:
    """Return the database file the app uses: ``$KPI_DB``, else ``data/kpi.duckdb``."""
    return resolve_db()


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    # the file is let go when idle, so that the CLI and scheduled jobs can write to it
    return Store.open(path, idle_release=idle_release_seconds())


def store() -> Store:
    """Return the shared Store of the current database file."""
    return _store(db_path())


@st.cache_resource(show_spinner="Loading the sample portfolio into an empty database ...")
def ensure_sample(path: str) -> None:
    """Load the bundled sample into an empty database, once per file and process.

    Failures are logged and leave the database empty: the pages then offer a button to
    load the sample and a link to the Upload page.
    """
    if preload.pending(path):
        # ``python -m ui.serve`` began loading it before the server started: this process
        # is idle meanwhile, so the first page's libraries are imported while it waits
        preload.import_page_libraries()
        preload.wait(path)
    target = _store(path)
    if not target.is_empty():
        return
    # The first page draws tables (Streamlit converts them with pandas) and charts (Altair):
    # their imports take turns with the sample load's database work instead of following it.
    threading.Thread(target=preload.import_page_libraries, name="kpi-page-imports", daemon=True).start()
    try:
        from kpi_engine.sample import load_sample

        load_sample(target)
    except Exception:
        log.exception("loading the sample portfolio into %s failed", path)
    clear()


def snapshots(path: str) -> pl.DataFrame:
    """Return the stored snapshots, oldest first (see ``Store.snapshots``).

    Read again whenever the database file changed, whoever changed it (the CLI, a
    scheduled job, another replica's upload): :func:`kpi_engine.store.data_version`.
    Stored snapshots never change, so their cached results stay right when another one
    arrives, unless it is dated before the latest: the snapshots dated after it then compare
    with it, and every cached result is forgotten (:func:`clear`).
    """
    found = _snapshots(path, data_version(path))
    with _older_guard:
        seen, _seen[path] = _seen.get(path), found
    if seen is not None and seen.height:
        arrived = found.join(seen.select("snapshot_id"), on="snapshot_id", how="anti")
        if arrived.filter(pl.col("as_of") < seen["as_of"].max()).height:
            clear()
    return found


#: The snapshot list each database had when :func:`snapshots` last read it.
_seen: dict[str, pl.DataFrame] = {}


@st.cache_data(show_spinner=False, max_entries=8)
def _snapshots(path: str, version: DataVersion) -> pl.DataFrame:
    return _store(path).snapshots()


def settings_key(path: str) -> SettingsKey:
    """Return the stored settings as a hashable key (read again when the file changed)."""
    return _settings_key(path, data_version(path))


@st.cache_data(show_spinner=False, max_entries=8)
def _settings_key(path: str, version: DataVersion) -> SettingsKey:
    return tuple(_store(path).settings().to_dict().items())


def access_policy(path: str) -> AccessPolicy:
    """Return who has which role (read again when the file changed)."""
    return _access_policy(path, data_version(path))


@st.cache_data(show_spinner=False, max_entries=8)
def _access_policy(path: str, version: DataVersion) -> AccessPolicy:
    return _store(path).access_policy()


@functools.lru_cache(maxsize=32)
def settings_of(key: SettingsKey) -> Settings:
    """Return the Settings a key stands for (one frozen object per key: checked once, not per call)."""
    return Settings.from_dict(dict(key))


# A result is kept for a few snapshots: each holds the whole portfolio (about 170 MB at
# 100,000 milestones), and a user rarely looks at more than a few snapshots at once.
@shared(max_entries=8, show_spinner="Computing the portfolio ...")
def result(path: str, snapshot_id: int, settings: SettingsKey) -> EngineResult:
    """Return the engine's result of a snapshot, with its previous snapshot as context.

    The context is :func:`previous_result`, which the pages that compare with the previous
    snapshot need anyway: the previous snapshot is computed once, not twice. A snapshot
    computed already as the previous one of the snapshot after it is not computed again
    (:func:`computed`). Shared and read-only: never mutate what it returns.
    """
    return _computed_or(
        path,
        snapshot_id,
        settings,
        lambda: analyse(
            _store(path), snapshot_id, settings_of(settings), previous=previous_result(path, snapshot_id, settings)
        ),
    )


@shared(max_entries=8, show_spinner="Computing the previous snapshot ...")
def previous_result(path: str, snapshot_id: int, settings: SettingsKey) -> EngineResult | None:
    """Return the engine's result of the snapshot before ``snapshot_id`` (None for the first).

    The previous snapshot's own :func:`result` when a cache holds it (after an upload, the
    snapshot that was the latest: only the new one is computed). Shared and read-only:
    never mutate what it returns.
    """
    previous_id = _store(path).previous_snapshot_id(snapshot_id)
    if previous_id is None:
        return None
    try:
        return _computed_or(
            path, previous_id, settings, lambda: analyse(_store(path), previous_id, settings_of(settings))
        )
    except KpiError:  # a snapshot an older version stored and this one cannot compute: no context
        return None


#: Every snapshot's result with its previous snapshot as context that a cache of
#: :func:`result` or :func:`previous_result` holds, by (database, snapshot id, settings).
#: Weak: those caches decide how long a result is kept; this only lets each find the other's.
_computed: weakref.WeakValueDictionary[tuple[str, int, SettingsKey], EngineResult] = weakref.WeakValueDictionary()


def computed(path: str, snapshot_id: int, settings: SettingsKey) -> EngineResult | None:
    """Return a snapshot's :func:`result` if a cache holds it already, else None (nothing is computed).

    :func:`result` of a snapshot and :func:`previous_result` of the snapshot after it are the
    same result, as are the results the slip and report histories need.
    """
    return _computed.get((path, snapshot_id, settings))


def computed_of(path: str, snapshot_ids: list[int], settings: SettingsKey) -> dict[int, EngineResult]:
    """Snapshot id -> :func:`computed` result, for those of ``snapshot_ids`` a cache holds."""
    return {i: found for i in snapshot_ids if (found := computed(path, i, settings)) is not None}


def _computed_or(
    path: str, snapshot_id: int, settings: SettingsKey, compute: Callable[[], EngineResult]
) -> EngineResult:
    """A snapshot's :func:`computed` result, else ``compute()``'s, then made known to :func:`computed`.

    Not made known when :func:`clear` ran meanwhile (it may rest on what was forgotten).
    """
    found = computed(path, snapshot_id, settings)
    if found is not None:
        return found
    generation = _generation[0]
    found = compute()
    with _older_guard:
        if generation == _generation[0]:
            _computed[(path, snapshot_id, settings)] = found
    return found


def _results_at_hand(path: str, snapshot_id: int, settings: SettingsKey, ids: list[int]) -> dict[int, EngineResult]:
    """Snapshot id -> result, for the snapshots a history of ``ids`` up to ``snapshot_id`` finds computed already.

    The snapshot shown and the one before it (:func:`result`, :func:`previous_result`), and
    those of ``ids`` a cache holds (:func:`computed_of`). The others are read ahead in one
    go for :func:`older` (:func:`_read_older`).
    """
    results = {snapshot_id: result(path, snapshot_id, settings)}
    previous_id = _store(path).previous_snapshot_id(snapshot_id)
    if previous_id is not None and (before := previous_result(path, snapshot_id, settings)) is not None:
        results[previous_id] = before
    results |= computed_of(path, [i for i in ids if i not in results], settings)
    _read_older(path, [i for i in ids if i not in results], settings)
    return results


@shared(max_entries=4, show_spinner="Reading the slip history ...")
def history(path: str, snapshot_id: int) -> pl.DataFrame:
    """Return every milestone's computed finish in every snapshot up to ``snapshot_id``.

    Shared and read-only (one row per milestone and snapshot: millions of rows over a year).
    The snapshot and the one before it come from the engine's cached results (a schedule
    does not depend on the settings); only older snapshots are scheduled here.
    """
    settings = settings_key(path)
    ids = report_snapshot_ids(_store(path), snapshot_id)
    known = {i: found.milestones for i, found in _results_at_hand(path, snapshot_id, settings, ids).items()}
    for older_id in ids:
        if older_id not in known:
            try:
                known[older_id] = older(path, older_id, settings).milestones
            except KpiError:  # left to milestone_history, which schedules it alone or leaves it out
                continue
    return milestone_history(_store(path), snapshot_id, known)


@shared(max_entries=8)
def exception_filter_options(path: str, snapshot_id: int, settings: SettingsKey) -> dict[str, dict[str, str]]:
    """Return the choices of the exception filters (:func:`kpi_engine.engine.views.filter_options`).

    Shared and read-only: copy a choice list before changing it.
    """
    return views.filter_options(result(path, snapshot_id, settings).exception_rows)  # no sentences needed


@shared(max_entries=8)
def governance(path: str, snapshot_id: int, settings: SettingsKey) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Return the governance findings and the same per page section (shared, read-only).

    See :func:`kpi_engine.engine.views.governance_view` and
    :func:`~kpi_engine.engine.views.governance_sections`; copy the dict before changing it.
    """
    exceptions = result(path, snapshot_id, settings).exceptions
    return views.governance_view(exceptions), views.governance_sections(exceptions)


Cells = tuple[tuple[str, str], ...]


@shared(max_entries=16)
def milestones_in_cells(
    path: str, snapshot_id: int, settings: SettingsKey, by: views.HeatmapBy, cells: Cells
) -> pl.DataFrame:
    """Return the milestones of the chosen slip-heatmap cells (:func:`kpi_engine.engine.views.milestones_in_cells`).

    Shared and read-only: every milestone when no cell is chosen.
    """
    return views.milestones_in_cells(result(path, snapshot_id, settings).milestones, by, cells)


@shared(max_entries=16)
def links_in_cells(path: str, snapshot_id: int, settings: SettingsKey, cells: Cells) -> pl.DataFrame:
    """Return the links of the chosen KPI-heatmap cells (:func:`kpi_engine.engine.views.links_in_cells`).

    Shared and read-only: every link when no cell is chosen.
    """
    found = result(path, snapshot_id, settings)
    return views.links_in_cells(found.links, found.milestones, found.kpis, cells)


@st.cache_data(show_spinner=False, max_entries=64)
def dependencies(path: str, snapshot_id: int, settings: SettingsKey, milestone_id: str) -> pl.DataFrame:
    """Return the milestones upstream and downstream of one (:func:`kpi_engine.engine.views.milestone_dependencies`)."""
    return views.milestone_dependencies(result(path, snapshot_id, settings), milestone_id)


@st.cache_data(show_spinner=False, max_entries=16)
def changes(path: str, snapshot_id: int) -> pl.DataFrame:
    """Return what changed in a snapshot since the one before it."""
    return _store(path).changes(snapshot_id)


def files(path: str) -> pl.DataFrame:
    """Return the audit trail of every uploaded file (read again when the file changed)."""
    return _files(path, data_version(path))


@st.cache_data(show_spinner=False, max_entries=8)
def _files(path: str, version: DataVersion) -> pl.DataFrame:
    return _store(path).files(None)


# ------------------------------------------------------------------ escalation loop
# The log changes whenever anyone decides or a notification run ends (the CLI included), so
# the loop is cached per data version of the file as well as per snapshot and settings.


def loop(path: str, snapshot_id: int, settings: SettingsKey) -> LoopState:
    """Return where every open item of a snapshot stands in the escalation loop (read-only, shared)."""
    return _loop(path, snapshot_id, settings, data_version(path))


@shared(max_entries=8, show_spinner=False)
def _loop(path: str, snapshot_id: int, settings: SettingsKey, version: DataVersion) -> LoopState:
    return loop_state(_store(path), snapshot_id, settings_of(settings), result=result(path, snapshot_id, settings))


def exception_rows(path: str, snapshot_id: int, settings: SettingsKey, chosen: views.ExceptionFilter) -> pl.DataFrame:
    """Return the exception list as the loop sees it, filtered (read-only, shared).

    See :func:`kpi_engine.loop.views.exceptions_with_loop` and
    :func:`kpi_engine.engine.views.exception_rows`; kept per filter and data version, so a
    rerun that changes nothing (a click in the drill-down) does not filter every row again.
    """
    return _exception_rows(path, snapshot_id, settings, chosen, data_version(path))


@shared(max_entries=16, show_spinner=False)
def _exception_rows(
    path: str, snapshot_id: int, settings: SettingsKey, chosen: views.ExceptionFilter, version: DataVersion
) -> pl.DataFrame:
    listed = loop_views.exceptions_with_loop(_loop(path, snapshot_id, settings, version).status)
    return views.exception_rows(result(path, snapshot_id, settings), chosen, listed)


def exception_totals(
    path: str, snapshot_id: int, settings: SettingsKey, chosen: views.ExceptionFilter
) -> views.ExceptionTotals:
    """Return the totals of :func:`exception_rows` (:func:`kpi_engine.engine.views.exception_totals`), kept alike."""
    return _exception_totals(path, snapshot_id, settings, chosen, data_version(path))


@shared(max_entries=16, show_spinner=False)
def _exception_totals(
    path: str, snapshot_id: int, settings: SettingsKey, chosen: views.ExceptionFilter, version: DataVersion
) -> views.ExceptionTotals:
    return views.exception_totals(_exception_rows(path, snapshot_id, settings, chosen, version))


def unreachable(path: str, snapshot_id: int, settings: SettingsKey) -> pl.DataFrame:
    """Return the people an open item is escalated to who have no e-mail address (read-only, shared).

    See :func:`kpi_engine.loop.digests.missing_contacts`.
    """
    return _unreachable(path, snapshot_id, settings, data_version(path))


@shared(max_entries=8, show_spinner=False)
def _unreachable(path: str, snapshot_id: int, settings: SettingsKey, version: DataVersion) -> pl.DataFrame:
    state = _loop(path, snapshot_id, settings, version)
    return missing_contacts(state.status, state.people)


def loop_history(path: str, snapshot_id: int, settings: SettingsKey) -> pl.DataFrame:
    """Return every item's story as of a snapshot (notified, decided, re-escalated, closed)."""
    return _loop_history(path, snapshot_id, settings, data_version(path))


@st.cache_data(show_spinner=False, max_entries=8)
def _loop_history(path: str, snapshot_id: int, settings: SettingsKey, version: DataVersion) -> pl.DataFrame:
    return _loop(path, snapshot_id, settings, version).history()


def notification_runs(path: str) -> pl.DataFrame:
    """Return every notification run, newest first (read again when the file changed)."""
    return _notification_runs(path, data_version(path))


@st.cache_data(show_spinner=False, max_entries=8)
def _notification_runs(path: str, version: DataVersion) -> pl.DataFrame:
    return _store(path).loop_log.runs()


def decide(path: str, request: DecisionRequest) -> DecisionRecorded:
    """Record a decision on the latest snapshot (checked first; nothing stored when refused)."""
    target = _store(path)
    recorded = record_decision(target, request)
    _loop.clear()  # type: ignore[attr-defined]  # the cache's own clear (shared() keeps the function's type)
    return recorded


def clear() -> None:
    """Forget every cached result (after a settings change or a back-dated snapshot); the Store stays open."""
    st.cache_data.clear()
    for cached in _SHARED:
        cached.clear()
    with _older_guard:
        _older.clear()
        _computed.clear()
        _generation[0] += 1


# ------------------------------------------------------------------ uploads
# Uploaded bytes are never hashed by Streamlit: parameters starting with "_" are skipped,
# and the small ``key`` (file hashes, source, mapping) stands for them.


@st.cache_data(show_spinner=False, max_entries=64)
def detect(sha256: str, name: str, _file: SourceFile) -> str:
    """Return the layout a file is recognised as ('unknown' when none), cached by content."""
    try:
        return detect_source(_file)
    except KpiError:
        return "unreadable"


@st.cache_data(show_spinner=False, max_entries=64)
def headers(sha256: str, name: str, _file: SourceFile) -> list[str]:
    """Return the headers of a file for the mapping editor, cached by content."""
    return views.file_headers(_file)


@st.cache_data(show_spinner=False, max_entries=8)
def parse(
    key: tuple[object, ...], _files: list[SourceFile], source: str, mapping: str | None, date_order: str | None
) -> tuple[ParsedUpload | None, list[Problem]]:
    """Parse and validate an upload: the parsed upload, or None and every problem found.

    ``key`` holds the files' names and hashes; ``mapping`` is a ColumnMapping as JSON.
    """
    column_mapping = ColumnMapping.from_dict(json.loads(mapping)) if mapping else None
    try:
        return read_upload(_files, source, column_mapping, date_order=date_order), []
    except UploadRejected as err:
        return None, err.problems
    except InputError as err:
        return None, [Problem(", ".join(f.name for f in _files), "-", None, "", str(err))]


@st.cache_data(show_spinner=False, max_entries=8)
def dry_run(
    path: str,
    key: tuple[object, ...],
    as_of: date,
    snapshots_stored: int,
    _upload: ParsedUpload,
    attach: tuple[tuple[str, str], ...] = (),
) -> tuple[IngestResult | None, list[Problem]]:
    """Check an upload against the database without storing it: what would change.

    ``snapshots_stored`` is part of the key: a new snapshot changes the answer. ``attach``
    pairs an export's project with the portfolio project the user attached it to.
    """
    try:
        return _store(path).ingest(_upload, as_of, dry_run=True, attach=dict(attach)), []
    except UploadRejected as err:
        return None, err.problems


@st.cache_data(show_spinner=False, max_entries=8)
def removal_values(path: str, base_id: int, snapshots_stored: int, _removals: pl.DataFrame) -> pl.DataFrame:
    """The milestones an upload removes with the value at risk their links held in snapshot ``base_id``.

    Cached by ``base_id`` and ``snapshots_stored`` (with the files' key in the caller's dry run,
    these decide the removals).
    """
    from kpi_engine.analysis import removal_values as valued

    return valued(_store(path), _removals, base_id)


@st.cache_data(show_spinner=False, max_entries=8)
def project_choices(path: str, snapshots_stored: int) -> dict[str, str]:
    """Project id -> name in the latest snapshot (empty when none), for attaching an export."""
    store = _store(path)
    if store.is_empty():
        return {}
    projects = store.load_portfolio().projects
    return dict(projects.select("project_id", "name").iter_rows())


# ------------------------------------------------------------------ reporting credibility
def snapshot_reports(path: str, snapshot_id: int, settings: SettingsKey) -> pl.DataFrame:
    """Return one snapshot's status reports with their watermelon flags (kept per snapshot, see :func:`older`)."""
    return older(path, snapshot_id, settings).reports


# ------------------------------------------------------------------ older snapshots
# The reporting history and the slip history read every snapshot before the one shown. Each
# is computed once per process (both read the same engine run) and kept here, safe from any
# thread. A snapshot never changes once stored.

#: Older snapshots kept at most (about 15 MB each at 100,000 milestones).
OLDER_KEPT = 256
_older: dict[tuple[str, int, SettingsKey], OlderSnapshot | KpiError] = {}
_older_locks: dict[tuple[str, int, SettingsKey], threading.Lock] = {}
_older_guard = threading.Lock()
#: Bumped by :func:`clear`: a run that started before it does not keep its result.
_generation = [0]


def older(path: str, snapshot_id: int, settings: SettingsKey) -> OlderSnapshot:
    """Return a snapshot's reports and schedule (:func:`kpi_engine.analysis.older_snapshot`), computed once.

    Safe from any thread: a second caller waits for the first one's run. Shared and
    read-only.

    Raises
    ------
    KpiError
        The snapshot cannot be computed (kept too: it is not tried again).
    """
    key = (path, snapshot_id, settings)
    with _older_guard:
        lock = _older_locks.setdefault(key, threading.Lock())
    with lock:
        found = _older.get(key)
        if found is None:
            generation = _generation[0]
            try:
                found = older_snapshot(_store(path), snapshot_id, settings_of(settings))
            except KpiError as err:
                found = err
            _keep_older({key: found}, generation)
    if isinstance(found, KpiError):
        raise found
    return found


def _read_older(path: str, snapshot_ids: list[int], settings: SettingsKey) -> None:
    """Compute the older snapshots among ``snapshot_ids`` not kept yet, their tables read together.

    :func:`older` then finds them kept: a page that needs every older snapshot reads each
    table once for all of them instead of once per snapshot.
    """
    with _older_guard:
        missing = [i for i in snapshot_ids if (path, i, settings) not in _older]
    if len(missing) < 2:
        return  # one alone: older() reads it as fast
    generation = _generation[0]
    try:
        found = older_snapshots(_store(path), missing, settings_of(settings))
    except KpiError:
        return  # older() meets the same problem snapshot by snapshot, and keeps it
    _keep_older({(path, snapshot_id, settings): value for snapshot_id, value in found.items()}, generation)


def _keep_older(found: dict[tuple[str, int, SettingsKey], OlderSnapshot | KpiError], generation: int) -> None:
    """Keep computed older snapshots, the oldest kept making room, unless :func:`clear` ran since ``generation``."""
    with _older_guard:
        if generation != _generation[0]:
            return  # forgotten meanwhile (a new upload or settings): do not keep
        for key, value in found.items():
            while len(_older) >= OLDER_KEPT:
                _older.pop(next(iter(_older)))
            _older.setdefault(key, value)


@shared(max_entries=8, show_spinner="Reading the reports of every snapshot ...")
def report_history(path: str, snapshot_id: int, settings: SettingsKey) -> pl.DataFrame:
    """Return the status reports of every snapshot up to ``snapshot_id`` (each snapshot computed once).

    Shared and read-only.
    """
    from kpi_engine.engine.credibility import empty_reports, report_rows

    # watermelons do not depend on the previous snapshot, so the cached results give the
    # reports a snapshot alone gives
    ids = report_snapshot_ids(_store(path), snapshot_id)
    results = _results_at_hand(path, snapshot_id, settings, ids)
    frames = [report_rows(results[i], i) if i in results else snapshot_reports(path, i, settings) for i in ids]
    return pl.concat(frames) if frames else empty_reports()


@shared(max_entries=16, show_spinner="Ranking the reports ...")
def credibility(path: str, snapshot_id: int, settings: SettingsKey, by: str) -> pl.DataFrame:
    """Return the reporting credibility per ``by`` over :func:`report_history` (shared, read-only).

    See :func:`kpi_engine.engine.credibility.credibility`.
    """
    from kpi_engine.engine import credibility as cred

    people = report_people(path, snapshot_id, settings) if by == "person" else None
    return cred.credibility(report_history(path, snapshot_id, settings), by, people=people)


@shared(max_entries=8)
def report_people(path: str, snapshot_id: int, settings: SettingsKey) -> pl.DataFrame:
    """Return :func:`report_history` with one row per report and person its owner names (shared, read-only).

    See :func:`kpi_engine.engine.credibility.by_person`: split once for the credibility
    table and the watermelon weeks.
    """
    from kpi_engine.engine import credibility as cred

    return cred.by_person(report_history(path, snapshot_id, settings))


@shared(max_entries=8)
def watermelon_weeks(path: str, snapshot_id: int, settings: SettingsKey) -> pl.DataFrame:
    """Return reports and watermelons per person and snapshot date (shared, read-only).

    See :func:`kpi_engine.engine.credibility.watermelon_weeks`.
    """
    from kpi_engine.engine import credibility as cred

    reports = report_history(path, snapshot_id, settings)
    return cred.watermelon_weeks(reports, people=report_people(path, snapshot_id, settings))


@shared(max_entries=8)
def reports_by_person(path: str, snapshot_id: int, settings: SettingsKey) -> pl.DataFrame:
    """Return :func:`report_history` with the person keys each report's owner names (shared, read-only).

    See :func:`kpi_engine.engine.page_views.with_person_keys`.
    """
    return page_views.with_person_keys(report_history(path, snapshot_id, settings))


@st.cache_data(show_spinner=False, max_entries=256)
def reporting_sentences(path: str, snapshot_id: int, settings: SettingsKey, owner: str | None) -> list[str]:
    """Return the sentences about the recent reports of each person ``owner`` names.

    See :func:`kpi_engine.engine.credibility.reporting_sentences`; only the reports of the
    people named are read (:func:`kpi_engine.engine.page_views.reports_naming`).
    """
    from kpi_engine.engine import credibility as cred

    named = page_views.reports_naming(reports_by_person(path, snapshot_id, settings), owner)
    return cred.reporting_sentences(named, owner)
