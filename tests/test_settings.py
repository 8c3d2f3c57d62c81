"""Settings read back from storage (Settings.from_dict)."""

from __future__ import annotations

import pytest

from kpi_engine.core.errors import InputError
from kpi_engine.core.settings import Settings


def test_stored_thresholds_above_the_default_red_are_read_back():
    # regression: Amber 60 was checked against the default Red of 14 before Red 90 was read
    assert Settings.from_dict({"amber_days": 60, "red_days": 90}) == Settings(amber_days=60, red_days=90)


def test_thresholds_below_the_default_amber_are_read_back():
    assert Settings.from_dict({"red_days": 5, "amber_days": 3}) == Settings(amber_days=3, red_days=5)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"amber_days": 30, "red_days": 20}, "cannot exceed the Red threshold", id="amber-above-red"),
        pytest.param({"red_days": 3}, r"Amber threshold \(7 days\) cannot exceed", id="red-below-default-amber"),
        pytest.param({"bogus": 1}, "unknown setting 'bogus'", id="unknown-name"),
        pytest.param({"red_days": "soon"}, "must be a int", id="not-a-number"),
    ],
)
def test_bad_stored_settings_are_refused(values, message):
    with pytest.raises(InputError, match=message):
        Settings.from_dict(values)


def test_text_from_storage_is_converted():
    assert Settings.from_dict({"escalation_value": "1000", "currency": "EUR"}) == Settings(
        escalation_value=1000.0, currency="EUR"
    )


def test_notification_settings_are_read_back_trimmed():
    stored = {"ack_days": "3", "pmo_email": " pmo@fleet.example ", "smtp_port": "2525", "smtp_security": "none"}
    assert Settings.from_dict(stored) == Settings(
        ack_days=3, pmo_email="pmo@fleet.example", smtp_port=2525, smtp_security="none"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        pytest.param("ack_days", 0, "'ack_days' must be at least 1 day", id="ack-days-zero"),
        pytest.param("smtp_port", 70000, "a port number from 1 to 65535", id="port-out-of-range"),
        pytest.param("smtp_security", "tls", "one of auto, starttls, ssl, none", id="unknown-security"),
        pytest.param(
            "pmo_email", "pmo@x.example\r\nBcc: all@x.example", "must be one e-mail address", id="header-injection"
        ),
        pytest.param("smtp_from", "PMO <pmo@x.example>", "must be one e-mail address", id="display-name"),
        pytest.param("dashboard_url", "javascript:alert(1)", "a web address starting with https://", id="script-link"),
        pytest.param("chat_webhook", "https://hooks.example/a b", "a web address", id="space-in-webhook"),
        pytest.param("smtp_host", "mail.example\nRCPT", "cannot hold spaces or line breaks", id="host-line-break"),
    ],
)
def test_bad_notification_settings_are_refused(name, value, message):
    with pytest.raises(InputError, match=message):
        Settings().with_value(name, value)


def test_no_setting_holds_a_password():
    assert not any("password" in name or "secret" in name for name in Settings().to_dict())
