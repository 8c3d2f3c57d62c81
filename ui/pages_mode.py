"""Keeping Streamlit in the navigation mode app.py chooses, while the pages live in ``pages/``.

Why this module exists: the pages are in a folder named ``pages/`` next to ``app.py`` (the
layout users were promised). Streamlit 1.67 treats such a folder as the older multipage
mode until ``st.navigation`` first runs, and offers no public setting to turn that
discovery off (``PagesManager.uses_pages_directory`` is set from the folder's existence).
Two consequences, handled here and nowhere else:

- On the server, a deep link (``/exceptions``) opened before any session ran app.py is run
  as a bare script: no page config, no navigation, no snapshot picker. app.py marks each
  session it framed (:func:`mark_frame`); a page opened without that mark goes back to
  app.py (:func:`frame_guard`).
- In ``streamlit.testing.v1.AppTest``, the flag is reset before every run, so reruns lose
  the sidebar. :func:`navigation_as_served` keeps the mode the server uses; the AppTest
  fixtures and the dashboard benchmark use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.errors import StreamlitAPIException

#: Session-state key app.py sets before it runs a page.
FRAME_KEY = "_app_frame"


def mark_frame() -> None:
    """Record that app.py (page config, navigation, sidebar) framed this session."""
    st.session_state[FRAME_KEY] = True


#: Session-state key of the page a link opened before app.py framed the session.
LINKED_PAGE_KEY = "_linked_page"


def _address() -> dict[str, list[str]]:
    return {key: st.query_params.get_all(key) for key in st.query_params}


def frame_guard() -> None:
    """Send a page opened without app.py's frame to the app's entry page, then back (:func:`resume`)."""
    if not st.session_state.get(FRAME_KEY):
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        page = ctx.pages_manager.get_pages().get(ctx.page_script_hash) if ctx is not None else None
        if page is not None:
            st.session_state[LINKED_PAGE_KEY] = page.get("script_path")
        # keep the link's query parameters (filters, the drill-down row) for the page it opens
        st.switch_page("app.py", query_params=_address())


def resume() -> None:
    """Open the page a link named before app.py framed the session (see :func:`frame_guard`)."""
    linked = st.session_state.pop(LINKED_PAGE_KEY, None)
    if linked:
        # not a page of the navigation (the entry script itself): stay on the default page
        with contextlib.suppress(StreamlitAPIException):
            st.switch_page(linked, query_params=_address())


@contextmanager
def navigation_as_served() -> Iterator[None]:
    """Run app.py's own navigation on every AppTest run, as the server does."""
    from streamlit.testing.v1 import app_test

    served = app_test.PagesManager

    class AsServed(served):  # type: ignore[misc, valid-type]  # subclassing a class held in a variable
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            served.uses_pages_directory = False

    app_test.PagesManager = AsServed  # type: ignore[misc]  # the private hook this module documents
    try:
        yield
    finally:
        app_test.PagesManager = served  # type: ignore[misc]
