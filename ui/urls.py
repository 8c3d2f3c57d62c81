"""What a page keeps in its address (``st.query_params``), so a reload or a shared link opens the same view.

Widgets bound with ``bind="query-params"`` keep themselves in the address; this module
reads what a link asked for before they are drawn (to say which values it ignores) and
keeps the rest: the drill-down row of the Exceptions page.
"""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from kpi_engine.engine import views
from ui import format as fmt

#: Session-state key of the drill-down row the address named last (so a link applies once).
ITEM_SEEN = "_exc_item_seen"


def values(names: Iterable[str]) -> dict[str, list[str]]:
    """The values the address holds for each of ``names`` (repeated parameters give several)."""
    return {name: st.query_params.get_all(name) for name in names if name in st.query_params}


def ignored_notice(unknown: list[str], what: str = "this snapshot") -> None:
    """Say which values of a link are ignored (nothing when none)."""
    if unknown:
        st.info(
            f"The link names {fmt.plain('; '.join(unknown), limit=400)}, which {what} does not hold: "
            "ignored, the rest of the link applies.",
            icon=":material/link_off:",
        )


def linked_item(name: str, keys: list[str]) -> int | None:
    """The position in ``keys`` of the row the address names under ``name``, the first time it names it.

    A key names a row (``M1:K1``) or a milestone (``M1``: its first row).

    Returns None when the address names no row, the same row as before (the user may have
    moved on since), or a row ``keys`` does not hold (a notice says so).
    """
    wanted = st.query_params.get(name)
    if not wanted or wanted == st.session_state.get(ITEM_SEEN):
        return None
    st.session_state[ITEM_SEEN] = wanted
    if wanted in keys:
        return keys.index(wanted)
    # a link may name a milestone alone ("M1"): its first row, the one with most value at risk
    for position, key in enumerate(keys):
        if key.split(":", 1)[0] == wanted:
            return position
    st.info(
        f"The link opens {fmt.plain(wanted)}, which is not in this list (another snapshot, or the filters "
        "leave it out): showing the first row instead.",
        icon=":material/link_off:",
    )
    return None


def keep_item(name: str, key: str | None) -> None:
    """Put the drill-down row in the address (or take it out when ``key`` is None: the first row)."""
    if key:
        st.query_params[name] = key
    elif name in st.query_params:
        del st.query_params[name]
    st.session_state[ITEM_SEEN] = key


def open_in_exceptions(item: str, label: str, key: str) -> None:
    """A button that opens the Exceptions page's drill-down of ``item`` (an exception key or a milestone id)."""
    if st.button(label, key=key, icon=":material/arrow_forward:", help="Causes, history and dependencies"):
        st.switch_page("pages/exceptions.py", query_params=views.exceptions_query(item=item))
