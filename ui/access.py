"""Sign-in and roles in the dashboard: who may upload, who may save scenarios.

Without an ``[auth]`` section in ``.streamlit/secrets.toml`` the app runs open (every
role, as on one person's own machine) and says so; with one, people sign in through
``st.login`` (OpenID Connect) and get the role the stored access policy gives them.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from kpi_engine.core.access import Access, access_for, sign_in_provider
from ui import format as fmt
from ui import loaders


def _secrets() -> dict[str, Any]:
    """Streamlit's secrets, or nothing when no secrets file exists."""
    try:
        return {"auth": st.secrets["auth"]} if "auth" in st.secrets else {}
    except (FileNotFoundError, KeyError, AttributeError):
        return {}
    except Exception:
        return {}


def provider() -> str | None:
    """The identity provider ``st.login`` uses, or None in open mode (InputError when half-configured)."""
    return sign_in_provider(_secrets())


def current() -> Access | None:
    """What the person using this session may do; None when they still have to sign in."""
    chosen = provider()
    if chosen is None:
        return access_for(None, loaders.access_policy(loaders.db_path()), sign_in_configured=False)
    email = st.user.get("email") if st.user.get("is_logged_in", False) else None
    return access_for(
        email if isinstance(email, str) else None, loaders.access_policy(loaders.db_path()), sign_in_configured=True
    )


def sidebar() -> Access:
    """Show who is signed in (or the open-mode notice) in the sidebar; stop at a sign-in screen when needed."""
    access = current()
    if access is None:
        st.title("Strategy execution")
        st.info("Sign in with your company account to see the portfolio.", icon=":material/lock:")
        chosen = provider()
        st.button(
            "Sign in",
            type="primary",
            icon=":material/login:",
            key="sign_in",
            on_click=st.login,
            args=(chosen,) if chosen != "default" else (),
        )
        st.stop()
    with st.sidebar:
        if access.open_mode:
            st.caption(":material/lock_open: " + (access.notice or ""))
        else:
            st.caption(f":material/person: {fmt.plain(access.describe())}")
            st.button("Sign out", on_click=st.logout, key="sign_out", icon=":material/logout:")
    st.session_state["access"] = access
    return access


def session_access() -> Access:
    """The access ``sidebar`` worked out for this run (open mode when the frame has not run)."""
    found = st.session_state.get("access")
    return found if isinstance(found, Access) else current() or Access(roles=frozenset())
