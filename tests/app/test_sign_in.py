"""Sign-in and roles as people meet them: open mode, the sign-in screen, who may upload."""

from __future__ import annotations

from pathlib import Path

from app_helpers import no_errors
from streamlit.testing.v1 import AppTest

from kpi_engine.core.access import Access, Role

ROOT = Path(__file__).resolve().parents[2]
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "not-a-real-secret",
    "client_id": "dashboard",
    "client_secret": "also-not-real",
    "server_metadata_url": "https://login.example.com/.well-known/openid-configuration",
}


def test_open_mode_says_so_in_the_sidebar(open_app, sample_db):
    at = open_app(sample_db)
    assert no_errors(at)
    assert any("Sign-in is not configured" in c.value for c in at.sidebar.caption)


def test_configured_sign_in_shows_only_the_sign_in_screen(sample_db, monkeypatch):
    monkeypatch.setenv("KPI_DB", str(sample_db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["auth"] = AUTH
    at.run()
    assert no_errors(at)
    assert [b.label for b in at.button] == ["Sign in"]
    assert not any(t.value == "Portfolio pulse" for t in at.title)


def test_an_executive_cannot_upload(open_app, sample_db, monkeypatch):
    import ui.access

    monkeypatch.setattr(ui.access, "current", lambda: Access(roles=frozenset({Role.EXECUTIVE}), email="e@example.com"))
    at = open_app(sample_db, "pages/upload.py")
    assert no_errors(at)
    assert any("Only the PMO may upload" in w.value for w in at.warning)
    assert len(at.get("file_uploader")) == 0


def test_an_executive_explores_what_if_but_cannot_save(open_app, sample_db, monkeypatch):
    import ui.access

    monkeypatch.setattr(ui.access, "current", lambda: Access(roles=frozenset({Role.EXECUTIVE}), email="e@example.com"))
    at = open_app(sample_db, "pages/whatif.py")
    assert no_errors(at)
    assert at.button(key="wi_save").disabled
    assert any("Only finance and the PMO may save" in c.value for c in at.caption)
