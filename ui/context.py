"""The snapshot every page shows: picked once in the sidebar, kept in ``st.session_state``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import streamlit as st

from kpi_engine.core.settings import Settings
from kpi_engine.engine.compute import EngineResult
from ui import format as fmt
from ui import loaders, pages_mode

#: Session-state key of the chosen snapshot id (the sidebar selectbox writes it).
SNAPSHOT_KEY = "snapshot_id"
#: Session-state key of a snapshot the picker should select on the next run.
PENDING_KEY = "_next_snapshot_id"
#: Session-state key of the latest snapshot at this session's last run.
LATEST_KEY = "_latest_snapshot_id"


@dataclass(frozen=True)
class Context:
    """Where a page reads from: database file, snapshot, its date and the settings."""

    path: str
    snapshot_id: int
    as_of: date
    previous_id: int | None
    previous_as_of: date | None
    settings_key: loaders.SettingsKey

    @property
    def at(self) -> tuple[str, int, loaders.SettingsKey]:
        """What this snapshot's figures depend on: the cache key of ``ui.specs``."""
        return (self.path, self.snapshot_id, self.settings_key)

    @property
    def settings(self) -> Settings:
        """The stored settings."""
        return loaders.settings_of(self.settings_key)

    @property
    def since(self) -> str | None:
        """What a metric's change is measured against, e.g. "vs 8 Jun" (None for the first snapshot)."""
        return f"vs {fmt.day(self.previous_as_of, year=False)}" if self.previous_as_of else None

    @property
    def currency(self) -> str:
        """The currency of money figures."""
        return self.settings.currency

    def result(self) -> EngineResult:
        """The engine's result for the chosen snapshot (cached, shared: never mutate it)."""
        return loaders.result(self.path, self.snapshot_id, self.settings_key)

    def previous_result(self) -> EngineResult | None:
        """The engine's result for the snapshot before it (cached, shared), or None for the first.

        The same object :meth:`result` used as its context, so it is computed once.
        """
        if self.previous_id is None:
            return None
        return loaders.previous_result(self.path, self.snapshot_id, self.settings_key)


def _label(as_of: date, snapshot_id: int, latest: bool, version: int = 1) -> str:
    # a date uploaded again is amended: its versions are told apart (v2, v3, ...)
    amended = f" v{version}" if version > 1 else ""
    return fmt.day(as_of) + amended + (" (latest)" if latest else "") + f" · #{snapshot_id}"


def show_snapshot_next(snapshot_id: int) -> None:
    """Make the sidebar picker select ``snapshot_id`` on the next run (e.g. a new upload).

    The picker's own state cannot change once it is drawn in a run, so the wish waits here.
    """
    st.session_state[PENDING_KEY] = snapshot_id


def snapshot_picker() -> None:
    """Draw the sidebar snapshot picker (default: the latest) when data exists.

    A session on the latest snapshot follows a newer one stored meanwhile (by the CLI, a
    scheduled job or another user); a session on an older one stays where it is.
    """
    snaps = loaders.snapshots(loaders.db_path())
    if snaps.height == 0:
        st.session_state.pop(SNAPSHOT_KEY, None)
        return
    ids = snaps["snapshot_id"].to_list()
    dates = dict(zip(ids, snaps["as_of"].to_list(), strict=False))
    versions = dict(zip(ids, snaps["version"].to_list(), strict=False)) if "version" in snaps.columns else {}
    pending = st.session_state.pop(PENDING_KEY, None)
    if pending in dates:
        st.session_state[SNAPSHOT_KEY] = pending
    if st.session_state.get(SNAPSHOT_KEY) not in dates:
        st.session_state[SNAPSHOT_KEY] = ids[-1]
    # whoever was looking at the latest snapshot moves on to a newer one (a scheduled ingest)
    seen = st.session_state.get(LATEST_KEY)
    if seen is not None and seen != ids[-1] and st.session_state[SNAPSHOT_KEY] == seen:
        st.session_state[SNAPSHOT_KEY] = ids[-1]
    st.session_state[LATEST_KEY] = ids[-1]
    st.sidebar.selectbox(
        "Snapshot",
        options=ids[::-1],
        format_func=lambda i: _label(dates[i], i, i == ids[-1], versions.get(i, 1)),
        key=SNAPSHOT_KEY,
        help="Every page shows the portfolio as of this upload.",
    )


def current() -> Context | None:
    """Return the chosen snapshot's context, or None when the database holds no snapshot."""
    pages_mode.frame_guard()
    path = loaders.db_path()
    snaps = loaders.snapshots(path)
    if snaps.height == 0:
        return None
    ids = snaps["snapshot_id"].to_list()
    chosen = st.session_state.get(SNAPSHOT_KEY)
    if chosen not in ids:
        chosen = ids[-1]
    position = ids.index(chosen)
    dates = snaps["as_of"].to_list()
    previous = ids[position - 1] if position > 0 else None
    return Context(
        path=path,
        snapshot_id=int(ids[position]),
        as_of=dates[position],
        previous_id=previous,
        previous_as_of=dates[position - 1] if position > 0 else None,
        settings_key=loaders.settings_key(path),
    )


def require() -> Context:
    """Return the current context, or show the "no data yet" state and stop the page."""
    ctx = current()
    if ctx is not None:
        return ctx
    st.info("No data yet: there is no snapshot in the database.", icon=":material/inbox:")
    left, right = st.columns(2)
    with left:
        if st.button("Load the sample portfolio", type="primary", key="load_sample"):
            load_sample_now()
            st.rerun()
    with right:
        st.page_link("pages/upload.py", label="Upload a week's exports", icon=":material/upload_file:")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def load_sample_now() -> None:
    """Load the bundled sample into the current database, showing progress."""
    from kpi_engine.sample import load_sample

    with st.status("Loading the sample portfolio ...", expanded=False) as status:
        load_sample(loaders.store())
        loaders.clear()
        status.update(label="Sample portfolio loaded", state="complete")


def caption(ctx: Context) -> str:
    """One line naming the snapshot a page shows and what it is compared with."""
    text = f"As of **{fmt.day(ctx.as_of)}** (snapshot #{ctx.snapshot_id})"
    if ctx.previous_as_of is not None:
        text += f" · compared with {fmt.day(ctx.previous_as_of)}"
    return text
