"""Cached access to the store and the engine, keyed by small values only.

The Store is one shared resource per database file (it is thread-safe: a cursor per
call, a lock for writes). Engine results are cached per (database file, snapshot id,
settings): a snapshot never changes once stored, so only a new upload or a settings
change clears the caches (:func:`clear`).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import date

import polars as pl
import streamlit as st

from kpi_engine.analysis import analyse, milestone_history
from kpi_engine.engine import EngineResult
from kpi_engine.errors import InputError, KpiError, Problem, UploadRejected
from kpi_engine.ingest import ColumnMapping, ParsedUpload, SourceFile, detect_source, read_upload
from kpi_engine.settings import Settings
from kpi_engine.store import IngestResult, Store, resolve_db_path
from kpi_engine.views import file_headers

log = logging.getLogger(__name__)

#: Settings as a hashable cache key: ((name, value), ...).
SettingsKey = tuple[tuple[str, object], ...]


def db_path() -> str:
    """Return the database file the app uses: ``$KPI_DB``, else ``data/kpi.duckdb``."""
    return str(resolve_db_path())


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    return Store.open(path)


def store() -> Store:
    """Return the shared Store of the current database file."""
    return _store(db_path())


def autoload_sample() -> bool:
    """Whether an empty database gets the sample on start (``KPI_AUTOLOAD_SAMPLE=0`` turns it off)."""
    return os.environ.get("KPI_AUTOLOAD_SAMPLE", "1").strip() != "0"


@st.cache_resource(show_spinner="Loading the sample portfolio into an empty database ...")
def ensure_sample(path: str) -> None:
    """Load the bundled sample into an empty database, once per file and process.

    Failures are logged and leave the database empty: the pages then offer a button to
    load the sample and a link to the Upload page.
    """
    target = _store(path)
    if not target.is_empty():
        return
    try:
        from kpi_engine.sample import load_sample

        load_sample(target)
    except Exception:  # noqa: BLE001 - a newcomer still gets the empty state, the log the details
        log.exception("loading the sample portfolio into %s failed", path)
    st.cache_data.clear()


@st.cache_data(show_spinner=False, max_entries=8)
def snapshots(path: str) -> pl.DataFrame:
    """Return the stored snapshots, oldest first (see ``Store.snapshots``)."""
    return _store(path).snapshots()


@st.cache_data(show_spinner=False, max_entries=8)
def settings_key(path: str) -> SettingsKey:
    """Return the stored settings as a hashable key."""
    return tuple(_store(path).settings().to_dict().items())


def settings_of(key: SettingsKey) -> Settings:
    """Return the Settings a key stands for."""
    return Settings.from_dict(dict(key))


@st.cache_data(show_spinner="Computing the portfolio ...", max_entries=32)
def result(path: str, snapshot_id: int, settings: SettingsKey) -> EngineResult:
    """Return the engine's result of a snapshot, with its previous snapshot as context."""
    return analyse(_store(path), snapshot_id, settings_of(settings))


@st.cache_data(show_spinner="Reading the slip history ...", max_entries=16)
def history(path: str, snapshot_id: int) -> pl.DataFrame:
    """Return every milestone's computed finish in every snapshot up to ``snapshot_id``."""
    return milestone_history(_store(path), snapshot_id)


@st.cache_data(show_spinner=False, max_entries=16)
def changes(path: str, snapshot_id: int) -> pl.DataFrame:
    """Return what changed in a snapshot since the one before it."""
    return _store(path).changes(snapshot_id)


@st.cache_data(show_spinner=False, max_entries=8)
def files(path: str) -> pl.DataFrame:
    """Return the audit trail of every uploaded file."""
    return _store(path).files(None)


def clear() -> None:
    """Forget every cached result (after an upload or a settings change)."""
    st.cache_data.clear()


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
    return file_headers(_file)


@st.cache_data(show_spinner=False, max_entries=8)
def parse(key: tuple[object, ...], _files: list[SourceFile], source: str,
          mapping: str | None, date_order: str | None) -> tuple[ParsedUpload | None, list[Problem]]:
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
def dry_run(path: str, key: tuple[object, ...], as_of: date, snapshots_stored: int,
            _upload: ParsedUpload) -> tuple[IngestResult | None, list[Problem]]:
    """Check an upload against the database without storing it: what would change.

    ``snapshots_stored`` is part of the key: a new snapshot changes the answer.
    """
    try:
        return _store(path).ingest(_upload, as_of, dry_run=True), []
    except UploadRejected as err:
        return None, err.problems
