"""Safe defaults for a shared deployment: the dashboard's Streamlit settings, and the upload limit they share."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kpi_engine import cli
from kpi_engine.ingest.limits import DEFAULT_MAX_UPLOAD_MB, max_upload_mb

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


@pytest.fixture(scope="module")
def config() -> dict:
    return tomllib.loads(CONFIG.read_text())


@pytest.mark.parametrize(
    ("section", "option", "value"),
    [
        ("server", "enableXsrfProtection", True),
        ("server", "maxUploadSize", 50),
        ("client", "showErrorDetails", "none"),
        ("browser", "gatherUsageStats", False),
    ],
)
def test_config_holds_the_safe_value(config: dict, section: str, option: str, value: object) -> None:
    assert config[section][option] == value


def test_every_option_is_one_streamlit_knows(config: dict) -> None:
    """A misspelt option is ignored silently by Streamlit, leaving the unsafe default in force."""
    from streamlit import config as streamlit_config

    known = streamlit_config.get_config_options()
    unknown = [f"{s}.{o}" for s, options in config.items() for o in options if f"{s}.{o}" not in known]
    assert unknown == []


def test_the_ingest_limit_equals_the_dashboard_upload_limit(config: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KPI_MAX_UPLOAD_MB", raising=False)
    assert config["server"]["maxUploadSize"] == DEFAULT_MAX_UPLOAD_MB
    assert max_upload_mb() == config["server"]["maxUploadSize"]
    ingest = cli.build_parser()._subparsers._group_actions[0].choices["ingest"]  # type: ignore[union-attr]
    (limit,) = [action for action in ingest._actions if action.dest == "max_upload_mb"]
    assert f"else {config['server']['maxUploadSize']:g}" in (limit.help or "")
